#include "checker.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::controlplane::health {

namespace {

constexpr size_t kMaxEvents = 1024;
constexpr size_t kMaxStatusLine = 512;

socklen_t to_sockaddr(const IpAddress& address, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, address.v4(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

FailReason connect_failure(int err) {
  return err == ECONNREFUSED ? FailReason::kRefused : FailReason::kConnectError;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "HTTP/1.x SSS" followed by a space or the end of the line. Returns the code, or -1.
int parse_status_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !is_digit(line[7]) || line[8] != ' ') {
    return -1;
  }
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return -1;
  if (line.size() > 12 && line[12] != ' ') return -1;
  return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

}  // namespace

Checker::Checker(uint64_t seed) : rng_(seed) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    throw std::runtime_error(std::string("health checker: epoll_create1: ") + strerror(errno));
  }
}

Checker::~Checker() {
  for (auto& [id, t] : targets_) cancel(t);
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
  close(epoll_fd_);
}

Duration Checker::jitter(const HealthCheckConfig& config) {
  const auto span = std::chrono::duration_cast<Duration>(config.interval * config.jitter);
  if (span <= Duration::zero()) return Duration::zero();
  std::uniform_int_distribution<Duration::rep> pick(0, span.count() - 1);
  return Duration(pick(rng_));
}

void Checker::schedule(TimerKind kind, TimePoint at, TargetId id, uint64_t serial) {
  timers_.push(Timer{.at = at, .kind = kind, .id = id, .serial = serial});
}

bool Checker::add_target(TargetId id, const Endpoint& endpoint, const HealthCheckConfig& config) {
  auto [it, inserted] = targets_.try_emplace(id);
  if (!inserted) return false;
  Target& t = it->second;
  t.endpoint = endpoint;
  t.config = std::make_shared<const HealthCheckConfig>(config);
  t.serial = next_serial_++;
  schedule(TimerKind::kCheck, Clock::now() + jitter(config), id, t.serial);
  return true;
}

bool Checker::set_config(TargetId id, const HealthCheckConfig& config) {
  auto it = targets_.find(id);
  if (it == targets_.end()) return false;
  it->second.config = std::make_shared<const HealthCheckConfig>(config);
  return true;
}

bool Checker::deregister_target(TargetId id) {
  auto it = targets_.find(id);
  if (it == targets_.end()) return false;
  Target& t = it->second;
  const TargetState before = t.health.state();
  if (before == TargetState::kDraining || before == TargetState::kUnused) return true;
  cancel(t);
  const TimePoint now = Clock::now();
  t.health.deregister(now);
  ++stats_.transitions;
  t.serial = next_serial_++;
  schedule(TimerKind::kDrain, now + t.config->deregistration_delay, id, t.serial);
  return true;
}

bool Checker::remove_target(TargetId id) {
  auto it = targets_.find(id);
  if (it == targets_.end()) return false;
  cancel(it->second);
  targets_.erase(it);
  return true;
}

void Checker::cancel(Target& t) {
  if (t.phase == Phase::kIdle) return;
  if (t.ssl != nullptr) {
    SSL_free(t.ssl);
    t.ssl = nullptr;
  }
  close(t.fd);  // also leaves the epoll set: the descriptor is not shared
  t.fd = -1;
  t.events = 0;
  in_flight_.erase(t.serial);
  stats_.in_flight = in_flight_.size();
  t.phase = Phase::kIdle;
  t.request.clear();
  t.response.clear();
  t.sent = 0;
}

std::string Checker::build_request(const Target& t) const {
  const HealthCheckConfig& c = *t.config;
  const uint16_t port = c.port != 0 ? c.port : t.endpoint.port;
  std::string host = c.host;
  if (host.empty()) {
    const std::string addr = format_ip_address(t.endpoint.address);
    host = t.endpoint.address.is_v4() ? addr : "[" + addr + "]";
    const uint16_t default_port = c.protocol == CheckProtocol::kHttps ? 443 : 80;
    if (port != default_port) host += ":" + std::to_string(port);
  }
  std::string r;
  r.reserve(c.path.size() + host.size() + 96);
  r += "GET ";
  r += c.path;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nUser-Agent: sluice-health-check\r\nConnection: close\r\n\r\n";
  return r;
}

void Checker::start_check(TargetId id, Target& t, TimePoint now) {
  const HealthCheckConfig& c = *t.config;
  t.serial = next_serial_++;
  t.started = now;
  ++stats_.checks_started;
  sockaddr_storage sa;
  const socklen_t len =
      to_sockaddr(t.endpoint.address, c.port != 0 ? c.port : t.endpoint.port, &sa);
  const int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    finish(id, t, CheckResult::failed(FailReason::kConnectError, Duration::zero(), now), now);
    return;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    close(fd);
    const TimePoint at = Clock::now();
    finish(id, t, CheckResult::failed(connect_failure(err), at - now, at), now);
    return;
  }
  // Connected at once or in progress: either way the socket turns writable when it is decided.
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = t.serial;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    finish(id, t, CheckResult::failed(FailReason::kConnectError, Duration::zero(), now), now);
    return;
  }
  t.fd = fd;
  t.events = EPOLLOUT;
  t.phase = Phase::kConnecting;
  in_flight_.emplace(t.serial, id);
  stats_.in_flight = in_flight_.size();
  stats_.in_flight_peak = std::max(stats_.in_flight_peak, stats_.in_flight);
  schedule(TimerKind::kDeadline, now + c.timeout, id, t.serial);
}

