#include "packet_parse.h"

namespace sluice::lb {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd, kEtherArp = 0x0806;
constexpr uint16_t kEtherVlan = 0x8100, kEtherQinq = 0x88a8;
constexpr unsigned kMaxVlanTags = 2;
constexpr unsigned kMaxIpv6Extensions = 8;

inline uint16_t load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

inline PacketKind drop(PacketMeta& meta, DropReason reason) {
  meta.kind = PacketKind::kDrop;
  meta.drop = reason;
  return PacketKind::kDrop;
}

// The L4 header at `off`, `avail` bytes of IP payload from there.
PacketKind parse_l4(const uint8_t* h, uint32_t header_len, uint32_t off, uint32_t avail,
                    PacketMeta& meta) {
  meta.l4_offset = static_cast<uint16_t>(off);
  uint32_t need = 0;
  switch (meta.key.proto) {
    case kProtoTcp:
      need = 20;
      break;
    case kProtoUdp:
      need = 8;
      break;
    case kProtoIcmp:
    case kProtoIcmp6:
      need = 8;
      break;
    default:
      meta.l4_offset = static_cast<uint16_t>(off);
      return meta.kind = PacketKind::kIp;
  }
  if (avail < need) return drop(meta, DropReason::kL4Truncated);
  if (off + need > header_len) return drop(meta, DropReason::kSplitHeaders);
  const uint8_t* l4 = h + off;
  switch (meta.key.proto) {
    case kProtoTcp: {
      const uint32_t data_offset = (l4[12] >> 4) * 4u;
      if (data_offset < 20 || data_offset > avail)
        return drop(meta, DropReason::kTcpBadHeaderLength);
      meta.key.src_port = load16(l4);
      meta.key.dst_port = load16(l4 + 2);
      meta.tcp_flags = l4[13];
      break;
    }
    case kProtoUdp: {
      const uint32_t len = load16(l4 + 4);
      if (len < 8 || len > avail) return drop(meta, DropReason::kUdpBadLength);
      meta.key.src_port = load16(l4);
      meta.key.dst_port = load16(l4 + 2);
      break;
    }
    default:  // ICMP, ICMPv6: echo request/reply carry an identifier that names the "flow"
      meta.icmp_type = l4[0];
      meta.icmp_code = l4[1];
      meta.key.src_port = meta.key.dst_port = load16(l4 + 4);
      break;
  }
  return meta.kind = PacketKind::kIp;
}

PacketKind parse_ipv4(const uint8_t* h, uint32_t header_len, uint32_t frame_len, uint32_t off,
                      bool csum_bad, PacketMeta& meta) {
  if (frame_len < off + 20) return drop(meta, DropReason::kIpTruncated);
  if (header_len < off + 20) return drop(meta, DropReason::kSplitHeaders);
  const uint8_t* ip = h + off;
  if ((ip[0] >> 4) != 4) return drop(meta, DropReason::kIpBadVersion);
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const uint32_t total = load16(ip + 2);
  if (ihl < 20 || total < ihl) return drop(meta, DropReason::kIpv4BadHeaderLength);
  // Frames may carry padding after the IP packet (minimum-size frames), never less than it.
  if (off + total > frame_len) return drop(meta, DropReason::kIpTruncated);
  if (off + ihl > header_len) return drop(meta, DropReason::kSplitHeaders);
  if (csum_bad) return drop(meta, DropReason::kIpBadChecksum);
  meta.l3_length = static_cast<uint16_t>(total);
  meta.key.family = kFamilyV4;
  meta.key.proto = ip[9];
  meta.key.src = IpAddress::from_v4(ip + 12);
  meta.key.dst = IpAddress::from_v4(ip + 16);
  const uint16_t frag = load16(ip + 6);
  meta.fragment = (frag & 0x3fff) != 0;  // more-fragments or an offset
  meta.later_fragment = (frag & 0x1fff) != 0;
  if (meta.later_fragment) return meta.kind = PacketKind::kIp;
  return parse_l4(h, header_len, off + ihl, total - ihl, meta);
}

PacketKind parse_ipv6(const uint8_t* h, uint32_t header_len, uint32_t frame_len, uint32_t off,
                      PacketMeta& meta) {
  if (frame_len < off + 40) return drop(meta, DropReason::kIpTruncated);
  if (header_len < off + 40) return drop(meta, DropReason::kSplitHeaders);
  const uint8_t* ip = h + off;
  if ((ip[0] >> 4) != 6) return drop(meta, DropReason::kIpBadVersion);
  const uint32_t payload = load16(ip + 4);
  if (off + 40 + payload > frame_len) return drop(meta, DropReason::kIpTruncated);
  meta.l3_length = static_cast<uint16_t>(40 + payload);
  meta.key.family = kFamilyV6;
  meta.key.src = IpAddress::from_v6(ip + 8);
  meta.key.dst = IpAddress::from_v6(ip + 24);

  uint8_t next = ip[6];
  uint32_t at = off + 40, left = payload;
  for (unsigned n = 0;; ++n) {
    uint32_t len = 0;
    switch (next) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
        if (left < 8 || at + 8 > header_len) break;
        len = (h[at + 1] + 1u) * 8;
        break;
      case 51:  // authentication header: length in 4-byte units, minus 2
        if (left < 8 || at + 8 > header_len) break;
        len = (h[at + 1] + 2u) * 4;
        break;
      case 44: {  // fragment
        if (left < 8 || at + 8 > header_len) break;
        const uint16_t frag = load16(h + at + 2);
        meta.fragment = true;
        meta.later_fragment = (frag & 0xfff8) != 0;
        len = 8;
        break;
      }
      default:
        meta.key.proto = next;
        if (meta.later_fragment) return meta.kind = PacketKind::kIp;
        return parse_l4(h, header_len, at, left, meta);
    }
    if (len == 0 || len > left || n >= kMaxIpv6Extensions)
      return drop(meta, DropReason::kIpv6BadExtension);
    if (at + len > header_len) return drop(meta, DropReason::kSplitHeaders);
    next = h[at];
    at += len;
    left -= len;
  }
}

}  // namespace

