#include "stats.h"

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

namespace sluice::dataplane {
namespace {

// A "drops: reason=n ..." line under a table row, when any count is non-zero.
void print_drops(std::FILE* out, const std::array<uint64_t, kDropReasonCount>& by_reason) {
  std::string drops;
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    if (by_reason[r] != 0) drops += fmt::format(" {}={}", kDropReasonNames[r], by_reason[r]);
  }
  if (!drops.empty()) fmt::print(out, "{:<12} drops:{}\n", "", drops);
}

}  // namespace

PortTotals sum_port(uint16_t port_id, std::span<const WorkerView> workers) {
  PortTotals t;
  for (const auto& w : workers) {
    const PortCounters& c = w.counters->ports[port_id];
    t.rx_packets += c.rx_packets.get();
    t.rx_bytes += c.rx_bytes.get();
    t.tx_packets += c.tx_packets.get();
    t.tx_bytes += c.tx_bytes.get();
    for (size_t r = 0; r < kDropReasonCount; ++r) t.drops[r] += c.drops[r].get();
  }
  return t;
}

void print_stats(std::FILE* out, const std::vector<Port>& ports,
                 std::span<const WorkerView> workers) {
  fmt::print(out, "{:<12} {:>4} {:>14} {:>16} {:>14} {:>16} {:>10} {:>10} {:>10}\n", "port", "id",
             "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "hw_missed", "hw_rxerr",
             "hw_txerr");
  for (const auto& p : ports) {
    PortTotals t = sum_port(p.id, workers);
    rte_eth_stats hw{};
    rte_eth_stats_get(p.id, &hw);
    fmt::print(out, "{:<12} {:>4} {:>14} {:>16} {:>14} {:>16} {:>10} {:>10} {:>10}\n", p.name, p.id,
               t.rx_packets, t.rx_bytes, t.tx_packets, t.tx_bytes, hw.imissed, hw.ierrors,
               hw.oerrors);
    print_drops(out, t.drops);
  }
  fmt::print(out, "{:<12} {:>14} {:>14} {:>8} {:>14} {:>12}\n", "core", "loops", "busy_loops",
             "busy%", "packets", "cycles/pkt");
  for (const auto& w : workers) {
    const WorkerCounters& c = *w.counters;
    const uint64_t loops = c.loops.get(), busy = c.busy_loops.get(), packets = c.packets.get();
    const double busy_pct =
        loops ? 100.0 * static_cast<double>(busy) / static_cast<double>(loops) : 0.0;
    const double cpp =
        packets ? static_cast<double>(c.busy_cycles.get()) / static_cast<double>(packets) : 0.0;
    fmt::print(out, "{:<12} {:>14} {:>14} {:>7.1f}% {:>14} {:>12.1f}\n",
               fmt::format("lcore {}", w.lcore), loops, busy, busy_pct, packets, cpp);
    // This core's drops by reason, over all ports.
    std::array<uint64_t, kDropReasonCount> by_reason{};
    for (const auto& p : c.ports) {
      for (size_t r = 0; r < kDropReasonCount; ++r) by_reason[r] += p.drops[r].get();
    }
    print_drops(out, by_reason);
  }
  std::fflush(out);
}

}  // namespace sluice::dataplane
