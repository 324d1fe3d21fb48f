// QueueEngine: sending, receiving (short and long poll), deleting and changing visibility, the
// message state machine, receipt handles, deduplication and retention.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "message_digest.h"
#include "queue_engine.h"
#include "queue_operation.h"
#include "utf8.h"

namespace sluice::queue {

namespace {

// SQS's allowed characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF,
// in well-formed UTF-8.
bool valid_text(std::string_view s) {
  return for_each_code_point(s, [](uint32_t cp) {
    return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp != 0xfffe && cp != 0xffff);
  });
}

bool valid_number(std::string_view v) {
  size_t i = 0;
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
  size_t digits = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i, ++digits;
  if (i < v.size() && v[i] == '.') {
    ++i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    const size_t start = i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == start) return false;
  }
  return i == v.size();
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(prefix[i])) return false;
  }
  return true;
}

Error invalid(std::string message) {
  return {ErrorCode::kInvalidParameterValue, std::move(message)};
}

Status check_attribute(const MessageAttribute& a) {
  const std::string_view n = a.name;
  bool name_ok = !n.empty() && n.size() <= limits::kMaxMessageAttributeNameLength &&
                 n.front() != '.' && n.back() != '.' && n.find("..") == std::string_view::npos &&
                 !starts_with_ignoring_case(n, "aws.") && !starts_with_ignoring_case(n, "amazon.");
  for (char c : n) {
    name_ok = name_ok &&
              (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!name_ok) {
    return invalid("Message attribute name '" + std::string(n) +
                   "' is invalid: names are 1 to 256 characters of A-Z, a-z, 0-9, underscore, "
                   "hyphen and period, and may not start with AWS. or Amazon.");
  }
  const std::string_view type = a.data_type;
  const size_t dot = type.find('.');
  const std::string_view base = type.substr(0, dot);
  if ((base != "String" && base != "Number" && base != "Binary") ||
      (dot != std::string_view::npos && dot + 1 == type.size()) || type.size() > 256) {
    return invalid("The message attribute '" + std::string(n) +
                   "' has an invalid message attribute type, the set of supported type prefixes "
                   "is Binary, Number, and String.");
  }
  if (a.value.empty()) {
    return invalid("The message attribute '" + std::string(n) +
                   "' must contain a non-empty value "
                   "of message attribute type '" +
                   std::string(type) + "'.");
  }
  if (base == "Number" && !valid_number(a.value)) {
    return invalid("Can't cast the value of message (user) attribute '" + std::string(n) +
                   "' to a number.");
  }
  if (base != "Binary" && !valid_text(a.value)) {
    return Error{ErrorCode::kInvalidMessageContents,
                 "Invalid characters found in the message attribute '" + std::string(n) + "'."};
  }
  return {};
}

size_t attributes_size(std::span<const MessageAttribute> attributes) {
  size_t n = 0;
  for (const MessageAttribute& a : attributes)
    n += a.name.size() + a.data_type.size() + a.value.size();
  return n;
}

// The encoding in a message's block: per attribute, the three lengths (2, 2 and 4 bytes) and
// then the name, type and value bytes.
constexpr size_t kAttributeHeader = 8;

// Copies `s` to `out` (an empty view may have no data pointer); returns the end.
uint8_t* append(uint8_t* out, std::string_view s) {
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

size_t encoded_size(std::span<const MessageAttribute> attributes) {
  return attributes_size(attributes) + kAttributeHeader * attributes.size();
}

uint8_t* encode(uint8_t* out, std::span<const MessageAttribute> attributes) {
  for (const MessageAttribute& a : attributes) {
    const auto name_len = static_cast<uint16_t>(a.name.size());
    const auto type_len = static_cast<uint16_t>(a.data_type.size());
    const auto value_len = static_cast<uint32_t>(a.value.size());
    std::memcpy(out, &name_len, 2);
    std::memcpy(out + 2, &type_len, 2);
    std::memcpy(out + 4, &value_len, 4);
    out += kAttributeHeader;
    for (std::string_view part : {a.name, a.data_type, a.value}) out = append(out, part);
  }
  return out;
}

size_t decode(std::string_view blob, uint8_t count, MessageAttribute* out) {
  const char* p = blob.data();
  for (uint8_t i = 0; i < count; ++i) {
    uint16_t name_len = 0;
    uint16_t type_len = 0;
    uint32_t value_len = 0;
    std::memcpy(&name_len, p, 2);
    std::memcpy(&type_len, p + 2, 2);
    std::memcpy(&value_len, p + 4, 4);
    p += kAttributeHeader;
    out[i].name = {p, name_len};
    out[i].data_type = {p + name_len, type_len};
    out[i].value = {p + name_len + type_len, value_len};
    p += name_len + type_len + value_len;
  }
  return count;
}

bool valid_group_or_dedup_id(std::string_view id, size_t max) {
  if (id.empty() || id.size() > max) return false;
  for (char c : id) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

bool valid_batch_id(std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxBatchEntryIdLength) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// The checks every batch action makes before looking at its entries.
template <class Entry>
Status check_batch(std::span<const Entry> entries, std::string_view action) {
  if (entries.empty()) {
    return Error{ErrorCode::kEmptyBatchRequest, "There should be at least one " +
                                                    std::string(action) +
                                                    "BatchRequestEntry in the request."};
  }
  if (entries.size() > limits::kMaxBatchEntries) {
    return Error{ErrorCode::kTooManyEntriesInBatchRequest,
                 "Maximum number of entries per request are 10. You have sent " +
                     std::to_string(entries.size()) + "."};
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!valid_batch_id(entries[i].id)) {
      return Error{ErrorCode::kInvalidBatchEntryId,
                   "A batch entry id can only contain alphanumeric characters, hyphens and "
                   "underscores. It can be at most 80 letters long."};
    }
    for (size_t j = 0; j < i; ++j) {
      if (entries[j].id == entries[i].id) {
        return Error{ErrorCode::kBatchEntryIdsNotDistinct,
                     "Id " + std::string(entries[i].id) + " repeated."};
      }
    }
  }
  return {};
}

// Runs `one` on each entry of a checked batch and collects the outcomes.
template <class Entry, class One>
BatchOutcome each_entry(std::span<const Entry> entries, One&& one) {
  BatchOutcome out;
  for (const Entry& e : entries) {
    BatchEntryOutcome& o = out.entries[out.size++];
    o.id = e.id;
    if (Status s = one(e); !s) o.error = s.error();
  }
  return out;
}

Error throttled(const MemoryBudget& budget) {
  return {ErrorCode::kRequestThrottled, "The shard's memory budget of " +
                                            std::to_string(budget.limit()) +
                                            " bytes is full; retry later."};
}

constexpr char kHex[] = "0123456789abcdef";

void put_hex(char* out, uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[v & 15];
    v >>= 4;
  }
}

bool get_hex(std::string_view s, uint64_t* v) {
  *v = 0;
  for (char c : s) {
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    *v = (*v << 4) | static_cast<uint64_t>(d);
  }
  return true;
}

uint32_t handle_tag(uint64_t key, uint64_t queue_id, uint64_t slot, uint64_t receipt) {
  uint64_t h = key ^ (queue_id << 32 | slot);
  h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
  h ^= receipt;
  h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
  return static_cast<uint32_t>(h ^ (h >> 33));
}

}  // namespace

