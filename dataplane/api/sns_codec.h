// The SNS wire codec: pure functions from a query-protocol request (form-encoded,
// `Action=Publish&Version=2010-03-31&...`) to a typed SNS request, and from results to the XML
// replies SNS clients parse. SNS speaks only the query protocol, in every SDK. No sockets, no
// registry calls: what needs the topic registry (does the topic exist, is the token right) is the
// caller's; everything the request alone decides is checked here, as SNS checks it.
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
#include "sns_filter_policy.h"

namespace sluice::api::sns {

inline constexpr std::string_view kApiVersion = "2010-03-31";
inline constexpr std::string_view kXmlNamespace = "http://sns.amazonaws.com/doc/2010-03-31/";

namespace limits {
inline constexpr size_t kMaxTopicNameLength = 256;   // .fifo included
inline constexpr size_t kMaxMessageBytes = 262'144;  // message and attributes together
inline constexpr size_t kMaxSubjectLength = 100;
inline constexpr size_t kMaxMessageAttributes = 10;
inline constexpr size_t kMaxAttributeNameLength = 256;
inline constexpr size_t kMaxBatchEntries = 10;
inline constexpr size_t kMaxBatchEntryIdLength = 80;
inline constexpr size_t kMaxTagKeyLength = 128;
inline constexpr size_t kMaxTagValueLength = 256;
inline constexpr size_t kMaxTags = 50;
inline constexpr size_t kMaxGroupIdLength = 128;  // MessageGroupId and MessageDeduplicationId
}  // namespace limits

enum class Action : uint8_t {
  kCreateTopic,
  kDeleteTopic,
  kListTopics,
  kGetTopicAttributes,
  kSetTopicAttributes,
  kSubscribe,
  kConfirmSubscription,
  kUnsubscribe,
  kListSubscriptions,
  kListSubscriptionsByTopic,
  kGetSubscriptionAttributes,
  kSetSubscriptionAttributes,
  kPublish,
  kPublishBatch,
  kTagResource,
  kUntagResource,
  kListTagsForResource,
};

std::string_view action_name(Action action);
std::optional<Action> parse_action(std::string_view name);

// SNS's errors, each with its wire code, HTTP status and fault type (the model's).
enum class ErrorCode : uint8_t {
  kInvalidParameter,              // InvalidParameter, 400
  kInvalidParameterValue,         // ParameterValueInvalid, 400 (message attribute problems)
  kValidationError,               // ValidationError, 400 (a required parameter is missing)
  kNotFound,                      // NotFound, 404
  kResourceNotFound,              // ResourceNotFound, 404 (tag actions)
  kAuthorizationError,            // AuthorizationError, 403
  kInternalError,                 // InternalError, 500, Receiver
  kInvalidAction,                 // InvalidAction, 400 (no or unknown Action)
  kMalformedQueryString,          // MalformedQueryString, 400
  kTooManyEntriesInBatchRequest,  // TooManyEntriesInBatchRequest, 400
  kBatchEntryIdsNotDistinct,      // BatchEntryIdsNotDistinct, 400
  kEmptyBatchRequest,             // EmptyBatchRequest, 400
  kInvalidBatchEntryId,           // InvalidBatchEntryId, 400
  kBatchRequestTooLong,           // BatchRequestTooLong, 400
  kTagLimitExceeded,              // TagLimitExceeded, 400
  kTopicLimitExceeded,            // TopicLimitExceeded, 403
  kSubscriptionLimitExceeded,     // SubscriptionLimitExceeded, 403
};

// An error as it goes on the wire: <Code>, the HTTP status, <Type> Sender or Receiver.
struct ApiError {
  std::string_view code;
  uint16_t status = 400;
  bool sender_fault = true;
  std::string message;
};

ApiError api_error(ErrorCode code, std::string message);

// A topic's or a subscription's ARN: arn:aws:sns:REGION:ACCOUNT:TOPIC[:SUBSCRIPTION-ID].
struct Arn {
  std::string text;  // as sent
  std::string region;
  std::string account;
  std::string topic;         // the topic's name
  std::string subscription;  // the subscription's id; empty for a topic's ARN

