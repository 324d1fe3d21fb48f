// The one place every state change of a queue shard passes through, in the order it happens: the
// hook the write-ahead log (wal_journal.h) attaches to. Records point at the engine's own objects,
// valid only during the call, so that an in-memory engine (NullJournal) pays for nothing but the
// call.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::queue {

struct Queue;
struct Message;
struct DedupEntry;

enum class JournalOp : uint8_t {
  kQueueCreated,
  kQueueDeleted,
  kAttributesSet,
  kTagsChanged,
  kQueuePurged,
  kMessageSent,        // message: in its first state (delayed or visible)
  kMessageDelivered,   // message: in flight, with its new receipt
  kVisibilityChanged,  // message: in flight; value: when it becomes visible again
  kMessageVisible,     // a delay or visibility timeout ended (or, in a snapshot, a visible one)
  kMessageDeleted,
  kMessageExpired,   // retention period passed
  kMessageMovedOut,  // dead-lettered (value 0) or moved by a task (value 1) to `payload`
  kMessageAccepted,  // arrived from another queue
  kMoveTaskChanged,
  // QueueEngine::journal_snapshot: the live state, one queue, message or deduplication entry
  // at a time; visible messages follow as kMessageVisible in the order they are delivered.
  kSnapshotQueue,
  kSnapshotMessage,
  kSnapshotDedup,
};

struct JournalRecord {
  JournalOp op;
  uint64_t at_ms = 0;
  const Queue* queue = nullptr;
  const Message* message = nullptr;
  const DedupEntry* dedup = nullptr;
  uint64_t value = 0;
  // Sent, accepted and snapshot messages: the dead-letter source ARN; kMessageMovedOut: the
  // target queue's name.
  std::string_view payload;
};

class Journal {
 public:
  virtual void record(const JournalRecord& record) = 0;

 protected:
  ~Journal() = default;
};

class NullJournal final : public Journal {
 public:
  void record(const JournalRecord&) override {}
};

}  // namespace sluice::queue
