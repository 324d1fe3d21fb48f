// The queue service: the SQS API on service cores, one thread each, each with an io_uring
// reactor (its own SO_REUSEPORT listener and its own connections) and some of the queue shards.
// A core parses HTTP, checks the SigV4 signature, decodes the request and sends it over a ring to
// the shard that owns the queue, on this core or another; the shard runs it and sends back the
// encoded reply, which the core writes out. A connection's requests are answered in order: the
// next pipelined request is taken once the previous one is answered.
//
// SNS requests (the query protocol with an SNS Action) are served on the same endpoint: the core
// runs them on the topic registry, and a publish's copies for queue subscriptions travel to the
// queues' shards as SendMessage calls; the publish is answered once every copy is taken.
#pragma once

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "service_config.h"
#include "shard_set.h"
#include "sns_topics.h"

namespace sluice::api {

struct Doorbell;

class QueueService {
 public:
  QueueService(ApiConfig api, QueuesConfig queues);
  ~QueueService();
  QueueService(const QueueService&) = delete;
  QueueService& operator=(const QueueService&) = delete;

  // Opens the shards (recovering their logs when durable), creates the declared queues, opens
  // the listeners and starts the service cores. Throws
  // std::runtime_error when any of it fails.
  void start();
  void stop();

  // The port the listeners are bound to (the configured one, or the kernel's choice for 0).
  uint16_t port() const { return port_; }
  uint32_t shard_count() const { return shards_ ? shards_->shard_count() : 0; }
  const ApiConfig& api_config() const { return api_; }

 private:
  void declare_queues();
  void run_core(size_t index, int listen_fd);

  ApiConfig api_;
  QueuesConfig queues_;
  queue::SystemClock clock_;
  std::unique_ptr<queue::ShardSet> shards_;
  std::unique_ptr<sns::TopicRegistry> topics_;        // SNS topics on the same endpoint
  std::vector<std::unique_ptr<Doorbell>> doorbells_;  // one per core
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::unique_ptr<std::latch> stopped_;
  uint16_t port_ = 0;
};

}  // namespace sluice::api
