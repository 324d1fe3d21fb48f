#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "control_config.h"
#include "health_state.h"
#include "lb_config.h"
#include "lb_snapshot.h"

namespace sluice::controlplane::snapshot {
namespace {

using namespace std::chrono_literals;
using health::CheckResult;
using health::TargetHealth;
using health::TargetState;

const TimePoint kT0 = TimePoint{} + 1000s;

IpAddress ip(const char* text) {
  return *parse_ip_address(text);
}

TargetHealth healthy_at(TimePoint since) {
  TargetHealth h;
  h.record(CheckResult::passed(1ms, since - 1s), 2, 2);
  h.record(CheckResult::passed(1ms, since), 2, 2);
  EXPECT_EQ(h.state(), TargetState::kHealthy);
  return h;
}

TargetHealth unhealthy() {
  TargetHealth h;
  h.record(CheckResult::failed(health::FailReason::kRefused, 1ms, kT0 - 2s), 2, 2);
  h.record(CheckResult::failed(health::FailReason::kRefused, 1ms, kT0 - 1s), 2, 2);
  EXPECT_EQ(h.state(), TargetState::kUnhealthy);
  return h;
}

TargetHealth draining_since(TimePoint at) {
  TargetHealth h = healthy_at(at - 100s);
  h.deregister(at);
  EXPECT_EQ(h.state(), TargetState::kDraining);
  return h;
}

// One NAT service on 203.0.113.10:80 over group "g" (port 8080) with three targets of weight 4.
ControlConfig make_config(uint32_t slow_start_s = 0) {
  ControlConfig c;
  PortConfig port;
  port.name = "inside";
  port.addresses.push_back(*parse_ip_prefix("10.0.0.1/24"));
  c.ports.push_back(port);
  TargetGroup g;
  g.name = "g";
  g.port = 8080;
  g.deregistration_delay_s = 60;
  g.slow_start_s = slow_start_s;
  g.targets = {{ip("10.0.0.11"), 0, 4}, {ip("10.0.0.12"), 8080, 4}, {ip("10.0.0.13"), 9090, 4}};
  c.target_groups.push_back(g);
  Service s;
  s.name = "web";
  s.vip = ip("203.0.113.10");
  s.port = 80;
  s.target_group = "g";
  c.services.push_back(s);
  return c;
}

TargetKey key(const char* address, uint16_t port) {
  return {"g", ip(address), port};
}

HealthView all_healthy() {
  HealthView v;
  v.targets[key("10.0.0.11", 8080)] = healthy_at(kT0 - 600s);
  v.targets[key("10.0.0.12", 8080)] = healthy_at(kT0 - 600s);
  v.targets[key("10.0.0.13", 9090)] = healthy_at(kT0 - 600s);
  return v;
}

std::vector<uint32_t> weights(const lb::LbConfig& lb) {
  std::vector<uint32_t> w;
  for (const auto& b : lb.services.at(0).backends) w.push_back(b.weight);
  return w;
}

TEST(ControlplaneSnapshot, AllHealthyTakeFullWeights) {
  const lb::LbConfig lb = compile_lb_config(make_config(), all_healthy(), kT0);
  ASSERT_EQ(lb.services.size(), 1u);
  const lb::ServiceConfig& s = lb.services[0];
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.vip, ip("203.0.113.10"));
  EXPECT_EQ(s.family, kFamilyV4);
  EXPECT_EQ(s.protocol, lb::kProtoTcp);
  EXPECT_EQ(s.port, 80);
  EXPECT_EQ(s.mode, lb::ForwardingMode::kNat);
  ASSERT_EQ(s.backends.size(), 3u);
  EXPECT_EQ(s.backends[0].address, ip("10.0.0.11"));
  EXPECT_EQ(s.backends[0].port, 8080);  // port 0: the group's port
  EXPECT_EQ(s.backends[2].port, 9090);
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{4, 4, 4}));
  ASSERT_EQ(lb.nat_addresses.size(), 1u);
  EXPECT_EQ(lb.nat_addresses[0], ip("10.0.0.1"));
  EXPECT_NO_THROW(lb::validate_lb_config(lb));
}

TEST(ControlplaneSnapshot, BaseSettingsAreCarried) {
  lb::LbConfig base;
  base.flow_table_size = 4096;
  base.maglev_table_size = 251;
  base.timeouts.udp_s = 30;
  base.nat_addresses = {ip("10.0.0.200")};
  base.services.push_back({.name = "stale"});
  const lb::LbConfig lb = compile_lb_config(make_config(), all_healthy(), kT0, base);
  EXPECT_EQ(lb.flow_table_size, 4096u);
  EXPECT_EQ(lb.maglev_table_size, 251u);
  EXPECT_EQ(lb.timeouts.udp_s, 30u);
  EXPECT_EQ(lb.nat_addresses, (std::vector<IpAddress>{ip("10.0.0.200")}));
  ASSERT_EQ(lb.services.size(), 1u);
  EXPECT_EQ(lb.services[0].name, "web");
  EXPECT_NO_THROW(lb::validate_lb_config(lb));
}

TEST(ControlplaneSnapshot, UnhealthyTargetKeepsItsPlaceWithWeightZero) {
  HealthView v = all_healthy();
  v.targets[key("10.0.0.12", 8080)] = unhealthy();
  const lb::LbConfig lb = compile_lb_config(make_config(), v, kT0);
  ASSERT_EQ(lb.services[0].backends.size(), 3u);
  EXPECT_EQ(lb.services[0].backends[1].address, ip("10.0.0.12"));
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{4, 0, 4}));
  EXPECT_NO_THROW(lb::validate_lb_config(lb));
}