  bool fifo() const { return topic.ends_with(".fifo"); }
};

// Region and account must be non-empty without ':', the topic name valid (see
// valid_topic_name), the subscription id, when there, non-empty of [A-Za-z0-9-].
std::optional<Arn> parse_arn(std::string_view text);

std::string topic_arn(std::string_view region, std::string_view account, std::string_view topic);

// 1 to 256 characters of [A-Za-z0-9_-], a final ".fifo" allowed (and counted).
bool valid_topic_name(std::string_view name);

using NameValues = std::vector<std::pair<std::string, std::string>>;

enum class SubscriptionProtocol : uint8_t { kSqs, kHttp, kHttps };
std::string_view protocol_name(SubscriptionProtocol protocol);

// Name (.fifo only with FifoTopic=true and the other way round), Attributes, Tags.
struct CreateTopicRequest {
  std::string name;
  bool fifo = false;
  NameValues attributes;  // FifoTopic included, as sent
  NameValues tags;
};

// DeleteTopic, GetTopicAttributes, ListTagsForResource (a topic's ARN); Unsubscribe,
// GetSubscriptionAttributes (a subscription's ARN).
struct ArnRequest {
  Arn arn;
};

// ListTopics, ListSubscriptions.
struct ListRequest {
  std::string next_token;
};

struct ListSubscriptionsByTopicRequest {
  Arn topic;
  std::string next_token;
};

// SetTopicAttributes (a topic's ARN), SetSubscriptionAttributes (a subscription's ARN). The name
// is one SNS knows for that kind of resource; the value is as sent (empty when absent).
// FilterPolicyScope and RawMessageDelivery values are checked; a FilterPolicy is checked by the
// caller, which knows the subscription's scope.
struct SetAttributeRequest {
  Arn arn;
  std::string name;
  std::string value;
};

// Endpoint: for sqs a queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME), for http/https a URL of
// that scheme. A FilterPolicy among the attributes has been compiled for its scope and is valid.
struct SubscribeRequest {
  Arn topic;
  SubscriptionProtocol protocol = SubscriptionProtocol::kSqs;
  std::string endpoint;
  NameValues attributes;
  bool return_subscription_arn = false;
};

struct ConfirmSubscriptionRequest {
  Arn topic;
  std::string token;
  bool authenticate_on_unsubscribe = false;
};

// One message to publish. Attribute values are as sent: Binary ones stay base64 text (as the
// delivery envelope carries them; checked to decode), String.Array ones JSON arrays.
struct PublishEntry {
  std::string id;  // PublishBatch entries only
  std::string message;
  std::string subject;            // empty: none
  std::string message_structure;  // empty or "json" (then message is an object with "default")
  MessageAttributes attributes;
  std::string group_id;
  std::string deduplication_id;
};

// TopicArn or TargetArn (a topic's ARN either way).
struct PublishRequest {
  Arn topic;
  PublishEntry message;
};

struct PublishBatchRequest {
  Arn topic;
  std::vector<PublishEntry> entries;  // 1 to 10, distinct ids
};

struct TagResourceRequest {
  Arn resource;
  NameValues tags;
};

struct UntagResourceRequest {
  Arn resource;
  std::vector<std::string> keys;
};

using Params =
    std::variant<CreateTopicRequest, ArnRequest, ListRequest, ListSubscriptionsByTopicRequest,
                 SetAttributeRequest, SubscribeRequest, ConfirmSubscriptionRequest, PublishRequest,
                 PublishBatchRequest, TagResourceRequest, UntagResourceRequest>;

struct Request {
  Action action;
  Params params;
};

// The request, or the error to answer with; exactly one is set.
struct Decoded {
  std::optional<Request> request;
  std::optional<ApiError> error;
};

// A query request: its parameters from the URL's query and the form body together.
Decoded decode(const http::Request& request);
Decoded decode_form(std::string_view query, std::string_view body);

// An HTTP reply ready to send (Content-Length is the sender's); always text/xml.
struct Reply {
  uint16_t status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

Reply encode_error(const ApiError& error, std::string_view request_id);

// Replies with no result: DeleteTopic, SetTopicAttributes, Unsubscribe,
// SetSubscriptionAttributes, TagResource, UntagResource.
Reply encode_empty(Action action, std::string_view request_id);

Reply encode_create_topic(std::string_view topic_arn, std::string_view request_id);

// Subscribe (the ARN, or "pending confirmation") and ConfirmSubscription.
Reply encode_subscription_arn(Action action, std::string_view subscription_arn,
                              std::string_view request_id);

// GetTopicAttributes, GetSubscriptionAttributes.
Reply encode_attributes(Action action, const NameValues& attributes, std::string_view request_id);

// `next_token` empty: the last page.
Reply encode_list_topics(std::span<const std::string> topic_arns, std::string_view next_token,
                         std::string_view request_id);

struct SubscriptionInfo {
  std::string subscription_arn;  // or "PendingConfirmation"
  std::string owner;             // the account
  std::string protocol;
  std::string endpoint;
  std::string topic_arn;
};

// ListSubscriptions, ListSubscriptionsByTopic.
Reply encode_list_subscriptions(Action action, std::span<const SubscriptionInfo> subscriptions,
                                std::string_view next_token, std::string_view request_id);

struct PublishResult {
  std::string message_id;
  std::string sequence_number;  // FIFO topics only; empty: none
};

Reply encode_publish(const PublishResult& result, std::string_view request_id);

// One PublishBatch entry's outcome: published, or the error it failed with.
struct BatchResultEntry {
  std::string id;
  PublishResult published;
  std::optional<ApiError> error;
};

Reply encode_publish_batch(std::span<const BatchResultEntry> entries, std::string_view request_id);

Reply encode_list_tags(const NameValues& tags, std::string_view request_id);

}  // namespace sluice::api::sns
