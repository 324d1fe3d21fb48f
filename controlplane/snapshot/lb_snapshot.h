// Compiling the control plane's intent (services and their target groups) together with the
// current health of every target into the balancer configuration the dataplane consumes.
//
// compile_lb_config is a pure function of its inputs and the time point passed in: the same
// configuration, health view and time always give the same LbConfig.
//
// Rules, per service (the service's VIP, protocol, port, mode and options are carried as given):
//  - Its backends are its target group's registered targets, in the group's order, each at its
//    resolved port (a target's port 0 means the group's port, which is what the parser fills in).
//  - A healthy target takes its configured weight scaled by slow start (health::effective_weight:
//    never 0 while healthy unless its configured weight is 0).
//  - Targets that are not healthy while another is (initial, unhealthy) stay in the list with
//    weight 0: no new flows, but the backend keeps its identity (address + port) and its counters.
//    Initial targets, never yet checked healthy, take no traffic, as on an ALB.
//  - Fail-open: when no registered target is healthy, every registered target that is not draining
//    (initial or unhealthy) takes its full configured weight (health::routable_targets).
//  - Draining targets (in the configuration or, once deregistered, only in the health view) stay
//    in the list with weight 0 until the group's deregistration delay has passed since their
//    deregistration, so existing flows keep their backend; after that they are left out. Unused
//    targets are left out.
//  - A target the health view does not know is treated as initial.
//
// Balancer-wide settings (table sizes, new-flow limit, timeouts, gateways, tunnel sources,
// exception interface) are not part of ControlConfig; they come from `base`, whose services are
// replaced. NAT source addresses come from base.nat_addresses when it has any; otherwise, for each
// address family a NAT service uses, the first address of a configured port whose prefix holds one
// of that service's targets (the backend-facing link), else the first port address of the family.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "control_config.h"
#include "health_state.h"
#include "ip_address.h"
#include "lb_config_types.h"

namespace sluice::controlplane::snapshot {

using health::Clock;
using health::TimePoint;

// Identifies a target within its group: the address and the resolved port (never 0 for targets
// parsed from YAML).
struct TargetKey {
  std::string group;
  IpAddress address;
  uint16_t port = 0;

  auto operator<=>(const TargetKey&) const = default;
};

// The health state machine of every known target, keyed by group, address and port. Targets that
// were deregistered (removed from the configuration) but are still draining stay here until their
// delay has passed; `weight` is not needed for them since they take no new flows.
struct HealthView {
  std::map<TargetKey, health::TargetHealth> targets;

  // nullptr when the target is not known (treated as initial).
  const health::TargetHealth* find(const TargetKey& key) const {
    auto it = targets.find(key);
    return it == targets.end() ? nullptr : &it->second;
  }
};

// True while a draining target must stay listed (its deregistration delay has not yet passed).
bool still_draining(const health::TargetHealth& h, TimePoint now, Clock::duration delay);

// The port a target receives traffic on: its own, else its group's.
uint16_t resolved_port(const TargetGroup& group, const Target& target);

lb::LbConfig compile_lb_config(const ControlConfig& config, const HealthView& health, TimePoint now,
                               const lb::LbConfig& base = {});

}  // namespace sluice::controlplane::snapshot
