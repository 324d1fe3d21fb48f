#include "proxy_snapshot.h"

#include <chrono>
#include <set>
#include <string>
#include <utility>

namespace sluice::controlplane::snapshot {
namespace {

using health::TargetState;

std::optional<proxy::TargetState> proxy_state(const health::TargetHealth& h, TimePoint now,
                                              Clock::duration delay) {
  switch (h.state()) {
    case TargetState::kHealthy:
      return proxy::TargetState::kHealthy;
    case TargetState::kInitial:
      return proxy::TargetState::kInitial;
    case TargetState::kUnhealthy:
      return proxy::TargetState::kUnhealthy;
    case TargetState::kDraining:
      if (still_draining(h, now, delay)) return proxy::TargetState::kDraining;
      return std::nullopt;
    case TargetState::kUnused:
      return std::nullopt;
  }
  return std::nullopt;
}

proxy::TargetGroup compile_group(const TargetGroup& group, const HealthView& health,
                                 TimePoint now) {
  const Clock::duration delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(group.deregistration_delay_s));
  proxy::TargetGroup out{.name = group.name,
                         .algorithm = group.algorithm,
                         .stickiness = group.stickiness,
                         .slow_start_s = group.slow_start_s};
  const health::TargetHealth initial;
  std::set<std::pair<IpAddress, uint16_t>> listed;
  for (const Target& t : group.targets) {
    const uint16_t port = resolved_port(group, t);
    const health::TargetHealth* h = health.find({group.name, t.address, port});
    const std::optional<proxy::TargetState> state =
        proxy_state(h != nullptr ? *h : initial, now, delay);
    if (!state) continue;
    listed.insert({t.address, port});
    out.targets.push_back(
        {.address = t.address, .port = port, .weight = t.weight, .state = *state});
  }
  // Targets deregistered from the configuration that are still draining, in key order.
  for (auto it = health.targets.lower_bound({group.name, IpAddress{}, 0});
       it != health.targets.end() && it->first.group == group.name; ++it) {
    if (listed.contains({it->first.address, it->first.port})) continue;
    if (!still_draining(it->second, now, delay)) continue;
    out.targets.push_back({.address = it->first.address,
                           .port = it->first.port,
                           .weight = 0,
                           .state = proxy::TargetState::kDraining});
  }
  return out;
}

void note_forwards(const proxy::Action& action, std::set<std::string>& names) {
  if (action.kind != proxy::Action::Kind::kForward) return;
  for (const proxy::WeightedTargetGroup& g : action.forward) names.insert(g.target_group);
}

}  // namespace

proxy::ProxyConfig compile_proxy_config(const ControlConfig& config, const HealthView& health,
                                        TimePoint now) {
  proxy::ProxyConfig out;
  out.listeners = config.listeners;
  std::set<std::string> forwarded;
  for (const proxy::Listener& l : config.listeners) {
    for (const proxy::Rule& r : l.rules) note_forwards(r.action, forwarded);
    note_forwards(l.default_action, forwarded);
  }
  for (const TargetGroup& g : config.target_groups)
    if (forwarded.contains(g.name)) out.target_groups.push_back(compile_group(g, health, now));
  return out;
}

}  // namespace sluice::controlplane::snapshot
