#include "sns_topics.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sluice::api::sns {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxSubscriptionsPerTopic = 12'500'000;  // SNS's default quota

TopicError invalid(std::string message) {
  return {"InvalidParameter", std::move(message), 400};
}

TopicError not_found(std::string message) {
  return {"NotFound", std::move(message), 404};
}

std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffff);
}

std::string random_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string token;
  for (int i = 0; i < 8; ++i) token += fmt::format("{:016x}", rng());
  return token;
}

// "arn:aws:sqs:REGION:ACCOUNT:NAME" → NAME, or empty when `arn` is not a queue ARN.
std::string queue_name_of(std::string_view arn) {
  if (!arn.starts_with("arn:aws:sqs:")) return {};
  size_t at = 0;
  for (int colons = 0; colons < 5; ++colons) {
    at = arn.find(':', at);
    if (at == std::string_view::npos) return {};
    ++at;
  }
  return std::string(arn.substr(at));
}

bool boolean_text(const std::string& v) {
  return v == "true" || v == "false";
}

const std::vector<std::string_view> kTopicAttributes = {"DisplayName",
                                                        "Policy",
                                                        "DeliveryPolicy",
                                                        "FifoTopic",
                                                        "ContentBasedDeduplication",
                                                        "KmsMasterKeyId",
                                                        "SignatureVersion",
                                                        "TracingConfig",
                                                        "ArchivePolicy",
                                                        "DataProtectionPolicy"};
const std::vector<std::string_view> kSubscriptionAttributes = {
    "RawMessageDelivery", "FilterPolicy",        "FilterPolicyScope", "RedrivePolicy",
    "DeliveryPolicy",     "SubscriptionRoleArn", "ReplayPolicy"};

std::string default_policy(const std::string& arn, const std::string& account) {
  Json statement = {
      {"Sid", "__default_statement_ID"},
      {"Effect", "Allow"},
      {"Principal", {{"AWS", "*"}}},
      {"Action", Json::array({"SNS:GetTopicAttributes", "SNS:SetTopicAttributes",
                              "SNS:AddPermission", "SNS:RemovePermission", "SNS:DeleteTopic",
                              "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"})},
      {"Resource", arn},
      {"Condition", {{"StringEquals", {{"AWS:SourceOwner", account}}}}}};
  Json policy = {{"Version", "2008-10-17"},
                 {"Id", "__default_policy_ID"},
                 {"Statement", Json::array({statement})}};
  return policy.dump();
}

// Checks one subscription attribute and, for the filter policy, compiles it.
std::optional<TopicError> check_subscription_attribute(Subscription& sub, const std::string& name,
                                                       const std::string& value) {
  if (std::find(kSubscriptionAttributes.begin(), kSubscriptionAttributes.end(), name) ==
      kSubscriptionAttributes.end())
    return invalid("Invalid parameter: AttributeName");
  if (name == "RawMessageDelivery" && !boolean_text(value))
    return invalid("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [" +
                   value + "]. Must be true or false.");
  if (name == "FilterPolicyScope" && value != "MessageAttributes" && value != "MessageBody")
    return invalid("Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [" +
                   value + "]. Please use either MessageBody or MessageAttributes");
  if (name == "RedrivePolicy" && !value.empty() && !Json::accept(value))
    return invalid("Invalid parameter: " + name + ": failed to parse JSON.");
  Subscription next = sub;
  if (name == "RedrivePolicy") {
    next.dead_letter_queue.clear();
    if (!value.empty()) {
      const Json j = Json::parse(value);
      if (j.is_object() && j.contains("deadLetterTargetArn") &&
          j["deadLetterTargetArn"].is_string())
        next.dead_letter_queue = queue_name_of(j["deadLetterTargetArn"].get<std::string>());
      if (next.dead_letter_queue.empty())
        return invalid(
            "Invalid parameter: RedrivePolicy: deadLetterTargetArn is missing or is "
            "not a queue ARN");
    }
  }
  if (name == "DeliveryPolicy") {
    next.delivery_policy.reset();
    if (!value.empty()) {
      if (sub.protocol != "http" && sub.protocol != "https")
        return invalid("Invalid parameter: DeliveryPolicy: Delivery protocol [" + sub.protocol +
                       "] does not support delivery policies");
      std::string error;
      auto policy = parse_subscription_delivery_policy(value, &error);
      if (!policy) return invalid(error);
      next.delivery_policy = std::make_shared<const DeliveryPolicy>(std::move(*policy));
    }
  }
  if (value.empty() && (name == "FilterPolicy" || name == "DeliveryPolicy")) {
    next.attributes.erase(name);
  } else {
    next.attributes[name] = value;
  }
  if (name == "FilterPolicy" || name == "FilterPolicyScope") {
    auto it = next.attributes.find("FilterPolicy");
    if (it == next.attributes.end()) {
      next.filter.reset();
    } else {
      const auto scope_it = next.attributes.find("FilterPolicyScope");
      const Scope scope = scope_it != next.attributes.end() && scope_it->second == "MessageBody"
                              ? Scope::kMessageBody
                              : Scope::kMessageAttributes;
      std::string error;
      auto policy = parse_filter_policy(it->second, scope, &error);
      if (!policy) return invalid(error);
      next.filter = std::make_shared<const FilterPolicy>(std::move(*policy));
    }
  }
  sub = std::move(next);
  return std::nullopt;
}

