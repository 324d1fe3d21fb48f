#include "durable_shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "queue_state.h"

namespace sluice::queue {

namespace {

using wal::RecordType;

wal::QueueImage queue_image(const Queue& q, uint64_t next_task) {
  return wal::QueueImage{.id = q.id,
                         .name = q.name,
                         .settings = q.settings,
                         .tags = {q.tags.begin(), q.tags.end()},
                         .created_ms = q.created_ms,
                         .modified_ms = q.modified_ms,
                         .last_purge_ms = q.last_purge_ms,
                         .purged = q.purged,
                         .next_sequence = q.next_sequence,
                         .dead_lettered_in = q.dead_lettered_in,
                         .move_tasks = {q.move_tasks.begin(), q.move_tasks.end()},
                         .move_running = q.move.running,
                         .move_destination = q.move.destination_name,
                         .next_task = next_task};
}

wal::MessageRef ref_of(const Message& m) {
  return wal::MessageRef{.queue_id = m.queue->id,
                         .slot = m.slot,
                         .id = m.id,
                         .receipt = m.receipt,
                         .deadline_ms = m.timer.expiry_ms,
                         .receive_count = m.receive_count,
                         .first_receive_ms = m.first_receive_ms};
}

// Puts `plain` after a record begun with `frame_flags` (sealed when the queue has a key) and ends
// the record; false, with the record dropped, when sealing fails.
bool put_contents(wal::RecordBuffer& out, const Queue& q, uint64_t lsn,
                  std::span<const uint8_t> plain, wal::KeyRing& keys) {
  const std::string& key = q.settings.encryption_key_id;
  if (key.empty()) {
    out.put(plain.data(), plain.size());
    out.end();
    return true;
  }
  const size_t n = wal::KeyRing::sealed_size(key, plain.size());
  if (!keys.seal(key, q.name, lsn, plain, out.reserve(n))) {
    out.abandon();
    return false;
  }
  out.advance(n);
  out.end();
  return true;
}

size_t contents_bytes(const Queue& q, size_t plain) {
  const std::string& key = q.settings.encryption_key_id;
  return key.empty() ? plain : wal::KeyRing::sealed_size(key, plain);
}

uint8_t frame_flags(const Queue& q) {
  return q.settings.encryption_key_id.empty() ? 0 : wal::kFlagEncrypted;
}

}  // namespace

bool encode_journal_record(const JournalRecord& r, uint64_t next_task, uint64_t lsn,
                           wal::KeyRing& keys, wal::RecordBuffer& out) {
  const Queue& q = *r.queue;
  switch (r.op) {
    case JournalOp::kQueueCreated:
    case JournalOp::kAttributesSet:
    case JournalOp::kTagsChanged:
    case JournalOp::kMoveTaskChanged:
    case JournalOp::kSnapshotQueue:
      encode_queue(out, lsn, r.at_ms, queue_image(q, next_task));
      return true;
    case JournalOp::kQueueDeleted:
      encode_queue_event(out, RecordType::kQueueDeleted, lsn, r.at_ms, q.id, q.name);
      return true;
    case JournalOp::kQueuePurged:
      encode_queue_event(out, RecordType::kQueuePurged, lsn, r.at_ms, q.id, q.name);
      return true;
    case JournalOp::kMessageSent:
    case JournalOp::kMessageAccepted:
    case JournalOp::kSnapshotMessage: {
      const Message& m = *r.message;
      MessageState state = m.state;
      // A snapshot's visible messages (and those being handed over, visible when they left)
      // become visible again in order, after all are stored.
      if (r.op == JournalOp::kSnapshotMessage &&
          (state == MessageState::kVisible || state == MessageState::kHandingOver)) {
        state = MessageState::kStored;
      }
      uint8_t flags = 0;
      if (r.op == JournalOp::kMessageSent && q.settings.fifo) flags |= wal::kMessageRemembersDedup;
      if (r.op == JournalOp::kMessageAccepted) flags |= wal::kMessageAccepted;
      const bool timed = state == MessageState::kDelayed || state == MessageState::kInFlight;
      const wal::MessageImage image{.queue_id = q.id,
                                    .slot = m.slot,
                                    .id = m.id,
                                    .sent_ms = m.sent_ms,
                                    .enqueued_ms = m.enqueued_ms,
                                    .first_receive_ms = m.first_receive_ms,
                                    .received_ms = m.received_ms,
                                    .receipt = m.receipt,
                                    .sequence = m.sequence,
                                    .deadline_ms = timed ? m.timer.expiry_ms : 0,
                                    .receive_count = m.receive_count,
                                    .state = static_cast<uint8_t>(state),
                                    .flags = flags,
                                    .attribute_count = m.attribute_count,
                                    .body_len = m.body_len,
                                    .attributes_len = m.attributes_len,
                                    .sender_len = m.sender_len,
                                    .trace_len = m.trace_len,
                                    .dedup_len = m.dedup_len,
                                    .group_len = m.group_len,
                                    .dead_letter_source = r.payload};
      const std::span<const uint8_t> plain(m.block, image.contents_len());
      wal::begin_message(out, lsn, frame_flags(q), r.at_ms, image, contents_bytes(q, plain.size()));
      return put_contents(out, q, lsn, plain, keys);
    }
    case JournalOp::kMessageDelivered:
      encode_ref(out, RecordType::kMessageDelivered, lsn, r.at_ms, ref_of(*r.message));
      return true;
    case JournalOp::kVisibilityChanged: {
      wal::MessageRef ref = ref_of(*r.message);
      ref.deadline_ms = r.value;
      encode_ref(out, RecordType::kVisibilityChanged, lsn, r.at_ms, ref);
      return true;
    }
    case JournalOp::kMessageVisible:
      encode_ref(out, RecordType::kMessageVisible, lsn, r.at_ms, ref_of(*r.message));
      return true;
    case JournalOp::kMessageDeleted:
    case JournalOp::kMessageExpired:
    case JournalOp::kMessageMovedOut: {
      wal::MessageRef ref = ref_of(*r.message);
      wal::ReleaseReason reason = wal::ReleaseReason::kDeleted;
      if (r.op == JournalOp::kMessageExpired) reason = wal::ReleaseReason::kExpired;
      if (r.op == JournalOp::kMessageMovedOut) {
        reason = r.value == 1 ? wal::ReleaseReason::kMovedByTask : wal::ReleaseReason::kMovedOut;
      }
      ref.reason = static_cast<uint8_t>(reason);
      encode_ref(out, RecordType::kMessageReleased, lsn, r.at_ms, ref);
      return true;
    }
    case JournalOp::kSnapshotDedup: {
      const DedupEntry& d = *r.dedup;
      const std::string_view key = d.key();
      const wal::DedupImage image{.queue_id = q.id,
                                  .expires_ms = d.expires_ms,
                                  .message_id = d.message_id,
                                  .sequence = d.sequence};
      wal::begin_dedup(out, lsn, frame_flags(q), r.at_ms, image, contents_bytes(q, key.size()));
      return put_contents(out, q, lsn, {reinterpret_cast<const uint8_t*>(key.data()), key.size()},
                          keys);
    }
  }
  return false;
}

DurableShard::DurableShard(DurableShardConfig config, const Clock& clock)
    : config_(std::move(config)), clock_(clock), keys_(config_.keys) {}

DurableShard::~DurableShard() = default;

std::unique_ptr<DurableShard> DurableShard::open(DurableShardConfig config, const Clock& clock,
                                                 std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(config.directory, ec);
  if (ec) {
    *error = "queue log " + config.directory + ": cannot create the directory: " + ec.message();
    return nullptr;
  }
  for (const auto& [id, key] : config.keys) config.engine.encryption_key_ids.push_back(id);
  std::unique_ptr<DurableShard> s(new DurableShard(std::move(config), clock));
  Journal& journal = *s;
  s->engine_ = std::make_unique<QueueEngine>(s->config_.engine, clock, journal);
  if (!wal::recover(s->config_.directory, *s->engine_, s->keys_, s->config_.recovery, &s->recovery_,
                    error)) {
    return nullptr;
  }
  s->writer_ = wal::WalWriter::create(s->config_.directory, s->recovery_.next_segment,
                                      s->recovery_.last_lsn + 1, clock.now_ms(), s->header(false),
                                      s->config_.io_uring, error);
  if (s->writer_ == nullptr) return nullptr;
  s->stats_.log_bytes = s->recovery_.bytes + s->writer_->segment_bytes();
  s->stats_.last_compaction_bytes = s->recovery_.snapshot_bytes;
  return s;
}

wal::SegmentHeader DurableShard::header(bool snapshot) const {
  return {.snapshot = snapshot, .state = engine_->shard_state()};
}

const std::string& DurableShard::failure() const {
  return writer_->failure().empty() ? failure_ : writer_->failure();
}

void DurableShard::record(const JournalRecord& r) {
  if (!failure_.empty()) return;
  if (!encode_journal_record(r, engine_->shard_state().next_task, writer_->next_lsn(), keys_,
                             writer_->buffer())) {
    failure_ = "queue log: a record of queue " + r.queue->name + " could not be sealed";
    return;
  }
  writer_->committed(r.queue->settings.durability, r.at_ms);
}

uint64_t DurableShard::ack_lsn(std::string_view queue) const {
  if (engine_->durability_of(queue).mode != DurabilityMode::kFsync) return 0;
  const uint64_t tail = writer_->appended_lsn();
  return tail <= writer_->durable_lsn() ? 0 : tail;
}

void DurableShard::when_durable(uint64_t lsn, DurableAck& ack) {
  if (lsn <= writer_->durable_lsn()) {
    ack.on_durable();
    return;
  }
  ack.lsn_ = lsn;
  ack.next_ = nullptr;
  if (acks_tail_ != nullptr) {
    acks_tail_->next_ = &ack;
  } else {
    acks_head_ = &ack;
  }
  acks_tail_ = &ack;
}

size_t DurableShard::release_acks() {
  const uint64_t durable = writer_->durable_lsn();
  size_t released = 0;
  while (acks_head_ != nullptr && acks_head_->lsn_ <= durable) {
    DurableAck* ack = acks_head_;
    acks_head_ = ack->next_;
    if (acks_head_ == nullptr) acks_tail_ = nullptr;
    ack->on_durable();
    ++released;
  }
  return released;
}

size_t DurableShard::poll() {
  writer_->poll();
  stats_.log_bytes += writer_->stats().bytes - counted_bytes_;
  counted_bytes_ = writer_->stats().bytes;
  if (!writer_->busy() && failure().empty()) {
    const uint64_t due = std::max(config_.compact_min_bytes,
                                  uint64_t{config_.compact_ratio} * stats_.last_compaction_bytes);
    if (stats_.log_bytes >= due) {
      compact();
    } else if (writer_->segment_bytes() >= config_.segment_bytes) {
      writer_->roll(clock_.now_ms(), header(false));
    }
  }
  writer_->flush(clock_.now_ms());
  return release_acks();
}

bool DurableShard::sync() {
  const bool ok = writer_->sync(clock_.now_ms());
  release_acks();
  return ok;
}

// A journal that frames the snapshot's records into a buffer and writes it out in chunks.
class SnapshotWriter final : public Journal {
 public:
  SnapshotWriter(int fd, uint64_t lsn, uint64_t next_task, wal::KeyRing& keys)
      : fd_(fd), lsn_(lsn), next_task_(next_task), keys_(keys), buffer_(size_t{8} << 20) {}

