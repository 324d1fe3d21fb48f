#include "lb_stats.h"

#include <fmt/format.h>
#include <rte_cycles.h>

namespace sluice::lb {
namespace {

struct Totals {
  uint64_t packets = 0, bytes = 0, new_flows = 0, active_flows = 0;
  void add(const TrafficCounters& c) {
    packets += c.packets.get();
    bytes += c.bytes.get();
    new_flows += c.new_flows.get();
    active_flows += c.active_flows.get();
  }
};

control::TrafficStats traffic(const TrafficCounters& c) {
  return {.packets = c.packets.get(),
          .bytes = c.bytes.get(),
          .new_flows = c.new_flows.get(),
          .active_flows = c.active_flows.get()};
}

const char* mode_name(ForwardingMode m) {
  switch (m) {
    case ForwardingMode::kNat:
      return "nat";
    case ForwardingMode::kDsr:
      return "dsr";
    case ForwardingMode::kTunnel:
      return "tunnel";
  }
  return "?";
}

}  // namespace

void print_lb_stats(std::FILE* out, const LbRuntime& rt, std::span<const LbJob* const> jobs) {
  fmt::print(out, "{:<16} {:<28} {:<7} {:>14} {:>16} {:>12} {:>12}\n", "service", "vip", "mode",
             "packets", "bytes", "new_flows", "active");
  for (uint16_t si = 0; si < rt.services().size(); ++si) {
    const ServiceRuntime& s = rt.services()[si];
    Totals t;
    for (const LbJob* j : jobs) t.add(j->service_counters()[s.id]);
    const std::string vip =
        fmt::format("{} {}/{}", format_ip_address(s.vip), s.protocol == kProtoTcp ? "tcp" : "udp",
                    s.port == 0 ? std::string("*") : std::to_string(s.port));
    fmt::print(out, "{:<16} {:<28} {:<7} {:>14} {:>16} {:>12} {:>12}\n", s.name, vip,
               mode_name(s.mode), t.packets, t.bytes, t.new_flows, t.active_flows);
    for (uint16_t bi = 0; bi < s.backends.size(); ++bi) {
      Totals b;
      const BackendRuntime& backend = s.backends[bi];
      for (const LbJob* j : jobs) b.add(j->backend_counters()[backend.id]);
      fmt::print(out, "  backend {:<35} {:>14} {:>16} {:>12} {:>12}  weight {}\n",
                 format_ip_address(backend.address) +
                     (backend.port ? ":" + std::to_string(backend.port) : ""),
                 b.packets, b.bytes, b.new_flows, b.active_flows, backend.weight);
    }
  }
  fmt::print(out, "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>11} {:>9}\n",
             "lb core", "active_flows", "stateless", "arp_reply", "nd_advert", "echo", "nb_request",
             "nat_replies", "to_kernel", "from_kernel", "exc_drops");
  for (size_t i = 0; i < jobs.size(); ++i) {
    const LbCoreCounters& c = jobs[i]->core_counters();
    fmt::print(out, "{:<12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>11} {:>9}\n",
               fmt::format("worker {}", i), c.active_flows.get(), c.stateless_flows.get(),
               c.arp_replies.get(), c.nd_adverts.get(), c.echo_replies.get(),
               c.neighbor_requests.get(), c.nat_replies.get(), c.to_kernel.get(),
               c.from_kernel.get(), c.exception_drops.get());
  }
  std::fflush(out);
}

control::StatsReply lb_stats_reply(const LbRuntime& rt, std::span<const LbJob* const> jobs,
                                   std::span<const dataplane::WorkerView> workers) {
  control::StatsReply reply{.tsc_hz = rte_get_tsc_hz()};
  for (size_t i = 0; i < workers.size() && i < jobs.size(); ++i) {
    const dataplane::WorkerCounters& w = *workers[i].counters;
    const LbCoreCounters& lb = jobs[i]->core_counters();
    control::CoreStats c{.lcore = workers[i].lcore,
                         .loops = w.loops.get(),
                         .busy_loops = w.busy_loops.get(),
                         .busy_cycles = w.busy_cycles.get(),
                         .packets = w.packets.get(),
                         .active_flows = lb.active_flows.get(),
                         .stateless_flows = lb.stateless_flows.get(),
                         .nat_replies = lb.nat_replies.get(),
                         .max_loop_cycles = w.max_loop_cycles.get()};
    for (const Counter& b : w.loop_cycles_log2) c.loop_cycles_log2.push_back(b.get());
    for (const dataplane::PortCounters& p : w.ports) {
      c.rx_packets += p.rx_packets.get();
      c.tx_packets += p.tx_packets.get();
      for (const Counter& d : p.drops) c.drops += d.get();
    }
    reply.cores.push_back(c);
  }
  for (const ServiceRuntime& s : rt.services()) {
    control::ServiceStats service{.name = s.name};
    for (const LbJob* j : jobs) service.per_core.push_back(traffic(j->service_counters()[s.id]));
    for (const BackendRuntime& b : s.backends) {
      control::BackendStats backend{.address = b.address, .port = b.port, .weight = b.weight};
      for (const LbJob* j : jobs) backend.per_core.push_back(traffic(j->backend_counters()[b.id]));
      service.backends.push_back(std::move(backend));
    }
    reply.services.push_back(std::move(service));
  }
  return reply;
}

}  // namespace sluice::lb
