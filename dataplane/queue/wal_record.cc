#include "wal_record.h"

#include <algorithm>
#include <array>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace sluice::queue::wal {

namespace {

#if !defined(__SSE4_2__)
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = make_crc_table();
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
#if defined(__SSE4_2__)
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  crc = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) crc = _mm_crc32_u8(crc, *p);
#else
  for (; n > 0; --n, ++p) crc = kCrcTable[(crc ^ *p) & 0xff] ^ (crc >> 8);
#endif
  return ~crc;
}

// --- RecordBuffer ---

uint8_t* RecordBuffer::reserve(size_t n) {
  if (size_ + n > capacity_) {
    const size_t capacity = std::max({size_ + n, capacity_ * 2, size_t{4096}});
    auto bigger = std::make_unique<uint8_t[]>(capacity);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }
  return data_.get() + size_;
}

void RecordBuffer::begin(RecordType type, uint8_t flags, uint64_t lsn) {
  record_start_ = size_;
  uint8_t* h = reserve(kFrameHeader);
  std::memset(h, 0, kFrameHeader);
  std::memcpy(h + 8, &lsn, 8);
  h[16] = static_cast<uint8_t>(type);
  h[17] = flags;
  size_ += kFrameHeader;
}

void RecordBuffer::end() {
  uint8_t* h = data_.get() + record_start_;
  const auto length = static_cast<uint32_t>(size_ - record_start_ - kFrameHeader);
  std::memcpy(h + 4, &length, 4);
  const uint32_t crc = crc32c(0, h + 4, size_ - record_start_ - 4);
  std::memcpy(h, &crc, 4);
}

void RecordBuffer::swap(RecordBuffer& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(capacity_, other.capacity_);
  std::swap(size_, other.size_);
  std::swap(record_start_, other.record_start_);
}

// --- ByteReader ---

bool ByteReader::get(void* out, size_t n) {
  if (!ok_ || left_ < n) return ok_ = false;
  std::memcpy(out, p_, n);
  p_ += n;
  left_ -= n;
  return true;
}

bool ByteReader::bytes(size_t n, std::span<const uint8_t>* out) {
  if (!ok_ || left_ < n) return ok_ = false;
  *out = {p_, n};
  p_ += n;
  left_ -= n;
  return true;
}

bool ByteReader::str(std::string_view* s) {
  uint32_t n = 0;
  std::span<const uint8_t> b;
  if (!u32(&n) || !bytes(n, &b)) return false;
  *s = {reinterpret_cast<const char*>(b.data()), b.size()};
  return true;
}

// --- frames ---

FrameResult decode_frame(std::span<const uint8_t> bytes, size_t offset) {
  FrameResult r;
  if (offset >= bytes.size()) return r;
  const std::span<const uint8_t> rest = bytes.subspan(offset);
  r.present = rest.size();
  if (std::all_of(rest.begin(), rest.begin() + std::min(rest.size(), kFrameHeader),
                  [](uint8_t b) { return b == 0; })) {
    r.status = FrameStatus::kTorn;
    r.reason = "zeros where a record should start";
    return r;
  }
  if (rest.size() < kFrameHeader) {
    r.status = FrameStatus::kTorn;
    r.reason = "record header cut short";
    return r;
  }
  uint32_t crc = 0;
  std::memcpy(&crc, rest.data(), 4);
  std::memcpy(&r.length, rest.data() + 4, 4);
  const uint8_t type = rest[16];
  if (r.length > kMaxPayload || type == 0 || type > kLastRecordType || rest[18] != 0 ||
      rest[19] != 0) {
    r.status = FrameStatus::kCorrupt;
    r.reason = "impossible record header";
    return r;
  }
  if (rest.size() - kFrameHeader < r.length) {
    r.status = FrameStatus::kTorn;
    r.reason = "record cut short";
    return r;
  }
  if (crc32c(0, rest.data() + 4, kFrameHeader - 4 + r.length) != crc) {
    r.status = FrameStatus::kCorrupt;
    r.reason = "checksum mismatch";
    return r;
  }
  r.status = FrameStatus::kOk;
  r.frame.type = static_cast<RecordType>(type);
  r.frame.flags = rest[17];
  std::memcpy(&r.frame.lsn, rest.data() + 8, 8);
  r.frame.payload = rest.subspan(kFrameHeader, r.length);
  r.frame.size = kFrameHeader + r.length;
  return r;
}

