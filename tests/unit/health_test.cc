#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "checker.h"
#include "health_state.h"

namespace sluice::controlplane::health {
namespace {

using namespace std::chrono_literals;

// ---- state machine, on a fake clock ----

constexpr TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

CheckResult pass_at(TimePoint at) {
  return CheckResult::passed(1ms, at, 200);
}
CheckResult fail_at(TimePoint at) {
  return CheckResult::failed(FailReason::kTimeout, 5s, at);
}

TEST(HealthState, Defaults) {
  const HealthCheckConfig c;
  EXPECT_EQ(c.protocol, CheckProtocol::kHttp);
  EXPECT_EQ(c.path, "/");
  EXPECT_EQ(c.interval, 30s);
  EXPECT_EQ(c.timeout, 5s);
  EXPECT_EQ(c.healthy_threshold, 5);
  EXPECT_EQ(c.unhealthy_threshold, 2);
  EXPECT_EQ(c.matcher.to_string(), "200");
  EXPECT_EQ(c.deregistration_delay, 300s);
  EXPECT_EQ(c.slow_start, Duration::zero());
  EXPECT_EQ(validate_alb_ranges(c), "");
  EXPECT_EQ(TargetHealth().state(), TargetState::kInitial);
}

TEST(HealthState, InitialToHealthyAtExactlyTheThreshold) {
  TargetHealth h;
  for (int i = 1; i < 5; ++i) {
    EXPECT_FALSE(h.record(pass_at(kT0 + i * 1s), 5, 2));
    EXPECT_EQ(h.state(), TargetState::kInitial) << i << " passes";
    EXPECT_EQ(h.consecutive_passes(), i);
  }
  EXPECT_TRUE(h.record(pass_at(kT0 + 5s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kHealthy);
  EXPECT_EQ(h.healthy_since(), kT0 + 5s);
  EXPECT_FALSE(h.record(pass_at(kT0 + 6s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kHealthy);
}

TEST(HealthState, InitialToUnhealthyAtExactlyTheThreshold) {
  TargetHealth h;
  EXPECT_FALSE(h.record(fail_at(kT0), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kInitial);
  EXPECT_TRUE(h.record(fail_at(kT0 + 1s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kUnhealthy);
  EXPECT_EQ(h.last_result()->reason, FailReason::kTimeout);
  EXPECT_FALSE(h.healthy_since().has_value());
}

TEST(HealthState, HealthyToUnhealthyAndBack) {
  TargetHealth h;
  for (int i = 0; i < 5; ++i) h.record(pass_at(kT0), 5, 2);
  ASSERT_EQ(h.state(), TargetState::kHealthy);
  // One failure is not enough, and a pass in between resets the count.
  EXPECT_FALSE(h.record(fail_at(kT0 + 1s), 5, 2));
  EXPECT_FALSE(h.record(pass_at(kT0 + 2s), 5, 2));
  EXPECT_FALSE(h.record(fail_at(kT0 + 3s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kHealthy);
  EXPECT_TRUE(h.record(fail_at(kT0 + 4s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kUnhealthy);
  // Back to healthy takes healthy_threshold consecutive passes; a failure restarts the count.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(h.record(pass_at(kT0 + 5s), 5, 2));
  EXPECT_FALSE(h.record(fail_at(kT0 + 6s), 5, 2));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(h.record(pass_at(kT0 + 7s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kUnhealthy);
  EXPECT_TRUE(h.record(pass_at(kT0 + 8s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kHealthy);
  EXPECT_EQ(h.healthy_since(), kT0 + 8s);
}

TEST(HealthState, OtherThresholds) {
  TargetHealth h;
  EXPECT_FALSE(h.record(pass_at(kT0), 2, 10));
  EXPECT_TRUE(h.record(pass_at(kT0), 2, 10));
  for (int i = 1; i < 10; ++i) EXPECT_FALSE(h.record(fail_at(kT0), 2, 10)) << i;
  EXPECT_TRUE(h.record(fail_at(kT0), 2, 10));
  EXPECT_EQ(h.state(), TargetState::kUnhealthy);
}

TEST(HealthState, DrainingThenUnused) {
  TargetHealth h;
  for (int i = 0; i < 5; ++i) h.record(pass_at(kT0), 5, 2);
  h.deregister(kT0 + 10s);
  EXPECT_EQ(h.state(), TargetState::kDraining);
  // Results no longer count once draining.
  EXPECT_FALSE(h.record(fail_at(kT0 + 11s), 5, 2));
  EXPECT_FALSE(h.record(fail_at(kT0 + 12s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kDraining);
  EXPECT_EQ(h.drain_remaining(kT0 + 10s, 300s), 300s);
  EXPECT_EQ(h.drain_remaining(kT0 + 110s, 300s), 200s);
  EXPECT_FALSE(h.advance(kT0 + 309s, 300s));
  EXPECT_EQ(h.state(), TargetState::kDraining);
  EXPECT_TRUE(h.advance(kT0 + 310s, 300s));
  EXPECT_EQ(h.state(), TargetState::kUnused);
  EXPECT_EQ(h.drain_remaining(kT0 + 310s, 300s), Duration::zero());
  EXPECT_FALSE(h.advance(kT0 + 400s, 300s));
  h.deregister(kT0 + 500s);  // no-op once unused
  EXPECT_EQ(h.state(), TargetState::kUnused);
  EXPECT_FALSE(h.record(pass_at(kT0 + 501s), 5, 2));
  EXPECT_EQ(h.state(), TargetState::kUnused);
}

TEST(HealthState, ZeroDeregistrationDelayIsImmediate) {
  TargetHealth h;
  h.deregister(kT0);
  EXPECT_EQ(h.state(), TargetState::kDraining);
  EXPECT_TRUE(h.advance(kT0, Duration::zero()));
  EXPECT_EQ(h.state(), TargetState::kUnused);
}

TEST(HealthState, SlowStartRamp) {
  TargetHealth h;
  for (int i = 0; i < 5; ++i) h.record(pass_at(kT0), 5, 2);
  ASSERT_EQ(h.state(), TargetState::kHealthy);
  const Duration ramp = 100s;
  struct Step {
    Duration at;
    double fraction;
    uint32_t weight_of_100;
  } steps[] = {{0s, 0.0, 1}, {25s, 0.25, 25}, {50s, 0.5, 50}, {100s, 1.0, 100}, {150s, 1.0, 100}};
  for (const auto& s : steps) {
    const double f = h.weight_fraction(kT0 + s.at, ramp);
    EXPECT_DOUBLE_EQ(f, s.fraction) << s.at.count();
    EXPECT_EQ(effective_weight(100, f), s.weight_of_100) << s.at.count();
  }
  // Without slow start the full weight applies at once.
  EXPECT_DOUBLE_EQ(h.weight_fraction(kT0, Duration::zero()), 1.0);
  EXPECT_EQ(effective_weight(0, 0.5), 0u);
  EXPECT_EQ(effective_weight(3, 0.0), 1u);
  // Becoming unhealthy and healthy again restarts the ramp.
  h.record(fail_at(kT0 + 200s), 5, 2);
  h.record(fail_at(kT0 + 201s), 5, 2);
  ASSERT_EQ(h.state(), TargetState::kUnhealthy);
  for (int i = 0; i < 5; ++i) h.record(pass_at(kT0 + 300s), 5, 2);
  ASSERT_EQ(h.state(), TargetState::kHealthy);
  EXPECT_DOUBLE_EQ(h.weight_fraction(kT0 + 325s, ramp), 0.25);
  EXPECT_DOUBLE_EQ(slow_start_fraction(kT0, kT0 - 1s, ramp), 0.0);
}

TEST(HealthState, FailOpen) {
  using S = TargetState;
  {
    const S states[] = {S::kHealthy, S::kUnhealthy, S::kHealthy, S::kDraining, S::kInitial};
    const RoutableSet r = routable_targets(states);
    EXPECT_EQ(r.indices, (std::vector<size_t>{0, 2}));
    EXPECT_FALSE(r.fail_open);
  }
  {
    // No healthy target: every registered, non-draining one takes flows.
    const S states[] = {S::kUnhealthy, S::kDraining, S::kInitial, S::kUnused, S::kUnhealthy};
    const RoutableSet r = routable_targets(states);
    EXPECT_EQ(r.indices, (std::vector<size_t>{0, 2, 4}));
    EXPECT_TRUE(r.fail_open);
  }
  {
    const S states[] = {S::kDraining, S::kUnused};
    const RoutableSet r = routable_targets(states);
    EXPECT_TRUE(r.indices.empty());
    EXPECT_FALSE(r.fail_open);
  }
  EXPECT_TRUE(routable_targets({}).indices.empty());
}

TEST(HealthMatcher, Parses) {
  struct Case {
    const char* text;
    std::vector<int> yes;
    std::vector<int> no;
    const char* canonical;
  } cases[] = {
      {"200", {200}, {199, 201, 404}, "200"},
      {"200-299", {200, 250, 299}, {199, 300, 503}, "200-299"},
      {"200,202", {200, 202}, {201, 203}, "200,202"},
      {" 200 , 204-206 ,404", {200, 204, 205, 206, 404}, {203, 207, 403}, "200,204-206,404"},
      {"200-499", {200, 499}, {500, 503}, "200-499"},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto m = StatusMatcher::parse(c.text, &error);
    ASSERT_TRUE(m.has_value()) << c.text << ": " << error;
    for (int code : c.yes) EXPECT_TRUE(m->matches(code)) << c.text << " " << code;
    for (int code : c.no) EXPECT_FALSE(m->matches(code)) << c.text << " " << code;
    EXPECT_EQ(m->to_string(), c.canonical);
  }
  EXPECT_TRUE(StatusMatcher().matches(200));
  EXPECT_FALSE(StatusMatcher().matches(204));
}

TEST(HealthMatcher, Rejects) {
  for (const char* bad : {"", " ", "abc", "199", "500", "503", "300-200", "200-", "-200", "2000",
                          "200,,202", "200,", "20x", "200-299-300", "+200"}) {
    std::string error;
    EXPECT_FALSE(StatusMatcher::parse(bad, &error).has_value()) << "'" << bad << "'";
    EXPECT_EQ(error.rfind("matcher:", 0), 0u) << error;
  }
}

TEST(HealthState, AlbRanges) {
  HealthCheckConfig c;
  c.interval = 4s;
  EXPECT_NE(validate_alb_ranges(c).find("interval"), std::string::npos);
  c = {};
  c.timeout = 30s;
  EXPECT_NE(validate_alb_ranges(c).find("timeout"), std::string::npos);
  c = {};
  c.healthy_threshold = 11;
  EXPECT_NE(validate_alb_ranges(c).find("healthy_threshold"), std::string::npos);
  c = {};
  c.unhealthy_threshold = 1;
  EXPECT_NE(validate_alb_ranges(c).find("unhealthy_threshold"), std::string::npos);
  c = {};
  c.deregistration_delay = 3601s;
  EXPECT_NE(validate_alb_ranges(c).find("deregistration_delay"), std::string::npos);
  c = {};
  c.slow_start = 10s;
  EXPECT_NE(validate_alb_ranges(c).find("slow_start"), std::string::npos);
  c.slow_start = 30s;
  EXPECT_EQ(validate_alb_ranges(c), "");
  c.path = "healthz";
  EXPECT_NE(validate_alb_ranges(c).find("path"), std::string::npos);
}

// ---- real sockets, loopback only ----

// A TCP socket on 127.0.0.1 (or ::1) with an ephemeral port; listening unless told not to, in which
// case connections to it are refused.
struct Socket {
  int fd = -1;
  uint16_t port = 0;
  Socket(bool listening, int family = AF_INET) {
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_storage sa{};
    socklen_t len;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&sa);
      sin->sin_family = AF_INET;
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *sin;
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&sa);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_loopback;
      len = sizeof *sin6;
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        (listening && listen(fd, 4096) != 0) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      close(fd);
      fd = -1;
      return;
    }
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&sa)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  }
  ~Socket() {
    if (fd >= 0) close(fd);
  }
  bool ok() const { return fd >= 0; }
};

// A server-side TLS context with a fresh self-signed P-256 certificate for "localhost".
SSL_CTX* self_signed_tls_context() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) return nullptr;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  SSL_CTX* ctx = nullptr;
  if (X509_sign(cert, key, EVP_sha256()) > 0) {
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx != nullptr &&
        (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)) {
      SSL_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// A thread that accepts on a loopback listener and either answers every request with a fixed
// response (over TLS when given a context), or holds connections open without a word.
class HttpServer {
 public:
  HttpServer(std::string response, bool answer, SSL_CTX* tls = nullptr)
      : listener_(true), response_(std::move(response)), answer_(answer), tls_(tls) {
    if (listener_.ok()) thread_ = std::thread([this] { serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : held_) close(fd);
  }
  bool ok() const { return listener_.ok(); }
  uint16_t port() const { return listener_.port; }
  std::string first_request() {
    std::lock_guard lock(mu_);
    return first_request_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{.fd = listener_.fd, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (!answer_) {
        held_.push_back(c);
        continue;
      }
      if (tls_ != nullptr) {
        serve_tls(c);
      } else {
        serve_plain(c);
      }
      close(c);
    }
  }

  void serve_plain(int c) {
    std::string request;
    char buf[1024];
    // Bounded: give up on a request after about a second.
    for (int tries = 0; tries < 50 && request.find("\r\n\r\n") == std::string::npos; ++tries) {
      pollfd q{.fd = c, .events = POLLIN, .revents = 0};
      if (::poll(&q, 1, 20) <= 0) continue;
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    keep_first(request);
    (void)!send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
  }

  void serve_tls(int c) {
    const timeval limit{.tv_sec = 1, .tv_usec = 0};  // bounds every blocking TLS read and write
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    SSL* ssl = SSL_new(tls_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string request;
      char buf[1024];
      for (int reads = 0; reads < 16 && request.find("\r\n\r\n") == std::string::npos; ++reads) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      keep_first(request);
      SSL_write(ssl, response_.data(), static_cast<int>(response_.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  void keep_first(const std::string& request) {
    std::lock_guard lock(mu_);
    if (first_request_.empty()) first_request_ = request;
  }

  Socket listener_;
  std::string response_;
  bool answer_;
  SSL_CTX* tls_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> held_;
  std::mutex mu_;
  std::string first_request_;
};

Endpoint loopback(uint16_t port) {
  return {.address = *parse_ip_address("127.0.0.1"), .port = port};
}

HealthCheckConfig fast(CheckProtocol protocol) {
  HealthCheckConfig c;
  c.protocol = protocol;
  c.interval = 100ms;
  c.timeout = 2s;
  c.healthy_threshold = 2;
  c.unhealthy_threshold = 2;
  c.jitter = 0;
  return c;
}

auto reaches(Checker& checker, TargetId id, TargetState want) {
  return [&checker, id, want] { return checker.state(id) == want; };
}

TEST(HealthChecker, TcpListeningPasses) {
  Socket listener(true);
  ASSERT_TRUE(listener.ok());
  Checker checker(1);
  ASSERT_TRUE(checker.add_target(7, loopback(listener.port), fast(CheckProtocol::kTcp)));
  EXPECT_FALSE(checker.add_target(7, loopback(listener.port), fast(CheckProtocol::kTcp)));
  ASSERT_TRUE(checker.run_until(reaches(checker, 7, TargetState::kHealthy), 10s));
  const auto s = checker.status(7);
  ASSERT_TRUE(s->last_result.has_value());
  EXPECT_TRUE(s->last_result->pass);
  EXPECT_GE(s->checks, 2u);
  EXPECT_GE(s->last_result->latency, Duration::zero());
  EXPECT_LT(s->last_result->latency, 2s);
}

TEST(HealthChecker, Ipv6LoopbackPasses) {
  Socket listener(true, AF_INET6);
  if (!listener.ok()) GTEST_SKIP() << "no ::1 on this host";
  Checker checker(1);
  checker.add_target(1, {.address = *parse_ip_address("::1"), .port = listener.port},
                     fast(CheckProtocol::kTcp));
  EXPECT_TRUE(checker.run_until(reaches(checker, 1, TargetState::kHealthy), 10s));
}

TEST(HealthChecker, ClosedPortFailsRefused) {
  Socket bound(false);  // bound, not listening: connections are refused
  ASSERT_TRUE(bound.ok());
  Checker checker(1);
  checker.add_target(1, loopback(bound.port), fast(CheckProtocol::kTcp));
  ASSERT_TRUE(checker.run_until(reaches(checker, 1, TargetState::kUnhealthy), 10s));
  const auto s = checker.status(1);
  EXPECT_FALSE(s->last_result->pass);
  EXPECT_EQ(s->last_result->reason, FailReason::kRefused);
  EXPECT_EQ(checker.stats().timeouts, 0u);
}

TEST(HealthChecker, SilentHttpServerTimesOut) {
  HttpServer server("", /*answer=*/false);
  ASSERT_TRUE(server.ok());
  Checker checker(1);
  HealthCheckConfig c = fast(CheckProtocol::kHttp);
  c.timeout = 300ms;
  c.interval = 400ms;
  checker.add_target(1, loopback(server.port()), c);
  const TimePoint start = Clock::now();
  ASSERT_TRUE(checker.run_until([&] { return checker.status(1)->checks >= 1; }, 10s));
  const auto s = checker.status(1);
  EXPECT_FALSE(s->last_result->pass);
  EXPECT_EQ(s->last_result->reason, FailReason::kTimeout);
  EXPECT_GE(s->last_result->latency, 300ms);
  EXPECT_LT(s->last_result->latency, 5s);
  EXPECT_GE(Clock::now() - start, 300ms);
  ASSERT_TRUE(checker.run_until(reaches(checker, 1, TargetState::kUnhealthy), 10s));
  EXPECT_GE(checker.stats().timeouts, 2u);
}

TEST(HealthChecker, Http200PassesAnd503Fails) {
  HttpServer ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", true);
  HttpServer down("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", true);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(down.ok());
  Checker checker(1);
  HealthCheckConfig c = fast(CheckProtocol::kHttp);
  c.path = "/healthz";
  c.matcher = *StatusMatcher::parse("200-299");
  checker.add_target(1, loopback(ok.port()), c);
  checker.add_target(2, loopback(down.port()), c);
  std::vector<std::pair<TargetId, CheckResult>> seen;
  checker.on_result([&](TargetId id, const CheckResult& r, TargetState, TargetState) {
    seen.emplace_back(id, r);
  });
  ASSERT_TRUE(checker.run_until(
      [&] {
        return checker.state(1) == TargetState::kHealthy &&
               checker.state(2) == TargetState::kUnhealthy;
      },
      10s));
  EXPECT_EQ(checker.status(1)->last_result->status_code, 200);
  EXPECT_EQ(checker.status(2)->last_result->status_code, 503);
  EXPECT_EQ(checker.status(2)->last_result->reason, FailReason::kStatusMismatch);
  EXPECT_GE(seen.size(), 4u);
  const std::string request = ok.first_request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nHost: 127.0.0.1:" + std::to_string(ok.port()) + "\r\n"),
            std::string::npos)
      << request;
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos) << request;

  // A new configuration applies from the next check on; 503 stays outside any ALB matcher.
  c.matcher = *StatusMatcher::parse("200,202");
  checker.set_config(2, c);
  const uint64_t before = checker.status(2)->checks;
  ASSERT_TRUE(checker.run_until([&] { return checker.status(2)->checks > before; }, 10s));
  EXPECT_EQ(checker.status(2)->last_result->reason, FailReason::kStatusMismatch);
}

TEST(HealthChecker, GarbageResponseFails) {
  HttpServer junk("SSH-2.0-OpenSSH_9.2\r\n", true);
  ASSERT_TRUE(junk.ok());
  Checker checker(1);
  checker.add_target(1, loopback(junk.port()), fast(CheckProtocol::kHttp));
  ASSERT_TRUE(checker.run_until([&] { return checker.status(1)->checks >= 1; }, 10s));
  EXPECT_EQ(checker.status(1)->last_result->reason, FailReason::kBadResponse);
}

TEST(HealthChecker, DeregisterDrainsThenUnused) {
  Socket listener(true);
  ASSERT_TRUE(listener.ok());
  Checker checker(1);
  HealthCheckConfig c = fast(CheckProtocol::kTcp);
  c.deregistration_delay = 200ms;
  checker.add_target(1, loopback(listener.port), c);
  ASSERT_TRUE(checker.run_until(reaches(checker, 1, TargetState::kHealthy), 10s));
  ASSERT_TRUE(checker.deregister_target(1));
  EXPECT_EQ(checker.state(1), TargetState::kDraining);
  const uint64_t checks = checker.status(1)->checks;
  const TimePoint start = Clock::now();
  ASSERT_TRUE(checker.run_until(reaches(checker, 1, TargetState::kUnused), 10s));
  EXPECT_GE(Clock::now() - start, 200ms);
  checker.run_for(300ms);
  EXPECT_EQ(checker.status(1)->checks, checks);  // no checks once deregistered
  EXPECT_TRUE(checker.remove_target(1));
  EXPECT_FALSE(checker.state(1).has_value());
  EXPECT_FALSE(checker.remove_target(1));
}

TEST(HealthChecker, RemoveCancelsCheckInFlight) {
  HttpServer server("", /*answer=*/false);
  ASSERT_TRUE(server.ok());
  Checker checker(1);
  checker.add_target(1, loopback(server.port()), fast(CheckProtocol::kHttp));
  ASSERT_TRUE(checker.run_until([&] { return checker.stats().in_flight == 1; }, 10s));
  EXPECT_TRUE(checker.remove_target(1));
  EXPECT_EQ(checker.stats().in_flight, 0u);
  checker.run_for(100ms);
  EXPECT_EQ(checker.stats().passes + checker.stats().failures, 0u);
}

TEST(HealthChecker, HttpsAgainstSelfSignedServer) {
  SSL_CTX* tls = self_signed_tls_context();
  ASSERT_NE(tls, nullptr);
  {
    HttpServer ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, tls);
    HttpServer down("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", true, tls);
    HttpServer plain("HTTP/1.1 200 OK\r\n\r\n", true);
    ASSERT_TRUE(ok.ok() && down.ok() && plain.ok());
    Checker checker(1);
    HealthCheckConfig c = fast(CheckProtocol::kHttps);
    c.path = "/ping";
    c.host = "backend.example";
    checker.add_target(1, loopback(ok.port()), c);
    checker.add_target(2, loopback(down.port()), c);
    checker.add_target(3, loopback(plain.port()), c);  // no TLS there: the handshake fails
    ASSERT_TRUE(checker.run_until(
        [&] {
          return checker.state(1) == TargetState::kHealthy &&
                 checker.state(2) == TargetState::kUnhealthy && checker.status(3)->checks >= 1;
        },
        15s));
    EXPECT_EQ(checker.status(1)->last_result->status_code, 200);
    EXPECT_EQ(checker.status(2)->last_result->status_code, 404);
    EXPECT_EQ(checker.status(2)->last_result->reason, FailReason::kStatusMismatch);
    EXPECT_EQ(checker.status(3)->last_result->reason, FailReason::kTlsError);
    const std::string request = ok.first_request();
    EXPECT_EQ(request.rfind("GET /ping HTTP/1.1\r\n", 0), 0u) << request;
    EXPECT_NE(request.find("\r\nHost: backend.example\r\n"), std::string::npos) << request;
  }
  SSL_CTX_free(tls);
}

// A peer that answers a ClientHello with plain text and hangs up makes OpenSSL write to a closed
// socket (its alert); that must fail the check, not raise SIGPIPE in the process.
TEST(HealthChecker, HttpsToAPeerThatHangsUpFailsQuietly) {
  HttpServer plain("HTTP/1.1 200 OK\r\n\r\n", true);
  ASSERT_TRUE(plain.ok());
  Checker checker(1);
  const HealthCheckConfig c = fast(CheckProtocol::kHttps);
  for (TargetId id = 1; id <= 20; ++id) checker.add_target(id, loopback(plain.port()), c);
  ASSERT_TRUE(checker.run_until(
      [&] {
        for (TargetId id = 1; id <= 20; ++id)
          if (checker.status(id)->checks < 3) return false;
        return true;
      },
      20s));
  for (TargetId id = 1; id <= 20; ++id) EXPECT_FALSE(checker.status(id)->last_result->pass);
}

TEST(HealthChecker, HttpsSilentServerTimesOut) {
  HttpServer server("", /*answer=*/false);  // accepts, never answers the ClientHello
  ASSERT_TRUE(server.ok());
  Checker checker(1);
  HealthCheckConfig c = fast(CheckProtocol::kHttps);
  c.timeout = 300ms;
  c.interval = 400ms;
  checker.add_target(1, loopback(server.port()), c);
  ASSERT_TRUE(checker.run_until([&] { return checker.status(1)->checks >= 1; }, 10s));
  EXPECT_EQ(checker.status(1)->last_result->reason, FailReason::kTimeout);
  EXPECT_GE(checker.status(1)->last_result->latency, 300ms);
}

size_t thread_count() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

TEST(HealthChecker, ThousandTargetsConcurrently) {
  constexpr int kTargets = 1000;
  constexpr int kListeners = 8;
  std::vector<std::unique_ptr<Socket>> listeners;
  for (int i = 0; i < kListeners; ++i) {
    listeners.push_back(std::make_unique<Socket>(true));
    ASSERT_TRUE(listeners.back()->ok());
  }
  Checker checker(42);
  HealthCheckConfig c = fast(CheckProtocol::kTcp);
  c.interval = 60s;  // one round in this test
  c.timeout = 10s;
  const size_t threads_before = thread_count();
  const TimePoint start = Clock::now();
  for (int i = 0; i < kTargets; ++i) {
    checker.add_target(i, loopback(listeners[i % kListeners]->port), c);
  }
  size_t results = 0;
  checker.on_result([&](TargetId, const CheckResult&, TargetState, TargetState) { ++results; });
  ASSERT_TRUE(checker.run_until([&] { return results >= kTargets; }, 20s))
      << results << " of " << kTargets;
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(checker.stats().passes, static_cast<uint64_t>(kTargets));
  EXPECT_EQ(checker.stats().failures, 0u);
  EXPECT_GT(checker.stats().in_flight_peak, 1u);  // checks overlapped
  EXPECT_EQ(thread_count(), threads_before);
  EXPECT_LT(elapsed, 20s);
  std::printf("[ health   ] %d TCP checks in %.1f ms, peak %zu in flight\n", kTargets,
              std::chrono::duration<double, std::milli>(elapsed).count(),
              checker.stats().in_flight_peak);
}

// HTTP(S) targets spread over four single-threaded loopback servers, all checked in one round.
// The servers do TLS handshakes one after another, so HTTPS runs with fewer targets.
void many_http_checks(const int targets, SSL_CTX* tls) {
  std::vector<std::unique_ptr<HttpServer>> servers;
  for (int i = 0; i < 4; ++i) {
    servers.push_back(std::make_unique<HttpServer>("HTTP/1.1 200 OK\r\n\r\n", true, tls));
    ASSERT_TRUE(servers.back()->ok());
  }
  Checker checker(7);
  HealthCheckConfig c = fast(tls != nullptr ? CheckProtocol::kHttps : CheckProtocol::kHttp);
  c.interval = 60s;
  c.timeout = 20s;
  const TimePoint start = Clock::now();
  for (int i = 0; i < targets; ++i) checker.add_target(i, loopback(servers[i % 4]->port()), c);
  size_t results = 0;
  checker.on_result([&](TargetId, const CheckResult&, TargetState, TargetState) { ++results; });
  ASSERT_TRUE(checker.run_until([&] { return results >= static_cast<size_t>(targets); }, 30s))
      << results << " of " << targets;
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(checker.stats().passes, static_cast<uint64_t>(targets));
  EXPECT_EQ(checker.stats().failures, 0u);
  std::printf("[ health   ] %d %s checks in %.1f ms, peak %zu in flight\n", targets,
              tls != nullptr ? "HTTPS" : "HTTP",
              std::chrono::duration<double, std::milli>(elapsed).count(),
              checker.stats().in_flight_peak);
}

TEST(HealthChecker, ThousandHttpChecksAgainstFourServers) {
  many_http_checks(1000, nullptr);
}

TEST(HealthChecker, ManyHttpsChecksAgainstFourServers) {
  SSL_CTX* tls = self_signed_tls_context();
  ASSERT_NE(tls, nullptr);
  many_http_checks(250, tls);
  SSL_CTX_free(tls);
}

}  // namespace
}  // namespace sluice::controlplane::health
