// Control-plane snapshots applied to a running balancer job (net_ring ports): a second thread
// applies them, as the dataplane's main lcore does, while the test thread keeps the job polling
// under traffic, so that every swap waits for the job's quiescent states.
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "lb_apply.h"
#include "lb_job.h"
#include "packet_builder.h"
#include "packet_harness.h"
#include "snapshot.h"

namespace sluice::test {
namespace {

using lb::LbRuntime;
using Clock = std::chrono::steady_clock;
namespace flags = tcp_flags;

IpAddress ip(const char* s) {
  return *parse_ip_address(s);
}

// Backends beyond the inside link, reached through one gateway whose MAC stays learned across
// snapshots; full-NAT writes the backend into the destination address.
const IpAddress kA = ip("10.50.0.10"), kB = ip("10.50.0.11"), kC = ip("10.50.0.12");

lb::ServiceConfig nat_service(std::vector<IpAddress> backends) {
  lb::ServiceConfig s;
  s.name = "web";
  s.vip = ip("10.99.0.100");
  s.port = 80;
  s.mode = lb::ForwardingMode::kNat;
  for (const IpAddress& b : backends) s.backends.push_back({b, 0, 1});
  return s;
}

class LbApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.flow_table_size = 1u << 17;
    base_.maglev_table_size = 251;
    base_.nat_addresses = {ip("10.99.1.2")};
    base_.gateways = {ip("10.99.1.254")};
    base_.services = {nat_service({kA, kB})};
    outside_ = std::make_unique<RingPort>("outside", pool_.get());
    inside_ = std::make_unique<RingPort>("inside", pool_.get());
    ports_ = {lb_port(*outside_, "10.99.0.2/24"), lb_port(*inside_, "10.99.1.2/24")};
    snapshots_ = std::make_unique<dataplane::SnapshotPublisher<LbRuntime>>(
        1, std::make_unique<LbRuntime>(base_, ports_));
    snapshots_->current()->find_neighbor(ip("10.99.1.254"))->learn({2, 0, 0, 0, 0, 0x99});
    job_ = std::make_unique<lb::LbJob>(
        *snapshots_, std::vector{outside_->port().egress(0), inside_->port().egress(0)},
        lb::LbJobOptions{.flow_table_size = base_.flow_table_size});
  }

  void TearDown() override {
    job_.reset();
    snapshots_.reset();
    outside_.reset();
    inside_.reset();
    EXPECT_EQ(pool_.available(), pool_.size()) << "mbufs leaked";
  }

  static lb::LbPort lb_port(const RingPort& p, const char* address) {
    lb::LbPort info{.id = p.port().id, .name = p.port().name};
    rte_ether_addr a;
    rte_eth_macaddr_get(p.port().id, &a);
    std::copy(a.addr_bytes, a.addr_bytes + 6, info.mac.begin());
    info.addresses = {*parse_ip_prefix(address)};
    return info;
  }

  // A client packet of flow `flow` (its source port), tagged with the flow in its sequence
  // number, which full-NAT leaves alone.
  Frame packet(uint32_t flow, uint8_t tcp) const {
    return PacketBuilder()
        .eth(mac("02:00:00:00:00:c1"), ports_[0].mac)
        .ipv4(ipv4("198.51.100.7"), ipv4("10.99.0.100"))
        .tcp(static_cast<uint16_t>(10000 + flow), 80, tcp, flow)
        .build();
  }

  // Sends `frames` through the job; every one must leave by the inside port. Returns the backend
  // of each packet by flow.
  std::map<uint32_t, IpAddress> send(const std::vector<Frame>& frames) {
    std::map<uint32_t, IpAddress> out;
    EXPECT_EQ(outside_->inject(pool_.make_all(frames)), frames.size());
    run_until_idle(*job_, counters_);
    for (const Frame& f : inside_->take_sent()) {
      const uint32_t flow = uint32_t{f[38]} << 24 | uint32_t{f[39]} << 16 | f[40] << 8 | f[41];
      out[flow] = IpAddress::from_v4(&f[30]);
    }
    EXPECT_EQ(out.size(), frames.size()) << "a frame was lost";
    sent_ += frames.size();
    return out;
  }

  uint64_t drops() const {
    uint64_t n = 0;
    for (const auto& p : counters_.ports)
      for (const auto& d : p.drops) n += d.get();
    return n;
  }

  lb::LbConfig base_;
  PacketPool pool_;
  std::unique_ptr<RingPort> outside_, inside_;
  std::vector<lb::LbPort> ports_;
  std::unique_ptr<dataplane::SnapshotPublisher<LbRuntime>> snapshots_;
  std::unique_ptr<lb::LbJob> job_;
  dataplane::WorkerCounters counters_;
  uint64_t sent_ = 0;
};

// Generation g runs {A, B} when even and {B, C} when odd: B stays throughout, A and C come and go.
std::set<IpAddress> backends_of(uint64_t generation) {
  return generation % 2 == 0 ? std::set{kA, kB} : std::set{kB, kC};
}

