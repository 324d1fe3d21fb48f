// Tunnel encapsulations on real mbufs: each case builds the client's frame, encapsulates it in an
// mbuf from the dataplane's own pool and compares the result with the tunnelled frame built by
// PacketBuilder from scratch. Outer checksums are also checked with DPDK's own routines, and the
// refusals (too long for the egress port, too little headroom) must leave the mbuf untouched.
#include <gtest/gtest.h>
#include <rte_ip.h>

#include <cstring>
#include <set>

#include "encap.h"
#include "packet_builder.h"
#include "packet_harness.h"

namespace sluice::lb {
namespace {

using test::Frame;
using test::PacketBuilder;
using test::PacketPool;

const test::Mac kClientMac = test::mac("02:00:00:00:00:01");
const test::Mac kOurMac = test::mac("02:5c:00:00:00:aa");
const test::Mac kNextHop = test::mac("02:00:00:00:00:b1");
constexpr uint16_t kGuePort = 6080;
constexpr uint32_t kHash = 0x9e3779b9;

IpAddress v4(const char* s) {
  const uint32_t a = test::ipv4(s);
  const uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                        static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
  return IpAddress::from_v4(b);
}

IpAddress v6(const char* s) {
  return IpAddress::from_v6(test::ipv6(s).data());
}

uint32_t as_u32(const IpAddress& a) {
  const uint8_t* p = a.v4();
  return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

test::Ipv6Addr as_v6(const IpAddress& a) {
  return a.bytes;
}

uint16_t load16(const Frame& f, size_t off) {
  return static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
}

void store16(Frame& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

// Recomputes the IPv4 header checksum at `off` with DPDK's routine (stored as it returns it).
void fix_ipv4_checksum(Frame& f, size_t off) {
  f[off + 10] = f[off + 11] = 0;
  const uint16_t c = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(&f[off]));
  std::memcpy(&f[off + 10], &c, 2);
}

// Sets TOS and DF of the IPv4 header at `off` in an expected or input frame.
void set_ipv4_tos_df(Frame& f, size_t off, uint8_t tos, bool df) {
  f[off + 1] = tos;
  store16(f, off + 6, df ? 0x4000 : 0);
  fix_ipv4_checksum(f, off);
}

// Sets traffic class and flow label of the IPv6 header at `off`.
void set_ipv6_class_label(Frame& f, size_t off, uint8_t tc, uint32_t label) {
  label &= 0xfffff;
  store16(f, off, static_cast<uint16_t>(0x6000 | tc << 4 | label >> 16));
  store16(f, off + 2, static_cast<uint16_t>(label));
}

// Recomputes the UDP checksum of GUE over IPv6 after an expected frame's inner header changed.
void fix_gue6_checksum(Frame& f) {
  f[54 + 6] = f[54 + 7] = 0;
  const uint16_t c = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(&f[14]), &f[54]);
  std::memcpy(&f[54 + 6], &c, 2);
}

// The outer headers of an encapsulated frame checked independently of PacketBuilder: the IPv4
// header sums to zero, a GUE checksum is 0 over IPv4 and DPDK's over IPv6, and the balancer's own
// parser reads the frame back as a packet for the backend.
void verify_outer(const Frame& f, const IpAddress& backend, uint8_t proto) {
  ASSERT_GE(f.size(), 34u);
  const uint16_t type = load16(f, 12);
  if (type == 0x0800) {
    EXPECT_EQ(rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(&f[14])), 0)
        << "outer IPv4 header checksum";
    EXPECT_EQ(f[14 + 9], proto);
    if (proto == kProtoUdp) {
      EXPECT_EQ(load16(f, 34 + 6), 0) << "GUE over IPv4 has no checksum";
    }
  } else {
    ASSERT_EQ(type, 0x86dd);
    EXPECT_EQ(f[14 + 6], proto);
    if (proto == kProtoUdp) {
      Frame copy = f;
      copy[54 + 6] = copy[54 + 7] = 0;
      const uint16_t want =
          rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(&copy[14]), &copy[54]);
      uint16_t got;
      std::memcpy(&got, &f[54 + 6], 2);
      EXPECT_EQ(got, want) << "GUE over IPv6 checksum";
    }
  }
  PacketMeta m;
  ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()),
                        false, m),
            PacketKind::kIp);
  EXPECT_EQ(m.l3_offset, 14);
  EXPECT_EQ(m.key.proto, proto);
  EXPECT_EQ(m.key.dst, backend);
  EXPECT_EQ(size_t{m.l3_offset} + m.l3_length, f.size()) << "no padding after the tunnelled packet";
}

