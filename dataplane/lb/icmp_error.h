// ICMP "fragmentation needed" (IPv4) and "packet too big" (IPv6) messages carry the start of the
// packet that was too big. When that packet was a backend's reply sent from a VIP (DSR, tunnel),
// the message reaches the balancer, which must hand it to the backend owning the flow so that the
// backend lowers its path MTU. This reads the quoted packet's flow.
#pragma once

#include <cstdint>
#include <optional>

#include "packet_parse.h"

namespace sluice::lb {

inline constexpr uint8_t kIcmpDestUnreachable = 3, kIcmpFragNeeded = 4, kIcmp6PacketTooBig = 2;

inline bool is_packet_too_big(const PacketMeta& m) {
  if (m.fragment) return false;
  return (m.key.proto == kProtoIcmp && m.icmp_type == kIcmpDestUnreachable &&
          m.icmp_code == kIcmpFragNeeded) ||
         (m.key.proto == kProtoIcmp6 && m.icmp_type == kIcmp6PacketTooBig);
}

// The flow of the quoted packet, as the client sent it: the quoted packet went from the VIP to the
// client, so its addresses and ports are swapped back. Only TCP and UDP quotes are read, without
// IPv6 extension headers.
inline std::optional<FlowKey> quoted_client_flow(const uint8_t* frame, const PacketMeta& m) {
  const uint32_t icmp_len = m.l3_length - (m.l4_offset - m.l3_offset);
  if (icmp_len < 8) return std::nullopt;
  const uint8_t* q = frame + m.l4_offset + 8;
  const uint32_t avail = icmp_len - 8;
  FlowKey k;
  uint32_t l4 = 0;
  if (m.key.family == kFamilyV4) {
    if (avail < 20 || (q[0] >> 4) != 4) return std::nullopt;
    l4 = (q[0] & 0x0f) * 4u;
    k.proto = q[9];
    k.dst = IpAddress::from_v4(q + 12);
    k.src = IpAddress::from_v4(q + 16);
    k.family = kFamilyV4;
  } else {
    if (avail < 40 || (q[0] >> 4) != 6) return std::nullopt;
    l4 = 40;
    k.proto = q[6];
    k.dst = IpAddress::from_v6(q + 8);
    k.src = IpAddress::from_v6(q + 24);
    k.family = kFamilyV6;
  }
  if ((k.proto != kProtoTcp && k.proto != kProtoUdp) || l4 < 20 || avail < l4 + 4)
    return std::nullopt;
  k.dst_port = static_cast<uint16_t>(q[l4] << 8 | q[l4 + 1]);
  k.src_port = static_cast<uint16_t>(q[l4 + 2] << 8 | q[l4 + 3]);
  return k;
}

}  // namespace sluice::lb
