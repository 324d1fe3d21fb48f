// The SQS wire codecs: pure functions from an HTTP request to a typed SQS request, and from
// results to HTTP replies, in both protocols SQS clients speak (the query protocol with XML
// replies, and AWS JSON 1.0). No sockets, no engine calls. See docs/sqs-api.md.
//
// Both protocols decode through one representation: a query request's flattened parameters
// (`MessageAttribute.1.Name`, `SendMessageBatchRequestEntry.1.Id`, ...) are first turned into the
// JSON object AWS JSON 1.0 would carry for the same call, and replies are built as that JSON and
// written out as XML for query clients.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "http_types.h"
#include "queue_error.h"
#include "queue_types.h"

namespace sluice::api::sqs {

enum class Protocol : uint8_t { kQuery, kJson };

enum class Action : uint8_t {
  kCreateQueue,
  kDeleteQueue,
  kListQueues,
  kGetQueueUrl,
  kGetQueueAttributes,
  kSetQueueAttributes,
  kPurgeQueue,
  kSendMessage,
  kSendMessageBatch,
  kReceiveMessage,
  kDeleteMessage,
  kDeleteMessageBatch,
  kChangeMessageVisibility,
  kChangeMessageVisibilityBatch,
  kTagQueue,
  kUntagQueue,
  kListQueueTags,
  kAddPermission,
  kRemovePermission,
  kListDeadLetterSourceQueues,
  kStartMessageMoveTask,
  kCancelMessageMoveTask,
  kListMessageMoveTasks,
};

std::string_view action_name(Action action);
std::optional<Action> parse_action(std::string_view name);

// An error as it goes on the wire: `name` is the AWS JSON shape (`__type` is
// "com.amazonaws.sqs#" + name), `query_code` the query protocol's <Code> and the
// `x-amzn-query-error` header's code.
struct ApiError {
  std::string_view name;
  std::string_view query_code;
  uint16_t status = 400;
  bool sender_fault = true;
  std::string message;
};

ApiError api_error(const queue::Error& error);
ApiError api_error(queue::ErrorCode code, std::string message);

// A queue named by its URL, `http://HOST:PORT/ACCOUNT/NAME`.
struct QueueRef {
  std::string url;
  std::string account;
  std::string name;
};

// A message attribute with its value decoded (the bytes, for Binary).
struct MessageAttributeValue {
  std::string name;
  std::string data_type;
  std::string value;

  bool binary() const { return data_type.starts_with("Binary"); }
};

struct SendMessageEntry {
  std::string id;  // batch entries only
  std::string body;
  std::vector<MessageAttributeValue> attributes;
  std::optional<uint32_t> delay_s;
  std::string group_id;
  std::string deduplication_id;
  std::string trace_header;  // the AWSTraceHeader message system attribute

