// Golden packet cases for the L4 balancer job on net_ring ports: an "outside" port facing clients
// and an "inside" port facing backends. Each test injects frames, runs the job until idle, and
// compares what left each port with frames built independently.
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <memory>

#include "lb_job.h"
#include "packet_builder.h"
#include "packet_harness.h"
#include "snapshot.h"

namespace sluice::test {
namespace {

using lb::LbJob;
using lb::LbRuntime;
namespace flags = tcp_flags;

const Mac kClientMac = mac("02:00:00:00:00:c1");
const Mac kBackendMac[3] = {mac("02:00:00:00:00:b0"), mac("02:00:00:00:00:b1"),
                            mac("02:00:00:00:00:b2")};

IpAddress ip(const char* s) {
  return *parse_ip_address(s);
}
uint32_t v4(const char* s) {
  return ipv4(s);
}

lb::LbConfig config() {
  lb::LbConfig c;
  c.flow_table_size = 4096;
  c.maglev_table_size = 251;
  c.nat_addresses = {ip("10.99.1.2"), ip("fd99:1::2")};
  auto service = [](const char* name, const char* vip, uint8_t proto, uint16_t port,
                    lb::ForwardingMode mode, std::vector<const char*> backends) {
    lb::ServiceConfig s;
    s.name = name;
    s.vip = ip(vip);
    s.family = s.vip.family();
    s.protocol = proto;
    s.port = port;
    s.mode = mode;
    for (const char* b : backends) s.backends.push_back({ip(b), 0, 1});
    return s;
  };
  c.services = {
      service("nat", "10.99.0.100", lb::kProtoTcp, 80, lb::ForwardingMode::kNat,
              {"10.99.1.10", "10.99.1.11"}),
      service("dsr", "10.99.0.101", lb::kProtoTcp, 80, lb::ForwardingMode::kDsr, {"10.99.1.10"}),
      service("ipip", "10.99.0.102", lb::kProtoUdp, 53, lb::ForwardingMode::kTunnel,
              {"10.99.1.12"}),
      service("nat6", "fd99::100", lb::kProtoTcp, 443, lb::ForwardingMode::kNat, {"fd99:1::10"}),
      service("any_port", "10.99.0.103", lb::kProtoUdp, 0, lb::ForwardingMode::kDsr,
              {"10.99.1.11"}),
  };
  c.services[1].track_udp_flows = true;
  c.services[4].track_udp_flows = false;
  c.services[2].backends[0].port = 5353;
  return c;
}

class LbPacketTest : public ::testing::Test {
 protected:
  void SetUp() override { build(config()); }

  void build(const lb::LbConfig& c) {
    job_.reset();
    snapshots_.reset();
    outside_ = std::make_unique<RingPort>("outside", pool_.get());
    inside_ = std::make_unique<RingPort>("inside", pool_.get());
    ports_ = {port_info(*outside_, {"10.99.0.2/24", "fd99::2/64"}),
              port_info(*inside_, {"10.99.1.2/24", "fd99:1::2/64"})};
    out_mac_ = ports_[0].mac;
    in_mac_ = ports_[1].mac;
    snapshots_ = std::make_unique<dataplane::SnapshotPublisher<LbRuntime>>(
        1, std::make_unique<LbRuntime>(c, ports_));
    job_ = std::make_unique<LbJob>(
        *snapshots_, std::vector{outside_->port().egress(0), inside_->port().egress(0)},
        lb::LbJobOptions{.flow_table_size = c.flow_table_size,
                         .new_flows_per_second = c.new_flows_per_second});
    counters_ = std::make_unique<dataplane::WorkerCounters>();
  }

  void TearDown() override {
    job_.reset();
    snapshots_.reset();
    outside_.reset();
    inside_.reset();
    EXPECT_EQ(pool_.available(), pool_.size()) << "mbufs leaked";
  }

