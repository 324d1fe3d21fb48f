// Encapsulations for the balancer's `tunnel` forwarding mode: IPIP (4in4, 6in6, 4in6 and 6in4)
// and GUE variant 1 ("direct IP encapsulation", draft-ietf-intarea-gue: a UDP header directly
// followed by the inner IP packet, no GUE header; the inner version nibble tells IPv4 from IPv6),
// as Katran sends them. The client's IP packet travels unchanged to the backend, which
// decapsulates it and answers the client directly.
//
// The `dsr` mode needs no encapsulation: it keeps the frame as received and only rewrites the
// MACs with set_macs() (rewrite.h). VLAN tags are kept there, since the backend sits on the
// balancer's own segment.
//
// The functions here work on the mbuf in place: the Ethernet header and any VLAN tags in front of
// the inner IP packet are replaced by a fresh Ethernet header (the outer IP's EtherType, never a
// VLAN tag: the tunnel leaves by the egress port's own L2, whatever VLAN the client's frame came
// on) and the outer headers, prepended into the mbuf's headroom. Ethernet padding after the inner
// packet (minimum-size frames) is dropped. Nothing is allocated; when the headroom is too small or
// the result would be longer than the egress port allows, they return false and leave the mbuf
// exactly as it was.
#pragma once

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "lb_config_types.h"
#include "packet_parse.h"
#include "rewrite.h"

namespace sluice::lb {

inline constexpr uint8_t kTunnelTtl = 64;  // outer TTL / hop limit
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800, kEtherTypeIpv6 = 0x86dd;

// Where an encapsulated packet goes, and how large it may be.
struct TunnelParams {
  MacAddress src_mac{};       // the egress port
  MacAddress dst_mac{};       // the next hop towards the backend
  IpAddress src;              // outer source: tunnel_source() of the balancer's tunnel address
  IpAddress dst;              // outer destination: the backend; its family picks outer IPv4 or IPv6
  uint32_t flow_hash = 0;     // the flow's hash: GUE source port and outer IPv6 flow label
  uint32_t max_frame = 1514;  // longest frame the egress port sends: Ethernet header included,
                              // FCS excluded (MTU + 14)
};

// Bytes an encapsulation adds in front of the inner IP packet, Ethernet header not counted (what
// the backends' MTU or the clients' MSS must leave room for).
inline constexpr uint16_t tunnel_overhead(uint8_t outer_family, TunnelType type) {
  return static_cast<uint16_t>((outer_family == kFamilyV6 ? 40 : 20) +
                               (type == TunnelType::kGue ? 8 : 0));
}

// The outer source address for a flow. Backends spread received tunnel traffic over their queues
// by RSS on the outer header, which is the same for every flow sent to them unless the outer
// source varies: so, as Katran does, the low bits come from the flow hash. IPv4 keeps the /16
// prefix of `base` and takes the low 16 bits from the hash; IPv6 keeps the /64 prefix and takes
// the interface identifier from the hash (the hash, then its complement, so that the identifier is
// never all zeros, which would be the prefix's subnet-router anycast address). The balancer must
// own (route back to itself) the whole prefix. `family` is kFamilyV4 or kFamilyV6; an IPv4 result
// is IPv4-mapped like every IpAddress.
inline IpAddress tunnel_source(const IpAddress& base, uint32_t flow_hash, uint8_t family) {
  IpAddress a;
  if (family == kFamilyV4) {
    a.bytes[10] = a.bytes[11] = 0xff;
    a.bytes[12] = base.bytes[12];
    a.bytes[13] = base.bytes[13];
    checksum::store(&a.bytes[14], static_cast<uint16_t>(flow_hash ^ (flow_hash >> 16)));
    return a;
  }
  std::memcpy(a.bytes.data(), base.bytes.data(), 8);
  checksum::store(&a.bytes[8], static_cast<uint16_t>(flow_hash >> 16));
  checksum::store(&a.bytes[10], static_cast<uint16_t>(flow_hash));
  checksum::store(&a.bytes[12], static_cast<uint16_t>(~flow_hash >> 16));
  checksum::store(&a.bytes[14], static_cast<uint16_t>(~flow_hash));
  return a;
}

// The GUE source port for a flow: in the dynamic range 49152-65535 (as RFC 8086 asks of
// GRE-in-UDP, and for the same reason: the source port is the entropy that RSS and ECMP see).
inline uint16_t gue_source_port(uint32_t flow_hash) {
  return static_cast<uint16_t>(0xc000 | ((flow_hash ^ (flow_hash >> 16)) & 0x3fff));
}

namespace encap_detail {

inline uint32_t sum_words(const uint8_t* p, size_t len) {  // `len` even
  uint32_t sum = 0;
  for (size_t i = 0; i < len; i += 2) sum += checksum::load(p + i);
  return sum;
}

// The one's-complement sum, as a big-endian number, of `len` bytes of a chained mbuf from `off`.
// DPDK 22.11's rte_raw_cksum_mbuf() gets segments that start at an odd offset wrong (it swaps the
// bytes of an unreduced sum truncated to 16 bits), so the walk is done here: each segment's sum
// is reduced first, then swapped when the segment starts at an odd position of the summed range.
inline uint32_t sum_mbuf(const rte_mbuf* m, uint32_t off, uint32_t len) {
  while (m != nullptr && off >= m->data_len) {
    off -= m->data_len;
    m = m->next;
  }
  uint32_t sum = 0, done = 0;
  for (; m != nullptr && done < len; m = m->next, off = 0) {
    const uint32_t n = std::min<uint32_t>(m->data_len - off, len - done);
    uint16_t s = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const uint8_t*, off), n);
    if (done & 1) s = rte_bswap16(s);
    sum += s;
    done += n;
  }
  return rte_be_to_cpu_16(static_cast<uint16_t>(checksum::fold(sum) ^ 0xffff));
}

