// QueueEngine: construction, the operation scope, queues and their attributes, timers.
#include "queue_engine.h"

#include <algorithm>

#include "queue_operation.h"
#include "queue_settings.h"

namespace sluice::queue {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Attributes GetQueueAttributes knows, in the order "All" lists them.
constexpr std::string_view kAttributeNames[] = {
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "SluiceDurability",
    "SluiceEncryptionKeyId",
};

Status check_tag(const Tag& t) {
  if (t.key.empty() || t.key.size() > limits::kMaxTagKeyLength ||
      t.value.size() > limits::kMaxTagValueLength) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Tag keys must be 1 to 128 characters and values at most 256."};
  }
  return {};
}

}  // namespace

std::string MessageId::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kTextLength);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::string_view move_task_status_name(MoveTaskStatus status) {
  static constexpr std::string_view kNames[] = {"RUNNING", "COMPLETED", "CANCELLING", "CANCELLED",
                                                "FAILED"};
  return kNames[static_cast<size_t>(status)];
}

QueueEngine::QueueEngine(EngineConfig config, const Clock& clock, Journal& journal)
    : config_(std::move(config)),
      clock_(clock),
      journal_(journal),
      budget_(config_.memory_budget_bytes),
      arena_(budget_),
      messages_(budget_),
      groups_(budget_),
      dedups_(budget_),
      waiters_(budget_),
      wheel_(clock.now_ms()),
      now_(clock.now_ms()),
      rng_(config_.seed) {
  handle_key_ = splitmix64(rng_);
}

QueueEngine::QueueEngine(EngineConfig config, const Clock& clock)
    : QueueEngine(std::move(config), clock, null_journal_) {}

QueueEngine::~QueueEngine() {
  for (auto& [name, q] : queues_) remove_all_messages(q.get());
}

std::string QueueEngine::arn_of(std::string_view name) const {
  return "arn:aws:sqs:" + config_.region + ":" + config_.account_id + ":" + std::string(name);
}

Queue* QueueEngine::find(std::string_view name) {
  const auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second.get();
}

Error QueueEngine::no_such_queue() const {
  return {ErrorCode::kQueueDoesNotExist, "The specified queue does not exist."};
}

MessageId QueueEngine::new_message_id() {
  MessageId id;
  const uint64_t a = splitmix64(rng_);
  const uint64_t b = splitmix64(rng_);
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // variant 1
  return id;
}

void QueueEngine::journal(JournalOp op, const Queue& q, const Message* m, uint64_t value,
                          std::string_view payload) {
  journal_.record(JournalRecord{
      .op = op, .at_ms = now_, .queue = &q, .message = m, .value = value, .payload = payload});
}

Status QueueEngine::check_encryption_key(const QueueSettings& settings) const {
  const std::string& id = settings.encryption_key_id;
  if (id.empty() || std::find(config_.encryption_key_ids.begin(), config_.encryption_key_ids.end(),
                              id) != config_.encryption_key_ids.end()) {
    return {};
  }
  return Error{
      ErrorCode::kInvalidAttributeValue,
      "Invalid value for the parameter SluiceEncryptionKeyId: no key " + id + " is configured."};
}

void QueueEngine::set_modified(Queue* q) {
  q->modified_ms = now_;
}

Status QueueEngine::check_redrive(const Queue* source, const QueueSettings& settings) {
  if (!settings.redrive_policy) return {};
  const RedrivePolicy& p = *settings.redrive_policy;
  auto invalid = [&](std::string_view reason) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Value " + redrive_policy_json(p) +
                     " for parameter RedrivePolicy is invalid. Reason: " + std::string(reason)};
  };
  const std::string_view target_name = queue_name_of_arn(p.dead_letter_target_arn);
  const Queue* target = find(target_name);
  if (target == nullptr) {
    // A queue of another shard, not seen from here: the relay carries dead-lettered messages
    // there (and keeps them here while it does not exist).
    if (relay_ != nullptr && !relay_->owns(target_name)) return {};
    return invalid("Dead letter target does not exist.");
  }
  if (target->settings.fifo != settings.fifo) {
    return invalid("Dead-letter queue must be same type of queue as the source.");
  }
  if (target->settings.redrive_allow_policy) {
    const RedriveAllowPolicy& allow = *target->settings.redrive_allow_policy;
    const auto& arns = allow.source_queue_arns;
    const bool listed =
        source != nullptr && std::find(arns.begin(), arns.end(), source->arn) != arns.end();
    if (allow.permission == RedrivePermission::kDenyAll ||
        (allow.permission == RedrivePermission::kByQueue && !listed)) {
      return invalid("The dead-letter queue's RedriveAllowPolicy does not allow this queue.");
    }
  }
  return {};
}

