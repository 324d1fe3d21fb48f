// Queue depths and depth hooks against the real SQS API: api::QueueService runs in-process on a
// loopback port, messages are sent and received through it, and the QueueDepthMonitor polls it
// over HTTP. Hooks run a shell script from a temporary directory that appends its environment to
// a file. Then the queues section's keys, and the depths through the Appliance's views.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "appliance.h"
#include "config_json.h"
#include "dataplane_connection.h"
#include "queue_depth.h"
#include "rest_api.h"
#include "sqs_server.h"

namespace sluice::controlplane {

// Found by gtest through the argument's namespace.
void PrintTo(const QueueDepthMonitor::Depth& d, std::ostream* os) {
  *os << "{visible " << d.visible << ", in flight " << d.in_flight << ", delayed " << d.delayed
      << "}";
}

namespace {

using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;
using Depth = QueueDepthMonitor::Depth;
namespace fs = std::filesystem;

// Polls `done` every 10 ms for at most 10 s.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// A loopback port nothing listens on (bound, read and closed again).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::unique_ptr<api::QueueService> start_service(uint16_t port = 0) {
  api::ApiConfig config;
  config.address = "127.0.0.1";
  config.port = port;
  auto service = std::make_unique<api::QueueService>(config, api::QueuesConfig{});
  service->start();
  return service;
}

nlohmann::json sqs(uint16_t port, const std::string& action, const Json& params) {
  httplib::Client client("127.0.0.1", port);
  const auto r = client.Post(
      "/", {{"Host", "127.0.0.1:" + std::to_string(port)}, {"X-Amz-Target", "AmazonSQS." + action}},
      params.dump(), "application/x-amz-json-1.0");
  EXPECT_TRUE(r) << action;
  if (!r) return {};
  EXPECT_EQ(r->status, 200) << action << ": " << r->body;
  return nlohmann::json::parse(r->body, nullptr, false);
}

std::string create_queue(uint16_t port, const std::string& name) {
  return sqs(port, "CreateQueue", {{"QueueName", name}}).value("QueueUrl", "");
}

void send(uint16_t port, const std::string& url, int count, int delay_s = 0) {
  for (int i = 0; i < count; ++i) {
    sqs(port, "SendMessage",
        {{"QueueUrl", url}, {"MessageBody", "m" + std::to_string(i)}, {"DelaySeconds", delay_s}});
  }
}

// Receives up to `count` messages, hidden for a minute; returns how many came.
size_t receive(uint16_t port, const std::string& url, int count) {
  size_t got = 0;
  for (int i = 0; i < 20 && got < static_cast<size_t>(count); ++i) {
    const nlohmann::json r =
        sqs(port, "ReceiveMessage",
            {{"QueueUrl", url},
             {"MaxNumberOfMessages", std::min(10, count - static_cast<int>(got))},
             {"VisibilityTimeout", 60}});
    got += r.value("Messages", nlohmann::json::array()).size();
  }
  return got;
}

QueuesConfig link_to(uint16_t port) {
  QueuesConfig c;
  c.configured = true;
  c.port = port;
  // Polls come from refresh(); the interval never passes within a test.
  c.depth_interval_s = 3600;
  return c;
}

// Polls now and waits for that poll; false when it did not finish in time.
bool poll_now(QueueDepthMonitor& m) {
  const uint64_t asked = m.refresh();
  return eventually([&] { return m.last_poll() >= asked; });
}

std::optional<Depth> depth_of(const QueueDepthMonitor& m, const std::string& queue) {
  const auto depths = m.depths();
  const auto it = depths.find(queue);
  if (it == depths.end()) return std::nullopt;
  return it->second;
}

// Log lines the monitor wrote.
class Log {
 public:
  QueueDepthMonitor::Options options() {
    return {.request_timeout = 2s, .log = [this](const std::string& line) {
              std::lock_guard lock(mu_);
              lines_.push_back(line);
            }};
  }
  size_t count(const std::string& part) {
    std::lock_guard lock(mu_);
    return std::count_if(lines_.begin(), lines_.end(),
                         [&](const std::string& l) { return l.find(part) != std::string::npos; });
  }
  std::string all() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(QueueDepthMonitor, ReportsDepthsAfterSendsAndReceives) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string work = create_queue(port, "work");
  create_queue(port, "idle");
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(link_to(port));
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(m.last_error(), "");
  EXPECT_EQ(m.depths().size(), 2u);
  EXPECT_EQ(depth_of(m, "work"), (Depth{}));

