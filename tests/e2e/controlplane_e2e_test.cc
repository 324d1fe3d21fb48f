// sluice-controlplane driving sluice-dataplane over the control socket, on the one-arm "lan"
// layout with three nginx backends. The control plane runs in the balancer's namespace, so its
// health checks leave through the dataplane's exception path, as on a DPDK-owned port. Real
// kernels, real nginx, real curl; the operator's side is sluicectl.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "topology.h"

namespace sluice::e2e {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kBackends = 3;
constexpr int kApiPort = 18480;
// Health checks: interval 5 s, timeout 2 s, 2 passes to turn healthy, 2 failures to turn unhealthy.
constexpr auto kInterval = 5s;
constexpr auto kTimeout = 2s;
constexpr int kUnhealthyThreshold = 2;

std::string dataplane_yaml(const std::string& socket) {
  return "job: lb\n"
         "hugepages: off\n"
         "control_socket: " +
         socket +
         "\n"
         "ports:\n"
         "  - name: lan\n"
         "    device: net_af_packet0,iface=lan\n"
         "    addresses: [10.99.0.2/24]\n"
         "lb:\n"
         "  flow_table_size: 65536\n"
         "  exception_interface: sl-exc\n";
}

std::string controlplane_yaml(const std::string& socket, const std::string& extra_service = "") {
  return "dataplane: {control_socket: " + socket +
         "}\n"
         "api: {listen: 127.0.0.1:" +
         std::to_string(kApiPort) +
         "}\n"
         "ports:\n"
         "  - {name: lan, device: \"net_af_packet0,iface=lan\", addresses: [10.99.0.2/24]}\n"
         "target_groups:\n"
         "  - name: web\n"
         "    protocol: tcp\n"
         "    port: 80\n"
         "    targets: [{address: 10.99.0.10}, {address: 10.99.0.11}, {address: 10.99.0.12}]\n"
         "    health_check: {protocol: http, path: /, interval_s: 5, timeout_s: 2,\n"
         "                   healthy_threshold: 2, unhealthy_threshold: 2}\n"
         "    deregistration_delay_s: 60\n"
         "services:\n"
         "  - {name: web, vip: 10.99.0.100, protocol: tcp, port: 80, mode: nat,"
         " target_group: web}\n" +
         extra_service;
}

class ControlPlaneE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = Topology::unavailable_reason();
    if (skip_reason_) return;
    try {
      topology_ = std::make_unique<Topology>(kBackends, Topology::Layout::kLan);
      socket_ = (topology_->run_dir() / "control.sock").string();
      cp_config_ = topology_->run_dir() / "controlplane.yaml";
      std::ofstream(cp_config_) << controlplane_yaml(socket_);
      for (int i = 0; i < kBackends; ++i) {
        nginx_[i] = std::make_unique<Process>(topology_->start_nginx(i));
        // A large file whose first line names the backend, for flows that last a while.
        std::ofstream big(topology_->web_root(i) / "big.bin");
        big << "backend-" << i << "\n" << std::string(8 << 20, 'x');
      }
      start_dataplane();
      start_controlplane();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    controlplane_.reset();
    dataplane_.reset();
    for (auto& n : nginx_) n.reset();
    topology_.reset();
  }

  static void start_dataplane() {
    dataplane_ = std::make_unique<Process>(
        topology_->start_dataplane_config(dataplane_yaml(socket_), "sluice-dataplane: lb"));
  }

  static void start_controlplane() {
    controlplane_ = std::make_unique<Process>(topology_->spawn_in(
        topology_->lb_ns(), {SLUICE_CONTROLPLANE_PATH, "--config", cp_config_.string()},
        "controlplane"));
    if (!controlplane_->wait_for_output("sluice-controlplane: dataplane connected", 20s))
      throw std::runtime_error("the control plane did not connect:\n" + controlplane_->output());
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(dataplane_->running()) << dataplane_->output();
    ASSERT_TRUE(controlplane_->running()) << controlplane_->output();
  }

  static CommandResult sluicectl(const std::string& args, std::chrono::milliseconds timeout = 30s) {
    return topology_->run_in(topology_->lb_ns(),
                             std::string(SLUICECTL_PATH) +
                                 " --api http://127.0.0.1:" + std::to_string(kApiPort) + " " + args,
                             timeout);
  }

