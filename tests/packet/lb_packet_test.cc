// Golden packet cases for the L4 balancer job on net_ring ports: an "outside" port facing clients
// and an "inside" port facing backends. Each test injects frames, runs the job until idle, and
// compares what left each port with frames built independently. With an exception path, what the
// job puts on the to-kernel ring is compared too, and frames put on the from-kernel ring must
// leave by their port.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <memory>
#include <utility>

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

  // `exception`: give the job an exception path whose rings hold `ring_size` - 1 frames.
  void build(const lb::LbConfig& c, bool exception = false, unsigned ring_size = 64) {
    job_.reset();
    snapshots_.reset();
    rings_.reset();
    outside_ = std::make_unique<RingPort>("outside", pool_.get());
    inside_ = std::make_unique<RingPort>("inside", pool_.get());
    ports_ = {port_info(*outside_, {"10.99.0.2/24", "fd99::2/64"}),
              port_info(*inside_, {"10.99.1.2/24", "fd99:1::2/64"})};
    out_mac_ = ports_[0].mac;
    in_mac_ = ports_[1].mac;
    // Two readers: some tests run a second worker's job beside the first.
    snapshots_ = std::make_unique<dataplane::SnapshotPublisher<LbRuntime>>(
        2, std::make_unique<LbRuntime>(c, ports_));
    if (exception) {
      rings_ = std::make_unique<exception::ExceptionRings>("pkt", ring_size, ring_size);
    }
    job_ = std::make_unique<LbJob>(
        *snapshots_, std::vector{outside_->port().egress(0), inside_->port().egress(0)},
        lb::LbJobOptions{
            .flow_table_size = c.flow_table_size,
            .new_flows_per_second = c.new_flows_per_second,
            .exception = rings_ ? rings_->channel(true) : exception::ExceptionChannel{}});
    counters_ = std::make_unique<dataplane::WorkerCounters>();
  }

  void TearDown() override {
    job_.reset();
    snapshots_.reset();
    rings_.reset();
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

  // Takes every frame on the to-kernel ring: (port index, frame).
  std::vector<std::pair<uint16_t, Frame>> take_to_kernel() {
    std::vector<std::pair<uint16_t, Frame>> out;
    void* m = nullptr;
    while (rte_ring_dequeue(rings_->to_kernel(), &m) == 0) {
      auto* mbuf = static_cast<rte_mbuf*>(m);
      out.emplace_back(mbuf->port, to_frame(mbuf));
      rte_pktmbuf_free(mbuf);
    }
    return out;
  }

  // Puts `frame` on the from-kernel ring, as the main lcore does with what a TAP gave it.
  void from_kernel(uint16_t port_index, const Frame& frame) {
    rte_mbuf* m = pool_.make(frame);
    m->port = port_index;
    ASSERT_EQ(rte_ring_enqueue(rings_->from_kernel(), m), 0);
  }

  PacketPool pool_;
  std::unique_ptr<RingPort> outside_, inside_;
  std::vector<lb::LbPort> ports_;
  std::unique_ptr<dataplane::SnapshotPublisher<LbRuntime>> snapshots_;
  std::unique_ptr<exception::ExceptionRings> rings_;
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

// What the balancer's parser makes of a frame it sent (to read a chosen NAT port, say).
lb::PacketMeta parsed(const Frame& f) {
  lb::PacketMeta m;
  lb::parse_frame(f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size()), false,
                  m);
  return m;
}

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
  const lb::PacketMeta m = parsed(to_backend[0]);
  ASSERT_EQ(m.kind, lb::PacketKind::kIp);
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
  EXPECT_EQ(job_->service_counters()[runtime().services()[0].id].active_flows.get(), 1u);
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
  const lb::PacketMeta m = parsed(to_backend[0]);
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
  const uint32_t removed_id = runtime().services()[1].backends[1].id;
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
  // Active flows follow: the removed backend has none left, the service still has all 200.
  const lb::ServiceRuntime& dsr = runtime().services()[1];
  EXPECT_EQ(job_->service_counters()[dsr.id].active_flows.get(), 200u);
  uint64_t on_backends = 0;
  for (const auto& b : dsr.backends)
    on_backends += job_->backend_counters()[b.id].active_flows.get();
  EXPECT_EQ(on_backends, 200u);
  EXPECT_EQ(job_->backend_counters()[removed_id].active_flows.get(), 0u);
}