  send(port, work, 3);
  send(port, work, 1, 600);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(depth_of(m, "work"), (Depth{.visible = 3, .in_flight = 0, .delayed = 1}));

  ASSERT_EQ(receive(port, work, 2), 2u);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(depth_of(m, "work"), (Depth{.visible = 1, .in_flight = 2, .delayed = 1}));
  EXPECT_EQ(depth_of(m, "idle"), (Depth{}));

  // A queue created since is polled too.
  create_queue(port, "later");
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(m.depths().size(), 3u);
}

TEST(QueueDepthMonitor, AnEndpointThatIsDownIsAnErrorUntilItAnswers) {
  const uint16_t port = free_port();
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(link_to(port));
  ASSERT_TRUE(poll_now(m));
  EXPECT_NE(
      m.last_error().find("ListQueues: cannot reach http://127.0.0.1:" + std::to_string(port)),
      std::string::npos)
      << m.last_error();
  EXPECT_TRUE(m.depths().empty());
  EXPECT_EQ(log.count("queue depths: ListQueues: cannot reach"), 1u) << log.all();

  auto service = start_service(port);
  send(port, create_queue(port, "back"), 2);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(m.last_error(), "");
  EXPECT_EQ(depth_of(m, "back"), (Depth{.visible = 2}));
  EXPECT_EQ(log.count("polled http://127.0.0.1:" + std::to_string(port) + " again"), 1u)
      << log.all();
}

TEST(QueueDepthMonitor, NothingIsPolledWithoutAQueuesSection) {
  auto service = start_service();
  create_queue(service->port(), "work");
  QueueDepthMonitor m;
  QueuesConfig c = link_to(service->port());
  c.configured = false;
  m.configure(c);
  ASSERT_TRUE(poll_now(m));
  EXPECT_TRUE(m.depths().empty());
  EXPECT_EQ(m.last_error(), "");
}

// A temporary directory with the hook script; removed at the end.
class HookDir {
 public:
  HookDir()
      : dir_(fs::temp_directory_path() /
             ("sluice-depth-" + std::to_string(::getpid()) + "-" + std::to_string(next_++))) {
    fs::create_directories(dir_);
    // Waits for `release` when it is given (at most 10 s), appends its environment to the
    // output file, and exits with the status given.
    std::ofstream(dir_ / "hook.sh")
        << "out=$1 status=$2 release=$3\n"
           "if [ -n \"$release\" ]; then\n"
           "  i=0\n"
           "  while [ ! -e \"$release\" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n"
           "fi\n"
           "echo \"$SLUICE_QUEUE $SLUICE_QUEUE_CROSSED $SLUICE_QUEUE_DEPTH "
           "$SLUICE_QUEUE_IN_FLIGHT\" >> \"$out\"\n"
           "exit $status\n";
  }
  ~HookDir() { fs::remove_all(dir_); }

  fs::path path(const std::string& name) const { return dir_ / name; }
  std::vector<std::string> command(int status = 0, const std::string& release = "") const {
    std::vector<std::string> c = {"/bin/sh", path("hook.sh"), path("out"), std::to_string(status)};
    if (!release.empty()) c.push_back(path(release));
    return c;
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path("out"));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  static inline int next_ = 0;
  fs::path dir_;
};

uint64_t runs(const QueueDepthMonitor& m, const std::string& queue, const std::string& direction,
              const std::string& result) {
  const auto all = m.hook_runs();
  const auto it = all.find({queue, direction, result});
  return it == all.end() ? 0 : it->second;
}

TEST(DepthHooks, CrossingUpAndDownRunTheCommandOnceEach) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string work = create_queue(port, "work");
  const std::string other = create_queue(port, "other");
  HookDir dir;
  QueuesConfig c = link_to(port);
  c.depth_hooks = {{.queue = "work", .above = 3, .below = 2, .command = dir.command()}};
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(c);
  ASSERT_TRUE(poll_now(m));

