// Decoding SNS requests: the query form into named parameters, the flattened lists and maps
// (`Tags.member.N.Key`, `Attributes.entry.N.key`, `MessageAttributes.entry.N.Value.DataType`)
// into entries, and one typed decoder per action that checks what SNS checks before it looks a
// topic up.
#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "form_encoding.h"
#include "sns_codec.h"
#include "sqs_codec.h"

namespace sluice::api::sns {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 17> kActionNames = {
    "CreateTopic",
    "DeleteTopic",
    "ListTopics",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "ConfirmSubscription",
    "Unsubscribe",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
    "Publish",
    "PublishBatch",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
};

struct ErrorInfo {
  std::string_view code;
  uint16_t status;
  bool sender_fault;
};

constexpr std::array<ErrorInfo, 17> kErrors = {{
    {"InvalidParameter", 400, true},
    {"ParameterValueInvalid", 400, true},
    {"ValidationError", 400, true},
    {"NotFound", 404, true},
    {"ResourceNotFound", 404, true},
    {"AuthorizationError", 403, true},
    {"InternalError", 500, false},
    {"InvalidAction", 400, true},
    {"MalformedQueryString", 400, true},
    {"TooManyEntriesInBatchRequest", 400, true},
    {"BatchEntryIdsNotDistinct", 400, true},
    {"EmptyBatchRequest", 400, true},
    {"InvalidBatchEntryId", 400, true},
    {"BatchRequestTooLong", 400, true},
    {"TagLimitExceeded", 400, true},
    {"TopicLimitExceeded", 403, true},
    {"SubscriptionLimitExceeded", 403, true},
}};

// Topic attributes SNS accepts, and those of subscriptions.
constexpr std::array<std::string_view, 26> kTopicAttributes = {
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "TracingConfig",
    "KmsMasterKeyId",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "FifoTopic",
    "FifoThroughputScope",
    "ArchivePolicy",
    "DataProtectionPolicy",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ApplicationFailureFeedbackRoleArn",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "LambdaFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "SQSFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "FirehoseFailureFeedbackRoleArn",
};

constexpr std::array<std::string_view, 7> kSubscriptionAttributes = {
    "DeliveryPolicy", "FilterPolicy",        "FilterPolicyScope", "RawMessageDelivery",
    "RedrivePolicy",  "SubscriptionRoleArn", "ReplayPolicy",
};

// Thrown inside the decoder and turned into Decoded::error by decode_form().
struct Refusal {
  ApiError error;
};

[[noreturn]] void refuse(ErrorCode code, std::string message) {
  throw Refusal{api_error(code, std::move(message))};
}

[[noreturn]] void invalid(std::string_view what) {
  refuse(ErrorCode::kInvalidParameter, "Invalid parameter: " + std::string(what));
}

[[noreturn]] void invalid_value(std::string_view message) {
  refuse(ErrorCode::kInvalidParameterValue, std::string(message));
}

using Form = std::map<std::string, std::string, std::less<>>;

void parse_form(std::string_view text, Form& form) {
  if (auto bad_at = form::parse(text, form))
    refuse(ErrorCode::kMalformedQueryString,
           "Malformed percent-encoding at offset " + std::to_string(*bad_at) + ".");
}

// The entries of a flattened list or map (`prefix` is e.g. "Tags.member"): for each 1-based
// index, in index order, the entry's parameters named relative to it.
std::map<uint32_t, Form> entries(const Form& form, std::string_view prefix) {
  std::map<uint32_t, Form> out;
  const std::string start = std::string(prefix) + ".";
  for (auto it = form.lower_bound(start); it != form.end() && it->first.starts_with(start); ++it) {
    std::string_view rest = std::string_view(it->first).substr(start.size());
    size_t dot = rest.find('.');
    std::string_view digits = rest.substr(0, dot);
    uint32_t index = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc{} || end != digits.data() + digits.size() || index == 0 ||
        dot == std::string_view::npos || dot + 1 == rest.size()) {
      invalid(it->first);
    }
    out[index].emplace(rest.substr(dot + 1), it->second);
  }
  return out;
}

