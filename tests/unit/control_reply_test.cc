#include <gtest/gtest.h>

#include "control_reply.h"
#include "packet_builder.h"

namespace sluice::lb {
namespace {

using test::Frame;
using test::PacketBuilder;

const test::Mac kClient = test::mac("02:00:00:00:00:01"), kOurs = test::mac("02:5c:00:00:00:aa");
const test::Mac kBroadcast = test::mac("ff:ff:ff:ff:ff:ff");
const MacAddress kOurMac{0x02, 0x5c, 0, 0, 0, 0xaa};

PacketMeta parsed(const Frame& f) {
  PacketMeta m;
  parse_frame(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()), false, m);
  return m;
}

std::vector<uint8_t> arp_body(uint16_t op, test::Mac sender_mac, const char* sender_ip,
                              test::Mac target_mac, const char* target_ip) {
  std::vector<uint8_t> b = {0, 1, 8, 0, 6, 4, 0, static_cast<uint8_t>(op)};
  auto put_ip = [&](const char* s) {
    const uint32_t a = test::ipv4(s);
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(a >> shift));
  };
  for (uint8_t x : sender_mac) b.push_back(x);
  put_ip(sender_ip);
  for (uint8_t x : target_mac) b.push_back(x);
  put_ip(target_ip);
  return b;
}

TEST(ControlReply, ArpRequestBecomesReply) {
  Frame req = PacketBuilder()
                  .eth(kClient, kBroadcast, 0x0806)
                  .payload(arp_body(1, kClient, "10.99.0.1", test::Mac{}, "10.99.0.100"))
                  .pad_to(60)
                  .build();
  PacketMeta m = parsed(req);
  ASSERT_EQ(m.kind, PacketKind::kArp);
  ArpView v = read_arp(req.data(), m);
  EXPECT_EQ(v.op, 1);
  EXPECT_EQ(v.sender_mac, (MacAddress{2, 0, 0, 0, 0, 1}));
  make_arp_reply(req.data(), m, kOurMac);
  Frame want = PacketBuilder()
                   .eth(kOurs, kClient, 0x0806)
                   .payload(arp_body(2, kOurs, "10.99.0.100", kClient, "10.99.0.1"))
                   .pad_to(60)
                   .build();
  EXPECT_EQ(req, want);
}

TEST(ControlReply, Icmp4EchoReply) {
  Frame req = PacketBuilder()
                  .eth(kClient, kOurs)
                  .ipv4(test::ipv4("10.99.0.1"), test::ipv4("10.99.0.100"), 61)
                  .icmp(8, 0, 0x12340007)
                  .payload(56, 0x42)
                  .build();
  PacketMeta m = parsed(req);
  ASSERT_TRUE(is_echo_request(m));
  make_echo_reply(req.data(), m);
  Frame want = PacketBuilder()
                   .eth(kOurs, kClient)
                   .ipv4(test::ipv4("10.99.0.100"), test::ipv4("10.99.0.1"), 64)
                   .icmp(0, 0, 0x12340007)
                   .payload(56, 0x42)
                   .build();
  EXPECT_EQ(req, want);
}

TEST(ControlReply, Icmp6EchoReply) {
  Frame req = PacketBuilder()
                  .eth(kClient, kOurs)
                  .ipv6(test::ipv6("fd99::1"), test::ipv6("fd99::100"), 3)
                  .icmp6(128, 0, 0xabcd0001)
                  .payload(32)
                  .build();
  PacketMeta m = parsed(req);
  ASSERT_TRUE(is_echo_request(m));
  make_echo_reply(req.data(), m);
  Frame want = PacketBuilder()
                   .eth(kOurs, kClient)
                   .ipv6(test::ipv6("fd99::100"), test::ipv6("fd99::1"), 64)
                   .icmp6(129, 0, 0xabcd0001)
                   .payload(32)
                   .build();
  EXPECT_EQ(req, want);
}

TEST(ControlReply, EchoReplyOnlyForRequests) {
  EXPECT_FALSE(
      is_echo_request(parsed(PacketBuilder().eth(kClient, kOurs).ipv4(1, 2).icmp(0, 0).build())));
  EXPECT_FALSE(
      is_echo_request(parsed(PacketBuilder().eth(kClient, kOurs).ipv4(1, 2).icmp(3, 4).build())));
}

TEST(ControlReply, NeighborSolicitBecomesAdvert) {
  // Solicitation from fd99::1 for fd99::100 with a source link-layer address option.
  const auto target = test::ipv6("fd99::100");
  std::vector<uint8_t> ns_body(target.begin(), target.end());
  for (uint8_t b : {1, 1, 2, 0, 0, 0, 0, 1}) ns_body.push_back(b);
  Frame req = PacketBuilder()
                  .eth(kClient, test::mac("33:33:ff:00:01:00"))
                  .ipv6(test::ipv6("fd99::1"), test::ipv6("ff02::1:ff00:100"), 255)
                  .icmp6(135, 0)
                  .payload(ns_body)
                  .build();
  PacketMeta m = parsed(req);
  auto ns = read_neighbor_solicit(req.data(), m);
  ASSERT_TRUE(ns.has_value());
  EXPECT_EQ(ns->target, IpAddress::from_v6(target.data()));
  ASSERT_TRUE(ns->link_address.has_value());
  EXPECT_EQ(*ns->link_address, (MacAddress{2, 0, 0, 0, 0, 1}));

  req.resize(neighbor_advert_size(m));
  make_neighbor_advert(req.data(), m, ns->target, kOurMac);
  std::vector<uint8_t> na_body(target.begin(), target.end());
  for (uint8_t b : {2, 1, 0x02, 0x5c, 0, 0, 0, 0xaa}) na_body.push_back(b);
  Frame want = PacketBuilder()
                   .eth(kOurs, kClient)
                   .ipv6(target, test::ipv6("fd99::1"), 255)
                   .icmp6(136, 0, 0x60000000)
                   .payload(na_body)
                   .build();
  EXPECT_EQ(req, want);
}

TEST(ControlReply, NeighborSolicitMustHaveHopLimit255) {
  std::vector<uint8_t> body(16, 0);
  Frame req = PacketBuilder()
                  .eth(kClient, kOurs)
                  .ipv6(test::ipv6("fd99::1"), test::ipv6("fd99::100"), 64)
                  .icmp6(135, 0)
                  .payload(body)
                  .build();
  EXPECT_FALSE(read_neighbor_solicit(req.data(), parsed(req)).has_value());
  Frame bad_opt = PacketBuilder()
                      .eth(kClient, kOurs)
                      .ipv6(test::ipv6("fd99::1"), test::ipv6("fd99::100"), 255)
                      .icmp6(135, 0)
                      .payload(body)
                      .payload({1, 0, 0, 0, 0, 0, 0, 0})
                      .build();
  EXPECT_FALSE(read_neighbor_solicit(bad_opt.data(), parsed(bad_opt)).has_value())
      << "zero-length option";
}

}  // namespace
}  // namespace sluice::lb
