#include "tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace sluice::exception {
namespace {

// Closes a descriptor at the end of a scope unless released.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& name, const std::string& what, int err) {
  throw std::runtime_error("exception interface " + name + ": " + what + ": " + std::strerror(err));
}

ifreq named_request(const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

// One RTM_NEWADDR request and its acknowledgement. Returns 0 or the kernel's errno.
class AddressRequest {
 public:
  AddressRequest(int ifindex, const IpPrefix& prefix) {
    const bool v4 = prefix.address.is_v4();
    msg_.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    msg_.nh.nlmsg_type = RTM_NEWADDR;
    msg_.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    msg_.nh.nlmsg_seq = 1;
    msg_.ifa.ifa_family = v4 ? AF_INET : AF_INET6;
    msg_.ifa.ifa_prefixlen = prefix.length;
    msg_.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    msg_.ifa.ifa_index = static_cast<unsigned>(ifindex);
    const uint8_t* bytes = v4 ? prefix.address.v4() : prefix.address.bytes.data();
    const size_t len = v4 ? 4 : 16;
    add(IFA_LOCAL, bytes, len);
    add(IFA_ADDRESS, bytes, len);
    if (v4 && prefix.length < 31) {
      uint8_t broadcast[4];
      std::memcpy(broadcast, bytes, 4);
      for (unsigned bit = prefix.length; bit < 32; ++bit) {
        broadcast[bit / 8] = static_cast<uint8_t>(broadcast[bit / 8] | (0x80 >> (bit % 8)));
      }
      add(IFA_BROADCAST, broadcast, 4);
    }
    if (!v4) {
      // The address is the port's; the link has no duplicate to detect as far as the kernel can
      // tell, and detection would hold the address back for a second.
      msg_.ifa.ifa_flags = IFA_F_NODAD;
      const uint32_t flags = IFA_F_NODAD;
      add(IFA_FLAGS, &flags, sizeof flags);
    }
  }

  int send(int sock) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(sock, &msg_, msg_.nh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
      return errno;
    }
    alignas(nlmsghdr) char reply[4096];
    for (;;) {
      const ssize_t n = recv(sock, reply, sizeof reply, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      auto len = static_cast<unsigned>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != msg_.nh.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
        return -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      }
    }
  }

 private:
  void add(uint16_t type, const void* data, size_t len) {
    auto* rta =
        reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&msg_) + NLMSG_ALIGN(msg_.nh.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(rta), data, len);
    msg_.nh.nlmsg_len = NLMSG_ALIGN(msg_.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }

  struct {
    nlmsghdr nh;
    ifaddrmsg ifa;
    char attrs[128];
  } msg_{};
};

}  // namespace

TapDevice TapDevice::open(const TapConfig& config) {
  const std::string& name = config.name;
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw std::runtime_error("exception interface '" + name + "': names are 1 to " +
                             std::to_string(IFNAMSIZ - 1) + " characters");
  }
  ScopedFd tun(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (tun.get() < 0) fail(name, "cannot open /dev/net/tun", errno);
  ifreq ifr = named_request(name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(tun.get(), TUNSETIFF, &ifr) < 0) fail(name, "cannot create the TAP", errno);

  ScopedFd ctl(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (ctl.get() < 0) fail(name, "socket", errno);
  ifr = named_request(name);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(ifr.ifr_hwaddr.sa_data, config.mac.data(), 6);
  if (ioctl(ctl.get(), SIOCSIFHWADDR, &ifr) < 0) fail(name, "cannot set the MAC address", errno);
  ifr = named_request(name);
  ifr.ifr_mtu = config.mtu;
  if (ioctl(ctl.get(), SIOCSIFMTU, &ifr) < 0) fail(name, "cannot set the MTU", errno);
  ifr = named_request(name);
  if (ioctl(ctl.get(), SIOCGIFFLAGS, &ifr) < 0) fail(name, "SIOCGIFFLAGS", errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(ctl.get(), SIOCSIFFLAGS, &ifr) < 0) fail(name, "cannot bring it up", errno);
  ifr = named_request(name);
  if (ioctl(ctl.get(), SIOCGIFINDEX, &ifr) < 0) fail(name, "SIOCGIFINDEX", errno);
  const int ifindex = ifr.ifr_ifindex;

  TapDevice tap(tun.release(), name);
  if (config.addresses.empty()) return tap;
  ScopedFd nl(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (nl.get() < 0) fail(name, "netlink socket", errno);
  for (const IpPrefix& prefix : config.addresses) {
    const int err = AddressRequest(ifindex, prefix).send(nl.get());
    if (err == 0) continue;
    const std::string address =
        format_ip_address(prefix.address) + "/" + std::to_string(prefix.length);
    // EACCES is how the kernel refuses IPv6 addresses where IPv6 is disabled (disable_ipv6).
    if (err == EACCES && !prefix.address.is_v4()) {
      tap.skipped_.push_back(prefix);
      continue;
    }
    fail(name, "cannot add " + address, err);
  }
  return tap;
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) close(fd_);
}

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      skipped_(std::move(other.skipped_)) {}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    skipped_ = std::move(other.skipped_);
  }
  return *this;
}

}  // namespace sluice::exception
