#include "dataplane_app.h"

#include <fmt/format.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <vector>

#include "eal.h"
#include "port.h"
#include "signals.h"
#include "stats.h"
#include "wire.h"
#include "worker.h"

namespace sluice::dataplane {
namespace {

// Everything one worker core touches, allocated on that core's NUMA node.
struct WorkerSlot {
  WireJob job;
  WorkerCounters counters;
  const std::atomic<bool>* stop;
};

int worker_main(void* arg) {
  auto* slot = static_cast<WorkerSlot*>(arg);
  run_worker_loop(slot->job, slot->counters, *slot->stop);
  return 0;
}

class Workers {
 public:
  Workers(const Port& a, const Port& b, const std::vector<unsigned>& lcores,
          const std::atomic<bool>& stop) {
    const uint16_t queues = std::min(a.queues, b.queues);
    for (unsigned lcore : lcores) {
      if (slots_.size() == queues) {
        fmt::print(stderr,
                   "note: lcore {} has no queue pair to poll (ports offer {}); it stays idle\n",
                   lcore, queues);
        continue;
      }
      void* mem = rte_zmalloc_socket("worker", sizeof(WorkerSlot), RTE_CACHE_LINE_SIZE,
                                     static_cast<int>(rte_lcore_to_socket_id(lcore)));
      if (mem == nullptr) throw std::runtime_error("cannot allocate worker state");
      auto queue = static_cast<uint16_t>(slots_.size());
      slots_.push_back(new (mem) WorkerSlot{WireJob(a, b, queue), {}, &stop});
      views_.push_back({lcore, &slots_.back()->counters});
    }
  }
  ~Workers() {
    for (auto* s : slots_) {
      s->~WorkerSlot();
      rte_free(s);
    }
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  void launch() {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (rte_eal_remote_launch(worker_main, slots_[i], views_[i].lcore) != 0) {
        throw std::runtime_error(fmt::format("cannot launch worker on lcore {}", views_[i].lcore));
      }
    }
  }
  void join() { rte_eal_mp_wait_lcore(); }
  const std::vector<WorkerView>& views() const { return views_; }

 private:
  std::vector<WorkerSlot*> slots_;
  std::vector<WorkerView> views_;
};

}  // namespace

int run_dataplane(const DataplaneConfig& config, const char* program) {
  block_signals();  // before EAL starts its threads, so that they inherit the mask
  const HostFacts host = probe_host();
  const bool huge = use_hugepages(config, host);
  EalSession eal(build_eal_args(config, host, program));

  const auto queues = static_cast<uint16_t>(config.cores.workers.size());
  const unsigned mbufs = config.mbufs ? config.mbufs : mbufs_needed(config, queues);
  rte_mempool* pool = create_packet_pool("sluice_pkts", mbufs, static_cast<int>(rte_socket_id()),
                                         pool_layout(config, huge));
  std::vector<Port> ports = start_ports(config, queues, pool);

  std::atomic<bool> stop{false};
  Workers workers(ports[0], ports[1], config.cores.workers, stop);
  fmt::print("sluice-dataplane: wire {} <-> {}, {} worker(s), {}, {} mbufs\n", ports[0].name,
             ports[1].name, workers.views().size(), huge ? "hugepages" : "no hugepages", mbufs);
  std::fflush(stdout);
  workers.launch();

  const auto tick = std::chrono::milliseconds(200);
  auto next_stats =
      std::chrono::steady_clock::now() + std::chrono::seconds(config.stats_interval_s);
  for (;;) {
    SignalEvent ev = wait_for_signal(tick);
    if (ev == SignalEvent::kStop) break;
    const bool periodic =
        config.stats_interval_s != 0 && std::chrono::steady_clock::now() >= next_stats;
    if (ev == SignalEvent::kDumpStats || periodic) {
      print_stats(stdout, ports, workers.views());
      next_stats = std::chrono::steady_clock::now() + std::chrono::seconds(config.stats_interval_s);
    }
  }
  stop.store(true, std::memory_order_relaxed);
  workers.join();
  fmt::print("sluice-dataplane: stopped\n");
  print_stats(stdout, ports, workers.views());
  stop_ports(ports);
  rte_mempool_free(pool);
  return 0;
}

}  // namespace sluice::dataplane