TEST(ControlplaneSnapshot, AllUnhealthyFailOpenToRegisteredNonDraining) {
  HealthView v;
  v.targets[key("10.0.0.11", 8080)] = unhealthy();
  v.targets[key("10.0.0.12", 8080)] = unhealthy();
  v.targets[key("10.0.0.13", 9090)] = draining_since(kT0 - 10s);
  const lb::LbConfig lb = compile_lb_config(make_config(), v, kT0);
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{4, 4, 0}));
  EXPECT_NO_THROW(lb::validate_lb_config(lb));
}

TEST(ControlplaneSnapshot, InitialTargetsTakeNoTrafficUnlessFailOpen) {
  HealthView v;  // nothing known: every target is initial, none healthy -> fail-open
  EXPECT_EQ(weights(compile_lb_config(make_config(), v, kT0)), (std::vector<uint32_t>{4, 4, 4}));
  v.targets[key("10.0.0.11", 8080)] = healthy_at(kT0 - 600s);
  v.targets[key("10.0.0.12", 8080)] = TargetHealth{};  // registered, never checked
  EXPECT_EQ(weights(compile_lb_config(make_config(), v, kT0)), (std::vector<uint32_t>{4, 0, 0}));
}

TEST(ControlplaneSnapshot, DrainingStaysWithWeightZeroUntilTheDelayPasses) {
  ControlConfig c = make_config();
  HealthView v = all_healthy();
  // 10.0.0.13:9090 was deregistered: gone from the configuration, draining in the health view.
  c.target_groups[0].targets.pop_back();
  v.targets[key("10.0.0.13", 9090)] = draining_since(kT0);
  // 10.0.0.12 is still listed but draining too.
  v.targets[key("10.0.0.12", 8080)] = draining_since(kT0);

  lb::LbConfig lb = compile_lb_config(c, v, kT0 + 59s);
  ASSERT_EQ(lb.services[0].backends.size(), 3u);
  EXPECT_EQ(lb.services[0].backends[2].address, ip("10.0.0.13"));
  EXPECT_EQ(lb.services[0].backends[2].port, 9090);
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{4, 0, 0}));
  EXPECT_NO_THROW(lb::validate_lb_config(lb));

  lb = compile_lb_config(c, v, kT0 + 60s);
  ASSERT_EQ(lb.services[0].backends.size(), 1u);
  EXPECT_EQ(lb.services[0].backends[0].address, ip("10.0.0.11"));

  // Once the state machine has moved them to unused they stay out.
  v.targets[key("10.0.0.13", 9090)].advance(kT0 + 60s, 60s);
  EXPECT_EQ(v.targets[key("10.0.0.13", 9090)].state(), TargetState::kUnused);
  lb = compile_lb_config(c, v, kT0 + 61s);
  EXPECT_EQ(lb.services[0].backends.size(), 1u);
}

TEST(ControlplaneSnapshot, DrainingTargetsOfOtherGroupsAreNotMixedIn) {
  HealthView v = all_healthy();
  v.targets[{"other", ip("10.0.0.99"), 8080}] = draining_since(kT0);
  v.targets[{"h", ip("10.0.0.98"), 8080}] = draining_since(kT0);
  EXPECT_EQ(compile_lb_config(make_config(), v, kT0).services[0].backends.size(), 3u);
}

TEST(ControlplaneSnapshot, SlowStartScalesHealthyWeightNeverToZero) {
  HealthView v = all_healthy();
  v.targets[key("10.0.0.11", 8080)] = healthy_at(kT0 - 30s);  // halfway through 60 s
  v.targets[key("10.0.0.12", 8080)] = healthy_at(kT0);        // just became healthy
  const lb::LbConfig lb = compile_lb_config(make_config(60), v, kT0);
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{2, 1, 4}));
}

TEST(ControlplaneSnapshot, ExampleCompilesAndValidates) {
  LoadResult r = load_control_config_file(SLUICE_SOURCE_ROOT "/examples/controlplane.yaml");
  ASSERT_TRUE(r.ok()) << r.error;
  const lb::LbConfig lb = compile_lb_config(*r.config, HealthView{}, kT0);
  EXPECT_NO_THROW(lb::validate_lb_config(lb));
  ASSERT_EQ(lb.services.size(), 2u);
  const lb::ServiceConfig& web = lb.services[0];
  EXPECT_EQ(web.name, "web");
  ASSERT_EQ(web.backends.size(), 3u);
  // Nothing checked yet: fail-open at configured weights (the weight-0 target stays at 0).
  EXPECT_EQ(weights(lb), (std::vector<uint32_t>{1, 2, 0}));
  EXPECT_EQ(web.backends[2].port, 8081);
  const lb::ServiceConfig& dns = lb.services[1];
  EXPECT_EQ(dns.family, kFamilyV6);
  EXPECT_EQ(dns.protocol, lb::kProtoUdp);
  EXPECT_EQ(dns.mode, lb::ForwardingMode::kTunnel);
  EXPECT_EQ(dns.tunnel, lb::TunnelType::kGue);
  EXPECT_FALSE(dns.track_udp_flows);
  EXPECT_EQ(dns.backends.size(), 2u);
  EXPECT_EQ(lb.nat_addresses, (std::vector<IpAddress>{ip("10.99.0.1")}));
}

}  // namespace
}  // namespace sluice::controlplane::snapshot