// --- payloads ---

namespace {

void put_id(RecordBuffer& b, const MessageId& id) {
  b.put(id.bytes.data(), id.bytes.size());
}

bool get_id(ByteReader& r, MessageId* id) {
  std::span<const uint8_t> b;
  if (!r.bytes(id->bytes.size(), &b)) return false;
  std::memcpy(id->bytes.data(), b.data(), b.size());
  return true;
}

bool get_string(ByteReader& r, std::string* s) {
  std::string_view v;
  if (!r.str(&v)) return false;
  s->assign(v);
  return true;
}

bool get_bool(ByteReader& r, bool* v) {
  uint8_t b = 0;
  if (!r.u8(&b) || b > 1) return false;
  *v = b == 1;
  return true;
}

template <class E>
bool get_enum(ByteReader& r, E* v, uint8_t last) {
  uint8_t b = 0;
  if (!r.u8(&b) || b > last) return false;
  *v = static_cast<E>(b);
  return true;
}

void put_settings(RecordBuffer& b, const QueueSettings& s) {
  b.put_u8(s.fifo);
  b.put_u32(s.visibility_timeout_s);
  b.put_u32(s.maximum_message_size);
  b.put_u32(s.message_retention_s);
  b.put_u32(s.delay_s);
  b.put_u32(s.receive_wait_s);
  b.put_u8(s.content_based_deduplication);
  b.put_u8(static_cast<uint8_t>(s.deduplication_scope));
  b.put_u8(static_cast<uint8_t>(s.fifo_throughput_limit));
  b.put_u8(s.redrive_policy.has_value());
  if (s.redrive_policy) {
    b.put_str(s.redrive_policy->dead_letter_target_arn);
    b.put_u32(s.redrive_policy->max_receive_count);
  }
  b.put_u8(s.redrive_allow_policy.has_value());
  if (s.redrive_allow_policy) {
    b.put_u8(static_cast<uint8_t>(s.redrive_allow_policy->permission));
    b.put_u32(static_cast<uint32_t>(s.redrive_allow_policy->source_queue_arns.size()));
    for (const std::string& arn : s.redrive_allow_policy->source_queue_arns) b.put_str(arn);
  }
  b.put_str(s.policy);
  b.put_u8(s.sqs_managed_sse);
  b.put_str(s.kms_master_key_id);
  b.put_u32(s.kms_data_key_reuse_period_s);
  b.put_u8(static_cast<uint8_t>(s.durability.mode));
  b.put_u32(s.durability.interval_ms);
  b.put_str(s.encryption_key_id);
}

bool get_settings(ByteReader& r, QueueSettings* s) {
  bool has = false;
  if (!get_bool(r, &s->fifo) || !r.u32(&s->visibility_timeout_s) ||
      !r.u32(&s->maximum_message_size) || !r.u32(&s->message_retention_s) || !r.u32(&s->delay_s) ||
      !r.u32(&s->receive_wait_s) || !get_bool(r, &s->content_based_deduplication) ||
      !get_enum(r, &s->deduplication_scope, 1) || !get_enum(r, &s->fifo_throughput_limit, 1) ||
      !get_bool(r, &has)) {
    return false;
  }
  s->redrive_policy.reset();
  if (has) {
    RedrivePolicy p;
    if (!get_string(r, &p.dead_letter_target_arn) || !r.u32(&p.max_receive_count)) return false;
    s->redrive_policy = std::move(p);
  }
  if (!get_bool(r, &has)) return false;
  s->redrive_allow_policy.reset();
  if (has) {
    RedriveAllowPolicy p;
    uint32_t n = 0;
    if (!get_enum(r, &p.permission, 2) || !r.u32(&n) || n > limits::kMaxSourceQueueArns) {
      return false;
    }
    p.source_queue_arns.resize(n);
    for (std::string& arn : p.source_queue_arns) {
      if (!get_string(r, &arn)) return false;
    }
    s->redrive_allow_policy = std::move(p);
  }
  return get_string(r, &s->policy) && get_bool(r, &s->sqs_managed_sse) &&
         get_string(r, &s->kms_master_key_id) && r.u32(&s->kms_data_key_reuse_period_s) &&
         get_enum(r, &s->durability.mode, 2) && r.u32(&s->durability.interval_ms) &&
         get_string(r, &s->encryption_key_id);
}

void put_task(RecordBuffer& b, const MoveTaskInfo& t) {
  b.put_str(t.task_handle);
  b.put_u8(static_cast<uint8_t>(t.status));
  b.put_str(t.source_arn);
  b.put_str(t.destination_arn);
  b.put_u32(t.max_messages_per_second);
  b.put_u64(t.approximate_messages_moved);
  b.put_u64(t.approximate_messages_to_move);
  b.put_u64(t.started_timestamp_ms);
  b.put_str(t.failure_reason);
}

bool get_task(ByteReader& r, MoveTaskInfo* t) {
  return get_string(r, &t->task_handle) && get_enum(r, &t->status, 4) &&
         get_string(r, &t->source_arn) && get_string(r, &t->destination_arn) &&
         r.u32(&t->max_messages_per_second) && r.u64(&t->approximate_messages_moved) &&
         r.u64(&t->approximate_messages_to_move) && r.u64(&t->started_timestamp_ms) &&
         get_string(r, &t->failure_reason);
}

void put_state(RecordBuffer& b, const ShardState& s) {
  b.put_u64(s.handle_key);
  b.put_u64(s.next_receipt);
  b.put_u64(s.next_task);
  b.put_u32(s.next_queue_id);
}

bool decode_queue(ByteReader& r, QueueImage* q) {
  uint32_t tags = 0;
  uint32_t tasks = 0;
  if (!r.u32(&q->id) || !get_string(r, &q->name) || !get_settings(r, &q->settings) ||
      !r.u32(&tags) || tags > limits::kMaxTagsPerQueue) {
    return false;
  }
  q->tags.resize(tags);
  for (auto& [k, v] : q->tags) {
    if (!get_string(r, &k) || !get_string(r, &v)) return false;
  }
  if (!r.u64(&q->created_ms) || !r.u64(&q->modified_ms) || !r.u64(&q->last_purge_ms) ||
      !get_bool(r, &q->purged) || !r.u64(&q->next_sequence) || !r.u64(&q->dead_lettered_in) ||
      !r.u32(&tasks) || tasks > limits::kListedMoveTasks) {
    return false;
  }
  q->move_tasks.resize(tasks);
  for (MoveTaskInfo& t : q->move_tasks) {
    if (!get_task(r, &t)) return false;
  }
  return get_bool(r, &q->move_running) && get_string(r, &q->move_destination) &&
         r.u64(&q->next_task);
}

bool decode_message(ByteReader& r, bool sealed, MessageImage* m) {
  if (!r.u32(&m->queue_id) || !r.u32(&m->slot) || !get_id(r, &m->id) || !r.u64(&m->sent_ms) ||
      !r.u64(&m->enqueued_ms) || !r.u64(&m->first_receive_ms) || !r.u64(&m->received_ms) ||
      !r.u64(&m->receipt) || !r.u64(&m->sequence) || !r.u64(&m->deadline_ms) ||
      !r.u32(&m->receive_count) || !r.u8(&m->state) || m->state > 3 || !r.u8(&m->flags) ||
      !r.u8(&m->attribute_count) || !r.u32(&m->body_len) || !r.u32(&m->attributes_len) ||
      !r.u16(&m->sender_len) || !r.u16(&m->trace_len) || !r.u8(&m->dedup_len) ||
      !r.u8(&m->group_len) || !r.str(&m->dead_letter_source)) {
    return false;
  }
  if (m->body_len > kMaxPayload || m->attributes_len > kMaxPayload ||
      m->attribute_count > limits::kMaxMessageAttributes) {
    return false;
  }
  uint32_t n = 0;
  if (!r.u32(&n) || !r.bytes(n, &m->contents)) return false;
  return sealed || n == m->contents_len();
}

bool decode_ref(ByteReader& r, RecordType type, MessageRef* ref) {
  if (!r.u32(&ref->queue_id) || !r.u32(&ref->slot) || !get_id(r, &ref->id)) return false;
  if (type == RecordType::kMessageDelivered || type == RecordType::kVisibilityChanged) {
    return r.u64(&ref->receipt) && r.u64(&ref->deadline_ms) && r.u32(&ref->receive_count) &&
           r.u64(&ref->first_receive_ms);
  }
  if (type == RecordType::kMessageReleased) {
    return r.u8(&ref->reason) && ref->reason <= static_cast<uint8_t>(ReleaseReason::kMovedByTask);
  }
  return true;
}

}  // namespace

