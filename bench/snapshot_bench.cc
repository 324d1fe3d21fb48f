// Benchmarks of the control-plane snapshot path at scale, for S services of T targets each (all
// targets distinct addresses on the one port's 10.0.0.0/8 link, full-NAT, TCP port 80):
//
//  * BM_CompileLbConfig: the control plane compiling its configuration and the targets' health
//    into the balancer's configuration (controlplane::snapshot::compile_lb_config);
//  * BM_EncodeSnapshot, BM_DecodeSnapshot: the ApplySnapshot frame both ways;
//  * BM_RuntimeBuild: lb::LbRuntime from nothing (every Maglev table built), on 1 or more build
//    threads; BM_RuntimeOneWeight: after one target's weight changed, from the running runtime
//    (the unchanged services keep their Maglev tables);
//  * BM_ApplyUnderTraffic: lb::apply_snapshot while a worker thread runs the balancer's job on a
//    net_ring port with traffic (established full-NAT flows), reporting the worker's polling-pass
//    durations: idle, during repeated whole snapshots with one weight changed, and during
//    repeated whole snapshots in which every service changed (every table rebuilt).
//
// EAL starts on the core the process was started on (choose it with taskset); the worker thread
// runs on the next core and the build threads on the first, as sluice-dataplane keeps them off
// its worker cores.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_main.h"
#include "control_protocol.h"
#include "lb_apply.h"
#include "lb_job.h"
#include "lb_runtime.h"
#include "lb_snapshot.h"
#include "port.h"
#include "snapshot.h"
#include "thread_affinity.h"
#include "worker.h"

namespace {

using namespace sluice;
using lb::LbRuntime;

constexpr uint16_t kServicePort = 80;
constexpr uint32_t kTrafficServices = 16;  // services the worker's traffic goes to
constexpr uint32_t kTrafficFlows = 4096;
constexpr unsigned kInFlight = 256;
constexpr unsigned kRingSize = 1024;

IpAddress v4(uint32_t a) {
  const uint8_t b[4] = {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                        static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
  return IpAddress::from_v4(b);
}

// Service s's VIP is 10.200.0.0 + s; its target t is 10.(1 + s / 256).(s % 256).(t + 1).
uint32_t vip_of(uint32_t s) {
  return 0x0ac80000u | s;
}
IpAddress target_address(uint32_t s, uint32_t t) {
  return v4(0x0a000000u | (1 + s / 256) << 16 | (s % 256) << 8 | (t + 1));
}

const IpPrefix kLan = *parse_ip_prefix("10.0.0.1/8");

controlplane::ControlConfig control_config(uint32_t services, uint32_t targets) {
  controlplane::ControlConfig c;
  c.ports.push_back({.name = "lan", .device = "net_ring0", .addresses = {kLan}});
  for (uint32_t s = 0; s < services; ++s) {
    controlplane::TargetGroup g{.name = "g" + std::to_string(s), .port = kServicePort};
    for (uint32_t t = 0; t < targets; ++t) g.targets.push_back({.address = target_address(s, t)});
    c.target_groups.push_back(std::move(g));
    c.services.push_back({.name = "s" + std::to_string(s),
                          .vip = v4(vip_of(s)),
                          .port = kServicePort,
                          .target_group = "g" + std::to_string(s)});
  }
  return c;
}

// The balancer's configuration the control plane compiles for S x T (every target healthy).
lb::LbConfig lb_config(uint32_t services, uint32_t targets) {
  return controlplane::snapshot::compile_lb_config(control_config(services, targets), {}, {});
}

control::ApplySnapshot snapshot_of(const lb::LbConfig& c, uint64_t generation) {
  return {.generation = generation,
          .nat_addresses = c.nat_addresses,
          .tunnel_sources = c.tunnel_sources,
          .services = c.services};
}

// Changes one target's weight (`all`: one in every service) between 1 and 2.
void change_weights(lb::LbConfig& c, uint32_t round, bool all) {
  const size_t first = all ? 0 : round % c.services.size();
  const size_t last = all ? c.services.size() : first + 1;
  for (size_t s = first; s < last; ++s) {
    auto& w = c.services[s].backends[round % c.services[s].backends.size()].weight;
    w = w == 1 ? 2 : 1;
  }
}

std::vector<unsigned> cpus_from(unsigned first) {
  std::vector<unsigned> cpus;
  for (unsigned c = first; c < std::thread::hardware_concurrency(); ++c) cpus.push_back(c);
  return cpus;
}

unsigned main_cpu = 0, worker_cpu = 0;

void set_sizes(benchmark::State& state) {
  state.counters["services"] = static_cast<double>(state.range(0));
  state.counters["targets_total"] = static_cast<double>(state.range(0) * state.range(1));
}

// ---------------------------------------------------------------------------------------------
// Control plane, wire, runtime

void BM_CompileLbConfig(benchmark::State& state) {
  const auto config =
      control_config(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)));
  for (auto _ : state) {
    lb::LbConfig c = controlplane::snapshot::compile_lb_config(config, {}, {});
    benchmark::DoNotOptimize(c.services.data());
  }
  set_sizes(state);
}