PacketKind parse_frame(const uint8_t* h, uint32_t header_len, uint32_t frame_len,
                       bool ip_checksum_bad, PacketMeta& meta) {
  meta = PacketMeta{};
  if (frame_len < 14) return drop(meta, DropReason::kRunt);
  if (header_len < 14) return drop(meta, DropReason::kSplitHeaders);
  uint32_t off = 12;
  uint16_t type = load16(h + off);
  while (type == kEtherVlan || type == kEtherQinq) {
    if (meta.vlan_tags == kMaxVlanTags) return drop(meta, DropReason::kTooManyVlanTags);
    if (frame_len < off + 6) return drop(meta, DropReason::kVlanTruncated);
    if (header_len < off + 6) return drop(meta, DropReason::kSplitHeaders);
    ++meta.vlan_tags;
    off += 4;
    type = load16(h + off);
  }
  off += 2;
  meta.l3_offset = static_cast<uint16_t>(off);
  switch (type) {
    case kEtherIpv4:
      return parse_ipv4(h, header_len, frame_len, off, ip_checksum_bad, meta);
    case kEtherIpv6:
      return parse_ipv6(h, header_len, frame_len, off, meta);
    case kEtherArp:
      // Ethernet/IPv4 ARP only: hardware type 1, protocol 0x0800, lengths 6 and 4.
      if (frame_len < off + 28) return drop(meta, DropReason::kArpMalformed);
      if (header_len < off + 28) return drop(meta, DropReason::kSplitHeaders);
      if (load16(h + off) != 1 || load16(h + off + 2) != kEtherIpv4 || h[off + 4] != 6 ||
          h[off + 5] != 4) {
        return drop(meta, DropReason::kArpMalformed);
      }
      return meta.kind = PacketKind::kArp;
    default:
      return meta.kind = PacketKind::kOther;
  }
}

}  // namespace sluice::lb