  static lb::LbPort port_info(const RingPort& p, std::vector<const char*> addresses) {
    lb::LbPort info;
    info.id = p.port().id;
    info.name = p.port().name;
    rte_ether_addr a;
    rte_eth_macaddr_get(p.port().id, &a);
    std::copy(a.addr_bytes, a.addr_bytes + 6, info.mac.begin());
    for (const char* s : addresses) info.addresses.push_back(*parse_ip_prefix(s));
    return info;
  }
  LbRuntime& runtime() { return *snapshots_->current(); }

  // What the running job would be given by a configuration change. The job runs on this
  // thread, so it is between passes (offline) while the change is published.
  void reconfigure(const lb::LbConfig& c) {
    snapshots_->offline(0);
    snapshots_->publish(std::make_unique<LbRuntime>(c, ports_, snapshots_->current()));
    snapshots_->online(0);
  }

  void learn_backends() {
    const char* addrs[] = {"10.99.1.10", "10.99.1.11", "10.99.1.12"};
    for (int i = 0; i < 3; ++i) runtime().find_neighbor(ip(addrs[i]))->learn(kBackendMac[i]);
    runtime().find_neighbor(ip("fd99:1::10"))->learn(kBackendMac[0]);
  }

  // Injects frames on a port and runs the job until it is idle.
  void run(RingPort& port, const std::vector<Frame>& frames) {
    ASSERT_EQ(port.inject(pool_.make_all(frames)), frames.size());
    run_until_idle(*job_, *counters_);
  }

  uint64_t drops(const RingPort& port, DropReason r) const {
    return counters_->ports[port.port().id].drops[static_cast<size_t>(r)].get();
  }

  PacketPool pool_;
  std::unique_ptr<RingPort> outside_, inside_;
  std::vector<lb::LbPort> ports_;
  std::unique_ptr<dataplane::SnapshotPublisher<LbRuntime>> snapshots_;
  std::unique_ptr<LbJob> job_;
  std::unique_ptr<dataplane::WorkerCounters> counters_;
  Mac out_mac_{}, in_mac_{};
};

std::vector<uint8_t> arp_body(uint16_t op, Mac sender_mac, const char* sender_ip, Mac target_mac,
                              const char* target_ip) {
  std::vector<uint8_t> b = {0, 1, 8, 0, 6, 4, 0, static_cast<uint8_t>(op)};
  auto put_ip = [&](const char* s) {
    const uint32_t a = ipv4(s);
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(a >> shift));
  };
  for (uint8_t x : sender_mac) b.push_back(x);
  put_ip(sender_ip);
  for (uint8_t x : target_mac) b.push_back(x);
  put_ip(target_ip);
  return b;
}

Frame arp(Mac src, Mac dst, uint16_t op, Mac sender_mac, const char* sender_ip, Mac target_mac,
          const char* target_ip) {
  return PacketBuilder()
      .eth(src, dst, 0x0806)
      .payload(arp_body(op, sender_mac, sender_ip, target_mac, target_ip))
      .pad_to(60)
      .build();
}

const Mac kBroadcast = mac("ff:ff:ff:ff:ff:ff");

TEST_F(LbPacketTest, AnswersArpForVipsAndOwnAddressesOnly) {
  run(*outside_, {arp(kClientMac, kBroadcast, 1, kClientMac, "10.99.0.1", Mac{}, "10.99.0.100"),
                  arp(kClientMac, kBroadcast, 1, kClientMac, "10.99.0.1", Mac{}, "10.99.0.2"),
                  arp(kClientMac, kBroadcast, 1, kClientMac, "10.99.0.1", Mac{}, "10.99.0.77")});
  auto out = outside_->take_sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], arp(out_mac_, kClientMac, 2, out_mac_, "10.99.0.100", kClientMac, "10.99.0.1"));
  EXPECT_EQ(out[1], arp(out_mac_, kClientMac, 2, out_mac_, "10.99.0.2", kClientMac, "10.99.0.1"));
  EXPECT_EQ(drops(*outside_, DropReason::kNotForUs), 1u);
  EXPECT_TRUE(inside_->take_sent().empty());
}