void BM_EncodeSnapshot(benchmark::State& state) {
  const control::Message m = snapshot_of(
      lb_config(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1))), 1);
  size_t bytes = 0;
  for (auto _ : state) {
    const std::vector<uint8_t> frame = control::encode(m);
    bytes = frame.size();
    benchmark::DoNotOptimize(frame.data());
  }
  set_sizes(state);
  state.counters["frame_MB"] = static_cast<double>(bytes) / 1e6;
}

void BM_DecodeSnapshot(benchmark::State& state) {
  const std::vector<uint8_t> frame = control::encode(snapshot_of(
      lb_config(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1))), 1));
  const std::span<const uint8_t> bytes(frame);
  for (auto _ : state) {
    std::string error;
    const auto header = control::decode_header(bytes, &error);
    auto m = control::decode_payload(header->type, bytes.subspan(control::kHeaderSize), &error);
    if (!m) {
      state.SkipWithError(error.c_str());
      return;
    }
    benchmark::DoNotOptimize(&*m);
  }
  set_sizes(state);
}

std::vector<lb::LbPort> lan_ports(uint16_t port_id = 0) {
  return {{.id = port_id, .name = "lan", .mac = {2, 0, 0, 0, 0, 1}, .addresses = {kLan}}};
}

void BM_RuntimeBuild(benchmark::State& state) {
  lb::LbConfig config =
      lb_config(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)));
  config.build_threads = static_cast<uint32_t>(state.range(2));
  config.build_cpus = cpus_from(0);
  const auto ports = lan_ports();
  for (auto _ : state) {
    auto rt = std::make_unique<LbRuntime>(config, ports);
    benchmark::DoNotOptimize(rt.get());
  }
  set_sizes(state);
}

void BM_RuntimeOneWeight(benchmark::State& state) {
  lb::LbConfig config =
      lb_config(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)));
  const auto ports = lan_ports();
  auto rt = std::make_unique<LbRuntime>(config, ports);
  uint32_t round = 0;
  for (auto _ : state) {
    change_weights(config, round++, false);
    rt = std::make_unique<LbRuntime>(config, ports, rt.get());
  }
  set_sizes(state);
}

// ---------------------------------------------------------------------------------------------
// Applying snapshots while a worker forwards

// Polling-pass durations in TSC cycles: 16 buckets per power of two (about 6% apart).
class PassHistogram {
 public:
  void add(uint64_t cycles) {
    const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(cycles | 1));
    const unsigned sub =
        static_cast<unsigned>(e >= 4 ? cycles >> (e - 4) : cycles << (4 - e)) & (kSub - 1);
    ++counts_[e * kSub + sub];
    max_ = std::max(max_, cycles);
    ++n_;
  }
  uint64_t count() const { return n_; }
  uint64_t max() const { return max_; }
  // The upper end of the bucket that holds the q-quantile.
  double quantile(double q) const {
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(n_));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) {
        const size_t e = i / kSub, sub = i % kSub;
        return static_cast<double>(kSub + sub + 1) * static_cast<double>(uint64_t{1} << e) / kSub;
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr unsigned kSub = 16;
  std::array<uint64_t, 64 * kSub> counts_{};
  uint64_t max_ = 0, n_ = 0;
};

