#include "health_state.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sluice::controlplane::health {

std::string_view to_string(TargetState state) {
  switch (state) {
    case TargetState::kInitial:
      return "initial";
    case TargetState::kHealthy:
      return "healthy";
    case TargetState::kUnhealthy:
      return "unhealthy";
    case TargetState::kDraining:
      return "draining";
    case TargetState::kUnused:
      return "unused";
  }
  return "unknown";
}

std::string_view to_string(FailReason reason) {
  switch (reason) {
    case FailReason::kNone:
      return "none";
    case FailReason::kRefused:
      return "refused";
    case FailReason::kTimeout:
      return "timeout";
    case FailReason::kConnectError:
      return "connect-error";
    case FailReason::kStatusMismatch:
      return "status-mismatch";
    case FailReason::kBadResponse:
      return "bad-response";
    case FailReason::kTlsError:
      return "tls-error";
  }
  return "unknown";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int> parse_code(std::string_view s) {
  s = trim(s);
  int value = 0;
  if (s.empty() || s.size() > 3) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

constexpr int kMinCode = 200;
constexpr int kMaxCode = 499;

}  // namespace

std::optional<StatusMatcher> StatusMatcher::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<StatusMatcher> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  StatusMatcher m;
  m.ranges_.clear();
  if (trim(text).empty()) return fail("matcher: empty");
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const size_t dash = item.find('-');
    std::optional<int> lo;
    std::optional<int> hi;
    if (dash == std::string_view::npos) {
      lo = hi = parse_code(item);
    } else {
      lo = parse_code(item.substr(0, dash));
      hi = parse_code(item.substr(dash + 1));
    }
    const std::string shown(trim(item));
    if (!lo || !hi) return fail("matcher: '" + shown + "' is not a code or a range of codes");
    if (*lo < kMinCode || *hi > kMaxCode) {
      return fail("matcher: '" + shown + "' is outside 200-499");
    }
    if (*lo > *hi) return fail("matcher: range '" + shown + "' runs backwards");
    m.ranges_.emplace_back(*lo, *hi);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return m;
}

bool StatusMatcher::matches(int code) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [code](const auto& r) { return code >= r.first && code <= r.second; });
}

std::string StatusMatcher::to_string() const {
  std::string out;
  for (const auto& [lo, hi] : ranges_) {
    if (!out.empty()) out += ',';
    out += std::to_string(lo);
    if (hi != lo) out += '-' + std::to_string(hi);
  }
  return out;
}

std::string validate_alb_ranges(const HealthCheckConfig& c) {
  using std::chrono::seconds;
  if (c.interval < seconds(5) || c.interval > seconds(300)) return "interval: must be 5-300 s";
  if (c.timeout < seconds(2) || c.timeout > seconds(120)) return "timeout: must be 2-120 s";
  if (c.timeout >= c.interval) return "timeout: must be less than interval";
  if (c.healthy_threshold < 2 || c.healthy_threshold > 10) return "healthy_threshold: must be 2-10";
  if (c.unhealthy_threshold < 2 || c.unhealthy_threshold > 10) {
    return "unhealthy_threshold: must be 2-10";
  }
  if (c.deregistration_delay < Duration::zero() || c.deregistration_delay > seconds(3600)) {
    return "deregistration_delay: must be 0-3600 s";
  }
  if (c.slow_start != Duration::zero() &&
      (c.slow_start < seconds(30) || c.slow_start > seconds(900))) {
    return "slow_start: must be 0 (off) or 30-900 s";
  }
  if (c.jitter < 0.0 || c.jitter > 1.0) return "jitter: must be 0-1";
  if (c.protocol != CheckProtocol::kTcp && (c.path.empty() || c.path.front() != '/')) {
    return "path: must start with '/'";
  }
  return {};
}

bool TargetHealth::record(const CheckResult& result, int healthy_threshold,
                          int unhealthy_threshold) {
  if (state_ == TargetState::kDraining || state_ == TargetState::kUnused) return false;
  last_ = result;
  if (result.pass) {
    ++passes_;
    failures_ = 0;
    if (state_ != TargetState::kHealthy && passes_ >= healthy_threshold) {
      state_ = TargetState::kHealthy;
      healthy_since_ = result.finished;
      return true;
    }
  } else {
    ++failures_;
    passes_ = 0;
    if (state_ != TargetState::kUnhealthy && failures_ >= unhealthy_threshold) {
      state_ = TargetState::kUnhealthy;
      healthy_since_.reset();
      return true;
    }
  }
  return false;
}

void TargetHealth::deregister(TimePoint now) {
  if (state_ == TargetState::kDraining || state_ == TargetState::kUnused) return;
  state_ = TargetState::kDraining;
  draining_since_ = now;
  healthy_since_.reset();
  passes_ = failures_ = 0;
}

bool TargetHealth::advance(TimePoint now, Duration delay) {
  if (state_ != TargetState::kDraining) return false;
  if (now - *draining_since_ < delay) return false;
  state_ = TargetState::kUnused;
  return true;
}

Duration TargetHealth::drain_remaining(TimePoint now, Duration delay) const {
  if (state_ != TargetState::kDraining) return Duration::zero();
  return std::max(Duration::zero(), *draining_since_ + delay - now);
}

double TargetHealth::weight_fraction(TimePoint now, Duration slow_start) const {
  if (state_ != TargetState::kHealthy || !healthy_since_) return 1.0;
  return slow_start_fraction(*healthy_since_, now, slow_start);
}

double slow_start_fraction(TimePoint since, TimePoint now, Duration slow_start) {
  if (slow_start <= Duration::zero()) return 1.0;
  if (now <= since) return 0.0;
  const double f =
      std::chrono::duration<double>(now - since) / std::chrono::duration<double>(slow_start);
  return std::clamp(f, 0.0, 1.0);
}

uint32_t effective_weight(uint32_t weight, double fraction) {
  if (weight == 0) return 0;
  const double w = std::round(static_cast<double>(weight) * std::clamp(fraction, 0.0, 1.0));
  return std::max<uint32_t>(1, static_cast<uint32_t>(w));
}

RoutableSet routable_targets(std::span<const TargetState> states) {
  RoutableSet out;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i] == TargetState::kHealthy) out.indices.push_back(i);
  }
  if (!out.indices.empty()) return out;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i] == TargetState::kInitial || states[i] == TargetState::kUnhealthy) {
      out.indices.push_back(i);
    }
  }
  out.fail_open = !out.indices.empty();
  return out;
}

}  // namespace sluice::controlplane::health
