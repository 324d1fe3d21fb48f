// The wire: a two-port forwarder. Whatever arrives on one port leaves on the other, unchanged,
// after the egress checks every job applies. It is the dataplane's baseline: the L4 balancer's
// cost is measured against it.
#pragma once

#include "port.h"
#include "transmit.h"
#include "worker_types.h"

namespace sluice::dataplane {

class WireJob {
 public:
  // Forwards between queue `queue` of `a` and the same queue of `b`, both directions.
  WireJob(const Port& a, const Port& b, uint16_t queue)
      : a_in_(a.ingress(queue)),
        b_in_(b.ingress(queue)),
        a_out_(a.egress(queue)),
        b_out_(b.egress(queue)) {}

  uint32_t poll(WorkerCounters& counters) {
    return forward(a_in_, b_out_, counters) + forward(b_in_, a_out_, counters);
  }

 private:
  static uint16_t forward(const IngressQueue& in, const EgressQueue& out,
                          WorkerCounters& counters) {
    rte_mbuf* pkts[kBurstSize];
    const uint16_t n = rte_eth_rx_burst(in.port, in.queue, pkts, kBurstSize);
    if (n == 0) return 0;
    const TransmitResult r = transmit_burst(out, pkts, n, counters.ports[out.port]);
    PortCounters& rx = counters.ports[in.port];
    rx.rx_packets.add(n);
    rx.rx_bytes.add(r.offered_bytes);
    return n;
  }

  IngressQueue a_in_, b_in_;
  EgressQueue a_out_, b_out_;
};

}  // namespace sluice::dataplane
