// sluice-dataplane's life cycle: EAL up, ports up, one pinned worker loop per core running the
// configured job (the wire or the L4 balancer), counters on SIGUSR1 and at exit, everything down
// again on SIGINT/SIGTERM.
#pragma once

#include <functional>

#include "config_types.h"
#include "lb_config_types.h"

namespace sluice::dataplane {

// Reads the balancer's configuration again (on SIGHUP); throws ConfigError when it is invalid.
using LbConfigLoader = std::function<lb::LbConfig()>;

// Runs until SIGINT or SIGTERM; returns the process exit code. Both configurations must be
// validated; `lb` is used by the lb job only, and `reload_lb` (may be empty) on SIGHUP.
int run_dataplane(const DataplaneConfig& config, const lb::LbConfig& lb,
                  const LbConfigLoader& reload_lb, const char* program);

}  // namespace sluice::dataplane
