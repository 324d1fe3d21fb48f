// Benchmarks of the L4 balancer's worker job (LbJob::poll) in this process, on two net_ring
// ports: "outside" (clients, the VIPs) and "inside" (100 backends, resolved in advance), one
// core, 64-byte TCP frames (Ethernet, IPv4, TCP, 10 bytes of payload), compared with the wire
// forwarder (WireJob::poll) on the same ports and the same traffic.
//
// How traffic is made, and what that costs. Each port has a receive ring and a transmit ring of
// its own. The job reads the outside port's receive ring and sends, rewritten, into the inside
// port's transmit ring. The benchmark stands in for the NIC and the clients: after every poll it
// takes the 32 mbufs the job sent back from the inside transmit ring and turns each into a fresh
// client frame of the flow the benchmark wants next (reset data offset and lengths, copy a
// 64-byte template from L1, write the client's source address and port, update both checksums
// incrementally), then puts them into the outside receive ring. kInFlight frames circulate, so a
// frame is written 8 polls before the job reads it: its lines are in L1 or L2 then, warmer than
// a NIC leaves them (in the LLC with DDIO, else in memory). NAT and tunnelling rewrite the
// frames, so this rewriting is needed, and it is inside the timed loop: cycles/pkt and Mpps
// include it. The wire baseline (BM_Wire) gets the same frames made the same way, so x_wire
// (wire cycles/pkt over the job's) compares like with like; BM_Harness measures the rewriting and
// ring moves alone (the job replaced by a bare ring-to-ring move), and Mpps_net and x_wire_net
// take it out of both.
//
// Time is the thread's CPU time (other processes on the core do not count), in TSC cycles.
// Established-flow benchmarks create their flows before timing (a SYN, then an ACK, per flow, in
// order) and check that every timed packet hit its flow and left on the inside port.
#include <benchmark/benchmark.h>

#include "bench_util.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include "bench_main.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lb_job.h"
#include "port.h"
#include "snapshot.h"
#include "wire.h"

