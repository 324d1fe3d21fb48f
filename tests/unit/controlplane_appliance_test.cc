// The control plane's logic layer, its JSON configuration dump, its Prometheus writer and the
// REST API's target syntax. The Appliance runs its real health checker; the dataplane behind it
// is a recorder of the snapshots it is sent (the real one is exercised by the e2e suite).
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "appliance.h"
#include "config_json.h"
#include "prometheus_text.h"
#include "rest_api.h"

namespace sluice::controlplane {
namespace {

using namespace std::chrono_literals;

class RecordingDataplane : public DataplaneSink {
 public:
  bool ensure_connected(std::string* error) override {
    if (!reachable) {
      *error = "unreachable";
      connected_ = false;
      return false;
    }
    if (!connected_) ++serial_;
    connected_ = true;
    return true;
  }
  bool connected() const override { return connected_; }
  uint64_t connection_serial() const override { return serial_; }
  int fd() const override { return -1; }
  std::optional<control::Hello> peer() const override {
    return control::Hello{.role = "dataplane", .instance = "test", .pid = 1, .workers = 1};
  }
  std::optional<control::SnapshotResult> apply(const control::ApplySnapshot& s,
                                               std::string*) override {
    applied.push_back(s);
    return control::SnapshotResult{.generation = s.generation, .ok = !reject, .error = reject_why};
  }
  std::optional<control::StatsReply> stats(std::string*) override {
    control::StatsReply r;
    r.generation = applied.empty() ? 0 : applied.back().generation;
    r.tsc_hz = 1'000'000'000;
    r.cores.push_back({.lcore = 1,
                       .loops = 10,
                       .rx_packets = 7,
                       .max_loop_cycles = 2000,
                       .loop_cycles_log2 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 2}});
    control::ServiceStats s{.name = "web"};
    s.per_core.push_back({.packets = 5, .bytes = 500, .new_flows = 2, .active_flows = 1});
    s.per_core.push_back({.packets = 1, .bytes = 100, .new_flows = 1, .active_flows = 0});
    r.services.push_back(s);
    return r;
  }
  void drop() { connected_ = false; }

  bool reachable = true;
  bool reject = false;
  std::string reject_why;
  std::vector<control::ApplySnapshot> applied;

 private:
  bool connected_ = false;
  uint64_t serial_ = 0;
};

constexpr const char* kConfig = R"(
dataplane:
  control_socket: /run/sluice-test/control.sock
ports:
  - name: lan
    device: net_ring0
    addresses: [10.99.0.2/24]
target_groups:
  - name: web
    protocol: tcp
    port: 8080
    targets:
      - {address: 10.99.0.10}
      - {address: 10.99.0.11, weight: 2}
    health_check: {protocol: tcp, interval_s: 300, timeout_s: 2}
    deregistration_delay_s: 0
  - name: slow
    protocol: tcp
    port: 9000
    targets: [{address: 10.99.0.20}]
    health_check: {protocol: tcp, interval_s: 300, timeout_s: 2}
    deregistration_delay_s: 3600
services:
  - name: web
    vip: 10.99.0.100
    protocol: tcp
    port: 80
    target_group: web
  - name: slow
    vip: 10.99.0.101
    protocol: tcp
    port: 90
    target_group: slow
)";

IpAddress ip(const char* s) {
  return *parse_ip_address(s);
}

ControlConfig parse(const std::string& text) {
  return parse_control_config(text, "test.yaml");
}

// The backends of one service in the last snapshot, as "address:port/weight".
std::vector<std::string> backends(const RecordingDataplane& dp, const std::string& service) {
  std::vector<std::string> out;
  if (dp.applied.empty()) return out;
  for (const auto& s : dp.applied.back().services) {
    if (s.name != service) continue;
    for (const auto& b : s.backends) {
      out.push_back(format_endpoint(b.address, b.port) + "/" + std::to_string(b.weight));
    }
  }
  return out;
}

class ApplianceTest : public ::testing::Test {
 protected:
  void SetUp() override { appliance = std::make_unique<Appliance>(parse(kConfig), "", dp, 1); }
  void settle() {
    for (int i = 0; i < 3; ++i) appliance->poll(0ms);
  }

  RecordingDataplane dp;
  std::unique_ptr<Appliance> appliance;
};