// Applies a subscription's attributes, the filter policy's scope before the policy, which is
// compiled for it.
std::optional<TopicError> apply_subscription_attributes(
    Subscription& sub, const std::map<std::string, std::string>& attributes) {
  if (auto it = attributes.find("FilterPolicyScope"); it != attributes.end())
    if (auto error = check_subscription_attribute(sub, it->first, it->second)) return error;
  for (const auto& [name, value] : attributes) {
    if (name == "FilterPolicyScope") continue;
    if (auto error = check_subscription_attribute(sub, name, value)) return error;
  }
  return std::nullopt;
}

// The DeliveryPolicy topic attribute compiled; null when it is not set.
TopicResult<std::shared_ptr<const TopicDeliveryPolicy>> topic_delivery_policy(
    const std::map<std::string, std::string>& attributes) {
  auto it = attributes.find("DeliveryPolicy");
  if (it == attributes.end() || it->second.empty()) return {.value = nullptr};
  std::string error;
  auto policy = parse_topic_delivery_policy(it->second, &error);
  if (!policy) return {.error = invalid(error)};
  return {.value = std::make_shared<const TopicDeliveryPolicy>(std::move(*policy))};
}

DeliveryPolicy effective_policy(const Topic& topic, const Subscription& sub) {
  return effective_delivery_policy(topic.delivery_policy.get(), sub.delivery_policy.get());
}

Json attributes_json(const MessageAttributes& attributes) {
  Json out = Json::object();
  for (const auto& [name, a] : attributes) out[name] = {{"Type", a.type}, {"Value", a.value}};
  return out;
}

}  // namespace

bool Subscription::raw() const {
  auto it = attributes.find("RawMessageDelivery");
  return it != attributes.end() && it->second == "true";
}

std::string notification_signature(const MessageSigner& signer, const Topic& topic,
                                   const PublishedMessage& message, const std::string& message_id,
                                   const std::string& timestamp) {
  std::vector<std::pair<std::string_view, std::string_view>> fields = {{"Message", message.message},
                                                                       {"MessageId", message_id}};
  if (!message.subject.empty()) fields.emplace_back("Subject", message.subject);
  fields.emplace_back("Timestamp", timestamp);
  fields.emplace_back("TopicArn", topic.arn);
  fields.emplace_back("Type", "Notification");
  return signer.sign(fields);
}

