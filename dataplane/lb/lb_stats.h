// The balancer's counters as tables: per service and per backend (packets, bytes, new flows),
// per core (active flows, stateless flows, control replies, exception path). Summed over the
// workers' jobs; safe to call from any thread while they run.
#pragma once

#include <cstdio>
#include <span>

#include "lb_job.h"

namespace sluice::lb {

void print_lb_stats(std::FILE* out, const LbRuntime& runtime, std::span<const LbJob* const> jobs);

}  // namespace sluice::lb
