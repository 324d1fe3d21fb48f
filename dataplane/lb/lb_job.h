// The L4 balancer's worker job: one instance per worker core, polling its queue of every port.
// Per burst: parse; answer ARP, neighbour solicitations and pings for owned addresses; look the
// flows of packets for services (and of replies to full-NAT addresses) up in this core's flow
// table in bulk; pick backends for new flows with Maglev; rewrite for the service's mode; send.
// With an exception path, what is for none of these and may be for the kernel goes to the
// to-kernel ring, and one worker also sends what the kernel sent (exception_path.h).
#pragma once

#include <cstdint>
#include <vector>

#include "exception_path.h"
#include "flow_table.h"
#include "lb_runtime.h"
#include "packet_parse.h"
#include "snapshot.h"
#include "transmit.h"
#include "worker_types.h"

namespace sluice::lb {

// Per-core counters of one service or backend, written by this core only.
struct TrafficCounters {
  Counter packets, bytes, new_flows;
  Counter active_flows;  // tracked flows now (this core's entries; wraps below zero per core never)
};

struct LbCoreCounters {
  Counter
      stateless_flows;  // new flows forwarded by Maglev alone (flood, table full, stateless UDP)
  Counter arp_replies, nd_adverts, echo_replies, neighbor_requests;
  Counter nat_replies;      // backend-to-client packets translated back
  Counter packet_too_big;   // ICMP too-big messages handed to the backend owning the flow
  Counter active_flows;     // entries in this core's flow table (a full-NAT flow has two)
  Counter to_kernel;        // frames put on the exception path's to-kernel ring
  Counter from_kernel;      // frames from the kernel sent by this core
  Counter exception_drops;  // frames for the kernel refused by a full ring
};

struct LbJobOptions {
  uint16_t queue = 0;         // the rx and tx queue this worker owns on every port
  uint16_t worker_index = 0;  // which slice of the full-NAT source ports is this core's
  uint16_t worker_count = 1;
  uint32_t flow_table_size = 1u << 20;
  uint32_t new_flows_per_second = 0;  // 0: no limit
  // Full-NAT source ports, split evenly over the workers. When the kernel holds a NAT address too
  // (exception path), they must stay clear of the kernel's ephemeral ports.
  uint16_t first_nat_port = 1024;
  uint16_t last_nat_port = 65535;
  // The exception path (none by default: such frames are dropped as not_for_us). The worker
  // given the from-kernel ring sends the kernel's frames on its queue.
  exception::ExceptionChannel exception;
};

class LbJob {
 public:
  // Reads the configuration from `snapshots` as worker `options.worker_index`.
  LbJob(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
        const std::vector<dataplane::EgressQueue>& egress, const LbJobOptions& options);
  ~LbJob();
  LbJob(const LbJob&) = delete;
  LbJob& operator=(const LbJob&) = delete;

  uint32_t poll(dataplane::WorkerCounters& counters);

  // Processes one received burst from port `port_index` (into LbRuntime::ports()).
  void process(uint16_t port_index, rte_mbuf** pkts, uint16_t n,
               dataplane::WorkerCounters& counters);

  const FlowTable& flows() const { return flows_; }
  // Indexed by service id and by backend id (ServiceRuntime::id, BackendRuntime::id); the
  // second has LbRuntime::max_backends() entries.
  const std::vector<TrafficCounters>& service_counters() const { return service_counters_; }
  const std::vector<TrafficCounters>& backend_counters() const { return backend_counters_; }
  const LbCoreCounters& core_counters() const { return core_; }

 private:
  struct Staged {
    rte_mbuf* pkts[2 * dataplane::kBurstSize];
    uint16_t n = 0;
  };

  void stage(uint16_t port_index, rte_mbuf* m) {
    staged_[port_index].pkts[staged_[port_index].n++] = m;
  }
  void flush(dataplane::WorkerCounters& counters);
  void drop(rte_mbuf* m, dataplane::PortCounters& c, DropReason reason);

  // Whether the kernel may want an IP packet to `dst`: anything but the addresses that only the
  // dataplane answers for (VIPs and NAT addresses that are not a port's own).
  bool kernel_may_want(const IpAddress& dst) const {
    return !rt_->owns(dst) || rt_->is_port_address(dst);
  }
  // Queues `m` for the kernel when there is an exception path and the frame is addressed to the
  // port (its MAC, broadcast or multicast); false leaves `m` to the caller.
  bool to_kernel(uint16_t port_index, rte_mbuf* m);
  void flush_to_kernel(dataplane::PortCounters& in);
  uint16_t transmit_from_kernel(dataplane::WorkerCounters& counters);

  void handle_arp(uint16_t port_index, rte_mbuf* m, const PacketMeta& meta,
                  dataplane::WorkerCounters& c);
  bool handle_icmp(uint16_t port_index, rte_mbuf* m, const PacketMeta& meta,
                   dataplane::WorkerCounters& c);
  bool steer_packet_too_big(uint16_t port_index, rte_mbuf* m, const PacketMeta& meta,
                            dataplane::WorkerCounters& c);
  void forward_services(uint16_t port_index, dataplane::WorkerCounters& c);
  void forward_replies(dataplane::WorkerCounters& c);
  // Rewrites for the service's mode and stages `m` towards backend `backend`; `flow` carries the
  // full-NAT source (may be null for other modes).
  void send_to_backend(const ServiceRuntime& s, uint16_t backend, rte_mbuf* m,
                       const PacketMeta& meta, uint32_t hash, const FlowEntry* flow,
                       dataplane::WorkerCounters& c);
  void request_neighbor(Neighbor& n, rte_mempool* pool);
  // Accounting of tracked flows: counted when inserted, uncounted by the table's free hook.
  void count_new_flow(FlowEntry* e);
  static void flow_freed(void* job, const FlowEntry& e);
  bool admit_new_flow();

  dataplane::SnapshotPublisher<LbRuntime>& snapshots_;
  LbRuntime* rt_;                               // the snapshot of this polling pass
  std::vector<dataplane::EgressQueue> egress_;  // by port index
  LbJobOptions options_;
  FlowTable flows_;
  uint64_t tsc_per_ms_;
  uint32_t now_ms_ = 0;
  uint16_t nat_port_base_ = 1024, nat_port_count_ = 0;

  // New-flow admission: a token bucket refilled at new_flows_per_second.
  uint64_t tokens_ = 0;
  uint32_t tokens_at_ms_ = 0;

  LbCoreCounters core_;

  // Per-burst scratch.
  PacketMeta meta_[dataplane::kBurstSize];
  rte_mbuf* burst_[dataplane::kBurstSize];
  uint16_t service_of_[dataplane::kBurstSize];
  uint32_t hash_of_[dataplane::kBurstSize];  // flow table hash of each service or reply packet
  uint16_t lb_idx_[dataplane::kBurstSize], reply_idx_[dataplane::kBurstSize];
  uint16_t lb_n_ = 0, reply_n_ = 0;
  uint16_t rx_port_id_ = 0;     // DPDK id of the port the burst came from
  uint16_t rx_port_index_ = 0;  // and its index
  rte_mbuf* to_kernel_[dataplane::kBurstSize];
  uint16_t to_kernel_n_ = 0;
  std::vector<Staged> staged_;
  std::vector<TrafficCounters> service_counters_, backend_counters_;
};

}  // namespace sluice::lb
