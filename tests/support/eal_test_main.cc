// main() for test binaries that need DPDK: EAL is started once for the process.
#include <gtest/gtest.h>

#include <cstdio>
#include <exception>

#include "packet_harness.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  try {
    sluice::test::start_test_eal(argv[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  sluice::test::stop_test_eal();
  return rc;
}