TEST_F(LbPacketTest, PingOnVip) {
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("10.99.0.1"), v4("10.99.0.100"), 60)
                      .icmp(8, 0, 0x00070001)
                      .payload(56)
                      .build()});
  auto out = outside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(out_mac_, kClientMac)
                        .ipv4(v4("10.99.0.100"), v4("10.99.0.1"), 64)
                        .icmp(0, 0, 0x00070001)
                        .payload(56)
                        .build());
}

TEST_F(LbPacketTest, NeighborAdvertisementForOwnIpv6Address) {
  const Ipv6Addr target = ipv6("fd99::100");
  std::vector<uint8_t> ns(target.begin(), target.end());
  for (uint8_t b : {1, 1, 2, 0, 0, 0, 0, 0xc1}) ns.push_back(b);
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, mac("33:33:ff:00:01:00"))
                      .ipv6(ipv6("fd99::1"), ipv6("ff02::1:ff00:100"), 255)
                      .icmp6(135, 0)
                      .payload(ns)
                      .build()});
  auto out = outside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  std::vector<uint8_t> na(target.begin(), target.end());
  na.push_back(2);
  na.push_back(1);
  for (uint8_t b : out_mac_) na.push_back(b);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(out_mac_, kClientMac)
                        .ipv6(target, ipv6("fd99::1"), 255)
                        .icmp6(136, 0, 0x60000000)
                        .payload(na)
                        .build());
}

TEST_F(LbPacketTest, UnresolvedBackendIsAskedForAndLearnedFromTheReply) {
  const Frame syn = PacketBuilder()
                        .eth(kClientMac, out_mac_)
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                        .tcp(40000, 80, flags::kSyn)
                        .build();
  run(*outside_, {syn});
  EXPECT_EQ(drops(*inside_, DropReason::kNeighborUnresolved), 1u);
  auto asked = inside_->take_sent();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], arp(in_mac_, kBroadcast, 1, in_mac_, "10.99.1.2", Mac{}, "10.99.1.10"));

  run(*inside_,
      {arp(kBackendMac[0], in_mac_, 2, kBackendMac[0], "10.99.1.10", in_mac_, "10.99.1.2")});
  run(*outside_, {syn});
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(in_mac_, kBackendMac[0])
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                        .tcp(40000, 80, flags::kSyn)
                        .build());
}

TEST_F(LbPacketTest, FullNatBothWays) {
  learn_backends();
  const Frame syn = PacketBuilder()
                        .eth(kClientMac, out_mac_)
                        .ipv4(v4("198.51.100.7"), v4("10.99.0.100"))
                        .tcp(40001, 80, flags::kSyn)
                        .payload(0)
                        .build();
  run(*outside_, {syn});
  auto to_backend = inside_->take_sent();
  ASSERT_EQ(to_backend.size(), 1u);
  lb::PacketMeta m;
  ASSERT_EQ(lb::parse_frame(to_backend[0].data(), static_cast<uint32_t>(to_backend[0].size()),
                            static_cast<uint32_t>(to_backend[0].size()), false, m),
            lb::PacketKind::kIp);
  const uint16_t nat_port = m.key.src_port;
  EXPECT_GE(nat_port, 1024);
  const bool to_b0 = m.key.dst == ip("10.99.1.10");
  ASSERT_TRUE(to_b0 || m.key.dst == ip("10.99.1.11"));
  const char* backend = to_b0 ? "10.99.1.10" : "10.99.1.11";
  const Mac backend_mac = kBackendMac[to_b0 ? 0 : 1];
  EXPECT_EQ(to_backend[0], PacketBuilder()
                               .eth(in_mac_, backend_mac)
                               .ipv4(v4("10.99.1.2"), v4(backend))
                               .tcp(nat_port, 80, flags::kSyn)
                               .build());

  // The backend answers the appliance; the client sees the VIP answer.
  run(*inside_, {PacketBuilder()
                     .eth(backend_mac, in_mac_)
                     .ipv4(v4(backend), v4("10.99.1.2"))
                     .tcp(80, nat_port, flags::kSyn | flags::kAck)
                     .build()});
  auto to_client = outside_->take_sent();
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0], PacketBuilder()
                              .eth(out_mac_, kClientMac)
                              .ipv4(v4("10.99.0.100"), v4("198.51.100.7"))
                              .tcp(80, 40001, flags::kSyn | flags::kAck)
                              .build());

  // The rest of the connection stays on the same backend and NAT port.
  for (int i = 0; i < 20; ++i) {
    run(*outside_, {PacketBuilder()
                        .eth(kClientMac, out_mac_)
                        .ipv4(v4("198.51.100.7"), v4("10.99.0.100"))
                        .tcp(40001, 80, flags::kAck)
                        .payload(100, static_cast<uint8_t>(i))
                        .build()});
    auto more = inside_->take_sent();
    ASSERT_EQ(more.size(), 1u);
    EXPECT_EQ(more[0], PacketBuilder()
                           .eth(in_mac_, backend_mac)
                           .ipv4(v4("10.99.1.2"), v4(backend))
                           .tcp(nat_port, 80, flags::kAck)
                           .payload(100, static_cast<uint8_t>(i))
                           .build());
  }
  EXPECT_EQ(job_->flows().active(), 2u) << "one forward and one reply entry";
}

