// The queue engine of one shard: every queue the shard owns, with SQS semantics (standard and
// FIFO queues, long polling, dead-letter redrive, message-move tasks). Single-threaded: only the
// shard's own core calls it; other cores reach it through ShardSet's rings. Every operation first
// brings the shard's timers up to the clock, so results are exact whatever the event loop's pace;
// the loop still calls run_timers() so that long polls and expiries happen without traffic.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.h"
#include "journal.h"
#include "queue_error.h"
#include "queue_state.h"
#include "queue_types.h"
#include "shard_memory.h"
#include "timer_wheel.h"
#include "wal_crypto.h"
#include "wal_record.h"

namespace sluice::queue {

struct EngineConfig {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  uint64_t memory_budget_bytes = uint64_t{1} << 30;
  uint32_t standard_inflight_limit = limits::kStandardInflightLimit;
  uint32_t fifo_inflight_limit = limits::kFifoInflightLimit;
  uint64_t seed = 1;                            // message ids and receipt-handle tags
  std::vector<std::string> encryption_key_ids;  // the keys SluiceEncryptionKeyId may name
};

// A message on its way to a queue of another shard (dead-lettered or moved back by a task). The
// views are valid only during the call that carries it.
struct RelayedMessage {
  MessageId id;
  std::string_view body;
  std::string_view attributes_blob;  // the engine's own encoding of the message attributes
  uint8_t attribute_count = 0;
  std::string_view sender_id;
  std::string_view trace_header;
  std::string_view deduplication_id;
  std::string_view group_id;
  uint64_t sent_ms = 0;
  uint32_t receive_count = 0;
  std::string_view dead_letter_source_arn;  // empty when it is not a dead-lettering
  std::string_view origin_queue;            // the queue it leaves
  uint32_t origin_slot = 0;                 // and its slot there
};

// Carries relayed messages to queues this shard does not own. Returns false when it cannot take
// the message now (the message then stays where it is). Once it has taken it, the message waits
// in its queue, handed over, until finish_handover() says what became of it.
class MessageRelay {
 public:
  virtual bool relay(std::string_view queue_name, const RelayedMessage& message) = 0;
  // Whether `queue_name` would live on this engine's shard (then it exists here or nowhere).
  virtual bool owns(std::string_view queue_name) const = 0;

 protected:
  ~MessageRelay() = default;
};

struct EngineStats {
  uint64_t sent = 0;
  uint64_t deduplicated = 0;
  uint64_t delivered = 0;
  uint64_t deleted = 0;
  uint64_t expired = 0;
  uint64_t dead_lettered = 0;
  uint64_t moved = 0;
  uint64_t throttled = 0;  // refused for the memory budget
  uint64_t relay_refused = 0;
};

using AttributeList = std::vector<std::pair<std::string, std::string>>;

class QueueEngine {
 public:
  QueueEngine(EngineConfig config, const Clock& clock, Journal& journal);
  QueueEngine(EngineConfig config, const Clock& clock);
  ~QueueEngine();
  QueueEngine(const QueueEngine&) = delete;
  QueueEngine& operator=(const QueueEngine&) = delete;

  // Queues.
  Result<CreateQueueResult> create_queue(const CreateQueueRequest& request);
  Status delete_queue(std::string_view name);
  Result<std::string> queue_arn(std::string_view name);  // GetQueueUrl's existence check
  // Names in order, those after `after` (a previous page's last name) starting with `prefix`.
  std::vector<std::string> list_queues(std::string_view prefix, size_t max_results,
                                       std::string_view after = {});
  // `names` may hold "All"; an unknown name is an error.
  Result<AttributeList> get_attributes(std::string_view name,
                                       std::span<const std::string_view> names);
  Status set_attributes(std::string_view name, std::span<const AttributeValue> attributes);
  Status purge(std::string_view name);
  Status tag_queue(std::string_view name, std::span<const Tag> tags);
  Status untag_queue(std::string_view name, std::span<const std::string_view> keys);
  Result<AttributeList> list_tags(std::string_view name);
  Result<QueueCounts> counts(std::string_view name);

