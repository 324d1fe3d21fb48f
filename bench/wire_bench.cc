// Micro-benchmarks of the wire forwarder's per-pass work, in this process, on two ports made of
// rte_rings (net_ring). Each ring is both its port's receive and transmit ring, so what the wire
// sends on a port it receives again from it: seeded frames circulate and nothing allocates.
// Every benchmark reports packets per second and TSC cycles per packet; the "bare" ones do the
// same rx/tx bursts without the dataplane's checks and counters, as the floor to compare with.
// The frames come from the dataplane's own pool (create_packet_pool), so that mbufs lie in memory
// as they do in the dataplane: without hugepages that is one mbuf per 4 KiB page, every header at
// the same page offset, which decides how often touching them misses the cache.
#include <benchmark/benchmark.h>

#include "bench_util.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include "bench_main.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "port.h"
#include "transmit.h"
#include "wire.h"
#include "worker.h"
#include "worker_types.h"

namespace {

using sluice::bench::cycles_since;
using sluice::bench::Rng;
using sluice::bench::thread_cpu_seconds;

using namespace sluice::dataplane;

constexpr unsigned kRingSize = 1024;  // holds kRingSize - 1 frames
constexpr uint16_t kFrameLen = 64;

class LoopbackPorts {
 public:
  LoopbackPorts() {
    pool_ = create_packet_pool("bench_pkts", 8192, static_cast<int>(rte_socket_id()),
                               PoolLayout::kPacked);
    for (unsigned i = 0; i < ports_.size(); ++i) {
      const std::string name = "bench_ring" + std::to_string(i);
      rings_[i] = rte_ring_create(name.c_str(), kRingSize, static_cast<int>(rte_socket_id()),
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (rings_[i] == nullptr) throw std::runtime_error("rte_ring_create: " + name);
      const int id = rte_eth_from_rings(("net_" + name).c_str(), &rings_[i], 1, &rings_[i], 1,
                                        rte_socket_id());
      if (id < 0) throw std::runtime_error("rte_eth_from_rings: " + name);
      ports_[i] =
          start_port(static_cast<uint16_t>(id), PortConfig{.name = name, .device = name}, 1, pool_);
    }
  }

  ~LoopbackPorts() {
    drain();
    stop_ports({ports_.begin(), ports_.end()});
    for (rte_ring* ring : rings_) rte_ring_free(ring);
    rte_mempool_free(pool_);
  }
  LoopbackPorts(const LoopbackPorts&) = delete;
  LoopbackPorts& operator=(const LoopbackPorts&) = delete;

  const Port& port(unsigned i) const { return ports_[i]; }

  // Puts `frames` 64-byte frames into each port's ring (and so into its receive queue).
  void seed(unsigned frames) {
    for (rte_ring* ring : rings_) {
      std::vector<rte_mbuf*> mbufs(frames);
      if (rte_pktmbuf_alloc_bulk(pool_, mbufs.data(), frames) != 0) {
        throw std::runtime_error("cannot allocate frames to seed");
      }
      for (rte_mbuf* m : mbufs) {
        auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kFrameLen));
        std::memset(eth, 0, kFrameLen);
        eth->dst_addr.addr_bytes[0] = 0x02;
        eth->src_addr.addr_bytes[0] = 0x02;
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
      }
      if (rte_ring_enqueue_bulk(ring, reinterpret_cast<void**>(mbufs.data()), frames, nullptr) !=
          frames) {
        rte_pktmbuf_free_bulk(mbufs.data(), frames);
        throw std::runtime_error("ring too small for the frames to seed");
      }
    }
  }

  // Frees every frame left in the rings; returns how many there were.
  unsigned drain() {
    unsigned total = 0;
    std::array<rte_mbuf*, kBurstSize> burst;
    for (rte_ring* ring : rings_) {
      while (unsigned n = rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(burst.data()),
                                                 burst.size(), nullptr)) {
        rte_pktmbuf_free_bulk(burst.data(), n);
        total += n;
      }
    }
    return total;
  }

 private:
  rte_mempool* pool_ = nullptr;
  std::array<rte_ring*, 2> rings_{};
  std::array<Port, 2> ports_{};
};

LoopbackPorts* ports = nullptr;

// Seeds frames for one benchmark run and checks, at the end, that none were lost.
class Circulation {
 public:
  Circulation(benchmark::State& state, unsigned frames_per_port) : state_(state) {
    ports->seed(frames_per_port);
    expected_ = 2 * frames_per_port;
  }
  ~Circulation() {
    if (unsigned left = ports->drain(); left != expected_) {
      state_.SkipWithError("frames were lost while circulating");
    }
  }
  Circulation(const Circulation&) = delete;
  Circulation& operator=(const Circulation&) = delete;

