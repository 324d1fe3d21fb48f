#include "lb_telemetry.h"

#include <rte_telemetry.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace sluice::lb {
namespace {

std::atomic<const LbTelemetry*> current{nullptr};

rte_tel_data* u64_array(const std::vector<uint64_t>& values) {
  rte_tel_data* a = rte_tel_data_alloc();
  if (a == nullptr) return nullptr;
  rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
  for (uint64_t v : values) rte_tel_data_add_array_u64(a, v);
  return a;
}

void add_array(rte_tel_data* d, const char* name, const std::vector<uint64_t>& values) {
  if (rte_tel_data* a = u64_array(values)) rte_tel_data_add_dict_container(d, name, a, 0);
}

int list_services(const char*, const char*, rte_tel_data* d) {
  const LbTelemetry* t = current.load();
  if (t == nullptr) return -ENODEV;
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  t->snapshots().read([&](const LbRuntime& rt) {
    for (const auto& s : rt.services()) rte_tel_data_add_array_string(d, s.name.c_str());
  });
  return 0;
}

void describe_service(const ServiceRuntime& s, const std::vector<const LbJob*>& jobs,
                      rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "vip", format_ip_address(s.vip).c_str());
  rte_tel_data_add_dict_u64(d, "port", s.port);
  rte_tel_data_add_dict_string(d, "protocol", s.protocol == kProtoTcp ? "tcp" : "udp");
  uint64_t packets = 0, bytes = 0, new_flows = 0, active = 0;
  std::vector<uint64_t> bp(s.backends.size()), bb(s.backends.size()), bn(s.backends.size()),
      ba(s.backends.size());
  for (const LbJob* j : jobs) {
    const TrafficCounters& c = j->service_counters()[s.id];
    packets += c.packets.get();
    bytes += c.bytes.get();
    new_flows += c.new_flows.get();
    for (size_t bi = 0; bi < s.backends.size(); ++bi) {
      const TrafficCounters& b = j->backend_counters()[s.backends[bi].id];
      bp[bi] += b.packets.get();
      bb[bi] += b.bytes.get();
      bn[bi] += b.new_flows.get();
      ba[bi] += b.active_flows.get();
    }
  }
  rte_tel_data_add_dict_u64(d, "packets", packets);
  rte_tel_data_add_dict_u64(d, "bytes", bytes);
  rte_tel_data_add_dict_u64(d, "new_flows", new_flows);
  rte_tel_data_add_dict_u64(d, "active_flows", active);
  rte_tel_data* names = rte_tel_data_alloc();
  if (names != nullptr) {
    rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
    for (const auto& b : s.backends)
      rte_tel_data_add_array_string(names, format_ip_address(b.address).c_str());
    rte_tel_data_add_dict_container(d, "backends", names, 0);
  }
  add_array(d, "backend_packets", bp);
  add_array(d, "backend_bytes", bb);
  add_array(d, "backend_new_flows", bn);
  add_array(d, "backend_active_flows", ba);
}

int show_service(const char*, const char* params, rte_tel_data* d) {
  const LbTelemetry* t = current.load();
  if (t == nullptr) return -ENODEV;
  if (params == nullptr) return -EINVAL;
  int rc = -EINVAL;
  t->snapshots().read([&](const LbRuntime& rt) {
    for (const ServiceRuntime& s : rt.services()) {
      if (s.name != params) continue;
      describe_service(s, t->jobs(), d);
      rc = 0;
    }
  });
  return rc;
}

int show_cores(const char*, const char*, rte_tel_data* d) {
  const LbTelemetry* t = current.load();
  if (t == nullptr) return -ENODEV;
  rte_tel_data_start_dict(d);
  auto per_core = [&](const char* name, const Counter LbCoreCounters::*field) {
    std::vector<uint64_t> v;
    for (const LbJob* j : t->jobs()) v.push_back((j->core_counters().*field).get());
    add_array(d, name, v);
  };
  per_core("active_flows", &LbCoreCounters::active_flows);
  per_core("stateless_flows", &LbCoreCounters::stateless_flows);
  per_core("arp_replies", &LbCoreCounters::arp_replies);
  per_core("nd_adverts", &LbCoreCounters::nd_adverts);
  per_core("echo_replies", &LbCoreCounters::echo_replies);
  per_core("neighbor_requests", &LbCoreCounters::neighbor_requests);
  per_core("nat_replies", &LbCoreCounters::nat_replies);
  per_core("packet_too_big", &LbCoreCounters::packet_too_big);
  return 0;
}

}  // namespace

LbTelemetry::LbTelemetry(const dataplane::SnapshotPublisher<LbRuntime>& snapshots,
                         std::vector<const LbJob*> jobs)
    : snapshots_(snapshots), jobs_(std::move(jobs)) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    rte_telemetry_register_cmd("/sluice/lb/services", list_services,
                               "Names of the balancer's services.");
    rte_telemetry_register_cmd(
        "/sluice/lb/service", show_service,
        "A service's counters and its backends'. Parameter: the service name.");
    rte_telemetry_register_cmd("/sluice/lb/cores", show_cores, "Per-worker balancer counters.");
  });
  current.store(this);
}

LbTelemetry::~LbTelemetry() {
  current.store(nullptr);
}

}  // namespace sluice::lb
