// The one place every state change of a queue shard passes through, in the order it happens: the
// hook a write-ahead log attaches to. The in-memory engine runs with NullJournal.
#pragma once

#include <cstdint>
#include <string_view>

#include "queue_types.h"

namespace sluice::queue {

enum class JournalOp : uint8_t {
  kQueueCreated,  // payload: the queue's attributes as GetQueueAttributes would list them
  kQueueDeleted,
  kAttributesSet,  // payload: as for kQueueCreated
  kTagsChanged,
  kQueuePurged,
  kMessageSent,       // payload: the stored message (body, attributes, ids); value: sequence number
  kMessageDelivered,  // receipt: the new delivery; value: when it becomes visible again
  kVisibilityChanged,  // receipt: the delivery; value: when it becomes visible again
  kMessageVisible,     // a delay or visibility timeout ended
  kMessageDeleted,
  kMessageExpired,   // retention period passed
  kMessageMovedOut,  // dead-lettered or redriven to `payload` (the target queue's name)
  kMessageAccepted,  // arrived from another queue; payload as for kMessageSent
  kMoveTaskChanged,  // payload: the task handle; value: its status
};

struct JournalRecord {
  JournalOp op;
  uint64_t at_ms = 0;
  std::string_view queue;
  MessageId message_id;
  uint64_t receipt = 0;
  uint64_t value = 0;
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