enum class Encap { kIpip, kGue };

struct MbufShape {
  uint16_t data_off, data_len, nb_segs;
  uint32_t pkt_len;
  bool operator==(const MbufShape&) const = default;
};

MbufShape shape(const rte_mbuf* m) {
  return {m->data_off, m->data_len, m->nb_segs, m->pkt_len};
}

struct Result {
  bool ok = false;
  Frame frame;
};

class EncapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pool_ = new PacketPool(1024); }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
  }
  void TearDown() override { EXPECT_EQ(pool_->available(), pool_->size()) << "mbufs leaked"; }

  static TunnelParams params(const IpAddress& src, const IpAddress& dst, uint32_t hash = kHash,
                             uint32_t max_frame = 1514) {
    return {.src_mac = kOurMac,
            .dst_mac = kNextHop,
            .src = src,
            .dst = dst,
            .flow_hash = hash,
            .max_frame = max_frame};
  }

  // Encapsulates the frame held in `m` (which this frees); a refusal must leave it as it was.
  static Result run(rte_mbuf* m, const TunnelParams& t, Encap kind) {
    Result r;
    PacketMeta meta;
    EXPECT_EQ(parse_mbuf(m, meta), PacketKind::kIp);
    const Frame before = test::to_frame(m);
    const MbufShape before_shape = shape(m);
    r.ok = kind == Encap::kIpip ? encap_ipip(m, meta, t) : encap_gue(m, meta, t, kGuePort);
    r.frame = test::to_frame(m);
    if (!r.ok) {
      EXPECT_EQ(r.frame, before) << "a refused frame is left as it was";
      EXPECT_EQ(shape(m), before_shape) << "a refused mbuf is left as it was";
    }
    rte_pktmbuf_free(m);
    return r;
  }

  static Result run(const Frame& in, const TunnelParams& t, Encap kind, size_t segment_bytes = 0) {
    return run(pool_->make(in, segment_bytes), t, kind);
  }

  // An mbuf holding `frame` with exactly `headroom` bytes in front of it.
  static rte_mbuf* with_headroom(const Frame& frame, uint16_t headroom) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_->get());
    EXPECT_NE(m, nullptr);
    m->data_off = headroom;
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    EXPECT_NE(p, nullptr);
    std::memcpy(p, frame.data(), frame.size());
    EXPECT_EQ(rte_pktmbuf_headroom(m), headroom);
    return m;
  }

  static PacketPool* pool_;
};

PacketPool* EncapTest::pool_ = nullptr;

// Client-side addresses and the tunnel's.
const char* const kClient4 = "198.51.100.7";
const char* const kVip4 = "203.0.113.10";
const char* const kClient6 = "2001:db8:c::7";
const char* const kVip6 = "2001:db8:f::10";
const IpAddress kTunnelSrc4 = v4("10.200.17.34"), kBackend4 = v4("10.99.0.11");
const IpAddress kTunnelSrc6 = v6("fd00:5c::1:2"), kBackend6 = v6("fd99::11");

// The client's frame: Ethernet, the inner IP header, then TCP or UDP and a payload.
PacketBuilder& inner_ip(PacketBuilder& b, bool inner_v6) {
  return inner_v6 ? b.ipv6(test::ipv6(kClient6), test::ipv6(kVip6))
                  : b.ipv4(test::ipv4(kClient4), test::ipv4(kVip4));
}

PacketBuilder& transport(PacketBuilder& b, bool udp, size_t payload) {
  (udp ? b.udp(5353, 53) : b.tcp(40001, 443, test::tcp_flags::kSyn, 777)).payload(payload, 0x3c);
  return b;
}

Frame client_frame(bool inner_v6, bool udp, size_t payload) {
  PacketBuilder b;
  b.eth(kClientMac, kOurMac);
  inner_ip(b, inner_v6);
  return transport(b, udp, payload).build();
}

