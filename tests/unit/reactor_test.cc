// The io_uring reactor over loopback TCP with real kernel sockets on the client side: echo with
// many connections, large transfers through few small buffers (short sends, buffer exhaustion),
// closing after a reply, peers going away, timers, outbound connections (established, refused,
// closed while connecting), and HTTP/1.1 with pipelined requests through
// the parser. Every case runs with multishot operations and provided buffers (where the kernel
// has them) and with the one-shot fallback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "reactor.h"
#include "request_parser.h"
#include "response_writer.h"

namespace sluice::reactor {
namespace {

using namespace std::chrono_literals;

// Echoes every byte back.
class Echo : public Handler {
 public:
  void on_open(Connection&) override { ++opened; }
  void on_data(Connection& c) override {
    c.send(c.input());
    c.input().clear();
  }
  void on_close(Connection&) override { ++closed; }
  std::atomic<int> opened{0}, closed{0};
};

// Answers "bye\n" to the first byte and closes.
class SayBye : public Handler {
 public:
  void on_data(Connection& c) override {
    c.send("bye\n");
    c.close_after_send();
  }
  void on_close(Connection&) override { ++closed; }
  std::atomic<int> closed{0};
};

// HTTP/1.1: one parser per connection, every complete request answered with its path.
class Http : public Handler {
 public:
  void on_open(Connection& c) override { c.user = new http::RequestParser(); }
  void on_close(Connection& c) override { delete static_cast<http::RequestParser*>(c.user); }
  void on_data(Connection& c) override {
    auto& p = *static_cast<http::RequestParser*>(c.user);
    for (;;) {
      const auto s = p.parse(c.input());
      if (s == http::RequestParser::Status::kIncomplete) return;
      if (s == http::RequestParser::Status::kError) {
        std::string out;
        http::write_error(out, p.error());
        c.send(out);
        c.close_after_send();
        return;
      }
      std::string out;
      const bool keep = p.request().keep_alive;
      http::write_response(out, 200, {{"Content-Type", "text/plain"}}, p.request().path, keep);
      c.send(out);
      c.input().erase(0, p.consumed());
      p.reset();
      if (!keep) {
        c.close_after_send();
        return;
      }
    }
  }
};

class ReactorTest : public ::testing::TestWithParam<bool> {
 protected:
  // The reactor is made on the thread that runs it: with single-issuer rings, only that thread
  // may submit.
  void start(Handler& h, ReactorOptions options = {}) {
    options.use_multishot = GetParam();
    std::atomic<bool> ready{false};
    thread_ = std::thread([&, options] {
      reactor_ = std::make_unique<Reactor>(options);
      const int fd = open_listener("127.0.0.1", 0);
      sockaddr_in a{};
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
      reactor_->listen(fd, h);
      ready = true;
      reactor_->run_until([this] { return stop_.load(); }, 20ms);
      reactor_.reset();
    });
    while (!ready) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int connect_client() const {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{
        .sin_family = AF_INET, .sin_port = htons(port_), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }

  static std::string read_exactly(int fd, size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      const ssize_t r = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }

  static std::string read_to_eof(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t r; (r = recv(fd, buf, sizeof buf, 0)) > 0;)
      out.append(buf, static_cast<size_t>(r));
    return out;
  }

  template <class Pred>
  static bool eventually(Pred p) {
    for (int i = 0; i < 500 && !p(); ++i) std::this_thread::sleep_for(10ms);
    return p();
  }

  std::unique_ptr<Reactor> reactor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  uint16_t port_ = 0;
};

TEST_P(ReactorTest, EchoesOnManyConnections) {
  Echo echo;
  start(echo);
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) fds.push_back(connect_client());
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < fds.size(); ++i) {
      const std::string msg =
          "conn " + std::to_string(i) + " round " + std::to_string(round) + "\n";
      ASSERT_EQ(send(fds[i], msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      const std::string msg =
          "conn " + std::to_string(i) + " round " + std::to_string(round) + "\n";
      EXPECT_EQ(read_exactly(fds[i], msg.size()), msg);
    }
  }
  EXPECT_EQ(echo.opened.load(), 100);
  for (int fd : fds) close(fd);
  EXPECT_TRUE(eventually([&] { return echo.closed.load() == 100; }));
}

TEST_P(ReactorTest, LargeTransfersThroughFewSmallBuffers) {
  Echo echo;
  start(echo, {.buffers = 4, .buffer_size = 512});
  const int fd = connect_client();
  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 12));
  std::thread writer([&] {
    size_t at = 0;
    while (at < data.size()) {
      const ssize_t n = send(fd, data.data() + at, std::min<size_t>(65536, data.size() - at), 0);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
  });
  const std::string back = read_exactly(fd, data.size());
  writer.join();
  EXPECT_TRUE(back == data) << "echoed " << back.size() << " of " << data.size() << " bytes";
  close(fd);
}

TEST_P(ReactorTest, ClosesAfterTheReply) {
  SayBye bye;
  start(bye);
  const int fd = connect_client();
  ASSERT_EQ(send(fd, "x", 1, 0), 1);
  EXPECT_EQ(read_to_eof(fd), "bye\n");
  close(fd);
  EXPECT_TRUE(eventually([&] { return bye.closed.load() == 1; }));
}

TEST_P(ReactorTest, HttpWithPipelinedRequests) {
  Http http;
  start(http);
  const int fd = connect_client();
  const std::string requests =
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, requests.data(), requests.size(), 0), static_cast<ssize_t>(requests.size()));
  const std::string all = read_to_eof(fd);
  EXPECT_EQ(all,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n/one"
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n/two"
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
            "Connection: close\r\n\r\n/three");
  close(fd);
  const int bad = connect_client();
  const std::string smuggle =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n";
  ASSERT_EQ(send(bad, smuggle.data(), smuggle.size(), 0), static_cast<ssize_t>(smuggle.size()));
  EXPECT_EQ(read_to_eof(bad).substr(0, 24), "HTTP/1.1 400 Bad Request");
  close(bad);
}

