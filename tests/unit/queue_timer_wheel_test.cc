#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "timer_wheel.h"

namespace sluice::queue {
namespace {

TEST(QueueTimerWheel, FiresInOrderAtTheirTimes) {
  const uint64_t start = 1'700'000'000'123;
  TimerWheel wheel(start);
  std::vector<TimerNode> nodes(5);
  const uint64_t offsets[] = {5, 0, 64 * 64 + 3, 3'600'000, 14ull * 86'400'000};
  for (size_t i = 0; i < nodes.size(); ++i) wheel.schedule(&nodes[i], start + offsets[i]);
  std::vector<uint64_t> fired;
  auto fire = [&](TimerNode* n) {
    fired.push_back(n->expiry_ms);
    EXPECT_EQ(wheel.now(), n->expiry_ms);
  };
  wheel.advance(start + 4, fire);
  EXPECT_EQ(fired, std::vector<uint64_t>({start}));
  wheel.advance(start + 14ull * 86'400'000, fire);
  EXPECT_EQ(fired.size(), 5u);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(QueueTimerWheel, CancelAndRescheduleFromTheCallback) {
  TimerWheel wheel(1000);
  TimerNode a;
  TimerNode b;
  TimerNode c;
  wheel.schedule(&a, 1010);
  wheel.schedule(&b, 1020);
  wheel.schedule(&c, 5000);
  wheel.cancel(&c);
  EXPECT_FALSE(c.armed());
  int fired_a = 0;
  int fired_b = 0;
  wheel.advance(3000, [&](TimerNode* n) {
    if (n == &a) {
      ++fired_a;
      wheel.cancel(&b);
      if (fired_a == 1) wheel.schedule(&a, wheel.now());  // due now: fires again in this advance
    } else {
      ++fired_b;
    }
  });
  EXPECT_EQ(fired_a, 2);
  EXPECT_EQ(fired_b, 0);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.next_step(), UINT64_MAX);
}

// Against a sorted list: random schedules, cancels and advances, including big jumps.
TEST(QueueTimerWheel, MatchesAReferenceUnderRandomUse) {
  std::mt19937_64 rng(7);
  uint64_t now = 1'699'999'999'000;
  TimerWheel wheel(now);
  std::vector<TimerNode> nodes(300);
  std::vector<uint64_t> due(nodes.size(), 0);  // 0: not armed
  for (int step = 0; step < 3000; ++step) {
    TimerNode& n = nodes[rng() % nodes.size()];
    const size_t i = static_cast<size_t>(&n - nodes.data());
    switch (rng() % 3) {
      case 0: {
        const uint64_t spans[] = {10, 5000, 600'000, 50'000'000};
        const uint64_t at = now + rng() % spans[rng() % 4];
        wheel.schedule(&n, at);
        due[i] = at;
        break;
      }
      case 1:
        wheel.cancel(&n);
        due[i] = 0;
        break;
      default: {
        const uint64_t spans[] = {1, 100, 70'000, 10'000'000};
        const uint64_t to = now + rng() % spans[rng() % 4];
        uint64_t last = 0;
        wheel.advance(to, [&](TimerNode* f) {
          const size_t k = static_cast<size_t>(f - nodes.data());
          EXPECT_EQ(due[k], f->expiry_ms);
          EXPECT_LE(f->expiry_ms, to);
          EXPECT_GE(f->expiry_ms, last);
          last = f->expiry_ms;
          due[k] = 0;
        });
        now = to;
        for (uint64_t d : due) EXPECT_TRUE(d == 0 || d > now);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::queue