std::string notification_envelope(const std::string& signature, const Topic& topic,
                                  const Subscription& subscription, const PublishedMessage& message,
                                  const std::string& message_id, const std::string& timestamp,
                                  std::string_view url_prefix) {
  Json e;
  e["Type"] = "Notification";
  e["MessageId"] = message_id;
  if (topic.fifo) e["SequenceNumber"] = "0";
  e["TopicArn"] = topic.arn;
  if (!message.subject.empty()) e["Subject"] = message.subject;
  e["Message"] = message.message;
  e["Timestamp"] = timestamp;
  e["SignatureVersion"] = "1";
  e["Signature"] = signature;
  e["SigningCertURL"] = fmt::format("{}{}", url_prefix, MessageSigner::kCertificatePath);
  e["UnsubscribeURL"] =
      fmt::format("{}?Action=Unsubscribe&SubscriptionArn={}", url_prefix, subscription.arn);
  if (!message.attributes.empty()) e["MessageAttributes"] = attributes_json(message.attributes);
  return e.dump();
}

TopicRegistry::TopicRegistry(std::string region, std::string account, std::string directory)
    : region_(std::move(region)), account_(std::move(account)), directory_(std::move(directory)) {
  if (!directory_.empty()) load();
}

std::string TopicRegistry::topic_arn(std::string_view name) const {
  return fmt::format("arn:aws:sns:{}:{}:{}", region_, account_, name);
}

Topic* TopicRegistry::find_topic(const std::string& arn) {
  auto it = topics_.find(arn);
  return it == topics_.end() ? nullptr : &it->second;
}

const Topic* TopicRegistry::find_topic(const std::string& arn) const {
  auto it = topics_.find(arn);
  return it == topics_.end() ? nullptr : &it->second;
}

TopicResult<std::string> TopicRegistry::create_topic(
    const std::string& name, const std::map<std::string, std::string>& attributes,
    const std::vector<std::pair<std::string, std::string>>& tags) {
  const bool fifo_name = name.ends_with(".fifo");
  auto fifo_it = attributes.find("FifoTopic");
  const bool fifo = fifo_it != attributes.end() && fifo_it->second == "true";
  for (const auto& [key, value] : attributes) {
    if (std::find(kTopicAttributes.begin(), kTopicAttributes.end(), key) == kTopicAttributes.end())
      return {.error = invalid("Invalid parameter: Attributes Reason: Unknown attribute " + key)};
    if ((key == "FifoTopic" || key == "ContentBasedDeduplication") && !boolean_text(value))
      return {.error = invalid("Invalid parameter: Attributes Reason: " + key +
                               ": Invalid value [" + value + "]")};
  }
  if (fifo != fifo_name)
    return {.error = invalid(
                "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of "
                "only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, "
                "and must be between 1 and 256 characters long.")};
  if (!fifo && attributes.contains("ContentBasedDeduplication"))
    return {.error = invalid(
                "Invalid parameter: Attributes Reason: ContentBasedDeduplication is only valid "
                "for FIFO topics")};
  auto delivery_policy = topic_delivery_policy(attributes);
  if (delivery_policy.error) return {.error = delivery_policy.error};
  std::unique_lock lock(mutex_);
  const std::string arn = topic_arn(name);
  if (Topic* existing = find_topic(arn)) {
    for (const auto& [key, value] : attributes) {
      auto it = existing->attributes.find(key);
      if (it == existing->attributes.end() || it->second != value)
        return {.error = invalid(
                    "Invalid parameter: Attributes Reason: Topic already exists with different "
                    "attributes")};
    }
    return {.value = arn};
  }
  Topic topic;
  topic.name = name;
  topic.arn = arn;
  topic.fifo = fifo;
  topic.attributes = attributes;
  topic.tags = tags;
  topic.delivery_policy = std::move(*delivery_policy.value);
  topics_.emplace(arn, std::move(topic));
  save();
  return {.value = arn};
}

std::optional<TopicError> TopicRegistry::delete_topic(const std::string& arn) {
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(arn);
  if (topic == nullptr) return std::nullopt;  // SNS: deleting a missing topic succeeds
  for (const std::string& sub : topic->subscriptions) subscriptions_.erase(sub);
  topics_.erase(arn);
  save();
  return std::nullopt;
}

