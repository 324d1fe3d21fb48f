// The SQS wire codecs: requests captured from botocore in both protocols
// (data/sqs_requests.txt, made by data/sqs_requests.py), malformed requests, and replies.
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "message_digest.h"
#include "sqs_codec.h"

namespace sluice::api::sqs {
namespace {

struct Captured {
  std::string protocol, name, target, content_type, body;
};

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<Captured> load_captured() {
  std::ifstream in(std::string(SLUICE_SOURCE_ROOT) + "/tests/unit/data/sqs_requests.txt");
  std::vector<Captured> out;
  Captured c;
  while (std::getline(in, c.protocol, '\t') && std::getline(in, c.name, '\t') &&
         std::getline(in, c.target, '\t') && std::getline(in, c.content_type, '\t') &&
         std::getline(in, c.body)) {
    c.body = unescape(c.body);
    out.push_back(c);
  }
  return out;
}

// An HTTP request as the parser would hand it over; owns the texts it points at.
struct HttpRequest {
  std::string target, content_type, body, path = "/", query, method = "POST";
  http::Request req;

  const http::Request& build() {
    req = http::Request{};
    req.method = method;
    req.path = path;
    req.query = query;
    req.host = "127.0.0.1:9324";
    req.body = body;
    if (!target.empty()) req.headers[req.header_count++] = {"X-Amz-Target", target};
    if (!content_type.empty()) req.headers[req.header_count++] = {"Content-Type", content_type};
    return req;
  }
};

HttpRequest json_request(std::string action, std::string body) {
  HttpRequest r;
  r.target = "AmazonSQS." + action;
  r.content_type = "application/x-amz-json-1.0";
  r.body = std::move(body);
  return r;
}

HttpRequest query_request(std::string body) {
  HttpRequest r;
  r.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Decoded decode_ok(HttpRequest& r) {
  Decoded d = decode(r.build());
  EXPECT_FALSE(d.error.has_value()) << d.error->query_code << ": " << d.error->message;
  EXPECT_TRUE(d.request.has_value());
  return d;
}

const std::string kUrl = "http://127.0.0.1:9324/000000000000/orders";
const std::string kArn = "arn:aws:sqs:us-east-1:000000000000:orders";

void expect_queue(const QueueRef& q, const std::string& url = kUrl) {
  EXPECT_EQ(q.url, url);
  EXPECT_EQ(q.account, "000000000000");
  EXPECT_EQ(q.name, url.substr(url.rfind('/') + 1));
}

// What every captured case must decode to, whichever the protocol.
void check_captured(const std::string& name, const Request& r) {
  const std::map<std::string, Action> actions = {{"SendMessageFifo", Action::kSendMessage}};
  auto alias = actions.find(name);
  EXPECT_EQ(r.action, alias != actions.end() ? alias->second : *parse_action(name));
  if (name == "SendMessage") {
    const auto& p = std::get<SendMessageRequest>(r.params);
    expect_queue(p.queue);
    EXPECT_EQ(p.message.body, "hello <world> & \"friends\"");
    EXPECT_EQ(p.message.delay_s, 5u);
    ASSERT_EQ(p.message.attributes.size(), 2u);
    EXPECT_EQ(p.message.attributes[0].name, "attribName1");
    EXPECT_EQ(p.message.attributes[0].data_type, "String");
    EXPECT_EQ(p.message.attributes[0].value, "attribValue 1");
    EXPECT_EQ(p.message.attributes[1].name, "binaryAttribute");
    EXPECT_EQ(p.message.attributes[1].value, "Hello binary world!");
    EXPECT_EQ(p.message.trace_header, "Root=1-abc");
  } else if (name == "SendMessageFifo") {
    const auto& p = std::get<SendMessageRequest>(r.params);
    expect_queue(p.queue, kUrl + ".fifo");
    EXPECT_EQ(p.message.group_id, "g1");
    EXPECT_EQ(p.message.deduplication_id, "d1");
    EXPECT_FALSE(p.message.delay_s.has_value());
  } else if (name == "SendMessageBatch") {
    const auto& p = std::get<SendMessageBatchRequest>(r.params);
    expect_queue(p.queue);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[0].id, "a");
    EXPECT_EQ(p.entries[0].body, "one");
    EXPECT_EQ(p.entries[1].id, "b");
    EXPECT_EQ(p.entries[1].delay_s, 3u);
    ASSERT_EQ(p.entries[1].attributes.size(), 1u);
    EXPECT_EQ(p.entries[1].attributes[0].data_type, "Number");
    EXPECT_EQ(p.entries[1].attributes[0].value, "42");
  } else if (name == "ReceiveMessage") {
    const auto& p = std::get<ReceiveMessageRequest>(r.params);
    expect_queue(p.queue);
    EXPECT_EQ(p.max_messages, 10u);
    EXPECT_EQ(p.visibility_timeout_s, 60u);
    EXPECT_EQ(p.wait_time_s, 20u);
    std::vector<std::string> all = p.attribute_names;
    all.insert(all.end(), p.system_attribute_names.begin(), p.system_attribute_names.end());
    EXPECT_EQ(all, std::vector<std::string>{"All"});
    EXPECT_EQ(p.message_attribute_names, (std::vector<std::string>{"attr.*", "x"}));
    EXPECT_EQ(p.receive_request_attempt_id, "r1");
  } else if (name == "DeleteMessage") {
    const auto& p = std::get<DeleteMessageRequest>(r.params);
    expect_queue(p.queue);
    EXPECT_EQ(p.receipt_handle, "rh-1");
  } else if (name == "DeleteMessageBatch") {
    const auto& p = std::get<DeleteMessageBatchRequest>(r.params);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[1].id, "b");
    EXPECT_EQ(p.entries[1].receipt_handle, "rh-2");
  } else if (name == "ChangeMessageVisibility") {
    const auto& p = std::get<ChangeVisibilityRequest>(r.params);
    EXPECT_EQ(p.receipt_handle, "rh-1");
    EXPECT_EQ(p.visibility_timeout_s, 0u);
  } else if (name == "ChangeMessageVisibilityBatch") {
    const auto& p = std::get<ChangeVisibilityBatchRequest>(r.params);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[0].visibility_timeout_s, 30u);
    EXPECT_EQ(p.entries[1].receipt_handle, "rh-2");
    EXPECT_EQ(p.entries[1].visibility_timeout_s, 45u);
  } else if (name == "CreateQueue") {
    const auto& p = std::get<CreateQueueRequest>(r.params);
    EXPECT_EQ(p.name, "orders");
    NameValues attrs = p.attributes, tags = p.tags;
    std::sort(attrs.begin(), attrs.end());
    std::sort(tags.begin(), tags.end());
    EXPECT_EQ(attrs, (NameValues{{"DelaySeconds", "2"}, {"VisibilityTimeout", "45"}}));
    EXPECT_EQ(tags, (NameValues{{"env", "test"}, {"team", "core"}}));
  } else if (name == "GetQueueUrl") {
    const auto& p = std::get<GetQueueUrlRequest>(r.params);
    EXPECT_EQ(p.name, "orders");
    EXPECT_EQ(p.owner_account_id, "1");
  } else if (name == "DeleteQueue" || name == "PurgeQueue" || name == "ListQueueTags") {
    expect_queue(std::get<QueueOnlyRequest>(r.params).queue);
  } else if (name == "ListQueues") {
    const auto& p = std::get<ListQueuesRequest>(r.params);
    EXPECT_EQ(p.prefix, "ord");
    EXPECT_EQ(p.max_results, 5u);
    EXPECT_EQ(p.next_token, "t");
  } else if (name == "GetQueueAttributes") {
    const auto& p = std::get<GetQueueAttributesRequest>(r.params);
    EXPECT_EQ(p.names, (std::vector<std::string>{"VisibilityTimeout", "QueueArn"}));
  } else if (name == "SetQueueAttributes") {
    NameValues attrs = std::get<SetQueueAttributesRequest>(r.params).attributes;
    std::sort(attrs.begin(), attrs.end());
    EXPECT_EQ(attrs, (NameValues{{"RedrivePolicy", "{\"maxReceiveCount\":\"3\"}"},
                                 {"VisibilityTimeout", "10"}}));
  } else if (name == "TagQueue") {
    EXPECT_EQ(std::get<TagQueueRequest>(r.params).tags, (NameValues{{"team", "core"}}));
  } else if (name == "UntagQueue") {
    EXPECT_EQ(std::get<UntagQueueRequest>(r.params).keys,
              (std::vector<std::string>{"team", "env"}));
  } else if (name == "AddPermission") {
    const auto& p = std::get<AddPermissionRequest>(r.params);
    expect_queue(p.queue);
    EXPECT_EQ(p.label, "AliceSend");
    EXPECT_EQ(p.account_ids, (std::vector<std::string>{"111122223333", "444455556666"}));
    EXPECT_EQ(p.actions, (std::vector<std::string>{"SendMessage", "ReceiveMessage"}));
  } else if (name == "RemovePermission") {
    const auto& p = std::get<RemovePermissionRequest>(r.params);
    expect_queue(p.queue);
    EXPECT_EQ(p.label, "AliceSend");
  } else if (name == "ListDeadLetterSourceQueues") {
    const auto& p = std::get<ListDeadLetterSourceQueuesRequest>(r.params);
    expect_queue(p.queue, kUrl + "-dlq");
    EXPECT_EQ(p.max_results, 10u);
    EXPECT_EQ(p.next_token, "n1");
  } else if (name == "StartMessageMoveTask") {
    const auto& p = std::get<StartMessageMoveTaskRequest>(r.params);
    EXPECT_EQ(p.source_arn, kArn + "-dlq");
    EXPECT_EQ(p.destination_arn, kArn);
    EXPECT_EQ(p.max_velocity, 50u);
  } else if (name == "CancelMessageMoveTask") {
    EXPECT_EQ(std::get<CancelMessageMoveTaskRequest>(r.params).task_handle, "task-1");
  } else if (name == "ListMessageMoveTasks") {
    const auto& p = std::get<ListMessageMoveTasksRequest>(r.params);
    EXPECT_EQ(p.source_arn, kArn + "-dlq");
    EXPECT_EQ(p.max_results, 10u);
  } else {
    ADD_FAILURE() << "no expectations for " << name;
  }
}

