// Golden packet cases for the wire forwarder on net_ring ports: each case injects frames on one
// or both ports, runs the wire until idle, and checks what left each port and what was counted.
#include <gtest/gtest.h>

#include <map>

#include "packet_harness.h"
#include "wire.h"

namespace sluice::test {
namespace {

using dataplane::WireJob;
using dataplane::WorkerCounters;

struct Input {
  Frame frame;
  size_t segment_bytes = 0;  // split into a chain of segments this long (0: one segment)
};

struct WireCase {
  std::string name;
  std::vector<Input> into_a, into_b;
  std::vector<Frame> out_of_b, out_of_a;            // expected, in order
  std::map<DropReason, uint64_t> drops_a, drops_b;  // expected drop counts by egress port
  uint16_t mtu = 1500;
};

Frame udp(size_t size, uint8_t fill = 0xab) {
  return udp4_frame({.frame_size = size, .fill = fill});
}

std::vector<WireCase> wire_cases() {
  const Frame small = udp(64), full = udp(1514), vlan_full = raw_frame(1518),
              too_big = raw_frame(1519);
  const Frame jumbo = udp(3000);
  return {
      {.name = "min_frame_a_to_b", .into_a = {{small}}, .out_of_b = {small}},
      {.name = "min_frame_b_to_a", .into_b = {{small}}, .out_of_a = {small}},
      {.name = "both_directions_keep_order",
       .into_a = {{udp(64, 1)}, {udp(128, 2)}, {udp(256, 3)}},
       .into_b = {{udp(512, 4)}, {udp(1024, 5)}},
       .out_of_b = {udp(64, 1), udp(128, 2), udp(256, 3)},
       .out_of_a = {udp(512, 4), udp(1024, 5)}},
      {.name = "full_size_frame", .into_a = {{full}}, .out_of_b = {full}},
      {.name = "largest_frame_with_vlan_tag", .into_a = {{vlan_full}}, .out_of_b = {vlan_full}},
      {.name = "one_byte_over_largest_frame",
       .into_a = {{too_big}},
       .drops_b = {{DropReason::kOversize, 1}}},
      {.name = "header_only_frame", .into_a = {{raw_frame(14)}}, .out_of_b = {raw_frame(14)}},
      {.name = "runt_13_bytes", .into_a = {{raw_frame(13)}}, .drops_b = {{DropReason::kRunt, 1}}},
      {.name = "runt_1_byte", .into_b = {{raw_frame(1)}}, .drops_a = {{DropReason::kRunt, 1}}},
      {.name = "empty_frame", .into_a = {{Frame{}}}, .drops_b = {{DropReason::kRunt, 1}}},
      {.name = "frame_larger_than_an_mbuf_at_mtu_1500",
       .into_a = {{jumbo, 1024}},
       .drops_b = {{DropReason::kOversize, 1}}},
      {.name = "frame_larger_than_an_mbuf_at_mtu_9000_is_sent_as_a_chain",
       .into_a = {{jumbo, 1024}},
       .out_of_b = {jumbo},
       .mtu = 9000},
      {.name = "chained_small_frame", .into_a = {{udp(200), 50}}, .out_of_b = {udp(200)}},
      {.name = "bad_frames_removed_good_ones_kept_in_order",
       .into_a = {{udp(64, 1)}, {raw_frame(5)}, {udp(64, 2)}, {too_big}, {udp(64, 3)}, {Frame{}}},
       .out_of_b = {udp(64, 1), udp(64, 2), udp(64, 3)},
       .drops_b = {{DropReason::kRunt, 2}, {DropReason::kOversize, 1}}},
  };
}

class WirePacketTest : public ::testing::TestWithParam<WireCase> {};

uint64_t bytes_of(const std::vector<Frame>& frames) {
  uint64_t n = 0;
  for (const auto& f : frames) n += f.size();
  return n;
}

void expect_frames(const std::vector<Frame>& got, const std::vector<Frame>& want,
                   const char* where) {
  ASSERT_EQ(got.size(), want.size()) << "frames out of " << where;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], want[i]) << where << " frame " << i << "\n got: " << hex_dump(got[i])
                               << "\nwant: " << hex_dump(want[i]);
  }
}

void expect_drops(const dataplane::PortCounters& c, const std::map<DropReason, uint64_t>& want,
                  const char* where) {
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    auto it = want.find(static_cast<DropReason>(r));
    EXPECT_EQ(c.drops[r].get(), it == want.end() ? 0u : it->second)
        << where << " drops " << kDropReasonNames[r];
  }
}