std::vector<std::string> TopicRegistry::list_topics() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [arn, topic] : topics_) out.push_back(arn);
  return out;
}

TopicResult<std::map<std::string, std::string>> TopicRegistry::topic_attributes(
    const std::string& arn) const {
  std::shared_lock lock(mutex_);
  const Topic* topic = find_topic(arn);
  if (topic == nullptr) return {.error = not_found("Topic does not exist")};
  std::map<std::string, std::string> out;
  out["TopicArn"] = topic->arn;
  out["Owner"] = account_;
  out["DisplayName"] = "";
  out["Policy"] = default_policy(topic->arn, account_);
  size_t confirmed = 0, pending = 0;
  for (const std::string& s : topic->subscriptions) {
    auto it = subscriptions_.find(s);
    if (it == subscriptions_.end()) continue;
    (it->second.confirmed ? confirmed : pending) += 1;
  }
  out["SubscriptionsConfirmed"] = std::to_string(confirmed);
  out["SubscriptionsPending"] = std::to_string(pending);
  out["SubscriptionsDeleted"] = "0";
  const TopicDeliveryPolicy delivery =
      topic->delivery_policy ? *topic->delivery_policy : TopicDeliveryPolicy{};
  const Json defaults = Json::parse(delivery.defaults.to_json());
  Json http = {{"defaultHealthyRetryPolicy", defaults["healthyRetryPolicy"]},
               {"disableSubscriptionOverrides", delivery.disable_subscription_overrides}};
  if (defaults.contains("throttlePolicy"))
    http["defaultThrottlePolicy"] = defaults["throttlePolicy"];
  if (defaults.contains("requestPolicy")) http["defaultRequestPolicy"] = defaults["requestPolicy"];
  out["EffectiveDeliveryPolicy"] = Json{{"http", http}}.dump();
  if (topic->fifo) {
    out["FifoTopic"] = "true";
    out["ContentBasedDeduplication"] = "false";
  }
  for (const auto& [key, value] : topic->attributes) out[key] = value;
  return {.value = std::move(out)};
}

std::optional<TopicError> TopicRegistry::set_topic_attribute(const std::string& arn,
                                                             const std::string& name,
                                                             const std::string& value) {
  if (std::find(kTopicAttributes.begin(), kTopicAttributes.end(), name) == kTopicAttributes.end() ||
      name == "FifoTopic")
    return invalid("Invalid parameter: AttributeName");
  if (name == "ContentBasedDeduplication" && !boolean_text(value))
    return invalid(
        "Invalid parameter: Attributes Reason: ContentBasedDeduplication: Invalid "
        "value [" +
        value + "]");
  if (name == "Policy" && !value.empty() && !Json::accept(value))
    return invalid("Invalid parameter: " + name + ": failed to parse JSON.");
  auto delivery_policy = topic_delivery_policy({{name, value}});
  if (delivery_policy.error) return delivery_policy.error;
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(arn);
  if (topic == nullptr) return not_found("Topic does not exist");
  if (name == "ContentBasedDeduplication" && !topic->fifo)
    return invalid("Invalid parameter: ContentBasedDeduplication is only valid for FIFO topics");
  topic->attributes[name] = value;
  if (name == "DeliveryPolicy") topic->delivery_policy = std::move(*delivery_policy.value);
  save();
  return std::nullopt;
}

