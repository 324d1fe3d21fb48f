// The last step of every dataplane job: check frames against what the egress port accepts, send
// them, and free (and count) whatever the queue had no room for. Never blocks, never allocates.
#pragma once

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "worker_types.h"

namespace sluice::dataplane {

// The reason a frame cannot leave by `out`, or DropReason::kCount when it can.
inline DropReason egress_check(const rte_mbuf* m, const EgressQueue& out) {
  if (m->pkt_len < RTE_ETHER_HDR_LEN) return DropReason::kRunt;
  if (m->pkt_len > out.max_frame) return DropReason::kOversize;
  if (m->nb_segs > 1 && !out.multi_segment) return DropReason::kMultiSegUnsupported;
  return DropReason::kCount;
}

struct TransmitResult {
  uint16_t sent = 0;
  uint64_t offered_bytes = 0;  // bytes of all n frames, sent or not
};

// Sends up to n frames; consumes all of them (sent or freed). Counts on `counters` (the egress
// port's). Reading each mbuf once here, rather than again in a separate pass, matters: without
// hugepages every mbuf header maps to the same cache set and a second pass misses.
inline TransmitResult transmit_burst(const EgressQueue& out, rte_mbuf** pkts, uint16_t n,
                                     PortCounters& counters) {
  uint16_t kept = 0;
  uint64_t offered = 0, kept_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    offered += m->pkt_len;
    DropReason reason = egress_check(m, out);
    if (reason != DropReason::kCount) [[unlikely]] {
      counters.drop(reason);
      rte_pktmbuf_free(m);
      continue;
    }
    kept_bytes += m->pkt_len;
    pkts[kept++] = m;
  }
  uint16_t sent = rte_eth_tx_burst(out.port, out.queue, pkts, kept);
  if (sent < kept) [[unlikely]] {
    for (uint16_t i = sent; i < kept; ++i) kept_bytes -= pkts[i]->pkt_len;
    rte_pktmbuf_free_bulk(pkts + sent, kept - sent);
    counters.drop(DropReason::kTxFull, kept - sent);
  }
  counters.tx_packets.add(sent);
  counters.tx_bytes.add(kept_bytes);
  return {sent, offered};
}

}  // namespace sluice::dataplane
