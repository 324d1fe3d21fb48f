// Encoding SQS replies: each result is built as the JSON object AWS JSON 1.0 returns and, for
// query clients, written out as the XML document with SQS's flattened lists and maps.
#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "message_digest.h"
#include "sqs_codec.h"
#include "sqs_flattening.h"

namespace sluice::api::sqs {

namespace {

using nlohmann::json;

constexpr std::string_view kXmlNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";
constexpr std::string_view kJsonErrorPrefix = "com.amazonaws.sqs#";

// JSON list members and the element each item becomes in XML.
std::string_view list_element(std::string_view member, Action action) {
  if (member == "Messages") return "Message";
  if (member == "QueueUrls" || member == "queueUrls") return "QueueUrl";
  if (member == "Results") return "ListMessageMoveTasksResultEntry";
  if (member == "Failed") return "BatchResultErrorEntry";
  if (member == "Successful") {
    switch (action) {
      case Action::kSendMessageBatch:
        return "SendMessageBatchResultEntry";
      case Action::kDeleteMessageBatch:
        return "DeleteMessageBatchResultEntry";
      default:
        return "ChangeMessageVisibilityBatchResultEntry";
    }
  }
  return {};
}

void write_members(std::string& out, const json& object, Action action);

void write_element(std::string& out, std::string_view name, const json& value, Action action) {
  out += '<';
  out += name;
  out += '>';
  if (value.is_object()) {
    write_members(out, value, action);
  } else if (value.is_string()) {
    out += xml_escape(value.get_ref<const std::string&>());
  } else {
    out += value.dump();
  }
  out += "</";
  out += name;
  out += '>';
}

void write_members(std::string& out, const json& object, Action action) {
  for (const auto& [key, value] : object.items()) {
    const FlattenedMap* map = find_flattened_map(key, true);
    if (value.is_array()) {
      for (const json& item : value) write_element(out, list_element(key, action), item, action);
    } else if (map != nullptr) {
      for (const auto& [name, entry] : value.items()) {
        out += '<';
        out += map->element;
        out += '>';
        write_element(out, map->key, name, action);
        write_element(out, "Value", entry, action);
        out += "</";
        out += map->element;
        out += '>';
      }
    } else {
      write_element(out, key, value, action);
    }
  }
}

bool has_output(Action action) {
  switch (action) {
    case Action::kDeleteMessage:
    case Action::kDeleteQueue:
    case Action::kPurgeQueue:
    case Action::kSetQueueAttributes:
    case Action::kChangeMessageVisibility:
    case Action::kTagQueue:
    case Action::kUntagQueue:
    case Action::kAddPermission:
    case Action::kRemovePermission:
      return false;
    default:
      return true;
  }
}

Reply make_reply(Protocol protocol, Action action, const json& result,
                 std::string_view request_id) {
  Reply reply;
  reply.headers.emplace_back("x-amzn-RequestId", std::string(request_id));
  if (protocol == Protocol::kJson) {
    reply.headers.emplace_back("Content-Type", "application/x-amz-json-1.0");
    reply.body = result.dump(-1, ' ', false, json::error_handler_t::replace);
    return reply;
  }
  reply.headers.emplace_back("Content-Type", "text/xml");
  std::string_view name = action_name(action);
  std::string& out = reply.body;
  out = "<?xml version=\"1.0\"?><";
  out += name;
  out += "Response xmlns=\"";
  out += kXmlNamespace;
  out += "\">";
  // Actions with an output shape always have their Result element, empty or not (query clients
  // look it up); the others have none.
  if (!result.empty() || has_output(action)) {
    out += '<';
    out += name;
    out += "Result>";
    write_members(out, result, action);
    out += "</";
    out += name;
    out += "Result>";
  }
  out += "<ResponseMetadata><RequestId>";
  out += xml_escape(request_id);
  out += "</RequestId></ResponseMetadata></";
  out += name;
  out += "Response>";
  return reply;
}

json attribute_values(std::span<const queue::MessageAttribute> attributes,
                      const std::vector<std::string>& names) {
  json out = json::object();
  for (const auto& a : attributes) {
    bool wanted = false;
    for (size_t i = 0; !wanted && i < names.size(); ++i) {
      std::string_view n = names[i];
      if (n == "All" || n == ".*") {
        wanted = true;
      } else if (n.ends_with(".*")) {
        n.remove_suffix(1);
        wanted = a.name.starts_with(n);
      } else {
        wanted = a.name == n;
      }
    }
    if (!wanted) continue;
    json& v = out[std::string(a.name)];
    v["DataType"] = a.data_type;
    if (a.binary()) {
      v["BinaryValue"] = base64_encode(a.value);
    } else {
      v["StringValue"] = a.value;
    }
  }
  return out;
}

void add_send_fields(json& out, const SendMessageReply& sent) {
  out["MessageId"] = sent.message_id.to_string();
  out["MD5OfMessageBody"] = queue::to_hex(queue::md5_of_body(sent.body));
  if (!sent.attributes.empty()) {
    out["MD5OfMessageAttributes"] = queue::to_hex(queue::md5_of_attributes(sent.attributes));
  }
  if (sent.sequence_number != 0) out["SequenceNumber"] = std::to_string(sent.sequence_number);
}

json system_attributes(const queue::ReceivedMessage& m, const ReceiveMessageRequest& request) {
  auto wanted = [&](std::string_view name) {
    for (const auto* list : {&request.attribute_names, &request.system_attribute_names}) {
      for (const auto& n : *list) {
        if (n == "All" || n == name) return true;
      }
    }
    return false;
  };
  json out = json::object();
  auto put = [&](std::string_view name, std::string value, bool present = true) {
    if (present && wanted(name)) out[std::string(name)] = std::move(value);
  };
  put("SenderId", std::string(m.sender_id), !m.sender_id.empty());
  put("SentTimestamp", std::to_string(m.sent_timestamp_ms));
  put("ApproximateReceiveCount", std::to_string(m.receive_count));
  put("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_timestamp_ms));
  put("SequenceNumber", std::to_string(m.sequence_number), m.sequence_number != 0);
  put("MessageGroupId", std::string(m.group_id), !m.group_id.empty());
  put("MessageDeduplicationId", std::string(m.deduplication_id), !m.deduplication_id.empty());
  put("AWSTraceHeader", std::string(m.trace_header), !m.trace_header.empty());
  put("DeadLetterQueueSourceArn", std::string(m.dead_letter_source_arn),
      !m.dead_letter_source_arn.empty());
  return out;
}

}  // namespace

Reply encode_error(Protocol protocol, const ApiError& error, std::string_view request_id) {
  Reply reply;
  reply.status = error.status;
  std::string_view fault = error.sender_fault ? "Sender" : "Receiver";
  reply.headers.emplace_back("x-amzn-RequestId", std::string(request_id));
  if (protocol == Protocol::kJson) {
    reply.headers.emplace_back("Content-Type", "application/x-amz-json-1.0");
    reply.headers.emplace_back("x-amzn-query-error",
                               std::string(error.query_code) + ";" + std::string(fault));
    json body = {{"__type", std::string(kJsonErrorPrefix) + std::string(error.name)},
                 {"message", error.message}};
    reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return reply;
  }
  reply.headers.emplace_back("Content-Type", "text/xml");
  reply.body = "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>" + std::string(fault) +
               "</Type><Code>" + xml_escape(error.query_code) + "</Code><Message>" +
               xml_escape(error.message) + "</Message><Detail/></Error><RequestId>" +
               xml_escape(request_id) + "</RequestId></ErrorResponse>";
  return reply;
}

Reply encode_empty(Protocol protocol, Action action, std::string_view request_id) {
  return make_reply(protocol, action, json::object(), request_id);
}

Reply encode_queue_url(Protocol protocol, Action action, std::string_view url,
                       std::string_view request_id) {
  return make_reply(protocol, action, json{{"QueueUrl", url}}, request_id);
}

Reply encode_list_queues(Protocol protocol, std::span<const std::string> urls,
                         std::string_view next_token, std::string_view request_id) {
  json result = json::object();
  if (!urls.empty()) result["QueueUrls"] = urls;
  if (!next_token.empty()) result["NextToken"] = next_token;
  return make_reply(protocol, Action::kListQueues, result, request_id);
}

Reply encode_attributes(Protocol protocol, Action action, const NameValues& values,
                        std::string_view request_id) {
  json map = json::object();
  for (const auto& [name, value] : values) map[name] = value;
  json result = json::object();
  if (!values.empty()) result[action == Action::kListQueueTags ? "Tags" : "Attributes"] = map;
  return make_reply(protocol, action, result, request_id);
}

Reply encode_send_message(Protocol protocol, const SendMessageReply& sent,
                          std::string_view request_id) {
  json result = json::object();
  add_send_fields(result, sent);
  return make_reply(protocol, Action::kSendMessage, result, request_id);
}

Reply encode_batch(Protocol protocol, Action action, std::span<const BatchReplyEntry> entries,
                   std::string_view request_id) {
  json result = {{"Successful", json::array()}, {"Failed", json::array()}};
  for (const auto& e : entries) {
    json entry = {{"Id", e.id}};
    if (e.error) {
      entry["SenderFault"] = e.error->sender_fault;
      entry["Code"] = protocol == Protocol::kJson ? e.error->name : e.error->query_code;
      entry["Message"] = e.error->message;
      result["Failed"].push_back(std::move(entry));
    } else {
      if (action == Action::kSendMessageBatch) add_send_fields(entry, e.sent);
      result["Successful"].push_back(std::move(entry));
    }
  }
  return make_reply(protocol, action, result, request_id);
}

Reply encode_receive(Protocol protocol, const ReceiveMessageRequest& request,
                     std::span<const queue::ReceivedMessage> messages,
                     std::string_view request_id) {
  json result = json::object();
  std::vector<queue::MessageAttribute> selected;
  for (const auto& m : messages) {
    json message = {{"MessageId", m.message_id.to_string()},
                    {"ReceiptHandle", m.receipt_handle.view()},
                    {"MD5OfBody", queue::to_hex(queue::md5_of_body(m.body))},
                    {"Body", m.body}};
    json system = system_attributes(m, request);
    if (!system.empty()) message["Attributes"] = std::move(system);
    json attributes = attribute_values(m.attributes, request.message_attribute_names);
    if (!attributes.empty()) {
      selected.clear();
      for (const auto& a : m.attributes) {
        if (attributes.contains(a.name)) selected.push_back(a);
      }
      message["MD5OfMessageAttributes"] = queue::to_hex(queue::md5_of_attributes(selected));
      message["MessageAttributes"] = std::move(attributes);
    }
    result["Messages"].push_back(std::move(message));
  }
  return make_reply(protocol, Action::kReceiveMessage, result, request_id);
}

Reply encode_list_dead_letter_sources(Protocol protocol, std::span<const std::string> urls,
                                      std::string_view next_token, std::string_view request_id) {
  // queueUrls is the one required member of the result, so it is there even when empty.
  json result = {{"queueUrls", urls}};
  if (!next_token.empty()) result["NextToken"] = next_token;
  return make_reply(protocol, Action::kListDeadLetterSourceQueues, result, request_id);
}

Reply encode_start_move_task(Protocol protocol, std::string_view task_handle,
                             std::string_view request_id) {
  return make_reply(protocol, Action::kStartMessageMoveTask, json{{"TaskHandle", task_handle}},
                    request_id);
}

Reply encode_cancel_move_task(Protocol protocol, uint64_t messages_moved,
                              std::string_view request_id) {
  return make_reply(protocol, Action::kCancelMessageMoveTask,
                    json{{"ApproximateNumberOfMessagesMoved", messages_moved}}, request_id);
}

Reply encode_list_move_tasks(Protocol protocol, std::span<const queue::MoveTaskInfo> tasks,
                             std::string_view request_id) {
  json results = json::array();
  for (const auto& t : tasks) {
    json entry = {{"Status", queue::move_task_status_name(t.status)},
                  {"SourceArn", t.source_arn},
                  {"ApproximateNumberOfMessagesMoved", t.approximate_messages_moved},
                  {"ApproximateNumberOfMessagesToMove", t.approximate_messages_to_move},
                  {"StartedTimestamp", t.started_timestamp_ms}};
    if (t.status == queue::MoveTaskStatus::kRunning && !t.task_handle.empty()) {
      entry["TaskHandle"] = t.task_handle;
    }
    if (!t.destination_arn.empty()) entry["DestinationArn"] = t.destination_arn;
    if (t.max_messages_per_second != 0) {
      entry["MaxNumberOfMessagesPerSecond"] = t.max_messages_per_second;
    }
    if (!t.failure_reason.empty()) entry["FailureReason"] = t.failure_reason;
    results.push_back(std::move(entry));
  }
  return make_reply(protocol, Action::kListMessageMoveTasks, json{{"Results", results}},
                    request_id);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
        out += "&#x9;";
        break;
      case '\n':
        out += "&#xA;";
        break;
      case '\r':
        out += "&#xD;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64[n & 63] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      size_t v = kBase64.find(c);
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++pad;
        v = 0;
      } else if (v == std::string_view::npos || pad > 0) {
        return std::nullopt;
      }
      n = n << 6 | static_cast<uint32_t>(v);
    }
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

}  // namespace sluice::api::sqs
