// Human-readable dataplane counters: per port (software counters summed over workers, plus the
// device's own) and per worker core. Printed on SIGUSR1, periodically if asked, and at exit.
#pragma once

#include <cstdio>
#include <span>
#include <vector>

#include "port.h"
#include "worker_types.h"

namespace sluice::dataplane {

struct WorkerView {
  unsigned lcore = 0;
  const WorkerCounters* counters = nullptr;
};

struct PortTotals {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  std::array<uint64_t, kDropReasonCount> drops{};
};

PortTotals sum_port(uint16_t port_id, std::span<const WorkerView> workers);

void print_stats(std::FILE* out, const std::vector<Port>& ports,
                 std::span<const WorkerView> workers);

}  // namespace sluice::dataplane
