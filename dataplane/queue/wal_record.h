// The queue write-ahead log's record format: frames checked with CRC32C, and the typed payload of
// each kind of record. The encoders write into a RecordBuffer; the decoders are strict: they tell
// a torn (incomplete) record from a corrupt one and never read past the bytes they are given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue_types.h"

namespace sluice::queue::wal {

// CRC32C (Castagnoli), with SSE4.2 where the target has it.
uint32_t crc32c(uint32_t crc, const uint8_t* data, size_t size);

enum class RecordType : uint8_t {
  kSegmentHeader = 1,  // first in every segment; its LSN field is the segment's first LSN
  kQueueState,         // a queue's whole header: created, attributes, tags, move tasks
  kQueueDeleted,
  kQueuePurged,
  kMessageStored,  // a message with its contents and its whole delivery state
  kMessageDelivered,
  kVisibilityChanged,
  kMessageVisible,
  kMessageReleased,  // deleted, expired or moved out
  kDedupEntry,       // snapshots only: a deduplication id still in its window
  kSnapshotEnd,      // the snapshot that opened the segment is complete
};
inline constexpr uint8_t kLastRecordType = static_cast<uint8_t>(RecordType::kSnapshotEnd);

// Frame flags.
inline constexpr uint8_t kFlagEncrypted = 1;

// crc32c (4) | payload length (4) | LSN (8) | type (1) | flags (1) | reserved, zero (2) | payload.
// The CRC covers everything after itself.
inline constexpr size_t kFrameHeader = 20;
inline constexpr uint32_t kMaxPayload = 8u << 20;

// A growing byte buffer that frames records: begin() a record, put its payload, end() it.
class RecordBuffer {
 public:
  RecordBuffer() = default;
  explicit RecordBuffer(size_t capacity) { reserve(capacity); }

  void begin(RecordType type, uint8_t flags, uint64_t lsn);
  void end();  // fills in the length and the CRC of the record begun last
  void abandon() { size_ = record_start_; }  // drops the record begun last

  void put_u8(uint8_t v) { put(&v, 1); }
  void put_u16(uint16_t v) { put(&v, 2); }
  void put_u32(uint32_t v) { put(&v, 4); }
  void put_u64(uint64_t v) { put(&v, 8); }
  void put_str(std::string_view s) {  // u32 length, bytes
    put_u32(static_cast<uint32_t>(s.size()));
    put(s.data(), s.size());
  }
  void put(const void* p, size_t n) {
    if (n == 0) return;
    std::memcpy(reserve(n), p, n);
    size_ += n;
  }
  // Room for `n` more bytes at the end; commit them with advance(n).
  uint8_t* reserve(size_t n);
  void advance(size_t n) { size_ += n; }

  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  void swap(RecordBuffer& other) noexcept;

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t record_start_ = 0;
};

// Reads a payload; every getter fails (and keeps failing) instead of reading past the end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : p_(bytes.data()), left_(bytes.size()) {}

  bool u8(uint8_t* v) { return get(v, 1); }
  bool u16(uint16_t* v) { return get(v, 2); }
  bool u32(uint32_t* v) { return get(v, 4); }
  bool u64(uint64_t* v) { return get(v, 8); }
  bool str(std::string_view* s);
  bool bytes(size_t n, std::span<const uint8_t>* out);
  bool done() const { return ok_ && left_ == 0; }

 private:
  bool get(void* out, size_t n);

  const uint8_t* p_;
  size_t left_;
  bool ok_ = true;
};

struct Frame {
  RecordType type = RecordType::kSegmentHeader;
  uint8_t flags = 0;
  uint64_t lsn = 0;
  std::span<const uint8_t> payload;
  size_t size = 0;  // header and payload
};

enum class FrameStatus : uint8_t { kOk, kEnd, kTorn, kCorrupt };

struct FrameResult {
  FrameStatus status = FrameStatus::kEnd;
  Frame frame;
  uint32_t length = 0;  // the payload length the header claims (torn and corrupt records)
  size_t present = 0;   // bytes from the record's start to the end of the buffer
  std::string_view reason;
};

// The record at `offset` of `bytes`: kEnd at the end, kTorn when it is cut short (or the rest of
// the buffer is zeros, as a write lost in a crash leaves it), kCorrupt when its header or CRC is
// wrong.
FrameResult decode_frame(std::span<const uint8_t> bytes, size_t offset);

// --- payloads; each starts with the time of the change (u64 epoch ms) ---

inline constexpr uint64_t kMagic = 0x4c41575f45434c53ull;  // "SLCE_WAL"
inline constexpr uint32_t kVersion = 1;

// Counters of the shard that must never go back after a restart.
struct ShardState {
  uint64_t handle_key = 0;
  uint64_t next_receipt = 0;
  uint64_t next_task = 0;
  uint32_t next_queue_id = 1;
};

struct SegmentHeader {
  uint64_t segment = 0;
  bool snapshot = false;  // the segment opens with a snapshot of the whole shard
  ShardState state;
};

