// Starting and stopping DPDK's environment abstraction layer (EAL) from a DataplaneConfig:
// hugepages when the host has them (or when asked), --no-huge otherwise, ports as vdevs or
// allow-listed PCI devices, the main lcore first in the core list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config_types.h"

namespace sluice::dataplane {

struct HostFacts {
  bool hugepages_available = false;  // free hugepages and a mounted hugetlbfs
};

HostFacts probe_host();

bool is_pci_address(std::string_view device);

// The ethdev name DPDK gives the port made from this device (what rte_eth_dev_get_port_by_name
// takes).
std::string ethdev_name(const PortConfig& port);

// Whether the configuration, on this host, runs on hugepages. Throws ConfigError when hugepages
// are required but missing.
bool use_hugepages(const DataplaneConfig& config, const HostFacts& host);

std::vector<std::string> build_eal_args(const DataplaneConfig& config, const HostFacts& host,
                                        std::string_view program);

// EAL for tests and benchmarks: one lcore, 256 MiB without hugepages, no PCI, no telemetry, and
// a file prefix of its own so that it never meets a running dataplane.
std::vector<std::string> standalone_eal_args(std::string_view program,
                                             const std::string& file_prefix, unsigned lcore);

// Removes an EAL runtime directory (rte_eal_get_runtime_dir()) after rte_eal_cleanup.
void remove_runtime_dir(const std::string& path);

// Owns the EAL for the life of the process: rte_eal_init on construction, rte_eal_cleanup on
// destruction. EAL can be started once per process.
class EalSession {
 public:
  explicit EalSession(const std::vector<std::string>& args);  // throws std::runtime_error
  ~EalSession();
  EalSession(const EalSession&) = delete;
  EalSession& operator=(const EalSession&) = delete;
};

}  // namespace sluice::dataplane