inline bool encapsulate(rte_mbuf* m, const PacketMeta& meta, const TunnelParams& t, bool gue,
                        uint16_t gue_port) {
  const bool outer_v6 = !t.dst.is_v4();
  const uint32_t ip_len = outer_v6 ? 40 : 20;
  const uint32_t udp_len = gue ? 8 : 0;
  const uint32_t front = 14 + ip_len + udp_len;  // everything before the inner packet
  const uint32_t l3 = meta.l3_offset;
  const uint32_t inner_len = meta.l3_length;
  if (inner_len == 0 || l3 + inner_len > m->pkt_len || l3 + 8 > m->data_len) return false;

  const uint8_t* inner = rte_pktmbuf_mtod_offset(m, const uint8_t*, l3);
  const unsigned version = inner[0] >> 4;
  if (version != 4 && version != 6) return false;
  // DSCP and ECN are copied whole (RFC 6040's normal mode: the decapsulator folds a congestion
  // mark on the outer header back into the inner one). Outer IPv4 copies DF from an inner IPv4
  // packet and sets it for an inner IPv6 one, which must not be fragmented on the way.
  const uint8_t tos = version == 4 ? inner[1] : static_cast<uint8_t>(inner[0] << 4 | inner[1] >> 4);
  const bool df = version == 6 || (inner[6] & 0x40) != 0;

  // Padding after the inner packet is trimmed when it lies in the last segment (as it does in
  // every padded minimum-size frame); otherwise it stays as Ethernet padding, which the outer
  // lengths exclude.
  const uint32_t padding = m->pkt_len - l3 - inner_len;
  const uint32_t trim = padding <= rte_pktmbuf_lastseg(m)->data_len ? padding : 0;
  if (front + inner_len + (padding - trim) > t.max_frame) return false;
  if (ip_len + udp_len + inner_len > 0xffff) return false;  // IPv4 total / IPv6 payload length
  // The outer headers (34 bytes at least) always outgrow the received L2 header (22 at most:
  // Ethernet and two VLAN tags), whose bytes they reuse; the rest comes from the headroom.
  if (l3 > front || front - l3 > rte_pktmbuf_headroom(m)) return false;

  if (trim != 0) rte_pktmbuf_trim(m, static_cast<uint16_t>(trim));
  auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(front - l3)));

  std::memcpy(f, t.dst_mac.data(), 6);
  std::memcpy(f + 6, t.src_mac.data(), 6);
  checksum::store(f + 12, outer_v6 ? kEtherTypeIpv6 : kEtherTypeIpv4);

  uint8_t* ip = f + 14;
  const uint8_t proto = gue ? kProtoUdp : version == 4 ? kProtoIpip : kProtoIpv6;
  if (!outer_v6) {
    ip[0] = 0x45;
    ip[1] = tos;
    checksum::store(ip + 2, static_cast<uint16_t>(ip_len + udp_len + inner_len));
    // Identification 0, as Katran sends it: the balancer never fragments, and with DF copied
    // from the inner packet only a packet the client allowed to be fragmented may be.
    checksum::store(ip + 4, 0);
    checksum::store(ip + 6, df ? 0x4000 : 0);
    ip[8] = kTunnelTtl;
    ip[9] = proto;
    checksum::store(ip + 10, 0);
    std::memcpy(ip + 12, t.src.v4(), 4);
    std::memcpy(ip + 16, t.dst.v4(), 4);
    checksum::store(ip + 10, checksum::fold(sum_words(ip, 20)));
  } else {
    // The flow label is the flow's hash (RFC 6438), for ECMP routers that hash on it.
    const uint32_t label = t.flow_hash & 0xfffff;
    checksum::store(ip, static_cast<uint16_t>(0x6000 | tos << 4 | label >> 16));
    checksum::store(ip + 2, static_cast<uint16_t>(label));
    checksum::store(ip + 4, static_cast<uint16_t>(udp_len + inner_len));
    ip[6] = proto;
    ip[7] = kTunnelTtl;
    std::memcpy(ip + 8, t.src.bytes.data(), 16);
    std::memcpy(ip + 24, t.dst.bytes.data(), 16);
  }
  if (!gue) return true;

  uint8_t* udp = ip + ip_len;
  const auto udp_total = static_cast<uint16_t>(udp_len + inner_len);
  checksum::store(udp, gue_source_port(t.flow_hash));
  checksum::store(udp + 2, gue_port);
  checksum::store(udp + 4, udp_total);
  checksum::store(udp + 6, 0);  // over IPv4: no checksum, as Katran sends it
  if (outer_v6) {
    // UDP over IPv6 must carry a checksum (RFC 8200; the zero-checksum exception of RFC 6935
    // needs the backend's consent). It covers the whole inner packet, so this is the slow
    // option: each packet is read once more.
    const uint32_t sum =
        sum_words(ip + 8, 32) + udp_total + kProtoUdp + sum_mbuf(m, 14 + ip_len, udp_total);
    const uint16_t c = checksum::fold(sum);
    checksum::store(udp + 6, c == 0 ? 0xffff : c);
  }
  return true;
}

}  // namespace encap_detail

// IPIP: outer IPv4 (protocol 4 for an inner IPv4 packet, 41 for IPv6) or outer IPv6 (next header
// 4 or 41), by the family of `t.dst`. TTL/hop limit 64, DSCP and ECN copied from the inner
// header; outer IPv4 has identification 0 and DF as described above.
inline bool encap_ipip(rte_mbuf* m, const PacketMeta& meta, const TunnelParams& t) {
  return encap_detail::encapsulate(m, meta, t, false, 0);
}

// GUE variant 1: outer IPv4 or IPv6, then UDP from gue_source_port(t.flow_hash) to `gue_port`,
// then the inner packet. The UDP checksum is 0 over IPv4 and computed over IPv6.
inline bool encap_gue(rte_mbuf* m, const PacketMeta& meta, const TunnelParams& t,
                      uint16_t gue_port) {
  return encap_detail::encapsulate(m, meta, t, true, gue_port);
}

}  // namespace sluice::lb
