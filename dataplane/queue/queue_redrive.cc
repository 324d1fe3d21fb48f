// QueueEngine: dead-letter queues (redrive at maxReceiveCount, ListDeadLetterSourceQueues),
// message-move tasks back out of a dead-letter queue, and messages relayed between queues.
#include <algorithm>
#include <cstdio>

#include "queue_engine.h"
#include "queue_operation.h"
#include "queue_settings.h"

namespace sluice::queue {

namespace {

constexpr uint64_t kMoveStepMs = 100;
// Messages per step when the task has no rate of its own.
constexpr uint32_t kUnratedMovesPerStep = 1000;

}  // namespace

uint32_t QueueEngine::intern_arn(std::string_view arn) {
  if (const auto it = arn_index_.find(arn); it != arn_index_.end()) return it->second;
  interned_arns_.emplace_back(arn);
  const auto index = static_cast<uint32_t>(interned_arns_.size());
  arn_index_.emplace(std::string(arn), index);
  return index;
}

// A dead-lettered message keeps its receive count and names the queue it came from; one moved
// back by a task starts afresh.
RelayedMessage QueueEngine::relayed_view(const Message& m, std::string_view source_arn) const {
  return RelayedMessage{.id = m.id,
                        .body = m.body(),
                        .attributes_blob = m.attributes_blob(),
                        .attribute_count = m.attribute_count,
                        .sender_id = m.sender_id(),
                        .trace_header = m.trace_header(),
                        .deduplication_id = m.dedup_id(),
                        .group_id = m.group_id(),
                        .sent_ms = m.sent_ms,
                        .receive_count = source_arn.empty() ? 0 : m.receive_count,
                        .dead_letter_source_arn = source_arn,
                        .origin_queue = m.queue->name,
                        .origin_slot = m.slot};
}

Status QueueEngine::accept(Queue* t, const RelayedMessage& r) {
  Group* g = nullptr;
  if (t->settings.fifo) {
    if (r.group_id.empty()) {
      return Error{ErrorCode::kMissingParameter,
                   "The request must contain the parameter MessageGroupId."};
    }
    g = group_for(t, r.group_id);
    if (g == nullptr) {
      ++stats_.throttled;
      return Error{ErrorCode::kRequestThrottled, "The shard's memory budget is full."};
    }
  }
  Message* m = store(t, r, {});
  if (m == nullptr) {
    free_group_if_unused(g);
    ++stats_.throttled;
    return Error{ErrorCode::kRequestThrottled, "The shard's memory budget is full."};
  }
  if (g != nullptr) {
    m->group = g;
    ++g->members;
  }
  if (!r.dead_letter_source_arn.empty()) ++t->dead_lettered_in;
  enqueue(m, 0);
  journal(JournalOp::kMessageAccepted, *t, m, 0, r.dead_letter_source_arn);
  return {};
}

Status QueueEngine::accept_relayed(std::string_view queue, const RelayedMessage& message) {
  Operation op(*this);
  Queue* t = find(queue);
  if (t == nullptr) return no_such_queue();
  return accept(t, message);
}

void QueueEngine::finish_handover(const RelayedMessage& r, std::string_view target, bool accepted) {
  Operation op(*this);
  Queue* q = find(r.origin_queue);
  Message* m = q == nullptr ? nullptr : messages_.find(r.origin_slot);
  if (m == nullptr || m->queue != q || m->id != r.id || m->state != MessageState::kHandingOver) {
    return;
  }
  if (!accepted) {
    ++stats_.relay_refused;
    make_visible(m);
    return;
  }
  journal(JournalOp::kMessageMovedOut, *q, m, r.dead_letter_source_arn.empty() ? 1 : 0, target);
  release(m);
}

// Moves `m` to the queue named `target` (here or, through the relay, on another shard); false
// when it cannot go, and then it stays. A message relayed to another shard is handed over: it
// stays here, out of reach, until finish_handover(), so that a crash in between leaves it in
// both queues at worst, never in neither.
bool QueueEngine::move_message(Message* m, std::string_view target, std::string_view source_arn) {
  Queue* q = m->queue;
  const RelayedMessage r = relayed_view(*m, source_arn);
  Queue* t = find(target);
  const bool moved =
      t != nullptr ? t != q && accept(t, r).ok() : relay_ != nullptr && relay_->relay(target, r);
  if (!moved) {
    ++stats_.relay_refused;
    return false;
  }
  if (t == nullptr) {
    unlink_state(m);
    m->state = MessageState::kHandingOver;
    return true;
  }
  journal(JournalOp::kMessageMovedOut, *q, m, source_arn.empty() ? 1 : 0, target);
  release(m);
  return true;
}

bool QueueEngine::dead_letter(Message* m) {
  Queue* q = m->queue;
  const std::string_view target =
      queue_name_of_arn(q->settings.redrive_policy->dead_letter_target_arn);
  if (!move_message(m, target, q->arn)) return false;
  ++stats_.dead_lettered;
  return true;
}

bool QueueEngine::is_dead_letter_queue(const Queue& q) const {
  if (q.dead_lettered_in > 0) return true;
  return std::any_of(queues_.begin(), queues_.end(), [&](const auto& entry) {
    const auto& policy = entry.second->settings.redrive_policy;
    return policy && queue_name_of_arn(policy->dead_letter_target_arn) == q.name;
  });
}

Result<std::vector<std::string>> QueueEngine::list_dead_letter_source_queues(std::string_view name,
                                                                             bool owner) {
  Operation op(*this);
  if (owner && find(name) == nullptr) return no_such_queue();
  std::vector<std::string> sources;
  for (const auto& [source_name, q] : queues_) {
    const auto& policy = q->settings.redrive_policy;
    if (policy && queue_name_of_arn(policy->dead_letter_target_arn) == name) {
      sources.push_back(source_name);
    }
  }
  return sources;
}

Result<std::string> QueueEngine::start_move_task(const StartMoveTaskRequest& request) {
  Operation op(*this);
  Queue* q = find(queue_name_of_arn(request.source_arn));
  if (q == nullptr) {
    return Error{ErrorCode::kResourceNotFound,
                 "The resource that you specified for the SourceArn parameter doesn't exist."};
  }
  if (!is_dead_letter_queue(*q)) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Source queue must be configured as a Dead Letter Queue."};
  }
  const uint32_t rate = request.max_messages_per_second.value_or(0);
  if (request.max_messages_per_second && (rate < 1 || rate > limits::kMaxMoveTaskRate)) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Value " + std::to_string(rate) +
                     " for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be "
                     "between 1 and 500."};
  }
  const std::string_view destination = queue_name_of_arn(request.destination_arn);
  if (!request.destination_arn.empty() &&
      (destination.empty() || (find(destination) == nullptr && relay_ == nullptr))) {
    return Error{ErrorCode::kResourceNotFound,
                 "The resource that you specified for the DestinationArn parameter doesn't "
                 "exist."};
  }
  if (q->move.running) {
    return Error{ErrorCode::kUnsupportedOperation,
                 "There is already a task running. Only one active task is allowed for a source "
                 "queue arn at a given time."};
  }
  char id[17];
  std::snprintf(
      id, sizeof id, "%016llx",
      static_cast<unsigned long long>(handle_key_ ^ (++next_task_ * 0x9e3779b97f4a7c15ull)));
  MoveTaskInfo task{.task_handle = std::string(id) + ":" + q->name,
                    .source_arn = std::string(request.source_arn),
                    .destination_arn = std::string(request.destination_arn),
                    .max_messages_per_second = rate,
                    .approximate_messages_to_move = q->visible_count,
                    .started_timestamp_ms = now_};
  q->move_tasks.push_front(task);
  if (q->move_tasks.size() > limits::kListedMoveTasks) q->move_tasks.pop_back();
  q->move = MoveTaskState{
      .running = true, .last_step_ms = now_, .destination_name = std::string(destination)};
  journal(JournalOp::kMoveTaskChanged, *q);
  wheel_.schedule(&q->move_timer, now_);
  return task.task_handle;
}