TEST_F(LbPacketTest, FullNatIpv6) {
  learn_backends();
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv6(ipv6("2001:db8::7"), ipv6("fd99::100"))
                      .tcp(5000, 443, flags::kSyn)
                      .build()});
  auto to_backend = inside_->take_sent();
  ASSERT_EQ(to_backend.size(), 1u);
  lb::PacketMeta m;
  lb::parse_frame(to_backend[0].data(), static_cast<uint32_t>(to_backend[0].size()),
                  static_cast<uint32_t>(to_backend[0].size()), false, m);
  const uint16_t nat_port = m.key.src_port;
  EXPECT_EQ(to_backend[0], PacketBuilder()
                               .eth(in_mac_, kBackendMac[0])
                               .ipv6(ipv6("fd99:1::2"), ipv6("fd99:1::10"))
                               .tcp(nat_port, 443, flags::kSyn)
                               .build());
  run(*inside_, {PacketBuilder()
                     .eth(kBackendMac[0], in_mac_)
                     .ipv6(ipv6("fd99:1::10"), ipv6("fd99:1::2"))
                     .tcp(443, nat_port, flags::kSyn | flags::kAck)
                     .build()});
  auto to_client = outside_->take_sent();
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0], PacketBuilder()
                              .eth(out_mac_, kClientMac)
                              .ipv6(ipv6("fd99::100"), ipv6("2001:db8::7"))
                              .tcp(443, 5000, flags::kSyn | flags::kAck)
                              .build());
}

TEST_F(LbPacketTest, ReplyWithoutFlowIsDropped) {
  learn_backends();
  run(*inside_, {PacketBuilder()
                     .eth(kBackendMac[0], in_mac_)
                     .ipv4(v4("10.99.1.10"), v4("10.99.1.2"))
                     .tcp(80, 3333, flags::kAck)
                     .build()});
  EXPECT_TRUE(outside_->take_sent().empty());
  EXPECT_EQ(drops(*inside_, DropReason::kNoFlow), 1u);
}

TEST_F(LbPacketTest, DsrRewritesOnlyMacs) {
  learn_backends();
  const Frame in = PacketBuilder()
                       .eth(kClientMac, out_mac_)
                       .vlan(7)
                       .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                       .tcp(1234, 80, flags::kSyn)
                       .build();
  run(*outside_, {in});
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(in_mac_, kBackendMac[0])
                        .vlan(7)
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                        .tcp(1234, 80, flags::kSyn)
                        .build());
}

TEST_F(LbPacketTest, IpipTunnel) {
  learn_backends();
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("10.99.0.1"), v4("10.99.0.102"))
                      .udp(999, 53)
                      .payload(30)
                      .build()});
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  // Without a tunnel source base the outer source is the inside port's own address.
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(in_mac_, kBackendMac[2])
                        .ipv4(v4("10.99.1.2"), v4("10.99.1.12"))
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.102"))
                        .udp(999, 53)
                        .payload(30)
                        .build());
}