// The values of a flattened list of scalars (`prefix` is e.g. "TagKeys.member"), in index order.
std::vector<std::string> scalar_list(const Form& form, std::string_view prefix) {
  std::map<uint32_t, std::string> by_index;
  const std::string start = std::string(prefix) + ".";
  for (auto it = form.lower_bound(start); it != form.end() && it->first.starts_with(start); ++it) {
    std::string_view digits = std::string_view(it->first).substr(start.size());
    uint32_t index = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc{} || end != digits.data() + digits.size() || index == 0) invalid(it->first);
    by_index[index] = it->second;
  }
  std::vector<std::string> out;
  for (auto& [index, value] : by_index) out.push_back(std::move(value));
  return out;
}

const std::string* find(const Form& form, std::string_view name) {
  auto it = form.find(name);
  return it == form.end() ? nullptr : &it->second;
}

std::string optional(const Form& form, std::string_view name) {
  const std::string* v = find(form, name);
  return v == nullptr ? std::string{} : *v;
}

// A required parameter that is absent, worded as SNS's model validation words it.
[[noreturn]] void missing(std::string_view name) {
  std::string member(name);
  if (!member.empty()) member[0] = static_cast<char>(std::tolower(member[0]));
  refuse(ErrorCode::kValidationError, "1 validation error detected: Value null at '" + member +
                                          "' failed to satisfy constraint: Member must not be "
                                          "null");
}

std::string required(const Form& form, std::string_view name) {
  const std::string* v = find(form, name);
  if (v == nullptr) missing(name);
  return *v;
}

std::optional<bool> parse_bool(std::string_view text) {
  auto lower = [](std::string_view a, std::string_view b) { return http::iequals(a, b); };
  if (lower(text, "true")) return true;
  if (lower(text, "false")) return false;
  return std::nullopt;
}

