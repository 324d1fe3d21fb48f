// Header rewrites for the balancer's forwarding modes, with incremental checksum updates
// (RFC 1624) so that the payload is never summed again. Functions take the frame's bytes and the
// offsets the parser recorded; they never allocate.
#pragma once

#include <cstdint>
#include <cstring>

#include "packet_parse.h"

namespace sluice::lb {

namespace checksum {

inline uint16_t load(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline void store(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// HC' = ~(~HC + ~m + m') over the 16-bit words of an even-length field that changes from `old`
// to `now`. `sum` is the running ~HC accumulator; fold() turns it back into a checksum.
inline uint32_t add_change(uint32_t sum, const uint8_t* old, const uint8_t* now, size_t len) {
  for (size_t i = 0; i < len; i += 2) sum += static_cast<uint16_t>(~load(old + i)) + load(now + i);
  return sum;
}

inline uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Updates the checksum stored at `field` for a change of `len` bytes from `old` to `now`.
inline void update(uint8_t* field, const uint8_t* old, const uint8_t* now, size_t len) {
  store(field, fold(add_change(static_cast<uint16_t>(~load(field)), old, now, len)));
}

}  // namespace checksum

// Offset of the L4 checksum field for protocols whose checksum covers the pseudo-header
// (and therefore the addresses); 0 when there is none.
inline uint32_t l4_checksum_offset(const PacketMeta& m) {
  if (m.later_fragment || m.l4_offset == 0) return 0;
  switch (m.key.proto) {
    case kProtoTcp:
      return m.l4_offset + 16u;
    case kProtoUdp:
      return m.l4_offset + 6u;
    case kProtoIcmp6:
      return m.l4_offset + 2u;
    default:
      return 0;
  }
}

// Rewrites source and destination address and port of an IPv4 or IPv6 packet (full-NAT) with
// incremental updates of the IPv4 header checksum and the TCP/UDP/ICMPv6 checksum. `frame`
// points at the Ethernet header. Ports are only rewritten for TCP and UDP.
inline void rewrite_addresses_and_ports(uint8_t* frame, const PacketMeta& m, const IpAddress& src,
                                        uint16_t sport, const IpAddress& dst, uint16_t dport) {
  uint8_t* ip = frame + m.l3_offset;
  const uint32_t l4_csum = l4_checksum_offset(m);
  uint8_t* l4sum = l4_csum ? frame + l4_csum : nullptr;
  // An IPv4 UDP checksum of zero means "none" and stays so.
  if (l4sum && m.key.proto == kProtoUdp && m.key.family == kFamilyV4 && checksum::load(l4sum) == 0)
    l4sum = nullptr;

  uint32_t l4_acc = l4sum ? static_cast<uint16_t>(~checksum::load(l4sum)) : 0;
  if (m.key.family == kFamilyV4) {
    uint8_t old_addrs[8];
    std::memcpy(old_addrs, ip + 12, 8);
    std::memcpy(ip + 12, src.v4(), 4);
    std::memcpy(ip + 16, dst.v4(), 4);
    checksum::update(ip + 10, old_addrs, ip + 12, 8);
    if (l4sum) l4_acc = checksum::add_change(l4_acc, old_addrs, ip + 12, 8);
  } else {
    uint8_t old_addrs[32];
    std::memcpy(old_addrs, ip + 8, 32);
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
    if (l4sum) l4_acc = checksum::add_change(l4_acc, old_addrs, ip + 8, 32);
  }
  if (!m.later_fragment && (m.key.proto == kProtoTcp || m.key.proto == kProtoUdp)) {
    uint8_t* ports = frame + m.l4_offset;
    uint8_t old_ports[4];
    std::memcpy(old_ports, ports, 4);
    checksum::store(ports, sport);
    checksum::store(ports + 2, dport);
    if (l4sum) l4_acc = checksum::add_change(l4_acc, old_ports, ports, 4);
  }
  if (l4sum) {
    uint16_t c = checksum::fold(l4_acc);
    // UDP transmits a computed zero as all ones (zero would mean "no checksum").
    if (c == 0 && m.key.proto == kProtoUdp) c = 0xffff;
    checksum::store(l4sum, c);
  }
}

inline void set_macs(uint8_t* frame, const uint8_t* src_mac, const uint8_t* dst_mac) {
  std::memcpy(frame, dst_mac, 6);
  std::memcpy(frame + 6, src_mac, 6);
}

}  // namespace sluice::lb
