// Compiling the control plane's L7 intent (listeners and the http/https target groups they forward
// to) together with the current health of every target into the configuration the L7 proxy takes
// (proxy_types.h), pushed as the document dump_proxy_document writes.
//
// A pure function of its inputs and the time point passed in. Rules, per forwarded group (in the
// order of the configuration's target groups; groups no listener forwards to are left out):
//  - algorithm, stickiness and slow start as configured; targets in the group's order at their
//    resolved port with their configured weight;
//  - each target's state is its health state: healthy, initial (also a target the health view does
//    not know), unhealthy or draining. Fail-open and slow start are the proxy's job;
//  - draining targets (in the configuration or, once deregistered, only in the health view) stay
//    until the group's deregistration delay has passed since their deregistration, then are left
//    out, as are unused targets.
#pragma once

#include "control_config.h"
#include "lb_snapshot.h"
#include "proxy_types.h"

namespace sluice::controlplane::snapshot {

// The proxy settings are the defaults: the proxy keeps its own.
proxy::ProxyConfig compile_proxy_config(const ControlConfig& config, const HealthView& health,
                                        TimePoint now);

}  // namespace sluice::controlplane::snapshot
