// The records a shard keeps per queue and per message. Internal to the engine: they live in the
// shard's pools and are linked into its lists and timer wheel.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "intrusive_list.h"
#include "pointer_index.h"
#include "queue_types.h"
#include "timer_wheel.h"

namespace sluice::queue {

struct Queue;
struct Group;

// kHandingOver: on its way to a queue of another shard; kept (and logged as it was) until that
// shard has taken it, and never logged in this state.
enum class MessageState : uint8_t { kStored, kDelayed, kVisible, kInFlight, kHandingOver };

enum TimerKind : uint8_t {
  kMessageTimer,    // a delay or visibility timeout (owner: Message)
  kRetentionTimer,  // the oldest message's retention (owner: Queue)
  kDedupTimer,      // the oldest deduplication entry (owner: Queue)
  kWaitTimer,       // a long poll's deadline (owner: Waiter)
  kMoveTaskTimer,   // the next step of a message-move task (owner: Queue)
};

// One message. Its contents sit in one arena block: body, attributes, sender id, trace header,
// deduplication id and group id, one after another.
struct Message {
  TimerNode timer;
  Message* prev = nullptr;  // visible list (standard) or group list (FIFO)
  Message* next = nullptr;
  Message* older = nullptr;  // arrival order, for retention
  Message* newer = nullptr;
  Queue* queue = nullptr;  // null while the slot is free
  Group* group = nullptr;
  uint8_t* block = nullptr;
  uint64_t sent_ms = 0;
  uint64_t enqueued_ms = 0;
  uint64_t first_receive_ms = 0;
  uint64_t received_ms = 0;
  uint64_t receipt = 0;  // the current delivery's number; 0 before the first
  uint64_t sequence = 0;
  MessageId id;
  uint32_t slot = 0;
  uint32_t receive_count = 0;
  uint32_t dead_letter_source = 0;  // 1 + index of the interned source ARN, or 0
  uint32_t body_len = 0;
  uint32_t attributes_len = 0;
  uint16_t sender_len = 0;
  uint16_t trace_len = 0;
  uint8_t dedup_len = 0;
  uint8_t group_len = 0;
  uint8_t attribute_count = 0;
  uint8_t block_class = 0;
  MessageState state = MessageState::kStored;

  std::string_view field(uint32_t offset, uint32_t len) const {
    return {reinterpret_cast<const char*>(block) + offset, len};
  }
  std::string_view body() const { return field(0, body_len); }
  std::string_view attributes_blob() const { return field(body_len, attributes_len); }
  uint32_t sender_at() const { return body_len + attributes_len; }
  std::string_view sender_id() const { return field(sender_at(), sender_len); }
  std::string_view trace_header() const { return field(sender_at() + sender_len, trace_len); }
  std::string_view dedup_id() const {
    return field(sender_at() + sender_len + trace_len, dedup_len);
  }
  std::string_view group_id() const {
    return field(sender_at() + sender_len + trace_len + dedup_len, group_len);
  }
};

using MessageList = IntrusiveList<Message, &Message::prev, &Message::next>;
using ArrivalList = IntrusiveList<Message, &Message::older, &Message::newer>;

// A FIFO message group: its visible messages in sequence order, and how many are in flight.
struct Group {
  Group* prev = nullptr;  // the queue's list of groups that can deliver
  Group* next = nullptr;
  Queue* queue = nullptr;
  uint64_t hash = 0;
  MessageList visible;
  uint32_t in_flight = 0;
  uint32_t members = 0;  // messages of the group in any state
  uint32_t slot = 0;
  bool available = false;
  uint8_t key_len = 0;
  char key_bytes[limits::kMaxGroupIdLength] = {};

  std::string_view key() const { return {key_bytes, key_len}; }
};

using GroupList = IntrusiveList<Group, &Group::prev, &Group::next>;

// A deduplication id seen in the last five minutes, and the message it produced.
struct DedupEntry {
  DedupEntry* prev = nullptr;
  DedupEntry* next = nullptr;
  uint64_t hash = 0;
  uint64_t expires_ms = 0;
  MessageId message_id;
  uint64_t sequence = 0;
  uint32_t slot = 0;
  uint16_t key_len = 0;
  // The group id and a separator when the scope is the message group, then the id.
  char key_bytes[limits::kMaxGroupIdLength + 1 + limits::kMaxDeduplicationIdLength] = {};

  std::string_view key() const { return {key_bytes, key_len}; }
};

using DedupList = IntrusiveList<DedupEntry, &DedupEntry::prev, &DedupEntry::next>;

using DedupKeyBuffer = std::array<char, sizeof(DedupEntry::key_bytes)>;

// The key a deduplication id is remembered by: the id, after its group and a separator when the
// scope is the message group. Group and id are at most 128 bytes each.
inline std::string_view dedup_key(const QueueSettings& settings, std::string_view group,
                                  std::string_view id, DedupKeyBuffer& buffer) {
  size_t n = 0;
  if (settings.deduplication_scope == DeduplicationScope::kMessageGroup) {
    std::memcpy(buffer.data(), group.data(), group.size());
    n = group.size();
    buffer[n++] = '\x01';
  }
  std::memcpy(buffer.data() + n, id.data(), id.size());
  return {buffer.data(), n + id.size()};
}

// A receive waiting for messages (long poll).
struct Waiter {
  TimerNode timer;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  Queue* queue = nullptr;
  ReceiveSink* sink = nullptr;
  uint32_t max_messages = 1;
  uint32_t visibility_s = 0;
  uint32_t slot = 0;
  uint32_t generation = 0;
};

using WaiterList = IntrusiveList<Waiter, &Waiter::prev, &Waiter::next>;

// A message-move task's moving state (its reported state is a MoveTaskInfo).
struct MoveTaskState {
  bool running = false;
  uint64_t last_step_ms = 0;
  uint64_t allowance_milli = 0;  // thousandths of a message
  std::string destination_name;
};

struct Queue {
  uint32_t id = 0;
  std::string name;
  std::string arn;
  QueueSettings settings;
  std::map<std::string, std::string, std::less<>> tags;
  uint64_t created_ms = 0;
  uint64_t modified_ms = 0;
  uint64_t last_purge_ms = 0;
  bool purged = false;

  MessageList visible;     // standard queues
  GroupList ready_groups;  // FIFO queues: groups with visible messages and none in flight
  PointerIndex<Group> groups;
  ArrivalList arrivals;
  TimerNode retention_timer;
  DedupList dedups;
  PointerIndex<DedupEntry> dedup_index;
  TimerNode dedup_timer;
  WaiterList waiters;

  uint64_t visible_count = 0;
  uint64_t in_flight_count = 0;
  uint64_t delayed_count = 0;
  uint64_t next_sequence = 0;
  uint64_t dead_lettered_in = 0;

  std::deque<MoveTaskInfo> move_tasks;  // newest first, at most limits::kListedMoveTasks
  MoveTaskState move;
  TimerNode move_timer;

  bool dirty = false;  // has waiters to serve at the end of the current operation
  bool deleted = false;
};

}  // namespace sluice::queue