// The tunnelled frame as PacketBuilder builds it. Outer IPv4 comes out with TOS 0, DF set,
// identification 0, TTL 64; outer IPv6 with traffic class and flow label patched here.
Frame tunnelled_frame(const IpAddress& src, const IpAddress& dst, Encap kind, uint32_t hash,
                      bool inner_v6, bool udp, size_t payload) {
  PacketBuilder b;
  b.eth(kOurMac, kNextHop);
  const bool outer_v6 = !dst.is_v4();
  if (outer_v6) {
    b.ipv6(as_v6(src), as_v6(dst));
  } else {
    b.ipv4(as_u32(src), as_u32(dst));
  }
  if (kind == Encap::kGue) b.udp(gue_source_port(hash), kGuePort);
  inner_ip(b, inner_v6);
  Frame f = transport(b, udp, payload).build();
  if (outer_v6) set_ipv6_class_label(f, 14, 0, hash);
  if (kind == Encap::kGue && !outer_v6) store16(f, 34 + 6, 0);  // no UDP checksum over IPv4
  return f;
}

struct Combo {
  const char* name;
  bool inner_v6, outer_v6;
  uint8_t ipip_proto;  // the outer protocol / next header for IPIP
};

constexpr Combo kCombos[] = {
    {"4in4", false, false, kProtoIpip},
    {"6in6", true, true, kProtoIpv6},
    {"4in6", false, true, kProtoIpip},
    {"6in4", true, false, kProtoIpv6},
};

TEST_F(EncapTest, IpipTcpAndUdp) {
  for (const Combo& c : kCombos) {
    const IpAddress src = c.outer_v6 ? kTunnelSrc6 : kTunnelSrc4;
    const IpAddress dst = c.outer_v6 ? kBackend6 : kBackend4;
    for (bool udp : {false, true}) {
      for (size_t payload : {0, 1, 333, 1000}) {
        SCOPED_TRACE(testing::Message()
                     << c.name << (udp ? " udp" : " tcp") << " payload " << payload);
        const Result r =
            run(client_frame(c.inner_v6, udp, payload), params(src, dst), Encap::kIpip);
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.frame, tunnelled_frame(src, dst, Encap::kIpip, kHash, c.inner_v6, udp, payload))
            << test::hex_dump(r.frame, 96);
        verify_outer(r.frame, dst, c.ipip_proto);
      }
    }
  }
}

TEST_F(EncapTest, GueTcpAndUdp) {
  for (const Combo& c : kCombos) {
    const IpAddress src = c.outer_v6 ? kTunnelSrc6 : kTunnelSrc4;
    const IpAddress dst = c.outer_v6 ? kBackend6 : kBackend4;
    for (bool udp : {false, true}) {
      for (size_t payload : {0, 1, 333, 1000}) {
        SCOPED_TRACE(testing::Message()
                     << "gue " << c.name << (udp ? " udp" : " tcp") << " payload " << payload);
        const Result r = run(client_frame(c.inner_v6, udp, payload), params(src, dst), Encap::kGue);
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.frame, tunnelled_frame(src, dst, Encap::kGue, kHash, c.inner_v6, udp, payload))
            << test::hex_dump(r.frame, 96);
        verify_outer(r.frame, dst, kProtoUdp);
        const size_t udp_at = c.outer_v6 ? 54 : 34;
        EXPECT_EQ(load16(r.frame, udp_at), gue_source_port(kHash));
        EXPECT_EQ(load16(r.frame, udp_at + 2), kGuePort);
        EXPECT_EQ(r.frame[udp_at + 8] >> 4, c.inner_v6 ? 6 : 4) << "no GUE header: inner IP";
      }
    }
  }
}

// The IPv6 GUE checksum is summed over the whole chain, whatever the segment boundaries.
TEST_F(EncapTest, GueOverIpv6OnChainedMbufs) {
  for (size_t segment : {63, 64, 77, 100, 511}) {
    for (bool inner_v6 : {false, true}) {
      SCOPED_TRACE(testing::Message() << "segments of " << segment << (inner_v6 ? " 6" : " 4"));
      const Result r = run(client_frame(inner_v6, true, 1001), params(kTunnelSrc6, kBackend6),
                           Encap::kGue, segment);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.frame,
                tunnelled_frame(kTunnelSrc6, kBackend6, Encap::kGue, kHash, inner_v6, true, 1001));
      verify_outer(r.frame, kBackend6, kProtoUdp);
    }
  }
}