// --- receipt handles: queue id, slot, delivery number and a keyed tag, 40 hex digits ---

ReceiptHandle QueueEngine::make_handle(const Queue& q, const Message& m) const {
  ReceiptHandle h;
  put_hex(h.text.data(), q.id, 8);
  put_hex(h.text.data() + 8, m.slot, 8);
  put_hex(h.text.data() + 16, m.receipt, 16);
  put_hex(h.text.data() + 32, handle_tag(handle_key_, q.id, m.slot, m.receipt), 8);
  return h;
}

// The message the handle's delivery is still current for, nullptr when the handle is stale (the
// message was deleted or delivered again since), or an error when it is not a handle of `q`.
Result<Message*> QueueEngine::resolve_handle(const Queue& q, std::string_view text) {
  uint64_t queue_id = 0;
  uint64_t slot = 0;
  uint64_t receipt = 0;
  uint64_t tag = 0;
  if (text.size() != ReceiptHandle::kLength || !get_hex(text.substr(0, 8), &queue_id) ||
      !get_hex(text.substr(8, 8), &slot) || !get_hex(text.substr(16, 16), &receipt) ||
      !get_hex(text.substr(32, 8), &tag) || queue_id != q.id ||
      tag != handle_tag(handle_key_, queue_id, slot, receipt)) {
    return Error{
        ErrorCode::kReceiptHandleIsInvalid,
        "The input receipt handle \"" + std::string(text) + "\" is not a valid receipt handle."};
  }
  Message* m = messages_.find(static_cast<uint32_t>(slot));
  if (m == nullptr || m->queue != &q || m->receipt != receipt)
    return static_cast<Message*>(nullptr);
  return m;
}

