#include "shard_set.h"

#include <string>

#include "pointer_index.h"
#include "thread_affinity.h"

namespace sluice::queue {

// A message handed over to a queue on another shard. It owns copies of the contents; it comes
// back once the target has taken it durably (or refused it), and the source then drops the
// message or makes it visible again (QueueEngine::finish_handover).
class RelayCall final : public ShardCall {
 public:
  RelayCall(std::string_view target, const RelayedMessage& m)
      : origin_(m.origin_queue),
        target_(target),
        body_(m.body),
        attributes_(m.attributes_blob),
        sender_(m.sender_id),
        trace_(m.trace_header),
        dedup_(m.deduplication_id),
        group_(m.group_id),
        source_arn_(m.dead_letter_source_arn),
        message_(m) {}

  void run(QueueEngine& engine, const Completion& completion) override {
    accepted_ = engine.accept_relayed(target_, view()).ok();
    completion.done(target_);
  }

  // Back on the shard that sent it.
  void finish(QueueEngine& engine) { engine.finish_handover(view(), target_, accepted_); }

 private:
  RelayedMessage view() const {
    RelayedMessage m = message_;
    m.body = body_;
    m.attributes_blob = attributes_;
    m.sender_id = sender_;
    m.trace_header = trace_;
    m.deduplication_id = dedup_;
    m.group_id = group_;
    m.dead_letter_source_arn = source_arn_;
    m.origin_queue = origin_;
    return m;
  }

  std::string origin_;
  std::string target_;
  std::string body_;
  std::string attributes_;
  std::string sender_;
  std::string trace_;
  std::string dedup_;
  std::string group_;
  std::string source_arn_;
  RelayedMessage message_;
  bool accepted_ = false;
};

struct ShardSet::Shard final : MessageRelay {
  Shard(ShardSet& set, uint32_t index, const EngineConfig& config, const Clock& clock)
      : set(set),
        index(index),
        memory(std::make_unique<QueueEngine>(config, clock)),
        engine(*memory) {
    engine.set_relay(this);
  }
  Shard(ShardSet& set, uint32_t index, std::unique_ptr<DurableShard> log)
      : set(set), index(index), durable(std::move(log)), engine(durable->engine()) {
    engine.set_relay(this);
    durable_lsn.store(durable->durable_lsn(), std::memory_order_relaxed);
  }

  bool owns(std::string_view queue_name) const override {
    return set.shard_of(queue_name) == index;
  }

  bool relay(std::string_view queue_name, const RelayedMessage& message) override {
    const uint32_t target = set.shard_of(queue_name);
    if (target == index) return false;  // it would be here: the queue does not exist
    auto* call = new RelayCall(queue_name, message);
    if (!set.submit_to(set.sources_ + index, target, call)) {
      delete call;
      return false;
    }
    return true;
  }

