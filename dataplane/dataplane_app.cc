#include "dataplane_app.h"

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "eal.h"
#include "lb_job.h"
#include "lb_stats.h"
#include "lb_telemetry.h"
#include "port.h"
#include "signals.h"
#include "snapshot.h"
#include "stats.h"
#include "wire.h"
#include "worker.h"

namespace sluice::dataplane {
namespace {

// Everything one worker core touches, allocated on that core's NUMA node.
template <class Job>
struct WorkerSlot {
  Job job;
  WorkerCounters counters;
  const std::atomic<bool>* stop;
};

template <class Job>
int worker_main(void* arg) {
  auto* slot = static_cast<WorkerSlot<Job>*>(arg);
  run_worker_loop(slot->job, slot->counters, *slot->stop);
  return 0;
}

// One job per worker lcore that has a queue to poll; worker i polls queue i of every port.
template <class Job>
class Workers {
 public:
  Workers(const std::vector<unsigned>& lcores, uint16_t queues, const std::atomic<bool>& stop,
          const std::function<Job(uint16_t queue)>& make_job) {
    for (unsigned lcore : lcores) {
      if (slots_.size() == queues) {
        fmt::print(stderr, "note: lcore {} has no queue to poll (ports offer {}); it stays idle\n",
                   lcore, queues);
        continue;
      }
      void* mem = rte_zmalloc_socket("worker", sizeof(WorkerSlot<Job>), RTE_CACHE_LINE_SIZE,
                                     static_cast<int>(rte_lcore_to_socket_id(lcore)));
      if (mem == nullptr) throw std::runtime_error("cannot allocate worker state");
      const auto queue = static_cast<uint16_t>(slots_.size());
      slots_.push_back(new (mem) WorkerSlot<Job>{make_job(queue), {}, &stop});
      views_.push_back({lcore, &slots_.back()->counters});
    }
  }
  ~Workers() {
    for (auto* s : slots_) {
      s->~WorkerSlot<Job>();
      rte_free(s);
    }
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  void launch() {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (rte_eal_remote_launch(worker_main<Job>, slots_[i], views_[i].lcore) != 0) {
        throw std::runtime_error(fmt::format("cannot launch worker on lcore {}", views_[i].lcore));
      }
    }
  }
  void join() { rte_eal_mp_wait_lcore(); }
  const std::vector<WorkerView>& views() const { return views_; }
  std::vector<const Job*> jobs() const {
    std::vector<const Job*> out;
    for (const auto* s : slots_) out.push_back(&s->job);
    return out;
  }