// Established flows keep their backend when the backend set changes around them; flows of a
// backend that left are picked again among those that remain.
TEST_F(LbPacketTest, FlowsKeepTheirBackendAcrossAConfigurationChange) {
  lb::LbConfig c = config();
  c.services[1].backends = {{ip("10.99.1.10"), 0, 1}, {ip("10.99.1.11"), 0, 1}};
  build(c);
  learn_backends();
  auto flow_frames = [&](uint8_t tcp) {
    std::vector<Frame> frames;
    for (uint16_t i = 0; i < 200; ++i) {
      frames.push_back(PacketBuilder()
                           .eth(kClientMac, out_mac_)
                           .ipv4(v4("198.51.100.2"), v4("10.99.0.101"))
                           .tcp(static_cast<uint16_t>(30000 + i), 80, tcp)
                           .build());
    }
    return frames;
  };
  // The backend (its MAC) of each flow, by the flow's index (its source port). Packets of
  // different flows may leave in another order than they came (hits go before new flows).
  auto backend_of_each = [&](const std::vector<Frame>& sent) {
    std::vector<Mac> macs(sent.size());
    for (const auto& f : sent) {
      const size_t flow = static_cast<size_t>((f[34] << 8 | f[35]) - 30000);
      if (flow < macs.size()) macs[flow] = Mac{f[0], f[1], f[2], f[3], f[4], f[5]};
    }
    return macs;
  };
  run(*outside_, flow_frames(flags::kSyn));
  const auto before = backend_of_each(inside_->take_sent());
  ASSERT_EQ(before.size(), 200u);

  // A third backend joins: no established flow moves.
  c.services[1].backends.push_back({ip("10.99.1.12"), 0, 1});
  reconfigure(c);
  run(*outside_, flow_frames(flags::kAck));
  EXPECT_EQ(backend_of_each(inside_->take_sent()), before);

  // 10.99.1.11 leaves: its flows move, every other flow stays.
  c.services[1].backends = {{ip("10.99.1.10"), 0, 1}, {ip("10.99.1.12"), 0, 1}};
  reconfigure(c);
  run(*outside_, flow_frames(flags::kAck));
  const auto after = backend_of_each(inside_->take_sent());
  ASSERT_EQ(after.size(), 200u);
  int moved = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_NE(after[i], kBackendMac[1]) << "flow " << i << " still goes to the backend that left";
    if (before[i] != kBackendMac[1]) {
      EXPECT_EQ(after[i], before[i]) << "flow " << i << " moved although its backend stayed";
    } else {
      ++moved;
    }
  }
  EXPECT_GT(moved, 50);
}

TEST_F(LbPacketTest, PacketTooBigReachesTheBackendOwningTheFlow) {
  learn_backends();
  // The backend's reply (VIP:80 -> client:1234) was too big for a router on the way back.
  const Frame quoted = PacketBuilder()
                           .ipv4(v4("10.99.0.101"), v4("10.99.0.1"))
                           .tcp(80, 1234, flags::kAck)
                           .payload(1400)
                           .build();
  const std::vector<uint8_t> quote(quoted.begin(), quoted.begin() + 28 + 20);
  auto frag_needed = [&](Mac src, Mac dst) {
    return PacketBuilder()
        .eth(src, dst)
        .ipv4(v4("192.0.2.254"), v4("10.99.0.101"))
        .icmp(3, 4, 1400)
        .payload(quote)
        .build();
  };
  run(*outside_, {frag_needed(kClientMac, out_mac_)});
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], frag_needed(in_mac_, kBackendMac[0]));
  EXPECT_EQ(job_->core_counters().packet_too_big.get(), 1u);
}

TEST_F(LbPacketTest, PortZeroServiceAndStatelessUdp) {
  learn_backends();
  std::vector<Frame> in;
  for (uint16_t port = 1; port <= 10; ++port) {
    in.push_back(PacketBuilder()
                     .eth(kClientMac, out_mac_)
                     .ipv4(v4("10.99.0.1"), v4("10.99.0.103"))
                     .udp(static_cast<uint16_t>(7000 + port), port)
                     .build());
  }
  run(*outside_, in);
  EXPECT_EQ(inside_->take_sent().size(), 10u);
  EXPECT_EQ(job_->flows().active(), 0u) << "stateless UDP keeps no flow";
  EXPECT_EQ(job_->core_counters().stateless_flows.get(), 10u);
}