TopicResult<TopicRegistry::Subscribed> TopicRegistry::subscribe(
    const std::string& topic_arn, const std::string& protocol, const std::string& endpoint,
    const std::map<std::string, std::string>& attributes, const std::string& timestamp,
    std::string_view url_prefix) {
  if (protocol == "sqs") {
    if (queue_name_of(endpoint).empty())
      return {.error = invalid("Invalid parameter: SQS endpoint ARN")};
  } else if (protocol == "http" || protocol == "https") {
    if (!endpoint.starts_with(protocol + "://"))
      return {.error = invalid("Invalid parameter: Endpoint must match the specified protocol")};
  } else {
    return {.error = invalid("Invalid parameter: Amazon SNS does not support this protocol "
                             "string: " +
                             protocol)};
  }
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(topic_arn);
  if (topic == nullptr) return {.error = not_found("Topic does not exist")};
  for (const std::string& existing : topic->subscriptions) {
    const Subscription& s = subscriptions_.at(existing);
    if (s.protocol == protocol && s.endpoint == endpoint) {
      for (const auto& [k, v] : attributes) {
        auto it = s.attributes.find(k);
        if (it == s.attributes.end() || it->second != v)
          return {.error = invalid(
                      "Invalid parameter: Attributes Reason: Subscription already exists with "
                      "different attributes")};
      }
      return {.value = Subscribed{s.arn, std::nullopt}};
    }
  }
  if (topic->subscriptions.size() >= kMaxSubscriptionsPerTopic)
    return {.error = TopicError{"SubscriptionLimitExceeded", "Subscription limit exceeded", 403}};
  if (topic->fifo && protocol != "sqs")
    return {.error = invalid("Invalid parameter: Invalid protocol type: " + protocol +
                             " for FIFO topics")};
  Subscription sub;
  sub.arn = topic_arn + ":" + random_uuid();
  sub.topic_arn = topic_arn;
  sub.protocol = protocol;
  sub.endpoint = endpoint;
  if (auto error = apply_subscription_attributes(sub, attributes)) return {.error = error};
  sub.confirmed = protocol == "sqs";
  Subscribed result{sub.arn, std::nullopt};
  if (!sub.confirmed) {
    sub.token = random_token();
    const std::string message_id = random_uuid();
    const std::string text = "You have chosen to subscribe to the topic " + topic_arn +
                             ".\nTo confirm the subscription, visit the SubscribeURL included in "
                             "this message.";
    const std::string subscribe_url = fmt::format(
        "{}?Action=ConfirmSubscription&TopicArn={}&Token={}", url_prefix, topic_arn, sub.token);
    Json c;
    c["Type"] = "SubscriptionConfirmation";
    c["MessageId"] = message_id;
    c["Token"] = sub.token;
    c["TopicArn"] = topic_arn;
    c["Message"] = text;
    c["SubscribeURL"] = subscribe_url;
    c["Timestamp"] = timestamp;
    c["SignatureVersion"] = "1";
    c["Signature"] = signer_.sign({{"Message", text},
                                   {"MessageId", message_id},
                                   {"SubscribeURL", subscribe_url},
                                   {"Timestamp", timestamp},
                                   {"Token", sub.token},
                                   {"TopicArn", topic_arn},
                                   {"Type", "SubscriptionConfirmation"}});
    c["SigningCertURL"] = fmt::format("{}{}", url_prefix, MessageSigner::kCertificatePath);
    result.confirmation = Delivery{.subscription_arn = sub.arn,
                                   .protocol = protocol,
                                   .endpoint = endpoint,
                                   .body = c.dump(),
                                   .message_type = "SubscriptionConfirmation",
                                   .message_id = message_id,
                                   .topic_arn = topic_arn,
                                   .policy = effective_policy(*topic, sub),
                                   .dead_letter_queue = sub.dead_letter_queue};
  }
  topic->subscriptions.push_back(sub.arn);
  subscriptions_.emplace(sub.arn, std::move(sub));
  Rebuild rebuild = start_rebuild(*topic);
  save();
  lock.unlock();
  finish_rebuild(std::move(rebuild));
  return {.value = std::move(result)};
}

TopicResult<std::string> TopicRegistry::confirm_subscription(const std::string& topic_arn,
                                                             const std::string& token) {
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(topic_arn);
  if (topic == nullptr) return {.error = not_found("Topic does not exist")};
  for (const std::string& arn : topic->subscriptions) {
    Subscription& s = subscriptions_.at(arn);
    if (!s.token.empty() && s.token == token) {
      s.confirmed = true;
      save();
      return {.value = s.arn};
    }
  }
  return {.error = invalid("Invalid token")};
}