  // Messages.
  Result<SendResult> send(std::string_view queue, const SendEntry& entry,
                          std::string_view sender_id = {});
  Result<BatchOutcome> send_batch(std::string_view queue, std::span<const SendEntry> entries,
                                  std::string_view sender_id = {});
  // Answers through `sink`, now or (long poll) later; returns a wait id for cancel_receive, or
  // 0 when it has already answered. `sink` must outlive the wait.
  uint64_t receive(const ReceiveRequest& request, ReceiveSink& sink);
  // Ends a waiting receive without answering it (the client went away).
  bool cancel_receive(uint64_t wait_id);
  Status delete_message(std::string_view queue, std::string_view receipt_handle);
  Result<BatchOutcome> delete_batch(std::string_view queue, std::span<const DeleteEntry> entries);
  Status change_visibility(std::string_view queue, std::string_view receipt_handle,
                           uint32_t visibility_timeout_s);
  Result<BatchOutcome> change_visibility_batch(std::string_view queue,
                                               std::span<const VisibilityEntry> entries);

  // Dead-letter queues.
  // The queues of this shard whose dead-letter queue is `name`; with `owner`, `name` must be a
  // queue of this shard (the other shards are asked with owner false).
  Result<std::vector<std::string>> list_dead_letter_source_queues(std::string_view name,
                                                                  bool owner = true);
  Result<std::string> start_move_task(const StartMoveTaskRequest& request);
  Result<uint64_t> cancel_move_task(std::string_view task_handle);  // messages moved so far
  Result<std::vector<MoveTaskInfo>> list_move_tasks(std::string_view source_arn,
                                                    uint32_t max_results = 1);
  // Takes a message relayed from another shard into `queue`.
  Status accept_relayed(std::string_view queue, const RelayedMessage& message);
  // The end of a hand-over to `target` on another shard: once that shard has taken the message
  // (durably, under the target queue's policy) its removal is logged here; if it refused it, the
  // message is visible again. Nothing happens if it left meanwhile (deleted, expired, purged).
  void finish_handover(const RelayedMessage& message, std::string_view target, bool accepted);
  void set_relay(MessageRelay* relay) { relay_ = relay; }

  // Event loop.
  void run_timers();
  uint64_t next_timer_ms() const { return wheel_.next_step(); }

  // Durability (durable_shard.h). A fresh engine is rebuilt from its log by restore() of each
  // record in order, then finish_restore(); `keys` open encrypted records. A record that does
  // not fit the state (a bad log) is an error and changes nothing. journal_snapshot() sends the
  // whole live state to `out` as records that rebuild it.
  Status restore(const wal::Entry& entry, wal::KeyRing& keys);
  void finish_restore();
  void journal_snapshot(Journal& out) const;
  wal::ShardState shard_state() const;
  // The queue's durability policy; the default (fsync) for a queue that does not exist.
  Durability durability_of(std::string_view queue) const;

  std::string arn_of(std::string_view name) const;
  const EngineStats& stats() const { return stats_; }
  const MemoryBudget& memory() const { return budget_; }

 private:
  class Operation;
  friend class Operation;

  Queue* find(std::string_view name);
  Error no_such_queue() const;

  // Queue life cycle and attributes.
  Status check_redrive(const Queue* source, const QueueSettings& settings);
  Status check_encryption_key(const QueueSettings& settings) const;
  void set_modified(Queue* q);
  void remove_all_messages(Queue* q);

  // Messages.
  Status validate_send(const Queue& q, const SendEntry& entry) const;
  Result<SendResult> send_one(Queue* q, const SendEntry& entry, std::string_view sender_id);
  static constexpr uint32_t kAnySlot = UINT32_MAX;
  Message* store(Queue* q, const RelayedMessage& contents,
                 std::span<const MessageAttribute> attributes, uint32_t slot = kAnySlot);
  Group* group_for(Queue* q, std::string_view group_id);
  void free_group_if_unused(Group* g);
  void enqueue(Message* m, uint32_t delay_s);
  void make_visible(Message* m);
  void release(Message* m);
  void unlink_state(Message* m);
  uint32_t collect(Queue* q, uint32_t max, uint32_t visibility_s);
  void deliver(Message* m, uint32_t visibility_s, ReceivedMessage* out);
  void enter_flight(Message* m, uint64_t visible_at);
  void delay(Message* m, uint64_t until_ms);
  Message* take_visible(Queue* q);
  Status check_receive(const ReceiveRequest& r, const Queue& q) const;
  bool at_inflight_limit(const Queue& q) const;
  bool can_deliver(const Queue& q) const;
  void mark_dirty(Queue* q);
  void serve_waiters(Queue* q);
  void answer(ReceiveSink& sink, uint32_t count);
  void finish_waiter(Waiter* w);