TEST_F(LbPacketTest, BackendsBeyondTheLinkGoThroughTheGateway) {
  lb::LbConfig c = config();
  c.gateways = {ip("10.99.1.254")};
  c.services[1].backends = {{ip("172.16.0.5"), 0, 1}};
  build(c);
  const Frame syn = PacketBuilder()
                        .eth(kClientMac, out_mac_)
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                        .tcp(4321, 80, flags::kSyn)
                        .build();
  run(*outside_, {syn});
  auto asked = inside_->take_sent();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], arp(in_mac_, kBroadcast, 1, in_mac_, "10.99.1.2", Mac{}, "10.99.1.254"))
      << "the gateway is resolved, not the backend";
  const Mac gateway_mac = mac("02:00:00:00:00:99");
  run(*inside_, {arp(gateway_mac, in_mac_, 2, gateway_mac, "10.99.1.254", in_mac_, "10.99.1.2")});
  run(*outside_, {syn});
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(in_mac_, gateway_mac)
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.101"))
                        .tcp(4321, 80, flags::kSyn)
                        .build());
}

TEST_F(LbPacketTest, FullTableGoesStatelessForDsr) {
  lb::LbConfig c = config();
  c.flow_table_size = 1024;
  build(c);
  learn_backends();
  std::vector<Frame> syns;
  for (uint16_t i = 0; i < 1500; ++i) {
    syns.push_back(PacketBuilder()
                       .eth(kClientMac, out_mac_)
                       .ipv4(v4("203.0.113.1") + i / 256u, v4("10.99.0.101"))
                       .tcp(static_cast<uint16_t>(2000 + i), 80, flags::kSyn)
                       .build());
  }
  size_t sent = 0;
  for (size_t at = 0; at < syns.size(); at += 500) {
    run(*outside_, std::vector<Frame>(syns.begin() + static_cast<long>(at),
                                      syns.begin() + static_cast<long>(at + 500)));
    sent += inside_->take_sent().size();
  }
  EXPECT_EQ(sent, 1500u) << "never dropped";
  EXPECT_LE(job_->flows().active(), job_->flows().capacity());
  EXPECT_GE(job_->core_counters().stateless_flows.get(), 1500u - job_->flows().capacity());
  EXPECT_EQ(job_->flows().evictions(), 0u) << "live flows are not evicted for new ones";
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
      const lb::PacketMeta m = parsed(out[i]);
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

TEST_F(LbPacketTest, WithoutExceptionPathPingOfOwnAddressIsAnsweredAndTheRestDropped) {
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
                      .icmp(8, 0, 0x00090001)
                      .payload(8)
                      .build(),
                  PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
                      .tcp(40000, 22, flags::kSyn)
                      .build()});
  auto out = outside_->take_sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], PacketBuilder()
                        .eth(out_mac_, kClientMac)
                        .ipv4(v4("10.99.0.2"), v4("10.99.0.1"))
                        .icmp(0, 0, 0x00090001)
                        .payload(8)
                        .build());
  EXPECT_EQ(drops(*outside_, DropReason::kNotForUs), 1u);
}

