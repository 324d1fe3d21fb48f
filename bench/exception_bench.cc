// What the exception path costs a worker core, in this process, on two idle ports made of
// rte_rings (net_ring):
//   * the check worker 0 makes each pass for frames from the kernel: a burst dequeue from an empty
//     single-producer/single-consumer ring;
//   * a whole idle pass of the balancer's job (LbJob::poll) without and with the exception path;
//   * handing one frame to the kernel: the multi-producer enqueue and the doorbell check (the
//     consumer awake, so no system call), with the consumer's dequeue to keep the ring empty.
// Each reports TSC cycles per operation over the thread's CPU time.
#include <benchmark/benchmark.h>

#include "bench_util.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include "bench_main.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "exception_path.h"
#include "lb_job.h"
#include "port.h"
#include "snapshot.h"

namespace {

using sluice::bench::cycles_since;
using sluice::bench::Rng;
using sluice::bench::thread_cpu_seconds;

using namespace sluice;
using namespace sluice::dataplane;

void report(benchmark::State& state, double start, const char* unit) {
  const double cycles = cycles_since(start);
  state.counters[unit] = cycles / static_cast<double>(state.iterations());
}

// Two idle ports and what a balancer job needs around them.
class Fixture {
 public:
  Fixture() {
    pool_ = create_packet_pool("exc_bench_pkts", 4096, static_cast<int>(rte_socket_id()),
                               PoolLayout::kPacked);
    std::vector<lb::LbPort> lb_ports;
    const char* addresses[2] = {"10.99.0.2/24", "10.99.1.2/24"};
    for (unsigned i = 0; i < rings_.size(); ++i) {
      const std::string name = "exc_bench_ring" + std::to_string(i);
      rings_[i] = rte_ring_create(name.c_str(), 1024, static_cast<int>(rte_socket_id()),
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (rings_[i] == nullptr) throw std::runtime_error("rte_ring_create: " + name);
      const int id = rte_eth_from_rings(("net_" + name).c_str(), &rings_[i], 1, &rings_[i], 1,
                                        rte_socket_id());
      if (id < 0) throw std::runtime_error("rte_eth_from_rings: " + name);
      ports_[i] =
          start_port(static_cast<uint16_t>(id), PortConfig{.name = name, .device = name}, 1, pool_);
      lb::LbPort p;
      p.id = ports_[i].id;
      p.name = name;
      p.mac = {0x02, 0, 0, 0, 0, static_cast<uint8_t>(i + 1)};
      p.addresses = {*parse_ip_prefix(addresses[i])};
      lb_ports.push_back(p);
    }
    lb::LbConfig config;
    config.flow_table_size = 65536;
    config.maglev_table_size = 251;
    config.nat_addresses = {*parse_ip_address("10.99.1.2")};
    lb::ServiceConfig s;
    s.name = "web";
    s.vip = *parse_ip_address("10.99.0.100");
    s.port = 80;
    s.backends = {{*parse_ip_address("10.99.1.10"), 0, 1}};
    config.services = {s};
    runtime_ = std::make_unique<dataplane::SnapshotPublisher<lb::LbRuntime>>(
        1, std::make_unique<lb::LbRuntime>(config, lb_ports));
    exception_ = std::make_unique<exception::ExceptionRings>("bench");
  }
  ~Fixture() {
    exception_.reset();
    runtime_.reset();
    stop_ports({ports_.begin(), ports_.end()});
    for (rte_ring* r : rings_) rte_ring_free(r);
    rte_mempool_free(pool_);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  lb::LbJob job(bool with_exception) {
    return lb::LbJob(
        *runtime_, {ports_[0].egress(0), ports_[1].egress(0)},
        {.flow_table_size = 65536,
         .exception = with_exception ? exception_->channel(true) : exception::ExceptionChannel{}});
  }
  exception::ExceptionRings& exception() { return *exception_; }
  rte_mempool* pool() const { return pool_; }

 private:
  rte_mempool* pool_ = nullptr;
  std::array<rte_ring*, 2> rings_{};
  std::array<Port, 2> ports_{};
  std::unique_ptr<dataplane::SnapshotPublisher<lb::LbRuntime>> runtime_;
  std::unique_ptr<exception::ExceptionRings> exception_;
};

Fixture* fixture = nullptr;

// Worker 0's per-pass check for frames from the kernel, on an empty ring.
void BM_EmptyFromKernelCheck(benchmark::State& state) {
  const exception::ExceptionChannel channel = fixture->exception().channel(true);
  rte_mbuf* pkts[kBurstSize];
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    benchmark::DoNotOptimize(channel.receive(pkts, kBurstSize));
    benchmark::ClobberMemory();
  }
  report(state, start, "cycles/check");
}
BENCHMARK(BM_EmptyFromKernelCheck);

// One idle pass of the balancer's job over two ports: without (0) or with (1) the exception path.
void BM_IdleLbPass(benchmark::State& state) {
  lb::LbJob job = fixture->job(state.range(0) != 0);
  WorkerCounters counters{};
  const double start = thread_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(job.poll(counters));
  report(state, start, "cycles/pass");
}
BENCHMARK(BM_IdleLbPass)->ArgName("exception_path")->Arg(0)->Arg(1);

// A worker hands one frame to the (awake) consumer, which takes it off the ring.
void BM_HandOneFrameToKernel(benchmark::State& state) {
  const exception::ExceptionChannel channel = fixture->exception().channel(false);
  rte_ring* ring = fixture->exception().to_kernel();
  rte_mbuf* m = rte_pktmbuf_alloc(fixture->pool());
  void* out[1];
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    benchmark::DoNotOptimize(channel.send(&m, 1));
    benchmark::DoNotOptimize(rte_ring_sc_dequeue_burst(ring, out, 1, nullptr));
  }
  report(state, start, "cycles/frame");
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_HandOneFrameToKernel);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::run_with_eal(argc, argv, "exception-bench", [] {
    Fixture f;
    fixture = &f;
    benchmark::RunSpecifiedBenchmarks();
    fixture = nullptr;
  });
}