TEST(SqsDecode, CapturedBotocoreRequestsInBothProtocols) {
  auto cases = load_captured();
  std::map<std::string, int> per_protocol;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.protocol + " " + c.name);
    HttpRequest r;
    r.target = c.target == "-" ? "" : c.target;
    r.content_type = c.content_type;
    r.body = c.body;
    Decoded d = decode_ok(r);
    EXPECT_EQ(d.protocol, c.protocol == "json" ? Protocol::kJson : Protocol::kQuery);
    if (d.request) check_captured(c.name, *d.request);
    ++per_protocol[c.protocol];
  }
  // Every action in both protocols (SendMessage twice: standard and FIFO).
  EXPECT_EQ(per_protocol["json"], 24);
  EXPECT_EQ(per_protocol["query"], 24);
}

// Every prefix of every captured body, and each with one byte replaced, decodes to a request or
// an error.
TEST(SqsDecode, TruncatedAndCorruptedBodiesNeverCrash) {
  size_t decoded = 0;
  for (const auto& c : load_captured()) {
    for (size_t n = 0; n <= c.body.size(); ++n) {
      for (char replacement : {'\0', '.', '%', '='}) {
        HttpRequest r;
        r.target = c.target == "-" ? "" : c.target;
        r.content_type = c.content_type;
        r.body = c.body.substr(0, n);
        if (n < c.body.size()) r.body += replacement;
        Decoded d = decode(r.build());
        EXPECT_NE(d.request.has_value(), d.error.has_value());
        ++decoded;
      }
    }
  }
  EXPECT_GT(decoded, 1000u);
}

