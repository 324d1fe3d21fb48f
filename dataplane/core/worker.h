// The pinned polling loop every worker core runs. A job is any type with
// `uint32_t poll(WorkerCounters&)` that does one pass over its queues and returns the packets it
// received; the loop adds the per-core accounting (passes, busy passes, busy cycles, the longest
// pass, a log2 histogram of pass durations).
#pragma once

#include <rte_cycles.h>

#include <atomic>

#include "worker_types.h"

namespace sluice::dataplane {

template <class Job>
void run_worker_loop(Job& job, WorkerCounters& counters, const std::atomic<bool>& stop) {
  uint64_t last = rte_rdtsc();
  uint64_t longest = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const uint32_t received = job.poll(counters);
    const uint64_t now = rte_rdtsc();
    const uint64_t pass = now - last;
    counters.loops.inc();
    counters.loop_cycles_log2[loop_bucket(pass)].inc();
    if (pass > longest) {
      longest = pass;
      counters.max_loop_cycles.set(pass);
    }
    if (received != 0) {
      counters.busy_loops.inc();
      counters.busy_cycles.add(pass);
      counters.packets.add(received);
    }
    last = now;
  }
}

}  // namespace sluice::dataplane
