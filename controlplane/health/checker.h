// Active health checker: one thread, one epoll set, non-blocking sockets. Each registered target is
// checked every interval (plus jitter) with a TCP connect or an HTTP/1.1 GET, plain or over TLS
// (OpenSSL, certificate not verified), whose status line is matched against the target's matcher;
// each check has its own deadline. Results go to the
// target's TargetHealth. Nothing here starts a thread: the owner calls poll() or run_for() from its
// own loop, or waits on fd() becoming readable and then calls poll(0).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "health_state.h"
#include "ip_address.h"

struct ssl_st;
struct ssl_ctx_st;

namespace sluice::controlplane::health {

using TargetId = uint64_t;

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
};

struct CheckerStats {
  uint64_t checks_started = 0;
  uint64_t passes = 0;
  uint64_t failures = 0;
  uint64_t timeouts = 0;
  uint64_t transitions = 0;
  size_t in_flight = 0;
  size_t in_flight_peak = 0;
};

// What a query returns about one target.
struct TargetStatus {
  TargetState state = TargetState::kInitial;
  std::optional<CheckResult> last_result;
  uint64_t checks = 0;  // results recorded for this target
  double weight_fraction = 1.0;
};

class Checker {
 public:
  // Called for every result, after the target's state was updated.
  using ResultCallback =
      std::function<void(TargetId, const CheckResult&, TargetState before, TargetState after)>;

  // `seed` drives the jitter; fixed in tests for reproducible schedules.
  explicit Checker(uint64_t seed = std::random_device{}());
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // The epoll descriptor: readable when poll(0) has socket work to do. Timer work is due at
  // next_wakeup().
  int fd() const { return epoll_fd_; }

  // Registers a target (state initial) and schedules its first check. False if the id is taken.
  bool add_target(TargetId id, const Endpoint& endpoint, const HealthCheckConfig& config);
  // Replaces a target's check configuration; the next check uses it.
  bool set_config(TargetId id, const HealthCheckConfig& config);
  // Deregistration: cancels any check in flight, stops checking, drains for the configured
  // deregistration delay, then the target turns unused (it stays queryable until removed).
  bool deregister_target(TargetId id);
  // Forgets a target at once, cancelling any check in flight.
  bool remove_target(TargetId id);

  // Waits up to `max_wait` for socket events or the next due timer, handles everything that is
  // ready, and returns the number of check results produced.
  size_t poll(Duration max_wait);
  // Polls until `duration` has passed.
  void run_for(Duration duration);
  // Polls until `done()` holds or `limit` has passed; returns done().
  bool run_until(const std::function<bool()>& done, Duration limit);

  std::optional<TargetStatus> status(TargetId id) const;
  std::optional<TargetState> state(TargetId id) const;
  // The target's whole health record (for compiling snapshots); nullptr when unknown.
  const TargetHealth* health(TargetId id) const;
  size_t target_count() const { return targets_.size(); }
  const CheckerStats& stats() const { return stats_; }
  std::optional<TimePoint> next_wakeup() const;

  void on_result(ResultCallback callback) { callback_ = std::move(callback); }

 private:
  enum class Phase : uint8_t { kIdle, kConnecting, kHandshake, kSending, kReceiving };
  struct Target {
    Endpoint endpoint;
    std::shared_ptr<const HealthCheckConfig> config;
    TargetHealth health;
    uint64_t checks = 0;
    // The check in flight (phase != kIdle).
    Phase phase = Phase::kIdle;
    int fd = -1;
    uint32_t events = 0;    // the epoll interest registered for fd
    ssl_st* ssl = nullptr;  // HTTPS only
    uint64_t serial = 0;    // identifies the check in flight in the epoll data and the timer heap
    TimePoint started{};
    std::string request;
    size_t sent = 0;
    std::string response;
  };
  enum class TimerKind : uint8_t { kCheck, kDeadline, kDrain };
  struct Timer {
    TimePoint at;
    TimerKind kind;
    TargetId id;
    uint64_t serial;  // must still match the target's for the timer to count
    bool operator>(const Timer& o) const { return at > o.at; }
  };

  Duration jitter(const HealthCheckConfig& config);
  void schedule(TimerKind kind, TimePoint at, TargetId id, uint64_t serial);
  void start_check(TargetId id, Target& t, TimePoint now);
  void handle_event(uint64_t serial, TimePoint now);
  // Advances the check in flight as far as the socket allows.
  void drive(TargetId id, Target& t, TimePoint now);
  void want(Target& t, uint32_t events);
  // Plain or TLS I/O: bytes moved, 0 at end of stream, -1 when the socket must become ready for
  // *events first, -2 on error.
  ssize_t write_some(Target& t, const char* data, size_t len, uint32_t* events);
  ssize_t read_some(Target& t, char* buf, size_t len, uint32_t* events);
  bool start_tls(Target& t);
  void finish(TargetId id, Target& t, const CheckResult& result, TimePoint now);
  void cancel(Target& t);
  size_t run_timers(TimePoint now);
  std::string build_request(const Target& t) const;

  int epoll_fd_ = -1;
  ssl_ctx_st* tls_ctx_ = nullptr;  // created with the first HTTPS check
  std::unordered_map<TargetId, Target> targets_;
  std::unordered_map<uint64_t, TargetId> in_flight_;  // check serial -> target
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t next_serial_ = 1;
  size_t results_this_poll_ = 0;
  std::mt19937_64 rng_;
  CheckerStats stats_;
  ResultCallback callback_;
};

}  // namespace sluice::controlplane::health
