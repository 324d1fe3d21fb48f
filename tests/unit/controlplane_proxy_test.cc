// The control plane driving the L7 proxy: the proxy configuration compiled from the control
// configuration and the health view, and a round trip over a real proxy control socket to a real
// ProxyService forwarding to loopback HTTP targets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control_config.h"
#include "proxy_config.h"
#include "proxy_connection.h"
#include "proxy_control.h"
#include "proxy_server.h"
#include "proxy_snapshot.h"

namespace sluice::controlplane {
namespace {

using namespace std::chrono_literals;
using snapshot::HealthView;
using snapshot::TargetKey;

IpAddress ip(const char* text) {
  return *parse_ip_address(text);
}

health::TargetHealth healthy(health::TimePoint at) {
  health::TargetHealth h;
  h.record(health::CheckResult::passed(1ms, at), 1, 1);
  return h;
}

health::TargetHealth unhealthy(health::TimePoint at) {
  health::TargetHealth h;
  h.record(health::CheckResult::failed(health::FailReason::kTimeout, 1ms, at), 1, 1);
  return h;
}

health::TargetHealth draining(health::TimePoint since) {
  health::TargetHealth h = healthy(since);
  h.deregister(since);
  return h;
}

std::string config_text(uint16_t listen_port, uint16_t a_port, uint16_t b_port) {
  return "target_groups:\n"
         "  - name: app\n"
         "    protocol: http\n"
         "    port: " +
         std::to_string(a_port) +
         "\n"
         "    algorithm: least_outstanding_requests\n"
         "    stickiness: {enabled: true, duration_s: 60}\n"
         "    deregistration_delay_s: 30\n"
         "    targets:\n"
         "      - {address: 127.0.0.1}\n"
         "      - {address: 127.0.0.1, port: " +
         std::to_string(b_port) +
         ", weight: 3}\n"
         "  - name: unused\n"
         "    protocol: http\n"
         "    port: 81\n"
         "  - name: l4\n"
         "    protocol: tcp\n"
         "    port: 80\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:" +
         std::to_string(listen_port) +
         "\n"
         "    rules:\n"
         "      - priority: 20\n"
         "        conditions: [{path_pattern: [/health]}]\n"
         "        action: {fixed_response: {status: 200, body: ok}}\n"
         "      - priority: 10\n"
         "        conditions: [{path_pattern: [/api/*]}]\n"
         "        action: {forward: app}\n"
         "    default_action: {forward: app}\n";
}

TEST(ControlplaneProxy, ListenersTakeTheProxySchemaAndForwardOnlyToHttpGroups) {
  const ControlConfig c = parse_control_config(config_text(8080, 9001, 9002), "cp.yaml");
  ASSERT_EQ(c.listeners.size(), 1u);
  ASSERT_EQ(c.listeners[0].rules.size(), 2u);
  EXPECT_EQ(c.listeners[0].rules[0].priority, 10u) << "rules sorted by priority";
  EXPECT_EQ(c.listeners[0].port, 8080);
  EXPECT_EQ(c.find_target_group("app")->algorithm, proxy::Algorithm::kLeastOutstandingRequests);
  EXPECT_TRUE(c.find_target_group("app")->stickiness.enabled);

  std::string text = config_text(8080, 9001, 9002);
  text.replace(text.rfind("{forward: app}"), 14, "{forward: l4}");
  const LoadResult bad = load_control_config(text, "cp.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("listeners forward only to http and https target groups"),
            std::string::npos)
      << bad.error;
  text = config_text(8080, 9001, 9002);
  text.replace(text.find("priority: 20"), 12, "priority: 10");
  const LoadResult twice = load_control_config(text, "cp.yaml");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error.find("is also the priority of"), std::string::npos) << twice.error;
}

TEST(ControlplaneProxy, TargetStatesComeFromTheHealthView) {
  const ControlConfig c = parse_control_config(config_text(8080, 9001, 9002), "cp.yaml");
  const health::TimePoint now = health::Clock::now();
  HealthView view;
  view.targets[{"app", ip("127.0.0.1"), 9001}] = unhealthy(now);
  // 9002 is not in the view: initial.
  view.targets[{"app", ip("10.0.0.5"), 9001}] = draining(now - 10s);  // deregistered, draining
  view.targets[{"app", ip("10.0.0.6"), 9001}] = draining(now - 31s);  // its delay has passed
  proxy::ProxyConfig p = snapshot::compile_proxy_config(c, view, now);
  ASSERT_EQ(p.target_groups.size(), 1u) << "only groups a listener forwards to";
  const proxy::TargetGroup& g = p.target_groups[0];
  EXPECT_EQ(g.name, "app");
  EXPECT_EQ(g.algorithm, proxy::Algorithm::kLeastOutstandingRequests);
  EXPECT_TRUE(g.stickiness.enabled);
  EXPECT_EQ(g.stickiness.duration_s, 60u);
  ASSERT_EQ(g.targets.size(), 3u);
  EXPECT_EQ(g.targets[0].port, 9001);
  EXPECT_EQ(g.targets[0].state, proxy::TargetState::kUnhealthy);
  EXPECT_EQ(g.targets[1].port, 9002);
  EXPECT_EQ(g.targets[1].weight, 3u);
  EXPECT_EQ(g.targets[1].state, proxy::TargetState::kInitial);
  EXPECT_EQ(g.targets[2].address, ip("10.0.0.5"));
  EXPECT_EQ(g.targets[2].state, proxy::TargetState::kDraining);

  view.targets[{"app", ip("127.0.0.1"), 9002}] = healthy(now);
  view.targets[{"app", ip("127.0.0.1"), 9001}] = draining(now - 31s);
  p = snapshot::compile_proxy_config(c, view, now);
  ASSERT_EQ(p.target_groups[0].targets.size(), 2u) << "a drained configured target is left out";
  EXPECT_EQ(p.target_groups[0].targets[0].port, 9002);
  EXPECT_EQ(p.target_groups[0].targets[0].state, proxy::TargetState::kHealthy);

  // What is pushed is what the proxy reads back.
  const proxy::ProxyConfig back =
      proxy::parse_proxy_document(proxy::dump_proxy_document(p), "pushed");
  EXPECT_EQ(proxy::dump_proxy_document(back), proxy::dump_proxy_document(p));
}

int listen_loopback(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(fd, 64), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A loopback HTTP target that answers every request with its name and closes the connection.
class Target {
 public:
  explicit Target(std::string name) : name_(std::move(name)), fd_(listen_loopback(&port_)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Target() {
    running_ = false;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      const timeval limit{.tv_sec = 5, .tv_usec = 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      std::string head;
      char buf[4096];
      ssize_t n;
      while (head.find("\r\n\r\n") == std::string::npos && (n = read(c, buf, sizeof buf)) > 0)
        head.append(buf, static_cast<size_t>(n));
      const std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name_.size()) +
          "\r\nConnection: close\r\n\r\n" + name_;
      EXPECT_EQ(send(c, reply.data(), reply.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(reply.size()));
      close(c);
    }
  }

  std::string name_;
  uint16_t port_ = 0;
  int fd_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// One GET through the proxy; the response's body ("" when there was none within 5 s).
std::string get(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const timeval limit{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = got.find("\r\n\r\n");
  return body == std::string::npos ? "" : got.substr(body + 4);
}

TEST(ControlplaneProxy, PushedConfigurationSteersRequestsAndMetricsArrive) {
  Target a("A"), b("B");
  uint16_t listen_port = 0;
  close(listen_loopback(&listen_port));  // a free port for the proxy's listener

  char dir[] = "/tmp/sluice-pctl-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string socket_path = std::string(dir) + "/proxy.sock";

  // The proxy as it starts before the control plane has pushed anything: 503 for everything.
  proxy::ProxyConfig initial;
  proxy::Listener web{.name = "web", .address = "127.0.0.1", .port = listen_port};
  web.default_action.fixed_response = {503, "text/plain", "none yet"};
  initial.listeners.push_back(web);
  initial.settings.control_socket = socket_path;
  proxy::ProxyService service(initial.settings, proxy::build_runtime(initial, 1));
  service.start();
  {
    proxy::ProxyControl control(socket_path, service);
    EXPECT_EQ(get(listen_port), "none yet");

    const ControlConfig config =
        parse_control_config(config_text(listen_port, a.port(), b.port()), "cp.yaml");
    ProxyConnection link(socket_path, 5s);
    std::string error;
    ASSERT_TRUE(link.ensure_connected(&error)) << error;
    const health::TimePoint now = health::Clock::now();
    HealthView view;
    view.targets[{"app", ip("127.0.0.1"), a.port()}] = healthy(now);
    view.targets[{"app", ip("127.0.0.1"), b.port()}] = healthy(now);
    auto push = [&](uint64_t generation, std::string document) {
      return link.apply({.generation = generation, .document = std::move(document)}, &error);
    };
    auto result =
        push(1, proxy::dump_proxy_document(snapshot::compile_proxy_config(config, view, now)));
    ASSERT_TRUE(result) << error;
    ASSERT_TRUE(result->ok) << result->error;
    EXPECT_EQ(control.generation(), 1u);

    std::map<std::string, int> answers;
    for (int i = 0; i < 40; ++i) ++answers[get(listen_port)];
    EXPECT_GT(answers["A"], 0);
    EXPECT_GT(answers["B"], 0);
    EXPECT_EQ(answers["A"] + answers["B"], 40);

    // A document that does not parse changes nothing.
    result = push(2, "listeners: [");
    ASSERT_TRUE(result) << error;
    EXPECT_FALSE(result->ok);
    EXPECT_FALSE(result->error.empty());
    EXPECT_EQ(control.generation(), 1u);

    view.targets[{"app", ip("127.0.0.1"), b.port()}] = unhealthy(now);
    result = push(3, proxy::dump_proxy_document(snapshot::compile_proxy_config(config, view, now)));
    ASSERT_TRUE(result) << error;
    ASSERT_TRUE(result->ok) << result->error;
    answers.clear();
    for (int i = 0; i < 20; ++i) ++answers[get(listen_port)];
    EXPECT_EQ(answers["A"], 20) << "the unhealthy target gets no requests";

    const std::optional<std::string> metrics = link.metrics(&error);
    ASSERT_TRUE(metrics) << error;
    EXPECT_NE(metrics->find("sluice_proxy_target_requests_total{group=\"app\""), std::string::npos)
        << *metrics;
  }
  service.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::controlplane