bool decode_entry(const Frame& frame, Entry* e) {
  ByteReader r(frame.payload);
  e->type = frame.type;
  e->flags = frame.flags;
  e->lsn = frame.lsn;
  const bool sealed = (frame.flags & kFlagEncrypted) != 0;
  if ((frame.flags & ~kFlagEncrypted) != 0 || (sealed && frame.type != RecordType::kMessageStored &&
                                               frame.type != RecordType::kDedupEntry)) {
    return false;
  }
  if (!r.u64(&e->at_ms)) return false;
  bool ok = false;
  switch (frame.type) {
    case RecordType::kSegmentHeader: {
      uint64_t magic = 0;
      uint32_t version = 0;
      ok = r.u64(&magic) && magic == kMagic && r.u32(&version) && version == kVersion &&
           r.u64(&e->header.segment) && get_bool(r, &e->header.snapshot) &&
           r.u64(&e->header.state.handle_key) && r.u64(&e->header.state.next_receipt) &&
           r.u64(&e->header.state.next_task) && r.u32(&e->header.state.next_queue_id);
      break;
    }
    case RecordType::kQueueState:
      ok = decode_queue(r, &e->queue);
      break;
    case RecordType::kQueueDeleted:
    case RecordType::kQueuePurged:
      ok = r.u32(&e->queue_id) && r.str(&e->name);
      break;
    case RecordType::kMessageStored:
      ok = decode_message(r, sealed, &e->message);
      break;
    case RecordType::kMessageDelivered:
    case RecordType::kVisibilityChanged:
    case RecordType::kMessageVisible:
    case RecordType::kMessageReleased:
      ok = decode_ref(r, frame.type, &e->ref);
      break;
    case RecordType::kDedupEntry: {
      uint32_t n = 0;
      ok = r.u32(&e->dedup.queue_id) && r.u64(&e->dedup.expires_ms) &&
           get_id(r, &e->dedup.message_id) && r.u64(&e->dedup.sequence) && r.u32(&n) &&
           r.bytes(n, &e->dedup.key);
      break;
    }
    case RecordType::kSnapshotEnd:
      ok = true;
      break;
  }
  return ok && r.done();
}

