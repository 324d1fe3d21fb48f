// The balancer's counters as tables: per service and per backend (packets, bytes, new flows),
// per core (active flows, stateless flows, control replies, exception path). Summed over the
// workers' jobs; safe to call from any thread while they run.
#pragma once

#include <cstdio>
#include <span>

#include "control_protocol.h"
#include "lb_job.h"
#include "stats.h"

namespace sluice::lb {

void print_lb_stats(std::FILE* out, const LbRuntime& runtime, std::span<const LbJob* const> jobs);

// The same counters for the control plane, per worker: `workers` and `jobs` in the same order.
// `generation` is left for the caller.
control::StatsReply lb_stats_reply(const LbRuntime& runtime, std::span<const LbJob* const> jobs,
                                   std::span<const dataplane::WorkerView> workers);

}  // namespace sluice::lb