TEST_F(LbApplyTest, ThousandSnapshotsUnderTrafficLoseNothing) {
  constexpr uint64_t kSwaps = 1000;
  // Flows on B from before the first swap: B is in every snapshot, so they must stay there.
  std::vector<Frame> pinned;
  for (const auto& [flow, backend] : send([&] {
         std::vector<Frame> syns;
         for (uint32_t f = 0; f < 32; ++f) syns.push_back(packet(f, flags::kSyn));
         return syns;
       }())) {
    if (backend == kB) pinned.push_back(packet(flow, flags::kAck));
  }
  ASSERT_GE(pinned.size(), 4u);
  uint32_t next_flow = 32;

  std::atomic<uint64_t> requested{0}, applied{0};
  std::atomic<bool> quit{false};
  std::atomic<int> rejected{0};
  std::thread control([&] {
    for (uint64_t g = 1; g <= kSwaps; ++g) {
      while (requested.load() < g) {
        if (quit.load()) return;
        std::this_thread::yield();
      }
      control::ApplySnapshot s{.generation = g};
      s.services = {nat_service(g % 2 == 0 ? std::vector{kA, kB} : std::vector{kB, kC})};
      const control::SnapshotResult r = lb::apply_snapshot(*snapshots_, base_, ports_, s);
      if (!r.ok || r.generation != g) rejected.fetch_add(1);
      applied.store(g);
    }
  });
  // On a failed assertion the job stops polling; taking it offline lets a swap in progress end.
  struct Stop {
    std::atomic<bool>& quit;
    std::thread& thread;
    dataplane::SnapshotPublisher<LbRuntime>& snapshots;
    ~Stop() {
      quit.store(true);
      snapshots.offline(0);
      thread.join();
      snapshots.online(0);
    }
  } stop{quit, control, *snapshots_};

  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (uint64_t g = 1; g <= kSwaps; ++g) {
    requested.store(g);
    // During the swap: the pinned flows, and new flows that may meet either snapshot.
    for (int pass = 0; applied.load() < g; ++pass) {
      ASSERT_LT(Clock::now(), deadline) << "swap " << g << " did not finish";
      std::vector<Frame> frames = pinned;
      if (pass < 4) frames.push_back(packet(next_flow++, flags::kSyn));
      for (const auto& [flow, backend] : send(frames)) {
        if (flow >= 32) {
          EXPECT_TRUE(backends_of(g - 1).contains(backend) || backends_of(g).contains(backend));
        } else {
          ASSERT_EQ(backend, kB) << "pinned flow " << flow << " moved during swap " << g;
        }
      }
    }
    // After it: new flows meet generation g only.
    std::vector<Frame> frames = pinned;
    for (int i = 0; i < 8; ++i) frames.push_back(packet(next_flow++, flags::kSyn));
    for (const auto& [flow, backend] : send(frames)) {
      if (flow >= 32) {
        ASSERT_TRUE(backends_of(g).contains(backend))
            << "new flow " << flow << " went to " << format_ip_address(backend)
            << ", not a backend of generation " << g;
      } else {
        ASSERT_EQ(backend, kB) << "pinned flow " << flow << " moved after swap " << g;
      }
    }
    ASSERT_LT(next_flow, 50000u) << "flows (source ports) run out";
  }
  EXPECT_EQ(rejected.load(), 0);
  EXPECT_EQ(drops(), 0u);
  EXPECT_EQ(counters_.ports[inside_->port().id].tx_packets.get(), sent_);
}

TEST_F(LbApplyTest, RejectedSnapshotChangesNothing) {
  const LbRuntime* before = snapshots_->current();
  control::ApplySnapshot s{.generation = 5, .services = {nat_service({kC}), nat_service({kA})}};
  snapshots_->offline(0);  // the job runs on this thread, between passes
  control::SnapshotResult r = lb::apply_snapshot(*snapshots_, base_, ports_, s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.generation, 5u);
  EXPECT_NE(r.error.find("'web' is used by another service"), std::string::npos) << r.error;
  EXPECT_EQ(snapshots_->current(), before);

  // Addresses from the snapshot replace the start-up ones; without them the start-up ones stay.
  s.services = {nat_service({kC})};
  s.nat_addresses = {ip("10.99.1.3")};
  r = lb::apply_snapshot(*snapshots_, base_, ports_, s);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.build_ns, 0u);
  EXPECT_GT(r.publish_ns, 0u);
  EXPECT_EQ(snapshots_->current()->nat_addresses(), std::vector{ip("10.99.1.3")});
  s.nat_addresses.clear();
  ASSERT_TRUE(lb::apply_snapshot(*snapshots_, base_, ports_, s).ok);
  EXPECT_EQ(snapshots_->current()->nat_addresses(), base_.nat_addresses);
  snapshots_->online(0);
  EXPECT_EQ(send({packet(1, flags::kSyn)}).at(1), kC);
}

}  // namespace
}  // namespace sluice::test