  // The views the engine takes; `storage` receives the attribute views and must outlive them.
  queue::SendEntry view(std::vector<queue::MessageAttribute>& storage) const;
};

struct SendMessageRequest {
  QueueRef queue;
  SendMessageEntry message;
};

struct SendMessageBatchRequest {
  QueueRef queue;
  std::vector<SendMessageEntry> entries;
};

struct ReceiveMessageRequest {
  QueueRef queue;
  uint32_t max_messages = 1;
  std::optional<uint32_t> visibility_timeout_s;
  std::optional<uint32_t> wait_time_s;
  std::vector<std::string> attribute_names;          // AttributeNames (older clients)
  std::vector<std::string> system_attribute_names;   // MessageSystemAttributeNames
  std::vector<std::string> message_attribute_names;  // MessageAttributeNames
  std::string receive_request_attempt_id;
};

struct DeleteMessageRequest {
  QueueRef queue;
  std::string receipt_handle;
};

struct DeleteBatchEntry {
  std::string id;
  std::string receipt_handle;
};

struct DeleteMessageBatchRequest {
  QueueRef queue;
  std::vector<DeleteBatchEntry> entries;
};

struct ChangeVisibilityRequest {
  QueueRef queue;
  std::string receipt_handle;
  uint32_t visibility_timeout_s = 0;
};

struct VisibilityBatchEntry {
  std::string id;
  std::string receipt_handle;
  uint32_t visibility_timeout_s = 0;
};

struct ChangeVisibilityBatchRequest {
  QueueRef queue;
  std::vector<VisibilityBatchEntry> entries;
};

using NameValues = std::vector<std::pair<std::string, std::string>>;

struct CreateQueueRequest {
  std::string name;
  NameValues attributes;
  NameValues tags;
};

struct GetQueueUrlRequest {
  std::string name;
  std::string owner_account_id;
};

// DeleteQueue, PurgeQueue, ListQueueTags: the queue and nothing else.
struct QueueOnlyRequest {
  QueueRef queue;
};

struct ListQueuesRequest {
  std::string prefix;
  std::optional<uint32_t> max_results;
  std::string next_token;
};

struct GetQueueAttributesRequest {
  QueueRef queue;
  std::vector<std::string> names;
};

struct SetQueueAttributesRequest {
  QueueRef queue;
  NameValues attributes;
};

struct TagQueueRequest {
  QueueRef queue;
  NameValues tags;
};

struct UntagQueueRequest {
  QueueRef queue;
  std::vector<std::string> keys;
};

// Label, AWSAccountIds and Actions are required; the lists are never empty.
struct AddPermissionRequest {
  QueueRef queue;
  std::string label;
  std::vector<std::string> account_ids;
  std::vector<std::string> actions;  // without the "SQS:" prefix, as sent
};

struct RemovePermissionRequest {
  QueueRef queue;
  std::string label;
};

struct ListDeadLetterSourceQueuesRequest {
  QueueRef queue;  // the dead-letter queue
  std::optional<uint32_t> max_results;
  std::string next_token;
};

struct StartMessageMoveTaskRequest {
  std::string source_arn;
  std::string destination_arn;           // empty: back to the queues the messages came from
  std::optional<uint32_t> max_velocity;  // MaxNumberOfMessagesPerSecond
};

struct CancelMessageMoveTaskRequest {
  std::string task_handle;
};

struct ListMessageMoveTasksRequest {
  std::string source_arn;
  std::optional<uint32_t> max_results;
};

using Params = std::variant<
    SendMessageRequest, SendMessageBatchRequest, ReceiveMessageRequest, DeleteMessageRequest,
    DeleteMessageBatchRequest, ChangeVisibilityRequest, ChangeVisibilityBatchRequest,
    CreateQueueRequest, GetQueueUrlRequest, QueueOnlyRequest, ListQueuesRequest,
    GetQueueAttributesRequest, SetQueueAttributesRequest, TagQueueRequest, UntagQueueRequest,
    AddPermissionRequest, RemovePermissionRequest, ListDeadLetterSourceQueuesRequest,
    StartMessageMoveTaskRequest, CancelMessageMoveTaskRequest, ListMessageMoveTasksRequest>;

struct Request {
  Action action;
  Params params;
};

// What decode() found: always the protocol (to answer an error in), then the request or the
// error to answer with.
struct Decoded {
  Protocol protocol = Protocol::kQuery;
  std::optional<Request> request;
  std::optional<ApiError> error;
};

// The protocol of a request: AWS JSON 1.0 when it carries X-Amz-Target or the
// application/x-amz-json-1.0 content type, the query protocol otherwise.
Protocol detect_protocol(const http::Request& request);

Decoded decode(const http::Request& request);

// An HTTP reply ready to send (Content-Length is the sender's).
struct Reply {
  uint16_t status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

Reply encode_error(Protocol protocol, const ApiError& error, std::string_view request_id);

// Replies whose result is nothing (DeleteMessage, DeleteQueue, PurgeQueue, SetQueueAttributes,
// ChangeMessageVisibility, TagQueue, UntagQueue, AddPermission, RemovePermission).
Reply encode_empty(Protocol protocol, Action action, std::string_view request_id);

// CreateQueue and GetQueueUrl.
Reply encode_queue_url(Protocol protocol, Action action, std::string_view url,
                       std::string_view request_id);

Reply encode_list_queues(Protocol protocol, std::span<const std::string> urls,
                         std::string_view next_token, std::string_view request_id);

// GetQueueAttributes (Attributes) and ListQueueTags (Tags).
Reply encode_attributes(Protocol protocol, Action action, const NameValues& values,
                        std::string_view request_id);

struct SendMessageReply {
  queue::MessageId message_id;
  std::string_view body;
  std::span<const queue::MessageAttribute> attributes;
  uint64_t sequence_number = 0;  // FIFO queues only; 0: none
};

Reply encode_send_message(Protocol protocol, const SendMessageReply& sent,
                          std::string_view request_id);

// One entry of a batch reply: the entry's outcome and, for sends, what was sent.
struct BatchReplyEntry {
  std::string_view id;
  std::optional<ApiError> error;
  SendMessageReply sent;  // SendMessageBatch only
};

// SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch.
Reply encode_batch(Protocol protocol, Action action, std::span<const BatchReplyEntry> entries,
                   std::string_view request_id);

// ReceiveMessage: the message system attributes named by `request` (or All) and the message
// attributes it names (All, `.*` prefixes or exact names).
Reply encode_receive(Protocol protocol, const ReceiveMessageRequest& request,
                     std::span<const queue::ReceivedMessage> messages, std::string_view request_id);

// ListDeadLetterSourceQueues: the source queues' URLs (`queueUrls` in JSON, repeated <QueueUrl>
// in XML) and, when there are more, the token for the next page.
Reply encode_list_dead_letter_sources(Protocol protocol, std::span<const std::string> urls,
                                      std::string_view next_token, std::string_view request_id);

Reply encode_start_move_task(Protocol protocol, std::string_view task_handle,
                             std::string_view request_id);

Reply encode_cancel_move_task(Protocol protocol, uint64_t messages_moved,
                              std::string_view request_id);

// ListMessageMoveTasks (`Results` in JSON, repeated <ListMessageMoveTasksResultEntry> in XML):
// TaskHandle only for running tasks; DestinationArn, MaxNumberOfMessagesPerSecond and
// FailureReason only when set.
Reply encode_list_move_tasks(Protocol protocol, std::span<const queue::MoveTaskInfo> tasks,
                             std::string_view request_id);

// The text of a reply value, for XML: &, <, >, " and ' escaped, and the characters SQS allows
// in message bodies that XML 1.0 cannot carry literally (#x9, #xA, #xD) as character references.
std::string xml_escape(std::string_view text);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sluice::api::sqs
