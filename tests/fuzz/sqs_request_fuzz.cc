// libFuzzer target: the SQS request decoder and, through what it decodes, the reply encoders and
// the Policy edits. The first byte picks the request's form (AWS JSON 1.0 with X-Amz-Target, JSON
// by content type alone, a query form POST, a query GET) and its path (/ or a queue's); the first
// line after it is the X-Amz-Target value (JSON) or the query string (query); the rest is the
// body. Any input may be refused, never crash. A refusal always carries a name and a query code
// and encodes in both protocols; a decoded request is answered with a synthetic result of its
// action in both protocols, and every reply is well-formed: JSON that parses, XML whose elements
// nest and close.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sqs_codec.h"
#include "sqs_policy.h"

using namespace sluice::api::sqs;
namespace queue = sluice::queue;

namespace {

constexpr std::string_view kArn = "arn:aws:sqs:us-east-1:000000000000:orders";

void check(bool ok) {
  if (!ok) abort();
}

// Elements open and close in order, each named, and the text between them has no '<' or '>'.
bool well_formed_xml(std::string_view xml) {
  constexpr std::string_view kDeclaration = "<?xml version=\"1.0\"?>";
  if (!xml.starts_with(kDeclaration)) return false;
  xml.remove_prefix(kDeclaration.size());
  std::vector<std::string_view> open;
  while (!xml.empty()) {
    const size_t lt = xml.find('<');
    if (lt == std::string_view::npos) return false;
    if (xml.substr(0, lt).find('>') != std::string_view::npos) return false;
    const size_t gt = xml.find('>', lt);
    if (gt == std::string_view::npos) return false;
    std::string_view tag = xml.substr(lt + 1, gt - lt - 1);
    xml.remove_prefix(gt + 1);
    if (tag.starts_with('/')) {
      if (open.empty() || open.back() != tag.substr(1)) return false;
      open.pop_back();
      if (open.empty() && !xml.empty()) return false;
      continue;
    }
    const bool empty = tag.ends_with('/');
    if (empty) tag.remove_suffix(1);
    tag = tag.substr(0, tag.find(' '));
    if (tag.empty()) return false;
    if (!empty) open.push_back(tag);
  }
  return open.empty();
}

void check_reply(const Reply& r, Protocol protocol, std::string_view root) {
  if (protocol == Protocol::kJson) {
    check(nlohmann::json::parse(r.body, nullptr, false).is_object());
    return;
  }
  check(well_formed_xml(r.body));
  const std::string start = "<?xml version=\"1.0\"?><" + std::string(root);
  check(r.body.starts_with(start));
}

void check_success(const Reply& r, Protocol protocol, Action action) {
  check(r.status == 200);
  check_reply(r, protocol, std::string(action_name(action)) + "Response");
}

void check_error(const ApiError& e) {
  check(!e.name.empty() && !e.query_code.empty());
  check(e.status == 400 || e.status == 403);
  for (Protocol p : {Protocol::kQuery, Protocol::kJson}) {
    Reply r = encode_error(p, e, "req");
    check(r.status == e.status);
    check_reply(r, p, "ErrorResponse");
  }
}

// AddPermission on a fresh policy, again under the same label (refused), then taken off again;
// and against the request's own body as a stored policy, which may be anything.
void edit_policy(const AddPermissionRequest& r, std::string_view body) {
  std::string error;
  std::optional<std::string> policy = add_permission("", kArn, r, &error);
  if (!policy) {
    check(!error.empty());
  } else {
    check(nlohmann::json::parse(*policy, nullptr, false).is_object());
    check(!add_permission(*policy, kArn, r, &error).has_value());
    check(error == "Value " + r.label + " for parameter Label is invalid. Reason: Already exists.");
    check(remove_permission(*policy, r.label, &error) == std::string());
  }
  error.clear();
  std::optional<std::string> edited = add_permission(body, kArn, r, &error);
  check(edited.has_value() != !error.empty());
  if (edited) check(remove_permission(*edited, r.label, &error).has_value());
}

struct Answer {
  Protocol p;
  const Request& request;
  std::string_view body;