TEST_F(ApplianceTest, FirstConnectionGetsTheWholeConfigurationFailingOpen) {
  settle();
  ASSERT_EQ(dp.applied.size(), 1u);
  // No target has passed a check yet: every one takes its full weight (fail-open).
  EXPECT_EQ(backends(dp, "web"),
            (std::vector<std::string>{"10.99.0.10:8080/1", "10.99.0.11:8080/2"}));
  EXPECT_EQ(backends(dp, "slow"), (std::vector<std::string>{"10.99.0.20:9000/1"}));
  EXPECT_EQ(dp.applied[0].nat_addresses, std::vector<IpAddress>{ip("10.99.0.2")});
  settle();
  EXPECT_EQ(dp.applied.size(), 1u) << "nothing changed, nothing pushed";
}

TEST_F(ApplianceTest, RegisterSetWeightDeregisterAndDrainReachTheDataplane) {
  settle();
  Json r = appliance->register_target({"web", ip("10.99.0.12"), 0}, 3);
  EXPECT_TRUE(r["dataplane"]["applied"].get<bool>());
  EXPECT_EQ(backends(dp, "web"), (std::vector<std::string>{"10.99.0.10:8080/1", "10.99.0.11:8080/2",
                                                           "10.99.0.12:8080/3"}));
  appliance->set_weight({"web", ip("10.99.0.10"), 8080}, 5);
  EXPECT_EQ(backends(dp, "web")[0], "10.99.0.10:8080/5");

  // Deregistration with a zero delay: weight 0 at once, gone once the checker moves it to unused.
  appliance->deregister_target({"web", ip("10.99.0.11"), 0});
  EXPECT_EQ(backends(dp, "web")[1], "10.99.0.12:8080/3");
  EXPECT_EQ(backends(dp, "web").size(), 2u);

  // A drain keeps the target listed at weight 0 for the deregistration delay.
  r = appliance->drain_target({"slow", ip("10.99.0.20"), 9000});
  EXPECT_EQ(r["deregistration_delay_s"], 3600);
  EXPECT_EQ(backends(dp, "slow"), (std::vector<std::string>{"10.99.0.20:9000/0"}));
  const Json group = appliance->target_group("slow");
  EXPECT_EQ(group["targets"][0]["state"], "draining");
  EXPECT_TRUE(group["targets"][0]["drained_by_operator"].get<bool>());

  // Registering it again ends the drain: it starts over from initial (and fails open).
  appliance->register_target({"slow", ip("10.99.0.20"), 9000}, 1);
  EXPECT_EQ(backends(dp, "slow"), (std::vector<std::string>{"10.99.0.20:9000/1"}));
}

TEST_F(ApplianceTest, DeregisteredTargetsDrainForTheGroupsDelay) {
  settle();
  appliance->register_target({"slow", ip("10.99.0.21"), 0}, 1);
  appliance->deregister_target({"slow", ip("10.99.0.21"), 0});
  settle();
  // Still listed at weight 0 (existing flows keep it) though no longer in the group.
  EXPECT_EQ(backends(dp, "slow"),
            (std::vector<std::string>{"10.99.0.20:9000/1", "10.99.0.21:9000/0"}));
  const Json group = appliance->target_group("slow");
  ASSERT_EQ(group["targets"].size(), 2u);
  EXPECT_EQ(group["targets"][1]["state"], "draining");
  EXPECT_GT(group["targets"][1]["drain_remaining_s"].get<double>(), 3500);
}

TEST_F(ApplianceTest, ErrorsNameWhatIsWrong) {
  settle();
  try {
    appliance->register_target({"nope", ip("10.99.0.12"), 0}, 1);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.code, "TargetGroupNotFound");
  }
  try {
    appliance->deregister_target({"web", ip("10.99.0.99"), 0});
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code, "TargetNotFound");
  }
  try {
    appliance->register_target({"web", ip("fd00::1"), 0}, 1);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code, "InvalidTarget");
    EXPECT_NE(std::string(e.what()).find("address family"), std::string::npos);
  }
  EXPECT_THROW(appliance->service("nope"), ApiError);
  EXPECT_EQ(dp.applied.size(), 1u);
}

