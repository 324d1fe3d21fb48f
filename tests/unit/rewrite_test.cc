// The incremental checksum updates must give exactly what a full recomputation gives: each case
// rewrites a built frame and compares it with the same frame built from the new addresses.
#include <gtest/gtest.h>

#include "packet_builder.h"
#include "rewrite.h"

namespace sluice::lb {
namespace {

using test::Frame;
using test::PacketBuilder;

const test::Mac kA = test::mac("02:00:00:00:00:01"), kB = test::mac("02:00:00:00:00:02");

PacketMeta parsed(const Frame& f) {
  PacketMeta m;
  EXPECT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()),
                        false, m),
            PacketKind::kIp);
  return m;
}

IpAddress v4(const char* s) {
  uint32_t a = test::ipv4(s);
  uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                  static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
  return IpAddress::from_v4(b);
}

IpAddress v6(const char* s) {
  return IpAddress::from_v6(test::ipv6(s).data());
}

TEST(Rewrite, Tcp4FullNat) {
  for (size_t payload : {0, 1, 7, 100, 1401}) {
    Frame in = PacketBuilder()
                   .eth(kA, kB)
                   .ipv4(test::ipv4("198.51.100.7"), test::ipv4("10.99.0.100"))
                   .tcp(40001, 80)
                   .payload(payload, 0x3c)
                   .build();
    Frame want = PacketBuilder()
                     .eth(kA, kB)
                     .ipv4(test::ipv4("10.99.0.2"), test::ipv4("10.99.0.11"))
                     .tcp(1025, 8080)
                     .payload(payload, 0x3c)
                     .build();
    rewrite_addresses_and_ports(in.data(), parsed(in), v4("10.99.0.2"), 1025, v4("10.99.0.11"),
                                8080);
    EXPECT_EQ(in, want) << "payload " << payload;
  }
}

TEST(Rewrite, Udp4AndZeroChecksum) {
  Frame in = PacketBuilder()
                 .eth(kA, kB)
                 .ipv4(test::ipv4("1.2.3.4"), test::ipv4("5.6.7.8"))
                 .udp(53, 53)
                 .payload(33)
                 .build();
  Frame want = PacketBuilder()
                   .eth(kA, kB)
                   .ipv4(test::ipv4("9.9.9.9"), test::ipv4("8.8.8.8"))
                   .udp(60000, 5353)
                   .payload(33)
                   .build();
  rewrite_addresses_and_ports(in.data(), parsed(in), v4("9.9.9.9"), 60000, v4("8.8.8.8"), 5353);
  EXPECT_EQ(in, want);

  Frame none = PacketBuilder()
                   .eth(kA, kB)
                   .ipv4(test::ipv4("1.2.3.4"), test::ipv4("5.6.7.8"))
                   .udp(1, 2)
                   .build();
  none[40] = none[41] = 0;  // UDP checksum "none"
  rewrite_addresses_and_ports(none.data(), parsed(none), v4("9.9.9.9"), 3, v4("8.8.8.8"), 4);
  EXPECT_EQ(none[40], 0);
  EXPECT_EQ(none[41], 0);
}

TEST(Rewrite, Tcp6AndUdp6) {
  Frame t = PacketBuilder()
                .eth(kA, kB)
                .ipv6(test::ipv6("2001:db8::7"), test::ipv6("2001:db8:100::1"))
                .ipv6_ext(60)
                .tcp(5555, 443)
                .payload(99)
                .build();
  Frame tw = PacketBuilder()
                 .eth(kA, kB)
                 .ipv6(test::ipv6("fd99::2"), test::ipv6("fd99::11"))
                 .ipv6_ext(60)
                 .tcp(2000, 8443)
                 .payload(99)
                 .build();
  rewrite_addresses_and_ports(t.data(), parsed(t), v6("fd99::2"), 2000, v6("fd99::11"), 8443);
  EXPECT_EQ(t, tw);
  Frame u = PacketBuilder()
                .eth(kA, kB)
                .ipv6(test::ipv6("::1"), test::ipv6("::2"))
                .udp(1, 2)
                .payload(3)
                .build();
  Frame uw = PacketBuilder()
                 .eth(kA, kB)
                 .ipv6(test::ipv6("ffff::ffff"), test::ipv6("fe80::1"))
                 .udp(65535, 65534)
                 .payload(3)
                 .build();
  rewrite_addresses_and_ports(u.data(), parsed(u), v6("ffff::ffff"), 65535, v6("fe80::1"), 65534);
  EXPECT_EQ(u, uw);
}

TEST(Rewrite, Icmp6ChecksumFollowsAddresses) {
  Frame in = PacketBuilder()
                 .eth(kA, kB)
                 .ipv6(test::ipv6("2001:db8::1"), test::ipv6("2001:db8::2"))
                 .icmp6(128, 0, 0x00010001)
                 .payload(20)
                 .build();
  Frame want = PacketBuilder()
                   .eth(kA, kB)
                   .ipv6(test::ipv6("2001:db8::3"), test::ipv6("2001:db8::4"))
                   .icmp6(128, 0, 0x00010001)
                   .payload(20)
                   .build();
  rewrite_addresses_and_ports(in.data(), parsed(in), v6("2001:db8::3"), 0, v6("2001:db8::4"), 0);
  EXPECT_EQ(in, want);
}

TEST(Rewrite, LaterFragmentKeepsPayload) {
  Frame in = PacketBuilder()
                 .eth(kA, kB)
                 .ipv4(test::ipv4("1.1.1.1"), test::ipv4("2.2.2.2"))
                 .ipv4_fragment(10, false)
                 .payload(40, 0x77)
                 .build();
  Frame want = PacketBuilder()
                   .eth(kA, kB)
                   .ipv4(test::ipv4("3.3.3.3"), test::ipv4("4.4.4.4"))
                   .ipv4_fragment(10, false)
                   .payload(40, 0x77)
                   .build();
  rewrite_addresses_and_ports(in.data(), parsed(in), v4("3.3.3.3"), 9, v4("4.4.4.4"), 9);
  EXPECT_EQ(in, want);
}

TEST(Rewrite, Macs) {
  Frame f = PacketBuilder().eth(kA, kB).ipv4(1, 2).udp(1, 2).build();
  const test::Mac s = test::mac("aa:bb:cc:dd:ee:ff"), d = test::mac("11:22:33:44:55:66");
  set_macs(f.data(), s.data(), d.data());
  EXPECT_EQ(std::memcmp(f.data(), d.data(), 6), 0);
  EXPECT_EQ(std::memcmp(f.data() + 6, s.data(), 6), 0);
}

}  // namespace
}  // namespace sluice::lb
