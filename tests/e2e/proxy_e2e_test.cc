// sluice-dataplane as the L7 proxy (job: proxy) between curl and real targets: nginx servers, a
// Python HTTP target that echoes the request head it received (and can be slow), and a Python
// WebSocket echo server, each in a backend namespace of the "lan" layout. The proxy runs in the
// client namespace, on 10.99.0.1, and reaches the targets over the bridge.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "topology.h"

#ifndef SLUICE_DATAPLANE_PATH
#error "SLUICE_DATAPLANE_PATH must name the sluice-dataplane binary"
#endif

namespace sluice::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kNginx = 4;   // backends 0-3: nginx answering "backend-<i>"
constexpr int kPython = 4;  // backend 4: the echo target and the WebSocket echo server
constexpr int kEchoPort = 8080;
constexpr int kWsPort = 8765;
constexpr const char* kProxyIp = "10.99.0.1";
constexpr const char* kPython3 = "/usr/bin/python3";

// Answers every method with a body naming the request line and the header fields it received,
// after four seconds for paths under /slow; appends each request line to the log file.
constexpr const char* kEchoTarget = R"(import http.server, sys, time
port, log_path = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def serve(self):
        with open(log_path, "a") as log:
            log.write(self.requestline + "\n")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/slow"):
            time.sleep(4)
        body = ("echo\n" + self.requestline + "\n" + str(self.headers)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = serve
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
Server(("0.0.0.0", port), Handler).serve_forever()
)";

constexpr const char* kWsServer = R"(import asyncio, sys, websockets
async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "0.0.0.0", int(sys.argv[1])):
        await asyncio.Future()
asyncio.run(main())
)";

// Sends five messages and prints each answer on a line of its own.
constexpr const char* kWsClient = R"(import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], open_timeout=5, close_timeout=2) as ws:
        for i in range(5):
            await ws.send("message-%d" % i)
            print("got " + await asyncio.wait_for(ws.recv(), 5))
asyncio.run(main())
)";

std::string nginx_ip(int i) {
  return "10.99.0." + std::to_string(10 + i);
}

std::string proxy_yaml(const std::filesystem::path& access_log) {
  std::string targets[kNginx];
  for (int i = 0; i < kNginx; ++i) targets[i] = "{address: " + nginx_ip(i) + ", port: 80}";
  const std::string python_ip = nginx_ip(kPython);
  return R"(job: proxy
proxy:
  idle_timeout_s: 60
  request_timeout_s: 10
  connect_timeout_ms: 1000
  target_timeout_s: 2
  access_log: )" +
         access_log.string() + R"(
listeners:
  - name: web
    listen: 10.99.0.1:8080
    rules:
      - {priority: 10, conditions: [{host_header: ["a.example", "*.b.example"]}], action: {forward: g0}}
      - {priority: 20, conditions: [{path_pattern: ["/p1/*", "/p?x"]}], action: {forward: g1}}
      - {priority: 30, conditions: [{path_regex: ["^/re/[0-9]+$"]}], action: {forward: g2}}
      - {priority: 40, conditions: [{http_header: {name: X-Route, values: ["three*"]}}], action: {forward: g3}}
      - {priority: 50, conditions: [{http_request_method: [PUT]}], action: {forward: g1}}
      - {priority: 60, conditions: [{query_string: [{key: q, value: "go*"}]}], action: {forward: g2}}
      - priority: 70
        conditions: [{path_pattern: "/redir/*"}]
        action: {redirect: {status: 302, protocol: HTTPS, host: new.example, port: "8443", path: "/n/#{path}", query: "#{query}&r=1"}}
      - priority: 80
        conditions: [{path_pattern: /fixed}]
        action: {fixed_response: {status: 418, content_type: application/json, body: "{\"teapot\": true}"}}
      - priority: 90
        conditions: [{path_pattern: "/weighted/*"}]
        action: {forward: [{target_group: g0, weight: 70}, {target_group: g1, weight: 30}]}
      - {priority: 100, conditions: [{path_pattern: "/sticky/*"}], action: {forward: sticky}}
      - {priority: 110, conditions: [{path_pattern: "/kill/*"}], action: {forward: pair}}
      - {priority: 120, conditions: [{path_pattern: ["/echo/*", "/slow/*"]}], action: {forward: echo}}
      - {priority: 130, conditions: [{path_pattern: /ws}], action: {forward: ws}}
    default_action: {fixed_response: {status: 404, body: "nothing here\n"}}