  ShardSet& set;
  uint32_t index;
  std::unique_ptr<QueueEngine> memory;
  std::unique_ptr<DurableShard> durable;
  QueueEngine& engine;
  std::atomic<uint64_t> durable_lsn{0};
  std::vector<std::pair<uint32_t, ShardCall*>> pending_replies;
};

namespace {

EngineConfig engine_config(const ShardSetConfig& config, uint32_t shard) {
  EngineConfig c = config.engine;
  c.seed = config.engine.seed + shard;
  return c;
}

}  // namespace

void Completion::done(std::string_view queue) const {
  set_->complete(*this, queue);
}

void ShardCall::on_durable() {
  held_.set_->reply(held_.shard_, held_.source_, this);
}

ShardSet::ShardSet(const ShardSetConfig& config)
    : sources_(config.sources),
      total_sources_(config.sources + config.shards),
      idle_sleep_us_(config.idle_sleep_us),
      cores_(config.cores),
      on_request_(config.on_request),
      on_reply_(config.on_reply) {
  for (uint32_t i = 0; i < total_sources_ * config.shards; ++i) {
    requests_.push_back(std::make_unique<SpscRing<ShardCall*>>(config.ring_capacity));
    replies_.push_back(std::make_unique<SpscRing<ShardCall*>>(config.ring_capacity));
  }
}

ShardSet::ShardSet(const ShardSetConfig& config, const Clock& clock) : ShardSet(config) {
  for (uint32_t s = 0; s < config.shards; ++s) {
    shards_.push_back(std::make_unique<Shard>(*this, s, engine_config(config, s), clock));
  }
}

std::unique_ptr<ShardSet> ShardSet::open(const ShardSetConfig& config, const Clock& clock,
                                         std::string* error) {
  if (config.directory.empty()) return std::make_unique<ShardSet>(config, clock);
  std::unique_ptr<ShardSet> set(new ShardSet(config));
  for (uint32_t s = 0; s < config.shards; ++s) {
    DurableShardConfig c = config.durable;
    c.directory = config.directory + "/shard-" + std::to_string(s);
    c.engine = engine_config(config, s);
    std::unique_ptr<DurableShard> log = DurableShard::open(std::move(c), clock, error);
    if (log == nullptr) return nullptr;
    set->shards_.push_back(std::make_unique<Shard>(*set, s, std::move(log)));
  }
  return set;
}

// The logs are synced, which sends back the calls they held; relays still on their way are
// freed.
ShardSet::~ShardSet() {
  stop();
  for (const auto& shard : shards_) {
    if (shard->durable) shard->durable->sync();
  }
  ShardCall* call = nullptr;
  for (uint32_t shard = 0; shard < shard_count(); ++shard) {
    for (uint32_t source = sources_; source < total_sources_; ++source) {
      while (request_ring(source, shard).pop(&call)) delete static_cast<RelayCall*>(call);
      while (reply_ring(shard, source).pop(&call)) delete static_cast<RelayCall*>(call);
    }
    for (const auto& [source, pending] : shards_[shard]->pending_replies) {
      if (source >= sources_) delete static_cast<RelayCall*>(pending);
    }
  }
}

uint32_t ShardSet::shard_of(std::string_view queue) const {
  return static_cast<uint32_t>(hash_key(queue) % shards_.size());
}

QueueEngine& ShardSet::engine(uint32_t shard) {
  return shards_[shard]->engine;
}

DurableShard* ShardSet::durable(uint32_t shard) {
  return shards_[shard]->durable.get();
}

uint64_t ShardSet::durable_lsn(uint32_t shard) const {
  return shards_[shard]->durable_lsn.load(std::memory_order_acquire);
}

bool ShardSet::submit_to(uint32_t source, uint32_t shard, ShardCall* call) {
  if (!request_ring(source, shard).push(call)) return false;
  if (on_request_) on_request_(shard);
  return true;
}

void ShardSet::replied(uint32_t source) {
  // The outside sources' loops, or a shard's own (its relays' replies).
  if (source < sources_) {
    if (on_reply_) on_reply_(source);
  } else if (on_request_) {
    on_request_(source - sources_);
  }
}

ShardCall* ShardSet::poll(uint32_t source) {
  ShardCall* call = nullptr;
  for (uint32_t shard = 0; shard < shard_count(); ++shard) {
    if (reply_ring(shard, source).pop(&call)) return call;
  }
  return nullptr;
}

void ShardSet::complete(const Completion& completion, std::string_view queue) {
  Shard& s = *shards_[completion.shard_];
  if (s.durable) {
    if (const uint64_t lsn = s.durable->ack_lsn(queue); lsn != 0) {
      completion.call_->held_ = completion;
      s.durable->when_durable(lsn, *completion.call_);
      return;
    }
  }
  reply(completion.shard_, completion.source_, completion.call_);
}

void ShardSet::reply(uint32_t shard, uint32_t source, ShardCall* call) {
  Shard& s = *shards_[shard];
  if (s.durable) s.durable_lsn.store(s.durable->durable_lsn(), std::memory_order_release);
  if (!s.pending_replies.empty() || !reply_ring(shard, source).push(call)) {
    s.pending_replies.emplace_back(source, call);
    return;
  }
  replied(source);
}

size_t ShardSet::run_once(uint32_t index) {
  constexpr int kBurst = 64;
  Shard& s = *shards_[index];
  size_t work = 0;
  for (uint32_t source = 0; source < total_sources_; ++source) {
    SpscRing<ShardCall*>& ring = request_ring(source, index);
    ShardCall* call = nullptr;
    for (int i = 0; i < kBurst && ring.pop(&call); ++i) {
      Completion completion;
      completion.set_ = this;
      completion.call_ = call;
      completion.shard_ = index;
      completion.source_ = source;
      call->run(s.engine, completion);
      ++work;
    }
  }
  s.engine.run_timers();
  while (ShardCall* back = poll(sources_ + index)) {
    auto* relayed = static_cast<RelayCall*>(back);
    relayed->finish(s.engine);
    delete relayed;
    ++work;
  }
  if (s.durable) work += s.durable->poll();
  size_t sent = 0;
  while (sent < s.pending_replies.size() &&
         reply_ring(index, s.pending_replies[sent].first).push(s.pending_replies[sent].second)) {
    replied(s.pending_replies[sent].first);
    ++sent;
  }
  s.pending_replies.erase(s.pending_replies.begin(),
                          s.pending_replies.begin() + static_cast<std::ptrdiff_t>(sent));
  return work + sent;
}

void ShardSet::start() {
  if (running_.exchange(true)) return;
  for (uint32_t s = 0; s < shard_count(); ++s) {
    threads_.emplace_back([this, s] {
      if (s < cores_.size()) sluice::run_on_cpu(cores_[s]);
      int idle = 0;
      while (running_.load(std::memory_order_relaxed)) {
        if (run_once(s) > 0) {
          idle = 0;
        } else if (++idle > 64 && idle_sleep_us_ > 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(idle_sleep_us_));
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
}

void ShardSet::stop() {
  if (!running_.exchange(false)) return;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace sluice::queue
