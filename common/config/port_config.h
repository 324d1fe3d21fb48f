// A DPDK port as both planes' configuration files describe it, and the reader of that YAML
// shape, so that the dataplane's start-up file and the control plane's document agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/yaml_field.h"
#include "ip_address.h"

namespace sluice {

struct PortConfig {
  std::string name;    // operator-facing label, unique
  std::string device;  // a PCI address (0000:01:00.0) or a DPDK vdev string (net_ring0,
                       // net_af_packet0,iface=eth1)
  uint16_t mtu = 1500;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  std::vector<IpPrefix> addresses;  // the appliance's own addresses on this port's link
};

// Reads one entry of a `ports` list; throws ConfigError naming the key and line.
PortConfig parse_port_config(const YamlField& f);

}  // namespace sluice