TEST_F(EncapTest, VlanTagsAreDropped) {
  for (int tags : {1, 2}) {
    for (Encap kind : {Encap::kIpip, Encap::kGue}) {
      PacketBuilder b;
      b.eth(kClientMac, kOurMac);
      if (tags == 2) b.vlan(100, 0x88a8);
      b.vlan(200);
      inner_ip(b, false);
      const Frame in = transport(b, false, 200).build();
      const Result r = run(in, params(kTunnelSrc4, kBackend4), kind);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.frame, tunnelled_frame(kTunnelSrc4, kBackend4, kind, kHash, false, false, 200))
          << tags << " tags";
      verify_outer(r.frame, kBackend4, kind == Encap::kGue ? kProtoUdp : kProtoIpip);
    }
  }
}

// Minimum-size frames carry padding after the IP packet; it does not travel in the tunnel.
TEST_F(EncapTest, EthernetPaddingIsTrimmed) {
  const Frame in = PacketBuilder()
                       .eth(kClientMac, kOurMac)
                       .ipv4(test::ipv4(kClient4), test::ipv4(kVip4))
                       .udp(5353, 53)
                       .payload(4, 0x3c)
                       .pad_to(60)
                       .build();
  ASSERT_EQ(in.size(), 60u);
  const Frame want = tunnelled_frame(kTunnelSrc4, kBackend4, Encap::kIpip, kHash, false, true, 4);
  for (size_t segment : {0, 42, 46}) {  // 46: the padding is the whole last segment
    const Result r = run(in, params(kTunnelSrc4, kBackend4), Encap::kIpip, segment);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.frame, want) << "segments of " << segment;
    verify_outer(r.frame, kBackend4, kProtoIpip);
  }
  // Padding split over two segments stays, as Ethernet padding outside the outer lengths.
  const Result split = run(in, params(kTunnelSrc4, kBackend4), Encap::kIpip, 50);
  ASSERT_TRUE(split.ok);
  Frame padded = want;
  padded.resize(want.size() + 14, 0);
  EXPECT_EQ(split.frame, padded);
  const Result g = run(in, params(kTunnelSrc6, kBackend6), Encap::kGue);
  ASSERT_TRUE(g.ok);
  EXPECT_EQ(g.frame, tunnelled_frame(kTunnelSrc6, kBackend6, Encap::kGue, kHash, false, true, 4));
  verify_outer(g.frame, kBackend6, kProtoUdp);
}

// DSCP and ECN go to the outer header whole; outer IPv4 takes DF from an inner IPv4 packet and
// sets it for an inner IPv6 one.
TEST_F(EncapTest, DscpEcnAndDfAreCopied) {
  constexpr uint8_t kTos4 = 0xb9;  // EF, ECT(1)
  constexpr uint8_t kTc6 = 0x2a;   // AF11, ECT(0)
  for (Encap kind : {Encap::kIpip, Encap::kGue}) {
    for (const Combo& c : kCombos) {
      for (bool df : {false, true}) {
        SCOPED_TRACE(testing::Message() << c.name << (kind == Encap::kGue ? " gue" : " ipip")
                                        << (df ? " df" : " no df"));
        const size_t outer_len =
            (c.outer_v6 ? 40u : 20u) + (kind == Encap::kGue ? 8u : 0u);  // before the inner IP
        Frame in = client_frame(c.inner_v6, false, 100);
        const uint8_t tos = c.inner_v6 ? kTc6 : kTos4;
        if (c.inner_v6) {
          set_ipv6_class_label(in, 14, kTc6, 0x12345);
        } else {
          set_ipv4_tos_df(in, 14, kTos4, df);
        }
        const IpAddress src = c.outer_v6 ? kTunnelSrc6 : kTunnelSrc4;
        const IpAddress dst = c.outer_v6 ? kBackend6 : kBackend4;
        Frame want = tunnelled_frame(src, dst, kind, kHash, c.inner_v6, false, 100);
        if (c.inner_v6) {
          set_ipv6_class_label(want, 14 + outer_len, kTc6, 0x12345);
        } else {
          set_ipv4_tos_df(want, 14 + outer_len, kTos4, df);
        }
        if (c.outer_v6) {
          set_ipv6_class_label(want, 14, tos, kHash);
          // The inner header's new traffic class and flow label are under the UDP checksum.
          if (kind == Encap::kGue && c.inner_v6) fix_gue6_checksum(want);
        } else {
          set_ipv4_tos_df(want, 14, tos, c.inner_v6 || df);
        }
        const Result r = run(in, params(src, dst), kind);
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.frame, want) << test::hex_dump(r.frame, 96);
        verify_outer(r.frame, dst, kind == Encap::kGue ? uint8_t{kProtoUdp} : c.ipip_proto);
      }
    }
  }
}

