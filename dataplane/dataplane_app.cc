#include "dataplane_app.h"

#include <fmt/format.h>
#include <poll.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "control_server.h"
#include "eal.h"
#include "exception_path.h"
#include "lb_apply.h"
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

// The main lcore's management loop. Runs `workers` until a stop signal, printing counters
// (`print`) on SIGUSR1 and periodically; it sleeps in poll() on the signals and, with an exception
// path, on its doorbell and TAPs, and with a control socket on its listener and connection, which
// it serves.
template <class Job>
void serve(const DataplaneConfig& config, Workers<Job>& workers, std::atomic<bool>& stop,
           const std::function<void()>& print, exception::ExceptionPath* exception = nullptr,
           const std::function<void()>& reload = {}, control::ControlServer* control = nullptr) {
  using Clock = std::chrono::steady_clock;
  SignalFd signals;
  // The signalfd, the exception path's descriptors, then the control socket's (refreshed every
  // pass: its connection comes and goes).
  std::vector<pollfd> fds{{signals.fd(), POLLIN, 0}};
  if (exception != nullptr) {
    const std::vector<pollfd> more = exception->poll_fds();
    fds.insert(fds.end(), more.begin(), more.end());
  }
  const size_t control_at = fds.size();
  if (control != nullptr) fds.resize(control_at + control::ControlServer::kPollFds);
  workers.launch();
  const auto interval = std::chrono::seconds(config.stats_interval_s);
  auto next_stats = Clock::now() + interval;
  for (;;) {
    int timeout_ms = -1;
    if (config.stats_interval_s != 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_stats - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left) + 1);
    }
    if (exception != nullptr && !exception->ready_to_sleep()) timeout_ms = 0;
    if (control != nullptr) std::ranges::copy(control->poll_fds(), fds.begin() + control_at);
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      // Cannot happen with these descriptors; stop cleanly rather than with workers running.
      fmt::print(stderr, "sluice-dataplane: poll: {}; stopping\n", std::strerror(errno));
      break;
    }
    if (exception != nullptr) exception->service(std::span(fds).subspan(1, control_at - 1));
    if (control != nullptr) control->service(std::span(fds).subspan(control_at));
    const SignalEvents ev = (fds[0].revents & POLLIN) != 0 ? signals.take() : SignalEvents{};
    if (ev.stop) break;
    if (ev.reload) {
      if (reload) {
        reload();
      } else {
        fmt::print(stderr, "sluice-dataplane: SIGHUP: nothing to reload for this job\n");
      }
    }
    const bool periodic = config.stats_interval_s != 0 && Clock::now() >= next_stats;
    if (ev.dump_stats || periodic) {
      print();
      next_stats = Clock::now() + interval;
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

// One TAP per port, carrying the port's MAC, MTU and addresses.
std::vector<exception::TapDevice> open_taps(const DataplaneConfig& config,
                                            const lb::LbRuntime& runtime, const std::string& base) {
  const std::vector<std::string> names = exception::tap_names(base, runtime.ports().size());
  std::vector<exception::TapDevice> taps;
  for (size_t i = 0; i < names.size(); ++i) {
    taps.push_back(exception::TapDevice::open(
        {names[i], runtime.ports()[i].mac, config.ports[i].mtu, config.ports[i].addresses}));
    for (const IpPrefix& p : taps.back().skipped_addresses()) {
      fmt::print(stderr, "note: IPv6 is disabled on {}; {}/{} is not given to the kernel\n",
                 names[i], format_ip_address(p.address), p.length);
    }
  }
  return taps;
}

// Full-NAT source ports. When the kernel holds a NAT address too (it is a port's own address and
// the exception path gives the port's addresses to the kernel), connections the kernel opens
// from it (health checks, curl) take ephemeral ports from net.ipv4.ip_local_port_range; a NAT
// flow on the same port towards the same backend would be the same connection on the wire. The
// NAT then keeps to the larger range beside the kernel's.
std::pair<uint16_t, uint16_t> nat_ports(const lb::LbRuntime& runtime, bool exception_path) {
  constexpr std::pair<uint16_t, uint16_t> kAll{1024, 65535};
  if (!exception_path) return kAll;
  const IpAddress* shared = nullptr;
  for (const auto& a : runtime.nat_addresses()) {
    if (runtime.is_port_address(a)) {
      shared = &a;
      break;
    }
  }
  if (shared == nullptr) return kAll;
  unsigned lo = 32768, hi = 60999;  // Linux's defaults
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  const unsigned below = lo > 1024 ? lo - 1024 : 0;
  const unsigned above = hi < 65535 ? 65535 - hi : 0;
  constexpr unsigned kEnough = 1024;
  if (std::max(below, above) < kEnough) {
    fmt::print(stderr,
               "warning: the kernel's ephemeral ports {}-{} leave no room for full-NAT ports on "
               "{}; the kernel's own connections from it may collide with NAT flows\n",
               lo, hi, format_ip_address(*shared));
    return kAll;
  }
  const std::pair<uint16_t, uint16_t> range =
      below >= above ? std::pair<uint16_t, uint16_t>{1024, static_cast<uint16_t>(lo - 1)}
                     : std::pair<uint16_t, uint16_t>{static_cast<uint16_t>(hi + 1), 65535};
  fmt::print("note: full-NAT source ports {}-{}: {} is also the kernel's, which keeps {}-{}\n",
             range.first, range.second, format_ip_address(*shared), lo, hi);
  return range;
}

// The CPUs of `start` that are no worker's: where the balancer's Maglev builds may run without
// taking a worker's core (those that EAL pinned the main thread to are among them).
std::vector<unsigned> spare_cpus(const cpu_set_t& start, const std::vector<unsigned>& workers) {
  std::vector<unsigned> cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &start) && std::find(workers.begin(), workers.end(), c) == workers.end())
      cpus.push_back(c);
  }
  return cpus;
}

