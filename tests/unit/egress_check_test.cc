#include <gtest/gtest.h>

#include "transmit.h"

namespace sluice::dataplane {
namespace {

rte_mbuf frame(uint32_t len, uint16_t segments = 1) {
  rte_mbuf m{};
  m.pkt_len = len;
  m.nb_segs = segments;
  return m;
}

TEST(EgressCheck, Verdicts) {
  const EgressQueue single{.port = 0, .queue = 0, .max_frame = 1518, .multi_segment = false};
  const EgressQueue chains{.port = 0, .queue = 0, .max_frame = 9018, .multi_segment = true};
  struct Case {
    uint32_t len;
    uint16_t segs;
    const EgressQueue& out;
    DropReason want;
  } cases[] = {
      {0, 1, single, DropReason::kRunt},        {13, 1, single, DropReason::kRunt},
      {14, 1, single, DropReason::kCount},      {1518, 1, single, DropReason::kCount},
      {1519, 1, single, DropReason::kOversize}, {1000, 2, single, DropReason::kMultiSegUnsupported},
      {3000, 2, single, DropReason::kOversize}, {3000, 2, chains, DropReason::kCount},
      {9019, 5, chains, DropReason::kOversize},
  };
  for (const auto& c : cases) {
    rte_mbuf m = frame(c.len, c.segs);
    EXPECT_EQ(egress_check(&m, c.out), c.want) << c.len << " bytes in " << c.segs << " segments";
  }
}

}  // namespace
}  // namespace sluice::dataplane
