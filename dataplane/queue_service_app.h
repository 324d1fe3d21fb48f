// sluice-dataplane's queue job: the SQS API on its service cores in front of the queue shards,
// until SIGINT or SIGTERM. No EAL and no DPDK port: the service path uses the kernel's TCP stack
// through io_uring.
#pragma once

#include "service_config.h"

namespace sluice::dataplane {

// Returns the process exit code. Both configurations must be validated.
int run_queue_service(const api::ApiConfig& api, const api::QueuesConfig& queues);

}  // namespace sluice::dataplane
