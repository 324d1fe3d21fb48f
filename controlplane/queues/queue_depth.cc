#include "queue_depth.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "sqs_client.h"

extern char** environ;

namespace sluice::controlplane {
namespace {

using Json = SqsClient::Json;
using Clock = std::chrono::steady_clock;

// ListQueues answers at most 1,000 queues a page; this bounds a poll at 100,000 queues.
constexpr int kMaxListPages = 100;
// How often a running command's exit is looked for.
constexpr std::chrono::milliseconds kReapInterval{100};

uint64_t count_attribute(const Json& attributes, const char* name) {
  const auto it = attributes.find(name);
  if (it == attributes.end() || !it->is_string()) return 0;
  const std::string& text = it->get_ref<const std::string&>();
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string queue_name(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

// The control plane's environment without the variables the hook sets, then those.
std::vector<std::string> hook_environment(const std::string& queue, const std::string& direction,
                                          const QueueDepthMonitor::Depth& depth) {
  const std::vector<std::pair<std::string, std::string>> own = {
      {"SLUICE_QUEUE", queue},
      {"SLUICE_QUEUE_DEPTH", std::to_string(depth.visible)},
      {"SLUICE_QUEUE_IN_FLIGHT", std::to_string(depth.in_flight)},
      {"SLUICE_QUEUE_CROSSED", direction}};
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (std::none_of(own.begin(), own.end(), [&](const auto& o) { return o.first == name; }))
      env.emplace_back(entry);
  }
  for (const auto& [name, value] : own) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts `command` as described in queue_depth.h; the pid, or the errno value as a negative.
pid_t spawn(std::vector<std::string> command, std::vector<std::string> env) {
  std::vector<char*> argv = pointers(command), envp = pointers(env);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // The control plane's sockets (the REST listener among them) are not close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // The control plane ignores SIGPIPE; the command gets the default back, and no blocked signal.
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -rc;
}

}  // namespace

QueueDepthMonitor::QueueDepthMonitor(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

QueueDepthMonitor::~QueueDepthMonitor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_one();
  thread_.join();
  std::lock_guard lock(mu_);
  reap_locked();
}

uint64_t QueueDepthMonitor::configure(const QueuesConfig& config) {
  std::lock_guard lock(mu_);
  std::vector<Hook> hooks;
  std::vector<bool> taken(hooks_.size(), false);
  for (const DepthHook& h : config.depth_hooks) {
    Hook hook{.config = h};
    for (size_t i = 0; i < hooks_.size(); ++i) {
      if (taken[i] || !(hooks_[i].config == h)) continue;
      taken[i] = true;
      hook = hooks_[i];
      break;
    }
    hooks.push_back(std::move(hook));
  }
  // A dropped hook's running command is still collected through children_.
  hooks_ = std::move(hooks);
  config_ = config;
  ++generation_;
  if (!config_.configured) {
    depths_.clear();
    last_error_.clear();
  }
  ++requested_;
  wake_cv_.notify_one();
  return requested_;
}

uint64_t QueueDepthMonitor::refresh() {
  std::lock_guard lock(mu_);
  ++requested_;
  wake_cv_.notify_one();
  return requested_;
}

uint64_t QueueDepthMonitor::last_poll() const {
  std::lock_guard lock(mu_);
  return last_poll_;
}

std::map<std::string, QueueDepthMonitor::Depth> QueueDepthMonitor::depths() const {
  std::lock_guard lock(mu_);
  return depths_;
}

std::string QueueDepthMonitor::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::map<QueueDepthMonitor::RunKey, uint64_t> QueueDepthMonitor::hook_runs() const {
  std::lock_guard lock(mu_);
  return runs_;
}

void QueueDepthMonitor::run() {
  std::unique_lock lock(mu_);
  const auto asked = [&] { return stopping_ || requested_ > last_poll_; };
  while (true) {
    if (!config_.configured && children_.empty()) {
      wake_cv_.wait(lock, asked);
    } else {
      auto deadline = config_.configured ? next_poll_ : Clock::now() + kReapInterval;
      if (!children_.empty()) deadline = std::min(deadline, Clock::now() + kReapInterval);
      wake_cv_.wait_until(lock, deadline, asked);
    }
    if (stopping_) return;
    reap_locked();
    const bool due = config_.configured && Clock::now() >= next_poll_;
    if (requested_ <= last_poll_ && !due) continue;
    const uint64_t request = requested_;
    if (!config_.configured) {
      last_poll_ = request;
      continue;
    }
    const QueuesConfig config = config_;
    const uint64_t generation = generation_;
    lock.unlock();
    std::map<std::string, Depth> depths;
    std::string error;
    const bool ok = poll(config, depths, error);
    lock.lock();
    if (stopping_) return;
    // A newer configuration asked for a poll of its own.
    if (generation != generation_) continue;
    next_poll_ = Clock::now() + std::chrono::seconds(config.depth_interval_s);
    if (!ok) {
      if (error != last_error_) log("queue depths: " + error);
      last_error_ = error;
      depths_.clear();
    } else {
      if (!last_error_.empty()) log("queue depths: polled " + config.endpoint() + " again");
      last_error_.clear();
      depths_ = std::move(depths);
      for (Hook& hook : hooks_) {
        const auto it = depths_.find(hook.config.queue);
        if (it != depths_.end()) observe_locked(hook, it->second);
      }
    }
    // Once the hooks have seen the poll, so that a caller of refresh() sees its commands started.
    last_poll_ = request;
  }
}

bool QueueDepthMonitor::poll(const QueuesConfig& config, std::map<std::string, Depth>& out,
                             std::string& error) {
  SqsClient sqs(config, options_.request_timeout);
  const uint64_t generation = [&] {
    std::lock_guard lock(mu_);
    return generation_;
  }();
  const auto cancelled = [&] {
    std::lock_guard lock(mu_);
    return stopping_ || generation != generation_;
  };
  std::vector<std::string> urls;
  std::string token;
  for (int page = 0; page < kMaxListPages; ++page) {
    Json params = {{"MaxResults", 1000}};
    if (!token.empty()) params["NextToken"] = token;
    const SqsClient::Reply r = sqs.call("ListQueues", params);
    if (!r.ok()) {
      error = "ListQueues: " + r.error;
      return false;
    }
    if (const auto it = r.body.find("QueueUrls"); it != r.body.end() && it->is_array()) {
      for (const Json& url : *it) {
        if (url.is_string()) urls.push_back(url.get<std::string>());
      }
    }
    const auto next = r.body.find("NextToken");
    token = next != r.body.end() && next->is_string() ? next->get<std::string>() : "";
    if (token.empty()) break;
  }
  const Json names = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                      "ApproximateNumberOfMessagesDelayed"};
  for (const std::string& url : urls) {
    if (cancelled()) {
      error = "cancelled";
      return false;
    }
    const SqsClient::Reply r =
        sqs.call("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", names}});
    // Deleted since it was listed.
    if (r.code == "AWS.SimpleQueueService.NonExistentQueue" || r.code == "QueueDoesNotExist")
      continue;
    if (!r.ok()) {
      error = "GetQueueAttributes " + queue_name(url) + ": " + r.error;
      return false;
    }
    const Json attributes = r.body.value("Attributes", Json::object());
    out[queue_name(url)] = {
        .visible = count_attribute(attributes, "ApproximateNumberOfMessages"),
        .in_flight = count_attribute(attributes, "ApproximateNumberOfMessagesNotVisible"),
        .delayed = count_attribute(attributes, "ApproximateNumberOfMessagesDelayed")};
  }
  return true;
}

