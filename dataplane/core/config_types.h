// The dataplane's start-up configuration: which cores, which ports, how much memory, which job.
// Built from a YAML file and/or the command line before EAL starts; read-only afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ip_address.h"

namespace sluice::dataplane {

enum class HugepageMode { kAuto, kOn, kOff };

struct PortConfig {
  std::string name;    // operator-facing label, unique
  std::string device;  // a PCI address (0000:01:00.0) or a DPDK vdev string (net_ring0,
                       // net_af_packet0,iface=eth1)
  uint16_t mtu = 1500;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  std::vector<IpPrefix> addresses;  // the appliance's own addresses on this port's link
};

struct CoreConfig {
  unsigned main = 0;              // EAL main lcore: management only (signals, stats)
  std::vector<unsigned> workers;  // one pinned polling loop on each
};

enum class Job { kWire, kLb };

struct DataplaneConfig {
  std::string instance = "sluice";  // EAL file prefix: lets several dataplanes share a host
  CoreConfig cores;
  HugepageMode hugepages = HugepageMode::kAuto;
  unsigned memory_mb = 512;  // EAL memory when running without hugepages
  unsigned mbufs = 0;        // 0: sized from ports, queues and descriptors
  std::vector<PortConfig> ports;
  Job job = Job::kWire;
  unsigned stats_interval_s = 0;  // 0: only on SIGUSR1 and at exit
};

}  // namespace sluice::dataplane