bool boolean(const Form& form, std::string_view name) {
  const std::string* v = find(form, name);
  if (v == nullptr) return false;
  auto b = parse_bool(*v);
  if (!b) invalid(std::string(name) + " Reason: must be true or false");
  return *b;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool valid_queue_name(std::string_view name) {
  if (name.ends_with(".fifo")) name.remove_suffix(5);
  return !name.empty() && name.size() <= 80 && std::all_of(name.begin(), name.end(), name_char);
}

// ARN parameters: a topic's (`subscription` false) or a subscription's.
Arn arn_param(const Form& form, std::string_view name, bool subscription) {
  std::string text = required(form, name);
  auto arn = parse_arn(text);
  if (!arn || arn->subscription.empty() == subscription) invalid(name);
  return std::move(*arn);
}

// Reads Attributes.entry.N.key/value into `out`, a later entry of the same key replacing an
// earlier one.
NameValues attribute_map(const Form& form) {
  NameValues out;
  for (const auto& [index, entry] : entries(form, "Attributes.entry")) {
    const std::string* key = find(entry, "key");
    if (key == nullptr) missing("Attributes.entry." + std::to_string(index) + ".key");
    std::string value = optional(entry, "value");
    auto same =
        std::find_if(out.begin(), out.end(), [&](const auto& kv) { return kv.first == *key; });
    if (same != out.end()) {
      same->second = std::move(value);
    } else {
      out.emplace_back(*key, std::move(value));
    }
  }
  return out;
}

template <size_t N>
bool known(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void check_bool_attribute(std::string_view name, std::string_view value) {
  if (!parse_bool(value)) {
    invalid("Attributes Reason: " + std::string(name) + ": Invalid value [" + std::string(value) +
            "]. Must be true or false.");
  }
}

// The checks a subscription attribute's value gets without the subscription at hand.
void check_subscription_attribute(std::string_view name, std::string_view value) {
  if (!known(kSubscriptionAttributes, name)) {
    invalid("Attributes Reason: Unknown attribute " + std::string(name));
  }
  if (name == "RawMessageDelivery") check_bool_attribute(name, value);
  if (name == "FilterPolicyScope" && value != "MessageAttributes" && value != "MessageBody") {
    invalid("Attributes Reason: FilterPolicyScope: Invalid value [" + std::string(value) +
            "]. Please use either MessageBody or MessageAttributes");
  }
}

NameValues tag_list(const Form& form) {
  NameValues out;
  for (const auto& [index, entry] : entries(form, "Tags.member")) {
    const std::string* key = find(entry, "Key");
    const std::string* value = find(entry, "Value");
    if (key == nullptr || value == nullptr) {
      missing("Tags.member." + std::to_string(index) + (key == nullptr ? ".Key" : ".Value"));
    }
    if (key->empty() || key->size() > limits::kMaxTagKeyLength) {
      invalid("Tags Reason: A tag key must be 1 to 128 characters long");
    }
    if (value->size() > limits::kMaxTagValueLength) {
      invalid("Tags Reason: A tag value must be at most 256 characters long");
    }
    auto same =
        std::find_if(out.begin(), out.end(), [&](const auto& kv) { return kv.first == *key; });
    if (same != out.end()) invalid("Tags Reason: Duplicate tag key " + *key);
    out.emplace_back(*key, *value);
  }
  if (out.size() > limits::kMaxTags) {
    refuse(ErrorCode::kTagLimitExceeded,
           "Could not complete request: tag quota of per resource exceeded (at most 50 tags).");
  }
  return out;
}

// A decimal number as SNS's Number type takes it: sign, digits, fraction, exponent.
bool valid_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole + fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

bool valid_attribute_name(std::string_view name) {
  auto ok = [](char c) { return name_char(c) || c == '.'; };
  auto prefixed = [&](std::string_view p) {
    return name.size() >= p.size() && http::iequals(name.substr(0, p.size()), p);
  };
  return !name.empty() && name.size() <= limits::kMaxAttributeNameLength &&
         std::all_of(name.begin(), name.end(), ok) && !name.starts_with('.') &&
         !name.ends_with('.') && name.find("..") == std::string_view::npos && !prefixed("AWS.") &&
         !prefixed("Amazon.");
}

// MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue / .Value.BinaryValue.
// Returns the bytes they add to the message's size.
size_t message_attributes(const Form& form, MessageAttributes& out) {
  auto all = entries(form, "MessageAttributes.entry");
  if (all.size() > limits::kMaxMessageAttributes) {
    invalid("MessageAttributes Reason: Number of message attributes [" +
            std::to_string(all.size()) + "] exceeds the allowed maximum [10].");
  }
  size_t bytes = 0;
  for (const auto& [index, entry] : all) {
    const std::string* name = find(entry, "Name");
    if (name == nullptr) missing("MessageAttributes.entry." + std::to_string(index) + ".Name");
    const std::string& n = *name;
    if (!valid_attribute_name(n)) {
      invalid_value("The message attribute name '" + n +
                    "' is invalid: up to 256 of A-Z, a-z, 0-9, '_', '-' and '.', neither "
                    "starting nor ending with '.', no '..', not starting with 'AWS.' or "
                    "'Amazon.'.");
    }
    if (out.contains(n)) invalid_value("The message attribute '" + n + "' is repeated.");
    std::string type = optional(entry, "Value.DataType");
    std::string_view base = std::string_view(type).substr(0, type.find('.'));
    const bool custom = type.size() > base.size();
    if ((base != "String" && base != "Number" && base != "Binary") ||
        (custom && type.size() == base.size() + 1) ||
        type.size() > limits::kMaxAttributeNameLength) {
      invalid_value("The message attribute '" + n +
                    "' has an invalid message attribute type, the set of supported type prefixes "
                    "is Binary, Number, and String.");
    }
    const std::string* value =
        find(entry, base == "Binary" ? "Value.BinaryValue" : "Value.StringValue");
    if (value == nullptr || value->empty()) {
      invalid_value("The message attribute '" + n +
                    "' must contain non-empty message attribute value for message attribute "
                    "type '" +
                    type + "'.");
    }
    size_t value_bytes = value->size();
    if (base == "Number" && !valid_number(*value)) {
      invalid_value("Could not cast message attribute '" + n + "' value to number.");
    } else if (base == "Binary") {
      auto decoded = sqs::base64_decode(*value);
      if (!decoded) {
        invalid_value("The message attribute '" + n +
                      "' with type 'Binary' must hold base64-encoded bytes.");
      }
      value_bytes = decoded->size();
    } else if (type == "String.Array" && !json::parse(*value, nullptr, false).is_array()) {
      invalid_value("The message attribute '" + n +
                    "' with type 'String.Array' must hold a JSON array.");
    }
    bytes += n.size() + type.size() + value_bytes;
    out.emplace(n, MessageAttribute{std::move(type), *value});
  }
  return bytes;
}

bool valid_subject(std::string_view s) {
  return !s.empty() && s.size() <= limits::kMaxSubjectLength && s[0] != ' ' &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// MessageGroupId and MessageDeduplicationId: 1 to 128 of the printable ASCII but space.
void check_fifo_id(std::string_view name, std::string_view value) {
  if (value.empty() || value.size() > limits::kMaxGroupIdLength ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c <= 0x7e; })) {
    invalid(std::string(name) +
            " Reason: must be 1 to 128 characters of letters, digits and punctuation");
  }
}

// One message of Publish or of a PublishBatch entry, for `topic`. Returns its size as SNS
// counts it (message and attributes).
size_t publish_entry(const Form& form, const Arn& topic, PublishEntry& e) {
  const std::string* message = find(form, "Message");
  if (message == nullptr) missing("Message");
  e.message = *message;
  if (e.message.empty()) invalid("Empty message");
  if (const std::string* subject = find(form, "Subject")) {
    if (!valid_subject(*subject)) invalid("Subject");
    e.subject = *subject;
  }
  if (const std::string* structure = find(form, "MessageStructure")) {
    if (*structure != "json") invalid("MessageStructure");
    json body = json::parse(e.message, nullptr, false);
    if (!body.is_object()) invalid("Message Structure - JSON message body failed to parse");
    auto def = body.find("default");
    if (def == body.end() || !def->is_string()) {
      invalid("Message Structure - No default entry in JSON message body");
    }
    e.message_structure = *structure;
  }
  size_t bytes = e.message.size() + message_attributes(form, e.attributes);
  if (bytes > limits::kMaxMessageBytes) invalid("Message too long");
  const std::string* group = find(form, "MessageGroupId");
  const std::string* dedup = find(form, "MessageDeduplicationId");
  if (topic.fifo()) {
    if (group == nullptr) invalid("The MessageGroupId parameter is required for FIFO topics");
  } else {
    if (group != nullptr) {
      invalid(
          "MessageGroupId Reason: The request includes MessageGroupId parameter that is not "
          "valid for this topic type");
    }
    if (dedup != nullptr) {
      invalid(
          "MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
          "parameter that is not valid for this topic type");
    }
  }
  if (group != nullptr) {
    check_fifo_id("MessageGroupId", *group);
    e.group_id = *group;
  }
  if (dedup != nullptr) {
    check_fifo_id("MessageDeduplicationId", *dedup);
    e.deduplication_id = *dedup;
  }
  return bytes;
}

bool valid_entry_id(std::string_view id) {
  return !id.empty() && id.size() <= limits::kMaxBatchEntryIdLength &&
         std::all_of(id.begin(), id.end(), name_char);
}

PublishBatchRequest publish_batch(const Form& form) {
  PublishBatchRequest r{arn_param(form, "TopicArn", false), {}};
  auto all = entries(form, "PublishBatchRequestEntries.member");
  if (all.empty())
    refuse(ErrorCode::kEmptyBatchRequest, "The batch request doesn't contain any entries.");
  if (all.size() > limits::kMaxBatchEntries) {
    refuse(ErrorCode::kTooManyEntriesInBatchRequest,
           "The batch request contains more entries than permissible: " +
               std::to_string(all.size()) + ", at most 10.");
  }
  std::set<std::string> ids;
  for (const auto& [index, entry] : all) {
    const std::string* id = find(entry, "Id");
    if (id == nullptr)
      missing("PublishBatchRequestEntries.member." + std::to_string(index) + ".Id");
    if (!valid_entry_id(*id)) {
      refuse(ErrorCode::kInvalidBatchEntryId,
             "The Id of a batch entry in a batch request doesn't abide by the specification: "
             "1 to 80 of A-Z, a-z, 0-9, '-' and '_'.");
    }
    if (!ids.insert(*id).second) {
      refuse(ErrorCode::kBatchEntryIdsNotDistinct,
             "Two or more batch entries in the request have the same Id: " + *id + ".");
    }
  }
  size_t total = 0;
  for (const auto& [index, entry] : all) {
    PublishEntry& e = r.entries.emplace_back();
    e.id = *find(entry, "Id");
    total += publish_entry(entry, r.topic, e);
  }
  if (total > limits::kMaxMessageBytes) {
    refuse(ErrorCode::kBatchRequestTooLong,
           "The length of all the messages put together is more than the limit (262144 bytes).");
  }
  return r;
}

CreateTopicRequest create_topic(const Form& form) {
  CreateTopicRequest r;
  r.name = required(form, "Name");
  r.attributes = attribute_map(form);
  bool fifo_attribute = false;
  for (const auto& [name, value] : r.attributes) {
    if (!known(kTopicAttributes, name)) invalid("Attributes Reason: Unknown attribute " + name);
    if (name == "FifoTopic" || name == "ContentBasedDeduplication") {
      check_bool_attribute(name, value);
    }
    if (name == "FifoTopic") fifo_attribute = *parse_bool(value);
  }
  r.fifo = r.name.ends_with(".fifo");
  if (r.fifo != fifo_attribute || !valid_topic_name(r.name)) {
    if (r.fifo || fifo_attribute) {
      invalid(
          "Fifo Topic names must end with .fifo and must be made up of only uppercase and "
          "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 "
          "and 256 characters long.");
    }
    invalid("Topic Name");
  }
  for (const auto& [name, value] : r.attributes) {
    if (name == "ContentBasedDeduplication" && *parse_bool(value) && !r.fifo) {
      invalid("Attributes Reason: ContentBasedDeduplication can only be set for FIFO topics");
    }
  }
  r.tags = tag_list(form);
  return r;
}

SubscribeRequest subscribe(const Form& form) {
  SubscribeRequest r;
  r.topic = arn_param(form, "TopicArn", false);
  std::string protocol = required(form, "Protocol");
  if (protocol == "sqs") {
    r.protocol = SubscriptionProtocol::kSqs;
  } else if (protocol == "http") {
    r.protocol = SubscriptionProtocol::kHttp;
  } else if (protocol == "https") {
    r.protocol = SubscriptionProtocol::kHttps;
  } else {
    invalid("Protocol");
  }
  r.endpoint = optional(form, "Endpoint");
  if (r.protocol == SubscriptionProtocol::kSqs) {
    std::string_view e = r.endpoint;
    constexpr std::string_view kPrefix = "arn:aws:sqs:";
    size_t region_end =
        e.starts_with(kPrefix) ? e.find(':', kPrefix.size()) : std::string_view::npos;
    size_t account_end =
        region_end == std::string_view::npos ? region_end : e.find(':', region_end + 1);
    if (account_end == std::string_view::npos || region_end == kPrefix.size() ||
        account_end == region_end + 1 || !valid_queue_name(e.substr(account_end + 1))) {
      invalid("SQS endpoint ARN");
    }
  } else {
    const std::string_view scheme =
        r.protocol == SubscriptionProtocol::kHttp ? "http://" : "https://";
    std::string_view e = r.endpoint;
    if (e.size() <= scheme.size() || !http::iequals(e.substr(0, scheme.size()), scheme)) {
      invalid("Endpoint must match the specified protocol");
    }
  }
  r.attributes = attribute_map(form);
  std::string_view scope_text = "MessageAttributes";
  for (const auto& [name, value] : r.attributes) {
    check_subscription_attribute(name, value);
    if (name == "FilterPolicyScope") scope_text = value;
  }
  const Scope scope = scope_text == "MessageBody" ? Scope::kMessageBody : Scope::kMessageAttributes;
  for (const auto& [name, value] : r.attributes) {
    std::string error;
    if (name == "FilterPolicy" && !value.empty() && !parse_filter_policy(value, scope, &error)) {
      refuse(ErrorCode::kInvalidParameter, error);
    }
  }
  r.return_subscription_arn = boolean(form, "ReturnSubscriptionArn");
  return r;
}

SetAttributeRequest set_attribute(const Form& form, bool subscription) {
  SetAttributeRequest r{
      arn_param(form, subscription ? "SubscriptionArn" : "TopicArn", subscription),
      required(form, "AttributeName"), optional(form, "AttributeValue")};
  if (subscription) {
    if (!known(kSubscriptionAttributes, r.name)) invalid("AttributeName");
    check_subscription_attribute(r.name, r.value);
  } else {
    // FifoTopic is fixed when the topic is created.
    if (!known(kTopicAttributes, r.name) || r.name == "FifoTopic") invalid("AttributeName");
    if (r.name == "ContentBasedDeduplication") {
      if (!parse_bool(r.value)) invalid("AttributeValue");
      if (*parse_bool(r.value) && !r.arn.fifo()) {
        invalid("ContentBasedDeduplication can only be set for FIFO topics");
      }
    }
  }
  return r;
}

PublishRequest publish(const Form& form) {
  if (find(form, "PhoneNumber") != nullptr) {
    invalid("PhoneNumber Reason: SMS delivery is not supported; publish to a topic");
  }
  const bool topic = find(form, "TopicArn") != nullptr;
  const bool target = find(form, "TargetArn") != nullptr;
  if (topic == target) {
    invalid(topic ? "TopicArn or TargetArn Reason: Only one of them may be given"
                  : "TopicArn or TargetArn Reason: no value for required parameter");
  }
  PublishRequest r;
  r.topic = arn_param(form, topic ? "TopicArn" : "TargetArn", false);
  publish_entry(form, r.topic, r.message);
  return r;
}

Params decode_params(Action action, const Form& form) {
  switch (action) {
    case Action::kCreateTopic:
      return create_topic(form);
    case Action::kDeleteTopic:
    case Action::kGetTopicAttributes:
      return ArnRequest{arn_param(form, "TopicArn", false)};
    case Action::kListTagsForResource:
      return ArnRequest{arn_param(form, "ResourceArn", false)};
    case Action::kUnsubscribe:
    case Action::kGetSubscriptionAttributes:
      return ArnRequest{arn_param(form, "SubscriptionArn", true)};
    case Action::kListTopics:
    case Action::kListSubscriptions:
      return ListRequest{optional(form, "NextToken")};
    case Action::kListSubscriptionsByTopic:
      return ListSubscriptionsByTopicRequest{arn_param(form, "TopicArn", false),
                                             optional(form, "NextToken")};
    case Action::kSetTopicAttributes:
      return set_attribute(form, false);
    case Action::kSetSubscriptionAttributes:
      return set_attribute(form, true);
    case Action::kSubscribe:
      return subscribe(form);
    case Action::kConfirmSubscription: {
      ConfirmSubscriptionRequest r{arn_param(form, "TopicArn", false), required(form, "Token"),
                                   boolean(form, "AuthenticateOnUnsubscribe")};
      if (r.token.empty()) invalid("Token");
      return r;
    }
    case Action::kPublish:
      return publish(form);
    case Action::kPublishBatch:
      return publish_batch(form);
    case Action::kTagResource: {
      TagResourceRequest r{arn_param(form, "ResourceArn", false), tag_list(form)};
      if (r.tags.empty()) missing("Tags");
      return r;
    }
    case Action::kUntagResource: {
      UntagResourceRequest r{arn_param(form, "ResourceArn", false),
                             scalar_list(form, "TagKeys.member")};
      if (r.keys.empty()) missing("TagKeys");
      return r;
    }
  }
  // Every action is decoded above; this only gives the compiler a path out of the switch.
  refuse(ErrorCode::kInvalidAction,
         "The action " + std::string(action_name(action)) + " is not valid for this web service.");
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

ApiError api_error(ErrorCode code, std::string message) {
  const ErrorInfo& info = kErrors[static_cast<size_t>(code)];
  return ApiError{info.code, info.status, info.sender_fault, std::move(message)};
}

bool valid_topic_name(std::string_view name) {
  if (name.size() > limits::kMaxTopicNameLength) return false;
  if (name.ends_with(".fifo")) name.remove_suffix(5);
  return !name.empty() && std::all_of(name.begin(), name.end(), name_char);
}

std::optional<Arn> parse_arn(std::string_view text) {
  constexpr std::string_view kPrefix = "arn:aws:sns:";
  if (!text.starts_with(kPrefix)) return std::nullopt;
  std::vector<std::string_view> parts;
  std::string_view rest = text.substr(kPrefix.size());
  while (true) {
    size_t colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos || parts.size() > 4) break;
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty() || parts[1].empty() ||
      !valid_topic_name(parts[2])) {
    return std::nullopt;
  }
  Arn arn{
      std::string(text), std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), {}};
  if (parts.size() == 4) {
    std::string_view id = parts[3];
    auto ok = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    };
    if (id.empty() || !std::all_of(id.begin(), id.end(), ok)) return std::nullopt;
    arn.subscription = id;
  }
  return arn;
}

