// The L7 proxy's balancing within a target group: algorithms, health, draining, exclusion, slow
// start, carry-over between configurations, stickiness cookies and weighted target groups.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "target_picker.h"

namespace sluice::proxy {
namespace {

using Clock = TargetPicker::Clock;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

Target make_target(const char* ip, uint16_t port, uint32_t weight = 1,
                   TargetState state = TargetState::kHealthy) {
  Target t;
  t.address = *parse_ip_address(ip);
  t.port = port;
  t.weight = weight;
  t.state = state;
  return t;
}

TargetGroup make_group(Algorithm algorithm, std::vector<Target> targets) {
  TargetGroup g;
  g.name = "tg";
  g.algorithm = algorithm;
  g.targets = std::move(targets);
  return g;
}

// Counts picks per target over `n` picks; each picked request starts and finishes at once.
std::vector<int> count_picks(TargetPicker& picker, int n, Clock::time_point now = kT0) {
  std::vector<int> counts(picker.group().targets.size(), 0);
  for (int i = 0; i < n; ++i) {
    const int t = picker.pick(now);
    EXPECT_GE(t, 0);
    if (t < 0) break;
    ++counts[t];
    picker.on_start(t);
    picker.on_finish(t);
  }
  return counts;
}

constexpr Algorithm kAllAlgorithms[] = {
    Algorithm::kRoundRobin, Algorithm::kLeastOutstandingRequests, Algorithm::kWeightedRandom};

TEST(ProxyPicker, RoundRobinEqualWeightsExactPerCycle) {
  const TargetGroup g = make_group(
      Algorithm::kRoundRobin,
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  for (uint64_t seed = 0; seed < 5; ++seed) {
    TargetPicker picker(g, seed, nullptr, kT0);
    for (int cycle = 0; cycle < 10; ++cycle) {
      const std::vector<int> counts = count_picks(picker, 3);
      EXPECT_EQ(counts, (std::vector<int>{1, 1, 1})) << "seed " << seed << " cycle " << cycle;
    }
  }
}

TEST(ProxyPicker, RoundRobinWeightsInterleaveExactly) {
  const TargetGroup g = make_group(
      Algorithm::kRoundRobin, {make_target("10.0.0.1", 80, 3), make_target("10.0.0.2", 80, 1)});
  for (uint64_t seed = 0; seed < 4; ++seed) {
    TargetPicker picker(g, seed, nullptr, kT0);
    std::vector<int> seq;
    for (int i = 0; i < 400; ++i) seq.push_back(picker.pick(kT0));
    // Every window of one cycle (4 picks) holds exactly one pick of the weight-1 target: the
    // heavy target's picks are spread, not bunched.
    for (size_t i = 0; i + 4 <= seq.size(); ++i) {
      const int light = static_cast<int>(std::count(seq.begin() + i, seq.begin() + i + 4, 1));
      ASSERT_EQ(light, 1) << "seed " << seed << " window at " << i;
    }
    EXPECT_EQ(std::count(seq.begin(), seq.end(), 0), 300);
  }
}

TEST(ProxyPicker, WeightedRandomFollowsWeights) {
  const TargetGroup g = make_group(Algorithm::kWeightedRandom,
                                   {make_target("10.0.0.1", 80, 1), make_target("10.0.0.2", 80, 2),
                                    make_target("10.0.0.3", 80, 7)});
  TargetPicker picker(g, 12345, nullptr, kT0);
  const int n = 100000;
  const std::vector<int> counts = count_picks(picker, n);
  const double expected[] = {0.1, 0.2, 0.7};
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(static_cast<double>(counts[i]) / n, expected[i], 0.01) << "target " << i;
}

TEST(ProxyPicker, WeightedRandomDiffersBySeed) {
  const TargetGroup g = make_group(Algorithm::kWeightedRandom,
                                   {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80)});
  TargetPicker a(g, 1, nullptr, kT0), b(g, 2, nullptr, kT0);
  int differ = 0;
  for (int i = 0; i < 64; ++i) differ += a.pick(kT0) != b.pick(kT0);
  EXPECT_GT(differ, 0);
}

TEST(ProxyPicker, LeastOutstandingPrefersLeastLoaded) {
  const TargetGroup g = make_group(
      Algorithm::kLeastOutstandingRequests,
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  TargetPicker picker(g, 0, nullptr, kT0);
  picker.on_start(0);
  picker.on_start(0);
  picker.on_start(1);
  EXPECT_EQ(picker.pick(kT0), 2);
  picker.on_start(2);
  picker.on_start(2);
  EXPECT_EQ(picker.pick(kT0), 1);
  picker.on_finish(0);
  picker.on_finish(0);
  EXPECT_EQ(picker.outstanding(0), 0u);
  EXPECT_EQ(picker.pick(kT0), 0);
  // Finishing more than started does not wrap around.
  picker.on_finish(0);
  EXPECT_EQ(picker.outstanding(0), 0u);
  // Held requests: each new one goes to the least loaded, so the load stays level.
  TargetPicker level(g, 0, nullptr, kT0);
  for (int i = 0; i < 30; ++i) level.on_start(level.pick(kT0));
  for (int t = 0; t < 3; ++t) EXPECT_EQ(level.outstanding(t), 10u);
}

TEST(ProxyPicker, LeastOutstandingSharesTiesByWeight) {
  const TargetGroup equal = make_group(
      Algorithm::kLeastOutstandingRequests,
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  TargetPicker picker(equal, 7, nullptr, kT0);
  EXPECT_EQ(count_picks(picker, 300), (std::vector<int>{100, 100, 100}));

  const TargetGroup weighted =
      make_group(Algorithm::kLeastOutstandingRequests,
                 {make_target("10.0.0.1", 80, 3), make_target("10.0.0.2", 80, 1)});
  TargetPicker w(weighted, 0, nullptr, kT0);
  EXPECT_EQ(count_picks(w, 400), (std::vector<int>{300, 100}));
}

TEST(ProxyPicker, UnhealthyAndInitialSkippedWhileOneIsHealthy) {
  for (Algorithm a : kAllAlgorithms) {
    const TargetGroup g = make_group(
        a, {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80, 1, TargetState::kUnhealthy),
            make_target("10.0.0.3", 80, 1, TargetState::kInitial), make_target("10.0.0.4", 80)});
    TargetPicker picker(g, 3, nullptr, kT0);
    const std::vector<int> counts = count_picks(picker, 1000);
    EXPECT_EQ(counts[1], 0);
    EXPECT_EQ(counts[2], 0);
    EXPECT_GT(counts[0], 0);
    EXPECT_GT(counts[3], 0);
    EXPECT_EQ(picker.effective_weight(1, kT0), 0);
    EXPECT_EQ(picker.effective_weight(2, kT0), 0);
    EXPECT_EQ(picker.effective_weight(0, kT0), 1);
  }
}

TEST(ProxyPicker, FailsOpenWhenNoneIsHealthy) {
  for (Algorithm a : kAllAlgorithms) {
    const TargetGroup g = make_group(a, {make_target("10.0.0.1", 80, 1, TargetState::kUnhealthy),
                                         make_target("10.0.0.2", 80, 1, TargetState::kInitial),
                                         make_target("10.0.0.3", 80, 1, TargetState::kDraining),
                                         make_target("10.0.0.4", 80, 0, TargetState::kUnhealthy)});
    TargetPicker picker(g, 0, nullptr, kT0);
    const std::vector<int> counts = count_picks(picker, 1000);
    EXPECT_GT(counts[0], 0);
    EXPECT_GT(counts[1], 0);
    EXPECT_EQ(counts[2], 0) << "draining";
    EXPECT_EQ(counts[3], 0) << "weight 0";
  }
}

TEST(ProxyPicker, DrainingNeverPicked) {
  for (Algorithm a : kAllAlgorithms) {
    const TargetGroup g = make_group(
        a, {make_target("10.0.0.1", 80, 1, TargetState::kDraining), make_target("10.0.0.2", 80)});
    TargetPicker picker(g, 1, nullptr, kT0);
    // Its outstanding requests do not make it attractive to least outstanding requests.
    picker.on_start(1);
    picker.on_start(1);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(picker.pick(kT0), 1);
    EXPECT_EQ(picker.effective_weight(0, kT0), 0);

    const TargetGroup all_draining =
        make_group(a, {make_target("10.0.0.1", 80, 1, TargetState::kDraining),
                       make_target("10.0.0.2", 80, 1, TargetState::kDraining)});
    TargetPicker none(all_draining, 1, nullptr, kT0);
    EXPECT_EQ(none.pick(kT0), -1);
  }
  TargetPicker empty(make_group(Algorithm::kRoundRobin, {}), 0, nullptr, kT0);
  EXPECT_EQ(empty.pick(kT0), -1);
}

TEST(ProxyPicker, ExcludeSendsRetriesElsewhere) {
  for (Algorithm a : kAllAlgorithms) {
    const TargetGroup g = make_group(
        a, {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
    TargetPicker picker(g, 5, nullptr, kT0);
    const std::vector<int> tried = {0, 2};
    for (int i = 0; i < 100; ++i) ASSERT_EQ(picker.pick(kT0, tried), 1);
    const std::vector<int> one = {1};
    std::vector<int> counts(3, 0);
    for (int i = 0; i < 100; ++i) {
      const int t = picker.pick(kT0, one);
      ASSERT_NE(t, 1);
      ASSERT_GE(t, 0);
      ++counts[t];
    }
    EXPECT_GT(counts[0], 0);
    EXPECT_GT(counts[2], 0);
    const std::vector<int> all = {2, 0, 1};
    EXPECT_EQ(picker.pick(kT0, all), -1);
  }
}

TEST(ProxyPicker, WeightZeroTargetTakesNothing) {
  const TargetGroup g = make_group(Algorithm::kRoundRobin,
                                   {make_target("10.0.0.1", 80, 0), make_target("10.0.0.2", 80)});
  TargetPicker picker(g, 0, nullptr, kT0);
  EXPECT_EQ(count_picks(picker, 50), (std::vector<int>{0, 50}));
  EXPECT_EQ(picker.effective_weight(0, kT0), 0);
}

TargetGroup slow_group(std::vector<Target> targets) {
  TargetGroup g = make_group(Algorithm::kRoundRobin, std::move(targets));
  g.slow_start_s = 100;
  return g;
}

TEST(ProxyPicker, SlowStartRampsANewlyHealthyTarget) {
  const TargetGroup before = slow_group({make_target("10.0.0.1", 80), make_target("10.0.0.2", 80),
                                         make_target("10.0.0.3", 80, 1, TargetState::kInitial)});
  TargetPicker first(before, 0, nullptr, kT0);
  // The first configuration does not ramp.
  EXPECT_EQ(first.effective_weight(0, kT0), 1);
  EXPECT_EQ(first.effective_weight(1, kT0), 1);

  // 10.0.0.3 turns healthy, 10.0.0.4 is registered healthy: both ramp from kT0.
  const TargetGroup after = slow_group({make_target("10.0.0.1", 80), make_target("10.0.0.2", 80),
                                        make_target("10.0.0.3", 80), make_target("10.0.0.4", 80)});
  TargetPicker picker(after, 0, &first, kT0);
  EXPECT_EQ(picker.effective_weight(0, kT0), 1);
  EXPECT_DOUBLE_EQ(picker.effective_weight(2, kT0), TargetPicker::kSlowStartFloor);
  EXPECT_DOUBLE_EQ(picker.effective_weight(3, kT0), TargetPicker::kSlowStartFloor);
  EXPECT_DOUBLE_EQ(picker.effective_weight(2, kT0 + seconds(50)), 0.5);
  EXPECT_DOUBLE_EQ(picker.effective_weight(2, kT0 + seconds(100)), 1);
  EXPECT_DOUBLE_EQ(picker.effective_weight(2, kT0 + seconds(500)), 1);

  // Its share of the picks grows with time and reaches the full share at the end.
  double last_share = -1;
  for (int s : {0, 10, 50, 90, 100}) {
    const std::vector<int> counts = count_picks(picker, 4000, kT0 + seconds(s));
    const double share = counts[2] / 4000.0;
    EXPECT_GT(share, last_share) << "at " << s << " s";
    EXPECT_GT(counts[2], 0) << "at " << s << " s";
    last_share = share;
  }
  EXPECT_NEAR(last_share, 0.25, 0.01);
}

TEST(ProxyPicker, SlowStartOnlyWhileOthersServe) {
  // A group's only target, healthy again: nothing else serves, so no ramp.
  const TargetGroup down = slow_group({make_target("10.0.0.1", 80, 1, TargetState::kUnhealthy)});
  TargetPicker p1(down, 0, nullptr, kT0);
  const TargetGroup up = slow_group({make_target("10.0.0.1", 80)});
  TargetPicker p2(up, 0, &p1, kT0);
  EXPECT_EQ(p2.effective_weight(0, kT0), 1);

  // Healthy again after being unhealthy while another serves: ramps.
  const TargetGroup one_down = slow_group(
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80, 1, TargetState::kUnhealthy)});
  TargetPicker p3(one_down, 0, nullptr, kT0);
  const TargetGroup both_up =
      slow_group({make_target("10.0.0.1", 80), make_target("10.0.0.2", 80)});
  TargetPicker p4(both_up, 0, &p3, kT0 + seconds(5));
  EXPECT_EQ(p4.effective_weight(0, kT0 + seconds(5)), 1);
  EXPECT_DOUBLE_EQ(p4.effective_weight(1, kT0 + seconds(25)), 0.2);

  // Without slow start nothing ramps.
  TargetGroup no_slow = both_up;
  no_slow.slow_start_s = 0;
  TargetPicker p5(no_slow, 0, &p3, kT0);
  EXPECT_EQ(p5.effective_weight(1, kT0), 1);
}

TEST(ProxyPicker, CarriesStateOverByAddressAndPort) {
  const TargetGroup g1 = make_group(
      Algorithm::kLeastOutstandingRequests,
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  TargetPicker p1(g1, 0, nullptr, kT0);
  p1.on_start(0);
  p1.on_start(1);
  p1.on_start(1);
  p1.on_start(2);

  // Reordered, 10.0.0.1 removed, 10.0.0.2 on another port is another target, one added.
  const TargetGroup g2 = make_group(Algorithm::kLeastOutstandingRequests,
                                    {make_target("10.0.0.4", 80), make_target("10.0.0.3", 80),
                                     make_target("10.0.0.2", 80), make_target("10.0.0.2", 81)});
  TargetPicker p2(g2, 0, &p1, kT0);
  EXPECT_EQ(p2.outstanding(0), 0u);
  EXPECT_EQ(p2.outstanding(1), 1u);
  EXPECT_EQ(p2.outstanding(2), 2u);
  EXPECT_EQ(p2.outstanding(3), 0u);
  EXPECT_EQ(p2.find(*parse_ip_address("10.0.0.2"), 80), 2);
  EXPECT_EQ(p2.find(*parse_ip_address("10.0.0.1"), 80), -1);
  // Least outstanding requests sees the carried load.
  const std::vector<int> busy = {0, 3};
  EXPECT_EQ(p2.pick(kT0, busy), 1);

  // The round-robin position carries over: the rotation continues instead of restarting.
  const TargetGroup rr1 = make_group(
      Algorithm::kRoundRobin,
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  TargetPicker r1(rr1, 0, nullptr, kT0);
  const IpAddress first = rr1.targets[r1.pick(kT0)].address;
  const TargetGroup rr2 = make_group(
      Algorithm::kRoundRobin,
      {make_target("10.0.0.1", 80), make_target("10.0.0.3", 80), make_target("10.0.0.2", 80)});
  TargetPicker r2(rr2, 0, &r1, kT0);
  std::vector<IpAddress> seen = {first};
  for (int i = 0; i < 2; ++i) seen.push_back(rr2.targets[r2.pick(kT0)].address);
  std::sort(seen.begin(), seen.end());
  EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end()) == seen.end())
      << "a target was picked twice in one cycle across the configuration change";

  // Slow-start start times carry over: the ramp goes on from where it was, it does not restart.
  const TargetGroup s1 = slow_group(
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80, 1, TargetState::kUnhealthy)});
  TargetPicker q1(s1, 0, nullptr, kT0);
  const TargetGroup s2 = slow_group({make_target("10.0.0.1", 80), make_target("10.0.0.2", 80)});
  TargetPicker q2(s2, 0, &q1, kT0);
  TargetGroup s3 = slow_group({make_target("10.0.0.2", 80), make_target("10.0.0.1", 80, 2)});
  TargetPicker q3(s3, 0, &q2, kT0 + seconds(30));
  EXPECT_DOUBLE_EQ(q3.effective_weight(0, kT0 + seconds(30)), 0.3);
  EXPECT_EQ(q3.effective_weight(1, kT0 + seconds(30)), 2);
  // Ramp over by the time of the next change: it stays at full weight.
  TargetPicker q4(s3, 0, &q3, kT0 + seconds(200));
  EXPECT_EQ(q4.effective_weight(0, kT0 + seconds(200)), 1);
}

std::string cookie_value(const std::string& set_cookie) {
  const size_t eq = set_cookie.find('=');
  return set_cookie.substr(eq + 1, set_cookie.find(';') - eq - 1);
}

TargetGroup sticky_group(std::vector<Target> targets) {
  TargetGroup g = make_group(Algorithm::kRoundRobin, std::move(targets));
  g.stickiness.enabled = true;
  g.stickiness.duration_s = 86400;
  return g;
}

TEST(ProxyPicker, StickyCookieRoundTrip) {
  const TargetGroup g = sticky_group(
      {make_target("10.0.0.1", 8080), make_target("fd00::2", 8080), make_target("10.0.0.3", 8080)});
  TargetPicker picker(g, 0, nullptr, kT0);
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // 1994-11-06 08:49:37
  const std::string set_cookie = picker.sticky_cookie(1, now);
  const std::string value = cookie_value(set_cookie);
  EXPECT_EQ(set_cookie, "AWSALB=" + value + "; Expires=Mon, 07 Nov 1994 08:49:37 GMT; Path=/");
  EXPECT_FALSE(value.empty());
  EXPECT_EQ(
      value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);

  EXPECT_EQ(picker.sticky_target("AWSALB=" + value), 1);
  EXPECT_EQ(picker.sticky_target("session=abc; AWSALB=" + value + "; theme=dark"), 1);
  EXPECT_EQ(picker.sticky_target("AWSALB=\"" + value + "\""), 1);
  for (int t = 0; t < 3; ++t)
    EXPECT_EQ(picker.sticky_target("AWSALB=" + cookie_value(picker.sticky_cookie(t, now))), t);

  EXPECT_EQ(picker.sticky_target(""), -1);
  EXPECT_EQ(picker.sticky_target("session=abc"), -1);
  EXPECT_EQ(picker.sticky_target("AWSALBX=" + value), -1);
  EXPECT_EQ(picker.sticky_target("AWSALB="), -1);
  // A garbage AWSALB first does not hide a valid one after it.
  EXPECT_EQ(picker.sticky_target("AWSALB=garbage; AWSALB=" + value), 1);

  // Disabled stickiness names no target.
  TargetGroup off = g;
  off.stickiness.enabled = false;
  TargetPicker plain(off, 0, nullptr, kT0);
  EXPECT_EQ(plain.sticky_target("AWSALB=" + value), -1);
}

TEST(ProxyPicker, StickyCookieTamperedIgnored) {
  const TargetGroup g = sticky_group({make_target("10.0.0.1", 80), make_target("10.0.0.2", 80)});
  TargetPicker picker(g, 0, nullptr, kT0);
  const std::string value = cookie_value(picker.sticky_cookie(0, std::chrono::system_clock::now()));
  ASSERT_EQ(picker.sticky_target("AWSALB=" + value), 0);
  // Any changed character (address, port or MAC) breaks it.
  for (size_t i = 0; i < value.size(); ++i) {
    std::string bad = value;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(picker.sticky_target("AWSALB=" + bad), -1) << "changed at " << i;
  }
  EXPECT_EQ(picker.sticky_target("AWSALB=" + value.substr(1)), -1);
  EXPECT_EQ(picker.sticky_target("AWSALB=" + value + "A"), -1);

  // A cookie minted for another group does not pass here, even for the same address.
  TargetGroup other = g;
  other.name = "other";
  TargetPicker foreign(other, 0, nullptr, kT0);
  const std::string foreign_value =
      cookie_value(foreign.sticky_cookie(0, std::chrono::system_clock::now()));
  EXPECT_EQ(picker.sticky_target("AWSALB=" + foreign_value), -1);
}

TEST(ProxyPicker, StickyCookieForUnavailableTargetIgnored) {
  const TargetGroup g = sticky_group(
      {make_target("10.0.0.1", 80), make_target("10.0.0.2", 80), make_target("10.0.0.3", 80)});
  TargetPicker picker(g, 0, nullptr, kT0);
  const auto now = std::chrono::system_clock::now();
  const std::string to_second = "AWSALB=" + cookie_value(picker.sticky_cookie(1, now));

  TargetGroup draining = g;
  draining.targets[1].state = TargetState::kDraining;
  TargetPicker p_draining(draining, 0, &picker, kT0);
  EXPECT_EQ(p_draining.sticky_target(to_second), -1);

  TargetGroup removed = g;
  removed.targets.erase(removed.targets.begin() + 1);
  TargetPicker p_removed(removed, 0, &picker, kT0);
  EXPECT_EQ(p_removed.sticky_target(to_second), -1);

  TargetGroup unhealthy = g;
  unhealthy.targets[1].state = TargetState::kUnhealthy;
  TargetPicker p_unhealthy(unhealthy, 0, &picker, kT0);
  EXPECT_EQ(p_unhealthy.sticky_target(to_second), -1);

  // Fail-open: with nothing healthy, the unhealthy target may still take its clients.
  TargetGroup all_down = g;
  for (Target& t : all_down.targets) t.state = TargetState::kUnhealthy;
  TargetPicker p_all_down(all_down, 0, &picker, kT0);
  EXPECT_EQ(p_all_down.sticky_target(to_second), 1);

  // Moved within the list: the cookie follows the address, not the index.
  TargetGroup moved = g;
  std::swap(moved.targets[0], moved.targets[1]);
  TargetPicker p_moved(moved, 0, &picker, kT0);
  EXPECT_EQ(p_moved.sticky_target(to_second), 0);
}

TEST(ProxyPicker, WeightedGroupsFollowWeights) {
  std::vector<WeightedTargetGroup> groups = {{"a", 0}, {"b", 1}, {"c", 3}};
  // Each value of the 0..total-1 range lands on exactly one group, in proportion to the weights.
  std::vector<int> exact(3, 0);
  for (uint64_t r = 0; r < 4 * 25; ++r) ++exact[pick_weighted_group(groups, r)];
  EXPECT_EQ(exact, (std::vector<int>{0, 25, 75}));

  std::mt19937_64 rng(99);
  std::vector<int> counts(3, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[pick_weighted_group(groups, rng())];
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1] / static_cast<double>(n), 0.25, 0.01);
  EXPECT_NEAR(counts[2] / static_cast<double>(n), 0.75, 0.01);

  const std::vector<WeightedTargetGroup> zero = {{"a", 0}, {"b", 0}};
  EXPECT_EQ(pick_weighted_group(zero, 12345), -1);
  EXPECT_EQ(pick_weighted_group({}, 12345), -1);
  const std::vector<WeightedTargetGroup> max = {{"a", 999}, {"b", 999}};
  EXPECT_EQ(pick_weighted_group(max, 998), 0);
  EXPECT_EQ(pick_weighted_group(max, 999), 1);
}

}  // namespace
}  // namespace sluice::proxy