Result<CreateQueueResult> QueueEngine::create_queue(const CreateQueueRequest& request) {
  Operation op(*this);
  auto settings = apply_attributes(QueueSettings{}, request.attributes, AttributeUse::kCreate);
  if (!settings) return settings.error();
  if (Status s = check_encryption_key(settings.value()); !s) return s.error();
  if (Status s = validate_queue_name(request.name, settings->fifo); !s) return s.error();
  if (Queue* existing = find(request.name)) {
    auto requested =
        apply_attributes(existing->settings, request.attributes, AttributeUse::kCreate);
    if (!requested) return requested.error();
    if (requested.value() != existing->settings) {
      return Error{ErrorCode::kQueueAlreadyExists,
                   "A queue already exists with the same name and a different value for an "
                   "attribute."};
    }
    return CreateQueueResult{existing->name, existing->arn, false};
  }
  if (const auto it = deleted_at_.find(request.name); it != deleted_at_.end()) {
    if (now_ < it->second + limits::kDeletedRecentlyMs) {
      return Error{ErrorCode::kQueueDeletedRecently,
                   "You must wait 60 seconds after deleting a queue before you can create "
                   "another with the same name."};
    }
    deleted_at_.erase(it);
  }
  if (request.tags.size() > limits::kMaxTagsPerQueue) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Too many tags added for queue " + std::string(request.name) + "."};
  }
  for (const Tag& t : request.tags) {
    if (Status s = check_tag(t); !s) return s.error();
  }
  auto q = std::make_unique<Queue>();
  q->name = std::string(request.name);
  q->arn = arn_of(request.name);
  if (Status s = check_redrive(q.get(), settings.value()); !s) return s.error();
  q->id = next_queue_id_++;
  q->settings = std::move(settings.value());
  q->created_ms = q->modified_ms = now_;
  for (const Tag& t : request.tags) q->tags[std::string(t.key)] = std::string(t.value);
  q->retention_timer = {.owner = q.get(), .kind = kRetentionTimer};
  q->dedup_timer = {.owner = q.get(), .kind = kDedupTimer};
  q->move_timer = {.owner = q.get(), .kind = kMoveTaskTimer};
  Queue& created = *q;
  queues_.emplace(q->name, std::move(q));
  journal(JournalOp::kQueueCreated, created);
  return CreateQueueResult{created.name, created.arn, true};
}

void QueueEngine::remove_all_messages(Queue* q) {
  while (Message* m = q->arrivals.front()) release(m);
}

Status QueueEngine::delete_queue(std::string_view name) {
  Operation op(*this);
  const auto it = queues_.find(name);
  if (it == queues_.end()) return no_such_queue();
  Queue* q = it->second.get();
  journal(JournalOp::kQueueDeleted, *q);
  std::vector<ReceiveSink*> waiting;
  while (Waiter* w = q->waiters.front()) {
    q->waiters.remove(w);
    waiting.push_back(w->sink);
    finish_waiter(w);
  }
  erase_queue(it);
  const Error gone = no_such_queue();
  for (ReceiveSink* sink : waiting) sink->on_receive(ReceiveOutcome{.error = &gone});
  return {};
}

// Frees a queue's messages, deduplication entries and timers; the queue itself goes to the
// graveyard, freed at the end of the operation.
void QueueEngine::erase_queue(
    std::map<std::string, std::unique_ptr<Queue>, std::less<>>::iterator it) {
  Queue* q = it->second.get();
  remove_all_messages(q);
  while (DedupEntry* d = q->dedups.pop_front()) dedups_.release(d->slot);
  wheel_.cancel(&q->retention_timer);
  wheel_.cancel(&q->dedup_timer);
  wheel_.cancel(&q->move_timer);
  if (q->dirty) dirty_.erase(std::find(dirty_.begin(), dirty_.end(), q));
  q->deleted = true;
  deleted_at_[it->first] = now_;
  graveyard_.push_back(std::move(it->second));
  queues_.erase(it);
}

Result<std::string> QueueEngine::queue_arn(std::string_view name) {
  Operation op(*this);
  const Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  return q->arn;
}

std::vector<std::string> QueueEngine::list_queues(std::string_view prefix, size_t max_results,
                                                  std::string_view after) {
  Operation op(*this);
  std::vector<std::string> names;
  auto it = after.empty() ? queues_.lower_bound(prefix) : queues_.upper_bound(after);
  for (; it != queues_.end() && names.size() < max_results; ++it) {
    if (!it->first.starts_with(prefix)) {
      if (it->first > prefix) break;
      continue;
    }
    names.push_back(it->first);
  }
  return names;
}

