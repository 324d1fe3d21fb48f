#include "config_json.h"

#include "proxy_config.h"

namespace sluice::controlplane {
namespace {

using Json = nlohmann::ordered_json;

}  // namespace

const char* group_protocol_name(GroupProtocol p) {
  switch (p) {
    case GroupProtocol::kTcp:
      return "tcp";
    case GroupProtocol::kUdp:
      return "udp";
    case GroupProtocol::kHttp:
      return "http";
    case GroupProtocol::kHttps:
      return "https";
  }
  return "tcp";
}

const char* health_protocol(HealthProtocol p) {
  switch (p) {
    case HealthProtocol::kTcp:
      return "tcp";
    case HealthProtocol::kHttp:
      return "http";
    case HealthProtocol::kHttps:
      return "https";
  }
  return "tcp";
}

const char* forwarding_mode_name(ForwardingMode m) {
  switch (m) {
    case ForwardingMode::kNat:
      return "nat";
    case ForwardingMode::kDsr:
      return "dsr";
    case ForwardingMode::kTunnel:
      return "tunnel";
  }
  return "nat";
}

namespace {

std::string matcher_text(const StatusMatcher& m) {
  std::string out;
  for (const auto& [lo, hi] : m) {
    if (!out.empty()) out += ',';
    out += std::to_string(lo);
    if (hi != lo) out += "-" + std::to_string(hi);
  }
  return out;
}

std::string prefix_text(const IpPrefix& p) {
  return format_ip_address(p.address) + "/" + std::to_string(p.length);
}

Json health_check(const HealthCheck& hc) {
  Json j = {{"protocol", health_protocol(hc.protocol)}};
  if (hc.protocol != HealthProtocol::kTcp) {
    j["path"] = hc.path;
    j["matcher"] = matcher_text(hc.matcher);
  }
  if (hc.port != 0) j["port"] = hc.port;
  j["interval_s"] = hc.interval_s;
  j["timeout_s"] = hc.timeout_s;
  j["healthy_threshold"] = hc.healthy_threshold;
  j["unhealthy_threshold"] = hc.unhealthy_threshold;
  return j;
}

}  // namespace

std::string format_endpoint(const IpAddress& address, uint16_t port) {
  const std::string a = format_ip_address(address);
  return (address.is_v4() ? a : "[" + a + "]") + ":" + std::to_string(port);
}

Json config_to_json(const ControlConfig& c) {
  Json doc;
  doc["dataplane"] = {{"control_socket", c.dataplane.control_socket}};
  if (!c.dataplane.proxy_socket.empty())
    doc["dataplane"]["proxy_socket"] = c.dataplane.proxy_socket;
  Json api = {{"listen", format_endpoint(c.api.listen.address, c.api.listen.port)}};
  if (!c.api.bearer_token.empty()) api["bearer_token"] = c.api.bearer_token;
  doc["api"] = api;

  Json ports = Json::array();
  for (const PortConfig& p : c.ports) {
    Json addresses = Json::array();
    for (const IpPrefix& a : p.addresses) addresses.push_back(prefix_text(a));
    ports.push_back({{"name", p.name},
                     {"device", p.device},
                     {"mtu", p.mtu},
                     {"rx_descriptors", p.rx_descriptors},
                     {"tx_descriptors", p.tx_descriptors},
                     {"addresses", addresses}});
  }
  doc["ports"] = ports;

  Json groups = Json::array();
  for (const TargetGroup& g : c.target_groups) {
    Json targets = Json::array();
    for (const Target& t : g.targets) {
      targets.push_back(
          {{"address", format_ip_address(t.address)}, {"port", t.port}, {"weight", t.weight}});
    }
    Json jg = {{"name", g.name},
               {"protocol", group_protocol_name(g.protocol)},
               {"port", g.port},
               {"targets", targets},
               {"health_check", health_check(g.health_check)},
               {"deregistration_delay_s", g.deregistration_delay_s}};
    if (g.slow_start_s != 0) jg["slow_start_s"] = g.slow_start_s;
    if (g.protocol == GroupProtocol::kHttp || g.protocol == GroupProtocol::kHttps) {
      static constexpr const char* kAlgorithms[] = {"round_robin", "least_outstanding_requests",
                                                    "weighted_random"};
      jg["algorithm"] = kAlgorithms[static_cast<size_t>(g.algorithm)];
      jg["stickiness"] = {{"enabled", g.stickiness.enabled},
                          {"duration_s", g.stickiness.duration_s}};
    }
    groups.push_back(jg);
  }
  doc["target_groups"] = groups;

  Json services = Json::array();
  for (const Service& s : c.services) {
    Json js = {{"name", s.name},
               {"vip", format_ip_address(s.vip)},
               {"protocol", s.protocol == ServiceProtocol::kUdp ? "udp" : "tcp"},
               {"port", s.port},
               {"mode", forwarding_mode_name(s.mode)}};
    if (s.mode == ForwardingMode::kTunnel) {
      js["tunnel"] = s.tunnel == TunnelType::kGue ? "gue" : "ipip";
      if (s.tunnel == TunnelType::kGue) js["gue_port"] = s.gue_port;
    }
    js["hash_source_port"] = s.hash_source_port;
    if (s.protocol == ServiceProtocol::kUdp) js["track_udp_flows"] = s.track_udp_flows;
    js["target_group"] = s.target_group;
    services.push_back(js);
  }
  doc["services"] = services;

  // The listeners in the proxy's own schema, as its document writer spells them.
  proxy::ProxyConfig proxy_listeners;
  proxy_listeners.listeners = c.listeners;
  const Json listeners = Json::parse(proxy::dump_proxy_document(proxy_listeners)).at("listeners");
  doc["listeners"] = listeners;

  Json declared = Json::array();
  for (const DeclaredQueue& q : c.queues.declare) {
    Json attributes = Json::object(), tags = Json::object();
    for (const auto& [name, value] : q.attributes) attributes[name] = value;
    for (const auto& [key, value] : q.tags) tags[key] = value;
    declared.push_back({{"name", q.name}, {"attributes", attributes}, {"tags", tags}});
  }
  Json queues = {{"endpoint", c.queues.endpoint()}};
  if (!c.queues.access_key_id.empty()) {
    queues["access_key_id"] = c.queues.access_key_id;
    queues["secret_access_key"] = c.queues.secret_access_key;
  }
  queues["region"] = c.queues.region;
  queues["declare"] = declared;
  queues["depth_interval_s"] = c.queues.depth_interval_s;
  Json hooks = Json::array();
  for (const DepthHook& h : c.queues.depth_hooks) {
    hooks.push_back(
        {{"queue", h.queue}, {"above", h.above}, {"below", h.below}, {"command", h.command}});
  }
  queues["depth_hooks"] = hooks;
  doc["queues"] = queues;

  Json topics = Json::array();
  for (const Topic& t : c.topics) topics.push_back({{"name", t.name}, {"fifo", t.fifo}});
  doc["topics"] = topics;

  Json keys = Json::array();
  for (const AccessKey& k : c.access_keys) keys.push_back({{"id", k.id}, {"secret", k.secret}});
  doc["access_keys"] = keys;
  return doc;
}

}  // namespace sluice::controlplane