namespace {

using sluice::bench::cycles_since;
using sluice::bench::Rng;
using sluice::bench::thread_cpu_seconds;

using namespace sluice;
using dataplane::kBurstSize;
using dataplane::WorkerCounters;
using lb::LbJob;
using lb::LbJobOptions;
using lb::LbRuntime;

constexpr unsigned kRingSize = 1024;
constexpr unsigned kInFlight = 256;  // frames circulating through the job
constexpr unsigned kPoolSize = 8192;
constexpr uint16_t kFrameLen = 64;
constexpr uint16_t kPayloadLen = kFrameLen - 14 - 20 - 20;
constexpr uint16_t kServicePort = 80;
constexpr unsigned kBackends = 100;
constexpr uint32_t kWireFlows = 1000000;     // the flows BM_Wire and BM_Harness draw from
constexpr double kEstablishedMaxAgeS = 300;  // below tcp_established_s (350): nothing expires

enum Mode : int { kNat, kDsr, kIpip, kGue, kModeCount };
constexpr const char* kModeNames[kModeCount] = {"nat", "dsr", "ipip", "gue"};
constexpr const char* kVips[kModeCount] = {"203.0.113.10", "203.0.113.11", "203.0.113.12",
                                           "203.0.113.13"};
constexpr uint8_t kClientMac[6] = {0x02, 0, 0, 0, 0, 0xc1};

IpAddress address(const char* s) {
  return *parse_ip_address(s);
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------------------------
// Clients and their frames

// Flow i's client is random-looking (lb::mix32 is a bijection), and distinct flows have distinct
// clients. Sequential addresses would flatter the flow table, whose CRC hash is linear.

// Flow i comes from 10.x.y.z (24 bits of mix(i)), source port 1024 + the other 8 bits.
struct Client {
  uint32_t address;
  uint16_t port;
};
Client client_of(uint32_t flow) {
  const uint32_t h = lb::mix32(flow);
  return {0x0a000000u | (h & 0xffffffu), static_cast<uint16_t>(1024 + (h >> 24))};
}

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}
uint32_t sum16(const uint8_t* p, size_t len) {
  uint32_t s = 0;
  for (size_t i = 0; i < len; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// Offsets in the 64-byte frame.
constexpr size_t kIpSum = 24, kIpSrc = 26, kIpDst = 30, kTcp = 34, kTcpSum = 50;

// A client's frame to a VIP with the source address and port left zero, and the checksums'
// sums over everything else, so that a frame for any client costs a copy and a few stores.
struct FrameTemplate {
  alignas(64) uint8_t bytes[kFrameLen] = {};
  uint32_t ip_sum = 0, tcp_sum = 0;

  FrameTemplate() = default;
  FrameTemplate(const uint8_t* dst_mac, const IpAddress& vip, uint8_t tcp_flags) {
    uint8_t* p = bytes;
    std::memcpy(p, dst_mac, 6);
    std::memcpy(p + 6, kClientMac, 6);
    put16(p + 12, 0x0800);
    uint8_t* iph = p + 14;
    iph[0] = 0x45;
    put16(iph + 2, 20 + 20 + kPayloadLen);
    put16(iph + 6, 0x4000);  // DF
    iph[8] = 64;
    iph[9] = lb::kProtoTcp;
    std::memcpy(p + kIpDst, vip.v4(), 4);
    uint8_t* tcp = p + kTcp;
    put16(tcp + 2, kServicePort);
    put32(tcp + 4, 0x01000000);                                   // sequence
    if (tcp_flags & lb::kTcpFlagAck) put32(tcp + 8, 0x02000000);  // acknowledgement
    tcp[12] = 5 << 4;
    tcp[13] = tcp_flags;
    put16(tcp + 14, 0xffff);  // window
    for (uint16_t i = 0; i < kPayloadLen; ++i) p[kTcp + 20 + i] = static_cast<uint8_t>('a' + i);
    ip_sum = sum16(iph, 20);
    // Pseudo-header (source zero): destination, protocol, TCP length; then segment.
    tcp_sum =
        sum16(p + kIpDst, 4) + lb::kProtoTcp + 20 + kPayloadLen + sum16(tcp, 20 + kPayloadLen);
  }

  // Makes `m` a fresh frame of `flow`: what the NIC would leave in it.
  void stamp(rte_mbuf* m, uint32_t flow) const {
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = kFrameLen;
    m->pkt_len = kFrameLen;
    m->ol_flags = 0;
    uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(p, bytes, kFrameLen);
    const Client c = client_of(flow);
    put32(p + kIpSrc, c.address);
    put16(p + kTcp, c.port);
    const uint32_t a = (c.address >> 16) + (c.address & 0xffff);
    put16(p + kIpSum, fold(ip_sum + a));
    put16(p + kTcpSum, fold(tcp_sum + a + c.port));
  }
};

// ---------------------------------------------------------------------------------------------
// Ports, traffic, runtime

class RingPorts {
 public:
  RingPorts() {
    const int socket = static_cast<int>(rte_socket_id());
    pool_ = dataplane::create_packet_pool("lb_bench_pkts", kPoolSize, socket,
                                          dataplane::PoolLayout::kPacked);
    const char* names[2] = {"outside", "inside"};
    for (unsigned i = 0; i < 2; ++i) {
      const std::string name = names[i];
      rx_[i] = rte_ring_create(("lb_" + name + "_rx").c_str(), kRingSize, socket,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
      tx_[i] = rte_ring_create(("lb_" + name + "_tx").c_str(), kRingSize, socket,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (rx_[i] == nullptr || tx_[i] == nullptr) throw std::runtime_error("rte_ring_create");
      const int id =
          rte_eth_from_rings(("net_lb_" + name).c_str(), &rx_[i], 1, &tx_[i], 1, rte_socket_id());
      if (id < 0) throw std::runtime_error("rte_eth_from_rings: " + name);
      ports_[i] = dataplane::start_port(
          static_cast<uint16_t>(id), dataplane::PortConfig{.name = name, .device = name}, 1, pool_);
    }
  }
  ~RingPorts() {
    drain();
    dataplane::stop_ports({ports_.begin(), ports_.end()});
    for (unsigned i = 0; i < 2; ++i) {
      rte_ring_free(rx_[i]);
      rte_ring_free(tx_[i]);
    }
    rte_mempool_free(pool_);
  }
  RingPorts(const RingPorts&) = delete;
  RingPorts& operator=(const RingPorts&) = delete;

  const dataplane::Port& outside() const { return ports_[0]; }
  const dataplane::Port& inside() const { return ports_[1]; }
  rte_ring* source() const { return rx_[0]; }  // the outside port receives from it
  rte_ring* sink() const { return tx_[1]; }    // the inside port transmits into it
  rte_mempool* pool() const { return pool_; }

  // Frees every frame in the four rings; returns how many were taken from the sink.
  unsigned drain() {
    for (rte_ring* ring : {rx_[0], rx_[1], tx_[0]}) free_ring(ring);
    return free_ring(sink());
  }
  static unsigned free_ring(rte_ring* ring) {
    unsigned total = 0;
    rte_mbuf* burst[kBurstSize];
    while (unsigned n =
               rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(burst), kBurstSize, nullptr)) {
      rte_pktmbuf_free_bulk(burst, n);
      total += n;
    }
    return total;
  }

  lb::LbPort lb_port(unsigned i, const char* address) const {
    lb::LbPort p;
    p.id = ports_[i].id;
    p.name = ports_[i].name;
    rte_ether_addr a;
    rte_eth_macaddr_get(p.id, &a);
    std::copy(a.addr_bytes, a.addr_bytes + 6, p.mac.begin());
    p.addresses.push_back(*parse_ip_prefix(address));
    return p;
  }

 private:
  rte_mempool* pool_ = nullptr;
  std::array<rte_ring*, 2> rx_{}, tx_{};
  std::array<dataplane::Port, 2> ports_{};
};

RingPorts* ports = nullptr;
dataplane::SnapshotPublisher<LbRuntime>* snapshots = nullptr;
FrameTemplate syn_frames[kModeCount], ack_frames[kModeCount];
double harness_cycles = 0, wire_cycles = 0;  // cycles/pkt of BM_Harness and BM_Wire, once run

// One service per mode, each a VIP on TCP port 80 with the same 100 backends on the inside link;
// full-NAT from the inside port's address.
lb::LbConfig bench_config() {
  lb::LbConfig c;
  c.nat_addresses = {address("192.168.0.2")};
  for (int m = 0; m < kModeCount; ++m) {
    lb::ServiceConfig s;
    s.name = kModeNames[m];
    s.vip = address(kVips[m]);
    s.family = kFamilyV4;
    s.protocol = lb::kProtoTcp;
    s.port = kServicePort;
    s.mode = m == kNat   ? lb::ForwardingMode::kNat
             : m == kDsr ? lb::ForwardingMode::kDsr
                         : lb::ForwardingMode::kTunnel;
    s.tunnel = m == kGue ? lb::TunnelType::kGue : lb::TunnelType::kIpip;
    for (unsigned b = 0; b < kBackends; ++b) {
      const std::string a = "192.168.1." + std::to_string(b + 1);
      s.backends.push_back({address(a.c_str()), 0, 1});
    }
    c.services.push_back(s);
  }
  return c;
}

// Backends' MAC addresses, as if learned from ARP replies.
void learn_backends(LbRuntime& rt) {
  for (unsigned b = 0; b < kBackends; ++b) {
    const std::string a = "192.168.1." + std::to_string(b + 1);
    rt.find_neighbor(address(a.c_str()))
        ->learn(MacAddress{0x02, 0, 0, 0, 0x01, static_cast<uint8_t>(b)});
  }
}

std::unique_ptr<LbJob> make_job(uint32_t flow_table_size) {
  return std::make_unique<LbJob>(*snapshots,
                                 std::vector{ports->outside().egress(0), ports->inside().egress(0)},
                                 LbJobOptions{.flow_table_size = flow_table_size});
}

// The NIC side of a timed loop: prime() fills the outside receive ring with kInFlight frames;
// after each poll, recycle() takes back the burst the job sent on the inside port and returns it,
// rewritten as frames of the next flows, to the outside receive ring (mbufs the job dropped are
// replaced from the pool). `next_flow()` picks each frame's flow.
template <class NextFlow>
class Traffic {
 public:
  Traffic(const FrameTemplate& frame, NextFlow& next_flow) : frame_(frame), next_(next_flow) {}

  void prime() {
    rte_mbuf* pkts[kInFlight];
    if (rte_pktmbuf_alloc_bulk(ports->pool(), pkts, kInFlight) != 0)
      throw std::runtime_error("cannot allocate frames to prime the rings");
    for (rte_mbuf* m : pkts) frame_.stamp(m, next_());
    rte_ring_enqueue_bulk(ports->source(), reinterpret_cast<void**>(pkts), kInFlight, nullptr);
  }

  // Returns how many frames the job had sent.
  unsigned recycle() {
    rte_mbuf* pkts[kBurstSize];
    const unsigned got =
        rte_ring_dequeue_burst(ports->sink(), reinterpret_cast<void**>(pkts), kBurstSize, nullptr);
    unsigned have = got;
    if (got < kBurstSize &&
        rte_pktmbuf_alloc_bulk(ports->pool(), pkts + got, kBurstSize - got) == 0) {
      have = kBurstSize;
    }
    for (unsigned i = 0; i < have; ++i) frame_.stamp(pkts[i], next_());
    rte_ring_enqueue_burst(ports->source(), reinterpret_cast<void**>(pkts), have, nullptr);
    return got;
  }

 private:
  const FrameTemplate& frame_;
  NextFlow& next_;
};

struct Run {
  uint64_t received = 0;   // packets the job took from the outside port
  uint64_t forwarded = 0;  // frames found on the inside port's transmit ring
  double cpu_seconds = 0;
  bool leaked = false;
};

// The timed loop: one job.poll() and one Traffic::recycle() per iteration.
template <class Job, class NextFlow>
Run circulate(benchmark::State& state, Job& job, const FrameTemplate& frame, NextFlow& next_flow) {
  auto counters = std::make_unique<WorkerCounters>();
  Traffic<NextFlow> traffic(frame, next_flow);
  traffic.prime();
  Run r;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    r.received += job.poll(*counters);
    r.forwarded += traffic.recycle();
  }
  r.cpu_seconds = thread_cpu_seconds() - start;
  ports->drain();
  r.leaked = rte_mempool_in_use_count(ports->pool()) != 0;
  return r;
}

// Sends flows [first, first + count) once each, in order, in bursts of 32 (untimed set-up);
// returns how many frames the job sent on the inside port.
uint64_t run_pass(LbJob& job, const FrameTemplate& frame, uint32_t first, uint32_t count) {
  auto counters = std::make_unique<WorkerCounters>();
  uint64_t out = 0;
  rte_mbuf* pkts[kBurstSize];
  for (uint32_t next = first; next != first + count;) {
    const unsigned n = std::min<uint32_t>(kBurstSize, first + count - next);
    if (rte_pktmbuf_alloc_bulk(ports->pool(), pkts, n) != 0)
      throw std::runtime_error("cannot allocate frames");
    for (unsigned i = 0; i < n; ++i) frame.stamp(pkts[i], next++);
    rte_ring_enqueue_bulk(ports->source(), reinterpret_cast<void**>(pkts), n, nullptr);
    job.poll(*counters);
    out += RingPorts::free_ring(ports->sink());
  }
  while (job.poll(*counters) != 0) out += RingPorts::free_ring(ports->sink());
  return out + ports->drain();
}

// Cycles/pkt, Mpps (on-CPU), Mpps without the harness's share (once BM_Harness ran) and, with
// `vs_wire`, the ratios to the wire (once BM_Wire ran).
double report_packets(benchmark::State& state, uint64_t packets, double cpu_seconds,
                      bool vs_wire = true) {
  const double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  const double cycles = packets ? cpu_seconds * tsc_hz / static_cast<double>(packets) : 0.0;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["cycles/pkt"] = cycles;
  state.counters["Mpps"] = cycles > 0 ? tsc_hz / cycles / 1e6 : 0.0;
  if (harness_cycles > 0 && cycles > harness_cycles) {
    state.counters["Mpps_net"] = tsc_hz / (cycles - harness_cycles) / 1e6;
  }
  if (vs_wire && wire_cycles > 0 && cycles > 0) {
    state.counters["x_wire"] = wire_cycles / cycles;
    if (harness_cycles > 0 && cycles > harness_cycles && wire_cycles > harness_cycles) {
      state.counters["x_wire_net"] = (wire_cycles - harness_cycles) / (cycles - harness_cycles);
    }
  }
  return cycles;
}

bool check_run(benchmark::State& state, const Run& r, bool all_forwarded) {
  if (r.leaked) {
    state.SkipWithError("mbufs leaked");
    return false;
  }
  if (all_forwarded && r.forwarded != r.received) {
    state.SkipWithError("the job dropped frames");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Baselines

// The harness alone: recycling and ring moves, with a bare ring-to-ring move in place of a job.
struct RingMove {
  uint32_t poll(WorkerCounters&) {
    void* pkts[kBurstSize];
    const unsigned n = rte_ring_dequeue_burst(ports->source(), pkts, kBurstSize, nullptr);
    rte_ring_enqueue_burst(ports->sink(), pkts, n, nullptr);
    return n;
  }
};

// The floor of any job: rte_eth_rx_burst from the outside port, rte_eth_tx_burst to the inside.
struct BareForward {
  uint32_t poll(WorkerCounters&) {
    rte_mbuf* pkts[kBurstSize];
    const uint16_t n = rte_eth_rx_burst(ports->outside().id, 0, pkts, kBurstSize);
    return rte_eth_tx_burst(ports->inside().id, 0, pkts, n);
  }
};

template <class Job>
double run_baseline(benchmark::State& state, Job& job) {
  Rng rng;
  auto next = [&rng] { return rng.below(kWireFlows); };
  const Run r = circulate(state, job, ack_frames[kNat], next);
  if (!check_run(state, r, true)) return 0;
  return report_packets(state, r.received, r.cpu_seconds);
}

void BM_Harness(benchmark::State& state) {
  RingMove job;
  harness_cycles = 0;
  harness_cycles = run_baseline(state, job);
}
BENCHMARK(BM_Harness);

void BM_BareForward(benchmark::State& state) {
  BareForward job;
  run_baseline(state, job);
}
BENCHMARK(BM_BareForward);

void BM_Wire(benchmark::State& state) {
  dataplane::WireJob job(ports->outside(), ports->inside(), 0);
  wire_cycles = 0;
  wire_cycles = run_baseline(state, job);
}
BENCHMARK(BM_Wire);

// ---------------------------------------------------------------------------------------------
// Established flows

struct Established {
  int mode = kNat;
  uint32_t flows = 0, table = 0;
  double built_at = 0;
  std::unique_ptr<LbJob> job;
  std::string error;
};
std::unique_ptr<Established> established;

// A job whose table holds `flows` established flows of `mode`'s service (a SYN, then an ACK, per
// flow); kept across the runs and repetitions of one benchmark.
Established& established_flows(int mode, uint32_t flows, uint32_t table) {
  if (established && established->mode == mode && established->flows == flows &&
      established->table == table &&
      steady_seconds() - established->built_at < kEstablishedMaxAgeS) {
    return *established;
  }
  established.reset();
  auto e = std::make_unique<Established>();
  e->mode = mode;
  e->flows = flows;
  e->table = table;
  e->job = make_job(table);
  e->built_at = steady_seconds();
  const uint64_t syn_out = run_pass(*e->job, syn_frames[mode], 0, flows);
  const uint64_t ack_out = run_pass(*e->job, ack_frames[mode], 0, flows);
  const lb::FlowTable& t = e->job->flows();
  const uint32_t entries = flows * (mode == kNat ? 2 : 1);
  if (syn_out != flows || ack_out != flows) {
    e->error = "frames were dropped while creating the flows";
  } else if (e->job->service_counters()[mode].new_flows.get() != flows || t.active() != entries ||
             t.evictions() != 0) {
    e->error = "the table does not hold every flow (" + std::to_string(t.active()) + " entries, " +
               std::to_string(t.evictions()) + " evictions)";
  }
  established = std::move(e);
  return *established;
}

// Packets of random established flows (ACKs), uniformly over `flows`.
void BM_LbEstablished(benchmark::State& state, int mode) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const auto table = static_cast<uint32_t>(state.range(1));
  Established& e = established_flows(mode, flows, table);
  if (!e.error.empty()) {
    state.SkipWithError(e.error.c_str());
    return;
  }
  Rng rng;
  auto next = [&rng, flows] { return rng.below(flows); };
  const uint64_t new_before = e.job->service_counters()[mode].new_flows.get();
  const Run r = circulate(state, *e.job, ack_frames[mode], next);
  if (!check_run(state, r, true)) return;
  if (e.job->service_counters()[mode].new_flows.get() != new_before) {
    state.SkipWithError("a timed packet missed its flow");
    return;
  }
  report_packets(state, r.received, r.cpu_seconds);
  const lb::FlowTable& t = e.job->flows();
  state.counters["bytes/flow"] = static_cast<double>(t.memory_bytes()) / flows;
  state.counters["bytes/entry"] = static_cast<double>(t.memory_bytes()) / t.active();
  state.counters["load"] = static_cast<double>(t.active()) / t.capacity();
}
BENCHMARK_CAPTURE(BM_LbEstablished, nat, kNat)
    ->ArgNames({"flows", "table"})
    ->Args({1000000, 1 << 21})
    ->Args({65536, 1 << 20});
BENCHMARK_CAPTURE(BM_LbEstablished, dsr, kDsr)
    ->ArgNames({"flows", "table"})
    ->Args({1000000, 1 << 21})
    ->Args({65536, 1 << 20});
BENCHMARK_CAPTURE(BM_LbEstablished, ipip, kIpip)
    ->ArgNames({"flows", "table"})
    ->Args({65536, 1 << 20});
BENCHMARK_CAPTURE(BM_LbEstablished, gue, kGue)
    ->ArgNames({"flows", "table"})
    ->Args({65536, 1 << 20});

// ---------------------------------------------------------------------------------------------
// New flows

void report_new_flows(benchmark::State& state, const LbJob& job, int mode, const Run& r,
                      uint64_t new_before, uint64_t stateless_before) {
  report_packets(state, r.received, r.cpu_seconds, false);
  const double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  const auto new_flows =
      static_cast<double>(job.service_counters()[mode].new_flows.get() - new_before);
  state.counters["Mflows/s"] = new_flows / r.cpu_seconds / 1e6;
  state.counters["cycles/flow"] = new_flows > 0 ? r.cpu_seconds * tsc_hz / new_flows : 0.0;
  state.counters["stateless"] =
      static_cast<double>(job.core_counters().stateless_flows.get() - stateless_before) /
      std::max(new_flows, 1.0);
  state.counters["dropped"] = static_cast<double>(r.received - r.forwarded);
  const lb::FlowTable& t = job.flows();
  state.counters["load"] = static_cast<double>(t.active()) / t.capacity();
  state.counters["evictions"] = static_cast<double>(t.evictions());
}

// Every packet a SYN of a new flow, into an empty table that the run fills to half its entries
// (the iteration counts below are fixed to do so): a fresh job per run.
void BM_LbNewFlows(benchmark::State& state, int mode) {
  established.reset();
  const auto table = static_cast<uint32_t>(state.range(0));
  std::unique_ptr<LbJob> job = make_job(table);
  uint32_t flow = 0;
  auto next = [&flow] { return flow++; };
  const Run r = circulate(state, *job, syn_frames[mode], next);
  if (!check_run(state, r, false)) return;
  report_new_flows(state, *job, mode, r, 0, 0);
}
constexpr uint32_t kNewFlowTable = 1u << 21;
BENCHMARK_CAPTURE(BM_LbNewFlows, nat, kNat)
    ->ArgName("table")
    ->Arg(kNewFlowTable)
    ->Iterations(kNewFlowTable / 2 / 2 / kBurstSize);
BENCHMARK_CAPTURE(BM_LbNewFlows, dsr, kDsr)
    ->ArgName("table")
    ->Arg(kNewFlowTable)
    ->Iterations(kNewFlowTable / 2 / kBurstSize);

// A SYN flood: every packet a SYN of a new flow, into a table already full of live established
// flows. Full-NAT then evicts for every new flow; DSR forwards new flows by Maglev alone, without
// state, once the table is 15/16 full (the "stateless" counter is the share of such flows).
void BM_LbSynFlood(benchmark::State& state, int mode) {
  established.reset();
  const auto table = static_cast<uint32_t>(state.range(0));
  std::unique_ptr<LbJob> job = make_job(table);
  // Fill with established flows (an ACK creates and establishes one) until the table is full.
  uint32_t flow = 0;
  const lb::FlowTable& t = job->flows();
  while (mode == kNat ? t.evictions() == 0 : t.active() < t.capacity() - t.capacity() / 16) {
    run_pass(*job, ack_frames[mode], flow, 4096);
    flow += 4096;
  }
  const uint64_t new_before = job->service_counters()[mode].new_flows.get();
  const uint64_t stateless_before = job->core_counters().stateless_flows.get();
  auto next = [&flow] { return flow++; };
  const Run r = circulate(state, *job, syn_frames[mode], next);
  if (!check_run(state, r, false)) return;
  report_new_flows(state, *job, mode, r, new_before, stateless_before);
}
BENCHMARK_CAPTURE(BM_LbSynFlood, nat, kNat)->ArgName("table")->Arg(1 << 21)->Iterations(16384);
BENCHMARK_CAPTURE(BM_LbSynFlood, dsr, kDsr)->ArgName("table")->Arg(1 << 21)->Iterations(16384);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::run_with_eal(argc, argv, "lb-bench", [] {
    RingPorts ring_ports;
    ports = &ring_ports;
    dataplane::SnapshotPublisher<LbRuntime> published(
        1, std::make_unique<LbRuntime>(bench_config(),
                                       std::vector{ring_ports.lb_port(0, "203.0.113.2/24"),
                                                   ring_ports.lb_port(1, "192.168.0.2/16")}));
    learn_backends(*published.current());
    snapshots = &published;
    const uint8_t* outside_mac = published.current()->ports()[0].mac.data();
    for (int m = 0; m < kModeCount; ++m) {
      syn_frames[m] = FrameTemplate(outside_mac, address(kVips[m]), lb::kTcpFlagSyn);
      ack_frames[m] = FrameTemplate(outside_mac, address(kVips[m]), lb::kTcpFlagAck);
    }
    benchmark::AddCustomContext("lcore", std::to_string(rte_lcore_id()));
    benchmark::RunSpecifiedBenchmarks();
    established.reset();
    snapshots = nullptr;
    ports = nullptr;
  });
}