void encode_header(RecordBuffer& b, uint64_t first_lsn, uint64_t at_ms, const SegmentHeader& h) {
  b.begin(RecordType::kSegmentHeader, 0, first_lsn);
  b.put_u64(at_ms);
  b.put_u64(kMagic);
  b.put_u32(kVersion);
  b.put_u64(h.segment);
  b.put_u8(h.snapshot);
  put_state(b, h.state);
  b.end();
}

void encode_queue(RecordBuffer& b, uint64_t lsn, uint64_t at_ms, const QueueImage& q) {
  b.begin(RecordType::kQueueState, 0, lsn);
  b.put_u64(at_ms);
  b.put_u32(q.id);
  b.put_str(q.name);
  put_settings(b, q.settings);
  b.put_u32(static_cast<uint32_t>(q.tags.size()));
  for (const auto& [k, v] : q.tags) {
    b.put_str(k);
    b.put_str(v);
  }
  b.put_u64(q.created_ms);
  b.put_u64(q.modified_ms);
  b.put_u64(q.last_purge_ms);
  b.put_u8(q.purged);
  b.put_u64(q.next_sequence);
  b.put_u64(q.dead_lettered_in);
  b.put_u32(static_cast<uint32_t>(q.move_tasks.size()));
  for (const MoveTaskInfo& t : q.move_tasks) put_task(b, t);
  b.put_u8(q.move_running);
  b.put_str(q.move_destination);
  b.put_u64(q.next_task);
  b.end();
}