  void send(const SendMessageEntry& m, std::vector<queue::MessageAttribute>& storage,
            SendMessageReply& out) const {
    storage.clear();
    for (const auto& a : m.attributes) storage.push_back({a.name, a.data_type, a.value});
    out.body = m.body;
    out.attributes = storage;
    out.sequence_number = m.group_id.empty() ? 0 : m.group_id.size() + 1;
    for (size_t i = 0; i < m.body.size() && i < out.message_id.bytes.size(); ++i) {
      out.message_id.bytes[i] = static_cast<uint8_t>(m.body[i]);
    }
  }

  template <typename Entries>
  void batch(const Entries& entries, const std::vector<SendMessageEntry>* sends) const {
    std::vector<std::vector<queue::MessageAttribute>> storage(entries.size());
    std::vector<BatchReplyEntry> out(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      out[i].id = entries[i].id;
      if (i % 2 == 1) {
        out[i].error = api_error(queue::ErrorCode::kReceiptHandleIsInvalid, entries[i].id);
      } else if (sends != nullptr) {
        send((*sends)[i], storage[i], out[i].sent);
      }
    }
    check_success(encode_batch(p, request.action, out, "req"), p, request.action);
  }

  void empty() const { check_success(encode_empty(p, request.action, "req"), p, request.action); }

  void operator()(const SendMessageRequest& r) const {
    std::vector<queue::MessageAttribute> storage;
    SendMessageReply sent;
    send(r.message, storage, sent);
    check_success(encode_send_message(p, sent, "req"), p, request.action);
  }
  void operator()(const SendMessageBatchRequest& r) const { batch(r.entries, &r.entries); }
  void operator()(const DeleteMessageBatchRequest& r) const { batch(r.entries, nullptr); }
  void operator()(const ChangeVisibilityBatchRequest& r) const { batch(r.entries, nullptr); }
  void operator()(const ReceiveMessageRequest& r) const {
    // Each name asked for as a String attribute, and with a suffix as a Binary one.
    std::vector<std::string> suffixed;
    for (const auto& name : r.message_attribute_names) suffixed.push_back(name + "b");
    std::vector<queue::MessageAttribute> attributes;
    for (size_t i = 0; i < suffixed.size(); ++i) {
      attributes.push_back({r.message_attribute_names[i], "String", r.receive_request_attempt_id});
      attributes.push_back({suffixed[i], "Binary", r.message_attribute_names[i]});
    }
    std::vector<queue::ReceivedMessage> messages(r.max_messages % 3);
    for (auto& m : messages) {
      m.body = r.receive_request_attempt_id;
      m.attributes = attributes;
      m.receive_count = r.max_messages;
      m.sequence_number = r.wait_time_s.value_or(0);
      m.group_id = r.queue.name;
      m.deduplication_id = r.queue.account;
      m.trace_header = r.queue.url;
      m.dead_letter_source_arn = r.receive_request_attempt_id;
      for (size_t i = 0; i < r.queue.name.size() && i < m.receipt_handle.text.size(); ++i) {
        m.receipt_handle.text[i] = r.queue.name[i];
      }
    }
    check_success(encode_receive(p, r, messages, "req"), p, request.action);
  }
  void operator()(const DeleteMessageRequest&) const { empty(); }
  void operator()(const ChangeVisibilityRequest&) const { empty(); }
  void operator()(const CreateQueueRequest& r) const {
    check_success(encode_queue_url(p, request.action, "http://h/1/" + r.name, "req"), p,
                  request.action);
  }
  void operator()(const GetQueueUrlRequest& r) const {
    check_success(encode_queue_url(p, request.action, r.owner_account_id + r.name, "req"), p,
                  request.action);
  }
  void operator()(const QueueOnlyRequest& r) const {
    if (request.action != Action::kListQueueTags) return empty();
    check_success(encode_attributes(p, request.action, {{r.queue.name, r.queue.url}}, "req"), p,
                  request.action);
  }
  void operator()(const ListQueuesRequest& r) const {
    std::vector<std::string> urls(r.max_results.value_or(1) % 4, r.prefix);
    check_success(encode_list_queues(p, urls, r.next_token, "req"), p, request.action);
  }
  void operator()(const GetQueueAttributesRequest& r) const {
    NameValues values;
    for (const auto& n : r.names) values.emplace_back(n, n);
    check_success(encode_attributes(p, request.action, values, "req"), p, request.action);
  }
  void operator()(const SetQueueAttributesRequest& r) const {
    empty();
    check_success(encode_attributes(p, Action::kGetQueueAttributes, r.attributes, "req"), p,
                  Action::kGetQueueAttributes);
  }
  void operator()(const TagQueueRequest& r) const {
    empty();
    check_success(encode_attributes(p, Action::kListQueueTags, r.tags, "req"), p,
                  Action::kListQueueTags);
  }
  void operator()(const UntagQueueRequest&) const { empty(); }
  void operator()(const AddPermissionRequest& r) const {
    check(!r.account_ids.empty() && !r.actions.empty());
    edit_policy(r, body);
    empty();
  }
  void operator()(const RemovePermissionRequest& r) const {
    std::string error;
    std::optional<std::string> policy = remove_permission(body, r.label, &error);
    check(policy.has_value() != !error.empty());
    empty();
  }
  void operator()(const ListDeadLetterSourceQueuesRequest& r) const {
    std::vector<std::string> urls(r.max_results.value_or(1) % 4, r.queue.url);
    check_success(encode_list_dead_letter_sources(p, urls, r.next_token, "req"), p, request.action);
  }
  void operator()(const StartMessageMoveTaskRequest& r) const {
    check_success(encode_start_move_task(p, r.source_arn + r.destination_arn, "req"), p,
                  request.action);
  }
  void operator()(const CancelMessageMoveTaskRequest& r) const {
    check_success(encode_cancel_move_task(p, r.task_handle.size() * 0x123456789ULL, "req"), p,
                  request.action);
  }
  void operator()(const ListMessageMoveTasksRequest& r) const {
    std::vector<queue::MoveTaskInfo> tasks(5);
    for (size_t i = 0; i < tasks.size(); ++i) {
      tasks[i].status = static_cast<queue::MoveTaskStatus>(i);
      tasks[i].task_handle = r.source_arn;
      tasks[i].source_arn = r.source_arn;
      tasks[i].destination_arn = i % 2 == 0 ? r.source_arn : "";
      tasks[i].max_messages_per_second = r.max_results.value_or(0);
      tasks[i].approximate_messages_moved = r.source_arn.size() << i;
      tasks[i].approximate_messages_to_move = UINT64_MAX >> i;
      tasks[i].failure_reason =
          tasks[i].status == queue::MoveTaskStatus::kFailed ? r.source_arn : "";
      tasks[i].started_timestamp_ms = 1700000000000 + i;
    }
    check_success(encode_list_move_tasks(p, tasks, "req"), p, request.action);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t form = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nl = input.find('\n');
  const std::string_view line = input.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);