TEST_P(ReactorTest, TimersFireAndCancel) {
  Echo echo;
  ReactorOptions options;
  options.use_multishot = GetParam();
  Reactor r(options);
  int fired = 0, cancelled = 0;
  r.add_timer(5ms, [&] { ++fired; });
  const uint64_t id = r.add_timer(10ms, [&] { ++cancelled; });
  r.cancel_timer(id);
  const auto start = Reactor::Clock::now();
  while (fired == 0 && Reactor::Clock::now() - start < 2s) r.run_once(100ms);
  r.run_once(20ms);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(cancelled, 0);
}

// Runs `r` until `done` holds, for at most five seconds.
template <class Pred>
bool eventually_in(Reactor& r, Pred done) {
  const auto start = Reactor::Clock::now();
  while (!done() && Reactor::Clock::now() - start < 5s) r.run_once(20ms);
  return done();
}

// An outbound connection: sends once connected, collects what comes back, and records how it
// ended.
class Client : public Handler {
 public:
  void on_open(Connection& c) override {
    ++opened;
    c.send("ping");
  }
  void on_data(Connection& c) override {
    received += c.input();
    c.input().clear();
  }
  void on_close(Connection& c) override {
    ++closed;
    error = c.connect_error();
  }
  int opened = 0, closed = 0, error = 0;
  std::string received;
};

sockaddr_storage loopback(uint16_t port) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ss;
}

// A port nothing listens on: bound (so no one else takes it) but not listening.
uint16_t closed_port(int& holder) {
  holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t len = sizeof a;
  bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST_P(ReactorTest, OutboundConnectionsReachAListenerOfTheSameReactor) {
  ReactorOptions options;
  options.use_multishot = GetParam();
  Reactor r(options);
  Echo echo;
  const int fd = open_listener("127.0.0.1", 0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  r.listen(fd, echo);
  Client client;
  Connection& c = r.connect(loopback(ntohs(a.sin_port)), client);
  EXPECT_FALSE(c.connected());
  EXPECT_TRUE(eventually_in(r, [&] { return client.received.size() >= 4; }));
  EXPECT_EQ(client.opened, 1);
  EXPECT_EQ(client.received, "ping");
  EXPECT_EQ(r.stats().connects, 1u);
  EXPECT_EQ(r.stats().connect_failures, 0u);
}

TEST_P(ReactorTest, RefusedConnectsAreReportedOnClose) {
  ReactorOptions options;
  options.use_multishot = GetParam();
  Reactor r(options);
  int holder = -1;
  Client client;
  r.connect(loopback(closed_port(holder)), client);
  EXPECT_TRUE(eventually_in(r, [&] { return client.closed > 0; }));
  ::close(holder);
  EXPECT_EQ(client.opened, 0);
  EXPECT_EQ(client.closed, 1);
  EXPECT_EQ(client.error, -ECONNREFUSED);
  EXPECT_EQ(r.stats().connect_failures, 1u);
  r.run_once(1ms);
  EXPECT_EQ(r.connection_count(), 0u);
}

TEST_P(ReactorTest, ClosingWhileConnectingFreesTheConnection) {
  ReactorOptions options;
  options.use_multishot = GetParam();
  Reactor r(options);
  Echo echo;
  const int fd = open_listener("127.0.0.1", 0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  r.listen(fd, echo);
  Client client;
  Connection& c = r.connect(loopback(ntohs(a.sin_port)), client);
  r.close(c);  // before the loop ran: the connect is still queued or in flight
  EXPECT_EQ(client.closed, 1);
  // The listener's side of it, if the connect got through, is closed by the peer's close.
  EXPECT_TRUE(eventually_in(r, [&] { return r.connection_count() == 0; }));
  EXPECT_EQ(client.opened, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ReactorTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "multishot" : "oneshot"; });

TEST(ReactorFeatures, ThisKernelIsProbed) {
  const Features f = probe_features();
  std::printf("io_uring on this kernel: %s\n", f.describe().c_str());
  EXPECT_FALSE(f.describe().empty());
}

TEST(ReactorListener, RefusesWhatIsNotAnAddress) {
  EXPECT_THROW(open_listener("not-an-address", 80), std::runtime_error);
  const int a = open_listener("127.0.0.1", 0);
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(a, reinterpret_cast<sockaddr*>(&addr), &len);
  // SO_REUSEPORT: a second listener on the same port, as each service core has.
  const int b = open_listener("127.0.0.1", ntohs(addr.sin_port));
  EXPECT_GE(b, 0);
  // Which is why a service checks first that no other process listens there.
  EXPECT_TRUE(port_in_use("127.0.0.1", ntohs(addr.sin_port)));
  close(a);
  close(b);
  EXPECT_FALSE(port_in_use("127.0.0.1", ntohs(addr.sin_port)));
}

}  // namespace
}  // namespace sluice::reactor
