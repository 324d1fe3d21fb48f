// A Linux TAP interface that the dataplane opens for one of its ports, so that the kernel's stack
// can send and receive on that port's link: same MAC, same MTU, the port's own addresses. The
// interface lives as long as the object (it is not persistent). Opened and used by the main
// lcore only; never by workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ip_address.h"

namespace sluice::exception {

struct TapConfig {
  std::string name;  // at most 15 characters
  MacAddress mac{};
  uint16_t mtu = 1500;
  std::vector<IpPrefix> addresses;  // assigned to the interface once it is up
};

class TapDevice {
 public:
  // Creates the TAP (IFF_TAP | IFF_NO_PI, non-blocking), sets its MAC and MTU, brings it up and
  // assigns the addresses (IPv6 ones without duplicate address detection). Throws
  // std::runtime_error naming the interface. IPv6 addresses on an interface where the kernel has
  // IPv6 disabled are skipped and listed in skipped_addresses().
  static TapDevice open(const TapConfig& config);

  // Takes ownership of `fd`, any non-blocking descriptor that keeps frame boundaries (a TAP's, or
  // one end of a SOCK_SEQPACKET socket pair).
  TapDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~TapDevice();
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  const std::vector<IpPrefix>& skipped_addresses() const { return skipped_; }

 private:
  int fd_ = -1;
  std::string name_;
  std::vector<IpPrefix> skipped_;
};

}  // namespace sluice::exception