// A 64-byte TCP ACK from client `flow` to service `service`'s VIP (the IPv4 checksum right, the
// TCP one left zero: the balancer does not check it).
std::array<uint8_t, 64> client_frame(const uint8_t* port_mac, uint32_t flow, uint32_t service) {
  std::array<uint8_t, 64> f{};
  auto put16 = [&](size_t at, uint32_t v) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  };
  auto put32 = [&](size_t at, uint32_t v) {
    put16(at, v >> 16);
    put16(at + 2, v);
  };
  std::memcpy(f.data(), port_mac, 6);
  const uint8_t client_mac[6] = {2, 0, 0, 0, 0, 0xc1};
  std::memcpy(f.data() + 6, client_mac, 6);
  put16(12, 0x0800);
  f[14] = 0x45;
  put16(16, 50);
  f[22] = 64;
  f[23] = lb::kProtoTcp;
  put32(26, 0xc6330000u | flow);  // 198.51.0.0/16
  put32(30, vip_of(service));
  uint32_t sum = 0;
  for (size_t i = 14; i < 34; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(24, ~sum & 0xffff);
  put16(34, 1024 + flow % 60000);
  put16(36, kServicePort);
  f[46] = 5 << 4;
  f[47] = lb::kTcpFlagAck;
  put16(48, 0xffff);
  return f;
}

// One port, 10.0.0.1/8, on a receive ring the benchmark fills and a transmit ring it drains.
class RingPort {
 public:
  RingPort() {
    const int socket = static_cast<int>(rte_socket_id());
    pool_ = dataplane::create_packet_pool("snapshot_bench_pkts", 4096, socket,
                                          dataplane::PoolLayout::kPacked);
    rx_ = rte_ring_create("sb_rx", kRingSize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ = rte_ring_create("sb_tx", kRingSize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx_ == nullptr || tx_ == nullptr) throw std::runtime_error("rte_ring_create");
    const int id = rte_eth_from_rings("net_sb_lan", &rx_, 1, &tx_, 1, rte_socket_id());
    if (id < 0) throw std::runtime_error("rte_eth_from_rings");
    port_ = dataplane::start_port(static_cast<uint16_t>(id),
                                  dataplane::PortConfig{.name = "lan", .device = "lan"}, 1, pool_);
    rte_ether_addr a;
    rte_eth_macaddr_get(port_.id, &a);
    std::copy(a.addr_bytes, a.addr_bytes + 6, mac_.begin());
  }
  ~RingPort() {
    drain();
    dataplane::stop_ports({port_});
    rte_ring_free(rx_);
    rte_ring_free(tx_);
    rte_mempool_free(pool_);
  }
  RingPort(const RingPort&) = delete;
  RingPort& operator=(const RingPort&) = delete;

  std::vector<lb::LbPort> lb_ports() const {
    auto p = lan_ports(port_.id);
    p[0].mac = mac_;
    return p;
  }
  dataplane::EgressQueue egress() const { return port_.egress(0); }
  const MacAddress& mac() const { return mac_; }
  rte_mempool* pool() const { return pool_; }
  rte_ring* rx() const { return rx_; }
  rte_ring* tx() const { return tx_; }

  void drain() {
    for (rte_ring* ring : {rx_, tx_}) {
      rte_mbuf* burst[dataplane::kBurstSize];
      while (unsigned n = rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(burst),
                                                 dataplane::kBurstSize, nullptr)) {
        rte_pktmbuf_free_bulk(burst, n);
      }
    }
  }

