// Declares the configuration's queues on the dataplane's SQS API (AWS JSON 1.0 over HTTP, signed
// with SigV4 when an access key is configured). Each queue is created with its attributes and
// tags; when it exists with other attributes (QueueAlreadyExists) they are set and the tags
// applied, so the file wins. Dead-letter queues named by a RedrivePolicy go first.
//
// The calls run on the declarer's own thread, so nothing else waits for the endpoint. A queue
// whose declaration failed (the endpoint down, a refusal) stays pending with the error and is
// tried again every retry interval; once every queue is applied they are declared again every
// resync interval, which gives a restarted in-memory dataplane its queues back. Queues that are
// not declared are never touched: nothing is ever deleted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control_config.h"

namespace sluice::controlplane {

class QueueDeclarer {
 public:
  struct Options {
    std::chrono::milliseconds retry_interval{std::chrono::seconds(3)};
    std::chrono::milliseconds resync_interval{std::chrono::seconds(60)};
    std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};
  };

  enum class State { kPending, kApplied };

  struct QueueStatus {
    std::string name;
    State state = State::kPending;
    std::string url;    // the queue's URL, once known
    std::string error;  // why the last try failed; empty once applied
    uint64_t attempts = 0, failures = 0;
  };

  QueueDeclarer() : QueueDeclarer(Options{}) {}
  explicit QueueDeclarer(Options options);
  ~QueueDeclarer();
  QueueDeclarer(const QueueDeclarer&) = delete;
  QueueDeclarer& operator=(const QueueDeclarer&) = delete;

  // Replaces what is declared and starts a pass at once. A queue whose declaration (or the
  // endpoint or credentials) changed is pending until that pass applies it; unchanged queues
  // keep their state meanwhile. Returns without waiting for the endpoint; the number it returns
  // identifies this declaration (see last_pass()).
  uint64_t declare(const QueuesConfig& config);

  // Every declared queue, in the file's order.
  std::vector<QueueStatus> status() const;
  std::string endpoint() const;
  // The number of the declaration that the last completed pass tried in full (0: none yet). A
  // pass cut short by a newer declaration does not count.
  uint64_t last_pass() const;

 private:
  void run();
  void pass(const QueuesConfig& config, uint64_t generation);
  // The result of one try: applied (error empty) or not.
  void record(uint64_t generation, const std::string& name, const std::string& url,
              const std::string& error);

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_cv_;
  QueuesConfig config_;
  std::vector<QueueStatus> states_;
  uint64_t generation_ = 0;  // counts declare() calls; a pass records only for its own
  uint64_t last_pass_ = 0;
  bool wake_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_pass_{};
  std::thread thread_;  // started by the first declaration of any queue
};

std::string_view to_string(QueueDeclarer::State s);

}  // namespace sluice::controlplane