TEST_P(WirePacketTest, Forwards) {
  const WireCase& tc = GetParam();
  PacketPool pool;
  {
    RingPort a("wire_a", pool.get(), {.mtu = tc.mtu}), b("wire_b", pool.get(), {.mtu = tc.mtu});
    auto inject = [&](RingPort& port, const std::vector<Input>& inputs) {
      std::vector<rte_mbuf*> mbufs;
      for (const auto& in : inputs) mbufs.push_back(pool.make(in.frame, in.segment_bytes));
      ASSERT_EQ(port.inject(mbufs), inputs.size());
    };
    inject(a, tc.into_a);
    inject(b, tc.into_b);
    WireJob wire(a.port(), b.port(), 0);
    auto counters = std::make_unique<WorkerCounters>();
    run_until_idle(wire, *counters);

    const auto from_b = b.take_sent(), from_a = a.take_sent();
    expect_frames(from_b, tc.out_of_b, "port b");
    expect_frames(from_a, tc.out_of_a, "port a");
    const auto& ca = counters->ports[a.port().id];
    const auto& cb = counters->ports[b.port().id];
    EXPECT_EQ(ca.rx_packets.get(), tc.into_a.size());
    EXPECT_EQ(cb.rx_packets.get(), tc.into_b.size());
    EXPECT_EQ(cb.tx_packets.get(), tc.out_of_b.size());
    EXPECT_EQ(ca.tx_packets.get(), tc.out_of_a.size());
    EXPECT_EQ(cb.tx_bytes.get(), bytes_of(tc.out_of_b));
    EXPECT_EQ(ca.tx_bytes.get(), bytes_of(tc.out_of_a));
    expect_drops(ca, tc.drops_a, "port a");
    expect_drops(cb, tc.drops_b, "port b");
  }
  EXPECT_EQ(pool.available(), pool.size()) << "mbufs leaked";
}

INSTANTIATE_TEST_SUITE_P(Wire, WirePacketTest, ::testing::ValuesIn(wire_cases()),
                         [](const auto& info) { return info.param.name; });

// More frames than the egress ring holds: the excess is counted as tx_full and freed.
TEST(WireBurst, BurstLargerThanTransmitRing) {
  PacketPool pool;
  {
    RingPort a("burst_a", pool.get()), b("burst_b", pool.get(), {.tx_ring_size = 64});
    std::vector<Frame> frames;
    for (int i = 0; i < 256; ++i) frames.push_back(udp(64, static_cast<uint8_t>(i)));
    ASSERT_EQ(a.inject(pool.make_all(frames)), frames.size());
    WireJob wire(a.port(), b.port(), 0);
    auto counters = std::make_unique<WorkerCounters>();
    run_until_idle(wire, *counters);

    const auto sent = b.take_sent();
    ASSERT_EQ(sent.size(), 63u);  // a ring of 64 holds 63
    for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i], frames[i]);
    const auto& cb = counters->ports[b.port().id];
    EXPECT_EQ(cb.tx_packets.get(), 63u);
    EXPECT_EQ(cb.drops[static_cast<size_t>(DropReason::kTxFull)].get(), 256u - 63u);
    EXPECT_EQ(counters->ports[a.port().id].rx_packets.get(), 256u);
  }
  EXPECT_EQ(pool.available(), pool.size()) << "mbufs leaked";
}

// More frames than the receive ring holds: the ring refuses the excess before the dataplane
// sees it (as a NIC's full descriptor ring would); what did arrive is forwarded in order.
TEST(WireBurst, BurstLargerThanReceiveRing) {
  PacketPool pool;
  {
    RingPort a("rxburst_a", pool.get(), {.rx_ring_size = 128}), b("rxburst_b", pool.get());
    std::vector<Frame> frames;
    for (int i = 0; i < 300; ++i) frames.push_back(udp(64, static_cast<uint8_t>(i)));
    ASSERT_EQ(a.inject(pool.make_all(frames)), 127u);
    WireJob wire(a.port(), b.port(), 0);
    auto counters = std::make_unique<WorkerCounters>();
    run_until_idle(wire, *counters);
    const auto sent = b.take_sent();
    ASSERT_EQ(sent.size(), 127u);
    for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i], frames[i]);
  }
  EXPECT_EQ(pool.available(), pool.size()) << "mbufs leaked";
}

// Traffic in both directions at once, many bursts: nothing lost, nothing reordered.
TEST(WireBurst, SustainedBidirectionalTraffic) {
  PacketPool pool(16384);
  {
    RingPort a("sustain_a", pool.get(), {.rx_ring_size = 4096, .tx_ring_size = 4096});
    RingPort b("sustain_b", pool.get(), {.rx_ring_size = 4096, .tx_ring_size = 4096});
    WireJob wire(a.port(), b.port(), 0);
    auto counters = std::make_unique<WorkerCounters>();
    uint64_t total_a = 0, total_b = 0;
    for (int round = 0; round < 20; ++round) {
      std::vector<Frame> fa, fb;
      for (int i = 0; i < 1000; ++i) {
        fa.push_back(udp(64 + static_cast<size_t>(i % 1400), static_cast<uint8_t>(i)));
        fb.push_back(udp(1514 - static_cast<size_t>(i % 1400), static_cast<uint8_t>(i + 1)));
      }
      ASSERT_EQ(a.inject(pool.make_all(fa)), fa.size());
      ASSERT_EQ(b.inject(pool.make_all(fb)), fb.size());
      run_until_idle(wire, *counters);
      const auto out_b = b.take_sent(), out_a = a.take_sent();
      ASSERT_EQ(out_b, fa);
      ASSERT_EQ(out_a, fb);
      total_a += fa.size();
      total_b += fb.size();
    }
    EXPECT_EQ(counters->ports[b.port().id].tx_packets.get(), total_a);
    EXPECT_EQ(counters->ports[a.port().id].tx_packets.get(), total_b);
    EXPECT_EQ(counters->packets.get(), 0u)
        << "the worker loop, not poll(), counts per-core packets";
  }
  EXPECT_EQ(pool.available(), pool.size()) << "mbufs leaked";
}

}  // namespace
}  // namespace sluice::test