  // 3 is not above 3; another queue's depth changes nothing.
  send(port, work, 3);
  send(port, other, 10);
  ASSERT_TRUE(poll_now(m));
  EXPECT_TRUE(m.hook_runs().empty());

  send(port, work, 2);
  ASSERT_TRUE(poll_now(m));
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "up", "ok") == 1; })) << log.all();
  EXPECT_EQ(dir.lines(), (std::vector<std::string>{"work up 5 0"}));
  EXPECT_EQ(log.count("queue work: 5 visible messages, above 3: started /bin/sh (pid "), 1u)
      << log.all();
  EXPECT_EQ(log.count(", up) exited with status 0"), 1u) << log.all();

  // Still above, higher, then between the thresholds: nothing runs.
  send(port, work, 4);
  ASSERT_TRUE(poll_now(m));
  ASSERT_EQ(receive(port, work, 7), 7u);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(depth_of(m, "work"), (Depth{.visible = 2, .in_flight = 7}));
  EXPECT_EQ(log.count(": started "), 1u) << log.all();

  ASSERT_EQ(receive(port, work, 1), 1u);
  ASSERT_TRUE(poll_now(m));
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "down", "ok") == 1; })) << log.all();
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(dir.lines(), (std::vector<std::string>{"work up 5 0", "work down 1 8"}));
  EXPECT_EQ(log.count("queue work: 1 visible messages, below 2: started"), 1u) << log.all();
  EXPECT_EQ(m.hook_runs().size(), 2u);

  // Above again: the next up crossing runs it again.
  send(port, work, 3);
  ASSERT_TRUE(poll_now(m));
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "up", "ok") == 2; })) << log.all();
  EXPECT_EQ(dir.lines().back(), "work up 4 8");
}

TEST(DepthHooks, AQueueAlreadyAboveAtStartRunsNothingUntilItFell) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string work = create_queue(port, "work");
  send(port, work, 5);
  HookDir dir;
  QueuesConfig c = link_to(port);
  c.depth_hooks = {{.queue = "work", .above = 3, .below = 1, .command = dir.command()}};
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(c);
  ASSERT_TRUE(poll_now(m));
  send(port, work, 1);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(log.count(": started "), 0u) << log.all();

  ASSERT_EQ(receive(port, work, 6), 6u);
  ASSERT_TRUE(poll_now(m));
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "down", "ok") == 1; })) << log.all();
  EXPECT_EQ(dir.lines(), (std::vector<std::string>{"work down 0 6"}));
}

TEST(DepthHooks, ACrossingWhileTheCommandRunsStartsNothingAndExitStatusesAreCounted) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string work = create_queue(port, "work");
  HookDir dir;
  QueuesConfig c = link_to(port);
  c.depth_hooks = {{.queue = "work", .above = 2, .below = 1, .command = dir.command(3, "release")}};
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(c);
  ASSERT_TRUE(poll_now(m));

  send(port, work, 3);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(log.count(": started "), 1u) << log.all();
  // Down while the up command waits for its release: not started, and said so.
  ASSERT_EQ(receive(port, work, 3), 3u);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(runs(m, "work", "down", "skipped"), 1u);
  EXPECT_EQ(
      log.count("queue work: 0 visible messages, below 1: /bin/sh not started, its run (pid "), 1u)
      << log.all();

  std::ofstream(dir.path("release")) << "";
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "up", "failed") == 1; })) << log.all();
  EXPECT_EQ(log.count(", up) exited with status 3"), 1u) << log.all();
  EXPECT_EQ(dir.lines(), (std::vector<std::string>{"work up 3 0"}));

  // The next crossing starts it again.
  send(port, work, 3);
  ASSERT_TRUE(poll_now(m));
  ASSERT_TRUE(eventually([&] { return runs(m, "work", "up", "failed") == 2; })) << log.all();
  EXPECT_EQ(log.count(": started "), 2u) << log.all();
}

