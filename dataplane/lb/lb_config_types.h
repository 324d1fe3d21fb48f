// The L4 balancer's configuration: services (VIPs) with their backends and forwarding mode, and
// the balancer-wide settings (table sizes, timeouts, NAT source addresses, exception path).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "ip_address.h"
#include "ip_proto.h"

namespace sluice::lb {

// The largest lb.max_backends: flow entries hold backend ids in 20 bits.
inline constexpr uint32_t kMaxBackendIds = (1u << 20) - 1;

enum class ForwardingMode : uint8_t { kNat, kDsr, kTunnel };
enum class TunnelType : uint8_t { kIpip, kGue };

struct BackendConfig {
  IpAddress address;
  uint16_t port = 0;  // 0: the client's destination port
  uint32_t weight = 1;
};

struct ServiceConfig {
  std::string name;
  IpAddress vip;
  uint8_t family = kFamilyV4;
  uint8_t protocol = kProtoTcp;
  uint16_t port = 0;  // 0: every port
  ForwardingMode mode = ForwardingMode::kNat;
  TunnelType tunnel = TunnelType::kIpip;
  uint16_t gue_port = 6080;
  bool hash_source_port = true;  // false: clients keep their backend across source ports
  bool track_udp_flows = true;   // false: UDP is forwarded by Maglev alone, no flow state
  std::vector<BackendConfig> backends;
};

struct Timeouts {
  uint32_t tcp_syn_s = 5;
  uint32_t tcp_established_s = 350;
  uint32_t tcp_closing_s = 10;
  uint32_t udp_s = 120;
};

struct LbConfig {
  uint32_t flow_table_size = 1u << 20;  // flows per worker core
  uint32_t maglev_table_size = 65537;   // a prime
  uint32_t max_backends = 131072;       // backend ids: every service's backends together
  // Threads that build Maglev tables when a configuration is compiled (1: the caller alone).
  uint32_t build_threads = std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
  // The CPUs those threads may run on; empty: wherever the caller may. sluice-dataplane gives the
  // CPUs it was started on less the worker cores.
  std::vector<unsigned> build_cpus;
  uint32_t new_flows_per_second = 0;  // per worker; beyond it flows go stateless (0: no limit)
  Timeouts timeouts;
  std::vector<IpAddress> nat_addresses;  // full-NAT source addresses
  std::vector<IpAddress> gateways;       // next hops to backends on no port's link, one per family
  // Bases of tunnel outer sources, one per family: the low 16 (IPv4) or 64 (IPv6) bits vary per
  // flow, so the appliance must own that /16 or /64. Without one, a port's own address is used.
  std::vector<IpAddress> tunnel_sources;
  std::string exception_interface;  // TAP interface for traffic that is not for a VIP
  std::vector<ServiceConfig> services;
};

}  // namespace sluice::lb