std::string topic_arn(std::string_view region, std::string_view account, std::string_view topic) {
  return "arn:aws:sns:" + std::string(region) + ":" + std::string(account) + ":" +
         std::string(topic);
}

std::string_view protocol_name(SubscriptionProtocol protocol) {
  switch (protocol) {
    case SubscriptionProtocol::kSqs:
      return "sqs";
    case SubscriptionProtocol::kHttp:
      return "http";
    case SubscriptionProtocol::kHttps:
      return "https";
  }
  return "sqs";
}

Decoded decode_form(std::string_view query, std::string_view body) {
  Decoded out;
  try {
    Form form;
    parse_form(query, form);
    parse_form(body, form);
    const std::string* name = find(form, "Action");
    if (name == nullptr) {
      refuse(ErrorCode::kInvalidAction, "The request must contain the parameter Action.");
    }
    auto action = parse_action(*name);
    if (!action) {
      refuse(ErrorCode::kInvalidAction,
             "The action " + *name + " is not valid for this web service.");
    }
    out.request = Request{*action, decode_params(*action, form)};
  } catch (Refusal& r) {
    out.error = std::move(r.error);
  }
  return out;
}

Decoded decode(const http::Request& request) {
  return decode_form(request.query, request.body);
}

}  // namespace sluice::api::sns