TEST_F(LbPacketTest, FloodBeyondTheNewFlowRateGoesStateless) {
  lb::LbConfig c = config();
  c.new_flows_per_second = 1;  // a burst allowance of 32 new flows, then (almost) nothing
  build(c);
  learn_backends();
  std::vector<Frame> syns;
  for (uint16_t i = 0; i < 200; ++i) {
    syns.push_back(PacketBuilder()
                       .eth(kClientMac, out_mac_)
                       .ipv4(v4("203.0.113.9"), v4("10.99.0.101"))
                       .tcp(static_cast<uint16_t>(10000 + i), 80, flags::kSyn)
                       .build());
  }
  run(*outside_, syns);
  EXPECT_EQ(inside_->take_sent().size(), 200u) << "never dropped";
  EXPECT_LE(job_->flows().active(), 33u);
  EXPECT_GE(job_->core_counters().stateless_flows.get(), 167u);
}

TEST_F(LbPacketTest, BadPacketsAreCountedByReason) {
  Frame truncated_tcp = PacketBuilder()
                            .eth(kClientMac, out_mac_)
                            .ipv4(v4("10.99.0.1"), v4("10.99.0.100"))
                            .tcp(1, 80)
                            .build();
  truncated_tcp[46] = 0x30;  // data offset 3
  run(*outside_, {raw_frame(10), truncated_tcp,
                  PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .vlan(1)
                      .vlan(2)
                      .vlan(3)
                      .ipv4(1, 2)
                      .udp(1, 2)
                      .build(),
                  PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("10.99.0.1"), v4("10.99.0.55"))
                      .udp(1, 2)
                      .build()});
  EXPECT_TRUE(inside_->take_sent().empty());
  EXPECT_TRUE(outside_->take_sent().empty());
  EXPECT_EQ(drops(*outside_, DropReason::kRunt), 1u);
  EXPECT_EQ(drops(*outside_, DropReason::kTcpBadHeaderLength), 1u);
  EXPECT_EQ(drops(*outside_, DropReason::kTooManyVlanTags), 1u);
  EXPECT_EQ(drops(*outside_, DropReason::kNotForUs), 1u);
}

TEST_F(LbPacketTest, FlowsSpreadOverBackendsAndStickToThem) {
  learn_backends();
  std::map<std::string, int> per_backend;
  for (int round = 0; round < 2; ++round) {
    std::vector<Frame> in;
    for (uint16_t i = 0; i < 256; ++i) {
      in.push_back(
          PacketBuilder()
              .eth(kClientMac, out_mac_)
              .ipv4(v4("198.51.100.1"), v4("10.99.0.100"))
              .tcp(static_cast<uint16_t>(20000 + i), 80, round == 0 ? flags::kSyn : flags::kAck)
              .build());
    }
    run(*outside_, in);
    auto out = inside_->take_sent();
    ASSERT_EQ(out.size(), 256u);
    for (uint16_t i = 0; i < 256; ++i) {
      lb::PacketMeta m;
      lb::parse_frame(out[i].data(), static_cast<uint32_t>(out[i].size()),
                      static_cast<uint32_t>(out[i].size()), false, m);
      const std::string where = format_ip_address(m.key.dst) + ":" + std::to_string(m.key.src_port);
      if (round == 0) {
        per_backend[format_ip_address(m.key.dst)]++;
        per_backend[where] = i;
      } else {
        ASSERT_EQ(per_backend.count(where), 1u) << "flow " << i << " moved";
      }
    }
  }
  EXPECT_GT(per_backend["10.99.1.10"], 100) << "256 flows from consecutive source ports";
  EXPECT_GT(per_backend["10.99.1.11"], 100);
}

}  // namespace
}  // namespace sluice::test
