// Finding the service a packet is for: (VIP, protocol, destination port), with port 0 meaning
// every port of that VIP and protocol. Built once per configuration, read-only afterwards; a
// lookup is one or two probes of an open-addressed table, no allocation.
#pragma once

#include <nmmintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "packet_parse.h"

namespace sluice::lb {

class ServiceTable {
 public:
  static constexpr uint16_t kNone = 0xffff;

  struct Key {
    IpAddress vip;
    uint8_t protocol;
    uint16_t port;
  };

  // `keys[i]` identifies service i.
  explicit ServiceTable(const std::vector<Key>& keys) {
    size_t slots = 16;
    while (slots < keys.size() * 4) slots *= 2;
    slots_.assign(slots, Slot{});
    mask_ = static_cast<uint32_t>(slots - 1);
    for (size_t i = 0; i < keys.size(); ++i) {
      uint32_t at = hash(keys[i].vip, keys[i].protocol, keys[i].port) & mask_;
      while (slots_[at].service != kNone) at = (at + 1) & mask_;
      slots_[at] = {keys[i].vip, keys[i].port, keys[i].protocol, static_cast<uint16_t>(i)};
      if (keys[i].port == 0) wildcard_protocols_ |= keys[i].protocol == kProtoTcp ? 1 : 2;
      vips_.push_back(keys[i].vip.bytes);
    }
    std::sort(vips_.begin(), vips_.end());
    vips_.erase(std::unique(vips_.begin(), vips_.end()), vips_.end());
  }

  // The service for a packet to `vip`:`port` over `protocol`, or kNone.
  uint16_t find(const IpAddress& vip, uint8_t protocol, uint16_t port) const {
    uint16_t s = probe(vip, protocol, port);
    if (s == kNone && (wildcard_protocols_ & (protocol == kProtoTcp ? 1 : 2)))
      s = probe(vip, protocol, 0);
    return s;
  }

  // Whether `address` is the VIP of any service (for ARP/ND and ICMP echo).
  bool is_vip(const IpAddress& address) const {
    return std::binary_search(vips_.begin(), vips_.end(), address.bytes);
  }

 private:
  struct Slot {
    IpAddress vip;
    uint16_t port = 0;
    uint8_t protocol = 0;
    uint16_t service = kNone;
  };

  static uint32_t hash(const IpAddress& vip, uint8_t protocol, uint16_t port) {
    uint64_t w[2];
    std::memcpy(w, vip.bytes.data(), 16);
    uint64_t h = _mm_crc32_u64(0, w[0]);
    h = _mm_crc32_u64(h, w[1]);
    return _mm_crc32_u32(static_cast<uint32_t>(h), static_cast<uint32_t>(protocol) << 16 | port);
  }

  uint16_t probe(const IpAddress& vip, uint8_t protocol, uint16_t port) const {
    for (uint32_t at = hash(vip, protocol, port) & mask_;; at = (at + 1) & mask_) {
      const Slot& s = slots_[at];
      if (s.service == kNone) return kNone;
      if (s.port == port && s.protocol == protocol && s.vip == vip) return s.service;
    }
  }

  std::vector<Slot> slots_;
  std::vector<IpAddress::Bytes> vips_;  // sorted, unique
  uint32_t mask_ = 0;
  uint8_t wildcard_protocols_ = 0;  // bit 0: some TCP service has port 0; bit 1: UDP
};

}  // namespace sluice::lb
