// sluice-dataplane's life cycle: EAL up, ports up, one pinned worker loop per core running the
// configured job (the wire or the L4 balancer), counters on SIGUSR1 and at exit, everything down
// again on SIGINT/SIGTERM.
#pragma once

#include "config_types.h"
#include "lb_config_types.h"

namespace sluice::dataplane {

// Runs until SIGINT or SIGTERM; returns the process exit code. Both configurations must be
// validated; `lb` is used by the lb job only.
int run_dataplane(const DataplaneConfig& config, const lb::LbConfig& lb, const char* program);

}  // namespace sluice::dataplane
