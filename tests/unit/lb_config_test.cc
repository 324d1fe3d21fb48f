#include <gtest/gtest.h>

#include <algorithm>

#include "config.h"
#include "control_config.h"
#include "lb_config.h"
#include "lb_runtime.h"
#include "lb_snapshot.h"

namespace sluice::lb {
namespace {

LbConfig parse(const std::string& yaml) {
  YamlField root = YamlField::document(yaml, "lb.yaml");
  root.expect_map({"lb", "services"});
  LbConfig c;
  if (auto f = root.child("lb"); f.present()) parse_lb_section(f, c);
  if (auto f = root.child("services"); f.present()) parse_services_section(f, c);
  validate_lb_config(c);
  return c;
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr const char* kValid = R"(lb:
  flow_table_size: 65536
  maglev_table_size: 251
  max_backends: 200000
  build_threads: 3
  new_flows_per_second: 100000
  timeouts: {tcp_syn_s: 3, tcp_established_s: 600, tcp_closing_s: 5, udp_s: 30}
  nat_addresses: [10.99.0.3, "fd99::3"]
  exception_interface: sl-exc
services:
  - name: web
    vip: 10.99.0.100
    protocol: tcp
    port: 80
    backends:
      - {address: 10.99.0.10, weight: 2}
      - {address: 10.99.0.11, port: 8080}
  - name: dns6
    vip: "fd99::100"
    protocol: udp
    port: 0
    mode: tunnel
    tunnel: gue
    gue_port: 9999
    hash_source_port: false
    track_udp_flows: false
    backends: [{address: "fd99::10"}]
)";

TEST(LbConfig, ParsesEveryKey) {
  LbConfig c = parse(kValid);
  EXPECT_EQ(c.flow_table_size, 65536u);
  EXPECT_EQ(c.maglev_table_size, 251u);
  EXPECT_EQ(c.max_backends, 200000u);
  EXPECT_EQ(c.build_threads, 3u);
  EXPECT_EQ(c.new_flows_per_second, 100000u);
  EXPECT_EQ(c.timeouts.tcp_syn_s, 3u);
  EXPECT_EQ(c.timeouts.tcp_established_s, 600u);
  EXPECT_EQ(c.timeouts.udp_s, 30u);
  ASSERT_EQ(c.nat_addresses.size(), 2u);
  EXPECT_EQ(format_ip_address(c.nat_addresses[1]), "fd99::3");
  EXPECT_EQ(c.exception_interface, "sl-exc");
  ASSERT_EQ(c.services.size(), 2u);
  const ServiceConfig& web = c.services[0];
  EXPECT_EQ(format_ip_address(web.vip), "10.99.0.100");
  EXPECT_EQ(web.family, kFamilyV4);
  EXPECT_EQ(web.protocol, kProtoTcp);
  EXPECT_EQ(web.mode, ForwardingMode::kNat);
  ASSERT_EQ(web.backends.size(), 2u);
  EXPECT_EQ(web.backends[0].weight, 2u);
  EXPECT_EQ(web.backends[0].port, 0);
  EXPECT_EQ(web.backends[1].port, 8080);
  const ServiceConfig& dns = c.services[1];
  EXPECT_EQ(dns.family, kFamilyV6);
  EXPECT_EQ(dns.protocol, kProtoUdp);
  EXPECT_EQ(dns.mode, ForwardingMode::kTunnel);
  EXPECT_EQ(dns.tunnel, TunnelType::kGue);
  EXPECT_EQ(dns.gue_port, 9999);
  EXPECT_FALSE(dns.hash_source_port);
  EXPECT_FALSE(dns.track_udp_flows);
}

TEST(LbConfig, Errors) {
  const std::string nat = "lb: {nat_addresses: [10.0.0.1]}\n";
  struct Case {
    std::string yaml, expected;
  } cases[] = {
      {"lb: {maglev_table_size: 65536}\n",
       "lb.yaml:1: lb.maglev_table_size: must be a prime number"},
      {"lb: {flow_table_size: 10}\n", "lb.flow_table_size: must be between 1024"},
      {"lb: {build_threads: 0}\n", "lb.build_threads: must be between 1 and 64"},
      {"lb: {max_backends: 1048576}\n", "lb.max_backends: must be between 1 and 1048575"},
      {"lb: {gateways: [gw]}\n", "lb.gateways[0]: 'gw' is not an IPv4 or IPv6 address"},
      {"lb: {bogus: 1}\n", "lb.yaml:1: lb.bogus: unknown key"},
      {"lb: {nat_addresses: [10.0.0.300]}\n",
       "lb.nat_addresses[0]: '10.0.0.300' is not an IPv4 or IPv6 address"},
      {"lb: {exception_interface: a-very-long-interface-name}\n", "at most 15 characters"},
      {"lb: {timeouts: {udp_s: 0}}\n", "lb.timeouts.udp_s: must be between 1"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: sctp, port: 1, backends: []}\n",
       "lb.yaml:3: services[0].protocol: 'sctp' is not one of tcp, udp"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1}\n",
       "lb.yaml:3: services[0].backends: is required"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, mode: magic, "
             "backends: []}\n",
       "services[0].mode: 'magic' is not one of nat, dsr, tunnel"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, backends: [{address: "
             "'fd00::1'}]}\n",
       "services[0].backends[0].address: backend and VIP must be of the same address family"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, backends: [{address: "
             "10.0.0.1, weight: -1}]}\n",
       "services[0].backends[0].weight: '-1' is not a whole number"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 70000, backends: []}\n",
       "services[0].port: must be between 0 and 65535"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, backends: []}\n"
             "  - {name: a, vip: 10.0.0.8, protocol: tcp, port: 1, backends: []}\n",
       "services[1].name: 'a' is used by another service"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, backends: []}\n"
             "  - {name: b, vip: 10.0.0.9, protocol: tcp, port: 1, backends: []}\n",
       "services[1]: 10.0.0.9 tcp port 1 is already a service"},
      {"services:\n  - {name: a, vip: 'fd00::9', protocol: tcp, port: 1, backends: []}\n",
       "services[0].mode: nat needs an lb.nat_addresses entry of the VIP's address family"},
      {nat + "services:\n  - {name: a, vip: 10.0.0.9, protocol: tcp, port: 1, hash_source_port: "
             "maybe, backends: []}\n",
       "services[0].hash_source_port: 'maybe' is not one of false, true"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.yaml);
    EXPECT_NE(message.find(c.expected), std::string::npos) << "yaml:\n"
                                                           << c.yaml << "message: " << message;
  }
}

// What the parser guarantees for a file is checked again for configurations that come from
// elsewhere (control-plane snapshots).
TEST(LbConfig, ValidationChecksWhatTheParserWouldHave) {
  LbConfig c;
  c.services.push_back(
      {.name = "a", .vip = *parse_ip_address("10.0.0.1"), .mode = ForwardingMode::kDsr});
  c.services[0].backends = {{*parse_ip_address("10.0.0.2")}};
  EXPECT_NO_THROW(validate_lb_config(c));
  auto error = [&](const LbConfig& bad) {
    try {
      validate_lb_config(bad);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  LbConfig bad = c;
  bad.services[0].protocol = kProtoIcmp;
  EXPECT_EQ(error(bad), "services[0].protocol: must be tcp or udp");
  bad = c;
  bad.services[0].family = kFamilyV6;
  EXPECT_EQ(error(bad), "services[0].family: does not match the VIP's address family");
  bad = c;
  bad.services[0].backends.push_back({*parse_ip_address("fd00::2")});
  EXPECT_EQ(error(bad),
            "services[0].backends[1].address: backend and VIP must be of the same address family");
}

TEST(LbConfig, AddressFormatting) {
  EXPECT_EQ(format_ip_address(*parse_ip_address("192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(parse_ip_address("192.0.2.1")->family(), kFamilyV4);
  EXPECT_EQ(format_ip_address(*parse_ip_address("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(parse_ip_address("2001:db8::1")->family(), kFamilyV6);
  auto p = parse_ip_prefix("10.1.2.3/23");
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->contains(*parse_ip_address("10.1.3.200")));
  EXPECT_FALSE(p->contains(*parse_ip_address("10.1.4.1")));
  EXPECT_FALSE(p->contains(*parse_ip_address("fd00::1")));
  auto p6 = parse_ip_prefix("fd99::2/64");
  ASSERT_TRUE(p6.has_value());
  EXPECT_TRUE(p6->contains(*parse_ip_address("fd99::ffff:1")));
  EXPECT_FALSE(p6->contains(*parse_ip_address("fd98::1")));
  EXPECT_FALSE(p6->contains(*parse_ip_address("10.0.0.1")));
  EXPECT_EQ(parse_ip_prefix("10.0.0.1")->length, 32);
  EXPECT_FALSE(parse_ip_prefix("10.0.0.1/33").has_value());
  EXPECT_FALSE(parse_ip_prefix("10.0.0.1/").has_value());
  EXPECT_FALSE(parse_ip_address("example.com").has_value());
}

}  // namespace
}  // namespace sluice::lb

namespace sluice::lb {
namespace {

// The shipped example is a configuration the balancer accepts and can compile: every backend is
// reachable on a link or through a gateway.
TEST(LbConfig, ExampleFileCompiles) {
  LbConfig lb;
  const std::vector<dataplane::ConfigSection> sections = {
      {"lb", [&](const YamlField& f) { parse_lb_section(f, lb); }},
      {"services", [&](const YamlField& f) { parse_services_section(f, lb); }},
  };
  const dataplane::DataplaneConfig config =
      dataplane::load_config_file(SLUICE_SOURCE_ROOT "/examples/lb.yaml", sections);
  dataplane::validate_config(config);
  validate_lb_config(lb);
  std::vector<LbPort> ports;
  for (const auto& p : config.ports) ports.push_back({.name = p.name, .addresses = p.addresses});
  const LbRuntime runtime(lb, ports);
  EXPECT_EQ(runtime.services().size(), 3u);
  ASSERT_NE(runtime.find_neighbor(*parse_ip_address("192.0.2.1")), nullptr)
      << "the gateway is a next hop";
}

// The control plane's example compiled against the dataplane's example for it: the dataplane
// would take the control plane's first snapshot.
TEST(LbConfig, ControlledExampleTakesTheControlPlanesSnapshot) {
  LbConfig base;
  const std::vector<dataplane::ConfigSection> sections = {
      {"lb", [&](const YamlField& f) { parse_lb_section(f, base); }},
  };
  const dataplane::DataplaneConfig config =
      dataplane::load_config_file(SLUICE_SOURCE_ROOT "/examples/lb-controlled.yaml", sections);
  dataplane::validate_config(config);
  EXPECT_EQ(config.control_socket, "/run/sluice/control.sock");
  const controlplane::LoadResult cp =
      controlplane::load_control_config_file(SLUICE_SOURCE_ROOT "/examples/controlplane.yaml");
  ASSERT_TRUE(cp.ok()) << cp.error;
  EXPECT_EQ(cp.config->dataplane.control_socket, config.control_socket);
  LbConfig next = controlplane::snapshot::compile_lb_config(*cp.config, {}, {}, base);
  validate_lb_config(next);
  std::vector<LbPort> ports;
  for (const auto& p : config.ports) ports.push_back({.name = p.name, .addresses = p.addresses});
  const LbRuntime runtime(next, ports);
  EXPECT_EQ(runtime.services().size(), cp.config->services.size());
}

}  // namespace
}  // namespace sluice::lb

namespace sluice::lb {
namespace {

const std::vector<LbPort> kLan = {{.name = "lan", .addresses = {*parse_ip_prefix("10.0.0.2/8")}}};

// DSR services s0, s1, ... with `backends(s)` backends each, 10.(1 + s / 256).(s % 256).(b + 1)
// of weights 1, 2, 3, 1, ...
LbConfig dsr_services(uint32_t services, uint32_t (*backends)(uint32_t), uint32_t table_size) {
  LbConfig c;
  c.maglev_table_size = table_size;
  for (uint32_t s = 0; s < services; ++s) {
    ServiceConfig sc{.name = "s" + std::to_string(s),
                     .vip = *parse_ip_address("10.200." + std::to_string(s / 256) + "." +
                                              std::to_string(s % 256)),
                     .port = 80,
                     .mode = ForwardingMode::kDsr};
    const std::string net =
        "10." + std::to_string(1 + s / 256) + "." + std::to_string(s % 256) + ".";
    for (uint32_t b = 0; b < backends(s); ++b)
      sc.backends.push_back({*parse_ip_address(net + std::to_string(b + 1)), 0, 1 + b % 3});
    c.services.push_back(sc);
  }
  return c;
}

// A rebuilt runtime shares the Maglev table of every service whose backends (address, port,
// weight, in order) and table size did not change, and builds the others; ids carry over.
TEST(LbRuntime, SharesUnchangedMaglevTables) {
  const LbConfig c = dsr_services(
      3, [](uint32_t) { return 5u; }, 251);
  const LbRuntime first(c, kLan);
  LbConfig next = c;
  next.services[1].backends[2].weight = 5;
  std::swap(next.services[2].backends[0], next.services[2].backends[1]);
  const LbRuntime second(next, kLan, &first);
  EXPECT_EQ(second.services()[0].maglev, first.services()[0].maglev);
  EXPECT_NE(second.services()[1].maglev, first.services()[1].maglev);
  EXPECT_NE(second.services()[2].maglev, first.services()[2].maglev);
  for (size_t s = 0; s < 3; ++s) EXPECT_EQ(second.services()[s].id, first.services()[s].id);
  EXPECT_EQ(second.services()[1].backends[2].id, first.services()[1].backends[2].id);
  EXPECT_EQ(second.services()[2].backends[0].id, first.services()[2].backends[1].id);
  EXPECT_EQ(second.services()[2].backends[1].id, first.services()[2].backends[0].id);

  LbConfig resized = c;
  resized.maglev_table_size = 257;
  const LbRuntime third(resized, kLan, &first);
  EXPECT_NE(third.services()[0].maglev, first.services()[0].maglev);
  EXPECT_EQ(third.services()[0].maglev->size(), 257u);
}

// Tables built on several threads are the tables built inline, and a service whose table cannot
// be built is named whichever thread found it.
TEST(LbRuntime, BuildsTablesOnThreads) {
  LbConfig c = dsr_services(
      20, [](uint32_t s) { return 1 + s; }, 1009);
  c.build_threads = 1;
  const LbRuntime inline_built(c, kLan);
  c.build_threads = 4;
  const LbRuntime threaded(c, kLan);
  for (size_t s = 0; s < c.services.size(); ++s) {
    const auto a = inline_built.services()[s].maglev->entries();
    const auto b = threaded.services()[s].maglev->entries();
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "service " << s;
  }
  c.services[13].backends.push_back(c.services[13].backends[0]);  // the same key twice
  try {
    const LbRuntime rejected(c, kLan);
    ADD_FAILURE() << "a duplicate backend was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("services[13]: "), std::string::npos) << e.what();
  }
}

// Backend ids go past 16 bits up to lb.max_backends, which the first runtime fixes for its
// successors; a configuration with more backends is rejected.
TEST(LbRuntime, BackendIdsUpToMaxBackends) {
  LbConfig c = dsr_services(
      700, [](uint32_t) { return 100u; }, 251);
  const LbRuntime first(c, kLan);
  EXPECT_EQ(first.max_backends(), 131072u);
  uint32_t highest = 0;
  for (const auto& s : first.services())
    for (const auto& b : s.backends) highest = std::max(highest, b.id);
  EXPECT_EQ(highest, 69999u);
  const auto ref = first.backend_by_id(69999);
  EXPECT_EQ(ref.service, 699u);
  EXPECT_EQ(ref.backend, 99u);

  LbConfig next = c;
  next.max_backends = 100;  // ignored: the first runtime's limit stays
  next.services.erase(next.services.begin());
  const LbRuntime second(next, kLan, &first);
  EXPECT_EQ(second.max_backends(), 131072u);
  EXPECT_EQ(second.services()[698].backends[99].id, 69999u);
  EXPECT_EQ(second.backend_by_id(50).service, kNoId) << "service s0's backends are gone";

  c.max_backends = 69999;
  try {
    const LbRuntime rejected(c, kLan);
    ADD_FAILURE() << "70,000 backends were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 69999 backends"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice::lb
