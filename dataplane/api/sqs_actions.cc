#include "sqs_actions.h"

#include <algorithm>

#include "sqs_policy.h"

namespace sluice::api::sqs {
namespace {

using queue::QueueEngine;

// ListQueues' page: what MaxResults may ask for, and what SQS answers without it.
constexpr size_t kListQueuesPage = 1000;

const QueueRef* queue_ref(const Request& request) {
  return std::visit(
      [](const auto& p) -> const QueueRef* {
        if constexpr (requires { p.queue; }) {
          return &p.queue;
        } else {
          return nullptr;
        }
      },
      request.params);
}

std::string_view queue_name_of_arn(std::string_view arn) {
  const size_t colon = arn.rfind(':');
  return colon == std::string_view::npos ? std::string_view{} : arn.substr(colon + 1);
}

std::vector<std::string_view> views(const std::vector<std::string>& texts) {
  return {texts.begin(), texts.end()};
}

// Each entry's attribute views, kept while the engine reads them.
struct SendViews {
  std::vector<std::vector<queue::MessageAttribute>> attributes;
  std::vector<queue::SendEntry> entries;

  explicit SendViews(const std::vector<SendMessageEntry>& source) : attributes(source.size()) {
    for (size_t i = 0; i < source.size(); ++i) entries.push_back(source[i].view(attributes[i]));
  }
};

// The reply to a batch: each outcome with its entry's id (the engine keeps the request's order).
template <class Entry>
Reply batch_reply(const CallContext& ctx, Action action, const std::vector<Entry>& entries,
                  const queue::BatchOutcome& outcome, const SendViews* sent = nullptr) {
  std::vector<BatchReplyEntry> out;
  for (size_t i = 0; i < outcome.size; ++i) {
    const queue::BatchEntryOutcome& o = outcome.entries[i];
    BatchReplyEntry e{.id = entries[i].id};
    if (o.error) {
      e.error = api_error(*o.error);
    } else if (sent != nullptr) {
      e.sent = {.message_id = o.sent.message_id,
                .body = sent->entries[i].body,
                .attributes = sent->entries[i].attributes,
                .sequence_number = o.sent.sequence_number};
    }
    out.push_back(std::move(e));
  }
  return encode_batch(ctx.protocol, action, out, ctx.request_id);
}

Reply error_reply(const CallContext& ctx, const queue::Error& error) {
  return encode_error(ctx.protocol, api_error(error), ctx.request_id);
}

Reply status_reply(const CallContext& ctx, Action action, const queue::Status& status) {
  return status ? encode_empty(ctx.protocol, action, ctx.request_id)
                : error_reply(ctx, status.error());
}

Reply create_queue(QueueEngine& engine, const CallContext& ctx, const CreateQueueRequest& r) {
  std::vector<queue::AttributeValue> attributes;
  for (const auto& [n, v] : r.attributes) attributes.push_back({n, v});
  std::vector<queue::Tag> tags;
  for (const auto& [k, v] : r.tags) tags.push_back({k, v});
  auto created = engine.create_queue({.name = r.name, .attributes = attributes, .tags = tags});
  if (!created) return error_reply(ctx, created.error());
  return encode_queue_url(ctx.protocol, Action::kCreateQueue, ctx.url_prefix + r.name,
                          ctx.request_id);
}

Reply send_message(QueueEngine& engine, const CallContext& ctx, const SendMessageRequest& r) {
  std::vector<queue::MessageAttribute> attributes;
  const queue::SendEntry entry = r.message.view(attributes);
  auto sent = engine.send(r.queue.name, entry, ctx.sender_id);
  if (!sent) return error_reply(ctx, sent.error());
  return encode_send_message(ctx.protocol,
                             {.message_id = sent->message_id,
                              .body = r.message.body,
                              .attributes = attributes,
                              .sequence_number = sent->sequence_number},
                             ctx.request_id);
}

Reply send_batch(QueueEngine& engine, const CallContext& ctx, const SendMessageBatchRequest& r) {
  const SendViews sent(r.entries);
  auto outcome = engine.send_batch(r.queue.name, sent.entries, ctx.sender_id);
  if (!outcome) return error_reply(ctx, outcome.error());
  return batch_reply(ctx, Action::kSendMessageBatch, r.entries, outcome.value(), &sent);
}

Reply delete_batch(QueueEngine& engine, const CallContext& ctx,
                   const DeleteMessageBatchRequest& r) {
  std::vector<queue::DeleteEntry> entries;
  for (const auto& e : r.entries) entries.push_back({e.id, e.receipt_handle});
  auto outcome = engine.delete_batch(r.queue.name, entries);
  if (!outcome) return error_reply(ctx, outcome.error());
  return batch_reply(ctx, Action::kDeleteMessageBatch, r.entries, outcome.value());
}

Reply visibility_batch(QueueEngine& engine, const CallContext& ctx,
                       const ChangeVisibilityBatchRequest& r) {
  std::vector<queue::VisibilityEntry> entries;
  for (const auto& e : r.entries)
    entries.push_back({e.id, e.receipt_handle, e.visibility_timeout_s});
  auto outcome = engine.change_visibility_batch(r.queue.name, entries);
  if (!outcome) return error_reply(ctx, outcome.error());
  return batch_reply(ctx, Action::kChangeMessageVisibilityBatch, r.entries, outcome.value());
}

Reply get_queue_url(QueueEngine& engine, const CallContext& ctx, const GetQueueUrlRequest& r) {
  auto arn = engine.queue_arn(r.name);
  if (!arn) return error_reply(ctx, arn.error());
  return encode_queue_url(ctx.protocol, Action::kGetQueueUrl, ctx.url_prefix + r.name,
                          ctx.request_id);
}

Reply get_attributes(QueueEngine& engine, const CallContext& ctx,
                     const GetQueueAttributesRequest& r) {
  const auto names = views(r.names);
  auto values = engine.get_attributes(r.queue.name, names);
  if (!values) return error_reply(ctx, values.error());
  return encode_attributes(ctx.protocol, Action::kGetQueueAttributes, values.value(),
                           ctx.request_id);
}

Reply set_attributes(QueueEngine& engine, const CallContext& ctx,
                     const SetQueueAttributesRequest& r) {
  std::vector<queue::AttributeValue> values;
  for (const auto& [n, v] : r.attributes) values.push_back({n, v});
  return status_reply(ctx, Action::kSetQueueAttributes,
                      engine.set_attributes(r.queue.name, values));
}

Reply tag_queue(QueueEngine& engine, const CallContext& ctx, const TagQueueRequest& r) {
  std::vector<queue::Tag> tags;
  for (const auto& [k, v] : r.tags) tags.push_back({k, v});
  return status_reply(ctx, Action::kTagQueue, engine.tag_queue(r.queue.name, tags));
}

Reply queue_only(QueueEngine& engine, const CallContext& ctx, Action action,
                 const QueueOnlyRequest& r) {
  const std::string& name = r.queue.name;
  switch (action) {
    case Action::kDeleteQueue:
      return status_reply(ctx, action, engine.delete_queue(name));
    case Action::kPurgeQueue:
      return status_reply(ctx, action, engine.purge(name));
    default: {
      auto tags = engine.list_tags(name);
      if (!tags) return error_reply(ctx, tags.error());
      return encode_attributes(ctx.protocol, action, tags.value(), ctx.request_id);
    }
  }
}

// AddPermission and RemovePermission: an edit of the queue's Policy attribute.
Reply edit_policy(QueueEngine& engine, const CallContext& ctx, Action action,
                  const Request& request) {
  const std::string_view names[] = {"Policy", "QueueArn"};
  const std::string& queue = queue_ref(request)->name;
  auto current = engine.get_attributes(queue, names);
  if (!current) return error_reply(ctx, current.error());
  std::string policy, arn;
  for (const auto& [n, v] : current.value()) (n == "Policy" ? policy : arn) = v;
  std::string refusal;
  const std::optional<std::string> edited =
      action == Action::kAddPermission
          ? add_permission(policy, arn, std::get<AddPermissionRequest>(request.params), &refusal)
          : remove_permission(policy, std::get<RemovePermissionRequest>(request.params).label,
                              &refusal);
  if (!edited) {
    return encode_error(ctx.protocol, api_error(queue::ErrorCode::kInvalidParameterValue, refusal),
                        ctx.request_id);
  }
  const queue::AttributeValue value{"Policy", *edited};
  return status_reply(ctx, action, engine.set_attributes(queue, {&value, 1}));
}

Reply start_move_task(QueueEngine& engine, const CallContext& ctx,
                      const StartMessageMoveTaskRequest& r) {
  auto handle = engine.start_move_task({.source_arn = r.source_arn,
                                        .destination_arn = r.destination_arn,
                                        .max_messages_per_second = r.max_velocity});
  if (!handle) return error_reply(ctx, handle.error());
  return encode_start_move_task(ctx.protocol, handle.value(), ctx.request_id);
}

Reply list_move_tasks(QueueEngine& engine, const CallContext& ctx,
                      const ListMessageMoveTasksRequest& r) {
  auto tasks = engine.list_move_tasks(r.source_arn, r.max_results.value_or(1));
  if (!tasks) return error_reply(ctx, tasks.error());
  return encode_list_move_tasks(ctx.protocol, tasks.value(), ctx.request_id);
}

}  // namespace

std::string owning_queue(const Request& request) {
  if (const QueueRef* ref = queue_ref(request)) return ref->name;
  if (const auto* r = std::get_if<CreateQueueRequest>(&request.params)) return r->name;
  if (const auto* r = std::get_if<GetQueueUrlRequest>(&request.params)) return r->name;
  if (const auto* r = std::get_if<StartMessageMoveTaskRequest>(&request.params))
    return std::string(queue_name_of_arn(r->source_arn));
  if (const auto* r = std::get_if<ListMessageMoveTasksRequest>(&request.params))
    return std::string(queue_name_of_arn(r->source_arn));
  if (const auto* r = std::get_if<CancelMessageMoveTaskRequest>(&request.params)) {
    // A task handle names the dead-letter queue after its first colon.
    const size_t colon = r->task_handle.find(':');
    return colon == std::string::npos ? std::string{} : r->task_handle.substr(colon + 1);
  }
  return {};
}

bool spans_shards(Action action) {
  return action == Action::kListQueues || action == Action::kListDeadLetterSourceQueues;
}

std::optional<ApiError> check_account(const Request& request, std::string_view account_id) {
  const QueueRef* ref = queue_ref(request);
  std::string_view account = ref != nullptr ? std::string_view(ref->account) : std::string_view{};
  if (const auto* r = std::get_if<GetQueueUrlRequest>(&request.params))
    account = r->owner_account_id;
  if (account.empty() || account == account_id) return std::nullopt;
  return api_error(queue::ErrorCode::kQueueDoesNotExist,
                   "The specified queue does not exist for this wsdl version.");
}

void ActionCall::run(QueueEngine& engine, const queue::Completion& completion) {
  const std::string queue = owning_queue(request);
  if (part == Part::kCancelReceive) {
    // The receive is still this shard's while it waits; once ended it goes back unanswered.
    if (cancelled->wait_id_ != 0 && engine.cancel_receive(cancelled->wait_id_)) {
      cancelled->wait_id_ = 0;
      cancelled->reply = {};
      cancelled->completion_.done(queue);
    }
    completion.done(queue);
    return;
  }
  if (part != Part::kWhole) {
    run_part(engine);
    completion.done(queue);
    return;
  }
  if (request.action == Action::kReceiveMessage) {
    // Answered by on_receive, now or when a long poll ends.
    completion_ = completion;
    const auto& r = std::get<ReceiveMessageRequest>(request.params);
    wait_id_ = 0;
    const uint64_t wait = engine.receive({.queue = r.queue.name,
                                          .max_messages = r.max_messages,
                                          .visibility_timeout_s = r.visibility_timeout_s,
                                          .wait_time_s = r.wait_time_s},
                                         *this);
    // 0 when answered already; otherwise on_receive clears it once the wait ends.
    wait_id_ = wait;
    return;
  }
  reply = run_whole(engine);
  completion.done(queue);
}

void ActionCall::on_receive(const queue::ReceiveOutcome& outcome) {
  wait_id_ = 0;
  const auto& r = std::get<ReceiveMessageRequest>(request.params);
  reply = outcome.error != nullptr
              ? error_reply(context, *outcome.error)
              : encode_receive(context.protocol, r, outcome.messages, context.request_id);
  completion_.done(r.queue.name);
}

void ActionCall::run_part(QueueEngine& engine) {
  error.reset();
  names.clear();
  if (part == Part::kQueueNames) {
    const auto& r = std::get<ListQueuesRequest>(request.params);
    // One more than the page holds, to know whether there is a next page.
    const size_t page = r.max_results.value_or(kListQueuesPage);
    names = engine.list_queues(r.prefix, page + 1, r.next_token);
    return;
  }
  const auto& r = std::get<ListDeadLetterSourceQueuesRequest>(request.params);
  auto sources = engine.list_dead_letter_source_queues(r.queue.name, list_owner);
  if (sources) {
    names = std::move(sources.value());
  } else {
    error = api_error(sources.error());
  }
}

Reply ActionCall::run_whole(QueueEngine& engine) {
  const CallContext& ctx = context;
  const Params& p = request.params;
  switch (request.action) {
    case Action::kCreateQueue:
      return create_queue(engine, ctx, std::get<CreateQueueRequest>(p));
    case Action::kGetQueueUrl:
      return get_queue_url(engine, ctx, std::get<GetQueueUrlRequest>(p));
    case Action::kDeleteQueue:
    case Action::kPurgeQueue:
    case Action::kListQueueTags:
      return queue_only(engine, ctx, request.action, std::get<QueueOnlyRequest>(p));
    case Action::kGetQueueAttributes:
      return get_attributes(engine, ctx, std::get<GetQueueAttributesRequest>(p));
    case Action::kSetQueueAttributes:
      return set_attributes(engine, ctx, std::get<SetQueueAttributesRequest>(p));
    case Action::kTagQueue:
      return tag_queue(engine, ctx, std::get<TagQueueRequest>(p));
    case Action::kUntagQueue: {
      const auto& r = std::get<UntagQueueRequest>(p);
      return status_reply(ctx, request.action, engine.untag_queue(r.queue.name, views(r.keys)));
    }
    case Action::kSendMessage:
      return send_message(engine, ctx, std::get<SendMessageRequest>(p));
    case Action::kSendMessageBatch:
      return send_batch(engine, ctx, std::get<SendMessageBatchRequest>(p));
    case Action::kDeleteMessage: {
      const auto& r = std::get<DeleteMessageRequest>(p);
      return status_reply(ctx, request.action,
                          engine.delete_message(r.queue.name, r.receipt_handle));
    }
    case Action::kDeleteMessageBatch:
      return delete_batch(engine, ctx, std::get<DeleteMessageBatchRequest>(p));
    case Action::kChangeMessageVisibility: {
      const auto& r = std::get<ChangeVisibilityRequest>(p);
      return status_reply(
          ctx, request.action,
          engine.change_visibility(r.queue.name, r.receipt_handle, r.visibility_timeout_s));
    }
    case Action::kChangeMessageVisibilityBatch:
      return visibility_batch(engine, ctx, std::get<ChangeVisibilityBatchRequest>(p));
    case Action::kAddPermission:
    case Action::kRemovePermission:
      return edit_policy(engine, ctx, request.action, request);
    case Action::kStartMessageMoveTask:
      return start_move_task(engine, ctx, std::get<StartMessageMoveTaskRequest>(p));
    case Action::kCancelMessageMoveTask: {
      auto moved = engine.cancel_move_task(std::get<CancelMessageMoveTaskRequest>(p).task_handle);
      if (!moved) return error_reply(ctx, moved.error());
      return encode_cancel_move_task(ctx.protocol, moved.value(), ctx.request_id);
    }
    case Action::kListMessageMoveTasks:
      return list_move_tasks(engine, ctx, std::get<ListMessageMoveTasksRequest>(p));
    default:
      return encode_error(ctx.protocol,
                          api_error(queue::ErrorCode::kUnsupportedOperation,
                                    std::string(action_name(request.action)) +
                                        " is not served by a queue's shard."),
                          ctx.request_id);
  }
}

Reply merge_list_parts(const Request& request, const CallContext& ctx,
                       std::span<ActionCall* const> parts) {
  std::vector<std::string> names;
  for (const ActionCall* part : parts) {
    if (part->error) return encode_error(ctx.protocol, *part->error, ctx.request_id);
    names.insert(names.end(), part->names.begin(), part->names.end());
  }
  std::sort(names.begin(), names.end());
  std::optional<uint32_t> max_results;
  std::string_view after;
  if (const auto* r = std::get_if<ListQueuesRequest>(&request.params)) {
    max_results = r->max_results;  // the parts have applied the prefix and the token
  } else {
    const auto& d = std::get<ListDeadLetterSourceQueuesRequest>(request.params);
    max_results = d.max_results;
    after = d.next_token;
    names.erase(names.begin(), std::upper_bound(names.begin(), names.end(), after));
  }
  const size_t page = max_results.value_or(kListQueuesPage);
  std::string next_token;
  if (names.size() > page) {
    names.resize(page);
    // Without MaxResults SQS answers its first 1,000 queues and no token.
    if (max_results) next_token = names.back();
  }
  std::vector<std::string> urls;
  for (const auto& n : names) urls.push_back(ctx.url_prefix + n);
  if (request.action == Action::kListQueues)
    return encode_list_queues(ctx.protocol, urls, next_token, ctx.request_id);
  return encode_list_dead_letter_sources(ctx.protocol, urls, next_token, ctx.request_id);
}

}  // namespace sluice::api::sqs
