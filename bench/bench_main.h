// main() for the benchmarks that need DPDK: Google Benchmark's flags, then EAL on the core the
// process started on (choose it with taskset), then `run` (which sets up its fixtures and calls
// benchmark::RunSpecifiedBenchmarks()), then everything torn down again.
#pragma once

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "eal.h"

namespace sluice::bench {

inline int run_with_eal(int argc, char** argv, const char* name, const std::function<void()>& run) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const int cpu = sched_getcpu();
  int rc = 0;
  try {
    const dataplane::EalSession eal(
        dataplane::standalone_eal_args(argv[0], std::string(name) + "-" + std::to_string(getpid()),
                                       cpu < 0 ? 0u : static_cast<unsigned>(cpu)));
    benchmark::AddCustomContext("tsc_hz", std::to_string(rte_get_tsc_hz()));
    run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    rc = 1;
  }
  benchmark::Shutdown();
  return rc;
}

}  // namespace sluice::bench