TEST(TunnelSource, Ipv4KeepsTheSlash16AndTakesTheLowBitsFromTheHash) {
  const IpAddress base = v4("10.200.0.1");
  // Hashes that differ only in their low or only in their high half give distinct sources.
  std::set<uint32_t> low, high;
  for (uint32_t i = 1; i <= 1000; ++i) {
    for (uint32_t hash : {i, i << 16}) {
      const IpAddress a = tunnel_source(base, hash, kFamilyV4);
      ASSERT_TRUE(a.is_v4());
      EXPECT_EQ(as_u32(a) >> 16, 0x0ac8u);
      (hash == i ? low : high).insert(as_u32(a));
    }
  }
  EXPECT_EQ(low.size(), 1000u);
  EXPECT_EQ(high.size(), 1000u);
  EXPECT_EQ(tunnel_source(base, 0x00001234, kFamilyV4), v4("10.200.18.52"));
  EXPECT_EQ(tunnel_source(base, 0xabcd0000, kFamilyV4), v4("10.200.171.205"));
  EXPECT_EQ(tunnel_source(base, 77, kFamilyV4), tunnel_source(base, 77, kFamilyV4));
}

TEST(TunnelSource, Ipv6KeepsTheSlash64AndTakesTheInterfaceIdFromTheHash) {
  const IpAddress base = v6("fd00:5c:1:2::1");
  std::set<IpAddress::Bytes> seen;
  for (uint32_t i = 0; i < 1000; ++i) {
    const IpAddress a = tunnel_source(base, i * 0x9e3779b9u, kFamilyV6);
    EXPECT_EQ(std::memcmp(a.bytes.data(), base.bytes.data(), 8), 0);
    EXPECT_FALSE(a.is_v4());
    seen.insert(a.bytes);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(tunnel_source(base, 0x12345678, kFamilyV6), v6("fd00:5c:1:2:1234:5678:edcb:a987"));
  EXPECT_EQ(tunnel_source(base, 0, kFamilyV6), v6("fd00:5c:1:2:0:0:ffff:ffff"))
      << "never the subnet-router anycast address";
}

TEST(GueSourcePort, InTheDynamicRangeAndSpread) {
  std::set<uint16_t> seen;
  for (uint32_t i = 0; i < 4096; ++i) {
    const uint16_t p = gue_source_port(i * 0x9e3779b9u);
    EXPECT_GE(p, 49152);
    seen.insert(p);
  }
  EXPECT_GT(seen.size(), 3000u);
}

TEST(TunnelOverhead, PerOuterFamilyAndType) {
  EXPECT_EQ(tunnel_overhead(kFamilyV4, TunnelType::kIpip), 20);
  EXPECT_EQ(tunnel_overhead(kFamilyV6, TunnelType::kIpip), 40);
  EXPECT_EQ(tunnel_overhead(kFamilyV4, TunnelType::kGue), 28);
  EXPECT_EQ(tunnel_overhead(kFamilyV6, TunnelType::kGue), 48);
}

// The outer source the caller passes is the one sent: per-flow sources differ, within the prefix.
TEST_F(EncapTest, OuterSourceFollowsTheFlowHash) {
  const Frame in = client_frame(false, false, 10);
  std::set<uint32_t> v4_sources;
  std::set<IpAddress::Bytes> v6_sources;
  for (uint32_t hash : {1u, 2u, 0xdeadbeefu, 0x12345678u}) {
    const IpAddress s4 = tunnel_source(kTunnelSrc4, hash, kFamilyV4);
    const Result r4 = run(in, params(s4, kBackend4, hash), Encap::kIpip);
    ASSERT_TRUE(r4.ok);
    EXPECT_EQ(r4.frame, tunnelled_frame(s4, kBackend4, Encap::kIpip, hash, false, false, 10));
    const uint32_t outer = static_cast<uint32_t>(load16(r4.frame, 26)) << 16 | load16(r4.frame, 28);
    EXPECT_EQ(outer >> 16, as_u32(kTunnelSrc4) >> 16);
    v4_sources.insert(outer);

    const IpAddress s6 = tunnel_source(kTunnelSrc6, hash, kFamilyV6);
    const Result r6 = run(in, params(s6, kBackend6, hash), Encap::kGue);
    ASSERT_TRUE(r6.ok);
    EXPECT_EQ(r6.frame, tunnelled_frame(s6, kBackend6, Encap::kGue, hash, false, false, 10));
    IpAddress::Bytes src6;
    std::memcpy(src6.data(), &r6.frame[22], 16);
    EXPECT_EQ(std::memcmp(src6.data(), kTunnelSrc6.bytes.data(), 8), 0);
    v6_sources.insert(src6);
  }
  EXPECT_EQ(v4_sources.size(), 4u);
  EXPECT_EQ(v6_sources.size(), 4u);
}

// A 1500-byte inner packet fills a 1514-byte frame; the tunnel needs its overhead on top.
TEST_F(EncapTest, RefusesFramesLongerThanTheMaximum) {
  const Frame in = client_frame(false, false, 1460);
  ASSERT_EQ(in.size(), 1514u);
  struct Limit {
    IpAddress src, dst;
    Encap kind;
    uint32_t needed;
  };
  const Limit limits[] = {
      {kTunnelSrc4, kBackend4, Encap::kIpip, 1534},
      {kTunnelSrc6, kBackend6, Encap::kIpip, 1554},
      {kTunnelSrc4, kBackend4, Encap::kGue, 1542},
      {kTunnelSrc6, kBackend6, Encap::kGue, 1562},
  };
  EXPECT_FALSE(run(in, params(kTunnelSrc4, kBackend4, kHash, 1518), Encap::kIpip).ok);
  for (const Limit& l : limits) {
    SCOPED_TRACE(testing::Message() << "needs " << l.needed);
    EXPECT_FALSE(run(in, params(l.src, l.dst, kHash, l.needed - 1), l.kind).ok);
    EXPECT_FALSE(run(in, params(l.src, l.dst, kHash, l.needed - 1), l.kind, 500).ok);
    const Result r = run(in, params(l.src, l.dst, kHash, l.needed), l.kind);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.frame.size(), l.needed);
    EXPECT_EQ(r.frame, tunnelled_frame(l.src, l.dst, l.kind, kHash, false, false, 1460));
  }
  // A jumbo egress port takes the same packet.
  EXPECT_TRUE(run(in, params(kTunnelSrc6, kBackend6, kHash, 9014), Encap::kGue).ok);
}

