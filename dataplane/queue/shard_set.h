// Queue shards on their own cores, and the rings between them and the cores that use them. Each
// queue lives on one shard, chosen by a hash of its name. A core submits a ShardCall to the
// owner over the single-producer ring of its (source, shard) pair; the shard runs it on its
// engine and the finished call comes back over the ring of the opposite direction. No locks: a
// call belongs to the submitting core until it is submitted and again once polled back, and to
// the shard in between. Shards also relay dead-lettered and redriven messages to each other the
// same way. Shards run in memory or, opened with a directory, as DurableShards (a log in
// <directory>/shard-N, recovered at start): then a call comes back only once its records are
// durable under its queue's policy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "clock.h"
#include "durable_shard.h"
#include "queue_engine.h"
#include "spsc_ring.h"

namespace sluice::queue {

class ShardSet;
class ShardCall;

// Hands a call back to the core that submitted it; held by the call while it waits (long poll).
class Completion {
 public:
  // `queue` is the queue the call was about: on a durable shard whose policy for it is fsync,
  // the call goes back once the log is on disk up to now.
  void done(std::string_view queue) const;

 private:
  friend class ShardSet;
  friend class ShardCall;
  ShardSet* set_ = nullptr;
  ShardCall* call_ = nullptr;
  uint32_t shard_ = 0;
  uint32_t source_ = 0;
};

// Work for a shard, owned by the submitting core.
class ShardCall : private DurableAck {
 public:
  // On the shard's thread; calls completion.done() exactly once, before returning or later.
  virtual void run(QueueEngine& engine, const Completion& completion) = 0;

 protected:
  ~ShardCall() = default;

 private:
  friend class ShardSet;
  void on_durable() final;

  Completion held_;  // while the reply waits for the log
};

struct ShardSetConfig {
  uint32_t shards = 2;
  uint32_t sources = 1;  // cores that submit calls, numbered from 0
  size_t ring_capacity = 1024;
  // How long an idle shard thread sleeps between polls once yielding did not bring work; 0
  // keeps it spinning (lowest latency, a whole core).
  uint32_t idle_sleep_us = 50;
  std::vector<unsigned> cores;  // start(): shard i runs on cores[i] when given
  // For event loops that run shards and sleep when idle: called on the pushing thread after a
  // call is put on a ring to `shard`, and after a finished call is put on a ring to `source`.
  std::function<void(uint32_t shard)> on_request;
  std::function<void(uint32_t source)> on_reply;
  EngineConfig engine;
  // ShardSet::open: where the shards keep their logs (<directory>/shard-N); empty: in memory.
  std::string directory;
  DurableShardConfig durable;  // each shard's log settings; directory and engine are set per shard
};

class ShardSet {
 public:
  // Shards in memory; config.directory is not used.
  ShardSet(const ShardSetConfig& config, const Clock& clock);
  // Durable shards recovered from config.directory (in memory when it is empty); null and
  // `*error` when a shard's log cannot be recovered or written.
  static std::unique_ptr<ShardSet> open(const ShardSetConfig& config, const Clock& clock,
                                        std::string* error);
  ~ShardSet();
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  uint32_t shard_count() const { return static_cast<uint32_t>(shards_.size()); }
  uint32_t shard_of(std::string_view queue) const;

  // From the thread of `source`: false when the ring to that shard is full (try again later).
  bool submit(uint32_t source, std::string_view queue, ShardCall* call) {
    return submit_to(source, shard_of(queue), call);
  }
  bool submit_to(uint32_t source, uint32_t shard, ShardCall* call);
  // From the thread of `source`: a finished call, or nullptr.
  ShardCall* poll(uint32_t source);

  // One pass of a shard's loop: calls from every ring, timers, replies. Returns the work done.
  size_t run_once(uint32_t shard);
  // One thread per shard running run_once until stop().
  void start();
  void stop();

  // A shard's engine, for its own thread (or any thread while the shards are not running).
  QueueEngine& engine(uint32_t shard);
  // Its log (null in memory), likewise.
  DurableShard* durable(uint32_t shard);
  // Any thread: how far the shard's log was durable when it last sent a call back.
  uint64_t durable_lsn(uint32_t shard) const;

 private:
  struct Shard;
  friend class Completion;
  friend class ShardCall;
  friend class RelayCall;

  explicit ShardSet(const ShardSetConfig& config);
  void complete(const Completion& completion, std::string_view queue);
  void reply(uint32_t shard, uint32_t source, ShardCall* call);
  void replied(uint32_t source);
  SpscRing<ShardCall*>& request_ring(uint32_t source, uint32_t shard) {
    return *requests_[source * shard_count() + shard];
  }
  SpscRing<ShardCall*>& reply_ring(uint32_t shard, uint32_t source) {
    return *replies_[shard * total_sources_ + source];
  }

  uint32_t sources_;
  uint32_t total_sources_;
  uint32_t idle_sleep_us_;  // the outside sources, then one per shard for relays
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<SpscRing<ShardCall*>>> requests_;
  std::vector<std::unique_ptr<SpscRing<ShardCall*>>> replies_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
  std::vector<unsigned> cores_;
  std::function<void(uint32_t)> on_request_, on_reply_;
};

}  // namespace sluice::queue