TEST(SqsDecode, QueryGetAndQueueUrlPath) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/000000000000/orders";
  r.query = "Action=DeleteMessage&ReceiptHandle=a%2Bb+c";
  Decoded d = decode_ok(r);
  const auto& p = std::get<DeleteMessageRequest>(d.request->params);
  EXPECT_EQ(p.queue.url, "http://127.0.0.1:9324/000000000000/orders");
  EXPECT_EQ(p.queue.name, "orders");
  EXPECT_EQ(p.receipt_handle, "a+b c");
}

TEST(SqsDecode, ProtocolDetection) {
  HttpRequest r;
  r.content_type = "application/x-amz-json-1.0";
  EXPECT_EQ(detect_protocol(r.build()), Protocol::kJson);
  r.content_type = "";
  r.target = "AmazonSQS.ListQueues";
  EXPECT_EQ(detect_protocol(r.build()), Protocol::kJson);
  r.target = "";
  r.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(detect_protocol(r.build()), Protocol::kQuery);
}

void expect_error(HttpRequest r, std::string_view code, Protocol protocol) {
  Decoded d = decode(r.build());
  EXPECT_EQ(d.protocol, protocol);
  ASSERT_TRUE(d.error.has_value()) << r.body;
  EXPECT_FALSE(d.request.has_value());
  EXPECT_EQ(d.error->query_code, code) << r.body << " -> " << d.error->message;
}

TEST(SqsDecode, MalformedQueryRequests) {
  const std::string q = "Action=SendMessage&QueueUrl=" + kUrl;
  expect_error(query_request("Version=2012-11-05"), "MissingParameter", Protocol::kQuery);
  expect_error(query_request("Action=Frobnicate"), "InvalidAction", Protocol::kQuery);
  expect_error(query_request(q), "MissingParameter", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=%zz"), "MalformedQueryString", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=%4"), "MalformedQueryString", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&DelaySeconds=soon"), "InvalidParameterValue",
               Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&MessageAttribute.0.Name=a"),
               "InvalidQueryParameter", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&MessageAttribute.1.Value.DataType=String"),
               "MissingParameter", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&MessageAttribute.1.Name=a"),
               "InvalidParameterValue", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&MessageAttribute.1.Name=a&MessageAttribute.1"
                                 ".Value.DataType=Binary&MessageAttribute.1.Value.BinaryValue=!"),
               "InvalidParameterValue", Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&MessageBody.1=y"), "InvalidQueryParameter",
               Protocol::kQuery);
  expect_error(query_request(q + "&MessageBody=x&a..b=1"), "InvalidQueryParameter",
               Protocol::kQuery);
  expect_error(query_request("Action=SendMessage&QueueUrl=orders&MessageBody=x"),
               "InvalidParameterValue", Protocol::kQuery);

  std::string batch = "Action=SendMessageBatch&QueueUrl=" + kUrl;
  expect_error(query_request(batch), "AWS.SimpleQueueService.EmptyBatchRequest", Protocol::kQuery);
  std::string eleven = batch;
  for (int i = 1; i <= 11; ++i) {
    std::string n = std::to_string(i);
    eleven += "&SendMessageBatchRequestEntry." + n + ".Id=e" + n +
              "&SendMessageBatchRequestEntry." + n + ".MessageBody=b";
  }
  expect_error(query_request(eleven), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
               Protocol::kQuery);
  expect_error(query_request(batch + "&SendMessageBatchRequestEntry.1.Id=a"
                                     "&SendMessageBatchRequestEntry.1.MessageBody=b"
                                     "&SendMessageBatchRequestEntry.2.Id=a"
                                     "&SendMessageBatchRequestEntry.2.MessageBody=b"),
               "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", Protocol::kQuery);
  expect_error(query_request(batch + "&SendMessageBatchRequestEntry.1.Id=a.b"
                                     "&SendMessageBatchRequestEntry.1.MessageBody=b"),
               "AWS.SimpleQueueService.InvalidBatchEntryId", Protocol::kQuery);
}

