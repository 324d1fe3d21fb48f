// Parsing received frames for the L4 balancer: Ethernet, up to two VLAN tags, ARP, IPv4 (with
// options and fragments), IPv6 (with extension headers), TCP, UDP, ICMP and ICMPv6. Parsing only
// reads; it records offsets and the flow key so that later stages never walk headers again.
// Malformed frames get a DropReason; nothing here allocates, throws or logs.
#pragma once

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "drop_reason.h"
#include "ip_address.h"
#include "ip_proto.h"

namespace sluice::lb {

// What identifies a flow: 40 bytes, no padding holes, compared and hashed as raw bytes.
struct FlowKey {
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;  // host order; ICMP echo uses the identifier as both
  uint8_t proto = 0;
  uint8_t family = kFamilyNone;
  uint16_t zero = 0;
  bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 40);

enum class PacketKind : uint8_t {
  kDrop,   // malformed: see PacketMeta::drop
  kIp,     // IPv4 or IPv6; key and offsets are set
  kArp,    // Ethernet/IPv4 ARP; l3_offset is set
  kOther,  // a protocol the balancer does not handle (goes to the kernel)
};

struct PacketMeta {
  FlowKey key;
  uint16_t l3_offset = 0;  // IP or ARP header
  uint16_t l4_offset = 0;  // TCP/UDP/ICMP header (0 for non-first fragments)
  uint16_t l3_length = 0;  // IP total length, headers included
  PacketKind kind = PacketKind::kOther;
  DropReason drop = DropReason::kCount;
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint8_t vlan_tags = 0;
  bool fragment = false;        // any IPv4/IPv6 fragment
  bool later_fragment = false;  // a fragment without the L4 header (offset > 0)
};

// Parses one frame. `headers` is the contiguous part (the first segment), `frame_len` the whole
// frame. `ip_checksum_bad` carries the NIC's verdict on the IPv4 header checksum.
PacketKind parse_frame(const uint8_t* headers, uint32_t header_len, uint32_t frame_len,
                       bool ip_checksum_bad, PacketMeta& meta);

inline PacketKind parse_mbuf(const rte_mbuf* m, PacketMeta& meta) {
  const bool bad_csum = (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD;
  return parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, m->pkt_len, bad_csum, meta);
}

// Parses a burst, prefetching frames a few places ahead of the one being parsed.
inline void parse_burst(rte_mbuf* const* pkts, uint16_t n, PacketMeta* meta) {
  constexpr uint16_t kAhead = 4;
  for (uint16_t i = 0; i < n && i < kAhead; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kAhead], void*));
    parse_mbuf(pkts[i], meta[i]);
  }
}

}  // namespace sluice::lb
