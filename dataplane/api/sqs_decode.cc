// Decoding SQS requests: protocol detection, the query form turned into the JSON object AWS
// JSON 1.0 carries, and one typed decoder per action over that object.
#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "form_encoding.h"
#include "sqs_codec.h"
#include "sqs_flattening.h"

namespace sluice::api::sqs {

namespace {

using nlohmann::json;
using queue::ErrorCode;

constexpr std::array<std::string_view, 23> kActionNames = {
    "CreateQueue",
    "DeleteQueue",
    "ListQueues",
    "GetQueueUrl",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "AddPermission",
    "RemovePermission",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "CancelMessageMoveTask",
    "ListMessageMoveTasks",
};

// Thrown inside the decoder and turned into Decoded::error by decode().
struct Refusal {
  ApiError error;
};

[[noreturn]] void refuse(ErrorCode code, std::string message) {
  throw Refusal{api_error(code, std::move(message))};
}

[[noreturn]] void refuse_protocol(std::string_view name, std::string message) {
  throw Refusal{ApiError{name, name, 400, true, std::move(message)}};
}

[[noreturn]] void invalid_value(std::string_view member, std::string_view reason) {
  refuse(ErrorCode::kInvalidParameterValue, "Value for parameter " + std::string(member) +
                                                " is invalid. Reason: " + std::string(reason) +
                                                ".");
}

// A query parameter split at its dots, and its value.
struct FlatParam {
  std::vector<std::string> path;
  std::string value;
};

void parse_form(std::string_view form, std::map<std::string, std::string>& params) {
  if (form::parse(form, params))
    refuse_protocol("MalformedQueryString", "Malformed percent-encoding.");
}

// Flattened lists (NAME.N) of the query protocol and the JSON members they stand for; maps are
// in sqs_flattening.h.
struct ListRule {
  std::string_view query;
  std::string_view json;
};
constexpr std::array<ListRule, 9> kLists = {{
    {"AttributeName", "AttributeNames"},
    {"MessageAttributeName", "MessageAttributeNames"},
    {"MessageSystemAttributeName", "MessageSystemAttributeNames"},
    {"TagKey", "TagKeys"},
    {"AWSAccountId", "AWSAccountIds"},
    {"ActionName", "Actions"},
    {"SendMessageBatchRequestEntry", "Entries"},
    {"DeleteMessageBatchRequestEntry", "Entries"},
    {"ChangeMessageVisibilityBatchRequestEntry", "Entries"},
}};

using Group = std::vector<const FlatParam*>;

// The deepest key SQS has is SendMessageBatchRequestEntry.N.MessageAttribute.N.Value.X (6
// segments); the bound keeps build() and value_at(), which recurse once per segment, shallow.
constexpr size_t kMaxKeySegments = 16;

std::string joined(const FlatParam& p) {
  std::string s;
  for (const auto& seg : p.path) s += (s.empty() ? "" : ".") + seg;
  return s;
}

[[noreturn]] void bad_parameter(const FlatParam& p) {
  refuse_protocol("InvalidQueryParameter",
                  "The parameter " + joined(p) + " is not valid for this action.");
}

json build(const Group& items, size_t depth);

// The value at `depth`: a scalar when the one item ends there, an object otherwise.
json value_at(const Group& items, size_t depth) {
  if (items.size() == 1 && items[0]->path.size() == depth) return items[0]->value;
  for (const FlatParam* p : items) {
    if (p->path.size() <= depth) bad_parameter(*p);
  }
  return build(items, depth);
}

// Items grouped by their 1-based index at `depth`, in index order.
std::map<uint32_t, Group> by_index(const Group& items, size_t depth) {
  std::map<uint32_t, Group> out;
  for (const FlatParam* p : items) {
    uint32_t index = 0;
    if (p->path.size() <= depth) bad_parameter(*p);
    const std::string& seg = p->path[depth];
    auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
    if (ec != std::errc{} || end != seg.data() + seg.size() || index == 0) bad_parameter(*p);
    out[index].push_back(p);
  }
  return out;
}

json build(const Group& items, size_t depth) {
  std::map<std::string_view, Group> groups;
  for (const FlatParam* p : items) groups[p->path[depth]].push_back(p);
  json out = json::object();
  for (const auto& [name, group] : groups) {
    const std::string_view query_name = name;  // clang 14 cannot capture a structured binding
    auto list = std::find_if(kLists.begin(), kLists.end(),
                             [&](const ListRule& r) { return r.query == query_name; });
    const FlattenedMap* map = find_flattened_map(name, false);
    if (list != kLists.end()) {
      json& array = out[std::string(list->json)] = json::array();
      for (const auto& [index, entry] : by_index(group, depth + 1)) {
        array.push_back(value_at(entry, depth + 2));
      }
    } else if (map != nullptr) {
      json& object = out[std::string(map->member)] = json::object();
      for (const auto& [index, entry] : by_index(group, depth + 1)) {
        const FlatParam* key = nullptr;
        Group value;
        for (const FlatParam* p : entry) {
          if (p->path.size() == depth + 3 && p->path[depth + 2] == map->key) {
            key = p;
          } else if (p->path.size() > depth + 2 && p->path[depth + 2] == "Value") {
            value.push_back(p);
          } else {
            bad_parameter(*p);
          }
        }
        if (key == nullptr) {
          refuse(ErrorCode::kMissingParameter, "The request must contain the parameter " +
                                                   std::string(name) + "." + std::to_string(index) +
                                                   "." + std::string(map->key) + ".");
        }
        object[key->value] = value.empty() ? json("") : value_at(value, depth + 3);
      }
    } else {
      out[std::string(name)] = value_at(group, depth + 1);
    }
  }
  return out;
}

json unflatten(const std::map<std::string, std::string>& params) {
  std::vector<FlatParam> flat;
  flat.reserve(params.size());
  for (const auto& [key, value] : params) {
    FlatParam p;
    size_t start = 0;
    while (true) {
      size_t dot = key.find('.', start);
      p.path.push_back(key.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    p.value = value;
    flat.push_back(std::move(p));
  }
  Group all;
  for (const FlatParam& p : flat) {
    if (p.path.size() > kMaxKeySegments ||
        std::any_of(p.path.begin(), p.path.end(), [](const auto& s) { return s.empty(); })) {
      bad_parameter(p);
    }
    all.push_back(&p);
  }
  return all.empty() ? json::object() : build(all, 0);
}

// Typed access to the request object.

const json* member(const json& j, std::string_view name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

[[noreturn]] void missing(std::string_view name) {
  refuse(ErrorCode::kMissingParameter,
         "The request must contain the parameter " + std::string(name) + ".");
}

std::string string_of(const json& v, std::string_view name) {
  if (!v.is_string()) invalid_value(name, "must be a string");
  return v.get<std::string>();
}

std::optional<std::string> opt_string(const json& j, std::string_view name) {
  const json* v = member(j, name);
  if (v == nullptr) return std::nullopt;
  return string_of(*v, name);
}

std::string req_string(const json& j, std::string_view name) {
  auto v = opt_string(j, name);
  if (!v) missing(name);
  return std::move(*v);
}

// Integers arrive as JSON numbers, or as decimal text from the query protocol.
std::optional<uint32_t> opt_uint(const json& j, std::string_view name) {
  const json* v = member(j, name);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() <= UINT32_MAX) return v->get<uint32_t>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    uint32_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc{} && end == s.data() + s.size() && !s.empty()) return out;
  }
  invalid_value(name, "must be a non-negative integer");
}

std::vector<std::string> string_list(const json& j, std::string_view name) {
  std::vector<std::string> out;
  const json* v = member(j, name);
  if (v == nullptr) return out;
  if (!v->is_array()) invalid_value(name, "must be a list");
  for (const json& e : *v) out.push_back(string_of(e, name));
  return out;
}

NameValues string_map(const json& j, std::string_view name) {
  NameValues out;
  const json* v = member(j, name);
  if (v == nullptr) return out;
  if (!v->is_object()) invalid_value(name, "must be a map");
  for (const auto& [key, value] : v->items()) out.emplace_back(key, string_of(value, name));
  return out;
}

std::vector<MessageAttributeValue> message_attributes(const json& j, std::string_view name) {
  std::vector<MessageAttributeValue> out;
  const json* v = member(j, name);
  if (v == nullptr) return out;
  if (!v->is_object()) invalid_value(name, "must be a map");
  for (const auto& [key, value] : v->items()) {
    if (!value.is_object()) invalid_value(name, "each value must be a structure");
    MessageAttributeValue a;
    a.name = key;
    auto type = opt_string(value, "DataType");
    if (!type || type->empty()) {
      refuse(ErrorCode::kInvalidParameterValue,
             "The message attribute '" + key + "' must contain a non-empty attribute type.");
    }
    a.data_type = std::move(*type);
    if (a.binary()) {
      auto encoded = opt_string(value, "BinaryValue");
      std::optional<std::string> bytes = encoded ? base64_decode(*encoded) : std::nullopt;
      if (!bytes) {
        refuse(ErrorCode::kInvalidParameterValue,
               "The message attribute '" + key + "' with type 'Binary' must use field 'Binary'.");
      }
      a.value = std::move(*bytes);
    } else {
      auto text = opt_string(value, "StringValue");
      if (!text) {
        refuse(ErrorCode::kInvalidParameterValue,
               "The message attribute '" + key +
                   "' must contain a non-empty message attribute "
                   "value for message attribute type '" +
                   a.data_type + "'.");
      }
      a.value = std::move(*text);
    }
    out.push_back(std::move(a));
  }
  return out;
}

QueueRef queue_ref_of(std::string url) {
  QueueRef ref;
  std::string_view rest = url;
  size_t scheme = rest.find("://");
  if (scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
    size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  size_t last = rest.rfind('/');
  if (last == std::string_view::npos || last == 0) invalid_value("QueueUrl", "not a queue URL");
  size_t before = rest.rfind('/', last - 1);
  if (before == std::string_view::npos) invalid_value("QueueUrl", "not a queue URL");
  ref.account = rest.substr(before + 1, last - before - 1);
  ref.name = rest.substr(last + 1);
  if (ref.account.empty() || ref.name.empty()) invalid_value("QueueUrl", "not a queue URL");
  ref.url = std::move(url);
  return ref;
}

struct Context {
  const http::Request& http;
  Protocol protocol;
};

// QueueUrl, or for a query request sent to the queue's URL, that URL.
QueueRef queue_ref(const json& j, const Context& ctx) {
  if (auto url = opt_string(j, "QueueUrl")) return queue_ref_of(std::move(*url));
  std::string_view path = ctx.http.path;
  if (ctx.protocol == Protocol::kQuery && path.size() > 1) {
    return queue_ref_of("http://" + std::string(ctx.http.host) + std::string(path));
  }
  missing("QueueUrl");
}

// A list the action requires: absent or empty, it is missing, named as the protocol names it.
std::vector<std::string> required_list(const json& j, std::string_view member,
                                       std::string_view query_name, const Context& ctx) {
  std::vector<std::string> out = string_list(j, member);
  if (out.empty()) missing(ctx.protocol == Protocol::kQuery ? query_name : member);
  return out;
}

SendMessageEntry send_entry(const json& j) {
  SendMessageEntry e;
  e.body = req_string(j, "MessageBody");
  e.attributes = message_attributes(j, "MessageAttributes");
  e.delay_s = opt_uint(j, "DelaySeconds");
  e.group_id = opt_string(j, "MessageGroupId").value_or("");
  e.deduplication_id = opt_string(j, "MessageDeduplicationId").value_or("");
  for (auto& a : message_attributes(j, "MessageSystemAttributes")) {
    if (a.name != "AWSTraceHeader") {
      invalid_value("MessageSystemAttributes", "only AWSTraceHeader is supported");
    }
    e.trace_header = std::move(a.value);
  }
  return e;
}

bool valid_entry_id(std::string_view id) {
  return !id.empty() && id.size() <= queue::limits::kMaxBatchEntryIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

// The batch's entries after the checks SQS makes on the batch as a whole.
const json& batch_entries(const json& j) {
  static const json kEmpty = json::array();
  const json* entries = member(j, "Entries");
  if (entries != nullptr && !entries->is_array()) invalid_value("Entries", "must be a list");
  if (entries == nullptr || entries->empty()) {
    refuse(ErrorCode::kEmptyBatchRequest, "There should be at least one entry in the request.");
  }
  if (entries->size() > queue::limits::kMaxBatchEntries) {
    refuse(ErrorCode::kTooManyEntriesInBatchRequest,
           "Maximum number of entries per request are " +
               std::to_string(queue::limits::kMaxBatchEntries) + ". You have sent " +
               std::to_string(entries->size()) + ".");
  }
  std::set<std::string> ids;
  for (const json& e : *entries) {
    if (!e.is_object()) invalid_value("Entries", "each entry must be a structure");
    std::string id = req_string(e, "Id");
    if (!valid_entry_id(id)) {
      refuse(ErrorCode::kInvalidBatchEntryId,
             "A batch entry id can only contain alphanumeric characters, hyphens and "
             "underscores. It can be at most 80 letters long.");
    }
    if (!ids.insert(id).second) {
      refuse(ErrorCode::kBatchEntryIdsNotDistinct, "Id " + id + " repeated.");
    }
  }
  return entries != nullptr ? *entries : kEmpty;
}

Params decode_params(Action action, const json& j, const Context& ctx) {
  switch (action) {
    case Action::kSendMessage:
      return SendMessageRequest{queue_ref(j, ctx), send_entry(j)};
    case Action::kSendMessageBatch: {
      SendMessageBatchRequest r{queue_ref(j, ctx), {}};
      for (const json& e : batch_entries(j)) {
        r.entries.push_back(send_entry(e));
        r.entries.back().id = req_string(e, "Id");
      }
      return r;
    }
    case Action::kReceiveMessage: {
      ReceiveMessageRequest r;
      r.queue = queue_ref(j, ctx);
      r.max_messages = opt_uint(j, "MaxNumberOfMessages").value_or(1);
      r.visibility_timeout_s = opt_uint(j, "VisibilityTimeout");
      r.wait_time_s = opt_uint(j, "WaitTimeSeconds");
      r.attribute_names = string_list(j, "AttributeNames");
      r.system_attribute_names = string_list(j, "MessageSystemAttributeNames");
      r.message_attribute_names = string_list(j, "MessageAttributeNames");
      r.receive_request_attempt_id = opt_string(j, "ReceiveRequestAttemptId").value_or("");
      return r;
    }
    case Action::kDeleteMessage:
      return DeleteMessageRequest{queue_ref(j, ctx), req_string(j, "ReceiptHandle")};
    case Action::kDeleteMessageBatch: {
      DeleteMessageBatchRequest r{queue_ref(j, ctx), {}};
      for (const json& e : batch_entries(j)) {
        r.entries.push_back({req_string(e, "Id"), req_string(e, "ReceiptHandle")});
      }
      return r;
    }
    case Action::kChangeMessageVisibility: {
      ChangeVisibilityRequest r{queue_ref(j, ctx), req_string(j, "ReceiptHandle"), 0};
      auto timeout = opt_uint(j, "VisibilityTimeout");
      if (!timeout) missing("VisibilityTimeout");
      r.visibility_timeout_s = *timeout;
      return r;
    }
    case Action::kChangeMessageVisibilityBatch: {
      ChangeVisibilityBatchRequest r{queue_ref(j, ctx), {}};
      for (const json& e : batch_entries(j)) {
        auto timeout = opt_uint(e, "VisibilityTimeout");
        if (!timeout) missing("VisibilityTimeout");
        r.entries.push_back({req_string(e, "Id"), req_string(e, "ReceiptHandle"), *timeout});
      }
      return r;
    }
    case Action::kCreateQueue:
      // The JSON model names CreateQueue's tags `tags`; the query form's Tag.N maps to `Tags`.
      return CreateQueueRequest{req_string(j, "QueueName"), string_map(j, "Attributes"),
                                string_map(j, j.contains("tags") ? "tags" : "Tags")};
    case Action::kGetQueueUrl:
      return GetQueueUrlRequest{req_string(j, "QueueName"),
                                opt_string(j, "QueueOwnerAWSAccountId").value_or("")};
    case Action::kDeleteQueue:
    case Action::kPurgeQueue:
    case Action::kListQueueTags:
      return QueueOnlyRequest{queue_ref(j, ctx)};
    case Action::kListQueues:
      return ListQueuesRequest{opt_string(j, "QueueNamePrefix").value_or(""),
                               opt_uint(j, "MaxResults"), opt_string(j, "NextToken").value_or("")};
    case Action::kGetQueueAttributes:
      return GetQueueAttributesRequest{queue_ref(j, ctx), string_list(j, "AttributeNames")};
    case Action::kSetQueueAttributes: {
      SetQueueAttributesRequest r{queue_ref(j, ctx), string_map(j, "Attributes")};
      if (r.attributes.empty()) missing("Attribute.1.Name");
      return r;
    }
    case Action::kTagQueue:
      return TagQueueRequest{queue_ref(j, ctx), string_map(j, "Tags")};
    case Action::kUntagQueue:
      return UntagQueueRequest{queue_ref(j, ctx), string_list(j, "TagKeys")};
    case Action::kAddPermission: {
      AddPermissionRequest r{queue_ref(j, ctx), req_string(j, "Label"), {}, {}};
      r.account_ids = required_list(j, "AWSAccountIds", "AWSAccountId.1", ctx);
      r.actions = required_list(j, "Actions", "ActionName.1", ctx);
      return r;
    }
    case Action::kRemovePermission:
      return RemovePermissionRequest{queue_ref(j, ctx), req_string(j, "Label")};
    case Action::kListDeadLetterSourceQueues:
      return ListDeadLetterSourceQueuesRequest{queue_ref(j, ctx), opt_uint(j, "MaxResults"),
                                               opt_string(j, "NextToken").value_or("")};
    case Action::kStartMessageMoveTask:
      return StartMessageMoveTaskRequest{req_string(j, "SourceArn"),
                                         opt_string(j, "DestinationArn").value_or(""),
                                         opt_uint(j, "MaxNumberOfMessagesPerSecond")};
    case Action::kCancelMessageMoveTask:
      return CancelMessageMoveTaskRequest{req_string(j, "TaskHandle")};
    case Action::kListMessageMoveTasks:
      return ListMessageMoveTasksRequest{req_string(j, "SourceArn"), opt_uint(j, "MaxResults")};
  }
  // Every action is decoded above; this only gives the compiler a path out of the switch.
  refuse(ErrorCode::kUnsupportedOperation,
         "The action " + std::string(action_name(action)) + " is not supported.");
}

Action action_of(std::string_view name) {
  auto action = parse_action(name);
  if (!action) {
    refuse_protocol("InvalidAction",
                    "The action " + std::string(name) + " is not valid for this endpoint.");
  }
  return *action;
}

}  // namespace

std::string_view action_name(Action action) {
  return kActionNames[static_cast<size_t>(action)];
}

std::optional<Action> parse_action(std::string_view name) {
  for (size_t i = 0; i < kActionNames.size(); ++i) {
    if (kActionNames[i] == name) return static_cast<Action>(i);
  }
  return std::nullopt;
}

ApiError api_error(queue::ErrorCode code, std::string message) {
  const queue::ErrorInfo& info = queue::error_info(code);
  return ApiError{info.name, info.query_code, info.http_status, info.sender_fault,
                  std::move(message)};
}

ApiError api_error(const queue::Error& error) {
  return api_error(error.code, error.message);
}

queue::SendEntry SendMessageEntry::view(std::vector<queue::MessageAttribute>& storage) const {
  storage.clear();
  for (const auto& a : attributes) storage.push_back({a.name, a.data_type, a.value});
  return queue::SendEntry{id, body, storage, delay_s, group_id, deduplication_id, trace_header};
}

Protocol detect_protocol(const http::Request& request) {
  if (request.find("X-Amz-Target") != nullptr) return Protocol::kJson;
  const http::Header* type = request.find("Content-Type");
  if (type != nullptr && type->value.starts_with("application/x-amz-json")) return Protocol::kJson;
  return Protocol::kQuery;
}

Decoded decode(const http::Request& request) {
  Decoded out;
  out.protocol = detect_protocol(request);
  Context ctx{request, out.protocol};
  try {
    Action action;
    json params;
    if (out.protocol == Protocol::kJson) {
      const http::Header* target = request.find("X-Amz-Target");
      constexpr std::string_view kPrefix = "AmazonSQS.";
      if (target == nullptr || !target->value.starts_with(kPrefix)) {
        refuse_protocol("InvalidAction",
                        "The request must name an AmazonSQS action in X-Amz-Target.");
      }
      action = action_of(target->value.substr(kPrefix.size()));
      params = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
      if (!params.is_object()) {
        refuse_protocol("SerializationException", "The request body is not a JSON object.");
      }
    } else {
      std::map<std::string, std::string> form;
      parse_form(request.query, form);
      parse_form(request.body, form);
      auto name = form.find("Action");
      if (name == form.end()) missing("Action");
      action = action_of(name->second);
      form.erase(name);
      form.erase("Version");
      params = unflatten(form);
    }
    out.request = Request{action, decode_params(action, params, ctx)};
  } catch (Refusal& r) {
    out.error = std::move(r.error);
  }
  return out;
}

}  // namespace sluice::api::sqs
