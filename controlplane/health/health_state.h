// Per-target health with the semantics of an AWS Application Load Balancer target group: the
// states a target moves through, the consecutive-result thresholds that move it, deregistration
// draining, slow start, and fail-open selection of the targets that take new flows.
//
// Everything here is a pure function of its inputs and of a time point the caller passes in, so a
// test drives it with a fake clock and the checker drives it with the steady clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::controlplane::health {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

enum class TargetState : uint8_t {
  kInitial,    // registered, not yet enough results to decide
  kHealthy,    // healthy_threshold consecutive passes
  kUnhealthy,  // unhealthy_threshold consecutive failures
  kDraining,   // deregistered: existing flows stay until the deregistration delay elapses
  kUnused,     // drained (or never routable): takes no flows, may be removed
};

std::string_view to_string(TargetState state);

// Why a check failed; kNone for a pass.
enum class FailReason : uint8_t {
  kNone,
  kRefused,         // connection refused (RST to the SYN)
  kTimeout,         // no connection or no status line within the timeout
  kConnectError,    // any other connect error (unreachable, reset, ...)
  kStatusMismatch,  // HTTP answered with a code the matcher does not accept
  kBadResponse,     // HTTP peer closed before a status line, or sent something that is not one
  kTlsError,        // HTTPS handshake failed
};

std::string_view to_string(FailReason reason);

struct CheckResult {
  bool pass = false;
  FailReason reason = FailReason::kNone;
  int status_code = 0;   // HTTP status, 0 for TCP checks and failures before a status line
  Duration latency{};    // from connect to verdict
  TimePoint finished{};  // when the verdict was reached

  static CheckResult passed(Duration latency, TimePoint at, int status = 0) {
    return {.pass = true, .status_code = status, .latency = latency, .finished = at};
  }
  static CheckResult failed(FailReason why, Duration latency, TimePoint at, int status = 0) {
    return {
        .pass = false, .reason = why, .status_code = status, .latency = latency, .finished = at};
  }
};

// The success codes of an HTTP check: "200", "200-299", "200,202", "200-204,301". Codes must lie in
// 200-499, as on an ALB.
class StatusMatcher {
 public:
  StatusMatcher() : ranges_{{200, 200}} {}  // the ALB default
  // nullopt and a message naming the bad part when the text does not parse.
  static std::optional<StatusMatcher> parse(std::string_view text, std::string* error = nullptr);
  bool matches(int code) const;
  const std::vector<std::pair<int, int>>& ranges() const { return ranges_; }
  std::string to_string() const;

 private:
  std::vector<std::pair<int, int>> ranges_;  // inclusive, in the order given
};

// HTTPS checks do not verify the target's certificate, as on an ALB.
enum class CheckProtocol : uint8_t { kTcp, kHttp, kHttps };

struct HealthCheckConfig {
  CheckProtocol protocol = CheckProtocol::kHttp;
  std::string path = "/";
  std::string host;   // Host header; empty: the target's address (and port when not 80)
  uint16_t port = 0;  // 0: the target's own port ("traffic-port")
  Duration interval = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(5);
  int healthy_threshold = 5;
  int unhealthy_threshold = 2;
  StatusMatcher matcher;
  // Each check is scheduled interval + U[0, interval * jitter) after the previous one started,
  // and the first one U[0, interval * jitter) after registration, so that thousands of targets
  // registered together do not get checked in lockstep.
  double jitter = 0.1;
  Duration deregistration_delay = std::chrono::seconds(300);
  Duration slow_start = Duration::zero();  // zero: off
};

// Checks the values against the ranges an ALB accepts (interval 5-300 s, timeout 2-120 s and below
// the interval, thresholds 2-10, deregistration delay 0-3600 s, slow start 0 or 30-900 s, path
// starting with '/'). Returns an empty string when they are valid, else a message naming the key.
// The checker itself takes any positive values, which is what lets tests run in milliseconds.
std::string validate_alb_ranges(const HealthCheckConfig& config);

// The state of one registered target.
class TargetHealth {
 public:
  TargetHealth() = default;

  TargetState state() const { return state_; }
  int consecutive_passes() const { return passes_; }
  int consecutive_failures() const { return failures_; }
  const std::optional<CheckResult>& last_result() const { return last_; }
  // When the target last became healthy; nullopt while it is not healthy.
  std::optional<TimePoint> healthy_since() const { return healthy_since_; }
  std::optional<TimePoint> draining_since() const { return draining_since_; }

  // Feeds one check result. Returns true when the state changed. Results for a draining or unused
  // target are ignored (checks stop at deregistration).
  bool record(const CheckResult& result, int healthy_threshold, int unhealthy_threshold);

  // Deregistration: the target stops taking new flows and drains. No-op unless it is registered.
  void deregister(TimePoint now);
  // Moves a draining target to unused once `delay` has elapsed since deregistration. Returns true
  // when the state changed.
  bool advance(TimePoint now, Duration delay);
  // Time left before a draining target becomes unused (zero when not draining or already due).
  Duration drain_remaining(TimePoint now, Duration delay) const;

  // Share of its configured weight the target takes now: 0 to 1 along a linear slow-start ramp
  // that begins when the target becomes healthy, 1 once the ramp is over, without slow start, and
  // in every other state (whether a target takes flows at all is routable_targets' decision).
  double weight_fraction(TimePoint now, Duration slow_start) const;

 private:
  TargetState state_ = TargetState::kInitial;
  int passes_ = 0;
  int failures_ = 0;
  std::optional<CheckResult> last_;
  std::optional<TimePoint> healthy_since_;
  std::optional<TimePoint> draining_since_;
};

// Linear slow-start fraction for a target healthy since `since`: (now - since) / slow_start, held
// to [0, 1]; 1 when slow_start is zero.
double slow_start_fraction(TimePoint since, TimePoint now, Duration slow_start);

// The weight to hand to the balancer: weight * fraction, rounded, and never below 1 when weight is
// not zero, so that a target at the very start of its ramp gets a trickle rather than nothing.
uint32_t effective_weight(uint32_t weight, double fraction);

// The targets that should receive new flows. `fail_open` is set when no target is healthy and every
// registered (initial, healthy or unhealthy) target is returned instead, as an ALB does.
struct RoutableSet {
  std::vector<size_t> indices;  // into the states given, ascending
  bool fail_open = false;
};
RoutableSet routable_targets(std::span<const TargetState> states);

}  // namespace sluice::controlplane::health