// What the balancer keeps and what goes to the kernel, on the port facing clients.
TEST_F(LbPacketTest, ExceptionPathTakesWhatIsForTheKernel) {
  build(config(), true);
  const Mac other_host = mac("02:00:00:00:00:99");
  const Ipv6Addr link_local = ipv6("fe80::1");
  auto ns = [&](const char* target_text) {
    const Ipv6Addr target = ipv6(target_text);
    std::vector<uint8_t> body(target.begin(), target.end());
    for (uint8_t b : {1, 1, 2, 0, 0, 0, 0, 0xc1}) body.push_back(b);
    return PacketBuilder()
        .eth(kClientMac, mac("33:33:ff:00:00:01"))
        .ipv6(ipv6("fd99::1"), ipv6("ff02::1:ff00:1"), 255)
        .icmp6(135, 0)
        .payload(body)
        .build();
  };
  const std::vector<Frame> for_kernel = {
      // A ping of the port's own address: the kernel answers it.
      PacketBuilder()
          .eth(kClientMac, out_mac_)
          .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
          .icmp(8, 0, 0x00070001)
          .payload(56)
          .build(),
      // TCP to the port's address (ssh, a service listener).
      PacketBuilder()
          .eth(kClientMac, out_mac_)
          .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
          .tcp(40000, 22, flags::kSyn)
          .build(),
      // Broadcast UDP.
      PacketBuilder()
          .eth(kClientMac, kBroadcast)
          .ipv4(v4("10.99.0.1"), v4("10.99.0.255"))
          .udp(68, 67)
          .payload(20)
          .build(),
      // LLDP: not IP at all.
      PacketBuilder().eth(kClientMac, mac("01:80:c2:00:00:0e"), 0x88cc).payload(46).build(),
      // An ARP reply to the port's address: the kernel asked.
      arp(kClientMac, out_mac_, 2, kClientMac, "10.99.0.1", out_mac_, "10.99.0.2"),
      // ICMPv6 the balancer does not answer: a router advertisement, a solicitation for an
      // address the kernel holds (its link-local one), an echo of the port's IPv6 address.
      PacketBuilder()
          .eth(kClientMac, mac("33:33:00:00:00:01"))
          .ipv6(link_local, ipv6("ff02::1"), 255)
          .icmp6(134, 0, 0x40000708)
          .payload(8)
          .build(),
      ns("fe80::b0"),
      PacketBuilder()
          .eth(kClientMac, out_mac_)
          .ipv6(ipv6("fd99::1"), ipv6("fd99::2"))
          .icmp6(128, 0, 0x00050001)
          .payload(16)
          .build(),
  };
  const std::vector<Frame> dropped = {
      // ARP for an address nobody here owns.
      arp(kClientMac, kBroadcast, 1, kClientMac, "10.99.0.1", Mac{}, "10.99.0.77"),
      // Unicast to another host's MAC (the port is promiscuous).
      PacketBuilder()
          .eth(kClientMac, other_host)
          .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
          .tcp(40001, 22, flags::kSyn)
          .build(),
      // A VIP on a port no service has: the kernel does not hold VIPs.
      PacketBuilder()
          .eth(kClientMac, out_mac_)
          .ipv4(v4("10.99.0.1"), v4("10.99.0.100"))
          .tcp(40002, 22, flags::kSyn)
          .build(),
  };
  std::vector<Frame> in = for_kernel;
  in.insert(in.end(), dropped.begin(), dropped.end());
  // Answered by the balancer itself: ARP and ND for owned addresses, pings of a VIP.
  in.push_back(arp(kClientMac, kBroadcast, 1, kClientMac, "10.99.0.1", Mac{}, "10.99.0.2"));
  in.push_back(PacketBuilder()
                   .eth(kClientMac, out_mac_)
                   .ipv4(v4("10.99.0.1"), v4("10.99.0.100"))
                   .icmp(8, 0, 0x00070002)
                   .payload(56)
                   .build());
  in.push_back(ns("fd99::2"));
  run(*outside_, in);

  auto to_kernel = take_to_kernel();
  ASSERT_EQ(to_kernel.size(), for_kernel.size());
  for (size_t i = 0; i < for_kernel.size(); ++i) {
    EXPECT_EQ(to_kernel[i].first, 0) << "frame " << i << " is from port index 0";
    EXPECT_EQ(to_kernel[i].second, for_kernel[i]) << "frame " << i << " unchanged";
  }
  auto out = outside_->take_sent();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], arp(out_mac_, kClientMac, 2, out_mac_, "10.99.0.2", kClientMac, "10.99.0.1"));
  EXPECT_EQ(out[1], PacketBuilder()
                        .eth(out_mac_, kClientMac)
                        .ipv4(v4("10.99.0.100"), v4("10.99.0.1"), 64)
                        .icmp(0, 0, 0x00070002)
                        .payload(56)
                        .build());
  EXPECT_EQ(out[2][12], 0x86);  // the neighbour advertisement for fd99::2
  EXPECT_EQ(out[2][54], 136);
  EXPECT_TRUE(inside_->take_sent().empty());
  EXPECT_EQ(drops(*outside_, DropReason::kNotForUs), dropped.size());
  EXPECT_EQ(job_->core_counters().to_kernel.get(), for_kernel.size());
  EXPECT_EQ(job_->core_counters().echo_replies.get(), 1u) << "the VIP's ping only";
}