void encode_queue_event(RecordBuffer& b, RecordType type, uint64_t lsn, uint64_t at_ms,
                        uint32_t queue_id, std::string_view name) {
  b.begin(type, 0, lsn);
  b.put_u64(at_ms);
  b.put_u32(queue_id);
  b.put_str(name);
  b.end();
}

void begin_message(RecordBuffer& b, uint64_t lsn, uint8_t frame_flags, uint64_t at_ms,
                   const MessageImage& m, size_t contents_bytes) {
  b.begin(RecordType::kMessageStored, frame_flags, lsn);
  b.put_u64(at_ms);
  b.put_u32(m.queue_id);
  b.put_u32(m.slot);
  put_id(b, m.id);
  b.put_u64(m.sent_ms);
  b.put_u64(m.enqueued_ms);
  b.put_u64(m.first_receive_ms);
  b.put_u64(m.received_ms);
  b.put_u64(m.receipt);
  b.put_u64(m.sequence);
  b.put_u64(m.deadline_ms);
  b.put_u32(m.receive_count);
  b.put_u8(m.state);
  b.put_u8(m.flags);
  b.put_u8(m.attribute_count);
  b.put_u32(m.body_len);
  b.put_u32(m.attributes_len);
  b.put_u16(m.sender_len);
  b.put_u16(m.trace_len);
  b.put_u8(m.dedup_len);
  b.put_u8(m.group_len);
  b.put_str(m.dead_letter_source);
  b.put_u32(static_cast<uint32_t>(contents_bytes));
}

void encode_ref(RecordBuffer& b, RecordType type, uint64_t lsn, uint64_t at_ms,
                const MessageRef& r) {
  b.begin(type, 0, lsn);
  b.put_u64(at_ms);
  b.put_u32(r.queue_id);
  b.put_u32(r.slot);
  put_id(b, r.id);
  if (type == RecordType::kMessageDelivered || type == RecordType::kVisibilityChanged) {
    b.put_u64(r.receipt);
    b.put_u64(r.deadline_ms);
    b.put_u32(r.receive_count);
    b.put_u64(r.first_receive_ms);
  } else if (type == RecordType::kMessageReleased) {
    b.put_u8(r.reason);
  }
  b.end();
}

void begin_dedup(RecordBuffer& b, uint64_t lsn, uint8_t frame_flags, uint64_t at_ms,
                 const DedupImage& d, size_t key_bytes) {
  b.begin(RecordType::kDedupEntry, frame_flags, lsn);
  b.put_u64(at_ms);
  b.put_u32(d.queue_id);
  b.put_u64(d.expires_ms);
  put_id(b, d.message_id);
  b.put_u64(d.sequence);
  b.put_u32(static_cast<uint32_t>(key_bytes));
}

void encode_snapshot_end(RecordBuffer& b, uint64_t lsn, uint64_t at_ms) {
  b.begin(RecordType::kSnapshotEnd, 0, lsn);
  b.put_u64(at_ms);
  b.end();
}

}  // namespace sluice::queue::wal