void run_lb(const DataplaneConfig& config, const lb::LbConfig& start_config,
            const LbConfigLoader& reload_lb, const std::vector<Port>& ports, rte_mempool* pool,
            const cpu_set_t& start_cpus) {
  lb::LbConfig lb_config = start_config;
  lb_config.build_cpus = spare_cpus(start_cpus, config.cores.workers);
  const std::vector<lb::LbPort> lb_port_list = lb_ports(config, ports);
  const uint16_t queues = common_queues(ports);
  const auto worker_count =
      static_cast<uint16_t>(std::min<size_t>(queues, config.cores.workers.size()));
  SnapshotPublisher<lb::LbRuntime> snapshots(
      worker_count, std::make_unique<lb::LbRuntime>(lb_config, lb_port_list));
  const lb::LbRuntime& first = *snapshots.current();
  std::unique_ptr<exception::ExceptionRings> rings;
  std::unique_ptr<exception::ExceptionPath> exception_path;
  if (!lb_config.exception_interface.empty()) {
    rings = std::make_unique<exception::ExceptionRings>("lb");
    exception_path = std::make_unique<exception::ExceptionPath>(
        *rings, open_taps(config, first, lb_config.exception_interface), pool);
  }
  const std::pair<uint16_t, uint16_t> nat = nat_ports(first, rings != nullptr);
  std::atomic<bool> stop{false};
  Workers<lb::LbJob> workers(config.cores.workers, queues, stop, [&](uint16_t q) {
    std::vector<EgressQueue> egress;
    for (const auto& p : ports) egress.push_back(p.egress(q));
    // Worker 0 also sends what the kernel sends, on its own queue.
    return lb::LbJob(snapshots, egress,
                     {.queue = q,
                      .worker_index = q,
                      .worker_count = worker_count,
                      .flow_table_size = lb_config.flow_table_size,
                      .new_flows_per_second = lb_config.new_flows_per_second,
                      .first_nat_port = nat.first,
                      .last_nat_port = nat.second,
                      .exception = rings ? rings->channel(q == 0) : exception::ExceptionChannel{}});
  });
  const std::vector<const lb::LbJob*> jobs = workers.jobs();
  const lb::LbTelemetry telemetry(snapshots, jobs);
  std::string taps;
  if (exception_path) {
    for (const auto& t : exception_path->taps()) taps += (taps.empty() ? "" : ", ") + t.name();
  }
  fmt::print("sluice-dataplane: lb with {} service(s) on {} port(s), {} worker(s){}\n",
             first.services().size(), ports.size(), workers.views().size(),
             taps.empty() ? "" : ", exception path on " + taps);
  std::fflush(stdout);
  auto print = [&] {
    print_stats(stdout, ports, workers.views());
    snapshots.read([&](const lb::LbRuntime& rt) { lb::print_lb_stats(stdout, rt, jobs); });
    if (exception_path) exception_path->print_stats(stdout);
  };
  // The control plane's snapshot now running; 0 while the start-up file's configuration runs.
  uint64_t generation = 0;
  // Services and backends change on SIGHUP; ports, cores, table sizes and the exception path stay
  // as started.
  auto reload = [&] {
    if (!reload_lb) {
      fmt::print(stderr, "sluice-dataplane: SIGHUP: no configuration file to reload\n");
      return;
    }
    try {
      lb::LbConfig next = reload_lb();
      next.build_cpus = lb_config.build_cpus;
      lb::publish_lb_config(snapshots, next, lb_port_list);
      generation = 0;
      fmt::print("sluice-dataplane: reloaded: {} service(s)\n", next.services.size());
    } catch (const std::exception& e) {
      fmt::print(stderr, "sluice-dataplane: reload rejected, configuration unchanged: {}\n",
                 e.what());
    }
    std::fflush(stdout);
    std::fflush(stderr);
  };
  std::unique_ptr<control::ControlServer> control;
  if (!config.control_socket.empty()) {
    control = std::make_unique<control::ControlServer>(
        config.control_socket,
        control::ControlHandlers{
            .hello =
                [&] {
                  return control::Hello{.role = "dataplane",
                                        .instance = config.instance,
                                        .pid = static_cast<uint32_t>(getpid()),
                                        .generation = generation,
                                        .workers = static_cast<uint32_t>(jobs.size())};
                },
            .apply =
                [&](const control::ApplySnapshot& s) {
                  const control::SnapshotResult r =
                      lb::apply_snapshot(snapshots, lb_config, lb_port_list, s);
                  if (r.ok) {
                    generation = s.generation;
                    fmt::print("sluice-dataplane: snapshot {}: {} service(s)\n", s.generation,
                               s.services.size());
                  } else {
                    fmt::print(stderr, "sluice-dataplane: snapshot {} rejected: {}\n", s.generation,
                               r.error);
                  }
                  std::fflush(stdout);
                  return r;
                },
            .stats =
                [&] {
                  control::StatsReply r;
                  snapshots.read([&](const lb::LbRuntime& rt) {
                    r = lb::lb_stats_reply(rt, jobs, workers.views());
                  });
                  r.generation = generation;
                  return r;
                }});
    fmt::print("sluice-dataplane: control socket {}\n", config.control_socket);
    std::fflush(stdout);
  }
  serve(config, workers, stop, print, exception_path.get(), reload, control.get());
}

}  // namespace

