#include "lb_snapshot.h"

#include <chrono>
#include <set>
#include <utility>
#include <vector>

namespace sluice::controlplane::snapshot {
namespace {

using health::TargetState;

uint8_t lb_protocol(ServiceProtocol p) {
  return p == ServiceProtocol::kUdp ? lb::kProtoUdp : lb::kProtoTcp;
}

lb::ForwardingMode lb_mode(ForwardingMode m) {
  switch (m) {
    case ForwardingMode::kNat:
      return lb::ForwardingMode::kNat;
    case ForwardingMode::kDsr:
      return lb::ForwardingMode::kDsr;
    case ForwardingMode::kTunnel:
      return lb::ForwardingMode::kTunnel;
  }
  return lb::ForwardingMode::kNat;
}

lb::TunnelType lb_tunnel(TunnelType t) {
  return t == TunnelType::kGue ? lb::TunnelType::kGue : lb::TunnelType::kIpip;
}

std::vector<lb::BackendConfig> compile_backends(const TargetGroup& group, const HealthView& health,
                                                TimePoint now) {
  const Clock::duration delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(group.deregistration_delay_s));
  const Clock::duration slow_start =
      std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(group.slow_start_s));

  const health::TargetHealth initial;
  std::vector<const health::TargetHealth*> states_of;
  std::vector<TargetState> states;
  std::set<std::pair<IpAddress, uint16_t>> listed;
  for (const Target& t : group.targets) {
    const health::TargetHealth* h = health.find({group.name, t.address, resolved_port(group, t)});
    if (h == nullptr) h = &initial;
    states_of.push_back(h);
    states.push_back(h->state());
  }
  const health::RoutableSet routable = health::routable_targets(states);
  std::vector<bool> takes_flows(group.targets.size(), false);
  for (size_t i : routable.indices) takes_flows[i] = true;

  std::vector<lb::BackendConfig> out;
  for (size_t i = 0; i < group.targets.size(); ++i) {
    const Target& t = group.targets[i];
    const health::TargetHealth& h = *states_of[i];
    const uint16_t port = resolved_port(group, t);
    if (h.state() == TargetState::kUnused) continue;
    if (h.state() == TargetState::kDraining && !still_draining(h, now, delay)) continue;
    listed.insert({t.address, port});
    uint32_t weight = 0;
    if (takes_flows[i]) {
      if (routable.fail_open || !h.healthy_since()) {
        weight = t.weight;
      } else {
        weight = health::effective_weight(
            t.weight, health::slow_start_fraction(*h.healthy_since(), now, slow_start));
      }
    }
    out.push_back({.address = t.address, .port = port, .weight = weight});
  }
  // Targets deregistered from the configuration that are still draining: weight 0, in key order.
  for (auto it = health.targets.lower_bound({group.name, IpAddress{}, 0});
       it != health.targets.end() && it->first.group == group.name; ++it) {
    if (listed.contains({it->first.address, it->first.port})) continue;
    if (!still_draining(it->second, now, delay)) continue;
    out.push_back({.address = it->first.address, .port = it->first.port, .weight = 0});
  }
  return out;
}

// The NAT source of one family when the caller gave none: the address of the port whose prefix
// holds one of the NAT services' targets, else the first port address of the family.
std::optional<IpAddress> nat_source(const ControlConfig& config, bool v4,
                                    const std::vector<IpAddress>& nat_targets) {
  for (const PortConfig& port : config.ports) {
    for (const IpPrefix& prefix : port.addresses) {
      if (prefix.address.is_v4() != v4) continue;
      for (const IpAddress& t : nat_targets)
        if (prefix.contains(t)) return prefix.address;
    }
  }
  for (const PortConfig& port : config.ports)
    for (const IpPrefix& prefix : port.addresses)
      if (prefix.address.is_v4() == v4) return prefix.address;
  return std::nullopt;
}

}  // namespace

bool still_draining(const health::TargetHealth& h, TimePoint now, Clock::duration delay) {
  if (h.state() != TargetState::kDraining) return false;
  if (!h.draining_since()) return false;
  return now - *h.draining_since() < delay;
}

uint16_t resolved_port(const TargetGroup& group, const Target& target) {
  return target.port != 0 ? target.port : group.port;
}

lb::LbConfig compile_lb_config(const ControlConfig& config, const HealthView& health, TimePoint now,
                               const lb::LbConfig& base) {
  lb::LbConfig out = base;
  out.services.clear();
  bool nat_v4 = false, nat_v6 = false;
  std::vector<IpAddress> nat_targets;
  for (const Service& s : config.services) {
    lb::ServiceConfig sc;
    sc.name = s.name;
    sc.vip = s.vip;
    sc.family = s.vip.family();
    sc.protocol = lb_protocol(s.protocol);
    sc.port = s.port;
    sc.mode = lb_mode(s.mode);
    sc.tunnel = lb_tunnel(s.tunnel);
    sc.gue_port = s.gue_port;
    sc.hash_source_port = s.hash_source_port;
    sc.track_udp_flows = s.track_udp_flows;
    if (const TargetGroup* group = config.find_target_group(s.target_group)) {
      sc.backends = compile_backends(*group, health, now);
      if (s.mode == ForwardingMode::kNat) {
        for (const Target& t : group->targets) nat_targets.push_back(t.address);
      }
    }
    if (s.mode == ForwardingMode::kNat) (s.vip.is_v4() ? nat_v4 : nat_v6) = true;
    out.services.push_back(std::move(sc));
  }
  if (out.nat_addresses.empty()) {
    if (nat_v4) {
      if (auto a = nat_source(config, true, nat_targets)) out.nat_addresses.push_back(*a);
    }
    if (nat_v6) {
      if (auto a = nat_source(config, false, nat_targets)) out.nat_addresses.push_back(*a);
    }
  }
  return out;
}

}  // namespace sluice::controlplane::snapshot