std::optional<TopicError> TopicRegistry::unsubscribe(const std::string& subscription_arn) {
  std::unique_lock lock(mutex_);
  auto it = subscriptions_.find(subscription_arn);
  if (it == subscriptions_.end()) return not_found("Subscription does not exist");
  Topic* topic = find_topic(it->second.topic_arn);
  if (topic != nullptr) std::erase(topic->subscriptions, it->first);
  subscriptions_.erase(it);
  std::optional<Rebuild> rebuild;
  if (topic != nullptr) rebuild = start_rebuild(*topic);
  save();
  lock.unlock();
  if (rebuild) finish_rebuild(std::move(*rebuild));
  return std::nullopt;
}

TopicResult<std::vector<Subscription>> TopicRegistry::list_subscriptions(
    const std::string& topic_arn) const {
  std::shared_lock lock(mutex_);
  std::vector<Subscription> out;
  if (topic_arn.empty()) {
    for (const auto& [arn, s] : subscriptions_) out.push_back(s);
    // In ARN order, so that pages of a listing follow one another.
    std::sort(out.begin(), out.end(),
              [](const Subscription& a, const Subscription& b) { return a.arn < b.arn; });
    return {.value = std::move(out)};
  }
  const Topic* topic = find_topic(topic_arn);
  if (topic == nullptr) return {.error = not_found("Topic does not exist")};
  for (const std::string& arn : topic->subscriptions) out.push_back(subscriptions_.at(arn));
  return {.value = std::move(out)};
}

TopicResult<std::map<std::string, std::string>> TopicRegistry::subscription_attributes(
    const std::string& arn) const {
  std::shared_lock lock(mutex_);
  auto it = subscriptions_.find(arn);
  if (it == subscriptions_.end()) return {.error = not_found("Subscription does not exist")};
  const Subscription& s = it->second;
  std::map<std::string, std::string> out = s.attributes;
  out["SubscriptionArn"] = s.arn;
  out["TopicArn"] = s.topic_arn;
  out["Protocol"] = s.protocol;
  out["Endpoint"] = s.endpoint;
  out["Owner"] = account_;
  out["ConfirmationWasAuthenticated"] = s.protocol == "sqs" ? "true" : "false";
  out["PendingConfirmation"] = s.confirmed ? "false" : "true";
  if (!out.contains("RawMessageDelivery")) out["RawMessageDelivery"] = "false";
  if (out.contains("FilterPolicy") && !out.contains("FilterPolicyScope"))
    out["FilterPolicyScope"] = "MessageAttributes";
  if (s.protocol != "sqs") {
    const Topic* topic = find_topic(s.topic_arn);
    if (topic != nullptr) out["EffectiveDeliveryPolicy"] = effective_policy(*topic, s).to_json();
  }
  return {.value = std::move(out)};
}

std::optional<TopicError> TopicRegistry::set_subscription_attribute(const std::string& arn,
                                                                    const std::string& name,
                                                                    const std::string& value) {
  std::unique_lock lock(mutex_);
  auto it = subscriptions_.find(arn);
  if (it == subscriptions_.end()) return not_found("Subscription does not exist");
  if (auto error = check_subscription_attribute(it->second, name, value)) return error;
  std::optional<Rebuild> rebuild;
  if (Topic* topic = find_topic(it->second.topic_arn)) rebuild = start_rebuild(*topic);
  save();
  lock.unlock();
  if (rebuild) finish_rebuild(std::move(*rebuild));
  return std::nullopt;
}