  static Json sluicectl_json(const std::string& args) {
    const CommandResult r = sluicectl("--json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    Json j = Json::parse(r.output, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.output;
    return j;
  }

  static std::map<std::string, std::string> target_states() {
    std::map<std::string, std::string> out;
    const Json h = sluicectl_json("health");
    if (!h.is_array()) return out;
    for (const Json& t : h) out[t["target"].get<std::string>()] = t["state"].get<std::string>();
    return out;
  }

  // Polls until `target` is in `state`; returns how long that took, or nullopt after `limit`.
  static std::optional<Clock::duration> wait_state(const std::string& target,
                                                   const std::string& state,
                                                   std::chrono::milliseconds limit) {
    const auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (target_states()[target] == state) return Clock::now() - start;
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  }

  // N requests on new connections; how many each backend answered ("failed" for errors).
  static std::map<std::string, int> spread(int n) {
    const CommandResult r = topology_->run_in(
        topology_->client_ns(),
        "for i in $(seq " + std::to_string(n) +
            "); do curl -sS --max-time 5 http://10.99.0.100/ || echo failed; done",
        120s);
    std::map<std::string, int> out;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("curl:", 0) == 0) continue;  // curl's own message beside "failed"
      out[line]++;
    }
    return out;
  }

  static void all_healthy() {
    for (int i = 0; i < kBackends; ++i) {
      const std::string t = "10.99.0.1" + std::to_string(i) + ":80";
      ASSERT_TRUE(wait_state(t, "healthy", 30s)) << t << "\n" << controlplane_->output();
    }
  }

  // Kills nginx in backend `i` hard: master and worker.
  static void kill_nginx(int i) {
    const std::string pid = std::to_string(nginx_[i]->pid());
    topology_->run_in(topology_->backend_ns(i), "kill -KILL $(pgrep -P " + pid + ") " + pid, 5s);
    nginx_[i]->wait(5s);
  }

  static inline std::optional<std::string> skip_reason_;
  static inline std::string setup_error_;
  static inline std::unique_ptr<Topology> topology_;
  static inline std::unique_ptr<Process> nginx_[kBackends];
  static inline std::unique_ptr<Process> dataplane_, controlplane_;
  static inline std::string socket_;
  static inline std::filesystem::path cp_config_;
};

TEST_F(ControlPlaneE2E, TheDataplaneBalancesWhatTheControlPlanePushes) {
  all_healthy();
  const auto counts = spread(60);
  EXPECT_EQ(counts.count("failed"), 0u) << counts.begin()->first;
  for (int i = 0; i < kBackends; ++i)
    EXPECT_GT(counts.count("backend-" + std::to_string(i)), 0u) << "backend " << i;
  const Json status = sluicectl_json("status");
  EXPECT_TRUE(status["dataplane"]["connected"].get<bool>());
  // Counters come from the dataplane's cores, summed by the control plane.
  const Json stats = sluicectl_json("stats");
  ASSERT_EQ(stats["services"].size(), 1u);
  EXPECT_GE(stats["services"][0]["new_flows"].get<uint64_t>(), 60u);
  const CommandResult metrics = sluicectl("metrics");
  EXPECT_NE(metrics.output.find("sluice_service_new_flows_total{service=\"web\"}"),
            std::string::npos);
  EXPECT_NE(
      metrics.output.find("sluice_target_health{target_group=\"web\",target=\"10.99.0.10:80\","
                          "state=\"healthy\"} 1"),
      std::string::npos)
      << metrics.output;
}

TEST_F(ControlPlaneE2E, AKilledBackendIsMarkedUnhealthyAndOtherFlowsCarryOn) {
  all_healthy();
  // Slow downloads through the VIP, spread over the backends, running while backend 1 dies.
  const std::filesystem::path dir = topology_->run_dir() / "downloads";
  std::filesystem::create_directories(dir);
  std::vector<Process> downloads;
  for (int d = 0; d < 6; ++d) {
    const std::string out = (dir / ("d" + std::to_string(d))).string();
    downloads.push_back(topology_->spawn_in(topology_->client_ns(),
                                            {"sh", "-c",
                                             "curl -sS --limit-rate 1M --max-time 60 -o " + out +
                                                 " http://10.99.0.100/big.bin; "
                                                 "echo exit=$?"},
                                            "download-" + std::to_string(d)));
  }
  std::this_thread::sleep_for(1s);
  const auto killed_at = Clock::now();
  kill_nginx(1);
  const auto took = wait_state("10.99.0.11:80", "unhealthy", 40s);
  ASSERT_TRUE(took) << controlplane_->output();
  // The bound: interval x unhealthy threshold + timeout, and a poll's slack.
  EXPECT_LE(Clock::now() - killed_at, kInterval * kUnhealthyThreshold + kTimeout + 2s);

  // No new flow goes to it.
  const auto counts = spread(30);
  EXPECT_EQ(counts.count("failed"), 0u);
  EXPECT_EQ(counts.count("backend-1"), 0u);

  // Downloads served by the other backends complete whole: no resets.
  int others = 0;
  for (int d = 0; d < 6; ++d) {
    ASSERT_TRUE(downloads[d].wait(60s)) << downloads[d].output();
    std::ifstream f(dir / ("d" + std::to_string(d)));
    std::string first;
    std::getline(f, first);
    if (first == "backend-1" || first.empty()) continue;
    ++others;
    EXPECT_NE(downloads[d].output().find("exit=0"), std::string::npos) << downloads[d].output();
    EXPECT_EQ(std::filesystem::file_size(dir / ("d" + std::to_string(d))),
              first.size() + 1 + (8u << 20));
  }
  EXPECT_GT(others, 0);

  // Brought back, it turns healthy and takes flows again.
  nginx_[1] = std::make_unique<Process>(topology_->start_nginx(1));
  ASSERT_TRUE(wait_state("10.99.0.11:80", "healthy", 30s));
  EXPECT_GT(spread(45).count("backend-1"), 0u);
}

