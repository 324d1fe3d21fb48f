// Polls the depth of every queue on the dataplane's SQS API (ListQueues, then GetQueueAttributes:
// ApproximateNumberOfMessages, ...NotVisible and ...Delayed) every queues.depth_interval_s, on a
// thread of its own, and runs the depth hooks: a hook's command runs when the queue's visible
// messages rise above its `above` (direction up) or fall below its `below` (direction down).
//
// Hysteresis: after an up run, the next run of the hook is a down one, and the other way round.
// The first poll that sees a queue only sets where it stands (above `above`, below `below`, or in
// between, from where either crossing runs): a queue that is already deep at start runs nothing
// until it has fallen below `below`.
//
// Commands are started with posix_spawn, without a shell, with the control plane's environment
// plus SLUICE_QUEUE, SLUICE_QUEUE_DEPTH (visible), SLUICE_QUEUE_IN_FLIGHT and
// SLUICE_QUEUE_CROSSED (up or down), stdin from /dev/null and stdout and stderr the control
// plane's. Nothing waits for them; their exit is collected by the monitor's thread. A crossing
// while the hook's previous command still runs starts nothing (result "skipped"). Every crossing,
// start and exit is logged.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control_config.h"

namespace sluice::controlplane {

class QueueDepthMonitor {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};
    // Receives one line per event (without a newline); empty: the lines go to stdout.
    std::function<void(const std::string&)> log;
  };

  struct Depth {
    uint64_t visible = 0;    // ApproximateNumberOfMessages
    uint64_t in_flight = 0;  // ApproximateNumberOfMessagesNotVisible
    uint64_t delayed = 0;    // ApproximateNumberOfMessagesDelayed

    bool operator==(const Depth&) const = default;
  };

  // How a hook's command ended: "ok" (exit status 0), "failed" (another status or a signal),
  // "not_started" (posix_spawn failed) or "skipped" (the previous command still ran).
  using RunKey = std::tuple<std::string, std::string, std::string>;  // queue, direction, result

  QueueDepthMonitor() : QueueDepthMonitor(Options{}) {}
  explicit QueueDepthMonitor(Options options);
  // Commands still running are left to run.
  ~QueueDepthMonitor();
  QueueDepthMonitor(const QueueDepthMonitor&) = delete;
  QueueDepthMonitor& operator=(const QueueDepthMonitor&) = delete;

  // Replaces the endpoint, interval and hooks and polls at once; nothing is polled unless
  // `config.configured`. A hook that is in the new configuration unchanged keeps where its queue
  // stood and its running command. Returns what refresh() returns.
  uint64_t configure(const QueuesConfig& config);
  // Asks for a poll now; returns a number that last_poll() reaches once a poll that started
  // after this call has finished.
  uint64_t refresh();
  uint64_t last_poll() const;

  // Every queue on the endpoint by name, as the last poll that succeeded saw it (empty while
  // the endpoint cannot be polled).
  std::map<std::string, Depth> depths() const;
  // Why the last poll failed; empty when it succeeded.
  std::string last_error() const;
  std::map<RunKey, uint64_t> hook_runs() const;

 private:
  enum class Level { kUnseen, kBelow, kBetween, kAbove };
  struct Hook {
    DepthHook config;
    Level level = Level::kUnseen;
    pid_t running = 0;  // its command, while it runs
  };
  struct Child {
    std::string queue, direction, program;
  };

  void run();
  // Reads every queue's depth; false with `error` when the endpoint could not be polled.
  bool poll(const QueuesConfig& config, std::map<std::string, Depth>& out, std::string& error);
  void observe_locked(Hook& hook, const Depth& depth);
  void start_locked(Hook& hook, const std::string& direction, const Depth& depth);
  void reap_locked();
  void log(const std::string& line) const;

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_cv_;
  QueuesConfig config_;
  uint64_t generation_ = 0;  // counts configure() calls: a poll of an older one is dropped
  std::vector<Hook> hooks_;
  std::map<pid_t, Child> children_;
  std::map<std::string, Depth> depths_;
  std::string last_error_;
  std::map<RunKey, uint64_t> runs_;
  uint64_t requested_ = 0, last_poll_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_poll_{};
  std::thread thread_;
};

}  // namespace sluice::controlplane