// On the port facing backends, whose address is also the full-NAT source: replies of NAT flows
// are translated back, anything else to that address is the kernel's (its health checks).
TEST_F(LbPacketTest, ExceptionPathGetsTheKernelsTrafficOnANatAddress) {
  build(config(), true);
  learn_backends();
  run(*outside_, {PacketBuilder()
                      .eth(kClientMac, out_mac_)
                      .ipv4(v4("198.51.100.7"), v4("10.99.0.100"))
                      .tcp(40001, 80, flags::kSyn)
                      .build()});
  auto to_backend = inside_->take_sent();
  ASSERT_EQ(to_backend.size(), 1u);
  const lb::PacketMeta m = parsed(to_backend[0]);
  ASSERT_EQ(m.kind, lb::PacketKind::kIp);
  const uint16_t nat_port = m.key.src_port;
  const bool to_b0 = m.key.dst == ip("10.99.1.10");
  const char* backend = to_b0 ? "10.99.1.10" : "10.99.1.11";
  const Mac backend_mac = kBackendMac[to_b0 ? 0 : 1];

  const Frame flow_reply = PacketBuilder()
                               .eth(backend_mac, in_mac_)
                               .ipv4(v4(backend), v4("10.99.1.2"))
                               .tcp(80, nat_port, flags::kSyn | flags::kAck)
                               .build();
  const Frame kernel_reply =
      PacketBuilder()
          .eth(backend_mac, in_mac_)
          .ipv4(v4(backend), v4("10.99.1.2"))
          .tcp(80, static_cast<uint16_t>(nat_port + 1), flags::kSyn | flags::kAck)
          .build();
  const Frame kernel_reply6 = PacketBuilder()
                                  .eth(kBackendMac[0], in_mac_)
                                  .ipv6(ipv6("fd99:1::10"), ipv6("fd99:1::2"))
                                  .udp(53, 40000)
                                  .build();
  run(*inside_, {flow_reply, kernel_reply, kernel_reply6});
  EXPECT_EQ(outside_->take_sent().size(), 1u) << "the flow's reply reaches the client";
  auto to_kernel = take_to_kernel();
  ASSERT_EQ(to_kernel.size(), 2u);
  EXPECT_EQ(to_kernel[0], std::make_pair(uint16_t{1}, kernel_reply));
  EXPECT_EQ(to_kernel[1], std::make_pair(uint16_t{1}, kernel_reply6));
  EXPECT_EQ(drops(*inside_, DropReason::kNoFlow), 0u);
}

// A NAT address the kernel does not hold: replies without a flow are still dropped.
TEST_F(LbPacketTest, ExceptionPathLeavesNatAddressesTheKernelLacks) {
  lb::LbConfig c = config();
  c.nat_addresses = {ip("10.99.1.3"), ip("fd99:1::2")};
  build(c, true);
  run(*inside_, {PacketBuilder()
                     .eth(kBackendMac[0], in_mac_)
                     .ipv4(v4("10.99.1.10"), v4("10.99.1.3"))
                     .tcp(80, 3333, flags::kAck)
                     .build(),
                 PacketBuilder()
                     .eth(kBackendMac[0], in_mac_)
                     .ipv4(v4("10.99.1.10"), v4("10.99.1.3"))
                     .icmp(8, 0, 0x00010001)
                     .build()});
  EXPECT_TRUE(take_to_kernel().empty());
  EXPECT_EQ(drops(*inside_, DropReason::kNoFlow), 1u);
  auto out = inside_->take_sent();
  ASSERT_EQ(out.size(), 1u) << "the NAT address answers pings itself";
}

TEST_F(LbPacketTest, NeighborRepliesAreLearnedAndGivenToTheKernel) {
  build(config(), true);
  const Frame arp_reply =
      arp(kBackendMac[1], in_mac_, 2, kBackendMac[1], "10.99.1.11", in_mac_, "10.99.1.2");
  const Ipv6Addr target = ipv6("fd99:1::10");
  std::vector<uint8_t> na_body(target.begin(), target.end());
  na_body.push_back(2);
  na_body.push_back(1);
  for (uint8_t b : kBackendMac[0]) na_body.push_back(b);
  const Frame na = PacketBuilder()
                       .eth(kBackendMac[0], in_mac_)
                       .ipv6(target, ipv6("fd99:1::2"), 255)
                       .icmp6(136, 0, 0x60000000)
                       .payload(na_body)
                       .build();
  run(*inside_, {arp_reply, na});
  MacAddress learned{};
  ASSERT_TRUE(runtime().find_neighbor(ip("10.99.1.11"))->known(learned));
  EXPECT_EQ(learned, kBackendMac[1]);
  ASSERT_TRUE(runtime().find_neighbor(ip("fd99:1::10"))->known(learned));
  EXPECT_EQ(learned, kBackendMac[0]);
  auto to_kernel = take_to_kernel();
  ASSERT_EQ(to_kernel.size(), 2u);
  EXPECT_EQ(to_kernel[0], std::make_pair(uint16_t{1}, arp_reply));
  EXPECT_EQ(to_kernel[1], std::make_pair(uint16_t{1}, na));
}