Result<AttributeList> QueueEngine::get_attributes(std::string_view name,
                                                  std::span<const std::string_view> names) {
  Operation op(*this);
  const Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  const bool all = std::find(names.begin(), names.end(), "All") != names.end();
  for (std::string_view n : names) {
    if (n != "All" && std::find(std::begin(kAttributeNames), std::end(kAttributeNames), n) ==
                          std::end(kAttributeNames)) {
      return Error{ErrorCode::kInvalidAttributeName, "Unknown Attribute " + std::string(n) + "."};
    }
  }
  AttributeList out;
  for (std::string_view n : kAttributeNames) {
    if (!all && std::find(names.begin(), names.end(), n) == names.end()) continue;
    std::string value;
    if (n == "ApproximateNumberOfMessages") {
      value = std::to_string(q->visible_count);
    } else if (n == "ApproximateNumberOfMessagesNotVisible") {
      value = std::to_string(q->in_flight_count);
    } else if (n == "ApproximateNumberOfMessagesDelayed") {
      value = std::to_string(q->delayed_count);
    } else if (n == "CreatedTimestamp") {
      value = std::to_string(q->created_ms / 1000);
    } else if (n == "LastModifiedTimestamp") {
      value = std::to_string(q->modified_ms / 1000);
    } else if (n == "QueueArn") {
      value = q->arn;
    } else if (n == "KmsDataKeyReusePeriodSeconds" && q->settings.kms_master_key_id.empty()) {
      continue;
    } else {
      auto v = setting_value(q->settings, n);
      if (!v) continue;
      value = std::move(*v);
    }
    if (value.empty()) continue;
    out.emplace_back(std::string(n), std::move(value));
  }
  return out;
}

Status QueueEngine::set_attributes(std::string_view name,
                                   std::span<const AttributeValue> attributes) {
  Operation op(*this);
  Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  auto settings = apply_attributes(q->settings, attributes, AttributeUse::kSet);
  if (!settings) return settings.error();
  if (Status s = check_redrive(q, settings.value()); !s) return s.error();
  if (Status s = check_encryption_key(settings.value()); !s) return s.error();
  const bool retention_changed = settings->message_retention_s != q->settings.message_retention_s;
  q->settings = std::move(settings.value());
  set_modified(q);
  journal(JournalOp::kAttributesSet, *q);
  if (retention_changed) expire_retention(q);
  return {};
}

Status QueueEngine::purge(std::string_view name) {
  Operation op(*this);
  Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  if (q->purged && now_ < q->last_purge_ms + limits::kPurgeIntervalMs) {
    return Error{ErrorCode::kPurgeQueueInProgress,
                 "Only one PurgeQueue operation on " + q->name + " is allowed every 60 seconds."};
  }
  q->purged = true;
  q->last_purge_ms = now_;
  journal(JournalOp::kQueuePurged, *q);
  remove_all_messages(q);
  return {};
}

Status QueueEngine::tag_queue(std::string_view name, std::span<const Tag> tags) {
  Operation op(*this);
  Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  size_t added = 0;
  for (const Tag& t : tags) {
    if (Status s = check_tag(t); !s) return s;
    if (!q->tags.contains(t.key)) ++added;
  }
  if (q->tags.size() + added > limits::kMaxTagsPerQueue) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Too many tags added for queue " + q->name + "."};
  }
  for (const Tag& t : tags) q->tags[std::string(t.key)] = std::string(t.value);
  journal(JournalOp::kTagsChanged, *q);
  return {};
}

Status QueueEngine::untag_queue(std::string_view name, std::span<const std::string_view> keys) {
  Operation op(*this);
  Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  for (std::string_view k : keys) {
    if (const auto it = q->tags.find(k); it != q->tags.end()) q->tags.erase(it);
  }
  journal(JournalOp::kTagsChanged, *q);
  return {};
}

Result<AttributeList> QueueEngine::list_tags(std::string_view name) {
  Operation op(*this);
  const Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  return AttributeList(q->tags.begin(), q->tags.end());
}

Result<QueueCounts> QueueEngine::counts(std::string_view name) {
  Operation op(*this);
  const Queue* q = find(name);
  if (q == nullptr) return no_such_queue();
  return QueueCounts{q->visible_count, q->in_flight_count, q->delayed_count};
}

void QueueEngine::run_timers() {
  Operation op(*this);
}

void QueueEngine::on_timer(TimerNode* node) {
  switch (node->kind) {
    case kMessageTimer: {
      auto* m = static_cast<Message*>(node->owner);
      journal(JournalOp::kMessageVisible, *m->queue, m);
      make_visible(m);
      break;
    }
    case kRetentionTimer:
      expire_retention(static_cast<Queue*>(node->owner));
      break;
    case kDedupTimer:
      expire_dedups(static_cast<Queue*>(node->owner));
      break;
    case kWaitTimer: {
      auto* w = static_cast<Waiter*>(node->owner);
      w->queue->waiters.remove(w);
      w->queue = nullptr;
      timed_out_.push_back(w);
      break;
    }
    case kMoveTaskTimer:
      step_move_task(static_cast<Queue*>(node->owner));
      break;
  }
}

}  // namespace sluice::queue