TEST_F(EncapTest, RefusesWithoutEnoughHeadroom) {
  // Padded, so that a refusal also shows the padding left in place.
  const Frame in = PacketBuilder()
                       .eth(kClientMac, kOurMac)
                       .ipv4(test::ipv4(kClient4), test::ipv4(kVip4))
                       .udp(5353, 53)
                       .payload(4, 0x3c)
                       .pad_to(60)
                       .build();
  Frame vlan_in = PacketBuilder()
                      .eth(kClientMac, kOurMac)
                      .vlan(300)
                      .ipv4(test::ipv4(kClient4), test::ipv4(kVip4))
                      .udp(5353, 53)
                      .payload(4, 0x3c)
                      .build();
  struct Need {
    const Frame* frame;
    IpAddress src, dst;
    Encap kind;
    uint16_t headroom;  // what the encapsulation needs in front of the received frame
  };
  const Need needs[] = {
      {&in, kTunnelSrc4, kBackend4, Encap::kIpip, 20},
      {&in, kTunnelSrc6, kBackend6, Encap::kIpip, 40},
      {&in, kTunnelSrc4, kBackend4, Encap::kGue, 28},
      {&in, kTunnelSrc6, kBackend6, Encap::kGue, 48},
      {&vlan_in, kTunnelSrc4, kBackend4, Encap::kIpip, 16},  // the tag's 4 bytes are reused
      {&vlan_in, kTunnelSrc6, kBackend6, Encap::kGue, 44},
  };
  for (const Need& n : needs) {
    SCOPED_TRACE(testing::Message() << "needs " << n.headroom);
    EXPECT_FALSE(run(with_headroom(*n.frame, 0), params(n.src, n.dst), n.kind).ok);
    EXPECT_FALSE(run(with_headroom(*n.frame, static_cast<uint16_t>(n.headroom - 1)),
                     params(n.src, n.dst), n.kind)
                     .ok);
    const Result r = run(with_headroom(*n.frame, n.headroom), params(n.src, n.dst), n.kind);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.frame, tunnelled_frame(n.src, n.dst, n.kind, kHash, false, true, 4));
  }
}

}  // namespace
}  // namespace sluice::lb
