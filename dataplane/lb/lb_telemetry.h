// The balancer's counters over DPDK's telemetry socket (/var/run/dpdk/<instance>/dpdk_telemetry.v2,
// read with dpdk-telemetry.py or any client), so that they can be read while it runs:
//   /sluice/lb/services            the service names
//   /sluice/lb/service,NAME        one service's counters, and its backends' as arrays
//   /sluice/lb/cores               per-worker counters as arrays
#pragma once

#include <vector>

#include "lb_job.h"
#include "snapshot.h"

namespace sluice::lb {

// Serves the commands for `runtime` and `jobs` while it exists. DPDK's telemetry callbacks take no
// user pointer, so one instance at a time is published through a process-wide pointer.
class LbTelemetry {
 public:
  LbTelemetry(const dataplane::SnapshotPublisher<LbRuntime>& snapshots,
              std::vector<const LbJob*> jobs);
  ~LbTelemetry();
  LbTelemetry(const LbTelemetry&) = delete;
  LbTelemetry& operator=(const LbTelemetry&) = delete;

  const dataplane::SnapshotPublisher<LbRuntime>& snapshots() const { return snapshots_; }
  const std::vector<const LbJob*>& jobs() const { return jobs_; }

 private:
  const dataplane::SnapshotPublisher<LbRuntime>& snapshots_;
  std::vector<const LbJob*> jobs_;
};

}  // namespace sluice::lb