target_groups:
  - {name: g0, targets: [)" +
         targets[0] + R"(]}
  - {name: g1, targets: [)" +
         targets[1] + R"(]}
  - {name: g2, targets: [)" +
         targets[2] + R"(]}
  - {name: g3, targets: [)" +
         targets[3] + R"(]}
  - name: sticky
    stickiness: {enabled: true, duration_s: 600}
    targets: [)" +
         targets[2] + ", " + targets[3] + R"(]
  - {name: pair, targets: [)" +
         targets[2] + ", " + targets[3] + R"(]}
  - {name: echo, targets: [{address: )" +
         python_ip + ", port: " + std::to_string(kEchoPort) + R"(}]}
  - {name: ws, targets: [{address: )" +
         python_ip + ", port: " + std::to_string(kWsPort) + R"(}]}
)";
}

// Responses printed by curl with -w '~~%{http_code}\n' after each body: (body, status) pairs.
// Status 0 is a transfer curl could not complete.
std::vector<std::pair<std::string, int>> parse_responses(const std::string& output) {
  static const std::regex kMarker("~~([0-9]{3})\n");
  std::vector<std::pair<std::string, int>> out;
  size_t from = 0;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), kMarker);
       it != std::sregex_iterator(); ++it) {
    const size_t at = static_cast<size_t>(it->position());
    std::string body = output.substr(from, at - from);
    // curl's own error messages go to the same stream, each on a line starting with "curl:".
    if (size_t e = body.find("curl: "); e != std::string::npos) body.erase(e);
    out.emplace_back(body, std::stoi((*it)[1]));
    from = at + static_cast<size_t>(it->length());
  }
  return out;
}

// Fields of an access-log line: space-separated, "quoted" fields taken whole without quotes.
std::vector<std::string> log_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t at = 0;
  while (at < line.size()) {
    if (line[at] == ' ') {
      ++at;
    } else if (line[at] == '"') {
      const size_t end = line.find('"', at + 1);
      fields.push_back(line.substr(at + 1, end - at - 1));
      at = end == std::string::npos ? line.size() : end + 1;
    } else {
      const size_t end = std::min(line.find(' ', at), line.size());
      fields.push_back(line.substr(at, end - at));
      at = end;
    }
  }
  return fields;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The calling thread in network namespace `ns` for its lifetime (sockets made meanwhile stay in
// it).
class InNamespace {
 public:
  explicit InNamespace(const std::string& ns) {
    home_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = home_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~InNamespace() {
    if (entered_) setns(home_, CLONE_NEWNET);
    if (home_ >= 0) close(home_);
  }
  InNamespace(const InNamespace&) = delete;
  InNamespace& operator=(const InNamespace&) = delete;
  bool entered() const { return entered_; }

 private:
  int home_ = -1;
  bool entered_ = false;
};

struct RawExchange {
  std::string response;
  bool closed = false;  // the proxy closed the connection (FIN or RST) within the time allowed
  std::string error;
};

// Connects from namespace `ns` to ip:port, writes `request` and reads until the peer closes or 5 s
// pass.
RawExchange raw_exchange(const std::string& ns, const std::string& ip, uint16_t port,
                         const std::string& request) {
  RawExchange out;
  InNamespace in(ns);
  if (!in.entered()) {
    out.error = "cannot enter namespace " + ns;
    return out;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    out.error = std::string("connect: ") + strerror(errno);
    close(fd);
    return out;
  }
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    out.error = "short send";
  const auto deadline = Clock::now() + 5s;
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.response.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    out.closed = true;
    if (n < 0) out.error = std::string("recv: ") + strerror(errno);
    break;
  }
  close(fd);
  return out;
}

class ProxyE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = Topology::unavailable_reason();
    if (skip_reason_) return;
    for (const char* tool : {"nginx", "curl", kPython3}) {
      if (run_command({"sh", "-c", std::string("command -v ") + tool}, 5s).exit_code != 0) {
        skip_reason_ = std::string(tool) + " is not installed";
        return;
      }
    }
    try {
      topology_ = std::make_unique<Topology>(kNginx + 1, Topology::Layout::kLan);
      const auto& dir = topology_->run_dir();
      for (int i = 0; i < kNginx; ++i) nginx_[i] = std::make_unique<Process>(start_nginx(i));
      std::ofstream(dir / "echo_target.py") << kEchoTarget;
      std::ofstream(dir / "ws_server.py") << kWsServer;
      std::ofstream(dir / "ws_client.py") << kWsClient;
      echo_log_ = dir / "echo_target.requests";
      echo_ = std::make_unique<Process>(
          topology_->spawn_in(topology_->backend_ns(kPython),
                              {kPython3, (dir / "echo_target.py").string(),
                               std::to_string(kEchoPort), echo_log_.string()},
                              "echo-target"));
      wait_listening(kPython, kEchoPort, *echo_);
      websockets_ = run_command({kPython3, "-c", "import websockets"}, 10s).exit_code == 0;
      if (websockets_) {
        ws_ = std::make_unique<Process>(topology_->spawn_in(
            topology_->backend_ns(kPython),
            {kPython3, (dir / "ws_server.py").string(), std::to_string(kWsPort)}, "ws-server"));
        wait_listening(kPython, kWsPort, *ws_);
      }
      access_log_ = dir / "access.log";
      config_path_ = dir / "proxy.yaml";
      std::ofstream(config_path_) << proxy_yaml(access_log_);
      const char* env = std::getenv("SLUICE_DATAPLANE");
      const std::string binary = env != nullptr && *env != '\0' ? env : SLUICE_DATAPLANE_PATH;
      proxy_ = std::make_unique<Process>(topology_->spawn_in(
          topology_->client_ns(), {binary, "--config", config_path_.string()}, "proxy"));
      if (!proxy_->wait_for_output("L7 proxy running on", 30s))
        throw std::runtime_error("the proxy did not start:\n" + proxy_->output());
      std::smatch m;
      const std::string out = proxy_->output();
      static const std::regex kListener("L7 proxy listener web on http://10\\.99\\.0\\.1:([0-9]+)");
      if (!std::regex_search(out, m, kListener))
        throw std::runtime_error("no listener line:\n" + out);
      port_ = static_cast<uint16_t>(std::stoi(m[1]));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    if (proxy_ && proxy_->running()) {
      EXPECT_EQ(proxy_->stop(SIGTERM, 10s), 0) << proxy_->output();
    }
    proxy_.reset();
    ws_.reset();
    echo_.reset();
    for (auto& n : nginx_) n.reset();
    topology_.reset();
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(proxy_->running()) << proxy_->output();
  }

  // nginx in backend i answering every request with 200 "backend-<i>", logging each request.
  static Process start_nginx(int i) {
    const std::filesystem::path dir = topology_->run_dir() / ("nginx-" + std::to_string(i));
    std::filesystem::create_directories(dir / "tmp");
    const std::string d = dir.string();
    std::ofstream(dir / "nginx.conf")
        << "daemon off;\nmaster_process on;\nworker_processes 1;\npid " << d
        << "/nginx.pid;\nerror_log stderr notice;\nevents { worker_connections 1024; }\n"
        << "http {\n  access_log " << d << "/access.log;\n  keepalive_requests 100000;\n"
        << "  default_type text/plain;\n  client_body_temp_path " << d << "/tmp/body;\n"
        << "  proxy_temp_path " << d << "/tmp/proxy;\n  fastcgi_temp_path " << d
        << "/tmp/fastcgi;\n  uwsgi_temp_path " << d << "/tmp/uwsgi;\n  scgi_temp_path " << d
        << "/tmp/scgi;\n  server {\n    listen 80;\n    location / { return 200 \"backend-" << i
        << "\"; }\n  }\n}\n";
    Process nginx =
        topology_->spawn_in(topology_->backend_ns(i), {"nginx", "-p", d, "-c", d + "/nginx.conf"},
                            "nginx-" + std::to_string(i));
    wait_listening(i, 80, nginx);
    return nginx;
  }

  static void wait_listening(int backend, int port, Process& p) {
    const std::string probe = std::string(kPython3) +
                              " -c \"import socket; socket.create_connection(('127.0.0.1', " +
                              std::to_string(port) + "), 1)\"";
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (!p.running()) break;
      if (topology_->run_in(topology_->backend_ns(backend), probe, 5s).exit_code == 0) return;
      std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error("nothing listens on port " + std::to_string(port) + " of backend " +
                             std::to_string(backend) + ":\n" + p.output());
  }

  static std::string url(const std::string& path) {
    return std::string("http://") + kProxyIp + ":" + std::to_string(port_) + path;
  }

  // curl in the client namespace; `args` is shell text.
  static CommandResult curl(const std::string& args, std::chrono::milliseconds timeout = 30s) {
    return topology_->run_in(topology_->client_ns(),
                             "curl -sS --max-time 20 -w '~~%{http_code}\\n' " + args, timeout);
  }

  // One response: (body, status); status 0 when curl printed none.
  static std::pair<std::string, int> fetch(const std::string& args) {
    const CommandResult r = curl(args);
    const auto responses = parse_responses(r.output);
    if (responses.size() != 1) return {r.output, 0};
    return responses[0];
  }

  // `processes` curl processes in parallel, each fetching `per_process` URLs (path + "[1-N]") over
  // one kept-alive connection; all their responses.
  static std::vector<std::pair<std::string, int>> load(const std::string& path, int processes,
                                                       int per_process,
                                                       const std::string& extra = "") {
    const std::string out = (topology_->run_dir() / "load").string();
    std::string cmd = "rm -f " + out + ".*; for k in $(seq " + std::to_string(processes) +
                      "); do curl -sS --max-time 120 -w '~~%{http_code}\\n' " + extra + " '" +
                      url(path) + "[1-" + std::to_string(per_process) + "]' > " + out +
                      ".$k 2>&1 & done; wait; cat " + out + ".*";
    return parse_responses(topology_->run_in(topology_->client_ns(), cmd, 150s).output);
  }

  static std::map<std::string, int> count_bodies(
      const std::vector<std::pair<std::string, int>>& responses) {
    std::map<std::string, int> counts;
    for (const auto& [body, status] : responses)
      counts[status == 200 ? body : std::to_string(status) + " " + body]++;
    return counts;
  }

  static std::string describe(const std::map<std::string, int>& counts) {
    std::string s;
    for (const auto& [k, v] : counts) s += "  " + std::to_string(v) + " x " + k + "\n";
    return s;
  }

  // SIGKILL to nginx's worker and master; the master is stopped first so that it cannot start a
  // new worker in between. True once nothing runs in the backend's namespace.
  static bool kill_nginx(int i) {
    const std::string pid = std::to_string(nginx_[i]->pid());
    nginx_[i]->signal(SIGSTOP);
    run_command({"pkill", "-KILL", "-P", pid}, 5s);
    nginx_[i]->signal(SIGKILL);
    nginx_[i]->wait(5s);
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (run_command({"ip", "netns", "pids", topology_->backend_ns(i)}, 5s).output.empty())
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  static inline std::optional<std::string> skip_reason_;
  static inline std::string setup_error_;
  static inline std::unique_ptr<Topology> topology_;
  static inline std::unique_ptr<Process> nginx_[kNginx];
  static inline std::unique_ptr<Process> echo_, ws_, proxy_;
  static inline bool websockets_ = false;
  static inline std::filesystem::path echo_log_, access_log_, config_path_;
  static inline uint16_t port_ = 0;
};

TEST_F(ProxyE2E, RoutesByEveryConditionKind) {
  const std::pair<std::string, int> b0{"backend-0", 200}, b1{"backend-1", 200},
      b2{"backend-2", 200}, b3{"backend-3", 200}, none{"nothing here\n", 404};
  EXPECT_EQ(fetch("-H 'Host: a.example' " + url("/any")), b0);
  EXPECT_EQ(fetch("-H 'Host: X.B.Example:8080' " + url("/any")), b0);
  EXPECT_EQ(fetch("-H 'Host: b.example' " + url("/any")), none);
  EXPECT_EQ(fetch(url("/p1/deep/path")), b1);
  EXPECT_EQ(fetch(url("/pAx")), b1);
  EXPECT_EQ(fetch(url("/pABx")), none);
  EXPECT_EQ(fetch(url("/re/12345")), b2);
  EXPECT_EQ(fetch(url("/re/12a")), none);
  EXPECT_EQ(fetch("-H 'X-Route: THREE-please' " + url("/h")), b3);
  EXPECT_EQ(fetch("-H 'X-Route: two' " + url("/h")), none);
  EXPECT_EQ(fetch("-X PUT " + url("/m")), b1);
  EXPECT_EQ(fetch("-X POST -d x=1 " + url("/m")), none);
  EXPECT_EQ(fetch("'" + url("/q?a=1&q=GOne") + "'"), b2);
  EXPECT_EQ(fetch("'" + url("/q?q=no&go=q") + "'"), none);
  EXPECT_EQ(fetch(url("/nowhere")), none);

  const CommandResult fixed = curl("-D - " + url("/fixed"));
  EXPECT_NE(fixed.output.find("HTTP/1.1 418"), std::string::npos) << fixed.output;
  EXPECT_NE(fixed.output.find("Content-Type: application/json"), std::string::npos) << fixed.output;
  EXPECT_NE(fixed.output.find("\r\n\r\n{\"teapot\": true}~~418"), std::string::npos)
      << fixed.output;

  const CommandResult redirect = curl("-D - -o /dev/null '" + url("/redir/a/b?x=1") + "'");
  EXPECT_NE(redirect.output.find("HTTP/1.1 302"), std::string::npos) << redirect.output;
  EXPECT_NE(redirect.output.find("Location: https://new.example:8443/n/redir/a/b?x=1&r=1\r\n"),
            std::string::npos)
      << redirect.output;
}

TEST_F(ProxyE2E, WeightedForwardSplitsTenThousandRequests) {
  const auto responses = load("/weighted/", 4, 2500);
  const auto counts = count_bodies(responses);
  ASSERT_EQ(responses.size(), 10000u) << describe(counts);
  ASSERT_EQ(counts.size(), 2u) << describe(counts);
  const double share0 = counts.at("backend-0") / 100.0;
  EXPECT_NEAR(share0, 70.0, 2.0) << describe(counts);
  EXPECT_NEAR(counts.at("backend-1") / 100.0, 30.0, 2.0) << describe(counts);
}

TEST_F(ProxyE2E, StickinessCookieKeepsAClientOnOneTarget) {
  const CommandResult first = curl("-D - " + url("/sticky/first"));
  static const std::regex kCookie("Set-Cookie: (AWSALB=[A-Za-z0-9_\\-]+)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first.output, m, kCookie)) << first.output;
  const std::string cookie = m[1];
  const auto first_response =
      parse_responses(first.output.substr(first.output.find("\r\n\r\n") + 4));
  ASSERT_EQ(first_response.size(), 1u) << first.output;
  const std::string target = first_response[0].first;

  const auto with_cookie = load("/sticky/", 1, 50, "-H 'Cookie: other=1; " + cookie + "'");
  const auto counts = count_bodies(with_cookie);
  EXPECT_EQ(counts, (std::map<std::string, int>{{target, 50}})) << describe(counts);

  auto without = count_bodies(load("/sticky/", 4, 10));
  EXPECT_EQ(without.size(), 2u) << describe(without);
  EXPECT_GT(without["backend-2"], 0) << describe(without);
  EXPECT_GT(without["backend-3"], 0) << describe(without);
}

TEST_F(ProxyE2E, SlowTargetGets504AfterTargetTimeout) {
  const auto start = Clock::now();
  const auto [body, status] = fetch(url("/slow/x"));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(status, 504) << body;
  std::printf("504 after %lld ms (target_timeout_s: 2, target answers after 4 s)\n",
              static_cast<long long>(took.count()));
  // The proxy still serves that target's fast paths.
  const auto [echo_body, echo_status] = fetch(url("/echo/after-slow"));
  EXPECT_EQ(echo_status, 200) << echo_body;
}

TEST_F(ProxyE2E, SmugglingAttemptsAre400AndNeverReachTheTarget) {
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"Content-Length with Transfer-Encoding",
       "POST /echo/cl-te HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/smuggled-1 HTTP/1.1\r\nHost: "
       "x\r\n\r\n"},
      {"two Content-Lengths",
       "POST /echo/cl-cl HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"
       "GET /echo/smuggled-2 HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"obs-fold",
       "GET /echo/fold HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"
       "GET /echo/smuggled-3 HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  for (const auto& [what, request] : attempts) {
    const RawExchange r = raw_exchange(topology_->client_ns(), kProxyIp, port_, request);
    EXPECT_EQ(r.response.rfind("HTTP/1.1 400 ", 0), 0u) << what << ": " << r.response << r.error;
    EXPECT_EQ(r.response.find("HTTP/1.1", 1), std::string::npos) << what << ": " << r.response;
    EXPECT_TRUE(r.closed) << what << ": the connection stayed open";
  }
  // A request after them on a new connection is served, and its line is logged after theirs.
  ASSERT_EQ(fetch(url("/echo/after-smuggling")).second, 200);
  const std::string log = read_text(echo_log_);
  EXPECT_NE(log.find("GET /echo/after-smuggling HTTP/1.1"), std::string::npos) << log;
  for (const char* path : {"/echo/cl-te", "/echo/cl-cl", "/echo/fold", "smuggled"})
    EXPECT_EQ(log.find(path), std::string::npos) << path << " reached the target:\n" << log;
}

TEST_F(ProxyE2E, WebSocketEchoThroughTheProxy) {
  if (!websockets_) GTEST_SKIP() << "python3-websockets is not installed";
  const std::string ws_url = std::string("ws://") + kProxyIp + ":" + std::to_string(port_) + "/ws";
  const CommandResult r = topology_->run_in(
      topology_->client_ns(),
      std::string(kPython3) + " " + (topology_->run_dir() / "ws_client.py").string() + " " + ws_url,
      30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "got message-0\ngot message-1\ngot message-2\ngot message-3\ngot message-4\n");
}

TEST_F(ProxyE2E, TargetSeesForwardedFieldsAndNoHopByHopFields) {
  const auto [body, status] = fetch(
      "-H 'Host: myhost.example:81' -H 'X-Forwarded-For: 203.0.113.7' "
      "-H 'X-Forwarded-Proto: https' -H 'Connection: keep-alive, Foo' -H 'Foo: bar' "
      "-H 'Keep-Alive: timeout=5' -H 'TE: trailers' -H 'X-Kept: yes' " +
      url("/echo/headers"));
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body.rfind("echo\nGET /echo/headers HTTP/1.1\n", 0), 0u) << body;
  EXPECT_NE(body.find("\nHost: myhost.example:81\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\nX-Forwarded-For: 203.0.113.7, 10.99.0.1\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\nX-Forwarded-Proto: http\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\nX-Forwarded-Port: " + std::to_string(port_) + "\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("\nX-Kept: yes\n"), std::string::npos) << body;
  for (const char* hop : {"\nFoo:", "\nKeep-Alive:", "\nTE:", "https"})
    EXPECT_EQ(body.find(hop), std::string::npos) << hop << " was forwarded:\n" << body;
  const size_t connection = body.find("\nConnection:");
  if (connection != std::string::npos) {
    const std::string value = body.substr(connection, body.find('\n', connection + 1) - connection);
    EXPECT_EQ(value.find("Foo"), std::string::npos) << body;
  }
}

TEST_F(ProxyE2E, AccessLogHasOneLinePerRequestInAlbOrder) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(
        fetch("-A e2e-agent '" + url("/echo/logged-" + std::to_string(i) + "?k=v") + "'").second,
        200);
  ASSERT_EQ(fetch(url("/nowhere-logged")).second, 404);
  // The log is written by a thread of its own, soon after each request.
  std::vector<std::string> lines;
  for (int attempt = 0; attempt < 50; ++attempt) {
    lines.clear();
    std::istringstream in(read_text(access_log_));
    for (std::string line; std::getline(in, line);)
      if (line.find("logged") != std::string::npos) lines.push_back(line);
    if (lines.size() >= 4) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(lines.size(), 4u) << read_text(access_log_);
  for (int i = 0; i < 3; ++i) {
    const std::string path = "/echo/logged-" + std::to_string(i) + "?k=v";
    const auto f = log_fields(lines[static_cast<size_t>(i)]);
    ASSERT_GE(f.size(), 19u) << lines[static_cast<size_t>(i)];
    EXPECT_EQ(f[0], "http");
    EXPECT_EQ(f[3].rfind("10.99.0.1:", 0), 0u) << f[3];
    EXPECT_EQ(f[4], nginx_ip(kPython) + ":" + std::to_string(kEchoPort));
    EXPECT_EQ(f[8], "200");
    EXPECT_EQ(f[9], "200");
    EXPECT_EQ(f[12], "GET " + url(path) + " HTTP/1.1");
    EXPECT_EQ(f[13], "e2e-agent");
  }
  const auto f = log_fields(lines[3]);
  ASSERT_GE(f.size(), 13u) << lines[3];
  EXPECT_EQ(f[4], "-") << lines[3];
  EXPECT_EQ(f[8], "404") << lines[3];
  EXPECT_EQ(f[9], "-") << lines[3];
  EXPECT_EQ(f[12], "GET " + url("/nowhere-logged") + " HTTP/1.1");
}

// Last: it leaves backend 3 dead.
TEST_F(ProxyE2E, KilledTargetFailsOnlyRequestsInFlight) {
  const std::filesystem::path out = topology_->run_dir() / "kill-load";
  std::vector<Process> loads;
  for (int k = 0; k < 4; ++k) {
    loads.push_back(topology_->spawn_in(
        topology_->client_ns(),
        {"curl", "-sS", "--max-time", "120", "-w", "~~%{http_code}\n", url("/kill/[1-4000]")},
        "kill-load-" + std::to_string(k)));
  }
  // Kill once the load is well under way on every connection.
  const auto deadline = Clock::now() + 30s;
  size_t before = 0;
  for (;;) {
    before = parse_responses(loads[0].output()).size();
    if (before >= 500 || Clock::now() > deadline) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(before, 500u) << loads[0].output().substr(0, 2000);
  ASSERT_TRUE(kill_nginx(3)) << "nginx in backend 3 survived SIGKILL";
  std::map<std::string, int> counts;
  size_t after_kill = 0;
  for (auto& l : loads) {
    ASSERT_TRUE(l.wait(120s)) << "a curl load did not finish";
    const auto responses = parse_responses(l.output());
    EXPECT_EQ(responses.size(), 4000u);
    for (const auto& [k, v] : count_bodies(responses)) counts[k] += v;
    if (&l == &loads[0]) after_kill = responses.size() - before;
  }
  ASSERT_GT(after_kill, 100u) << "the load was over before the kill";
  int failed = 0, failed_502 = 0;
  for (const auto& [k, v] : counts) {
    if (k.rfind("backend-", 0) == 0) continue;
    failed += v;
    if (k.rfind("502 ", 0) == 0) failed_502 += v;
  }
  // At most one request in flight per client connection, plus one on each kept-alive target
  // connection that died with it.
  EXPECT_LE(failed, 8) << describe(counts);
  EXPECT_EQ(failed, failed_502) << describe(counts);
  std::printf("requests failed by the kill: %d\n%s", failed, describe(counts).c_str());

  const auto next = count_bodies(load("/kill/", 1, 200));
  EXPECT_EQ(next, (std::map<std::string, int>{{"backend-2", 200}})) << describe(next);
}

}  // namespace
}  // namespace sluice::e2e
