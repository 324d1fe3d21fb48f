// Per-core state shared by every dataplane job: counters that one worker writes and any thread
// reads, and the description of an egress queue.
#pragma once

#include <array>
#include <cstdint>

#include "counter.h"
#include "drop_reason.h"

namespace sluice::dataplane {

inline constexpr uint16_t kBurstSize = 32;
inline constexpr uint16_t kMaxPorts = 32;
inline constexpr unsigned kLoopBuckets = 32;

// The histogram bucket of a polling pass of `cycles` TSC cycles: floor(log2(cycles)), the last
// bucket also taking everything longer.
inline unsigned loop_bucket(uint64_t cycles) {
  const unsigned b = 63u - static_cast<unsigned>(__builtin_clzll(cycles | 1));
  return b < kLoopBuckets ? b : kLoopBuckets - 1;
}

struct alignas(64) PortCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
  std::array<Counter, kDropReasonCount> drops;

  void drop(DropReason reason, uint64_t n = 1) { drops[static_cast<size_t>(reason)].add(n); }
};

// One worker's counters. Cache-line aligned so that no two workers write the same line.
struct alignas(64) WorkerCounters {
  Counter loops;                                       // polling passes
  Counter busy_loops;                                  // passes that received at least one packet
  Counter busy_cycles;                                 // TSC cycles spent in busy passes
  Counter packets;                                     // packets received, all ports
  Counter max_loop_cycles;                             // TSC cycles of the longest pass so far
  std::array<Counter, kLoopBuckets> loop_cycles_log2;  // passes by loop_bucket(duration)
  std::array<PortCounters, kMaxPorts> ports;           // indexed by DPDK port id
};

// Where a worker sends packets: one queue of one port, and what that port accepts.
struct EgressQueue {
  uint16_t port = 0;
  uint16_t queue = 0;
  uint32_t max_frame = 0;      // largest frame in bytes (without FCS)
  bool multi_segment = false;  // whether chained mbufs can be sent
};

struct IngressQueue {
  uint16_t port = 0;
  uint16_t queue = 0;
};

}  // namespace sluice::dataplane
