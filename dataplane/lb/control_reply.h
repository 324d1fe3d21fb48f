// Answers the balancer gives itself, by turning the request's mbuf into the reply in place:
// ARP replies and IPv6 neighbour advertisements for owned addresses (VIPs and local addresses),
// and ICMP/ICMPv6 echo replies on VIPs. Also reads what a neighbour message teaches about the
// sender (its MAC), for the neighbour table.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "packet_parse.h"
#include "rewrite.h"

namespace sluice::lb {

inline constexpr uint8_t kIcmpEchoRequest = 8, kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
inline constexpr uint8_t kNdSolicit = 135, kNdAdvert = 136;

struct ArpView {
  uint16_t op;  // 1 request, 2 reply
  IpAddress sender_ip, target_ip;
  MacAddress sender_mac;
};

inline ArpView read_arp(const uint8_t* frame, const PacketMeta& m) {
  const uint8_t* a = frame + m.l3_offset;
  ArpView v{};
  v.op = checksum::load(a + 6);
  std::memcpy(v.sender_mac.data(), a + 8, 6);
  v.sender_ip = IpAddress::from_v4(a + 14);
  v.target_ip = IpAddress::from_v4(a + 24);
  return v;
}

// Turns an ARP request into the reply "target_ip is at our_mac".
inline void make_arp_reply(uint8_t* frame, const PacketMeta& m, const MacAddress& our_mac) {
  uint8_t* a = frame + m.l3_offset;
  uint8_t requester_mac[6], requester_ip[4], target_ip[4];
  std::memcpy(requester_mac, a + 8, 6);
  std::memcpy(requester_ip, a + 14, 4);
  std::memcpy(target_ip, a + 24, 4);
  checksum::store(a + 6, 2);
  std::memcpy(a + 8, our_mac.data(), 6);
  std::memcpy(a + 14, target_ip, 4);
  std::memcpy(a + 18, requester_mac, 6);
  std::memcpy(a + 24, requester_ip, 4);
  std::memcpy(frame, requester_mac, 6);
  std::memcpy(frame + 6, our_mac.data(), 6);
}

// Whether an ICMP/ICMPv6 packet is an echo request.
inline bool is_echo_request(const PacketMeta& m) {
  return !m.fragment && ((m.key.proto == kProtoIcmp && m.icmp_type == kIcmpEchoRequest) ||
                         (m.key.proto == kProtoIcmp6 && m.icmp_type == kIcmp6EchoRequest));
}

// Turns an echo request into its reply: addresses and MACs swapped, type changed, checksums
// updated. The TTL/hop limit is reset to 64.
inline void make_echo_reply(uint8_t* frame, const PacketMeta& m) {
  uint8_t mac_tmp[6];
  std::memcpy(mac_tmp, frame, 6);
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, mac_tmp, 6);
  uint8_t* ip = frame + m.l3_offset;
  uint8_t* icmp = frame + m.l4_offset;
  const uint8_t old_type[2] = {icmp[0], icmp[1]};
  if (m.key.family == kFamilyV4) {
    uint8_t old_ttl[2] = {ip[8], ip[9]};
    ip[8] = 64;
    checksum::update(ip + 10, old_ttl, ip + 8, 2);
    uint8_t tmp[4];
    std::memcpy(tmp, ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, tmp, 4);  // a swap leaves the header checksum unchanged
    icmp[0] = kIcmpEchoReply;
  } else {
    ip[7] = 64;
    uint8_t tmp[16];
    std::memcpy(tmp, ip + 8, 16);
    std::memcpy(ip + 8, ip + 24, 16);
    std::memcpy(ip + 24, tmp, 16);  // the pseudo-header sum is unchanged by a swap
    icmp[0] = kIcmp6EchoReply;
  }
  checksum::update(icmp + 2, old_type, icmp, 2);
}

// The ICMPv6 checksum of a 32-byte neighbour discovery message after the IPv6 header `ip`.
inline void set_nd_checksum(uint8_t* ip) {
  uint8_t* icmp = ip + 40;
  checksum::store(icmp + 2, 0);
  uint32_t sum = 32 + kProtoIcmp6;
  for (int i = 0; i < 32; i += 2) sum += checksum::load(ip + 8 + i) + checksum::load(icmp + i);
  checksum::store(icmp + 2, checksum::fold(sum));
}

// A neighbour solicitation or advertisement: its target, and the link-layer address option that
// goes with its type (source for a solicitation, target for an advertisement) when present.
struct NeighborMessage {
  IpAddress target;
  std::optional<MacAddress> link_address;
};

// Reads an ICMPv6 neighbour discovery message of `type` (hop limit 255, code 0, at least 24 bytes,
// options well formed); nullopt for anything else.
inline std::optional<NeighborMessage> read_neighbor_message(const uint8_t* frame,
                                                            const PacketMeta& m, uint8_t type) {
  if (m.key.proto != kProtoIcmp6 || m.icmp_type != type || m.icmp_code != 0 || m.fragment)
    return std::nullopt;
  const uint8_t* ip = frame + m.l3_offset;
  const uint32_t icmp_len = m.l3_length - (m.l4_offset - m.l3_offset);
  if (ip[7] != 255 || icmp_len < 24) return std::nullopt;
  const uint8_t* icmp = frame + m.l4_offset;
  const uint8_t option = type == kNdSolicit ? 1 : 2;  // source / target link-layer address
  NeighborMessage msg{IpAddress::from_v6(icmp + 8), std::nullopt};
  for (uint32_t at = 24; at + 8 <= icmp_len;) {
    const uint32_t len = icmp[at + 1] * 8u;
    if (len == 0 || at + len > icmp_len) return std::nullopt;
    if (icmp[at] == option && len == 8) {
      MacAddress mac;
      std::memcpy(mac.data(), icmp + at + 2, 6);
      msg.link_address = mac;
    }
    at += len;
  }
  return msg;
}