void QueueEngine::end_move_task(Queue* q, MoveTaskStatus status, std::string reason) {
  MoveTaskInfo& task = q->move_tasks.front();
  task.status = status;
  task.failure_reason = std::move(reason);
  q->move.running = false;
  wheel_.cancel(&q->move_timer);
  journal(JournalOp::kMoveTaskChanged, *q);
}

Message* QueueEngine::take_visible(Queue* q) {
  if (!q->settings.fifo) return q->visible.front();
  return q->ready_groups.empty() ? nullptr : q->ready_groups.front()->visible.front();
}

// One step of the running task: as many messages as its rate allows since the last step.
void QueueEngine::step_move_task(Queue* q) {
  MoveTaskInfo& task = q->move_tasks.front();
  MoveTaskState& move = q->move;
  uint32_t allowed = kUnratedMovesPerStep;
  if (task.max_messages_per_second > 0) {
    const uint64_t rate = task.max_messages_per_second;
    move.allowance_milli =
        std::min(move.allowance_milli + rate * (now_ - move.last_step_ms), rate * 1000);
    allowed = static_cast<uint32_t>(move.allowance_milli / 1000);
  }
  move.last_step_ms = now_;
  uint32_t moved = 0;
  Message* m = nullptr;
  while (moved < allowed && task.approximate_messages_moved < task.approximate_messages_to_move &&
         (m = take_visible(q)) != nullptr) {
    std::string_view target = move.destination_name;
    if (target.empty() && m->dead_letter_source != 0) {
      target = queue_name_of_arn(interned_arns_[m->dead_letter_source - 1]);
    }
    if (target.empty()) {
      return end_move_task(q, MoveTaskStatus::kFailed,
                           "A message has no source queue to go back to; give a DestinationArn.");
    }
    const std::string destination(target);
    if (!move_message(m, destination, {})) {
      return end_move_task(q, MoveTaskStatus::kFailed,
                           "The destination queue " + destination + " did not take a message.");
    }
    ++moved;
    ++task.approximate_messages_moved;
    ++stats_.moved;
  }
  if (task.max_messages_per_second > 0) move.allowance_milli -= uint64_t{moved} * 1000;
  if (task.approximate_messages_moved >= task.approximate_messages_to_move ||
      take_visible(q) == nullptr) {
    return end_move_task(q, MoveTaskStatus::kCompleted);
  }
  wheel_.schedule(&q->move_timer, now_ + kMoveStepMs);
}