void QueueDepthMonitor::observe_locked(Hook& hook, const Depth& depth) {
  const uint64_t visible = depth.visible;
  const Level now = visible > hook.config.above   ? Level::kAbove
                    : visible < hook.config.below ? Level::kBelow
                                                  : Level::kBetween;
  if (hook.level == Level::kUnseen) {
    hook.level = now;
  } else if (now == Level::kAbove && hook.level != Level::kAbove) {
    hook.level = now;
    start_locked(hook, "up", depth);
  } else if (now == Level::kBelow && hook.level != Level::kBelow) {
    hook.level = now;
    start_locked(hook, "down", depth);
  }
}

void QueueDepthMonitor::start_locked(Hook& hook, const std::string& direction, const Depth& depth) {
  const DepthHook& c = hook.config;
  const std::string crossing =
      "queue " + c.queue + ": " + std::to_string(depth.visible) + " visible messages, " +
      (direction == "up" ? "above " + std::to_string(c.above) : "below " + std::to_string(c.below));
  const std::string& program = c.command.front();
  if (hook.running != 0) {
    log(crossing + ": " + program + " not started, its run (pid " + std::to_string(hook.running) +
        ") has not finished");
    ++runs_[{c.queue, direction, "skipped"}];
    return;
  }
  const pid_t pid = spawn(c.command, hook_environment(c.queue, direction, depth));
  if (pid < 0) {
    log(crossing + ": cannot start " + program + ": " + std::strerror(-pid));
    ++runs_[{c.queue, direction, "not_started"}];
    return;
  }
  log(crossing + ": started " + program + " (pid " + std::to_string(pid) + ")");
  hook.running = pid;
  children_[pid] = {.queue = c.queue, .direction = direction, .program = program};
}

void QueueDepthMonitor::reap_locked() {
  for (auto it = children_.begin(); it != children_.end();) {
    const auto& [pid, child] = *it;
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == 0) {
      ++it;
      continue;
    }
    std::string how;
    bool ok = false;
    if (r < 0) {
      how = "ended, its status unknown (" + std::string(std::strerror(errno)) + ")";
    } else if (WIFEXITED(status)) {
      ok = WEXITSTATUS(status) == 0;
      how = "exited with status " + std::to_string(WEXITSTATUS(status));
    } else {
      how = "was killed by signal " + std::to_string(WTERMSIG(status));
    }
    log("queue " + child.queue + ": " + child.program + " (pid " + std::to_string(pid) + ", " +
        child.direction + ") " + how);
    ++runs_[{child.queue, child.direction, ok ? "ok" : "failed"}];
    for (Hook& hook : hooks_) {
      if (hook.running == pid) hook.running = 0;
    }
    it = children_.erase(it);
  }
}

void QueueDepthMonitor::log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
    return;
  }
  std::printf("sluice-controlplane: %s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace sluice::controlplane
