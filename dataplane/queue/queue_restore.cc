// QueueEngine: rebuilding a shard from its write-ahead log record by record (no operation is
// run again: each record says what the state became), and the snapshot that compaction writes.
#include <random>

#include "queue_engine.h"
#include "queue_settings.h"

namespace sluice::queue {

namespace {

Error bad_log(std::string_view what) {
  return {ErrorCode::kInvalidParameterValue,
          "log record does not fit the shard's state: " + std::string(what)};
}

// True when `blob` holds exactly `count` encoded attributes (see queue_messages.cc).
bool valid_attribute_blob(std::span<const uint8_t> blob, uint8_t count) {
  size_t at = 0;
  for (uint8_t i = 0; i < count; ++i) {
    if (blob.size() - at < 8) return false;
    uint16_t name_len = 0;
    uint16_t type_len = 0;
    uint32_t value_len = 0;
    std::memcpy(&name_len, blob.data() + at, 2);
    std::memcpy(&type_len, blob.data() + at + 2, 2);
    std::memcpy(&value_len, blob.data() + at + 4, 4);
    at += 8;
    const uint64_t n = uint64_t{name_len} + type_len + value_len;
    if (blob.size() - at < n) return false;
    at += n;
  }
  return at == blob.size();
}

std::string_view view(std::span<const uint8_t> bytes, size_t& at, size_t n) {
  const std::string_view v(reinterpret_cast<const char*>(bytes.data()) + at, n);
  at += n;
  return v;
}

}  // namespace

wal::ShardState QueueEngine::shard_state() const {
  return {.handle_key = handle_key_,
          .next_receipt = next_receipt_,
          .next_task = next_task_,
          .next_queue_id = next_queue_id_};
}

Durability QueueEngine::durability_of(std::string_view queue) const {
  const auto it = queues_.find(queue);
  return it == queues_.end() ? Durability{} : it->second->settings.durability;
}

std::string_view QueueEngine::dead_letter_source(const Message& m) const {
  return m.dead_letter_source == 0 ? std::string_view() : interned_arns_[m.dead_letter_source - 1];
}

Status QueueEngine::restore(const wal::Entry& e, wal::KeyRing& keys) {
  using wal::RecordType;
  now_ = e.at_ms;
  switch (e.type) {
    case RecordType::kSegmentHeader:
      handle_key_ = e.header.state.handle_key;
      next_receipt_ = std::max(next_receipt_, e.header.state.next_receipt);
      next_task_ = std::max(next_task_, e.header.state.next_task);
      next_queue_id_ = std::max(next_queue_id_, e.header.state.next_queue_id);
      return {};
    case RecordType::kQueueState:
      return restore_queue(e.queue);
    case RecordType::kQueueDeleted:
    case RecordType::kQueuePurged: {
      const auto it = queues_.find(e.name);
      if (it == queues_.end() || it->second->id != e.queue_id) {
        return bad_log("queue " + std::string(e.name) + " does not exist");
      }
      Queue* q = it->second.get();
      if (e.type == RecordType::kQueuePurged) {
        q->purged = true;
        q->last_purge_ms = now_;
        remove_all_messages(q);
        return {};
      }
      restoring_.erase(q->id);
      erase_queue(it);
      graveyard_.clear();
      return {};
    }
    case RecordType::kMessageStored:
      return restore_message(e, keys);
    case RecordType::kMessageDelivered:
    case RecordType::kVisibilityChanged:
    case RecordType::kMessageVisible:
    case RecordType::kMessageReleased:
      return restore_ref(e);
    case RecordType::kDedupEntry:
      return restore_dedup(e, keys);
    case RecordType::kSnapshotEnd:
      return {};
  }
  return bad_log("unknown record type");
}

Status QueueEngine::restore_queue(const wal::QueueImage& image) {
  if (!validate_queue_name(image.name, image.settings.fifo) || image.id == 0) {
    return bad_log("queue name or id");
  }
  Queue* q = nullptr;
  if (const auto it = queues_.find(image.name); it != queues_.end()) {
    q = it->second.get();
    if (q->id != image.id) return bad_log("queue " + image.name + " has another id");
  } else {
    if (restoring_.contains(image.id)) return bad_log("queue id used twice");
    auto owned = std::make_unique<Queue>();
    q = owned.get();
    q->id = image.id;
    q->name = image.name;
    q->arn = arn_of(image.name);
    q->retention_timer = {.owner = q, .kind = kRetentionTimer};
    q->dedup_timer = {.owner = q, .kind = kDedupTimer};
    q->move_timer = {.owner = q, .kind = kMoveTaskTimer};
    queues_.emplace(q->name, std::move(owned));
    restoring_[q->id] = q;
    deleted_at_.erase(image.name);
    next_queue_id_ = std::max(next_queue_id_, image.id + 1);
  }
  if (image.move_running && image.move_tasks.empty()) return bad_log("running task missing");
  q->settings = image.settings;
  q->tags.clear();
  for (const auto& [k, v] : image.tags) q->tags[k] = v;
  q->created_ms = image.created_ms;
  q->modified_ms = image.modified_ms;
  q->last_purge_ms = image.last_purge_ms;
  q->purged = image.purged;
  q->next_sequence = image.next_sequence;
  q->dead_lettered_in = image.dead_lettered_in;
  q->move_tasks.assign(image.move_tasks.begin(), image.move_tasks.end());
  q->move.running = image.move_running;
  q->move.destination_name = image.move_destination;
  next_task_ = std::max(next_task_, image.next_task);
  return {};
}

Status QueueEngine::restore_message(const wal::Entry& e, wal::KeyRing& keys) {
  const wal::MessageImage& img = e.message;
  const auto it = restoring_.find(img.queue_id);
  if (it == restoring_.end()) return bad_log("message of an unknown queue");
  Queue* q = it->second;
  if (const Message* taken = messages_.find(img.slot);
      taken != nullptr && taken->queue != nullptr) {
    return bad_log("message slot already taken");
  }
  std::span<const uint8_t> plain = img.contents;
  if ((e.flags & wal::kFlagEncrypted) != 0) {
    if (wal::KeyRing::plain_size(img.contents) != img.contents_len()) {
      return bad_log("sealed contents of the wrong size");
    }
    opened_.resize(img.contents_len());
    if (const std::string_view error = keys.open(q->name, e.lsn, img.contents, opened_.data());
        !error.empty()) {
      return bad_log(error);
    }
    plain = opened_;
  }
  const bool fifo = q->settings.fifo;
  if (img.group_len > limits::kMaxGroupIdLength ||
      img.dedup_len > limits::kMaxDeduplicationIdLength || fifo != (img.group_len > 0) ||
      img.state > static_cast<uint8_t>(MessageState::kInFlight) ||
      ((img.flags & wal::kMessageRemembersDedup) != 0 && (!fifo || img.dedup_len == 0)) ||
      !valid_attribute_blob(plain.subspan(img.body_len, img.attributes_len), img.attribute_count)) {
    return bad_log("message fields");
  }
  size_t at = 0;
  RelayedMessage c{.id = img.id};
  c.body = view(plain, at, img.body_len);
  c.attributes_blob = view(plain, at, img.attributes_len);
  c.attribute_count = img.attribute_count;
  c.sender_id = view(plain, at, img.sender_len);
  c.trace_header = view(plain, at, img.trace_len);
  c.deduplication_id = view(plain, at, img.dedup_len);
  c.group_id = view(plain, at, img.group_len);
  c.sent_ms = img.sent_ms;
  c.receive_count = img.receive_count;
  c.dead_letter_source_arn = img.dead_letter_source;
  Group* g = fifo ? group_for(q, c.group_id) : nullptr;
  const uint64_t sequence_before = q->next_sequence;
  Message* m = fifo && g == nullptr ? nullptr : store(q, c, {}, img.slot);
  if (m == nullptr) {
    free_group_if_unused(g);
    return Error{ErrorCode::kRequestThrottled,
                 "The shard's memory budget is too small for the log being restored."};
  }
  if (g != nullptr) {
    m->group = g;
    ++g->members;
  }
  m->sequence = img.sequence;
  q->next_sequence = std::max(sequence_before, img.sequence);
  m->enqueued_ms = img.enqueued_ms;
  m->first_receive_ms = img.first_receive_ms;
  m->received_ms = img.received_ms;
  m->receipt = img.receipt;
  next_receipt_ = std::max(next_receipt_, img.receipt);
  if ((img.flags & wal::kMessageAccepted) != 0 && !img.dead_letter_source.empty()) {
    ++q->dead_lettered_in;
  }
  if ((img.flags & wal::kMessageRemembersDedup) != 0) {
    expire_dedups(q);
    DedupKeyBuffer buffer;
    const std::string_view key = dedup_key(q->settings, c.group_id, c.deduplication_id, buffer);
    if (!remember_dedup(q, key, m->id, m->sequence, now_ + limits::kDeduplicationWindowMs)) {
      return Error{ErrorCode::kRequestThrottled,
                   "The shard's memory budget is too small for the log being restored."};
    }
  }
  switch (static_cast<MessageState>(img.state)) {
    case MessageState::kStored:
      break;
    case MessageState::kVisible:
      make_visible(m);
      break;
    case MessageState::kDelayed:
      delay(m, img.deadline_ms);
      break;
    case MessageState::kInFlight:
      enter_flight(m, img.deadline_ms);
      break;
    case MessageState::kHandingOver:  // never logged: refused above
      break;
  }
  return {};
}

Status QueueEngine::restore_ref(const wal::Entry& e) {
  using wal::RecordType;
  const wal::MessageRef& r = e.ref;
  Message* m = messages_.find(r.slot);
  if (m == nullptr || m->queue == nullptr || m->queue->id != r.queue_id || !(m->id == r.id)) {
    return bad_log("the message is not there");
  }
  Queue* q = m->queue;
  switch (e.type) {
    case RecordType::kMessageDelivered:
      m->receive_count = r.receive_count;
      m->first_receive_ms = r.first_receive_ms;
      m->received_ms = now_;
      m->receipt = r.receipt;
      next_receipt_ = std::max(next_receipt_, r.receipt);
      enter_flight(m, r.deadline_ms);
      return {};
    case RecordType::kVisibilityChanged:
      if (m->state != MessageState::kInFlight) return bad_log("the message is not in flight");
      if (r.deadline_ms <= now_) {
        make_visible(m);
      } else {
        wheel_.schedule(&m->timer, r.deadline_ms);
      }
      return {};
    case RecordType::kMessageVisible:
      if (m->state == MessageState::kVisible) return bad_log("the message is visible already");
      make_visible(m);
      return {};
    case RecordType::kMessageReleased:
      if (r.reason == static_cast<uint8_t>(wal::ReleaseReason::kMovedByTask) && q->move.running) {
        ++q->move_tasks.front().approximate_messages_moved;
      }
      release(m);
      return {};
    default:
      return bad_log("not a message record");
  }
}

Status QueueEngine::restore_dedup(const wal::Entry& e, wal::KeyRing& keys) {
  const wal::DedupImage& d = e.dedup;
  const auto it = restoring_.find(d.queue_id);
  if (it == restoring_.end()) return bad_log("deduplication id of an unknown queue");
  Queue* q = it->second;
  std::span<const uint8_t> key = d.key;
  if ((e.flags & wal::kFlagEncrypted) != 0) {
    const size_t n = wal::KeyRing::plain_size(d.key);
    if (n == SIZE_MAX) return bad_log("sealed deduplication id");
    opened_.resize(n);
    if (const std::string_view error = keys.open(q->name, e.lsn, d.key, opened_.data());
        !error.empty()) {
      return bad_log(error);
    }
    key = opened_;
  }
  if (key.empty() || key.size() > sizeof(DedupEntry::key_bytes)) return bad_log("deduplication id");
  if (!remember_dedup(q, {reinterpret_cast<const char*>(key.data()), key.size()}, d.message_id,
                      d.sequence, d.expires_ms)) {
    return Error{ErrorCode::kRequestThrottled,
                 "The shard's memory budget is too small for the log being restored."};
  }
  return {};
}

void QueueEngine::finish_restore() {
  messages_.rebuild_free([](const Message& m) { return m.queue == nullptr; });
  for (auto& [name, owned] : queues_) {
    Queue* q = owned.get();
    if (const Message* oldest = q->arrivals.front()) {
      wheel_.schedule(&q->retention_timer,
                      oldest->enqueued_ms + uint64_t{q->settings.message_retention_s} * 1000);
    }
    if (const DedupEntry* d = q->dedups.front()) wheel_.schedule(&q->dedup_timer, d->expires_ms);
    if (q->move.running) {
      q->move.last_step_ms = now_;
      q->move.allowance_milli = 0;
      wheel_.schedule(&q->move_timer, now_);
    }
  }
  restoring_.clear();
  opened_ = {};
  // Message ids must not repeat those given before the restart.
  std::random_device entropy;
  rng_ ^= (uint64_t{entropy()} << 32) | entropy();
}

void QueueEngine::journal_snapshot(Journal& out) const {
  auto emit = [&](JournalOp op, const Queue* q, const Message* m = nullptr,
                  const DedupEntry* d = nullptr) {
    out.record(
        JournalRecord{.op = op,
                      .at_ms = now_,
                      .queue = q,
                      .message = m,
                      .dedup = d,
                      .payload = m != nullptr ? dead_letter_source(*m) : std::string_view()});
  };
  for (const auto& [name, owned] : queues_) {
    const Queue* q = owned.get();
    emit(JournalOp::kSnapshotQueue, q);
    for (const Message* m = q->arrivals.front(); m != nullptr; m = ArrivalList::next(m)) {
      emit(JournalOp::kSnapshotMessage, q, m);
    }
    for (const DedupEntry* d = q->dedups.front(); d != nullptr; d = DedupList::next(d)) {
      emit(JournalOp::kSnapshotDedup, q, nullptr, d);
    }
    // Visible messages in delivery order: a FIFO queue's ready groups first, in order, then the
    // groups held back by a message in flight. Messages being handed over to another shard are
    // logged as what they were, visible, after the others.
    if (!q->settings.fifo) {
      for (const Message* m = q->visible.front(); m != nullptr; m = MessageList::next(m)) {
        emit(JournalOp::kMessageVisible, q, m);
      }
      for (const Message* m = q->arrivals.front(); m != nullptr; m = ArrivalList::next(m)) {
        if (m->state == MessageState::kHandingOver) emit(JournalOp::kMessageVisible, q, m);
      }
      continue;
    }
    for (const Group* g = q->ready_groups.front(); g != nullptr; g = GroupList::next(g)) {
      for (const Message* m = g->visible.front(); m != nullptr; m = MessageList::next(m)) {
        emit(JournalOp::kMessageVisible, q, m);
      }
    }
    for (const Message* m = q->arrivals.front(); m != nullptr; m = ArrivalList::next(m)) {
      if ((m->state == MessageState::kVisible && !m->group->available) ||
          m->state == MessageState::kHandingOver) {
        emit(JournalOp::kMessageVisible, q, m);
      }
    }
  }
}

}  // namespace sluice::queue