Result<uint64_t> QueueEngine::cancel_move_task(std::string_view task_handle) {
  Operation op(*this);
  const size_t colon = task_handle.find(':');
  Queue* q = colon == std::string_view::npos ? nullptr : find(task_handle.substr(colon + 1));
  const auto not_found = Error{ErrorCode::kResourceNotFound, "Task does not exist."};
  if (q == nullptr) return not_found;
  const auto it = std::find_if(q->move_tasks.begin(), q->move_tasks.end(),
                               [&](const MoveTaskInfo& t) { return t.task_handle == task_handle; });
  if (it == q->move_tasks.end()) return not_found;
  if (it->status != MoveTaskStatus::kRunning) {
    return Error{ErrorCode::kUnsupportedOperation, "Only active tasks can be cancelled."};
  }
  end_move_task(q, MoveTaskStatus::kCancelled);
  return it->approximate_messages_moved;
}

Result<std::vector<MoveTaskInfo>> QueueEngine::list_move_tasks(std::string_view source_arn,
                                                               uint32_t max_results) {
  Operation op(*this);
  if (max_results < 1 || max_results > limits::kListedMoveTasks) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Value " + std::to_string(max_results) +
                     " for parameter MaxResults is invalid. Reason: must be between 1 and 10."};
  }
  const Queue* q = find(queue_name_of_arn(source_arn));
  if (q == nullptr) {
    return Error{ErrorCode::kResourceNotFound,
                 "The resource that you specified for the SourceArn parameter doesn't exist."};
  }
  const size_t n = std::min<size_t>(max_results, q->move_tasks.size());
  return std::vector<MoveTaskInfo>(q->move_tasks.begin(),
                                   q->move_tasks.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace sluice::queue
