// IP protocol numbers the balancer handles. Header-only and free of DPDK, so that code outside the
// dataplane (the control plane's configuration compiler) can use the balancer's configuration
// types.
#pragma once

#include <cstdint>

namespace sluice::lb {

enum : uint8_t {
  kProtoIcmp = 1,
  kProtoIpip = 4,
  kProtoTcp = 6,
  kProtoUdp = 17,
  kProtoIpv6 = 41,
  kProtoIcmp6 = 58
};

}  // namespace sluice::lb