TEST(DepthHooks, AProgramThatCannotStartIsCounted) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string work = create_queue(port, "work");
  QueuesConfig c = link_to(port);
  c.depth_hooks = {
      {.queue = "work", .above = 2, .below = 1, .command = {"/nonexistent/sluice-scale", "up"}}};
  Log log;
  QueueDepthMonitor m(log.options());
  m.configure(c);
  ASSERT_TRUE(poll_now(m));
  send(port, work, 3);
  ASSERT_TRUE(poll_now(m));
  EXPECT_EQ(runs(m, "work", "up", "not_started"), 1u);
  EXPECT_EQ(log.count("cannot start /nonexistent/sluice-scale: No such file or directory"), 1u)
      << log.all();
}

// ---- the queues section's keys -----------------------------------------------------------------

std::string error_of(const std::string& yaml) {
  const LoadResult r = load_control_config(yaml, "cp.yaml");
  return r.ok() ? "valid" : r.error;
}

TEST(DepthConfig, ParsesTheKeysAndDumpsThem) {
  const LoadResult r = load_control_config(
      "queues:\n"
      "  depth_interval_s: 2\n"
      "  depth_hooks:\n"
      "    - {queue: work, above: 100, below: 10, command: [/usr/bin/scale, --up, '2']}\n"
      "    - queue: jobs.fifo\n"
      "      above: 5\n"
      "      below: 4\n"
      "      command: [/bin/true]\n",
      "cp.yaml");
  ASSERT_TRUE(r.ok()) << r.error;
  const QueuesConfig& q = r.config->queues;
  EXPECT_TRUE(q.configured);
  EXPECT_EQ(q.depth_interval_s, 2u);
  ASSERT_EQ(q.depth_hooks.size(), 2u);
  EXPECT_EQ(
      q.depth_hooks[0],
      (DepthHook{
          .queue = "work", .above = 100, .below = 10, .command = {"/usr/bin/scale", "--up", "2"}}));
  EXPECT_EQ(q.depth_hooks[1].queue, "jobs.fifo");
  const Json dumped = config_to_json(*r.config)["queues"];
  EXPECT_EQ(dumped["depth_interval_s"], 2);
  EXPECT_EQ(dumped["depth_hooks"][0]["command"][1], "--up");

  const LoadResult defaults = load_control_config("queues: {}\n", "cp.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults.config->queues.configured);
  EXPECT_EQ(defaults.config->queues.depth_interval_s, 5u);
  EXPECT_FALSE(load_control_config("api: {}\n", "cp.yaml").config->queues.configured);
}

TEST(DepthConfig, ErrorsNameTheKeyAndLine) {
  const std::string head = "queues:\n  depth_hooks:\n";
  EXPECT_EQ(error_of("queues:\n  depth_interval_s: 0\n"),
            "cp.yaml:2: queues.depth_interval_s: must be between 1 and 3600, got 0");
  EXPECT_EQ(error_of("queues:\n  depth_interval_s: 3601\n"),
            "cp.yaml:2: queues.depth_interval_s: must be between 1 and 3600, got 3601");
  EXPECT_EQ(error_of(head + "    - {queue: 'a b', above: 2, below: 1, command: [/bin/true]}\n"),
            "cp.yaml:3: queues.depth_hooks[0].queue: 'a b' is not a queue name of 1 to 80 "
            "letters, digits, hyphens and underscores");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 0, below: 1, command: [/bin/true]}\n"),
            "cp.yaml:3: queues.depth_hooks[0].above: must be between 1 and 1000000000, got 0");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 5, below: 5, command: [/bin/true]}\n"),
            "cp.yaml:3: queues.depth_hooks[0].below: must be less than above (5), got 5");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 5, below: 0, command: [/bin/true]}\n"),
            "cp.yaml:3: queues.depth_hooks[0].below: must be between 1 and 1000000000, got 0");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 5, command: [/bin/true]}\n"),
            "cp.yaml:3: queues.depth_hooks[0].below: is required");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 5, below: 1, command: []}\n"),
            "cp.yaml:3: queues.depth_hooks[0].command: must not be empty: an absolute program "
            "path, then its arguments");
  EXPECT_EQ(error_of(head + "    - {queue: w, above: 5, below: 1, command: /bin/true}\n"),
            "cp.yaml:3: queues.depth_hooks[0].command: must be a list: an absolute program "
            "path, then its arguments");
  EXPECT_EQ(error_of(head + "    - queue: w\n"
                            "      above: 5\n"
                            "      below: 1\n"
                            "      command:\n"
                            "        - scale.sh\n"),
            "cp.yaml:7: queues.depth_hooks[0].command[0]: 'scale.sh' is not an absolute path "
            "(commands run without a shell)");
  EXPECT_EQ(
      error_of(head + "    - {queue: w, above: 5, below: 1, command: [/bin/true], shell: yes}\n"),
      "cp.yaml:3: queues.depth_hooks[0].shell: unknown key");
}

