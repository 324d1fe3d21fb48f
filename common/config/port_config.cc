#include "config/port_config.h"

namespace sluice {

PortConfig parse_port_config(const YamlField& f) {
  f.expect_map({"name", "device", "mtu", "rx_descriptors", "tx_descriptors", "addresses"});
  PortConfig port;
  port.name = f.required("name").str();
  if (port.name.empty()) f.child("name").fail("must not be empty");
  port.device = f.required("device").str();
  if (port.device.empty()) f.child("device").fail("must not be empty");
  if (auto v = f.child("mtu"); v.present()) port.mtu = static_cast<uint16_t>(v.uint(68, 9600));
  if (auto v = f.child("rx_descriptors"); v.present())
    port.rx_descriptors = static_cast<uint16_t>(v.uint(32, 16384));
  if (auto v = f.child("tx_descriptors"); v.present())
    port.tx_descriptors = static_cast<uint16_t>(v.uint(32, 16384));
  if (auto v = f.child("addresses"); v.present()) {
    for (const auto& item : v.items()) {
      auto prefix = parse_ip_prefix(item.str());
      if (!prefix)
        item.fail("'" + item.str() +
                  "' is not an address with a prefix length, like 10.0.0.2/24 or fd00::2/64");
      port.addresses.push_back(*prefix);
    }
  }
  return port;
}

}  // namespace sluice