TEST_F(ApplianceTest, ADataplaneThatComesBackGetsTheCurrentConfigurationAgain) {
  settle();
  dp.reachable = false;
  dp.drop();
  Json r = appliance->set_weight({"web", ip("10.99.0.10"), 0}, 7);
  EXPECT_FALSE(r["dataplane"]["applied"].get<bool>());
  EXPECT_EQ(dp.applied.size(), 1u);
  dp.reachable = true;
  std::this_thread::sleep_for(1100ms);  // the reconnect interval
  settle();
  ASSERT_EQ(dp.applied.size(), 2u);
  EXPECT_EQ(backends(dp, "web")[0], "10.99.0.10:8080/7");
  EXPECT_GT(dp.applied[1].generation, dp.applied[0].generation);
}

TEST_F(ApplianceTest, ARejectedSnapshotIsReported) {
  settle();
  dp.reject = true;
  dp.reject_why = "backend 10.99.0.12 is on no port's link";
  const Json r = appliance->register_target({"web", ip("10.99.0.12"), 0}, 1);
  EXPECT_FALSE(r["dataplane"]["applied"].get<bool>());
  EXPECT_EQ(r["dataplane"]["error"], dp.reject_why);
  EXPECT_EQ(appliance->status()["last_error"], dp.reject_why);
  EXPECT_EQ(appliance->status()["push_failures"], 1);
}

TEST(ApplianceReload, AnInvalidFileChangesNothingAndAValidOneApplies) {
  const std::string path = ::testing::TempDir() + "/sluice-appliance-reload.yaml";
  std::ofstream(path) << kConfig;
  RecordingDataplane dp;
  Appliance a(load_control_config_file(path).config.value(), path, dp, 1);
  a.poll(0ms);
  ASSERT_EQ(dp.applied.size(), 1u);

  std::ofstream(path) << std::string(kConfig) + "  - name: broken\n    vip: 10.99.0.300\n";
  try {
    a.reload();
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code, "InvalidConfiguration");
    EXPECT_NE(std::string(e.what()).find("vip"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(":3"), std::string::npos)
        << "names the line: " << e.what();
  }
  EXPECT_EQ(dp.applied.size(), 1u);
  EXPECT_EQ(a.services().size(), 2u);

  std::string next = kConfig;
  next.replace(next.find("- {address: 10.99.0.11, weight: 2}"), 34, "- {address: 10.99.0.13}");
  std::ofstream(path) << next;
  a.reload();
  ASSERT_EQ(dp.applied.size(), 2u);
  EXPECT_EQ(backends(dp, "web"),
            (std::vector<std::string>{"10.99.0.10:8080/1", "10.99.0.13:8080/1"}));
  std::remove(path.c_str());
}