TEST_F(ControlPlaneE2E, SluicectlRegistersDeregistersAndDrains) {
  all_healthy();
  // A keep-alive connection on backend 2 survives its deregistration (draining).
  const std::filesystem::path out = topology_->run_dir() / "drain.bin";
  Process slow;
  std::string first;
  for (int attempt = 0; attempt < 20 && first != "backend-2"; ++attempt) {
    slow = topology_->spawn_in(topology_->client_ns(),
                               {"sh", "-c",
                                "curl -sS --limit-rate 1M --max-time 60 -o " + out.string() +
                                    " http://10.99.0.100/big.bin; echo exit=$?"},
                               "drain-download");
    std::this_thread::sleep_for(500ms);
    std::ifstream f(out);
    std::getline(f, first);
    if (first != "backend-2") slow.stop(SIGKILL, 2s);
  }
  ASSERT_EQ(first, "backend-2") << "no download landed on backend 2";

  CommandResult r = sluicectl("deregister web 10.99.0.12:80");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("draining"), std::string::npos) << r.output;
  EXPECT_EQ(target_states()["10.99.0.12:80"], "draining");
  auto counts = spread(30);
  EXPECT_EQ(counts.count("backend-2"), 0u);
  EXPECT_EQ(counts.count("failed"), 0u);
  ASSERT_TRUE(slow.wait(60s));
  EXPECT_NE(slow.output().find("exit=0"), std::string::npos) << slow.output();
  EXPECT_EQ(std::filesystem::file_size(out), first.size() + 1 + (8u << 20));

  // Registered again: checked from the start, then taking flows.
  r = sluicectl("register web 10.99.0.12:80 --weight 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(wait_state("10.99.0.12:80", "healthy", 30s));
  EXPECT_GT(spread(45).count("backend-2"), 0u);

  // Drained by the operator: listed, no new flows.
  r = sluicectl("drain web 10.99.0.10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  counts = spread(30);
  EXPECT_EQ(counts.count("backend-0"), 0u);
  r = sluicectl("register web 10.99.0.10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(wait_state("10.99.0.10:80", "healthy", 30s));

  r = sluicectl("deregister web 10.99.0.99:80");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("TargetNotFound"), std::string::npos) << r.output;
}

TEST_F(ControlPlaneE2E, AnInvalidReloadIsRejectedAndTrafficIsUntouched) {
  all_healthy();
  const uint64_t generation = sluicectl_json("status")["generation"].get<uint64_t>();
  std::ofstream(cp_config_) << controlplane_yaml(socket_,
                                                 "  - {name: bad, vip: 10.99.0.300, protocol: tcp,"
                                                 " port: 80, target_group: web}\n");
  const CommandResult r = sluicectl("reload");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("InvalidConfiguration"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("vip"), std::string::npos) << r.output;
  std::ofstream(cp_config_) << controlplane_yaml(socket_);
  EXPECT_EQ(sluicectl_json("status")["generation"].get<uint64_t>(), generation);
  const auto counts = spread(30);
  EXPECT_EQ(counts.count("failed"), 0u);
  EXPECT_EQ(counts.size(), 3u);
}

TEST_F(ControlPlaneE2E, TheDataplaneOutlivesTheControlPlaneAndARestartedOneResyncs) {
  all_healthy();
  Process load = topology_->spawn_in(
      topology_->client_ns(),
      {"sh", "-c",
       "ok=0; bad=0; for i in $(seq 80); do if curl -s --max-time 5 -o /dev/null "
       "http://10.99.0.100/; then ok=$((ok+1)); else bad=$((bad+1)); fi; done; "
       "echo ok=$ok bad=$bad"},
      "load");
  std::this_thread::sleep_for(300ms);
  controlplane_->stop(SIGKILL, 5s);
  ASSERT_TRUE(load.wait(120s));
  EXPECT_NE(load.output().find("ok=80 bad=0"), std::string::npos) << load.output();

  start_controlplane();
  EXPECT_TRUE(sluicectl_json("status")["dataplane"]["connected"].get<bool>());
  all_healthy();
  EXPECT_EQ(spread(30).count("failed"), 0u);

  // A restarted dataplane starts with no services; the control plane gives it the current ones.
  ASSERT_EQ(dataplane_->stop(SIGTERM, 10s), 0) << dataplane_->output();
  start_dataplane();
  const auto deadline = Clock::now() + 20s;
  std::map<std::string, int> counts;
  while (Clock::now() < deadline) {
    counts = spread(6);
    if (counts.count("failed") == 0) break;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(counts.count("failed"), 0u) << controlplane_->output();
}

}  // namespace
}  // namespace sluice::e2e
