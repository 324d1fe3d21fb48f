// The dataplane's start-up configuration: which cores, which ports, how much memory, which job.
// Built from a YAML file and/or the command line before EAL starts; read-only afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/port_config.h"
#include "ip_address.h"

namespace sluice::dataplane {

enum class HugepageMode { kAuto, kOn, kOff };

using sluice::PortConfig;

struct CoreConfig {
  unsigned main = 0;              // EAL main lcore: management only (signals, stats)
  std::vector<unsigned> workers;  // one pinned polling loop on each
};

// kQueues serves the SQS API on io_uring service cores; it takes no DPDK port and starts no EAL.
enum class Job { kWire, kLb, kQueues, kProxy };

struct DataplaneConfig {
  std::string instance = "sluice";  // EAL file prefix: lets several dataplanes share a host
  CoreConfig cores;
  HugepageMode hugepages = HugepageMode::kAuto;
  unsigned memory_mb = 512;  // EAL memory when running without hugepages
  unsigned mbufs = 0;        // 0: sized from ports, queues and descriptors
  std::vector<PortConfig> ports;
  Job job = Job::kWire;
  unsigned stats_interval_s = 0;  // 0: only on SIGUSR1 and at exit
  std::string control_socket;     // unix socket sluice-controlplane connects to (lb); empty: none
};

}  // namespace sluice::dataplane