int run_dataplane(const DataplaneConfig& config, const lb::LbConfig& lb_config,
                  const LbConfigLoader& reload_lb, const char* program) {
  block_signals();       // before EAL starts its threads, so that they inherit the mask
  cpu_set_t start_cpus;  // before EAL pins this thread to the main core
  CPU_ZERO(&start_cpus);
  sched_getaffinity(0, sizeof start_cpus, &start_cpus);
  const HostFacts host = probe_host();
  const bool huge = use_hugepages(config, host);
  EalSession eal(build_eal_args(config, host, program));

  const auto queues = static_cast<uint16_t>(config.cores.workers.size());
  const bool exception_path = config.job == Job::kLb && !lb_config.exception_interface.empty();
  const unsigned mbufs = config.mbufs
                             ? config.mbufs
                             : mbufs_needed(config, queues) +
                                   (exception_path ? exception::ExceptionRings::capacity() : 0);
  rte_mempool* pool = create_packet_pool("sluice_pkts", mbufs, static_cast<int>(rte_socket_id()),
                                         pool_layout(config, huge));
  std::vector<Port> ports = start_ports(config, queues, pool);
  fmt::print("sluice-dataplane: {}, {} mbufs\n", huge ? "hugepages" : "no hugepages", mbufs);
  switch (config.job) {
    case Job::kWire:
      run_wire(config, ports);
      break;
    case Job::kLb:
      run_lb(config, lb_config, reload_lb, ports, pool, start_cpus);
      break;
    case Job::kQueues:  // run_queue_service, without EAL
    case Job::kProxy:   // run_proxy_service, without EAL
      break;
  }
  stop_ports(ports);
  rte_mempool_free(pool);
  return 0;
}

}  // namespace sluice::dataplane
