// Changing the balancer's services and backends while the workers run: from the start-up file
// again (SIGHUP) or from a control-plane snapshot. The new configuration is compiled against the
// running one, so that ids and learned neighbours carry over, and published by RCU; one that is
// rejected changes nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "control_protocol.h"
#include "lb_config_types.h"
#include "lb_runtime.h"
#include "snapshot.h"

namespace sluice::lb {

struct PublishTimes {
  uint64_t build_ns = 0;    // compiling the runtime
  uint64_t publish_ns = 0;  // the swap and the RCU grace period
};

// Compiles `next` (already validated) and publishes it. Throws ConfigError when it cannot be
// built (a backend on no port's link and no gateway).
PublishTimes publish_lb_config(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
                               const LbConfig& next, const std::vector<LbPort>& ports);

// Runs `snapshot`: `base`'s balancer-wide settings (table sizes, timeouts, gateways, exception
// path) with the snapshot's services, and its NAT and tunnel source addresses where it has any
// (`base`'s otherwise). Validated, then published.
control::SnapshotResult apply_snapshot(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
                                       const LbConfig& base, const std::vector<LbPort>& ports,
                                       const control::ApplySnapshot& snapshot);

}  // namespace sluice::lb
