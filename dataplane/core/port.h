// Bringing DPDK ports up and down for the dataplane: the packet pool, queue set-up (one rx and
// one tx queue per worker where the device allows), MTU and offloads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config_types.h"
#include "worker_types.h"

struct rte_mempool;

namespace sluice::dataplane {

struct Port {
  uint16_t id = 0;
  std::string name;     // the operator's label from the config
  uint16_t queues = 0;  // rx and tx queues configured (equal counts)
  uint32_t max_frame = 0;
  bool multi_segment = false;

  EgressQueue egress(uint16_t queue) const { return {id, queue, max_frame, multi_segment}; }
  IngressQueue ingress(uint16_t queue) const { return {id, queue}; }
};

// Mbufs needed to fill every descriptor ring plus per-core caches and in-flight bursts.
unsigned mbufs_needed(const DataplaneConfig& config, uint16_t queues_per_port);

// How mbufs are laid out in memory.
enum class PoolLayout {
  kDmaContiguous,  // each mbuf inside one IOVA-contiguous chunk: what NICs that DMA need
  kPacked,         // mbufs back to back, for virtual devices only (no DMA); see create_packet_pool
};

// The layout for a configuration: packed when running without hugepages and without PCI ports.
PoolLayout pool_layout(const DataplaneConfig& config, bool hugepages);

// Creates the packet mempool; throws std::runtime_error.
rte_mempool* create_packet_pool(const char* name, unsigned mbufs, int socket, PoolLayout layout);

// Configures and starts the configured ports with up to `queues_wanted` queue pairs each.
// Throws std::runtime_error naming the port on failure.
std::vector<Port> start_ports(const DataplaneConfig& config, uint16_t queues_wanted,
                              rte_mempool* pool);

// Configures and starts one already-probed ethdev. Exposed for tests that build ports themselves.
Port start_port(uint16_t port_id, const PortConfig& config, uint16_t queues_wanted,
                rte_mempool* pool);

void stop_ports(const std::vector<Port>& ports);

}  // namespace sluice::dataplane
