#include "lb_config.h"

#include <set>
#include <tuple>

#include "maglev.h"

namespace sluice::lb {
namespace {

IpAddress ip_field(const YamlField& f, uint8_t& family) {
  auto a = parse_ip_address(f.str());
  if (!a) f.fail("'" + f.str() + "' is not an IPv4 or IPv6 address");
  family = a->family();
  return *a;
}

BackendConfig parse_backend(const YamlField& f, uint8_t service_family) {
  f.expect_map({"address", "port", "weight"});
  BackendConfig b;
  uint8_t family = 0;
  b.address = ip_field(f.required("address"), family);
  if (family != service_family)
    f.child("address").fail("backend and VIP must be of the same address family");
  if (auto p = f.child("port"); p.present()) b.port = static_cast<uint16_t>(p.uint(1, 65535));
  if (auto w = f.child("weight"); w.present()) b.weight = static_cast<uint32_t>(w.uint(0, 1000000));
  return b;
}

ServiceConfig parse_service(const YamlField& f) {
  f.expect_map({"name", "vip", "protocol", "port", "mode", "tunnel", "gue_port", "hash_source_port",
                "track_udp_flows", "backends"});
  ServiceConfig s;
  s.name = f.required("name").str();
  s.vip = ip_field(f.required("vip"), s.family);
  s.protocol = f.required("protocol").choice({"tcp", "udp"}) == 0 ? kProtoTcp : kProtoUdp;
  s.port = static_cast<uint16_t>(f.required("port").uint(0, 65535));
  if (auto m = f.child("mode"); m.present())
    s.mode = static_cast<ForwardingMode>(m.choice({"nat", "dsr", "tunnel"}));
  if (auto t = f.child("tunnel"); t.present())
    s.tunnel = static_cast<TunnelType>(t.choice({"ipip", "gue"}));
  if (auto g = f.child("gue_port"); g.present())
    s.gue_port = static_cast<uint16_t>(g.uint(1, 65535));
  if (auto h = f.child("hash_source_port"); h.present()) s.hash_source_port = h.boolean();
  if (auto u = f.child("track_udp_flows"); u.present()) s.track_udp_flows = u.boolean();
  for (const auto& item : f.required("backends").items())
    s.backends.push_back(parse_backend(item, s.family));
  return s;
}

}  // namespace

void parse_lb_section(const YamlField& f, LbConfig& config) {
  f.expect_map({"flow_table_size", "maglev_table_size", "max_backends", "build_threads",
                "new_flows_per_second", "timeouts", "nat_addresses", "tunnel_sources", "gateways",
                "exception_interface"});
  if (auto v = f.child("flow_table_size"); v.present())
    config.flow_table_size = static_cast<uint32_t>(v.uint(1024, 1u << 26));
  if (auto v = f.child("maglev_table_size"); v.present()) {
    config.maglev_table_size = static_cast<uint32_t>(v.uint(7, 16777213));
    if (!is_prime(config.maglev_table_size))
      v.fail("must be a prime number (65537 is the usual choice)");
  }
  if (auto v = f.child("max_backends"); v.present())
    config.max_backends = static_cast<uint32_t>(v.uint(1, kMaxBackendIds));
  if (auto v = f.child("build_threads"); v.present())
    config.build_threads = static_cast<uint32_t>(v.uint(1, 64));
  if (auto v = f.child("new_flows_per_second"); v.present()) {
    config.new_flows_per_second = static_cast<uint32_t>(v.uint(0, 1000000000));
  }
  if (auto t = f.child("timeouts"); t.present()) {
    t.expect_map({"tcp_syn_s", "tcp_established_s", "tcp_closing_s", "udp_s"});
    auto set = [&](const char* name, uint32_t& out) {
      if (auto v = t.child(name); v.present()) out = static_cast<uint32_t>(v.uint(1, 86400));
    };
    set("tcp_syn_s", config.timeouts.tcp_syn_s);
    set("tcp_established_s", config.timeouts.tcp_established_s);
    set("tcp_closing_s", config.timeouts.tcp_closing_s);
    set("udp_s", config.timeouts.udp_s);
  }
  for (auto [key, out] : {std::pair{"nat_addresses", &config.nat_addresses},
                          std::pair{"tunnel_sources", &config.tunnel_sources},
                          std::pair{"gateways", &config.gateways}}) {
    if (auto v = f.child(key); v.present()) {
      for (const auto& item : v.items()) {
        uint8_t family = 0;
        out->push_back(ip_field(item, family));
      }
    }
  }
  if (auto v = f.child("exception_interface"); v.present()) {
    config.exception_interface = v.str();
    if (config.exception_interface.size() > 15) v.fail("interface names are at most 15 characters");
  }
}

void parse_services_section(const YamlField& f, LbConfig& config) {
  for (const auto& item : f.items()) config.services.push_back(parse_service(item));
}

void validate_lb_config(const LbConfig& config) {
  std::set<std::string> names;
  std::set<std::tuple<IpAddress::Bytes, uint8_t, uint16_t>> vips;
  for (size_t i = 0; i < config.services.size(); ++i) {
    const ServiceConfig& s = config.services[i];
    const std::string key = "services[" + std::to_string(i) + "]";
    if (!names.insert(s.name).second)
      throw ConfigError(key + ".name: '" + s.name + "' is used by another service");
    if (!vips.insert({s.vip.bytes, s.protocol, s.port}).second) {
      throw ConfigError(key + ": " + format_ip_address(s.vip) + " " +
                        (s.protocol == kProtoTcp ? "tcp" : "udp") + " port " +
                        std::to_string(s.port) + " is already a service");
    }
    // The parser guarantees these for a file; a control-plane snapshot is checked here.
    if (s.protocol != kProtoTcp && s.protocol != kProtoUdp)
      throw ConfigError(key + ".protocol: must be tcp or udp");
    if (s.family != s.vip.family())
      throw ConfigError(key + ".family: does not match the VIP's address family");
    for (size_t b = 0; b < s.backends.size(); ++b) {
      if (s.backends[b].address.family() != s.family) {
        throw ConfigError(key + ".backends[" + std::to_string(b) +
                          "].address: backend and VIP must be of the same address family");
      }
    }
    if (s.backends.size() > 65535) throw ConfigError(key + ".backends: at most 65535 backends");
    if (s.backends.size() >= config.maglev_table_size) {
      throw ConfigError(key + ".backends: more backends than lb.maglev_table_size entries");
    }
    if (s.mode == ForwardingMode::kNat) {
      bool has_source = false;
      for (const auto& a : config.nat_addresses)
        has_source = has_source || a.is_v4() == (s.family == kFamilyV4);
      if (!has_source) {
        throw ConfigError(key +
                          ".mode: nat needs an lb.nat_addresses entry of the VIP's address family");
      }
    }
  }
}

}  // namespace sluice::lb