  void record(const JournalRecord& r) override {
    if (!ok_) return;
    ok_ = encode_journal_record(r, next_task_, lsn_, keys_, buffer_);
    ++lsn_;
    if (buffer_.size() >= (size_t{8} << 20)) write_out();
  }
  void write_out() {
    ok_ = ok_ && wal::write_fully(fd_, buffer_.data(), buffer_.size(), size_);
    size_ += buffer_.size();
    buffer_.clear();
  }

  wal::RecordBuffer& buffer() { return buffer_; }
  uint64_t next_lsn() { return lsn_++; }
  uint64_t last_lsn() const { return lsn_ - 1; }
  uint64_t size() const { return size_; }
  bool ok() const { return ok_; }

 private:
  int fd_;
  uint64_t lsn_;
  uint64_t next_task_;
  wal::KeyRing& keys_;
  wal::RecordBuffer buffer_;
  uint64_t size_ = 0;
  bool ok_ = true;
};

bool DurableShard::compact() {
  const uint64_t now = clock_.now_ms();
  if (!sync()) return false;
  const uint64_t segment = writer_->segment() + 1;
  const std::string path = wal::segment_path(config_.directory, segment);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  SnapshotWriter out(fd, writer_->next_lsn(), engine_->shard_state().next_task, keys_);
  wal::SegmentHeader h = header(true);
  h.segment = segment;
  wal::encode_header(out.buffer(), writer_->next_lsn(), now, h);
  engine_->journal_snapshot(out);
  wal::encode_snapshot_end(out.buffer(), out.next_lsn(), now);
  out.write_out();
  if (!out.ok() || fdatasync(fd) != 0 || !wal::sync_directory(config_.directory)) {
    close(fd);
    std::filesystem::remove(path);
    return false;
  }
  writer_->adopt(segment, fd, out.size(), out.last_lsn());
  for (uint64_t n : wal::list_segments(config_.directory)) {
    if (n < segment) std::filesystem::remove(wal::segment_path(config_.directory, n));
  }
  wal::sync_directory(config_.directory);
  ++stats_.compactions;
  stats_.last_compaction_bytes = stats_.log_bytes = out.size();
  counted_bytes_ = writer_->stats().bytes;
  return true;
}

}  // namespace sluice::queue
