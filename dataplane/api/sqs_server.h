// The queue service: the SQS API served on io_uring reactors (one thread per service core, each
// with its own SO_REUSEPORT listener and its own connections) in front of the queue shards. A
// reactor parses HTTP, checks the SigV4 signature, decodes the request and sends it to the shard
// that owns the queue; the shard runs it and sends back the encoded reply, which the reactor
// writes out. A connection's requests are answered in order: the next pipelined request is taken
// once the previous one is answered.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "service_config.h"
#include "shard_set.h"

namespace sluice::api {

class ApiCore;

class QueueService {
 public:
  QueueService(ApiConfig api, QueuesConfig queues);
  ~QueueService();
  QueueService(const QueueService&) = delete;
  QueueService& operator=(const QueueService&) = delete;

  // Opens the shards (recovering their logs when durable), creates the declared queues, starts
  // the shard and reactor threads and returns once every reactor listens. Throws
  // std::runtime_error when any of it fails.
  void start();
  void stop();

  // The port the listeners are bound to (the configured one, or the kernel's choice for 0).
  uint16_t port() const { return port_; }
  const ApiConfig& api_config() const { return api_; }

 private:
  void declare_queues();
  void run_core(size_t index, int listen_fd);

  ApiConfig api_;
  QueuesConfig queues_;
  queue::SystemClock clock_;
  std::unique_ptr<queue::ShardSet> shards_;
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::atomic<size_t> failed_{0};
  uint16_t port_ = 0;
};

}  // namespace sluice::api
