// Why the dataplane dropped a packet. Every drop is counted under one of these reasons, per port
// and per core; the names are what stats output and metrics show.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

enum class DropReason : uint8_t {
  kRunt,                 // shorter than an Ethernet header
  kOversize,             // longer than the egress port's largest frame
  kMultiSegUnsupported,  // chained mbuf on a port that cannot send chains
  kTxFull,               // egress queue had no room
  kVlanTruncated,        // a VLAN tag cut short by the end of the frame
  kTooManyVlanTags,      // more than two stacked VLAN tags
  kSplitHeaders,         // headers continue past the first mbuf segment
  kIpTruncated,          // IP header or total length beyond the end of the frame
  kIpBadVersion,         // version field disagrees with the EtherType
  kIpv4BadHeaderLength,  // IHL below 5 or beyond the total length
  kIpBadChecksum,        // the NIC reported a bad IPv4 header checksum
  kIpv6BadExtension,     // extension header chain too long or cut short
  kL4Truncated,          // TCP/UDP/ICMP header beyond the IP payload
  kTcpBadHeaderLength,   // TCP data offset below 5 or beyond the payload
  kUdpBadLength,         // UDP length below 8 or beyond the IP payload
  kArpMalformed,         // ARP that is not Ethernet/IPv4 or is cut short
  kNotForUs,             // for no VIP or own address, and not for the kernel (or no exception path)
  kNoBackend,            // the service has no backend with weight
  kNeighborUnresolved,   // the next hop's MAC is not known yet (resolution was asked for)
  kNatPortsExhausted,    // no free full-NAT source port for the new flow
  kNoFlow,               // a reply to a full-NAT address that matches no flow
  kTunnelTooBig,         // the encapsulated packet would exceed the egress MTU
  kExceptionFull,        // for the kernel, but the exception path's ring was full
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "runt",
    "oversize",
    "multiseg_unsupported",
    "tx_full",
    "vlan_truncated",
    "too_many_vlan_tags",
    "split_headers",
    "ip_truncated",
    "ip_bad_version",
    "ipv4_bad_header_length",
    "ip_bad_checksum",
    "ipv6_bad_extension",
    "l4_truncated",
    "tcp_bad_header_length",
    "udp_bad_length",
    "arp_malformed",
    "not_for_us",
    "no_backend",
    "neighbor_unresolved",
    "nat_ports_exhausted",
    "no_flow",
    "tunnel_too_big",
    "exception_full",
};

// kCount names "no drop".
constexpr std::string_view drop_reason_name(DropReason r) {
  return r < DropReason::kCount ? kDropReasonNames[static_cast<size_t>(r)] : "none";
}

}  // namespace sluice