TEST_F(LbPacketTest, FramesFromTheKernelLeaveByTheirPort) {
  build(config(), true);
  const Frame to_client = PacketBuilder()
                              .eth(out_mac_, kClientMac)
                              .ipv4(v4("10.99.0.2"), v4("10.99.0.1"))
                              .icmp(0, 0, 0x00070001)
                              .payload(56)
                              .build();
  const Frame health_check = PacketBuilder()
                                 .eth(in_mac_, kBackendMac[0])
                                 .ipv4(v4("10.99.1.2"), v4("10.99.1.10"))
                                 .tcp(45000, 80, flags::kSyn)
                                 .build();
  const Frame arp_request = arp(in_mac_, kBroadcast, 1, in_mac_, "10.99.1.2", Mac{}, "10.99.1.10");
  from_kernel(0, to_client);
  from_kernel(1, health_check);
  from_kernel(1, arp_request);
  run_until_idle(*job_, *counters_);
  EXPECT_EQ(outside_->take_sent(), std::vector<Frame>{to_client});
  EXPECT_EQ(inside_->take_sent(), (std::vector<Frame>{health_check, arp_request}));
  EXPECT_EQ(job_->core_counters().from_kernel.get(), 3u);
  EXPECT_EQ(counters_->ports[inside_->port().id].tx_packets.get(), 2u);
}

TEST_F(LbPacketTest, OnlyTheWorkerWithTheFromKernelRingSendsTheKernelsFrames) {
  build(config(), true);
  LbJob other(*snapshots_, {outside_->port().egress(0), inside_->port().egress(0)},
              {.worker_index = 1,
               .worker_count = 2,
               .flow_table_size = 1024,
               .exception = rings_->channel(false)});
  from_kernel(0, raw_frame(60));
  run_until_idle(other, *counters_);
  EXPECT_TRUE(outside_->take_sent().empty());
  EXPECT_EQ(rte_ring_count(rings_->from_kernel()), 1u);
  // It does hand frames to the kernel.
  ASSERT_EQ(outside_->inject(pool_.make_all({PacketBuilder()
                                                 .eth(kClientMac, out_mac_)
                                                 .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
                                                 .tcp(40000, 22, flags::kSyn)
                                                 .build()})),
            1u);
  run_until_idle(other, *counters_);
  EXPECT_EQ(take_to_kernel().size(), 1u);
  EXPECT_EQ(other.core_counters().to_kernel.get(), 1u);
  // The worker holding the ring sends the kernel's frame.
  run_until_idle(*job_, *counters_);
  EXPECT_EQ(outside_->take_sent(), std::vector<Frame>{raw_frame(60)});
}

TEST_F(LbPacketTest, FullToKernelRingIsCounted) {
  build(config(), true, 8);  // holds 7 frames
  std::vector<Frame> pings;
  for (uint16_t i = 0; i < 20; ++i) {
    pings.push_back(PacketBuilder()
                        .eth(kClientMac, out_mac_)
                        .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
                        .icmp(8, 0, 0x00070000u | i)
                        .build());
  }
  run(*outside_, pings);
  EXPECT_EQ(take_to_kernel().size(), 7u);
  EXPECT_EQ(drops(*outside_, DropReason::kExceptionFull), 13u);
  EXPECT_EQ(job_->core_counters().exception_drops.get(), 13u);
  EXPECT_EQ(job_->core_counters().to_kernel.get(), 7u);
}

TEST_F(LbPacketTest, ExceptionPathWakesTheConsumerOnlyWhenItSleeps) {
  build(config(), true);
  const Frame ping = PacketBuilder()
                         .eth(kClientMac, out_mac_)
                         .ipv4(v4("10.99.0.1"), v4("10.99.0.2"))
                         .icmp(8, 0, 0x00070001)
                         .build();
  auto eventfd_count = [&] {
    uint64_t v = 0;
    return read(rings_->doorbell().fd(), &v, sizeof v) == sizeof v ? v : 0;
  };
  run(*outside_, {ping});
  EXPECT_EQ(eventfd_count(), 0u) << "the consumer is awake: no system call";
  rings_->doorbell().arm();
  run(*outside_, {ping, ping});
  run(*outside_, {ping});
  EXPECT_EQ(eventfd_count(), 1u) << "one write for one sleep";
  EXPECT_EQ(rings_->doorbell().wakeups(), 1u);
  EXPECT_EQ(take_to_kernel().size(), 4u);
}

}  // namespace
}  // namespace sluice::test
