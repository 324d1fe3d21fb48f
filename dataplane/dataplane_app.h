// sluice-dataplane's life cycle: EAL up, ports up, one pinned worker loop per core, counters on
// SIGUSR1 and at exit, everything down again on SIGINT/SIGTERM.
#pragma once

#include "config_types.h"

namespace sluice::dataplane {

// Runs until SIGINT or SIGTERM; returns the process exit code. `config` must be validated.
int run_dataplane(const DataplaneConfig& config, const char* program);

}  // namespace sluice::dataplane
