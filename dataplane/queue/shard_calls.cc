#include "shard_calls.h"

namespace sluice::queue {

namespace {

// Batch entry ids "0", "1", ...: kept between runs.
void number_ids(std::vector<std::string>& ids, size_t n) {
  while (ids.size() < n) ids.push_back(std::to_string(ids.size()));
}

}  // namespace

void CreateQueueCall::run(QueueEngine& engine, const Completion& completion) {
  std::vector<AttributeValue> values;
  for (const auto& [n, v] : attributes) values.push_back({n, v});
  auto r = engine.create_queue({.name = name, .attributes = values});
  error = r.ok() ? std::nullopt : std::optional<Error>(r.error());
  completion.done(name);
}

void SendBatchCall::run(QueueEngine& engine, const Completion& completion) {
  number_ids(ids_, bodies.size());
  entries_.clear();
  for (size_t i = 0; i < bodies.size(); ++i) entries_.push_back({.id = ids_[i], .body = bodies[i]});
  sent.clear();
  failed = 0;
  auto r = engine.send_batch(queue, entries_);
  error.reset();
  if (!r.ok()) {
    error = r.error();
  } else {
    for (const BatchEntryOutcome& o : r->view()) {
      if (o.error) {
        ++failed;
      } else {
        sent.push_back(o.sent);
      }
    }
  }
  completion.done(queue);
}

void ReceiveCall::run(QueueEngine& engine, const Completion& completion) {
  completion_ = completion;
  engine.receive({.queue = queue, .max_messages = max_messages, .wait_time_s = wait_time_s}, *this);
}

void ReceiveCall::on_receive(const ReceiveOutcome& outcome) {
  error.reset();
  if (outcome.error != nullptr) error = *outcome.error;
  count = outcome.messages.size();
  if (messages.size() < count) messages.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const ReceivedMessage& m = outcome.messages[i];
    messages[i].id = m.message_id;
    messages[i].receipt_handle = m.receipt_handle;
    messages[i].body.assign(m.body);
    messages[i].receive_count = m.receive_count;
  }
  completion_.done(queue);
}

void DeleteBatchCall::run(QueueEngine& engine, const Completion& completion) {
  number_ids(ids_, handles.size());
  entries_.clear();
  for (size_t i = 0; i < handles.size(); ++i) {
    entries_.push_back({.id = ids_[i], .receipt_handle = handles[i].view()});
  }
  failed = 0;
  auto r = engine.delete_batch(queue, entries_);
  error.reset();
  if (!r.ok()) {
    error = r.error();
  } else {
    for (const BatchEntryOutcome& o : r->view()) failed += o.error ? 1 : 0;
  }
  completion.done(queue);
}

}  // namespace sluice::queue
