#include "eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config.h"

namespace sluice::dataplane {

HostFacts probe_host() {
  HostFacts facts;
  long free_pages = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("HugePages_Free:", 0) == 0) free_pages = std::stol(line.substr(15));
  }
  bool mounted = false;
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string dev, dir, type;
    fields >> dev >> dir >> type;
    mounted = mounted || type == "hugetlbfs";
  }
  facts.hugepages_available = free_pages > 0 && mounted;
  return facts;
}

bool is_pci_address(std::string_view device) {
  // [DDDD:]BB:DD.F in hex, function 0-7.
  auto hex = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      if (!std::isxdigit(static_cast<unsigned char>(device[i]))) return false;
    }
    return true;
  };
  if (device.size() == 12) {
    if (!hex(0, 4) || device[4] != ':') return false;
    device.remove_prefix(5);
  }
  return device.size() == 7 && hex(0, 2) && device[2] == ':' && hex(3, 2) && device[5] == '.' &&
         device[6] >= '0' && device[6] <= '7';
}

std::string ethdev_name(const PortConfig& port) {
  if (is_pci_address(port.device)) {
    return port.device.size() == 7 ? "0000:" + port.device : port.device;
  }
  return port.device.substr(0, port.device.find(','));
}

bool use_hugepages(const DataplaneConfig& config, const HostFacts& host) {
  switch (config.hugepages) {
    case HugepageMode::kOff:
      return false;
    case HugepageMode::kOn:
      if (!host.hugepages_available) {
        throw ConfigError(
            "hugepages: 'on' but the host has no free hugepages on a mounted hugetlbfs "
            "(see scripts/hugepages)");
      }
      return true;
    case HugepageMode::kAuto:
      break;
  }
  return host.hugepages_available;
}

std::vector<std::string> build_eal_args(const DataplaneConfig& config, const HostFacts& host,
                                        std::string_view program) {
  std::vector<std::string> args{std::string(program)};
  std::string lcores = std::to_string(config.cores.main);
  for (unsigned w : config.cores.workers) lcores += "," + std::to_string(w);
  args.insert(args.end(), {"-l", lcores, "--main-lcore", std::to_string(config.cores.main)});
  args.insert(args.end(), {"--file-prefix", config.instance});
  if (use_hugepages(config, host)) {
    // Unlinked hugepage files cannot outlive a process killed hard.
    args.emplace_back("--huge-unlink");
  } else {
    args.insert(args.end(), {"--no-huge", "-m", std::to_string(config.memory_mb)});
  }
  bool any_pci = false;
  for (const auto& port : config.ports) {
    if (is_pci_address(port.device)) {
      any_pci = true;
      args.insert(args.end(), {"-a", port.device});
    } else {
      args.push_back("--vdev=" + port.device);
    }
  }
  // Without PCI ports, do not let EAL probe (and possibly claim) the host's devices.
  if (!any_pci) args.emplace_back("--no-pci");
  return args;
}

std::vector<std::string> standalone_eal_args(std::string_view program,
                                             const std::string& file_prefix, unsigned lcore) {
  return {std::string(program),
          "-l",
          std::to_string(lcore),
          "--no-huge",
          "--no-pci",
          "-m",
          "256",
          "--no-telemetry",
          "--log-level",
          "lib.eal:warning",
          "--file-prefix",
          file_prefix};
}

EalSession::EalSession(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    throw std::runtime_error(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
  }
}

EalSession::~EalSession() {
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_runtime_dir(runtime_dir);
}

void remove_runtime_dir(const std::string& path) {
  // EAL leaves its runtime directory (config, fbarray and socket files) behind after cleanup;
  // without this, every instance name ever used would keep a directory under /var/run/dpdk.
  std::error_code ec;
  if (path.find("/dpdk/") != std::string::npos) std::filesystem::remove_all(path, ec);
}

}  // namespace sluice::dataplane