 private:
  benchmark::State& state_;
  unsigned expected_ = 0;
};

// Packets per second, and TSC cycles per packet over the time this thread ran since `start` (a
// thread_cpu_seconds() value): time lost to other processes on the core is not counted.
void report(benchmark::State& state, uint64_t packets, double start) {
  const double cycles = cycles_since(start);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["cycles/pkt"] = packets ? cycles / static_cast<double>(packets) : 0.0;
}

// One WireJob::poll per iteration: a burst from each port to the other, with egress checks and
// per-port counters.
void BM_WirePoll(benchmark::State& state) {
  Circulation frames(state, static_cast<unsigned>(state.range(0)));
  WireJob job(ports->port(0), ports->port(1), 0);
  WorkerCounters counters{};
  uint64_t packets = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) packets += job.poll(counters);
  report(state, packets, start);
}
BENCHMARK(BM_WirePoll)->ArgName("frames_per_port")->Arg(32)->Arg(256);

// A job that stops the worker loop after a fixed number of passes.
struct BoundedJob {
  WireJob& job;
  std::atomic<bool>& stop;
  uint64_t passes_left;
  uint64_t packets = 0;

  uint32_t poll(WorkerCounters& counters) {
    const uint32_t n = job.poll(counters);
    packets += n;
    if (--passes_left == 0) stop.store(true, std::memory_order_relaxed);
    return n;
  }
};

// The worker core's whole loop (run_worker_loop: TSC read and per-core accounting each pass)
// around the wire, 1024 passes per iteration.
void BM_WorkerLoop(benchmark::State& state) {
  constexpr uint64_t kPasses = 1024;
  Circulation frames(state, static_cast<unsigned>(state.range(0)));
  WireJob job(ports->port(0), ports->port(1), 0);
  WorkerCounters counters{};
  uint64_t packets = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    std::atomic<bool> stop{false};
    BoundedJob bounded{job, stop, kPasses};
    run_worker_loop(bounded, counters, stop);
    packets += bounded.packets;
  }
  report(state, packets, start);
}
BENCHMARK(BM_WorkerLoop)->ArgName("frames_per_port")->Arg(32)->Arg(256);

// The same bursts with nothing but rte_eth_rx_burst and rte_eth_tx_burst.
void BM_BareForward(benchmark::State& state) {
  Circulation frames(state, static_cast<unsigned>(state.range(0)));
  const uint16_t a = ports->port(0).id, b = ports->port(1).id;
  rte_mbuf* pkts[kBurstSize];
  uint64_t packets = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(a, 0, pkts, kBurstSize);
    packets += rte_eth_tx_burst(b, 0, pkts, n);
    const uint16_t m = rte_eth_rx_burst(b, 0, pkts, kBurstSize);
    packets += rte_eth_tx_burst(a, 0, pkts, m);
  }
  report(state, packets, start);
}
BENCHMARK(BM_BareForward)->ArgName("frames_per_port")->Arg(32)->Arg(256);

// transmit_burst (egress checks, tx, tx counters) of one burst into a port, and a bare
// rte_eth_rx_burst to take the burst back.
void BM_TransmitBurst(benchmark::State& state) {
  Circulation frames(state, kBurstSize);
  const EgressQueue out = ports->port(0).egress(0);
  const uint16_t port = ports->port(0).id;
  WorkerCounters counters{};
  rte_mbuf* pkts[kBurstSize];
  uint64_t packets = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(port, 0, pkts, kBurstSize);
    packets += transmit_burst(out, pkts, n, counters.ports[port]).sent;
  }
  report(state, packets, start);
}
BENCHMARK(BM_TransmitBurst);

// The floor for the one above: rx and tx of one burst on one port, nothing else.
void BM_BareRxTx(benchmark::State& state) {
  Circulation frames(state, kBurstSize);
  const uint16_t port = ports->port(0).id;
  rte_mbuf* pkts[kBurstSize];
  uint64_t packets = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    const uint16_t n = rte_eth_rx_burst(port, 0, pkts, kBurstSize);
    packets += rte_eth_tx_burst(port, 0, pkts, n);
  }
  report(state, packets, start);
}
BENCHMARK(BM_BareRxTx);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::run_with_eal(argc, argv, "wire-bench", [] {
    LoopbackPorts loopbacks;
    ports = &loopbacks;
    benchmark::AddCustomContext("lcore", std::to_string(rte_lcore_id()));
    benchmark::RunSpecifiedBenchmarks();
    ports = nullptr;
  });
}