std::optional<TopicError> TopicRegistry::tag(
    const std::string& arn, const std::vector<std::pair<std::string, std::string>>& tags) {
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(arn);
  if (topic == nullptr) return {{"ResourceNotFound", "Resource does not exist", 404}};
  for (const auto& tag : tags) {
    auto it = std::find_if(topic->tags.begin(), topic->tags.end(),
                           [&](const auto& t) { return t.first == tag.first; });
    if (it != topic->tags.end()) {
      it->second = tag.second;
    } else {
      topic->tags.push_back(tag);
    }
  }
  if (topic->tags.size() > 50)
    return TopicError{"TagLimitExceeded", "Could not complete request: tag quota exceeded", 400};
  save();
  return std::nullopt;
}

std::optional<TopicError> TopicRegistry::untag(const std::string& arn,
                                               const std::vector<std::string>& keys) {
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(arn);
  if (topic == nullptr) return {{"ResourceNotFound", "Resource does not exist", 404}};
  for (const std::string& key : keys)
    std::erase_if(topic->tags, [&](const auto& t) { return t.first == key; });
  save();
  return std::nullopt;
}

TopicResult<std::vector<std::pair<std::string, std::string>>> TopicRegistry::tags(
    const std::string& arn) const {
  std::shared_lock lock(mutex_);
  const Topic* topic = find_topic(arn);
  if (topic == nullptr)
    return {.error = TopicError{"ResourceNotFound", "Resource does not exist", 404}};
  return {.value = topic->tags};
}

TopicResult<std::vector<Delivery>> TopicRegistry::fan_out(const std::string& topic_arn,
                                                          const PublishedMessage& message,
                                                          const std::string& message_id,
                                                          const std::string& timestamp,
                                                          std::string_view url_prefix) const {
  std::shared_lock lock(mutex_);
  const Topic* topic = find_topic(topic_arn);
  if (topic == nullptr) return {.error = not_found("Topic does not exist")};
  if (topic->fifo && message.group_id.empty())
    return {.error = invalid("Invalid parameter: The MessageGroupId parameter is required for "
                             "FIFO topics")};
  if (!topic->fifo && !message.group_id.empty())
    return {.error = invalid("Invalid parameter: MessageGroupId Reason: The request includes "
                             "MessageGroupId parameter that is not valid for this topic type")};
  if (topic->fifo && message.deduplication_id.empty()) {
    auto it = topic->attributes.find("ContentBasedDeduplication");
    if (it == topic->attributes.end() || it->second != "true")
      return {.error = invalid(
                  "Invalid parameter: The topic should either have ContentBasedDeduplication "
                  "enabled or MessageDeduplicationId provided explicitly")};
  }
  // The subscriptions the message passes, in subscription order.
  std::vector<size_t> chosen;
  topic->filters.match(message.attributes, message.message, &chosen);
  std::vector<Delivery> out;
  // Every copy of one notification carries the same signed fields: one signature serves all.
  std::string signature;
  for (size_t i : chosen) {
    // A subscription gone since the set was built is passed over.
    auto found = subscriptions_.find(topic->filtered[i]);
    if (found == subscriptions_.end()) continue;
    const Subscription& s = found->second;
    if (!s.confirmed) continue;
    Delivery d;
    d.subscription_arn = s.arn;
    d.protocol = s.protocol;
    d.endpoint = s.protocol == "sqs" ? queue_name_of(s.endpoint) : s.endpoint;
    d.raw = s.raw();
    if (!d.raw && signature.empty())
      signature = notification_signature(signer_, *topic, message, message_id, timestamp);
    d.body = d.raw ? message.message
                   : notification_envelope(signature, *topic, s, message, message_id, timestamp,
                                           url_prefix);
    if (s.protocol != "sqs") {
      d.message_type = "Notification";
      d.message_id = message_id;
      d.topic_arn = topic->arn;
      d.policy = effective_policy(*topic, s);
    }
    d.dead_letter_queue = s.dead_letter_queue;
    out.push_back(std::move(d));
  }
  return {.value = std::move(out)};
}

