#include "appliance.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "config_json.h"
#include "prometheus_text.h"
#include "proxy_config.h"
#include "proxy_snapshot.h"

namespace sluice::controlplane {
namespace {

using health::TargetState;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kReconnectInterval = seconds(1);
// Slow-start ramps and drain delays move with time alone: recompile this often while any runs.
constexpr auto kTimeTick = seconds(1);

double to_seconds(health::Duration d) {
  return std::chrono::duration<double>(d).count();
}

std::vector<uint8_t> encoded(const control::ApplySnapshot& s) {
  return control::encode(s);
}

Json result_json(const health::CheckResult& r) {
  Json j = {{"pass", r.pass}, {"latency_ms", to_seconds(r.latency) * 1000}};
  if (!r.pass) j["reason"] = std::string(health::to_string(r.reason));
  if (r.status_code != 0) j["status_code"] = r.status_code;
  return j;
}

}  // namespace

Appliance::Appliance(ControlConfig config, std::string config_path, DataplaneSink& sink,
                     uint64_t checker_seed, QueueDeclarer::Options queue_options,
                     QueueDepthMonitor::Options depth_options)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      sink_(sink),
      checker_(checker_seed),
      generation_(static_cast<uint64_t>(
          duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count())),
      declarer_(queue_options),
      depth_(std::move(depth_options)) {
  checker_.on_result([this](health::TargetId id, const health::CheckResult& r, TargetState before,
                            TargetState after) {
    // Runs inside checker_.poll(), which poll() calls with mu_ held.
    auto k = keys_.find(id);
    if (k == keys_.end()) return;
    Tracked& t = tracked_[k->second];
    (r.pass ? t.passes : t.failures)++;
    const double s = to_seconds(r.latency);
    size_t b = 0;
    while (b < std::size(kCheckLatencyBuckets) && s > kCheckLatencyBuckets[b]) ++b;
    t.latency_buckets[b]++;
    t.latency_sum_s += s;
    if (before != after) dirty_ = true;
  });
  std::lock_guard lock(mu_);
  sync_checker_locked();
  declarer_.declare(config_.queues);
  depth_.configure(config_.queues);
}

Appliance::~Appliance() = default;

health::HealthCheckConfig Appliance::check_config(const TargetGroup& g) const {
  const HealthCheck& hc = g.health_check;
  health::HealthCheckConfig c;
  c.protocol = hc.protocol == HealthProtocol::kTcp    ? health::CheckProtocol::kTcp
               : hc.protocol == HealthProtocol::kHttp ? health::CheckProtocol::kHttp
                                                      : health::CheckProtocol::kHttps;
  c.path = hc.path;
  c.port = hc.port;
  c.interval = seconds(hc.interval_s);
  c.timeout = seconds(hc.timeout_s);
  c.healthy_threshold = static_cast<int>(hc.healthy_threshold);
  c.unhealthy_threshold = static_cast<int>(hc.unhealthy_threshold);
  std::string matcher;
  for (const auto& [lo, hi] : hc.matcher) {
    if (!matcher.empty()) matcher += ',';
    matcher += std::to_string(lo) + (hi != lo ? "-" + std::to_string(hi) : "");
  }
  if (auto m = health::StatusMatcher::parse(matcher)) c.matcher = *m;
  c.deregistration_delay = seconds(g.deregistration_delay_s);
  c.slow_start = seconds(g.slow_start_s);
  return c;
}

void Appliance::track_locked(const TargetGroup& g, const snapshot::TargetKey& key) {
  const health::TargetId id = next_id_++;
  const uint16_t check_port = g.health_check.port != 0 ? g.health_check.port : key.port;
  checker_.add_target(id, {key.address, check_port}, check_config(g));
  tracked_[key] = Tracked{.id = id};
  keys_[id] = key;
}

void Appliance::forget_locked(const snapshot::TargetKey& key) {
  auto it = tracked_.find(key);
  if (it == tracked_.end()) return;
  checker_.remove_target(it->second.id);
  keys_.erase(it->second.id);
  tracked_.erase(it);
}

// Makes the checker follow the configuration: targets in a group are checked (new ones start
// initial), targets no longer in any group drain, and a target registered again after a
// deregistration starts over.
void Appliance::sync_checker_locked() {
  std::set<snapshot::TargetKey> wanted;
  for (const TargetGroup& g : config_.target_groups) {
    for (const Target& t : g.targets) {
      const snapshot::TargetKey key{g.name, t.address, snapshot::resolved_port(g, t)};
      wanted.insert(key);
      auto it = tracked_.find(key);
      if (it != tracked_.end()) {
        const auto state = checker_.state(it->second.id);
        const bool drained = state == TargetState::kDraining || state == TargetState::kUnused;
        if (!drained || it->second.drained_by_operator) {
          checker_.set_config(it->second.id, check_config(g));
          continue;
        }
        forget_locked(key);
      }
      track_locked(g, key);
    }
  }
  for (auto& [key, t] : tracked_) {
    if (wanted.contains(key)) continue;
    t.drained_by_operator = false;
    checker_.deregister_target(t.id);
  }
  dirty_ = true;
}

snapshot::HealthView Appliance::health_view_locked() const {
  snapshot::HealthView view;
  for (const auto& [key, t] : tracked_) {
    if (const health::TargetHealth* h = checker_.health(t.id)) view.targets.emplace(key, *h);
  }
  return view;
}

control::ApplySnapshot Appliance::compile_locked() {
  lb::LbConfig lb =
      snapshot::compile_lb_config(config_, health_view_locked(), health::Clock::now());
  return {.generation = 0,
          .nat_addresses = std::move(lb.nat_addresses),
          .tunnel_sources = std::move(lb.tunnel_sources),
          .services = std::move(lb.services)};
}

Json Appliance::push_locked(bool force) {
  const auto start = std::chrono::steady_clock::now();
  control::ApplySnapshot snap = compile_locked();
  std::vector<uint8_t> bytes = encoded(snap);
  const auto compiled = std::chrono::steady_clock::now();
  if (!force && bytes == last_pushed_) {
    dirty_ = false;
    return {{"applied", true}, {"generation", generation_}, {"unchanged", true}};
  }
  if (!sink_.connected()) {
    dirty_ = true;
    return {{"applied", false},
            {"error", "the dataplane is not connected; it takes this configuration when it is"}};
  }
  snap.generation = ++generation_;
  std::string error;
  const auto result = sink_.apply(snap, &error);
  const auto answered = std::chrono::steady_clock::now();
  ++pushes_;
  if (!result) {
    ++push_failures_;
    last_error_ = error;
    last_pushed_.clear();
    dirty_ = true;
    return {{"applied", false}, {"error", error}};
  }
  last_result_ = result;
  if (!result->ok) {
    ++push_failures_;
    last_error_ = result->error;
    dirty_ = false;  // the same input would be rejected again; the next change retries
    return {{"applied", false}, {"generation", snap.generation}, {"error", result->error}};
  }
  last_pushed_ = std::move(bytes);
  dirty_ = false;
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  return {{"applied", true},
          {"generation", snap.generation},
          {"compile_ms", ms(compiled - start)},
          {"round_trip_ms", ms(answered - compiled)},
          {"build_ms", static_cast<double>(result->build_ns) / 1e6},
          {"publish_ms", static_cast<double>(result->publish_ns) / 1e6}};
}

bool Appliance::time_dependent_locked() const {
  for (const TargetGroup& g : config_.target_groups)
    if (g.slow_start_s != 0) return true;
  for (const auto& [key, t] : tracked_) {
    if (checker_.state(t.id) == TargetState::kDraining) return true;
  }
  return false;
}

void Appliance::poll(milliseconds max_wait) {
  using Clock = std::chrono::steady_clock;
  int fd, link_fd;
  milliseconds wait = max_wait;
  {
    std::lock_guard lock(mu_);
    fd = checker_.fd();
    link_fd = sink_.fd();
    const auto now = Clock::now();
    auto until = [&](Clock::time_point at) {
      return std::max(milliseconds(0), duration_cast<milliseconds>(at - now) + milliseconds(1));
    };
    if (auto next = checker_.next_wakeup()) wait = std::min(wait, until(*next));
    wait = std::min(wait, until(next_tick_));
    if (!sink_.connected()) wait = std::min(wait, until(next_connect_));
  }
  pollfd p[2] = {{fd, POLLIN, 0}, {link_fd, POLLIN | POLLRDHUP, 0}};
  ::poll(p, link_fd >= 0 ? 2 : 1, static_cast<int>(wait.count()));

  std::lock_guard lock(mu_);
  checker_.poll(health::Duration::zero());
  const auto now = Clock::now();
  if (sink_.connected() || now >= next_connect_) {
    std::string error;
    if (!sink_.ensure_connected(&error)) {
      last_error_ = error;
      next_connect_ = now + kReconnectInterval;
    }
  }
  // A new connection is a dataplane that may run anything (its start-up file, or an older
  // snapshot): it gets the current configuration whatever was pushed before.
  if (sink_.connected() && sink_.connection_serial() != pushed_connection_) {
    pushed_connection_ = sink_.connection_serial();
    push_locked(true);
  }
  // Targets deregistered from every group leave once drained.
  std::vector<snapshot::TargetKey> gone;
  for (const auto& [key, t] : tracked_) {
    if (!t.drained_by_operator && checker_.state(t.id) == TargetState::kUnused) gone.push_back(key);
  }
  for (const auto& key : gone) forget_locked(key);
  if (!gone.empty()) dirty_ = true;
  if (now >= next_tick_) {
    if (time_dependent_locked()) dirty_ = true;
    next_tick_ = now + kTimeTick;
  }
  if (dirty_ && sink_.connected()) push_locked(false);
  if (proxy_ != nullptr) push_proxy_locked(now);
}

void Appliance::attach_proxy(ProxyConnection& proxy) {
  std::lock_guard lock(mu_);
  proxy_ = &proxy;
}

void Appliance::push_proxy_locked(std::chrono::steady_clock::time_point now) {
  if (config_.listeners.empty()) return;
  if (!proxy_->connected() && now < next_proxy_connect_) return;
  std::string error;
  if (!proxy_->ensure_connected(&error)) {
    last_error_ = "proxy: " + error;
    next_proxy_connect_ = now + kReconnectInterval;
    return;
  }
  std::string document = proxy::dump_proxy_document(
      snapshot::compile_proxy_config(config_, health_view_locked(), now));
  // A new connection is a proxy that may run anything: it gets the configuration again.
  if (proxy_->connection_serial() == proxy_connection_ && document == proxy_pushed_) return;
  ++proxy_pushes_;
  const control::ApplyProxyConfig message{.generation = ++proxy_generation_, .document = document};
  const auto result = proxy_->apply(message, &error);
  if (!result) {
    ++proxy_push_failures_;
    last_error_ = "proxy: " + error;
    next_proxy_connect_ = now + kReconnectInterval;
    return;
  }
  // A refused document is not sent again until it changes.
  proxy_connection_ = proxy_->connection_serial();
  proxy_pushed_ = std::move(document);
  if (!result->ok) {
    ++proxy_push_failures_;
    last_error_ = "proxy: " + result->error;
  }
}

// ---- changes ----------------------------------------------------------------------------------

TargetGroup& Appliance::group_locked(const std::string& name) {
  for (TargetGroup& g : config_.target_groups)
    if (g.name == name) return g;
  throw ApiError(404, "TargetGroupNotFound", "no target group named '" + name + "'");
}

snapshot::TargetKey Appliance::key_locked(const TargetRef& target) {
  const TargetGroup& g = group_locked(target.group);
  return {g.name, target.address, target.port != 0 ? target.port : g.port};
}

namespace {

std::vector<Target>::iterator find_target(TargetGroup& g, const snapshot::TargetKey& key) {
  return std::find_if(g.targets.begin(), g.targets.end(), [&](const Target& t) {
    return t.address == key.address && snapshot::resolved_port(g, t) == key.port;
  });
}

std::string target_name(const snapshot::TargetKey& key) {
  return format_endpoint(key.address, key.port);
}

// The group's entry for the target; ApiError 404 when it is not registered there.
Target& registered(TargetGroup& g, const snapshot::TargetKey& key) {
  auto it = find_target(g, key);
  if (it == g.targets.end()) {
    throw ApiError(404, "TargetNotFound",
                   target_name(key) + " is not registered in target group '" + g.name + "'");
  }
  return *it;
}

}  // namespace

Json Appliance::register_target(const TargetRef& ref, uint16_t weight) {
  std::lock_guard lock(mu_);
  const snapshot::TargetKey key = key_locked(ref);
  TargetGroup& g = group_locked(ref.group);
  for (const Service& s : config_.services) {
    if (s.target_group == g.name && s.vip.family() != key.address.family()) {
      throw ApiError(400, "InvalidTarget",
                     format_ip_address(key.address) + " is not of the address family of service '" +
                         s.name + "', which uses target group '" + g.name + "'");
    }
  }
  auto it = find_target(g, key);
  if (it == g.targets.end()) {
    g.targets.push_back({.address = key.address, .port = key.port, .weight = weight});
  } else {
    it->weight = weight;
  }
  // A target that was draining (deregistered or drained) is registered afresh: checked from
  // the initial state again.
  auto t = tracked_.find(key);
  if (t != tracked_.end()) {
    const auto state = checker_.state(t->second.id);
    if (state == TargetState::kDraining || state == TargetState::kUnused) forget_locked(key);
  }
  if (!tracked_.contains(key)) track_locked(g, key);
  Json out = {{"registered", target_name(key)}, {"target_group", g.name}, {"weight", weight}};
  out["dataplane"] = push_locked(false);
  return out;
}

Json Appliance::deregister_target(const TargetRef& ref) {
  std::lock_guard lock(mu_);
  const snapshot::TargetKey key = key_locked(ref);
  TargetGroup& g = group_locked(ref.group);
  registered(g, key);
  g.targets.erase(find_target(g, key));
  auto t = tracked_.find(key);
  if (t != tracked_.end()) {
    t->second.drained_by_operator = false;
    checker_.deregister_target(t->second.id);
  }
  Json out = {{"deregistered", target_name(key)},
              {"target_group", g.name},
              {"state", "draining"},
              {"deregistration_delay_s", g.deregistration_delay_s}};
  out["dataplane"] = push_locked(false);
  return out;
}

Json Appliance::set_weight(const TargetRef& ref, uint16_t weight) {
  std::lock_guard lock(mu_);
  const snapshot::TargetKey key = key_locked(ref);
  TargetGroup& g = group_locked(ref.group);
  registered(g, key).weight = weight;
  Json out = {{"target", target_name(key)}, {"target_group", g.name}, {"weight", weight}};
  out["dataplane"] = push_locked(false);
  return out;
}

Json Appliance::drain_target(const TargetRef& ref) {
  std::lock_guard lock(mu_);
  const snapshot::TargetKey key = key_locked(ref);
  TargetGroup& g = group_locked(ref.group);
  registered(g, key);
  Tracked& t = tracked_.at(key);
  t.drained_by_operator = true;
  checker_.deregister_target(t.id);
  Json out = {{"draining", target_name(key)},
              {"target_group", g.name},
              {"deregistration_delay_s", g.deregistration_delay_s}};
  out["dataplane"] = push_locked(false);
  return out;
}

Json Appliance::reload() {
  std::lock_guard lock(mu_);
  if (config_path_.empty())
    throw ApiError(400, "NoConfigurationFile", "the control plane was started without a file");
  LoadResult loaded = load_control_config_file(config_path_);
  if (!loaded.ok()) {
    throw ApiError(400, "InvalidConfiguration",
                   loaded.error + " (the configuration in force is unchanged)");
  }
  Json notes = Json::array();
  if (loaded.config->api.listen.address != config_.api.listen.address ||
      loaded.config->api.listen.port != config_.api.listen.port) {
    notes.push_back("api.listen takes effect when the control plane restarts");
  }
  if (loaded.config->dataplane.control_socket != config_.dataplane.control_socket)
    notes.push_back("dataplane.control_socket takes effect when the control plane restarts");
  config_ = std::move(*loaded.config);
  sync_checker_locked();
  declarer_.declare(config_.queues);
  depth_.configure(config_.queues);
  Json out = {{"reloaded", config_path_}, {"notes", notes}};
  out["dataplane"] = push_locked(false);
  return out;
}

// ---- views ------------------------------------------------------------------------------------

Json Appliance::status() {
  std::lock_guard lock(mu_);
  Json dp = {{"connected", sink_.connected()}};
  if (auto peer = sink_.peer(); peer && sink_.connected()) {
    dp["instance"] = peer->instance;
    dp["pid"] = peer->pid;
    dp["workers"] = peer->workers;
  }
  Json out = {{"dataplane", dp},
              {"generation", generation_},
              {"pushes", pushes_},
              {"push_failures", push_failures_},
              {"targets_tracked", tracked_.size()},
              {"config_file", config_path_}};
  if (last_result_) {
    out["last_push"] = {{"generation", last_result_->generation},
                        {"ok", last_result_->ok},
                        {"build_ms", static_cast<double>(last_result_->build_ns) / 1e6},
                        {"publish_ms", static_cast<double>(last_result_->publish_ns) / 1e6}};
  }
  if (!last_error_.empty()) out["last_error"] = last_error_;
  const auto declared = declarer_.status();
  out["queues"] = {{"endpoint", config_.queues.endpoint()},
                   {"declared", declared.size()},
                   {"applied", std::count_if(declared.begin(), declared.end(), [](const auto& q) {
                      return q.state == QueueDeclarer::State::kApplied;
                    })}};
  if (const std::string error = depth_.last_error(); !error.empty())
    out["queues"]["depth_error"] = error;
  return out;
}

Json Appliance::target_json_locked(const TargetGroup& g, const IpAddress& address, uint16_t port,
                                   std::optional<uint16_t> weight) {
  const snapshot::TargetKey key{g.name, address, port};
  Json j = {{"target", target_name(key)}, {"address", format_ip_address(address)}, {"port", port}};
  if (weight) j["weight"] = *weight;
  auto it = tracked_.find(key);
  if (it == tracked_.end()) {
    j["state"] = "initial";
    return j;
  }
  const Tracked& t = it->second;
  const auto status = checker_.status(t.id);
  const health::TargetHealth* h = checker_.health(t.id);
  if (!status || h == nullptr) return j;
  j["state"] = std::string(health::to_string(status->state));
  if (t.drained_by_operator) j["drained_by_operator"] = true;
  j["checks"] = status->checks;
  j["passes"] = t.passes;
  j["failures"] = t.failures;
  if (status->last_result) j["last_check"] = result_json(*status->last_result);
  if (status->state == TargetState::kDraining) {
    j["drain_remaining_s"] =
        to_seconds(h->drain_remaining(health::Clock::now(), seconds(g.deregistration_delay_s)));
  }
  if (g.slow_start_s != 0 && status->state == TargetState::kHealthy)
    j["slow_start_fraction"] = status->weight_fraction;
  return j;
}

namespace {

Json service_json(const Service& s) {
  return {{"name", s.name},
          {"vip", format_ip_address(s.vip)},
          {"protocol", s.protocol == ServiceProtocol::kUdp ? "udp" : "tcp"},
          {"port", s.port},
          {"mode", forwarding_mode_name(s.mode)},
          {"target_group", s.target_group}};
}

}  // namespace

Json Appliance::services() {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (const Service& s : config_.services) out.push_back(service_json(s));
  return out;
}

Json Appliance::service(const std::string& name) {
  std::lock_guard lock(mu_);
  for (const Service& s : config_.services) {
    if (s.name != name) continue;
    Json out = service_json(s);
    // What the dataplane runs for it: each backend with its weight now.
    const control::ApplySnapshot snap = compile_locked();
    Json backends = Json::array();
    for (const lb::ServiceConfig& sc : snap.services) {
      if (sc.name != name) continue;
      const TargetGroup& g = group_locked(s.target_group);
      for (const lb::BackendConfig& b : sc.backends) {
        Json j = target_json_locked(g, b.address, b.port, std::nullopt);
        j["effective_weight"] = b.weight;
        backends.push_back(j);
      }
    }
    out["backends"] = backends;
    return out;
  }
  throw ApiError(404, "ServiceNotFound", "no service named '" + name + "'");
}

Json Appliance::target_groups() {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (const TargetGroup& g : config_.target_groups) {
    std::map<std::string, int> states;
    for (const Target& t : g.targets) {
      const auto it = tracked_.find({g.name, t.address, snapshot::resolved_port(g, t)});
      const auto s = it == tracked_.end() ? std::nullopt : checker_.state(it->second.id);
      states[std::string(health::to_string(s.value_or(TargetState::kInitial)))]++;
    }
    out.push_back({{"name", g.name},
                   {"protocol", group_protocol_name(g.protocol)},
                   {"port", g.port},
                   {"targets", g.targets.size()},
                   {"states", states}});
  }
  return out;
}

Json Appliance::target_group(const std::string& name) {
  std::lock_guard lock(mu_);
  const TargetGroup& g = group_locked(name);
  Json targets = Json::array();
  std::set<std::pair<IpAddress, uint16_t>> listed;
  for (const Target& t : g.targets) {
    const uint16_t port = snapshot::resolved_port(g, t);
    listed.insert({t.address, port});
    targets.push_back(target_json_locked(g, t.address, port, t.weight));
  }
  // Deregistered targets still draining.
  for (const auto& [key, tracked] : tracked_) {
    if (key.group != g.name || listed.contains({key.address, key.port})) continue;
    targets.push_back(target_json_locked(g, key.address, key.port, std::nullopt));
  }
  Json out = config_to_json(config_)["target_groups"];
  for (auto& jg : out) {
    if (jg["name"] != name) continue;
    jg["targets"] = targets;
    return jg;
  }
  return {};
}

Json Appliance::health() {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (const auto& [key, t] : tracked_) {
    for (const TargetGroup& g : config_.target_groups) {
      if (g.name != key.group) continue;
      Json j = target_json_locked(g, key.address, key.port, std::nullopt);
      j["target_group"] = g.name;
      out.push_back(j);
    }
  }
  return out;
}

namespace {

control::TrafficStats sum(const std::vector<control::TrafficStats>& per_core) {
  control::TrafficStats s;
  for (const auto& c : per_core) {
    s.packets += c.packets;
    s.bytes += c.bytes;
    s.new_flows += c.new_flows;
    s.active_flows += c.active_flows;
  }
  return s;
}

Json traffic_json(const control::TrafficStats& s) {
  return {{"packets", s.packets},
          {"bytes", s.bytes},
          {"new_flows", s.new_flows},
          {"active_flows", s.active_flows}};
}

}  // namespace

Json Appliance::stats() {
  std::lock_guard lock(mu_);
  std::string error;
  if (!sink_.connected() && !sink_.ensure_connected(&error))
    throw ApiError(503, "DataplaneUnavailable", "the dataplane is not connected: " + error);
  const auto reply = sink_.stats(&error);
  if (!reply) throw ApiError(503, "DataplaneUnavailable", error);
  Json cores = Json::array();
  for (const control::CoreStats& c : reply->cores) {
    cores.push_back({{"lcore", c.lcore},
                     {"loops", c.loops},
                     {"busy_loops", c.busy_loops},
                     {"packets", c.packets},
                     {"rx_packets", c.rx_packets},
                     {"tx_packets", c.tx_packets},
                     {"drops", c.drops},
                     {"active_flows", c.active_flows},
                     {"stateless_flows", c.stateless_flows},
                     {"max_loop_us", reply->tsc_hz ? static_cast<double>(c.max_loop_cycles) * 1e6 /
                                                         static_cast<double>(reply->tsc_hz)
                                                   : 0.0}});
  }
  Json services = Json::array();
  for (const control::ServiceStats& s : reply->services) {
    Json js = {{"name", s.name}};
    js.update(traffic_json(sum(s.per_core)));
    Json backends = Json::array();
    for (const control::BackendStats& b : s.backends) {
      Json jb = {{"target", format_endpoint(b.address, b.port)}, {"weight", b.weight}};
      jb.update(traffic_json(sum(b.per_core)));
      backends.push_back(jb);
    }
    js["backends"] = backends;
    services.push_back(js);
  }
  return {{"generation", reply->generation}, {"cores", cores}, {"services", services}};
}

Json Appliance::queues() {
  std::map<std::string, QueueDepthMonitor::Depth> depths = depth_.depths();
  auto messages = [](const QueueDepthMonitor::Depth& d) {
    return Json{{"visible", d.visible}, {"in_flight", d.in_flight}, {"delayed", d.delayed}};
  };
  Json out = Json::array();
  for (const QueueDeclarer::QueueStatus& q : declarer_.status()) {
    Json j = {{"name", q.name},
              {"state", std::string(to_string(q.state))},
              {"attempts", q.attempts},
              {"failures", q.failures}};
    if (!q.url.empty()) j["url"] = q.url;
    if (!q.error.empty()) j["last_error"] = q.error;
    if (const auto it = depths.find(q.name); it != depths.end()) {
      j["messages"] = messages(it->second);
      depths.erase(it);
    }
    out.push_back(j);
  }
  for (const auto& [name, depth] : depths)
    out.push_back({{"name", name}, {"state", "undeclared"}, {"messages", messages(depth)}});
  return out;
}

Json Appliance::effective_config() {
  std::lock_guard lock(mu_);
  return config_to_json(config_);
}

std::string Appliance::metrics() {
  std::lock_guard lock(mu_);
  std::string text = metrics_locked();
  if (proxy_ == nullptr) return text;
  PrometheusText link;
  link.gauge("sluice_proxy_connected", "1 while the L7 proxy's control socket is connected", {},
             proxy_->connected() ? 1 : 0);
  link.gauge("sluice_proxy_config_generation",
             "The generation of the last configuration pushed to the L7 proxy", {},
             static_cast<double>(proxy_generation_));
  link.counter("sluice_proxy_config_pushes_total", "Configurations sent to the L7 proxy", {},
               static_cast<double>(proxy_pushes_));
  link.counter("sluice_proxy_config_push_failures_total",
               "Configurations the L7 proxy did not take", {},
               static_cast<double>(proxy_push_failures_));
  text += link.take();
  if (!proxy_->connected()) return text;
  std::string error;
  if (auto proxy_text = proxy_->metrics(&error)) text += *proxy_text;
  return text;
}

std::string Appliance::metrics_locked() {
  PrometheusText out;
  out.gauge("sluice_dataplane_connected", "1 while the control socket is connected", {},
            sink_.connected() ? 1 : 0);
  out.gauge("sluice_snapshot_generation", "The generation of the last snapshot pushed", {},
            static_cast<double>(generation_));
  out.counter("sluice_snapshot_pushes_total", "Snapshots sent to the dataplane", {},
              static_cast<double>(pushes_));
  out.counter("sluice_snapshot_push_failures_total", "Snapshots not taken by the dataplane", {},
              static_cast<double>(push_failures_));
  if (last_result_) {
    out.gauge("sluice_snapshot_build_seconds", "Dataplane time to compile the last snapshot", {},
              static_cast<double>(last_result_->build_ns) / 1e9);
    out.gauge("sluice_snapshot_publish_seconds",
              "Dataplane time to publish the last snapshot (swap and RCU grace period)", {},
              static_cast<double>(last_result_->publish_ns) / 1e9);
  }

  for (const QueueDeclarer::QueueStatus& q : declarer_.status()) {
    const Labels labels = {{"queue", q.name}};
    out.gauge("sluice_queue_declared",
              "1 once the declared queue is applied on the SQS API, 0 while pending", labels,
              q.state == QueueDeclarer::State::kApplied ? 1 : 0);
    out.counter("sluice_queue_declare_failures_total", "Failed tries to declare the queue", labels,
                static_cast<double>(q.failures));
  }
  for (const auto& [name, d] : depth_.depths()) {
    const std::pair<const char*, uint64_t> states[] = {
        {"visible", d.visible}, {"in_flight", d.in_flight}, {"delayed", d.delayed}};
    for (const auto& [state, count] : states) {
      out.gauge("sluice_queue_messages",
                "Messages in the queue on the SQS API, by state, as last polled",
                {{"queue", name}, {"state", state}}, static_cast<double>(count));
    }
  }
  for (const auto& [key, count] : depth_.hook_runs()) {
    const auto& [queue, direction, result] = key;
    out.counter("sluice_queue_hook_runs_total",
                "Depth hook crossings, by direction and how the command ended",
                {{"queue", queue}, {"direction", direction}, {"result", result}},
                static_cast<double>(count));
  }

  static constexpr TargetState kStates[] = {TargetState::kInitial, TargetState::kHealthy,
                                            TargetState::kUnhealthy, TargetState::kDraining,
                                            TargetState::kUnused};
  for (const auto& [key, t] : tracked_) {
    const Labels labels = {{"target_group", key.group}, {"target", target_name(key)}};
    const auto state = checker_.state(t.id).value_or(TargetState::kInitial);
    for (TargetState s : kStates) {
      Labels with_state = labels;
      with_state.emplace_back("state", std::string(health::to_string(s)));
      out.gauge("sluice_target_health", "1 for the state the target is in", with_state,
                state == s ? 1 : 0);
    }
    out.counter("sluice_health_checks_total", "Health-check results",
                {{"target_group", key.group}, {"target", target_name(key)}, {"result", "pass"}},
                static_cast<double>(t.passes));
    out.counter("sluice_health_checks_total", "Health-check results",
                {{"target_group", key.group}, {"target", target_name(key)}, {"result", "fail"}},
                static_cast<double>(t.failures));
    out.histogram("sluice_health_check_duration_seconds",
                  "Health-check latency, from connect to verdict", labels, kCheckLatencyBuckets,
                  t.latency_buckets, t.latency_sum_s);
  }

  std::string error;
  if (!sink_.connected()) return out.take();
  const auto reply = sink_.stats(&error);
  if (!reply) return out.take();
  for (const control::CoreStats& c : reply->cores) {
    const Labels core = {{"core", std::to_string(c.lcore)}};
    out.counter("sluice_core_loops_total", "Polling passes", core, static_cast<double>(c.loops));
    out.counter("sluice_core_busy_loops_total", "Polling passes that received packets", core,
                static_cast<double>(c.busy_loops));
    out.counter("sluice_core_busy_cycles_total", "TSC cycles spent in busy passes", core,
                static_cast<double>(c.busy_cycles));
    out.counter("sluice_core_rx_packets_total", "Packets received", core,
                static_cast<double>(c.rx_packets));
    out.counter("sluice_core_tx_packets_total", "Packets sent", core,
                static_cast<double>(c.tx_packets));
    out.counter("sluice_core_drops_total", "Packets dropped, every reason", core,
                static_cast<double>(c.drops));
    out.gauge("sluice_core_active_flows", "Flow-table entries", core,
              static_cast<double>(c.active_flows));
    out.counter("sluice_core_stateless_flows_total", "New flows forwarded without state", core,
                static_cast<double>(c.stateless_flows));
    if (reply->tsc_hz != 0) {
      out.gauge("sluice_core_max_loop_seconds", "Longest polling pass since start", core,
                static_cast<double>(c.max_loop_cycles) / static_cast<double>(reply->tsc_hz));
      // Bucket b holds passes of 2^b to 2^(b+1) - 1 cycles; the sum counts each at 1.5 * 2^b.
      const auto hz = static_cast<double>(reply->tsc_hz);
      const size_t n = c.loop_cycles_log2.size();
      std::vector<double> bounds;
      double sum = 0;
      for (size_t b = 0; b < n; ++b) {
        if (b + 1 < n) bounds.push_back(static_cast<double>(uint64_t{1} << (b + 1)) / hz);
        sum += static_cast<double>(c.loop_cycles_log2[b]) * 1.5 *
               static_cast<double>(uint64_t{1} << b) / hz;
      }
      if (n != 0) {
        out.histogram("sluice_core_loop_seconds",
                      "Polling pass durations, in power-of-two buckets of TSC cycles (the sum "
                      "estimated from the buckets)",
                      core, bounds, c.loop_cycles_log2, sum);
      }
    }
  }
  auto traffic = [&](const std::string& prefix, const std::string& what, const Labels& labels,
                     const control::TrafficStats& s) {
    out.counter(prefix + "_packets_total", "Packets to " + what, labels,
                static_cast<double>(s.packets));
    out.counter(prefix + "_bytes_total", "Bytes to " + what, labels, static_cast<double>(s.bytes));
    out.counter(prefix + "_new_flows_total", "Flows started to " + what, labels,
                static_cast<double>(s.new_flows));
    out.gauge(prefix + "_active_flows", "Tracked flows to " + what, labels,
              static_cast<double>(s.active_flows));
  };
  for (const control::ServiceStats& s : reply->services) {
    traffic("sluice_service", "the service", {{"service", s.name}}, sum(s.per_core));
    for (const control::BackendStats& b : s.backends) {
      const Labels labels = {{"service", s.name}, {"target", format_endpoint(b.address, b.port)}};
      traffic("sluice_target", "the target", labels, sum(b.per_core));
      out.gauge("sluice_target_weight", "The target's weight in the dataplane now", labels,
                b.weight);
    }
  }
  return out.take();
}

}  // namespace sluice::controlplane
