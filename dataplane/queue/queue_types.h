// The values that cross the queue engine's interface: queue settings, messages to send, messages
// received, batch outcomes and message-move tasks. Views (std::string_view, std::span) point into
// the caller's request or, for received messages, into the engine's storage for the duration of
// the callback that hands them out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "queue_error.h"
#include "queue_limits.h"

namespace sluice::queue {

// 128 random bits, written as a UUID.
struct MessageId {
  std::array<uint8_t, 16> bytes{};

  static constexpr size_t kTextLength = 36;
  std::string to_string() const;
  bool operator==(const MessageId&) const = default;
};

// A receipt handle as text: fixed length, no allocation to produce it.
struct ReceiptHandle {
  static constexpr size_t kLength = 40;
  std::array<char, kLength> text{};

  std::string_view view() const { return {text.data(), text.size()}; }
};

// A name and value pair of a queue attribute, as the wire protocols carry them.
struct AttributeValue {
  std::string_view name;
  std::string_view value;
};

struct Tag {
  std::string_view key;
  std::string_view value;
};

// A message attribute; `value` holds the decoded bytes when the data type is Binary.
struct MessageAttribute {
  std::string_view name;
  std::string_view data_type;
  std::string_view value;

  bool binary() const { return data_type.starts_with("Binary"); }
};

enum class DeduplicationScope : uint8_t { kQueue, kMessageGroup };
enum class FifoThroughputLimit : uint8_t { kPerQueue, kPerMessageGroupId };
enum class RedrivePermission : uint8_t { kAllowAll, kDenyAll, kByQueue };

// When a change to a queue is acknowledged (the SluiceDurability attribute): once its log record
// is on disk (kFsync), at once with the log synced at most `interval_ms` later (kInterval), or at
// once with the log written but never synced for this queue's sake (kNone).
enum class DurabilityMode : uint8_t { kFsync, kInterval, kNone };

struct Durability {
  DurabilityMode mode = DurabilityMode::kFsync;
  uint32_t interval_ms = 0;

  bool operator==(const Durability&) const = default;
};

struct RedrivePolicy {
  std::string dead_letter_target_arn;
  uint32_t max_receive_count = 0;

  bool operator==(const RedrivePolicy&) const = default;
};

struct RedriveAllowPolicy {
  RedrivePermission permission = RedrivePermission::kAllowAll;
  std::vector<std::string> source_queue_arns;

  bool operator==(const RedriveAllowPolicy&) const = default;
};

// Every settable attribute of a queue, with the SQS defaults.
struct QueueSettings {
  bool fifo = false;
  uint32_t visibility_timeout_s = limits::kDefaultVisibilitySeconds;
  uint32_t maximum_message_size = limits::kMaxMessageSize;
  uint32_t message_retention_s = limits::kDefaultRetentionSeconds;
  uint32_t delay_s = 0;
  uint32_t receive_wait_s = 0;
  bool content_based_deduplication = false;
  DeduplicationScope deduplication_scope = DeduplicationScope::kQueue;
  FifoThroughputLimit fifo_throughput_limit = FifoThroughputLimit::kPerQueue;
  std::optional<RedrivePolicy> redrive_policy;
  std::optional<RedriveAllowPolicy> redrive_allow_policy;
  std::string policy;
  bool sqs_managed_sse = true;
  std::string kms_master_key_id;
  uint32_t kms_data_key_reuse_period_s = 300;
  Durability durability;
  std::string encryption_key_id;  // SluiceEncryptionKeyId: a configured key; empty: plaintext

  bool operator==(const QueueSettings&) const = default;
};

struct CreateQueueRequest {
  std::string_view name;
  std::span<const AttributeValue> attributes;
  std::span<const Tag> tags;
};

struct CreateQueueResult {
  std::string name;
  std::string arn;
  bool created = false;  // false: an identical queue already existed
};

// One message to send (SendMessage, or one entry of SendMessageBatch).
struct SendEntry {
  std::string_view id;  // the batch entry id; unused by a single send
  std::string_view body;
  std::span<const MessageAttribute> attributes;
  std::optional<uint32_t> delay_s;
  std::string_view group_id;
  std::string_view deduplication_id;
  std::string_view trace_header;  // the AWSTraceHeader system attribute
};

struct SendResult {
  MessageId message_id;
  uint64_t sequence_number = 0;  // FIFO queues only
};

struct ReceiveRequest {
  std::string_view queue;
  uint32_t max_messages = 1;
  std::optional<uint32_t> visibility_timeout_s;  // the queue's when absent
  std::optional<uint32_t> wait_time_s;  // the queue's ReceiveMessageWaitTimeSeconds when absent
};

// A delivered message. Views stay valid until the receive callback returns.
struct ReceivedMessage {
  MessageId message_id;
  ReceiptHandle receipt_handle;
  std::string_view body;
  std::span<const MessageAttribute> attributes;
  uint64_t sent_timestamp_ms = 0;
  uint64_t first_receive_timestamp_ms = 0;
  uint32_t receive_count = 0;
  uint64_t sequence_number = 0;
  std::string_view sender_id;
  std::string_view group_id;
  std::string_view deduplication_id;
  std::string_view trace_header;
  std::string_view dead_letter_source_arn;
};

// What a receive produced: an error, or zero or more messages.
struct ReceiveOutcome {
  const Error* error = nullptr;
  std::span<const ReceivedMessage> messages;
};

// Where a receive's outcome goes; it may be called before receive() returns (messages were
// ready, or the wait is zero) or later, from run_timers() or another operation (long poll).
class ReceiveSink {
 public:
  virtual void on_receive(const ReceiveOutcome& outcome) = 0;

 protected:
  ~ReceiveSink() = default;
};

struct DeleteEntry {
  std::string_view id;
  std::string_view receipt_handle;
};

struct VisibilityEntry {
  std::string_view id;
  std::string_view receipt_handle;
  uint32_t visibility_timeout_s = 0;
};

// One entry's outcome in a batch: an error, or for sends the message's id and sequence number.
struct BatchEntryOutcome {
  std::string_view id;
  std::optional<Error> error;
  SendResult sent;
};

struct BatchOutcome {
  std::array<BatchEntryOutcome, limits::kMaxBatchEntries> entries;
  size_t size = 0;

  std::span<const BatchEntryOutcome> view() const { return {entries.data(), size}; }
};

// Approximate counts, as GetQueueAttributes reports them.
struct QueueCounts {
  uint64_t visible = 0;
  uint64_t in_flight = 0;
  uint64_t delayed = 0;
};

enum class MoveTaskStatus : uint8_t { kRunning, kCompleted, kCancelling, kCancelled, kFailed };

std::string_view move_task_status_name(MoveTaskStatus status);

struct StartMoveTaskRequest {
  std::string_view source_arn;       // the dead-letter queue
  std::string_view destination_arn;  // empty: each message goes back to the queue it came from
  std::optional<uint32_t> max_messages_per_second;
};

struct MoveTaskInfo {
  std::string task_handle;
  MoveTaskStatus status = MoveTaskStatus::kRunning;
  std::string source_arn;
  std::string destination_arn;
  uint32_t max_messages_per_second = 0;  // 0: not given (the engine's own pace)
  uint64_t approximate_messages_moved = 0;
  uint64_t approximate_messages_to_move = 0;
  uint64_t started_timestamp_ms = 0;
  std::string failure_reason;
};

}  // namespace sluice::queue