// --- sending ---

Status QueueEngine::validate_send(const Queue& q, const SendEntry& e) const {
  if (e.body.empty()) {
    return Error{ErrorCode::kMissingParameter,
                 "The request must contain the parameter MessageBody."};
  }
  if (e.attributes.size() > limits::kMaxMessageAttributes) {
    return invalid("Number of message attributes [" + std::to_string(e.attributes.size()) +
                   "] exceeds the allowed maximum [10].");
  }
  for (size_t i = 0; i < e.attributes.size(); ++i) {
    if (Status s = check_attribute(e.attributes[i]); !s) return s;
    for (size_t j = 0; j < i; ++j) {
      if (e.attributes[j].name == e.attributes[i].name) {
        return invalid("Message attribute name '" + std::string(e.attributes[i].name) +
                       "' is repeated.");
      }
    }
  }
  const size_t size = e.body.size() + attributes_size(e.attributes);
  if (size > q.settings.maximum_message_size) {
    return invalid("One or more parameters are invalid. Reason: Message must be shorter than " +
                   std::to_string(q.settings.maximum_message_size) + " bytes.");
  }
  if (!valid_text(e.body)) {
    return Error{ErrorCode::kInvalidMessageContents,
                 "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 "
                 "to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"};
  }
  if (e.delay_s) {
    const std::string prefix =
        "Value " + std::to_string(*e.delay_s) + " for parameter DelaySeconds is invalid. Reason: ";
    if (*e.delay_s > limits::kMaxDelaySeconds) {
      return invalid(prefix + "must be between 0 and 900, if provided.");
    }
    if (q.settings.fifo) {
      return invalid(prefix +
                     "The request include parameter that is not valid for this queue "
                     "type.");
    }
  }
  if (!e.group_id.empty() && !valid_group_or_dedup_id(e.group_id, limits::kMaxGroupIdLength)) {
    return invalid("Value " + std::string(e.group_id) +
                   " for parameter MessageGroupId is invalid. Reason: it must be 1 to 128 "
                   "characters of printable ASCII.");
  }
  if (!e.deduplication_id.empty() &&
      !valid_group_or_dedup_id(e.deduplication_id, limits::kMaxDeduplicationIdLength)) {
    return invalid("Value " + std::string(e.deduplication_id) +
                   " for parameter MessageDeduplicationId is invalid. Reason: it must be 1 to "
                   "128 characters of printable ASCII.");
  }
  if (!q.settings.fifo) {
    if (!e.deduplication_id.empty()) {
      return invalid("Value " + std::string(e.deduplication_id) +
                     " for parameter MessageDeduplicationId is invalid. Reason: The request "
                     "includes a parameter that is not valid for this queue type.");
    }
    return {};
  }
  if (e.group_id.empty()) {
    return Error{ErrorCode::kMissingParameter,
                 "The request must contain the parameter MessageGroupId."};
  }
  if (e.deduplication_id.empty() && !q.settings.content_based_deduplication) {
    return invalid(
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly");
  }
  return {};
}

Message* QueueEngine::store(Queue* q, const RelayedMessage& c,
                            std::span<const MessageAttribute> attributes, uint32_t slot) {
  const size_t attributes_len =
      attributes.empty() ? c.attributes_blob.size() : encoded_size(attributes);
  const size_t size = c.body.size() + attributes_len + c.sender_id.size() + c.trace_header.size() +
                      c.deduplication_id.size() + c.group_id.size();
  Message* m = slot == kAnySlot ? messages_.acquire(&slot) : messages_.place(slot);
  if (m == nullptr) return nullptr;
  uint8_t size_class = 0;
  uint8_t* block = arena_.allocate(size, &size_class);
  if (block == nullptr) {
    messages_.release(slot);
    return nullptr;
  }
  uint8_t* p = append(block, c.body);
  p = attributes.empty() ? append(p, c.attributes_blob) : encode(p, attributes);
  for (std::string_view part : {c.sender_id, c.trace_header, c.deduplication_id, c.group_id}) {
    p = append(p, part);
  }
  *m = Message{};
  m->timer = {.owner = m, .kind = kMessageTimer};
  m->queue = q;
  m->block = block;
  m->block_class = size_class;
  m->slot = slot;
  m->id = c.id;
  m->sent_ms = c.sent_ms;
  m->enqueued_ms = now_;
  m->receive_count = c.receive_count;
  m->body_len = static_cast<uint32_t>(c.body.size());
  m->attributes_len = static_cast<uint32_t>(attributes_len);
  m->attribute_count =
      attributes.empty() ? c.attribute_count : static_cast<uint8_t>(attributes.size());
  m->sender_len = static_cast<uint16_t>(c.sender_id.size());
  m->trace_len = static_cast<uint16_t>(c.trace_header.size());
  m->dedup_len = static_cast<uint8_t>(c.deduplication_id.size());
  m->group_len = static_cast<uint8_t>(c.group_id.size());
  if (!c.dead_letter_source_arn.empty())
    m->dead_letter_source = intern_arn(c.dead_letter_source_arn);
  if (q->settings.fifo) m->sequence = ++q->next_sequence;
  const bool first = q->arrivals.empty();
  q->arrivals.push_back(m);
  if (first) {
    wheel_.schedule(&q->retention_timer, now_ + uint64_t{q->settings.message_retention_s} * 1000);
  }
  return m;
}

Group* QueueEngine::group_for(Queue* q, std::string_view group_id) {
  const uint64_t hash = hash_key(group_id);
  if (Group* g = q->groups.find(group_id, hash)) return g;
  uint32_t slot = 0;
  Group* g = groups_.acquire(&slot);
  if (g == nullptr) return nullptr;
  *g = Group{};
  g->queue = q;
  g->hash = hash;
  g->slot = slot;
  g->key_len = static_cast<uint8_t>(group_id.size());
  std::memcpy(g->key_bytes, group_id.data(), group_id.size());
  q->groups.insert(g);
  return g;
}

void QueueEngine::free_group_if_unused(Group* g) {
  if (g == nullptr || g->members > 0) return;
  g->queue->groups.erase(g);
  groups_.release(g->slot);
}

Result<SendResult> QueueEngine::send_one(Queue* q, const SendEntry& e, std::string_view sender_id) {
  if (Status s = validate_send(*q, e); !s) return s.error();
  std::string content_id;
  std::string_view dedup_id = e.deduplication_id;
  DedupKeyBuffer key_buffer;
  std::string_view key;
  Group* group = nullptr;
  if (q->settings.fifo) {
    if (dedup_id.empty()) {
      content_id = to_hex(sha256_of(e.body));
      dedup_id = content_id;
    }
    key = dedup_key(q->settings, e.group_id, dedup_id, key_buffer);
    if (const DedupEntry* d = find_dedup(q, key)) {
      ++stats_.deduplicated;
      return SendResult{d->message_id, d->sequence};
    }
    group = group_for(q, e.group_id);
    if (group == nullptr) {
      ++stats_.throttled;
      return throttled(budget_);
    }
  }
  const RelayedMessage contents{.id = new_message_id(),
                                .body = e.body,
                                .sender_id = sender_id,
                                .trace_header = e.trace_header,
                                .deduplication_id = dedup_id,
                                .group_id = e.group_id,
                                .sent_ms = now_};
  Message* m = store(q, contents, e.attributes);
  if (m == nullptr ||
      (q->settings.fifo &&
       !remember_dedup(q, key, m->id, m->sequence, now_ + limits::kDeduplicationWindowMs))) {
    if (m != nullptr) release(m);
    free_group_if_unused(group);
    ++stats_.throttled;
    return throttled(budget_);
  }
  if (group != nullptr) {
    m->group = group;
    ++group->members;
  }
  enqueue(m, e.delay_s.value_or(q->settings.delay_s));
  journal(JournalOp::kMessageSent, *q, m);
  ++stats_.sent;
  return SendResult{m->id, m->sequence};
}

Result<SendResult> QueueEngine::send(std::string_view queue, const SendEntry& entry,
                                     std::string_view sender_id) {
  Operation op(*this);
  Queue* q = find(queue);
  if (q == nullptr) return no_such_queue();
  return send_one(q, entry, sender_id);
}

Result<BatchOutcome> QueueEngine::send_batch(std::string_view queue,
                                             std::span<const SendEntry> entries,
                                             std::string_view sender_id) {
  Operation op(*this);
  Queue* q = find(queue);
  if (q == nullptr) return no_such_queue();
  if (Status s = check_batch(entries, "SendMessage"); !s) return s.error();
  size_t total = 0;
  for (const SendEntry& e : entries) total += e.body.size() + attributes_size(e.attributes);
  if (total > limits::kMaxMessageSize) {
    return Error{ErrorCode::kBatchRequestTooLong,
                 "Batch requests cannot be longer than 1048576 bytes. You have sent " +
                     std::to_string(total) + " bytes."};
  }
  BatchOutcome out;
  for (const SendEntry& e : entries) {
    BatchEntryOutcome& o = out.entries[out.size++];
    o.id = e.id;
    auto r = send_one(q, e, sender_id);
    if (r) {
      o.sent = r.value();
    } else {
      o.error = r.error();
    }
  }
  return out;
}

// --- the message state machine: stored -> delayed -> visible <-> in flight; then released ---

void QueueEngine::enqueue(Message* m, uint32_t delay_s) {
  if (delay_s == 0) return make_visible(m);
  delay(m, now_ + uint64_t{delay_s} * 1000);
}

void QueueEngine::delay(Message* m, uint64_t until_ms) {
  unlink_state(m);
  m->state = MessageState::kDelayed;
  ++m->queue->delayed_count;
  wheel_.schedule(&m->timer, until_ms);
}

// Takes the message out of the structures of its current state.
void QueueEngine::unlink_state(Message* m) {
  Queue* q = m->queue;
  Group* g = m->group;
  switch (m->state) {
    case MessageState::kStored:
      break;
    case MessageState::kDelayed:
      wheel_.cancel(&m->timer);
      --q->delayed_count;
      break;
    case MessageState::kVisible:
      --q->visible_count;
      if (g == nullptr) {
        q->visible.remove(m);
        break;
      }
      g->visible.remove(m);
      if (g->visible.empty() && g->available) {
        q->ready_groups.remove(g);
        g->available = false;
      }
      break;
    case MessageState::kInFlight:
      wheel_.cancel(&m->timer);
      --q->in_flight_count;
      if (g != nullptr && --g->in_flight == 0 && !g->visible.empty() && !g->available) {
        q->ready_groups.push_back(g);
        g->available = true;
        mark_dirty(q);
      }
      break;
    case MessageState::kHandingOver:
      break;
  }
  m->state = MessageState::kStored;
}

void QueueEngine::make_visible(Message* m) {
  unlink_state(m);
  Queue* q = m->queue;
  m->state = MessageState::kVisible;
  ++q->visible_count;
  if (Group* g = m->group) {
    // In sequence order: a message back from flight goes before those sent after it.
    Message* at = g->visible.back();
    if (at != nullptr && at->sequence > m->sequence) {
      at = g->visible.front();
      while (at != nullptr && at->sequence < m->sequence) at = MessageList::next(at);
    } else {
      at = nullptr;
    }
    g->visible.insert_before(at, m);
    if (g->in_flight == 0 && !g->available) {
      q->ready_groups.push_back(g);
      g->available = true;
    }
  } else {
    q->visible.push_back(m);
  }
  mark_dirty(q);
}

void QueueEngine::release(Message* m) {
  Queue* q = m->queue;
  unlink_state(m);
  q->arrivals.remove(m);
  if (Group* g = m->group) {
    --g->members;
    free_group_if_unused(g);
  }
  arena_.free(m->block, m->block_class);
  m->queue = nullptr;
  m->group = nullptr;
  messages_.release(m->slot);
}

// --- receiving ---

bool QueueEngine::at_inflight_limit(const Queue& q) const {
  return q.in_flight_count >=
         (q.settings.fifo ? config_.fifo_inflight_limit : config_.standard_inflight_limit);
}

bool QueueEngine::can_deliver(const Queue& q) const {
  if (at_inflight_limit(q)) return false;
  return q.settings.fifo ? !q.ready_groups.empty() : !q.visible.empty();
}

void QueueEngine::mark_dirty(Queue* q) {
  if (q->dirty || q->waiters.empty()) return;
  q->dirty = true;
  dirty_.push_back(q);
}

void QueueEngine::enter_flight(Message* m, uint64_t visible_at) {
  Queue* q = m->queue;
  unlink_state(m);
  m->state = MessageState::kInFlight;
  ++q->in_flight_count;
  if (Group* g = m->group) {
    ++g->in_flight;
    if (g->available) {
      q->ready_groups.remove(g);
      g->available = false;
    }
  }
  wheel_.schedule(&m->timer, visible_at);
}

void QueueEngine::deliver(Message* m, uint32_t visibility_s, ReceivedMessage* out) {
  Queue* q = m->queue;
  ++m->receive_count;
  if (m->first_receive_ms == 0) m->first_receive_ms = now_;
  m->received_ms = now_;
  m->receipt = ++next_receipt_;
  enter_flight(m, now_ + uint64_t{visibility_s} * 1000);
  journal(JournalOp::kMessageDelivered, *q, m);
  ++stats_.delivered;

  const size_t index = static_cast<size_t>(out - delivered_.data());
  MessageAttribute* attributes = delivered_attributes_[index].data();
  *out = ReceivedMessage{
      .message_id = m->id,
      .receipt_handle = make_handle(*q, *m),
      .body = m->body(),
      .attributes = {attributes, decode(m->attributes_blob(), m->attribute_count, attributes)},
      .sent_timestamp_ms = m->sent_ms,
      .first_receive_timestamp_ms = m->first_receive_ms,
      .receive_count = m->receive_count,
      .sequence_number = m->sequence,
      .sender_id = m->sender_id(),
      .group_id = m->group_id(),
      .deduplication_id = m->dedup_id(),
      .trace_header = m->trace_header(),
      .dead_letter_source_arn = dead_letter_source(*m)};
}

// Delivers up to `max` messages into delivered_; returns how many. Messages past their
// maxReceiveCount go to the dead-letter queue instead. FIFO: as many as possible from the first
// group that can deliver, then from the next.
uint32_t QueueEngine::collect(Queue* q, uint32_t max, uint32_t visibility_s) {
  uint32_t n = 0;
  auto due = [q](const Message* m) {
    return q->settings.redrive_policy &&
           m->receive_count >= q->settings.redrive_policy->max_receive_count;
  };
  if (!q->settings.fifo) {
    while (n < max && !q->visible.empty() && !at_inflight_limit(*q)) {
      Message* m = q->visible.front();
      if (due(m) && dead_letter(m)) continue;
      deliver(m, visibility_s, &delivered_[n++]);
    }
    return n;
  }
  while (n < max && !q->ready_groups.empty() && !at_inflight_limit(*q)) {
    Group* g = q->ready_groups.front();
    bool alive = true;
    while (alive && n < max && !g->visible.empty() && !at_inflight_limit(*q)) {
      Message* m = g->visible.front();
      if (due(m)) {
        const bool last = g->members == 1;
        if (dead_letter(m)) {
          alive = !last;
          continue;
        }
      }
      deliver(m, visibility_s, &delivered_[n++]);
    }
  }
  return n;
}

void QueueEngine::answer(ReceiveSink& sink, uint32_t count) {
  sink.on_receive(ReceiveOutcome{.messages = {delivered_.data(), count}});
}

Status QueueEngine::check_receive(const ReceiveRequest& r, const Queue& q) const {
  if (r.max_messages < 1 || r.max_messages > limits::kMaxReceiveMessages) {
    return invalid("Value " + std::to_string(r.max_messages) +
                   " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and "
                   "10, if provided.");
  }
  if (r.visibility_timeout_s && *r.visibility_timeout_s > limits::kMaxVisibilitySeconds) {
    return invalid("Value " + std::to_string(*r.visibility_timeout_s) +
                   " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and "
                   "43200, if provided.");
  }
  if (r.wait_time_s && *r.wait_time_s > limits::kMaxWaitSeconds) {
    return invalid("Value " + std::to_string(*r.wait_time_s) +
                   " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
                   "if provided.");
  }
  if (!q.settings.fifo && at_inflight_limit(q)) {
    return Error{ErrorCode::kOverLimit, "The maximum number of in flight messages (" +
                                            std::to_string(config_.standard_inflight_limit) +
                                            ") is reached for queue " + q.name + "."};
  }
  return {};
}

uint64_t QueueEngine::receive(const ReceiveRequest& r, ReceiveSink& sink) {
  Operation op(*this);
  Queue* q = find(r.queue);
  if (q == nullptr) {
    const Error e = no_such_queue();
    sink.on_receive(ReceiveOutcome{.error = &e});
    return 0;
  }
  if (Status s = check_receive(r, *q); !s) {
    sink.on_receive(ReceiveOutcome{.error = &s.error()});
    return 0;
  }
  const uint32_t visibility = r.visibility_timeout_s.value_or(q->settings.visibility_timeout_s);
  const uint32_t wait = r.wait_time_s.value_or(q->settings.receive_wait_s);
  const uint32_t n = collect(q, r.max_messages, visibility);
  if (n > 0 || wait == 0) {
    answer(sink, n);
    return 0;
  }
  uint32_t slot = 0;
  Waiter* w = waiters_.acquire(&slot);
  if (w == nullptr) {
    ++stats_.throttled;
    const Error e = throttled(budget_);
    sink.on_receive(ReceiveOutcome{.error = &e});
    return 0;
  }
  w->timer = {.owner = w, .kind = kWaitTimer};
  w->queue = q;
  w->sink = &sink;
  w->max_messages = r.max_messages;
  w->visibility_s = visibility;
  w->slot = slot;
  q->waiters.push_back(w);
  wheel_.schedule(&w->timer, now_ + uint64_t{wait} * 1000);
  return (uint64_t{w->generation} << 32 | slot) + 1;
}

void QueueEngine::finish_waiter(Waiter* w) {
  wheel_.cancel(&w->timer);
  w->sink = nullptr;
  w->queue = nullptr;
  ++w->generation;
  waiters_.release(w->slot);
}

bool QueueEngine::cancel_receive(uint64_t wait_id) {
  Operation op(*this);
  if (wait_id == 0) return false;
  --wait_id;
  Waiter* w = waiters_.find(static_cast<uint32_t>(wait_id));
  if (w == nullptr || w->generation != static_cast<uint32_t>(wait_id >> 32) || w->sink == nullptr) {
    return false;
  }
  if (w->queue == nullptr) {
    w->sink = nullptr;  // its wait ended in this operation's timers: answered by nobody
    return true;
  }
  w->queue->waiters.remove(w);
  finish_waiter(w);
  return true;
}

void QueueEngine::serve_waiters(Queue* q) {
  while (!q->deleted && !q->waiters.empty() && can_deliver(*q)) {
    Waiter* w = q->waiters.front();
    const uint32_t n = collect(q, w->max_messages, w->visibility_s);
    if (n == 0) break;
    q->waiters.remove(w);
    ReceiveSink* sink = w->sink;
    finish_waiter(w);
    answer(*sink, n);
  }
}

// --- deleting and changing visibility ---

Status QueueEngine::delete_message(std::string_view queue, std::string_view receipt_handle) {
  Operation op(*this);
  Queue* q = find(queue);
  if (q == nullptr) return no_such_queue();
  auto m = resolve_handle(*q, receipt_handle);
  if (!m) return m.error();
  if (m.value() != nullptr) {
    journal(JournalOp::kMessageDeleted, *q, m.value());
    release(m.value());
    ++stats_.deleted;
  }
  return {};
}

Result<BatchOutcome> QueueEngine::delete_batch(std::string_view queue,
                                               std::span<const DeleteEntry> entries) {
  Operation op(*this);
  if (find(queue) == nullptr) return no_such_queue();
  if (Status s = check_batch(entries, "DeleteMessage"); !s) return s.error();
  return each_entry(entries,
                    [&](const DeleteEntry& e) { return delete_message(queue, e.receipt_handle); });
}

Status QueueEngine::change_visibility(std::string_view queue, std::string_view receipt_handle,
                                      uint32_t visibility_timeout_s) {
  Operation op(*this);
  Queue* q = find(queue);
  if (q == nullptr) return no_such_queue();
  auto invalid_timeout = [&](std::string_view reason) {
    return invalid("Value " + std::to_string(visibility_timeout_s) +
                   " for parameter VisibilityTimeout is invalid. Reason: " + std::string(reason));
  };
  if (visibility_timeout_s > limits::kMaxVisibilitySeconds) {
    return invalid_timeout("Must be between 0 and 43200, if provided.");
  }
  auto found = resolve_handle(*q, receipt_handle);
  if (!found) return found.error();
  Message* m = found.value();
  if (m == nullptr || m->state != MessageState::kInFlight) {
    return Error{ErrorCode::kMessageNotInflight,
                 "Message does not exist or is not available for visibility timeout change."};
  }
  const uint64_t visible_at = now_ + uint64_t{visibility_timeout_s} * 1000;
  if (visible_at - m->received_ms > uint64_t{limits::kMaxVisibilitySeconds} * 1000) {
    return invalid_timeout(
        "Total VisibilityTimeout for the message is beyond the limit [43200 "
        "seconds]");
  }
  journal(JournalOp::kVisibilityChanged, *q, m, visible_at);
  if (visibility_timeout_s == 0) {
    make_visible(m);
  } else {
    wheel_.schedule(&m->timer, visible_at);
  }
  return {};
}

Result<BatchOutcome> QueueEngine::change_visibility_batch(
    std::string_view queue, std::span<const VisibilityEntry> entries) {
  Operation op(*this);
  if (find(queue) == nullptr) return no_such_queue();
  if (Status s = check_batch(entries, "ChangeMessageVisibility"); !s) return s.error();
  return each_entry(entries, [&](const VisibilityEntry& e) {
    return change_visibility(queue, e.receipt_handle, e.visibility_timeout_s);
  });
}

// --- deduplication and retention ---

DedupEntry* QueueEngine::find_dedup(Queue* q, std::string_view key) {
  return q->dedup_index.find(key, hash_key(key));
}

bool QueueEngine::remember_dedup(Queue* q, std::string_view key, const MessageId& id,
                                 uint64_t sequence, uint64_t expires_ms) {
  uint32_t slot = 0;
  DedupEntry* d = dedups_.acquire(&slot);
  if (d == nullptr) return false;
  *d = DedupEntry{};
  d->hash = hash_key(key);
  d->expires_ms = expires_ms;
  d->message_id = id;
  d->sequence = sequence;
  d->slot = slot;
  d->key_len = static_cast<uint16_t>(key.size());
  std::memcpy(d->key_bytes, key.data(), key.size());
  q->dedup_index.insert(d);
  const bool first = q->dedups.empty();
  q->dedups.push_back(d);
  if (first) wheel_.schedule(&q->dedup_timer, d->expires_ms);
  return true;
}

void QueueEngine::expire_dedups(Queue* q) {
  while (DedupEntry* d = q->dedups.front()) {
    if (d->expires_ms > now_) {
      wheel_.schedule(&q->dedup_timer, d->expires_ms);
      return;
    }
    q->dedups.remove(d);
    q->dedup_index.erase(d);
    dedups_.release(d->slot);
  }
}

void QueueEngine::expire_retention(Queue* q) {
  const uint64_t retention_ms = uint64_t{q->settings.message_retention_s} * 1000;
  while (Message* m = q->arrivals.front()) {
    if (m->enqueued_ms + retention_ms > now_) {
      wheel_.schedule(&q->retention_timer, m->enqueued_ms + retention_ms);
      return;
    }
    journal(JournalOp::kMessageExpired, *q, m);
    release(m);
    ++stats_.expired;
  }
  wheel_.cancel(&q->retention_timer);
}

}  // namespace sluice::queue