 private:
  rte_mempool* pool_ = nullptr;
  rte_ring *rx_ = nullptr, *tx_ = nullptr;
  dataplane::Port port_{};
  MacAddress mac_{};
};

RingPort* ring_port = nullptr;

// The balancer's job plus the clients: after each poll, the frames the job sent go back to the
// receive ring as the next flows' packets. Times every poll.
class TrafficJob {
 public:
  TrafficJob(dataplane::SnapshotPublisher<LbRuntime>& snapshots, uint32_t services)
      : job_(snapshots, {ring_port->egress()}, lb::LbJobOptions{.flow_table_size = 1u << 16}) {
    for (uint32_t f = 0; f < kTrafficFlows; ++f)
      frames_.push_back(
          client_frame(ring_port->mac().data(), f, f % std::min(services, kTrafficServices)));
    rte_mbuf* pkts[kInFlight];
    if (rte_pktmbuf_alloc_bulk(ring_port->pool(), pkts, kInFlight) != 0)
      throw std::runtime_error("cannot allocate frames");
    for (rte_mbuf* m : pkts) stamp(m);
    rte_ring_enqueue_bulk(ring_port->rx(), reinterpret_cast<void**>(pkts), kInFlight, nullptr);
  }

  uint32_t poll(dataplane::WorkerCounters& counters) {
    const uint64_t start = rte_rdtsc();
    const uint32_t n = job_.poll(counters);
    passes.add(rte_rdtsc() - start);
    rte_mbuf* pkts[dataplane::kBurstSize];
    unsigned got = rte_ring_dequeue_burst(ring_port->tx(), reinterpret_cast<void**>(pkts),
                                          dataplane::kBurstSize, nullptr);
    // Frames the job dropped (none once the flows exist) are replaced.
    if (got < n && rte_pktmbuf_alloc_bulk(ring_port->pool(), pkts + got, n - got) == 0) got = n;
    for (unsigned i = 0; i < got; ++i) stamp(pkts[i]);
    rte_ring_enqueue_burst(ring_port->rx(), reinterpret_cast<void**>(pkts), got, nullptr);
    return n;
  }

  PassHistogram passes;

 private:
  void stamp(rte_mbuf* m) {
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = m->pkt_len = 64;
    m->ol_flags = 0;
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), frames_[next_++ % kTrafficFlows].data(), 64);
  }

  lb::LbJob job_;
  std::vector<std::array<uint8_t, 64>> frames_;
  uint32_t next_ = 0;
};

enum Publishing : int { kIdle, kOneWeight, kEveryService };