bool Checker::start_tls(Target& t) {
  if (tls_ctx_ == nullptr) {
    tls_ctx_ = SSL_CTX_new(TLS_client_method());
    if (tls_ctx_ == nullptr) return false;
    // Like an ALB: the target's certificate is not verified. A peer that closes without
    // close_notify is an ordinary end of stream here, not an error.
    SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_options(tls_ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  }
  t.ssl = SSL_new(tls_ctx_);
  if (t.ssl == nullptr || SSL_set_fd(t.ssl, t.fd) != 1) return false;
  const std::string& host = t.config->host;
  if (!host.empty() && !parse_ip_address(host)) SSL_set_tlsext_host_name(t.ssl, host.c_str());
  SSL_set_connect_state(t.ssl);
  return true;
}

namespace {

// Maps an SSL_* call's outcome onto the plain-socket convention of write_some/read_some.
ssize_t tls_outcome(SSL* ssl, int r, uint32_t* events) {
  if (r > 0) return r;
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
      *events = EPOLLIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      *events = EPOLLOUT;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default:
      return -2;
  }
}

// OpenSSL writes to the socket with write(), which raises SIGPIPE when the peer has gone; that
// would end the whole process. While OpenSSL runs the signal is held back for this thread, and
// one it raised is taken off again (a SIGPIPE pending from before is left alone).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{};
      sigtimedwait(&pipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

}  // namespace

ssize_t Checker::write_some(Target& t, const char* data, size_t len, uint32_t* events) {
  if (t.ssl != nullptr) {
    const SigpipeGuard guard;
    ERR_clear_error();
    return tls_outcome(t.ssl, SSL_write(t.ssl, data, static_cast<int>(len)), events);
  }
  for (;;) {
    const ssize_t n = send(t.fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *events = EPOLLOUT;
      return -1;
    }
    return -2;
  }
}

ssize_t Checker::read_some(Target& t, char* buf, size_t len, uint32_t* events) {
  if (t.ssl != nullptr) {
    ERR_clear_error();
    return tls_outcome(t.ssl, SSL_read(t.ssl, buf, static_cast<int>(len)), events);
  }
  for (;;) {
    const ssize_t n = recv(t.fd, buf, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *events = EPOLLIN;
      return -1;
    }
    return -2;
  }
}

void Checker::want(Target& t, uint32_t events) {
  if (t.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = t.serial;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, t.fd, &ev);
  t.events = events;
}

void Checker::drive(TargetId id, Target& t, TimePoint now) {
  auto fail = [&](FailReason why) {
    finish(id, t, CheckResult::failed(why, now - t.started, now), now);
  };
  if (t.phase == Phase::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(t.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return fail(connect_failure(err));
    const CheckProtocol protocol = t.config->protocol;
    if (protocol == CheckProtocol::kTcp) {
      finish(id, t, CheckResult::passed(now - t.started, now), now);
      return;
    }
    if (protocol == CheckProtocol::kHttps) {
      if (!start_tls(t)) return fail(FailReason::kTlsError);
      t.phase = Phase::kHandshake;
    } else {
      t.phase = Phase::kSending;
    }
    t.request = build_request(t);
    t.sent = 0;
  }
  if (t.phase == Phase::kHandshake) {
    const SigpipeGuard guard;
    ERR_clear_error();
    uint32_t events = 0;
    const ssize_t r = tls_outcome(t.ssl, SSL_do_handshake(t.ssl), &events);
    if (r == -1) return want(t, events);
    if (r <= 0) return fail(FailReason::kTlsError);
    t.phase = Phase::kSending;
  }
  if (t.phase == Phase::kSending) {
    while (t.sent < t.request.size()) {
      uint32_t events = 0;
      const ssize_t n =
          write_some(t, t.request.data() + t.sent, t.request.size() - t.sent, &events);
      if (n == -1) return want(t, events);
      if (n <= 0) return fail(FailReason::kConnectError);
      t.sent += static_cast<size_t>(n);
    }
    t.phase = Phase::kReceiving;
  }
  char buf[kMaxStatusLine];
  for (;;) {
    uint32_t events = 0;
    const ssize_t n = read_some(t, buf, sizeof buf, &events);
    if (n == -1) return want(t, events);
    if (n <= 0) return fail(FailReason::kBadResponse);
    t.response.append(buf, static_cast<size_t>(n));
    const size_t eol = t.response.find('\n');
    if (eol != std::string::npos) {
      const int code = parse_status_line(std::string_view(t.response).substr(0, eol));
      if (code < 0) return fail(FailReason::kBadResponse);
      CheckResult r =
          t.config->matcher.matches(code)
              ? CheckResult::passed(now - t.started, now, code)
              : CheckResult::failed(FailReason::kStatusMismatch, now - t.started, now, code);
      finish(id, t, r, now);
      return;
    }
    if (t.response.size() >= kMaxStatusLine) return fail(FailReason::kBadResponse);
  }
}

void Checker::finish(TargetId id, Target& t, const CheckResult& result, TimePoint now) {
  cancel(t);
  const HealthCheckConfig& c = *t.config;
  const TargetState before = t.health.state();
  const bool changed = t.health.record(result, c.healthy_threshold, c.unhealthy_threshold);
  ++t.checks;
  ++results_this_poll_;
  if (result.pass) {
    ++stats_.passes;
  } else {
    ++stats_.failures;
    if (result.reason == FailReason::kTimeout) ++stats_.timeouts;
  }
  if (changed) ++stats_.transitions;
  const TargetState after = t.health.state();
  t.serial = next_serial_++;
  const TimePoint next = std::max(now, t.started + c.interval + jitter(c));
  schedule(TimerKind::kCheck, next, id, t.serial);
  // Last: the callback may remove this target.
  if (callback_) callback_(id, result, before, after);
}

void Checker::handle_event(uint64_t serial, TimePoint now) {
  const auto f = in_flight_.find(serial);
  if (f == in_flight_.end()) return;  // finished or cancelled earlier in this batch
  const TargetId id = f->second;
  auto it = targets_.find(id);
  if (it == targets_.end()) return;
  Target& t = it->second;
  if (t.phase != Phase::kIdle) drive(id, t, now);
}

size_t Checker::run_timers(TimePoint now) {
  size_t fired = 0;
  while (!timers_.empty() && timers_.top().at <= now) {
    const Timer timer = timers_.top();
    timers_.pop();
    auto it = targets_.find(timer.id);
    if (it == targets_.end() || it->second.serial != timer.serial) continue;
    Target& t = it->second;
    ++fired;
    switch (timer.kind) {
      case TimerKind::kCheck: {
        const TargetState s = t.health.state();
        if (t.phase == Phase::kIdle && s != TargetState::kDraining && s != TargetState::kUnused) {
          start_check(timer.id, t, now);
        }
        break;
      }
      case TimerKind::kDeadline:
        if (t.phase != Phase::kIdle) {
          finish(timer.id, t, CheckResult::failed(FailReason::kTimeout, now - t.started, now), now);
        }
        break;
      case TimerKind::kDrain:
        if (t.health.advance(now, t.config->deregistration_delay)) {
          ++stats_.transitions;
        } else if (t.health.state() == TargetState::kDraining) {
          schedule(TimerKind::kDrain,
                   now + t.health.drain_remaining(now, t.config->deregistration_delay), timer.id,
                   t.serial);
        }
        break;
    }
  }
  return fired;
}

std::optional<TimePoint> Checker::next_wakeup() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.top().at;
}

size_t Checker::poll(Duration max_wait) {
  results_this_poll_ = 0;
  TimePoint now = Clock::now();
  Duration wait = std::max(max_wait, Duration::zero());
  if (const auto next = next_wakeup())
    wait = std::min(wait, std::max(*next - now, Duration::zero()));
  // epoll_wait counts milliseconds: round up so that a due timer is never polled for in a spin.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  epoll_event events[kMaxEvents];
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(ms));
  now = Clock::now();
  for (int i = 0; i < n; ++i) handle_event(events[i].data.u64, now);
  run_timers(Clock::now());
  return results_this_poll_;
}

void Checker::run_for(Duration duration) {
  const TimePoint end = Clock::now() + duration;
  for (TimePoint now = Clock::now(); now < end; now = Clock::now()) poll(end - now);
}

bool Checker::run_until(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = Clock::now() + limit;
  while (!done()) {
    const TimePoint now = Clock::now();
    if (now >= end) return false;
    poll(std::min<Duration>(end - now, std::chrono::milliseconds(50)));
  }
  return true;
}

std::optional<TargetStatus> Checker::status(TargetId id) const {
  auto it = targets_.find(id);
  if (it == targets_.end()) return std::nullopt;
  const Target& t = it->second;
  return TargetStatus{
      .state = t.health.state(),
      .last_result = t.health.last_result(),
      .checks = t.checks,
      .weight_fraction = t.health.weight_fraction(Clock::now(), t.config->slow_start)};
}

std::optional<TargetState> Checker::state(TargetId id) const {
  auto it = targets_.find(id);
  if (it == targets_.end()) return std::nullopt;
  return it->second.health.state();
}

const TargetHealth* Checker::health(TargetId id) const {
  auto it = targets_.find(id);
  return it == targets_.end() ? nullptr : &it->second.health;
}

}  // namespace sluice::controlplane::health