TEST(SqsDecode, MalformedJsonRequests) {
  const std::string url = "\"QueueUrl\": \"" + kUrl + "\"";
  expect_error(json_request("Frobnicate", "{}"), "InvalidAction", Protocol::kJson);
  HttpRequest no_target = json_request("SendMessage", "{}");
  no_target.target = "";
  expect_error(no_target, "InvalidAction", Protocol::kJson);
  expect_error(json_request("SendMessage", "{\"QueueUrl\": "), "SerializationException",
               Protocol::kJson);
  expect_error(json_request("SendMessage", "[1]"), "SerializationException", Protocol::kJson);
  expect_error(json_request("SendMessage", "{" + url + "}"), "MissingParameter", Protocol::kJson);
  expect_error(json_request("SendMessage", "{}"), "MissingParameter", Protocol::kJson);
  expect_error(json_request("SendMessage", "{" + url + ", \"MessageBody\": 5}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("SendMessage", "{" + url +
                                               ", \"MessageBody\": \"x\", "
                                               "\"DelaySeconds\": -1}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("SendMessage", "{" + url +
                                               ", \"MessageBody\": \"x\", "
                                               "\"MessageAttributes\": {\"a\": 1}}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("ReceiveMessage", "{" + url + ", \"AttributeNames\": \"All\"}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("DeleteMessageBatch", "{" + url + ", \"Entries\": []}"),
               "AWS.SimpleQueueService.EmptyBatchRequest", Protocol::kJson);
  expect_error(json_request("DeleteMessageBatch", "{" + url + ", \"Entries\": [1]}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("ChangeMessageVisibility", "{" + url + ", \"ReceiptHandle\": \"r\"}"),
               "MissingParameter", Protocol::kJson);
  expect_error(json_request("SetQueueAttributes", "{" + url + "}"), "MissingParameter",
               Protocol::kJson);
  expect_error(json_request("SendMessage", std::string("{\"Queue\0Url", 10)),
               "SerializationException", Protocol::kJson);
}

bool has_header(const Reply& r, std::string_view name, std::string_view value) {
  for (const auto& [n, v] : r.headers) {
    if (http::iequals(n, name) && v == value) return true;
  }
  return false;
}

TEST(SqsEncode, ErrorRepliesInBothForms) {
  ApiError e = api_error(queue::Error{queue::ErrorCode::kQueueDoesNotExist, "No such <queue>."});
  Reply q = encode_error(Protocol::kQuery, e, "req-1");
  EXPECT_EQ(q.status, 400);
  EXPECT_EQ(q.body,
            "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type>"
            "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
            "<Message>No such &lt;queue&gt;.</Message><Detail/></Error>"
            "<RequestId>req-1</RequestId></ErrorResponse>");
  EXPECT_TRUE(has_header(q, "Content-Type", "text/xml"));

  Reply j = encode_error(Protocol::kJson, e, "req-2");
  EXPECT_EQ(j.status, 400);
  EXPECT_EQ(
      j.body,
      "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"No such <queue>.\"}");
  EXPECT_TRUE(
      has_header(j, "x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"));
  EXPECT_TRUE(has_header(j, "x-amzn-RequestId", "req-2"));

  EXPECT_EQ(encode_error(Protocol::kJson, api_error(queue::ErrorCode::kOverLimit, "x"), "r").status,
            403);
  Reply purge =
      encode_error(Protocol::kQuery, api_error(queue::ErrorCode::kPurgeQueueInProgress, "x"), "r");
  EXPECT_EQ(purge.status, 403);
  EXPECT_NE(purge.body.find("<Code>AWS.SimpleQueueService.PurgeQueueInProgress</Code>"),
            std::string::npos);

  Decoded bad = decode(json_request("Nope", "{}").build());
  Reply unknown = encode_error(bad.protocol, *bad.error, "r");
  EXPECT_TRUE(has_header(unknown, "x-amzn-query-error", "InvalidAction;Sender"));
  EXPECT_NE(unknown.body.find("com.amazonaws.sqs#InvalidAction"), std::string::npos);
}

struct Vector {
  std::string name, type, value, md5;
};

const std::vector<Vector> kVectors = {
    {"attribName1", "String", "attribValue 1", "19e27d4e946b072f3f58da80d94fd778"},
    {"customNumberTypeAttrib", "Number.float", "4563442423554324324264524243.32543234",
     "9fe1b90bbd9965bdf77bac517c7d2495"},
    {"binaryAttribute", "Binary", "Hello binary world!", "31a92b15d92f8db860eda32aceb656c3"},
};

TEST(SqsEncode, SendMessageMd5VectorsInBothProtocols) {
  std::vector<queue::MessageAttribute> all;
  for (const auto& v : kVectors) all.push_back({v.name, v.type, v.value});
  for (size_t i = 0; i <= kVectors.size(); ++i) {
    SendMessageReply sent;
    sent.body = "hello";
    sent.attributes = i < kVectors.size() ? std::span(all).subspan(i, 1) : std::span(all);
    std::string md5 = i < kVectors.size() ? kVectors[i].md5 : "c932db14a896c663f83c260297d594ff";
    Reply j = encode_send_message(Protocol::kJson, sent, "r");
    EXPECT_NE(j.body.find("\"MD5OfMessageAttributes\":\"" + md5 + "\""), std::string::npos)
        << j.body;
    Reply q = encode_send_message(Protocol::kQuery, sent, "r");
    EXPECT_NE(q.body.find("<MD5OfMessageAttributes>" + md5 + "</MD5OfMessageAttributes>"),
              std::string::npos)
        << q.body;
  }
}

TEST(SqsEncode, SendMessageReplyShape) {
  SendMessageReply sent;
  sent.message_id.bytes[15] = 1;
  sent.body = "hello";
  std::string id = sent.message_id.to_string();
  std::string md5 = queue::to_hex(queue::md5_of_body("hello"));
  EXPECT_EQ(md5, "5d41402abc4b2a76b9719d911017c592");
  Reply q = encode_send_message(Protocol::kQuery, sent, "req");
  EXPECT_EQ(q.body,
            "<?xml version=\"1.0\"?><SendMessageResponse "
            "xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><SendMessageResult>"
            "<MD5OfMessageBody>" +
                md5 + "</MD5OfMessageBody><MessageId>" + id +
                "</MessageId></SendMessageResult><ResponseMetadata><RequestId>req"
                "</RequestId></ResponseMetadata></SendMessageResponse>");
  Reply j = encode_send_message(Protocol::kJson, sent, "req");
  EXPECT_EQ(j.body, "{\"MD5OfMessageBody\":\"" + md5 + "\",\"MessageId\":\"" + id + "\"}");
  EXPECT_TRUE(has_header(j, "Content-Type", "application/x-amz-json-1.0"));
  EXPECT_TRUE(has_header(j, "x-amzn-RequestId", "req"));
  sent.sequence_number = 18;
  EXPECT_NE(encode_send_message(Protocol::kJson, sent, "r").body.find("\"SequenceNumber\":\"18\""),
            std::string::npos);
}

TEST(SqsEncode, ReceiveReplyWithAttributesAndEscaping) {
  std::vector<queue::MessageAttribute> attrs = {
      {"attribName1", "String", "attribValue 1"},
      {"binaryAttribute", "Binary", "Hello binary world!"},
      {"other", "String", "x"},
  };
  queue::ReceivedMessage m;
  m.body = "a<b>&\"c\"\r\n\t'";
  m.attributes = attrs;
  m.sent_timestamp_ms = 1000;
  m.receive_count = 2;
  m.receipt_handle.text.fill('f');
  ReceiveMessageRequest request;
  request.system_attribute_names = {"ApproximateReceiveCount"};
  request.message_attribute_names = {"attribName1", "binary.*", "binaryAttribute"};
  std::vector<queue::ReceivedMessage> messages = {m};

  Reply q = encode_receive(Protocol::kQuery, request, messages, "r");
  EXPECT_NE(q.body.find("<Body>a&lt;b&gt;&amp;&quot;c&quot;&#xD;&#xA;&#x9;&apos;</Body>"),
            std::string::npos)
      << q.body;
  EXPECT_NE(q.body.find("<Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value>"
                        "</Attribute>"),
            std::string::npos)
      << q.body;
  EXPECT_EQ(q.body.find("SentTimestamp"), std::string::npos);
  EXPECT_NE(q.body.find("<MessageAttribute><Name>binaryAttribute</Name><Value><BinaryValue>"
                        "SGVsbG8gYmluYXJ5IHdvcmxkIQ==</BinaryValue><DataType>Binary</DataType>"
                        "</Value></MessageAttribute>"),
            std::string::npos)
      << q.body;
  EXPECT_EQ(q.body.find("<Name>other</Name>"), std::string::npos);
  std::string both_md5 = queue::to_hex(queue::md5_of_attributes(std::span(attrs).first(2)));
  EXPECT_NE(q.body.find("<MD5OfMessageAttributes>" + both_md5 + "</MD5OfMessageAttributes>"),
            std::string::npos);
  EXPECT_NE(q.body.find("<Message><Attribute>"), std::string::npos);

  Reply j = encode_receive(Protocol::kJson, request, messages, "r");
  EXPECT_NE(j.body.find("\"Body\":\"a<b>&\\\"c\\\"\\r\\n\\t'\""), std::string::npos) << j.body;
  EXPECT_NE(j.body.find("\"binaryAttribute\":{\"BinaryValue\":\"SGVsbG8gYmluYXJ5IHdvcmxkIQ==\","
                        "\"DataType\":\"Binary\"}"),
            std::string::npos)
      << j.body;

  request.message_attribute_names.clear();
  Reply none = encode_receive(Protocol::kJson, request, messages, "r");
  EXPECT_EQ(none.body.find("MD5OfMessageAttributes"), std::string::npos);
  EXPECT_EQ(encode_receive(Protocol::kJson, request, {}, "r").body, "{}");
  // An empty result still has its element: query clients (awscli v2) look it up.
  EXPECT_NE(
      encode_receive(Protocol::kQuery, request, {}, "r")
          .body.find("<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"
                     "<ReceiveMessageResult></ReceiveMessageResult><ResponseMetadata>"),
      std::string::npos);
}

TEST(SqsEncode, BatchReplies) {
  std::vector<BatchReplyEntry> entries(2);
  entries[0].id = "a";
  entries[1].id = "b";
  entries[1].error = api_error(queue::ErrorCode::kMessageNotInflight, "not in flight");
  Reply q = encode_batch(Protocol::kQuery, Action::kChangeMessageVisibilityBatch, entries, "r");
  EXPECT_NE(q.body.find("<ChangeMessageVisibilityBatchResult><BatchResultErrorEntry>"
                        "<Code>AWS.SimpleQueueService.MessageNotInflight</Code><Id>b</Id>"
                        "<Message>not in flight</Message><SenderFault>true</SenderFault>"
                        "</BatchResultErrorEntry><ChangeMessageVisibilityBatchResultEntry>"
                        "<Id>a</Id></ChangeMessageVisibilityBatchResultEntry>"),
            std::string::npos)
      << q.body;
  Reply j = encode_batch(Protocol::kJson, Action::kDeleteMessageBatch, entries, "r");
  EXPECT_EQ(j.body,
            "{\"Failed\":[{\"Code\":\"MessageNotInflight\",\"Id\":\"b\",\"Message\":"
            "\"not in flight\",\"SenderFault\":true}],\"Successful\":[{\"Id\":\"a\"}]}");
  entries[0].sent.body = "hello";
  Reply s = encode_batch(Protocol::kQuery, Action::kSendMessageBatch, entries, "r");
  EXPECT_NE(s.body.find("<SendMessageBatchResultEntry><Id>a</Id><MD5OfMessageBody>"
                        "5d41402abc4b2a76b9719d911017c592</MD5OfMessageBody>"),
            std::string::npos)
      << s.body;
}

TEST(SqsEncode, QueueReplies) {
  Reply url = encode_queue_url(Protocol::kQuery, Action::kCreateQueue, kUrl, "r");
  EXPECT_NE(url.body.find("<CreateQueueResult><QueueUrl>" + kUrl +
                          "</QueueUrl>"
                          "</CreateQueueResult>"),
            std::string::npos);
  EXPECT_EQ(encode_queue_url(Protocol::kJson, Action::kGetQueueUrl, kUrl, "r").body,
            "{\"QueueUrl\":\"" + kUrl + "\"}");
  std::vector<std::string> urls = {kUrl, kUrl + "2"};
  Reply list = encode_list_queues(Protocol::kQuery, urls, "next", "r");
  EXPECT_NE(list.body.find("<ListQueuesResult><NextToken>next</NextToken><QueueUrl>" + kUrl +
                           "</QueueUrl><QueueUrl>" + kUrl + "2</QueueUrl></ListQueuesResult>"),
            std::string::npos)
      << list.body;
  EXPECT_EQ(encode_list_queues(Protocol::kJson, {}, "", "r").body, "{}");
  NameValues attrs = {{"VisibilityTimeout", "30"}, {"Policy", "{\"a\":\"<b>\"}"}};
  Reply ga = encode_attributes(Protocol::kQuery, Action::kGetQueueAttributes, attrs, "r");
  EXPECT_NE(ga.body.find("<Attribute><Name>Policy</Name><Value>{&quot;a&quot;:&quot;&lt;b&gt;"
                         "&quot;}</Value></Attribute>"),
            std::string::npos)
      << ga.body;
  Reply tags = encode_attributes(Protocol::kQuery, Action::kListQueueTags, {{"team", "core"}}, "r");
  EXPECT_NE(tags.body.find("<ListQueueTagsResult><Tag><Key>team</Key><Value>core</Value></Tag>"),
            std::string::npos)
      << tags.body;
  EXPECT_EQ(
      encode_attributes(Protocol::kJson, Action::kListQueueTags, {{"team", "core"}}, "r").body,
      "{\"Tags\":{\"team\":\"core\"}}");
  Reply empty = encode_empty(Protocol::kQuery, Action::kDeleteQueue, "id&1");
  EXPECT_EQ(empty.body,
            "<?xml version=\"1.0\"?><DeleteQueueResponse "
            "xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata>"
            "<RequestId>id&amp;1</RequestId></ResponseMetadata>"
            "</DeleteQueueResponse>");
  EXPECT_EQ(encode_empty(Protocol::kJson, Action::kPurgeQueue, "r").body, "{}");
}

TEST(SqsDecode, PermissionAndMoveTaskRequests) {
  const std::string q = "Action=AddPermission&QueueUrl=" + kUrl;
  expect_error(query_request(q + "&AWSAccountId.1=111122223333&ActionName.1=SendMessage"),
               "MissingParameter", Protocol::kQuery);
  expect_error(query_request(q + "&Label=l&ActionName.1=SendMessage"), "MissingParameter",
               Protocol::kQuery);
  expect_error(query_request(q + "&Label=l&AWSAccountId.1=111122223333"), "MissingParameter",
               Protocol::kQuery);
  expect_error(query_request(q + "&Label=l&AWSAccountId.0=1&ActionName.1=SendMessage"),
               "InvalidQueryParameter", Protocol::kQuery);
  Decoded missing = decode(query_request(q + "&Label=l&ActionName.1=SendMessage").build());
  ASSERT_TRUE(missing.error.has_value());
  EXPECT_NE(missing.error->message.find("AWSAccountId.1"), std::string::npos);

  const std::string url = "\"QueueUrl\": \"" + kUrl + "\"";
  const std::string add = "{" + url + ", \"Label\": \"l\", ";
  expect_error(json_request("AddPermission", add + "\"AWSAccountIds\": [], \"Actions\": [\"*\"]}"),
               "MissingParameter", Protocol::kJson);
  Decoded empty = decode(
      json_request("AddPermission", add + "\"AWSAccountIds\": [\"1\"], \"Actions\": []}").build());
  ASSERT_TRUE(empty.error.has_value());
  EXPECT_EQ(empty.error->name, "MissingParameter");
  EXPECT_NE(empty.error->message.find("Actions"), std::string::npos);
  expect_error(json_request("AddPermission", add + "\"AWSAccountIds\": [1], \"Actions\": [\"*\"]}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(
      json_request("AddPermission", add + "\"AWSAccountIds\": \"1\", \"Actions\": [\"*\"]}"),
      "InvalidParameterValue", Protocol::kJson);
  expect_error(json_request("RemovePermission", "{" + url + "}"), "MissingParameter",
               Protocol::kJson);
  expect_error(json_request("RemovePermission", "{" + url + ", \"Label\": true}"),
               "InvalidParameterValue", Protocol::kJson);

  expect_error(json_request("ListDeadLetterSourceQueues", "{}"), "MissingParameter",
               Protocol::kJson);
  expect_error(json_request("ListDeadLetterSourceQueues", "{" + url + ", \"MaxResults\": 1.5}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(
      query_request("Action=ListDeadLetterSourceQueues&QueueUrl=" + kUrl + "&MaxResults=ten"),
      "InvalidParameterValue", Protocol::kQuery);

  expect_error(json_request("StartMessageMoveTask", "{\"DestinationArn\": \"" + kArn + "\"}"),
               "MissingParameter", Protocol::kJson);
  expect_error(json_request("StartMessageMoveTask", "{\"SourceArn\": \"" + kArn +
                                                        "\", \"MaxNumberOfMessagesPerSecond\": "
                                                        "-1}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(query_request("Action=StartMessageMoveTask&SourceArn=a&DestinationArn.x=b"),
               "InvalidParameterValue", Protocol::kQuery);
  expect_error(query_request("Action=CancelMessageMoveTask"), "MissingParameter", Protocol::kQuery);
  expect_error(json_request("CancelMessageMoveTask", "{\"TaskHandle\": [\"t\"]}"),
               "InvalidParameterValue", Protocol::kJson);
  expect_error(query_request("Action=ListMessageMoveTasks&MaxResults=1"), "MissingParameter",
               Protocol::kQuery);
  expect_error(query_request("Action=ListMessageMoveTasks&SourceArn=a&MaxResults=4294967296"),
               "InvalidParameterValue", Protocol::kQuery);

  // Optional members left out; a query request sent to the dead-letter queue's own URL.
  HttpRequest start = query_request("Action=StartMessageMoveTask&SourceArn=" + kArn);
  Decoded d = decode_ok(start);
  const auto& s = std::get<StartMessageMoveTaskRequest>(d.request->params);
  EXPECT_EQ(s.source_arn, kArn);
  EXPECT_EQ(s.destination_arn, "");
  EXPECT_FALSE(s.max_velocity.has_value());
  HttpRequest list = query_request("Action=ListMessageMoveTasks&SourceArn=" + kArn);
  EXPECT_FALSE(std::get<ListMessageMoveTasksRequest>(decode_ok(list).request->params).max_results);
  HttpRequest sources = query_request("Action=ListDeadLetterSourceQueues");
  sources.path = "/000000000000/orders-dlq";
  Decoded dl = decode_ok(sources);
  const auto& ls = std::get<ListDeadLetterSourceQueuesRequest>(dl.request->params);
  expect_queue(ls.queue, kUrl + "-dlq");
  EXPECT_FALSE(ls.max_results.has_value());
  EXPECT_EQ(ls.next_token, "");
}

// A query key nests one level per dot; keys deeper than any SQS parameter are refused before the
// decoder walks them (a 4 MiB body could otherwise nest two million levels).
TEST(SqsDecode, DeepQueryKeysAreRefused) {
  std::string six = "Action=SendMessage&QueueUrl=" + kUrl +
                    "&MessageBody=x&MessageAttribute.1.Name=a"
                    "&MessageAttribute.1.Value.DataType=String"
                    "&MessageAttribute.1.Value.StringValue=v";
  HttpRequest shallow = query_request(six);
  decode_ok(shallow);
  std::string deep = "Action=SendMessage&QueueUrl=" + kUrl + "&MessageBody=x&a";
  for (int i = 0; i < 16; ++i) deep += ".a";
  expect_error(query_request(deep + "=1"), "InvalidQueryParameter", Protocol::kQuery);
  std::string deepest = deep;
  for (int i = 0; i < 200000; ++i) deepest += ".a";
  expect_error(query_request(deepest + "=1"), "InvalidQueryParameter", Protocol::kQuery);
}

// The reply bodies read back: a small reader for the XML the encoder writes (elements, text,
// the five entities and character references; attributes skipped).
struct XmlNode {
  std::string name, text;
  std::vector<XmlNode> children;

  const XmlNode* child(std::string_view n) const {
    for (const auto& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
  std::vector<const XmlNode*> all(std::string_view n) const {
    std::vector<const XmlNode*> out;
    for (const auto& c : children) {
      if (c.name == n) out.push_back(&c);
    }
    return out;
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view text) : s_(text) {}

  std::optional<XmlNode> document() {
    if (s_.starts_with("<?xml")) {
      size_t end = s_.find("?>");
      if (end == std::string_view::npos) return std::nullopt;
      at_ = end + 2;
    }
    std::optional<XmlNode> root = element();
    if (!root || at_ != s_.size()) return std::nullopt;
    return root;
  }

 private:
  std::optional<XmlNode> element() {
    if (at_ >= s_.size() || s_[at_] != '<') return std::nullopt;
    size_t close = s_.find('>', at_);
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view tag = s_.substr(at_ + 1, close - at_ - 1);
    at_ = close + 1;
    XmlNode node;
    bool empty = tag.ends_with('/');
    if (empty) tag.remove_suffix(1);
    node.name = std::string(tag.substr(0, tag.find(' ')));
    if (node.name.empty() || node.name[0] == '/') return std::nullopt;
    if (empty) return node;
    while (at_ < s_.size()) {
      if (s_.substr(at_).starts_with("</")) {
        std::string end = "</" + node.name + ">";
        if (!s_.substr(at_).starts_with(end)) return std::nullopt;
        at_ += end.size();
        return node;
      }
      if (s_[at_] == '<') {
        auto c = element();
        if (!c) return std::nullopt;
        node.children.push_back(std::move(*c));
      } else if (s_[at_] == '&') {
        size_t semi = s_.find(';', at_);
        if (semi == std::string_view::npos) return std::nullopt;
        std::string_view ref = s_.substr(at_ + 1, semi - at_ - 1);
        static const std::map<std::string_view, char> kNamed = {
            {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
        if (auto it = kNamed.find(ref); it != kNamed.end()) {
          node.text += it->second;
        } else if (ref.starts_with("#x")) {
          node.text += static_cast<char>(std::stoi(std::string(ref.substr(2)), nullptr, 16));
        } else {
          return std::nullopt;
        }
        at_ = semi + 1;
      } else {
        node.text += s_[at_++];
      }
    }
    return std::nullopt;
  }

  std::string_view s_;
  size_t at_ = 0;
};

XmlNode read_xml(const Reply& r) {
  auto doc = XmlReader(r.body).document();
  EXPECT_TRUE(doc.has_value()) << r.body;
  return doc.value_or(XmlNode{});
}

// The Result element of a query reply, after checking the document around it.
XmlNode xml_result(const Reply& r, std::string_view action) {
  XmlNode doc = read_xml(r);
  EXPECT_EQ(doc.name, std::string(action) + "Response");
  const XmlNode* meta = doc.child("ResponseMetadata");
  EXPECT_TRUE(meta != nullptr && meta->child("RequestId") != nullptr &&
              meta->child("RequestId")->text == "req-7")
      << r.body;
  const XmlNode* result = doc.child(std::string(action) + "Result");
  return result != nullptr ? *result : XmlNode{};
}

nlohmann::json json_of(const Reply& r) {
  EXPECT_TRUE(has_header(r, "Content-Type", "application/x-amz-json-1.0"));
  EXPECT_TRUE(has_header(r, "x-amzn-RequestId", "req-7"));
  return nlohmann::json::parse(r.body);
}

TEST(SqsEncode, ListDeadLetterSourceQueues) {
  std::vector<std::string> urls = {kUrl, kUrl + "&2"};
  Reply q = encode_list_dead_letter_sources(Protocol::kQuery, urls, "next", "req-7");
  EXPECT_TRUE(has_header(q, "Content-Type", "text/xml"));
  EXPECT_NE(q.body.find("<ListDeadLetterSourceQueuesResult><NextToken>next</NextToken><QueueUrl>" +
                        kUrl + "</QueueUrl><QueueUrl>" + kUrl +
                        "&amp;2</QueueUrl></ListDeadLetterSourceQueuesResult>"),
            std::string::npos)
      << q.body;
  XmlNode result = xml_result(q, "ListDeadLetterSourceQueues");
  auto listed = result.all("QueueUrl");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1]->text, kUrl + "&2");

  nlohmann::json j =
      json_of(encode_list_dead_letter_sources(Protocol::kJson, urls, "next", "req-7"));
  EXPECT_EQ(j, (nlohmann::json{{"queueUrls", urls}, {"NextToken", "next"}}));
  // queueUrls is required in the model: present, empty, when no queue names this one.
  EXPECT_EQ(encode_list_dead_letter_sources(Protocol::kJson, {}, "", "r").body,
            "{\"queueUrls\":[]}");
  XmlNode none = xml_result(encode_list_dead_letter_sources(Protocol::kQuery, {}, "", "req-7"),
                            "ListDeadLetterSourceQueues");
  EXPECT_TRUE(none.children.empty());
}

TEST(SqsEncode, StartAndCancelMoveTask) {
  Reply q = encode_start_move_task(Protocol::kQuery, "handle<1>", "req-7");
  EXPECT_EQ(q.body,
            "<?xml version=\"1.0\"?><StartMessageMoveTaskResponse "
            "xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><StartMessageMoveTaskResult>"
            "<TaskHandle>handle&lt;1&gt;</TaskHandle></StartMessageMoveTaskResult>"
            "<ResponseMetadata><RequestId>req-7</RequestId></ResponseMetadata>"
            "</StartMessageMoveTaskResponse>");
  EXPECT_EQ(xml_result(q, "StartMessageMoveTask").child("TaskHandle")->text, "handle<1>");
  EXPECT_EQ(json_of(encode_start_move_task(Protocol::kJson, "handle<1>", "req-7")),
            (nlohmann::json{{"TaskHandle", "handle<1>"}}));

  const uint64_t moved = 5000000000;  // past 32 bits: the model's Long
  XmlNode c = xml_result(encode_cancel_move_task(Protocol::kQuery, moved, "req-7"),
                         "CancelMessageMoveTask");
  ASSERT_NE(c.child("ApproximateNumberOfMessagesMoved"), nullptr);
  EXPECT_EQ(c.child("ApproximateNumberOfMessagesMoved")->text, "5000000000");
  nlohmann::json j = json_of(encode_cancel_move_task(Protocol::kJson, moved, "req-7"));
  EXPECT_EQ(j["ApproximateNumberOfMessagesMoved"].get<uint64_t>(), moved);
  EXPECT_EQ(encode_cancel_move_task(Protocol::kJson, 0, "r").body,
            "{\"ApproximateNumberOfMessagesMoved\":0}");
}

TEST(SqsEncode, ListMessageMoveTasks) {
  std::vector<queue::MoveTaskInfo> tasks(3);
  tasks[0].task_handle = "h-running";
  tasks[0].status = queue::MoveTaskStatus::kRunning;
  tasks[0].source_arn = kArn + "-dlq";
  tasks[0].destination_arn = kArn;
  tasks[0].max_messages_per_second = 50;
  tasks[0].approximate_messages_moved = 3;
  tasks[0].approximate_messages_to_move = 10;
  tasks[0].started_timestamp_ms = 1700000000123;
  tasks[1].task_handle = "h-done";  // finished: the handle is no longer given out
  tasks[1].status = queue::MoveTaskStatus::kCompleted;
  tasks[1].source_arn = kArn + "-dlq";
  tasks[1].approximate_messages_moved = 7;
  tasks[1].approximate_messages_to_move = 7;
  tasks[1].started_timestamp_ms = 1600000000000;
  tasks[2].status = queue::MoveTaskStatus::kFailed;
  tasks[2].source_arn = kArn + "-dlq";
  tasks[2].failure_reason = "AWS.SimpleQueueService.NonExistentQueue";
  tasks[2].started_timestamp_ms = 1500000000000;

  nlohmann::json j = json_of(encode_list_move_tasks(Protocol::kJson, tasks, "req-7"));
  ASSERT_EQ(j["Results"].size(), 3u);
  EXPECT_EQ(j["Results"][0], (nlohmann::json{{"TaskHandle", "h-running"},
                                             {"Status", "RUNNING"},
                                             {"SourceArn", kArn + "-dlq"},
                                             {"DestinationArn", kArn},
                                             {"MaxNumberOfMessagesPerSecond", 50},
                                             {"ApproximateNumberOfMessagesMoved", 3},
                                             {"ApproximateNumberOfMessagesToMove", 10},
                                             {"StartedTimestamp", 1700000000123}}));
  EXPECT_EQ(j["Results"][1], (nlohmann::json{{"Status", "COMPLETED"},
                                             {"SourceArn", kArn + "-dlq"},
                                             {"ApproximateNumberOfMessagesMoved", 7},
                                             {"ApproximateNumberOfMessagesToMove", 7},
                                             {"StartedTimestamp", 1600000000000}}));
  EXPECT_EQ(j["Results"][2]["Status"], "FAILED");
  EXPECT_EQ(j["Results"][2]["FailureReason"], "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_FALSE(j["Results"][2].contains("TaskHandle"));

  Reply q = encode_list_move_tasks(Protocol::kQuery, tasks, "req-7");
  XmlNode result = xml_result(q, "ListMessageMoveTasks");
  auto entries = result.all("ListMessageMoveTasksResultEntry");
  ASSERT_EQ(entries.size(), 3u) << q.body;
  EXPECT_EQ(result.children.size(), 3u);
  // Each entry carries the same members as its JSON object, numbers as decimal text.
  for (size_t i = 0; i < entries.size(); ++i) {
    const nlohmann::json& expected = j["Results"][i];
    EXPECT_EQ(entries[i]->children.size(), expected.size());
    for (const auto& [name, value] : expected.items()) {
      const XmlNode* field = entries[i]->child(name);
      ASSERT_NE(field, nullptr) << name;
      EXPECT_EQ(field->text, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  EXPECT_NE(q.body.find("<ListMessageMoveTasksResultEntry><ApproximateNumberOfMessagesMoved>3"
                        "</ApproximateNumberOfMessagesMoved>"),
            std::string::npos)
      << q.body;

  EXPECT_EQ(encode_list_move_tasks(Protocol::kJson, {}, "r").body, "{\"Results\":[]}");
  EXPECT_TRUE(
      xml_result(encode_list_move_tasks(Protocol::kQuery, {}, "req-7"), "ListMessageMoveTasks")
          .children.empty());
}

TEST(SqsEncode, PermissionRepliesAreEmpty) {
  for (Action a : {Action::kAddPermission, Action::kRemovePermission}) {
    std::string name(action_name(a));
    XmlNode doc = read_xml(encode_empty(Protocol::kQuery, a, "req-7"));
    EXPECT_EQ(doc.name, name + "Response");
    ASSERT_EQ(doc.children.size(), 1u);
    EXPECT_EQ(doc.children[0].name, "ResponseMetadata");
    EXPECT_EQ(json_of(encode_empty(Protocol::kJson, a, "req-7")), nlohmann::json::object());
  }
}

TEST(SqsCodec, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm=v").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
}

TEST(SqsCodec, SendEntryView) {
  SendMessageEntry e;
  e.body = "b";
  e.attributes = {{"n", "Number", "1"}};
  e.delay_s = 4;
  std::vector<queue::MessageAttribute> storage;
  queue::SendEntry v = e.view(storage);
  EXPECT_EQ(v.body, "b");
  ASSERT_EQ(v.attributes.size(), 1u);
  EXPECT_EQ(v.attributes[0].data_type, "Number");
  EXPECT_EQ(v.delay_s, 4u);
}

}  // namespace
}  // namespace sluice::api::sqs