// Iterations: idle, 20 ms each; otherwise one whole snapshot each.
void BM_ApplyUnderTraffic(benchmark::State& state) {
  const auto services = static_cast<uint32_t>(state.range(0));
  const auto targets = static_cast<uint32_t>(state.range(1));
  const auto publishing = static_cast<Publishing>(state.range(2));
  lb::LbConfig base;
  base.flow_table_size = 1u << 16;
  base.build_cpus = {main_cpu};
  lb::LbConfig next = lb_config(services, targets);
  const auto ports = ring_port->lb_ports();
  dataplane::SnapshotPublisher<LbRuntime> snapshots(1, std::make_unique<LbRuntime>(next, ports));
  LbRuntime& first = *snapshots.current();
  for (uint32_t i = 0; i < first.neighbor_count(); ++i)
    first.neighbor(i).learn({2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});

  std::atomic<bool> stop{false}, ready{false};
  std::unique_ptr<dataplane::WorkerCounters> counters =
      std::make_unique<dataplane::WorkerCounters>();
  PassHistogram passes;
  std::string failure;
  std::thread worker([&] {
    sluice::run_on_cpu(worker_cpu);
    try {
      TrafficJob job(snapshots, services);
      for (int i = 0; i < 1000; ++i) job.poll(*counters);  // the flows exist from here on
      job.passes = {};
      ready = true;
      dataplane::run_worker_loop(job, *counters, stop);
      passes = job.passes;
    } catch (const std::exception& e) {
      failure = e.what();
      ready = true;
    }
  });
  while (!ready) std::this_thread::yield();
  const auto started = std::chrono::steady_clock::now();
  const uint64_t forwarded_before = counters->ports[ports[0].id].tx_packets.get();
  double build_ms = 0, publish_ms = 0;
  uint64_t generation = 0;
  for (auto _ : state) {
    if (publishing == kIdle) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    change_weights(next, static_cast<uint32_t>(generation), publishing == kEveryService);
    const control::SnapshotResult r =
        lb::apply_snapshot(snapshots, base, ports, snapshot_of(next, ++generation));
    if (!r.ok) {
      state.SkipWithError(r.error.c_str());
      break;
    }
    build_ms += static_cast<double>(r.build_ns) / 1e6;
    publish_ms += static_cast<double>(r.publish_ns) / 1e6;
  }
  stop = true;
  worker.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ring_port->drain();
  if (!failure.empty()) {
    state.SkipWithError(failure.c_str());
    return;
  }
  const double us = 1e6 / static_cast<double>(rte_get_tsc_hz());
  set_sizes(state);
  state.counters["passes"] = static_cast<double>(passes.count());
  state.counters["p50_us"] = passes.quantile(0.5) * us;
  state.counters["p99_us"] = passes.quantile(0.99) * us;
  state.counters["p99.9_us"] = passes.quantile(0.999) * us;
  state.counters["max_us"] = static_cast<double>(passes.max()) * us;
  state.counters["Mpps"] =
      static_cast<double>(counters->ports[ports[0].id].tx_packets.get() - forwarded_before) /
      seconds / 1e6;
  if (generation != 0) {
    state.counters["build_ms"] = build_ms / static_cast<double>(generation);
    state.counters["publish_ms"] = publish_ms / static_cast<double>(generation);
  }
}

void register_benchmarks() {
  for (auto* b : {benchmark::RegisterBenchmark("BM_CompileLbConfig", BM_CompileLbConfig),
                  benchmark::RegisterBenchmark("BM_EncodeSnapshot", BM_EncodeSnapshot),
                  benchmark::RegisterBenchmark("BM_DecodeSnapshot", BM_DecodeSnapshot),
                  benchmark::RegisterBenchmark("BM_RuntimeOneWeight", BM_RuntimeOneWeight)}) {
    b->ArgNames({"services", "targets"})->Args({10, 100})->Args({1000, 100});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_RuntimeBuild", BM_RuntimeBuild)
      ->ArgNames({"services", "targets", "threads"})
      ->Args({10, 100, 1})
      ->Args({1000, 100, 1})
      ->Args({1000, 100, 2})
      ->Args({1000, 100, 4})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  // Idle for 1 s; 50 whole snapshots with one weight changed; 5 (1,000 services) or 50 with
  // every service changed.
  for (const auto& [services, publishing, iterations] :
       std::vector<std::array<int64_t, 3>>{{10, kIdle, 50},
                                           {10, kOneWeight, 50},
                                           {10, kEveryService, 50},
                                           {1000, kIdle, 50},
                                           {1000, kOneWeight, 50},
                                           {1000, kEveryService, 5}}) {
    benchmark::RegisterBenchmark("BM_ApplyUnderTraffic", BM_ApplyUnderTraffic)
        ->ArgNames({"services", "targets", "publishing"})
        ->Args({services, 100, publishing})
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::run_with_eal(argc, argv, "snapshot-bench", [] {
    main_cpu = static_cast<unsigned>(std::max(0, sched_getcpu()));
    worker_cpu = (main_cpu + 1) % std::max(1u, std::thread::hardware_concurrency());
    benchmark::AddCustomContext("main_cpu", std::to_string(main_cpu));
    benchmark::AddCustomContext("worker_cpu", std::to_string(worker_cpu));
    RingPort port;
    ring_port = &port;
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    ring_port = nullptr;
  });
}
