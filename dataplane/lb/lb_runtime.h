// The balancer's configuration compiled for the packet path: the service table, each service's
// Maglev table and backends, the next hops (neighbours) they are reached through, and the
// addresses the appliance answers for. Built off the hot path and read by every worker; the only
// state workers write is what neighbours' MAC addresses they have learned (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control_reply.h"
#include "flow_table.h"
#include "lb_config_types.h"
#include "maglev.h"
#include "service_table.h"

namespace sluice::lb {

// A port as the balancer sees it.
struct LbPort {
  uint16_t id = 0;  // DPDK port id
  std::string name;
  MacAddress mac{};
  std::vector<IpPrefix> addresses;  // the appliance's own addresses on this link
};

// A host the balancer sends to directly: a backend on one of its links.
struct Neighbor {
  static constexpr uint64_t kKnown = uint64_t{1} << 48;

  IpAddress address;
  uint16_t port_index = 0;       // into LbRuntime::ports
  std::atomic<uint64_t> mac{0};  // the MAC in the low 48 bits, kKnown once learned
  std::atomic<uint32_t> last_request_ms{0};

  bool known(MacAddress& out) const {
    const uint64_t v = mac.load(std::memory_order_relaxed);
    if (!(v & kKnown)) return false;
    for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v >> (40 - 8 * i));
    return true;
  }
  void learn(const MacAddress& m) {
    uint64_t v = kKnown;
    for (int i = 0; i < 6; ++i) v |= uint64_t{m[i]} << (40 - 8 * i);
    mac.store(v, std::memory_order_relaxed);
  }
};

// Services and backends keep their ids across configuration changes (by service name, and by
// address and port within a service), so that flow entries, which hold ids, stay valid when the
// backend set changes around them; counters are kept by id too.
inline constexpr uint16_t kNoId = 0xffff;
inline constexpr uint32_t kNoBackendId = UINT32_MAX;
inline constexpr size_t kMaxServiceIds = FlowEntry::kMaxServices;
static_assert(kMaxBackendIds == FlowEntry::kMaxBackends);

struct BackendRuntime {
  uint32_t id = kNoBackendId;
  IpAddress address;
  uint16_t port = 0;  // 0: keep the client's destination port
  uint32_t weight = 1;
  uint32_t neighbor = 0;  // index into LbRuntime::neighbors
};

struct ServiceRuntime {
  uint16_t id = kNoId;
  std::string name;
  IpAddress vip;
  uint8_t protocol = kProtoTcp;
  uint16_t port = 0;
  ForwardingMode mode = ForwardingMode::kNat;
  TunnelType tunnel = TunnelType::kIpip;
  uint16_t gue_port = 6080;
  bool hash_source_port = true;
  bool track_udp_flows = true;
  int nat_address = -1;  // index into LbRuntime::nat_addresses, for full-NAT
  // Entries index `backends`. Shared with the runtime this one replaced when the service's
  // backends (address, port, weight, in order) and the table size are unchanged.
  std::shared_ptr<const MaglevTable> maglev;
  std::vector<BackendRuntime> backends;
};

class LbRuntime {
 public:
  // Throws ConfigError when a backend is on none of the ports' links. With `previous`
  // (the configuration being replaced), ids and learned neighbour addresses carry over.
  LbRuntime(const LbConfig& config, std::vector<LbPort> ports, const LbRuntime* previous = nullptr);
  LbRuntime(const LbRuntime&) = delete;
  LbRuntime& operator=(const LbRuntime&) = delete;

  const ServiceTable& service_table() const { return table_; }
  const std::vector<ServiceRuntime>& services() const { return services_; }
  const std::vector<LbPort>& ports() const { return ports_; }
  const std::vector<IpAddress>& nat_addresses() const { return nat_addresses_; }
  // The configured base for tunnel outer sources of this family, or nullptr.
  const IpAddress* tunnel_source_base(bool v4) const {
    for (const auto& a : tunnel_sources_) {
      if (a.is_v4() == v4) return &a;
    }
    return nullptr;
  }
  const Timeouts& timeouts() const { return timeouts_; }

  Neighbor& neighbor(uint32_t i) { return neighbors_[i]; }
  uint32_t neighbor_count() const { return neighbor_count_; }
  // The neighbour with this address, or nullptr.
  Neighbor* find_neighbor(const IpAddress& a);
  const Neighbor* find_neighbor(const IpAddress& a) const {
    return const_cast<LbRuntime*>(this)->find_neighbor(a);
  }

  // Addresses the appliance answers ARP/ND and ping for: its own, the VIPs, the NAT addresses.
  bool owns(const IpAddress& a) const;
  // One of the ports' own addresses: what the kernel holds on the exception path's TAPs.
  bool is_port_address(const IpAddress& a) const;
  // The index of a full-NAT source address, or -1.
  int nat_address_index(const IpAddress& a) const;
  // The index into ports() of the port with this DPDK id, or -1.
  int port_index(uint16_t port_id) const;

  struct BackendRef {
    uint16_t service = kNoId;  // index into services()
    uint16_t backend = kNoId;  // index into that service's backends
  };
  // Where the backend with this id is now; kNoId fields when it is gone.
  BackendRef backend_by_id(uint32_t id) const {
    return id < backend_by_id_.size() ? backend_by_id_[id] : BackendRef{};
  }
  // Backend ids are below this (lb.max_backends of the first runtime, kept by its successors so
  // that per-core counters sized by it stay large enough).
  uint32_t max_backends() const { return max_backends_; }

 private:
  void assign_ids(const std::vector<const ServiceRuntime*>& old_of, const LbRuntime* previous);

  ServiceTable table_;
  std::vector<ServiceRuntime> services_;
  std::vector<LbPort> ports_;
  std::vector<IpAddress> nat_addresses_;
  std::vector<IpAddress> tunnel_sources_;
  std::vector<IpAddress> owned_;           // sorted
  std::vector<IpAddress> port_addresses_;  // sorted
  std::unique_ptr<Neighbor[]> neighbors_;
  uint32_t neighbor_count_ = 0;
  std::vector<std::pair<IpAddress, uint32_t>> neighbor_index_;  // sorted by address
  Timeouts timeouts_;
  std::vector<BackendRef> backend_by_id_;
  uint32_t max_backends_ = 0;
  uint32_t next_backend_id_ = 0;
};

}  // namespace sluice::lb