  sluice::http::Request r;
  r.path = (form & 4) != 0 ? "/000000000000/orders" : "/";
  r.host = "127.0.0.1:9324";
  size_t n = 0;
  switch (form & 3) {
    case 0:  // AWS JSON 1.0 as SDKs send it
      r.method = "POST";
      r.headers[n++] = {"Content-Type", "application/x-amz-json-1.0"};
      r.headers[n++] = {"X-Amz-Target", line};
      r.body = body;
      break;
    case 1:  // JSON by content type, no target
      r.method = "POST";
      r.headers[n++] = {"Content-Type", "application/x-amz-json-1.0"};
      r.body = body;
      break;
    case 2:  // query form POST, parameters in the query string and the body
      r.method = "POST";
      r.headers[n++] = {"Content-Type", "application/x-www-form-urlencoded"};
      r.query = line;
      r.body = body;
      break;
    default:  // query GET
      r.method = "GET";
      r.query = line;
      break;
  }
  r.header_count = n;

  const Decoded d = decode(r);
  check(d.protocol == detect_protocol(r));
  check(d.request.has_value() != d.error.has_value());
  if (d.error) {
    check_error(*d.error);
    return 0;
  }
  for (Protocol p : {Protocol::kQuery, Protocol::kJson}) {
    std::visit(Answer{p, *d.request, r.body}, d.request->params);
  }
  return 0;
}
