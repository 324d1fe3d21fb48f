// The control plane's one logic layer: the configuration in force (the YAML file plus changes
// made through the API), the health of every target, and the dataplane it drives. The REST API
// and therefore sluicectl call nothing else; a reload of the file goes through here too.
//
// Every change that alters what the dataplane should do (a registration, a weight, a drain, a
// health transition, a slow-start step, a drain delay ending, a reload) recompiles the balancer
// snapshot and pushes it when it differs from the last one the dataplane took. The configuration's
// queues are declared on the dataplane's SQS API by a QueueDeclarer on its own thread, at start
// and on every reload; a QueueDepthMonitor polls every queue's depth there and runs the depth
// hooks. Thread-safe: the REST server's threads call in while the owner's loop calls
// poll().
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "checker.h"
#include "control/control_protocol.h"
#include "control_config.h"
#include "dataplane_sink.h"
#include "lb_snapshot.h"
#include "proxy_connection.h"
#include "queue_declarer.h"
#include "queue_depth.h"

namespace sluice::controlplane {

using Json = nlohmann::ordered_json;

// An operation the caller got wrong or that cannot be done now; `status` is the HTTP status the
// REST API answers with and `code` a stable, machine-readable name.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
  int status;
  std::string code;
};

struct TargetRef {
  std::string group;
  IpAddress address;
  uint16_t port = 0;  // 0: the group's port
};

// Buckets (seconds) of the health-check latency histogram.
inline constexpr double kCheckLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5};

class Appliance {
 public:
  // `config_path` is what reload() reads again (empty: reload is refused). `sink` must outlive
  // this object.
  Appliance(ControlConfig config, std::string config_path, DataplaneSink& sink,
            uint64_t checker_seed = std::random_device{}(),
            QueueDeclarer::Options queue_options = {},
            QueueDepthMonitor::Options depth_options = {});
  ~Appliance();
  Appliance(const Appliance&) = delete;
  Appliance& operator=(const Appliance&) = delete;

  // The owner's loop: waits up to `max_wait` for health-check work, reconnects to the dataplane
  // (pushing the current snapshot to it on every new connection, which is how a restarted
  // dataplane or a restarted control plane resynchronises), and pushes snapshots that changed.
  void poll(std::chrono::milliseconds max_wait);

  // Views, as JSON documents.
  Json status();
  Json services();
  Json service(const std::string& name);
  Json target_groups();
  Json target_group(const std::string& name);
  Json health();
  Json stats();
  Json effective_config();
  // The declared queues (applied, or pending with the last error), then the other queues on the
  // endpoint ("undeclared"); each with its depth once polled.
  Json queues();
  std::string metrics();  // Prometheus text exposition

  // Changes. Each returns what it did and the snapshot generation the dataplane took with it.
  Json register_target(const TargetRef& target, uint16_t weight);
  Json deregister_target(const TargetRef& target);
  Json set_weight(const TargetRef& target, uint16_t weight);
  Json drain_target(const TargetRef& target);
  // Reads the file again; an invalid file changes nothing and is reported as an ApiError (400).
  Json reload();

  const ControlConfig& config_unlocked() const { return config_; }

  // Drives the L7 proxy behind `proxy` too (it must outlive this object): poll() pushes the
  // proxy's configuration (listeners and the http/https groups they forward to, with each target's
  // health) on every new connection and whenever it changes, and metrics() appends the proxy's
  // counters while it is connected. Nothing is pushed while the configuration has no listeners.
  void attach_proxy(ProxyConnection& proxy);

 private:
  struct Tracked {
    health::TargetId id = 0;
    bool drained_by_operator = false;  // drain_target: listed in its group, taking no new flows
    uint64_t passes = 0, failures = 0;
    std::array<uint64_t, std::size(kCheckLatencyBuckets) + 1> latency_buckets{};
    double latency_sum_s = 0;
  };

  void sync_checker_locked();
  void track_locked(const TargetGroup& g, const snapshot::TargetKey& key);
  void forget_locked(const snapshot::TargetKey& key);
  snapshot::HealthView health_view_locked() const;
  TargetGroup& group_locked(const std::string& name);
  snapshot::TargetKey key_locked(const TargetRef& target);
  Json push_locked(bool force);
  void push_proxy_locked(std::chrono::steady_clock::time_point now);
  std::string metrics_locked();
  control::ApplySnapshot compile_locked();
  Json target_json_locked(const TargetGroup& g, const IpAddress& address, uint16_t port,
                          std::optional<uint16_t> weight);
  health::HealthCheckConfig check_config(const TargetGroup& g) const;
  bool time_dependent_locked() const;

  std::mutex mu_;
  ControlConfig config_;
  std::string config_path_;
  DataplaneSink& sink_;
  health::Checker checker_;
  std::map<snapshot::TargetKey, Tracked> tracked_;
  std::map<health::TargetId, snapshot::TargetKey> keys_;
  health::TargetId next_id_ = 1;
  bool dirty_ = true;                 // the snapshot may have changed since the last push
  std::vector<uint8_t> last_pushed_;  // encoded services of the dataplane's current snapshot
  uint64_t generation_ = 0;
  uint64_t pushed_connection_ = 0;  // the sink's connection serial our snapshot went to
  uint64_t pushes_ = 0, push_failures_ = 0;
  std::optional<control::SnapshotResult> last_result_;
  std::string last_error_;
  std::chrono::steady_clock::time_point next_tick_{};
  std::chrono::steady_clock::time_point next_connect_{};
  QueueDeclarer declarer_;
  QueueDepthMonitor depth_;
  ProxyConnection* proxy_ = nullptr;
  std::string proxy_pushed_;  // the document the proxy took last, on proxy_connection_
  uint64_t proxy_connection_ = 0;
  uint64_t proxy_generation_ = 0;
  uint64_t proxy_pushes_ = 0, proxy_push_failures_ = 0;
  std::chrono::steady_clock::time_point next_proxy_connect_{};
};

}  // namespace sluice::controlplane