// ---- through the Appliance: GET /v1/queues and /metrics ----------------------------------------

TEST(ApplianceDepths, QueuesRouteAndMetricsShowTheDepths) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::string undeclared = create_queue(port, "theirs");
  send(port, undeclared, 2);
  HookDir dir;
  const LoadResult loaded = load_control_config(
      "queues:\n  endpoint: http://127.0.0.1:" + std::to_string(port) +
          "\n  depth_interval_s: 1\n  declare:\n    - {name: orders}\n"
          "  depth_hooks:\n    - {queue: theirs, above: 3, below: 1, command: [/bin/sh, " +
          dir.path("hook.sh").string() + ", " + dir.path("out").string() + ", '0']}\n",
      "cp.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  DataplaneConnection link("/nonexistent/sluice-control.sock");
  Log log;
  Appliance a(std::move(*loaded.config), "", link, 1, {}, log.options());
  httplib::Server server;
  install_routes(server, a, "");
  const int api_port = server.bind_to_any_port("127.0.0.1");
  std::thread http([&] { server.listen_after_bind(); });
  httplib::Client client("127.0.0.1", api_port);
  auto queues = [&] {
    const auto r = client.Get("/v1/queues");
    return r ? Json::parse(r->body, nullptr, false) : Json();
  };

  ASSERT_TRUE(eventually([&] {
    const Json q = queues();
    return q.is_array() && q.size() == 2 && q[0].contains("messages");
  })) << queues().dump();
  Json q = queues();
  EXPECT_EQ(q[0]["name"], "orders");
  EXPECT_EQ(q[0]["messages"], (Json{{"visible", 0}, {"in_flight", 0}, {"delayed", 0}}));
  EXPECT_EQ(q[1], (Json{{"name", "theirs"},
                        {"state", "undeclared"},
                        {"messages", {{"visible", 2}, {"in_flight", 0}, {"delayed", 0}}}}));

  send(port, undeclared, 2);
  ASSERT_TRUE(eventually([&] {
    return a.metrics().find(
               "sluice_queue_hook_runs_total{queue=\"theirs\",direction=\"up\","
               "result=\"ok\"} 1\n") != std::string::npos;
  })) << a.metrics()
      << log.all();
  const std::string m = a.metrics();
  EXPECT_NE(m.find("# TYPE sluice_queue_messages gauge\n"), std::string::npos) << m;
  EXPECT_NE(m.find("sluice_queue_messages{queue=\"theirs\",state=\"visible\"} 4\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("sluice_queue_messages{queue=\"theirs\",state=\"in_flight\"} 0\n"),
            std::string::npos);
  EXPECT_NE(m.find("sluice_queue_messages{queue=\"orders\",state=\"delayed\"} 0\n"),
            std::string::npos);
  EXPECT_NE(m.find("# TYPE sluice_queue_hook_runs_total counter\n"), std::string::npos);
  EXPECT_EQ(dir.lines(), (std::vector<std::string>{"theirs up 4 0"}));

  server.stop();
  http.join();
}

}  // namespace
}  // namespace sluice::controlplane
