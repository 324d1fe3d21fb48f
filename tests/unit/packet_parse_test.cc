#include <gtest/gtest.h>

#include "packet_builder.h"
#include "packet_parse.h"

namespace sluice::lb {
namespace {

using test::Frame;
using test::PacketBuilder;
namespace flags = test::tcp_flags;

const test::Mac kSrcMac = test::mac("02:00:00:00:00:01"), kDstMac = test::mac("02:00:00:00:00:02");
const uint32_t kV4a = test::ipv4("10.0.0.1"), kV4b = test::ipv4("192.0.2.10");
const test::Ipv6Addr kV6a = test::ipv6("2001:db8::1"), kV6b = test::ipv6("2001:db8::10");

PacketBuilder eth() {
  return PacketBuilder().eth(kSrcMac, kDstMac);
}

PacketMeta parse(const Frame& f, bool csum_bad = false) {
  PacketMeta m;
  parse_frame(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()), csum_bad,
              m);
  return m;
}

Frame truncate(Frame f, size_t n) {
  f.resize(n);
  return f;
}

Frame patch(Frame f, size_t at, uint8_t value) {
  f[at] = value;
  return f;
}

struct Case {
  const char* name;
  Frame frame;
  PacketKind kind;
  DropReason drop = DropReason::kCount;
  uint8_t proto = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint16_t l4_offset = 0;
};

class ParseCases : public ::testing::TestWithParam<Case> {};

TEST_P(ParseCases, Verdict) {
  const Case& c = GetParam();
  PacketMeta m = parse(c.frame);
  EXPECT_EQ(m.kind, c.kind);
  EXPECT_EQ(drop_reason_name(m.drop), drop_reason_name(c.drop));
  if (c.kind == PacketKind::kIp) {
    EXPECT_EQ(m.key.proto, c.proto);
    EXPECT_EQ(m.key.src_port, c.src_port);
    EXPECT_EQ(m.key.dst_port, c.dst_port);
    if (c.l4_offset) {
      EXPECT_EQ(m.l4_offset, c.l4_offset);
    }
  }
}

const Frame kTcp4 = eth().ipv4(kV4a, kV4b).tcp(40000, 80, flags::kSyn).build();
const Frame kUdp6 = eth().ipv6(kV6a, kV6b).udp(5353, 53).payload(10).build();

INSTANTIATE_TEST_SUITE_P(
    Parse, ParseCases,
    ::testing::Values(
        Case{"tcp4", kTcp4, PacketKind::kIp, DropReason::kCount, kProtoTcp, 40000, 80, 34},
        Case{"udp4_padded_minimum_frame", eth().ipv4(kV4a, kV4b).udp(1, 2).pad_to(60).build(),
             PacketKind::kIp, DropReason::kCount, kProtoUdp, 1, 2, 34},
        Case{"tcp4_with_options",
             eth().ipv4(kV4a, kV4b, 64, std::vector<uint8_t>(12, 1)).tcp(1, 2).build(),
             PacketKind::kIp, DropReason::kCount, kProtoTcp, 1, 2, 46},
        Case{"vlan_tcp4", eth().vlan(100).ipv4(kV4a, kV4b).tcp(7, 8).build(), PacketKind::kIp,
             DropReason::kCount, kProtoTcp, 7, 8, 38},
        Case{"qinq_udp6", eth().vlan(10, 0x88a8).vlan(20).ipv6(kV6a, kV6b).udp(7, 8).build(),
             PacketKind::kIp, DropReason::kCount, kProtoUdp, 7, 8, 14 + 8 + 40},
        Case{"udp6", kUdp6, PacketKind::kIp, DropReason::kCount, kProtoUdp, 5353, 53, 54},
        Case{"tcp6_after_extensions",
             eth().ipv6(kV6a, kV6b).ipv6_ext(0).ipv6_ext(60, 14).ipv6_ext(43).tcp(9, 443).build(),
             PacketKind::kIp, DropReason::kCount, kProtoTcp, 9, 443, 14 + 40 + 8 + 16 + 8},
        Case{"icmp4_echo", eth().ipv4(kV4a, kV4b).icmp(8, 0, 0x12340001).build(), PacketKind::kIp,
             DropReason::kCount, kProtoIcmp, 0x1234, 0x1234},
        Case{"icmp6_echo", eth().ipv6(kV6a, kV6b).icmp6(128, 0, 0xbeef0001).build(),
             PacketKind::kIp, DropReason::kCount, kProtoIcmp6, 0xbeef, 0xbeef},
        Case{"gre_is_ip_without_ports", eth().ipv4(kV4a, kV4b).payload(8).build(), PacketKind::kIp,
             DropReason::kCount, 59, 0, 0},
        Case{"unknown_ethertype_goes_to_kernel", eth().payload(28, 0).build(), PacketKind::kOther},
        Case{"lldp_goes_to_kernel",
             PacketBuilder().eth(kSrcMac, kDstMac, 0x88cc).payload(40).build(), PacketKind::kOther},
        // Malformed and truncated frames.
        Case{"runt", Frame(13, 0), PacketKind::kDrop, DropReason::kRunt},
        Case{"vlan_cut_short", truncate(eth().vlan(5).ipv4(kV4a, kV4b).build(), 16),
             PacketKind::kDrop, DropReason::kVlanTruncated},
        Case{"three_vlan_tags", eth().vlan(1).vlan(2).vlan(3).ipv4(kV4a, kV4b).build(),
             PacketKind::kDrop, DropReason::kTooManyVlanTags},
        Case{"ipv4_header_cut", truncate(kTcp4, 30), PacketKind::kDrop, DropReason::kIpTruncated},
        Case{"ipv4_total_length_beyond_frame", truncate(kTcp4, kTcp4.size() - 1), PacketKind::kDrop,
             DropReason::kIpTruncated},
        Case{"ipv4_version_6_in_ipv4_ethertype", patch(kTcp4, 14, 0x65), PacketKind::kDrop,
             DropReason::kIpBadVersion},
        Case{"ipv4_ihl_4", patch(kTcp4, 14, 0x44), PacketKind::kDrop,
             DropReason::kIpv4BadHeaderLength},
        Case{"ipv4_ihl_beyond_total", patch(patch(kTcp4, 14, 0x4f), 17, 40), PacketKind::kDrop,
             DropReason::kIpv4BadHeaderLength},
        Case{"tcp_header_cut", eth().ipv4(kV4a, kV4b).payload(10).build(), PacketKind::kIp,
             DropReason::kCount, 59},
        Case{"tcp_data_offset_4", patch(kTcp4, 46, 0x40), PacketKind::kDrop,
             DropReason::kTcpBadHeaderLength},
        Case{"tcp_data_offset_beyond_payload", patch(kTcp4, 46, 0xf0), PacketKind::kDrop,
             DropReason::kTcpBadHeaderLength},
        Case{"udp_length_7", patch(eth().ipv4(kV4a, kV4b).udp(1, 2).build(), 39, 7),
             PacketKind::kDrop, DropReason::kUdpBadLength},
        Case{"udp_length_beyond_payload", patch(eth().ipv4(kV4a, kV4b).udp(1, 2).build(), 39, 9),
             PacketKind::kDrop, DropReason::kUdpBadLength},
        Case{"ipv6_cut", truncate(kUdp6, 40), PacketKind::kDrop, DropReason::kIpTruncated},
        Case{"ipv6_payload_beyond_frame", truncate(kUdp6, kUdp6.size() - 2), PacketKind::kDrop,
             DropReason::kIpTruncated},
        Case{"ipv6_version_4", patch(kUdp6, 14, 0x40), PacketKind::kDrop,
             DropReason::kIpBadVersion},
        Case{"ipv6_extension_longer_than_payload",
             patch(eth().ipv6(kV6a, kV6b).ipv6_ext(0).udp(1, 2).build(), 55, 9), PacketKind::kDrop,
             DropReason::kIpv6BadExtension},
        Case{
            "ipv6_nine_extensions",
            eth()
                .ipv6(kV6a, kV6b)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .ipv6_ext(60)
                .udp(1, 2)
                .build(),
            PacketKind::kDrop, DropReason::kIpv6BadExtension},
        Case{"icmp_cut", eth().ipv4(kV4a, kV4b).payload(4).build(), PacketKind::kIp,
             DropReason::kCount, 59}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Parse, TcpFieldsAndAddresses) {
  PacketMeta m = parse(eth().ipv4(kV4a, kV4b).tcp(1000, 2000, flags::kSyn | flags::kAck).build());
  ASSERT_EQ(m.kind, PacketKind::kIp);
  EXPECT_EQ(m.key.family, kFamilyV4);
  EXPECT_EQ(m.tcp_flags, flags::kSyn | flags::kAck);
  const uint8_t want_src[4] = {10, 0, 0, 1};
  EXPECT_EQ(std::memcmp(m.key.src.v4(), want_src, 4), 0);
  EXPECT_EQ(m.key.src.bytes[10], 0xff);
  EXPECT_EQ(m.l3_offset, 14);
  EXPECT_EQ(m.l3_length, 40);
  PacketMeta m6 = parse(kUdp6);
  EXPECT_EQ(m6.key.family, kFamilyV6);
  EXPECT_EQ(m6.key.dst, IpAddress::from_v6(kV6b.data()));
}

TEST(Parse, TruncatedL4HeaderIsDropped) {
  Frame f = eth().ipv4(kV4a, kV4b).tcp(1, 2).build();
  // Shrink the IP total length so that only 10 bytes of TCP remain inside the packet.
  f[16] = 0;
  f[17] = 30;
  EXPECT_EQ(parse(f).drop, DropReason::kL4Truncated);
  Frame u = eth().ipv6(kV6a, kV6b).udp(1, 2).build();
  u[18] = 0;
  u[19] = 4;
  EXPECT_EQ(parse(u).drop, DropReason::kL4Truncated);
}

TEST(Parse, Fragments) {
  PacketMeta first =
      parse(eth().ipv4(kV4a, kV4b).ipv4_fragment(0, true).udp(5, 6).payload(16).build());
  EXPECT_EQ(first.kind, PacketKind::kIp);
  EXPECT_TRUE(first.fragment);
  EXPECT_FALSE(first.later_fragment);
  EXPECT_EQ(first.key.src_port, 5);
  PacketMeta later = parse(eth().ipv4(kV4a, kV4b).ipv4_fragment(3, false).payload(16).build());
  EXPECT_EQ(later.kind, PacketKind::kIp);
  EXPECT_TRUE(later.later_fragment);
  EXPECT_EQ(later.key.src_port, 0);
  // IPv6: fragment header with a non-zero offset.
  Frame f6 = eth().ipv6(kV6a, kV6b).ipv6_ext(44).udp(1, 2).build();
  f6[54 + 3] = 0x10;  // offset 2 (units of 8 bytes)
  PacketMeta later6 = parse(f6);
  EXPECT_TRUE(later6.fragment);
  EXPECT_TRUE(later6.later_fragment);
  EXPECT_EQ(later6.key.proto, kProtoUdp);
}

TEST(Parse, NicReportedBadChecksum) {
  EXPECT_EQ(parse(kTcp4, true).drop, DropReason::kIpBadChecksum);
}

TEST(Parse, HeadersSplitAcrossSegments) {
  PacketMeta m;
  parse_frame(kTcp4.data(), 40, static_cast<uint32_t>(kTcp4.size()), false, m);
  EXPECT_EQ(m.drop, DropReason::kSplitHeaders);
}

TEST(Parse, EthernetArp) {
  // Request: who has 10.0.0.2, tell 10.0.0.1.
  std::vector<uint8_t> arp = {0,  1, 8, 0, 6, 4, 0, 1, 2, 0, 0,  0, 0, 1,
                              10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
  PacketMeta m = parse(PacketBuilder().eth(kSrcMac, kDstMac, 0x0806).payload(arp).build());
  EXPECT_EQ(m.kind, PacketKind::kArp);
  EXPECT_EQ(m.l3_offset, 14);
  arp[2] = 0x86;  // protocol IPv6: not Ethernet/IPv4 ARP
  EXPECT_EQ(parse(PacketBuilder().eth(kSrcMac, kDstMac, 0x0806).payload(arp).build()).drop,
            DropReason::kArpMalformed);
  EXPECT_EQ(parse(PacketBuilder().eth(kSrcMac, kDstMac, 0x0806).payload(10).build()).drop,
            DropReason::kArpMalformed);
}

}  // namespace
}  // namespace sluice::lb