  // Receipt handles.
  ReceiptHandle make_handle(const Queue& q, const Message& m) const;
  Result<Message*> resolve_handle(const Queue& q, std::string_view handle);

  // Deduplication.
  DedupEntry* find_dedup(Queue* q, std::string_view key);
  bool remember_dedup(Queue* q, std::string_view key, const MessageId& id, uint64_t sequence,
                      uint64_t expires_ms);
  void expire_dedups(Queue* q);
  void expire_retention(Queue* q);

  // Redrive.
  Status accept(Queue* target, const RelayedMessage& message);
  bool dead_letter(Message* m);
  bool move_message(Message* m, std::string_view target, std::string_view source_arn);
  RelayedMessage relayed_view(const Message& m, std::string_view source_arn) const;
  uint32_t intern_arn(std::string_view arn);
  void step_move_task(Queue* q);
  void end_move_task(Queue* q, MoveTaskStatus status, std::string reason = {});
  bool is_dead_letter_queue(const Queue& q) const;

  // Restoring (queue_restore.cc).
  Status restore_queue(const wal::QueueImage& image);
  Status restore_message(const wal::Entry& entry, wal::KeyRing& keys);
  Status restore_ref(const wal::Entry& entry);
  Status restore_dedup(const wal::Entry& entry, wal::KeyRing& keys);
  void erase_queue(std::map<std::string, std::unique_ptr<Queue>, std::less<>>::iterator it);
  std::string_view dead_letter_source(const Message& m) const;

  void on_timer(TimerNode* node);
  void journal(JournalOp op, const Queue& q, const Message* m = nullptr, uint64_t value = 0,
               std::string_view payload = {});
  MessageId new_message_id();

  EngineConfig config_;
  const Clock& clock_;
  NullJournal null_journal_;
  Journal& journal_;
  MessageRelay* relay_ = nullptr;
  MemoryBudget budget_;
  BlockArena arena_;
  ObjectPool<Message> messages_;
  ObjectPool<Group> groups_;
  ObjectPool<DedupEntry> dedups_;
  ObjectPool<Waiter> waiters_;
  TimerWheel wheel_;

  std::map<std::string, std::unique_ptr<Queue>, std::less<>> queues_;
  std::map<std::string, uint64_t, std::less<>> deleted_at_;
  std::vector<std::unique_ptr<Queue>> graveyard_;  // deleted during an operation, freed after it
  std::vector<Queue*> dirty_;
  std::vector<Waiter*> timed_out_;  // long polls whose wait ended, to answer empty
  std::vector<std::string> interned_arns_;
  std::map<std::string, uint32_t, std::less<>> arn_index_;
  std::map<uint32_t, Queue*> restoring_;  // queues by id while a log is replayed
  std::vector<uint8_t> opened_;           // decrypted contents while a log is replayed

  uint64_t now_ = 0;
  int depth_ = 0;
  uint32_t next_queue_id_ = 1;
  uint64_t next_receipt_ = 0;
  uint64_t next_task_ = 0;
  uint64_t rng_;
  uint64_t handle_key_;
  EngineStats stats_;

  // Where collect() puts what it delivers, until the sink has it.
  std::array<ReceivedMessage, limits::kMaxReceiveMessages> delivered_{};
  std::array<std::array<MessageAttribute, limits::kMaxMessageAttributes>,
             limits::kMaxReceiveMessages>
      delivered_attributes_{};
};

}  // namespace sluice::queue