TopicRegistry::Rebuild TopicRegistry::start_rebuild(Topic& topic) {
  // Numbered across the registry, so that a topic deleted and made again does not take a set
  // built for the one before.
  topic.generation = ++rebuilds_;
  Rebuild r{topic.arn, topic.generation, topic.subscriptions, {}};
  for (size_t i = 0; i < topic.subscriptions.size(); ++i)
    r.members.push_back({i, subscriptions_.at(topic.subscriptions[i]).filter});
  return r;
}

void TopicRegistry::finish_rebuild(Rebuild rebuild) {
  FilterSet filters(rebuild.members);
  std::unique_lock lock(mutex_);
  Topic* topic = find_topic(rebuild.topic_arn);
  if (topic == nullptr || topic->generation != rebuild.generation) return;
  topic->filters = std::move(filters);
  topic->filtered = std::move(rebuild.subscriptions);
}

void TopicRegistry::save() const {
  if (directory_.empty()) return;
  Json doc;
  doc["version"] = 1;
  Json topics = Json::array();
  for (const auto& [arn, t] : topics_) {
    Json tags = Json::array();
    for (const auto& [k, v] : t.tags) tags.push_back({k, v});
    topics.push_back({{"name", t.name},
                      {"fifo", t.fifo},
                      {"attributes", t.attributes},
                      {"tags", tags},
                      {"subscriptions", t.subscriptions}});
  }
  doc["topics"] = topics;
  Json subs = Json::array();
  for (const auto& [arn, s] : subscriptions_) {
    subs.push_back({{"arn", s.arn},
                    {"topic_arn", s.topic_arn},
                    {"protocol", s.protocol},
                    {"endpoint", s.endpoint},
                    {"attributes", s.attributes},
                    {"confirmed", s.confirmed},
                    {"token", s.token}});
  }
  doc["subscriptions"] = subs;
  const std::string text = doc.dump(1);
  const std::string path = directory_ + "/topics.json";
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + temporary);
  size_t at = 0;
  while (at < text.size()) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("cannot write " + temporary);
    }
    at += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temporary.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot replace " + path);
}

void TopicRegistry::load() {
  const std::string path = directory_ + "/topics.json";
  std::ifstream in(path);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  try {
    const Json doc = Json::parse(text.str());
    for (const Json& t : doc.at("topics")) {
      Topic topic;
      topic.name = t.at("name").get<std::string>();
      topic.arn = topic_arn(topic.name);
      topic.fifo = t.at("fifo").get<bool>();
      topic.attributes = t.at("attributes").get<std::map<std::string, std::string>>();
      for (const Json& tag : t.at("tags"))
        topic.tags.emplace_back(tag.at(0).get<std::string>(), tag.at(1).get<std::string>());
      topic.subscriptions = t.at("subscriptions").get<std::vector<std::string>>();
      auto delivery_policy = topic_delivery_policy(topic.attributes);
      if (delivery_policy.error)
        throw std::runtime_error("topic " + topic.arn + ": " + delivery_policy.error->message);
      topic.delivery_policy = std::move(*delivery_policy.value);
      topics_.emplace(topic.arn, std::move(topic));
    }
    for (const Json& j : doc.at("subscriptions")) {
      Subscription s;
      s.arn = j.at("arn").get<std::string>();
      s.topic_arn = j.at("topic_arn").get<std::string>();
      s.protocol = j.at("protocol").get<std::string>();
      s.endpoint = j.at("endpoint").get<std::string>();
      s.confirmed = j.at("confirmed").get<bool>();
      s.token = j.at("token").get<std::string>();
      if (auto error = apply_subscription_attributes(
              s, j.at("attributes").get<std::map<std::string, std::string>>()))
        throw std::runtime_error("subscription " + s.arn + ": " + error->message);
      subscriptions_.emplace(s.arn, std::move(s));
    }
    for (auto& [arn, topic] : topics_) {
      Rebuild rebuild = start_rebuild(topic);
      topic.filters = FilterSet(rebuild.members);
      topic.filtered = std::move(rebuild.subscriptions);
    }
  } catch (const Json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace sluice::api::sns