TEST_F(ApplianceTest, StatsAndMetricsSumThePerCoreCounters) {
  settle();
  const Json s = appliance->stats();
  EXPECT_EQ(s["services"][0]["packets"], 6);
  EXPECT_EQ(s["services"][0]["new_flows"], 3);
  EXPECT_EQ(s["cores"][0]["max_loop_us"], 2.0);
  const std::string m = appliance->metrics();
  EXPECT_NE(m.find("sluice_service_packets_total{service=\"web\"} 6\n"), std::string::npos) << m;
  EXPECT_NE(m.find("sluice_core_rx_packets_total{core=\"1\"} 7\n"), std::string::npos);
  // Passes of 1024-2047 and 2048 or more cycles at 1 GHz.
  EXPECT_NE(m.find("sluice_core_loop_seconds_bucket{core=\"1\",le=\"2.048e-06\"} 8\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("sluice_core_loop_seconds_bucket{core=\"1\",le=\"+Inf\"} 10\n"),
            std::string::npos);
  EXPECT_NE(m.find("sluice_core_loop_seconds_count{core=\"1\"} 10\n"), std::string::npos);
  EXPECT_NE(m.find("sluice_target_health{target_group=\"web\",target=\"10.99.0.10:8080\","
                   "state=\"initial\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("# TYPE sluice_health_check_duration_seconds histogram\n"), std::string::npos);
  EXPECT_EQ(m.find("# TYPE sluice_target_health gauge"),
            m.rfind("# TYPE sluice_target_health gauge"))
      << "one TYPE line per family";
}

TEST(ConfigJson, TheDumpLoadsBackToTheSameConfiguration) {
  std::ifstream in(std::string(SLUICE_SOURCE_ROOT) + "/examples/controlplane.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const ControlConfig first = parse(text);
  const Json dumped = config_to_json(first);
  const ControlConfig second = parse(dumped.dump(2));
  EXPECT_EQ(config_to_json(second), dumped);
  EXPECT_EQ(second.target_groups.size(), first.target_groups.size());
  EXPECT_EQ(second.listeners.at(0).rules.size(), first.listeners.at(0).rules.size());
}

TEST(PrometheusText, GroupsFamiliesAndEscapesLabels) {
  PrometheusText p;
  p.counter("a_total", "A things", {{"k", "x\"y\\z\nw"}}, 1);
  p.gauge("b", "B", {}, 0.5);
  p.counter("a_total", "A things", {{"k", "2"}}, 2);
  const double bounds[] = {0.1, 1};
  const uint64_t counts[] = {1, 2, 3};
  p.histogram("h_seconds", "H", {{"g", "1"}}, bounds, counts, 4.5);
  EXPECT_EQ(p.take(),
            "# HELP a_total A things\n# TYPE a_total counter\n"
            "a_total{k=\"x\\\"y\\\\z\\nw\"} 1\na_total{k=\"2\"} 2\n"
            "# HELP b B\n# TYPE b gauge\nb 0.5\n"
            "# HELP h_seconds H\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{g=\"1\",le=\"0.1\"} 1\nh_seconds_bucket{g=\"1\",le=\"1\"} 3\n"
            "h_seconds_bucket{g=\"1\",le=\"+Inf\"} 6\nh_seconds_sum{g=\"1\"} 4.5\n"
            "h_seconds_count{g=\"1\"} 6\n");
}

TEST(RestTargets, AddressesWithAndWithoutPorts) {
  EXPECT_EQ(parse_target("10.0.0.1:80"), (std::pair{ip("10.0.0.1"), uint16_t{80}}));
  EXPECT_EQ(parse_target("10.0.0.1"), (std::pair{ip("10.0.0.1"), uint16_t{0}}));
  EXPECT_EQ(parse_target("[fd00::1]:443"), (std::pair{ip("fd00::1"), uint16_t{443}}));
  EXPECT_EQ(parse_target("fd00::1"), (std::pair{ip("fd00::1"), uint16_t{0}}));
  for (const char* bad : {"", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "[fd00::1",
                          "[fd00::1]:", "[fd00::1]80", "host:80", "10.0.0.1:8x"}) {
    EXPECT_FALSE(parse_target(bad)) << bad;
  }
}

// The REST API over real HTTP: routes, JSON errors, and the bearer token.
TEST(RestApi, RoutesErrorsAndTheBearerToken) {
  RecordingDataplane dp;
  Appliance a(parse(kConfig), "", dp, 1);
  a.poll(0ms);
  httplib::Server server;
  install_routes(server, a, "0123456789abcdef0123");
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);
  httplib::Client c("127.0.0.1", port);

  auto res = c.Get("/v1/services");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(Json::parse(res->body)["error"]["code"], "Unauthorized");

  c.set_bearer_token_auth("0123456789abcdef0123");
  res = c.Get("/v1/services");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Json::parse(res->body).size(), 2u);

  res = c.Post("/v1/target-groups/web/targets", R"({"target": "10.99.0.12:8080", "weight": 4})",
               "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201) << res->body;
  EXPECT_EQ(backends(dp, "web").back(), "10.99.0.12:8080/4");

  res = c.Put("/v1/target-groups/web/targets/10.99.0.12:8080/weight", R"({"weight": 1000})",
              "application/json");
  EXPECT_EQ(res->status, 400);
  res = c.Post("/v1/target-groups/web/targets", "{not json", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Json::parse(res->body)["error"]["code"], "InvalidRequest");
  res = c.Delete("/v1/target-groups/web/targets/10.99.0.12:8080");
  EXPECT_EQ(res->status, 200) << res->body;
  res = c.Delete("/v1/target-groups/web/targets/10.99.0.12:8080");
  EXPECT_EQ(res->status, 404);
  res = c.Get("/v1/nothing-here");
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(Json::parse(res->body)["error"]["code"], "NotFound");
  res = c.Delete("/v1/target-groups/web/targets/10.99.0.%FF:80");
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Json::parse(res->body)["error"]["code"], "InvalidTarget");
  res = c.Get("/metrics");
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("sluice_dataplane_connected 1"), std::string::npos);
  server.stop();
  t.join();
}

}  // namespace
}  // namespace sluice::controlplane
