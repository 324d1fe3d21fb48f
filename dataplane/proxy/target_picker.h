// Balancing within a target group: which target takes a new request (round robin, least
// outstanding requests, weighted random), with ALB health semantics (fail-open when no target is
// healthy, draining targets take nothing new), slow start and stickiness by balancer cookie.
// One picker per target group per reactor core: single-threaded, no locks. A configuration change
// builds a new picker that takes over the state of the previous one, target by address and port.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_types.h"

namespace sluice::proxy {

class TargetPicker {
 public:
  using Clock = std::chrono::steady_clock;

  // `previous` (may be null): the picker this one replaces; outstanding counts, round-robin
  // position and slow-start start times carry over for targets with the same address and port.
  TargetPicker(const TargetGroup& group, uint64_t seed, const TargetPicker* previous,
               Clock::time_point now);

  // A target for a new request: an index into group().targets, or -1 when none may take
  // requests. `exclude`: targets already tried for this request. Round robin and weighted random
  // share by effective weight; least outstanding requests takes the fewest outstanding and shares
  // ties by effective weight (so slow start and weights act on ties only).
  int pick(Clock::time_point now, std::span<const int> exclude = {});

  // The target the balancer cookie in `cookie_header` (a whole Cookie header value) names, if
  // stickiness is enabled and that target may still take requests; else -1.
  int sticky_target(std::string_view cookie_header) const;

  // The Set-Cookie header value that pins a client to `target`.
  std::string sticky_cookie(int target, std::chrono::system_clock::time_point now) const;

  void on_start(int target);   // a request was sent to it
  void on_finish(int target);  // its response ended or it failed
  uint32_t outstanding(int target) const;

  // The weight a target gets now: 0 when it may not take new requests, its configured weight
  // scaled by slow start while ramping.
  double effective_weight(int target, Clock::time_point now) const;

  const TargetGroup& group() const { return group_; }

  // The index of the target with this address and port, or -1: for requests that began under a
  // previous picker and end under this one.
  int find(const IpAddress& address, uint16_t port) const;

  // Whether the target may take new requests at all (routable, before slow start).
  bool routable(int target) const { return valid(target) && state_[target].routable; }

  static constexpr const char* kCookieName = "AWSALB";
  // The share a target gets at the very start of its slow start, so that it sees traffic at once.
  static constexpr double kSlowStartFloor = 0.05;

 private:
  struct Slot {
    bool routable = false;
    uint32_t outstanding = 0;
    double current = 0;  // smooth weighted round robin (also the least-outstanding tie-break)
    std::optional<Clock::time_point> ramp_start;
  };

  bool valid(int target) const {
    return target >= 0 && static_cast<size_t>(target) < state_.size();
  }
  bool excluded(int target, std::span<const int> exclude) const;
  // One step of smooth weighted round robin over the candidates with the least key.
  int smooth_step(Clock::time_point now, std::span<const int> exclude, bool least_outstanding);
  int weighted_random(Clock::time_point now, std::span<const int> exclude);
  uint64_t next_random();

  TargetGroup group_;
  std::vector<Slot> state_;
  std::vector<int> by_address_;      // target indices sorted by address and port
  std::vector<std::string> tokens_;  // each target's cookie value, when stickiness is enabled
  uint64_t rng_;
};

// Choosing among a forward action's weighted target groups (weights 0-999): an index into
// `groups`, or -1 when every weight is 0. `random`: a uniformly random 64-bit value.
int pick_weighted_group(std::span<const WeightedTargetGroup> groups, uint64_t random);

}  // namespace sluice::proxy