// Everything about a queue except its messages.
struct QueueImage {
  uint32_t id = 0;
  std::string name;
  QueueSettings settings;
  std::vector<std::pair<std::string, std::string>> tags;
  uint64_t created_ms = 0;
  uint64_t modified_ms = 0;
  uint64_t last_purge_ms = 0;
  bool purged = false;
  uint64_t next_sequence = 0;
  uint64_t dead_lettered_in = 0;
  std::vector<MoveTaskInfo> move_tasks;  // newest first
  bool move_running = false;
  std::string move_destination;
  uint64_t next_task = 0;  // the shard's task counter
};

// Message flags.
inline constexpr uint8_t kMessageRemembersDedup = 1;  // a FIFO send: its deduplication id counts
inline constexpr uint8_t kMessageAccepted = 2;        // arrived from another queue

// A message with its whole state. `contents` are, one after another, the body, the encoded
// attributes, sender id, trace header, deduplication id and group id; sealed (see wal_crypto.h)
// when the record is encrypted.
struct MessageImage {
  uint32_t queue_id = 0;
  uint32_t slot = 0;
  MessageId id;
  uint64_t sent_ms = 0;
  uint64_t enqueued_ms = 0;
  uint64_t first_receive_ms = 0;
  uint64_t received_ms = 0;
  uint64_t receipt = 0;
  uint64_t sequence = 0;
  uint64_t deadline_ms = 0;  // end of the delay or of the visibility timeout
  uint32_t receive_count = 0;
  uint8_t state = 0;  // MessageState
  uint8_t flags = 0;
  uint8_t attribute_count = 0;
  uint32_t body_len = 0;
  uint32_t attributes_len = 0;
  uint16_t sender_len = 0;
  uint16_t trace_len = 0;
  uint8_t dedup_len = 0;
  uint8_t group_len = 0;
  std::string_view dead_letter_source;
  std::span<const uint8_t> contents;

  size_t contents_len() const {
    return size_t{body_len} + attributes_len + sender_len + trace_len + dedup_len + group_len;
  }
};

// A change to one message (delivered, visibility changed, visible again, released).
struct MessageRef {
  uint32_t queue_id = 0;
  uint32_t slot = 0;
  MessageId id;
  uint64_t receipt = 0;
  uint64_t deadline_ms = 0;
  uint32_t receive_count = 0;
  uint64_t first_receive_ms = 0;
  uint8_t reason = 0;  // released: ReleaseReason
};

enum class ReleaseReason : uint8_t { kDeleted, kExpired, kMovedOut, kMovedByTask };

// A deduplication id within its window; `key` sealed when the record is encrypted.
struct DedupImage {
  uint32_t queue_id = 0;
  uint64_t expires_ms = 0;
  MessageId message_id;
  uint64_t sequence = 0;
  std::span<const uint8_t> key;
};

// One decoded record. Views point into the frame's bytes.
struct Entry {
  RecordType type = RecordType::kSegmentHeader;
  uint8_t flags = 0;
  uint64_t lsn = 0;
  uint64_t at_ms = 0;
  SegmentHeader header;
  QueueImage queue;       // kQueueState
  uint32_t queue_id = 0;  // kQueueDeleted, kQueuePurged
  std::string_view name;  // kQueueDeleted, kQueuePurged
  MessageImage message;   // kMessageStored
  MessageRef ref;    // kMessageDelivered, kVisibilityChanged, kMessageVisible, kMessageReleased
  DedupImage dedup;  // kDedupEntry
};

// Decodes a frame's payload; false when it does not parse.
bool decode_entry(const Frame& frame, Entry* out);

// Encoders: each frames one complete record.
void encode_header(RecordBuffer& b, uint64_t first_lsn, uint64_t at_ms, const SegmentHeader& h);
void encode_queue(RecordBuffer& b, uint64_t lsn, uint64_t at_ms, const QueueImage& q);
void encode_queue_event(RecordBuffer& b, RecordType type, uint64_t lsn, uint64_t at_ms,
                        uint32_t queue_id, std::string_view name);
// The message's fields go first; the caller then puts `contents_bytes` of contents (plain or
// sealed) and calls b.end().
void begin_message(RecordBuffer& b, uint64_t lsn, uint8_t frame_flags, uint64_t at_ms,
                   const MessageImage& m, size_t contents_bytes);
void encode_ref(RecordBuffer& b, RecordType type, uint64_t lsn, uint64_t at_ms,
                const MessageRef& r);
// As begin_message: the caller puts `key_bytes` of key and calls b.end().
void begin_dedup(RecordBuffer& b, uint64_t lsn, uint8_t frame_flags, uint64_t at_ms,
                 const DedupImage& d, size_t key_bytes);
void encode_snapshot_end(RecordBuffer& b, uint64_t lsn, uint64_t at_ms);

}  // namespace sluice::queue::wal