 private:
  std::vector<WorkerSlot<Job>*> slots_;
  std::vector<WorkerView> views_;
};

uint16_t common_queues(const std::vector<Port>& ports) {
  uint16_t q = UINT16_MAX;
  for (const auto& p : ports) q = std::min(q, p.queues);
  return q;
}

// Runs `workers` until a stop signal, printing counters (`print`) on SIGUSR1 and periodically.
template <class Job>
void serve(const DataplaneConfig& config, Workers<Job>& workers, std::atomic<bool>& stop,
           const std::function<void()>& print, const std::function<void()>& reload = {}) {
  workers.launch();
  const auto tick = std::chrono::milliseconds(200);
  const auto interval = std::chrono::seconds(config.stats_interval_s);
  auto next_stats = std::chrono::steady_clock::now() + interval;
  for (;;) {
    const SignalEvent ev = wait_for_signal(tick);
    if (ev == SignalEvent::kStop) break;
    if (ev == SignalEvent::kReload) {
      if (reload) {
        reload();
      } else {
        fmt::print(stderr, "sluice-dataplane: SIGHUP: nothing to reload for this job\n");
      }
    }
    const bool periodic =
        config.stats_interval_s != 0 && std::chrono::steady_clock::now() >= next_stats;
    if (ev == SignalEvent::kDumpStats || periodic) {
      print();
      next_stats = std::chrono::steady_clock::now() + interval;
    }
  }
  stop.store(true, std::memory_order_relaxed);
  workers.join();
  fmt::print("sluice-dataplane: stopped\n");
  print();
}

std::vector<lb::LbPort> lb_ports(const DataplaneConfig& config, const std::vector<Port>& ports) {
  std::vector<lb::LbPort> out;
  for (size_t i = 0; i < ports.size(); ++i) {
    lb::LbPort p;
    p.id = ports[i].id;
    p.name = ports[i].name;
    rte_ether_addr mac;
    rte_eth_macaddr_get(p.id, &mac);
    std::copy(mac.addr_bytes, mac.addr_bytes + 6, p.mac.begin());
    p.addresses = config.ports[i].addresses;
    out.push_back(std::move(p));
  }
  return out;
}

void run_wire(const DataplaneConfig& config, const std::vector<Port>& ports) {
  std::atomic<bool> stop{false};
  Workers<WireJob> workers(config.cores.workers, common_queues(ports), stop,
                           [&](uint16_t q) { return WireJob(ports[0], ports[1], q); });
  fmt::print("sluice-dataplane: wire {} <-> {}, {} worker(s)\n", ports[0].name, ports[1].name,
             workers.views().size());
  std::fflush(stdout);
  serve(config, workers, stop, [&] { print_stats(stdout, ports, workers.views()); });
}

void run_lb(const DataplaneConfig& config, const lb::LbConfig& lb_config,
            const LbConfigLoader& reload_lb, const std::vector<Port>& ports) {
  const std::vector<lb::LbPort> lb_port_list = lb_ports(config, ports);
  const uint16_t queues = common_queues(ports);
  const auto worker_count =
      static_cast<uint16_t>(std::min<size_t>(queues, config.cores.workers.size()));
  SnapshotPublisher<lb::LbRuntime> snapshots(
      worker_count, std::make_unique<lb::LbRuntime>(lb_config, lb_port_list));
  std::atomic<bool> stop{false};
  Workers<lb::LbJob> workers(config.cores.workers, queues, stop, [&](uint16_t q) {
    std::vector<EgressQueue> egress;
    for (const auto& p : ports) egress.push_back(p.egress(q));
    return lb::LbJob(snapshots, egress,
                     {.queue = q,
                      .worker_index = q,
                      .worker_count = worker_count,
                      .flow_table_size = lb_config.flow_table_size,
                      .new_flows_per_second = lb_config.new_flows_per_second});
  });
  const lb::LbTelemetry telemetry(snapshots, workers.jobs());
  fmt::print("sluice-dataplane: lb with {} service(s) on {} port(s), {} worker(s)\n",
             snapshots.current()->services().size(), ports.size(), workers.views().size());
  std::fflush(stdout);
  auto print = [&] {
    print_stats(stdout, ports, workers.views());
    const auto jobs = workers.jobs();
    snapshots.read([&](const lb::LbRuntime& rt) { lb::print_lb_stats(stdout, rt, jobs); });
  };
  // Services and backends change on SIGHUP; ports, cores and table sizes stay as started.
  auto reload = [&] {
    if (!reload_lb) {
      fmt::print(stderr, "sluice-dataplane: SIGHUP: no configuration file to reload\n");
      return;
    }
    try {
      const lb::LbConfig next = reload_lb();
      std::unique_ptr<lb::LbRuntime> runtime;
      snapshots.read([&](const lb::LbRuntime& current) {
        runtime = std::make_unique<lb::LbRuntime>(next, lb_port_list, &current);
      });
      const size_t services = runtime->services().size();
      snapshots.publish(std::move(runtime));
      fmt::print("sluice-dataplane: reloaded: {} service(s)\n", services);
    } catch (const std::exception& e) {
      fmt::print(stderr, "sluice-dataplane: reload rejected, configuration unchanged: {}\n",
                 e.what());
    }
    std::fflush(stdout);
    std::fflush(stderr);
  };
  serve(config, workers, stop, print, reload);
}

}  // namespace

int run_dataplane(const DataplaneConfig& config, const lb::LbConfig& lb_config,
                  const LbConfigLoader& reload_lb, const char* program) {
  block_signals();  // before EAL starts its threads, so that they inherit the mask
  const HostFacts host = probe_host();
  const bool huge = use_hugepages(config, host);
  EalSession eal(build_eal_args(config, host, program));

  const auto queues = static_cast<uint16_t>(config.cores.workers.size());
  const unsigned mbufs = config.mbufs ? config.mbufs : mbufs_needed(config, queues);
  rte_mempool* pool = create_packet_pool("sluice_pkts", mbufs, static_cast<int>(rte_socket_id()),
                                         pool_layout(config, huge));
  std::vector<Port> ports = start_ports(config, queues, pool);
  fmt::print("sluice-dataplane: {}, {} mbufs\n", huge ? "hugepages" : "no hugepages", mbufs);
  switch (config.job) {
    case Job::kWire:
      run_wire(config, ports);
      break;
    case Job::kLb:
      run_lb(config, lb_config, reload_lb, ports);
      break;
  }
  stop_ports(ports);
  rte_mempool_free(pool);
  return 0;
}

}  // namespace sluice::dataplane