inline std::optional<NeighborMessage> read_neighbor_solicit(const uint8_t* frame,
                                                            const PacketMeta& m) {
  return read_neighbor_message(frame, m, kNdSolicit);
}

// Size of a neighbour advertisement frame with a target link-layer address option.
inline uint32_t neighbor_advert_size(const PacketMeta& m) {
  return m.l3_offset + 40u + 32u;
}

// Writes, over the solicitation, a solicited neighbour advertisement for `target` at `our_mac`,
// sent to the soliciting node. The caller sizes the mbuf to neighbor_advert_size().
inline void make_neighbor_advert(uint8_t* frame, const PacketMeta& m, const IpAddress& target,
                                 const MacAddress& our_mac) {
  std::memcpy(frame, frame + 6, 6);  // to the solicitor's MAC
  std::memcpy(frame + 6, our_mac.data(), 6);
  uint8_t* ip = frame + m.l3_offset;
  uint8_t solicitor[16];
  std::memcpy(solicitor, ip + 8, 16);
  checksum::store(ip + 4, 32);
  ip[6] = kProtoIcmp6;
  ip[7] = 255;
  std::memcpy(ip + 8, target.bytes.data(), 16);
  std::memcpy(ip + 24, solicitor, 16);
  uint8_t* icmp = ip + 40;
  std::memset(icmp, 0, 32);
  icmp[0] = kNdAdvert;
  icmp[4] = 0x60;  // solicited, override
  std::memcpy(icmp + 8, target.bytes.data(), 16);
  icmp[24] = 2;  // target link-layer address option
  icmp[25] = 1;
  std::memcpy(icmp + 26, our_mac.data(), 6);
  set_nd_checksum(ip);
}

// A neighbour advertisement that carries the target's link-layer address.
inline std::optional<std::pair<IpAddress, MacAddress>> read_neighbor_advert(const uint8_t* frame,
                                                                            const PacketMeta& m) {
  const auto msg = read_neighbor_message(frame, m, kNdAdvert);
  if (!msg || !msg->link_address) return std::nullopt;
  return std::make_pair(msg->target, *msg->link_address);
}

inline constexpr uint32_t kArpRequestSize = 60;  // padded to the Ethernet minimum
inline constexpr uint32_t kNeighborSolicitSize = 14 + 40 + 32;

// Writes a broadcast ARP request "who has `target`, tell `ours`" into `frame` (kArpRequestSize
// bytes).
inline void make_arp_request(uint8_t* frame, const MacAddress& our_mac, const IpAddress& ours,
                             const IpAddress& target) {
  std::memset(frame, 0, kArpRequestSize);
  std::memset(frame, 0xff, 6);
  std::memcpy(frame + 6, our_mac.data(), 6);
  checksum::store(frame + 12, 0x0806);
  uint8_t* a = frame + 14;
  checksum::store(a, 1);
  checksum::store(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  checksum::store(a + 6, 1);
  std::memcpy(a + 8, our_mac.data(), 6);
  std::memcpy(a + 14, ours.v4(), 4);
  std::memcpy(a + 24, target.v4(), 4);
}

// Writes a neighbour solicitation for `target` from `ours` to the target's solicited-node
// multicast group, with our link-layer address, into `frame` (kNeighborSolicitSize bytes).
inline void make_neighbor_solicit(uint8_t* frame, const MacAddress& our_mac, const IpAddress& ours,
                                  const IpAddress& target) {
  std::memset(frame, 0, kNeighborSolicitSize);
  const uint8_t group_mac[6] = {
      0x33, 0x33, 0xff, target.bytes[13], target.bytes[14], target.bytes[15]};
  std::memcpy(frame, group_mac, 6);
  std::memcpy(frame + 6, our_mac.data(), 6);
  checksum::store(frame + 12, 0x86dd);
  uint8_t* ip = frame + 14;
  ip[0] = 0x60;
  checksum::store(ip + 4, 32);
  ip[6] = kProtoIcmp6;
  ip[7] = 255;
  std::memcpy(ip + 8, ours.bytes.data(), 16);
  const uint8_t group[16] = {0xff,
                             0x02,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0,
                             1,
                             0xff,
                             target.bytes[13],
                             target.bytes[14],
                             target.bytes[15]};
  std::memcpy(ip + 24, group, 16);
  uint8_t* icmp = ip + 40;
  icmp[0] = kNdSolicit;
  std::memcpy(icmp + 8, target.bytes.data(), 16);
  icmp[24] = 1;  // source link-layer address option
  icmp[25] = 1;
  std::memcpy(icmp + 26, our_mac.data(), 6);
  set_nd_checksum(ip);
}

}  // namespace sluice::lb
