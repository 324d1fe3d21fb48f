#include "sns_actions.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "sns_http_delivery.h"

namespace sluice::api::sns {
namespace {

constexpr size_t kListPage = 100;  // ListTopics and ListSubscriptions pages, as on SNS

std::string message_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffff);
}

std::string now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

std::string hex_sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  const size_t padding =
      text.empty() ? 0 : text.size() - 1 - std::min(text.size() - 1, text.find_last_not_of('='));
  out.resize(static_cast<size_t>(n) - std::min(padding, static_cast<size_t>(n)));
  return out;
}

std::map<std::string, std::string> to_map(const NameValues& values) {
  return {values.begin(), values.end()};
}

NameValues to_values(const std::map<std::string, std::string>& map) {
  return {map.begin(), map.end()};
}

ApiError from_registry(const TopicError& e) {
  ApiError error;
  if (e.code == "NotFound") {
    error = api_error(ErrorCode::kNotFound, e.message);
  } else if (e.code == "ResourceNotFound") {
    error = api_error(ErrorCode::kResourceNotFound, e.message);
  } else if (e.code == "TagLimitExceeded") {
    error = api_error(ErrorCode::kTagLimitExceeded, e.message);
  } else if (e.code == "SubscriptionLimitExceeded") {
    error = api_error(ErrorCode::kSubscriptionLimitExceeded, e.message);
  } else {
    error = api_error(ErrorCode::kInvalidParameter, e.message);
  }
  return error;
}

// The SendMessage a delivery to a queue makes. Raw deliveries carry the message attributes over
// as SQS message attributes (String.Array as String, Binary decoded from its base64).
sqs::Request queue_send(const Delivery& d, const PublishEntry& entry, bool fifo) {
  sqs::SendMessageRequest send;
  send.queue.name = d.endpoint;
  send.message.body = d.body;
  if (d.raw) {
    for (const auto& [name, a] : entry.attributes) {
      sqs::MessageAttributeValue v;
      v.name = name;
      v.data_type = a.type == "String.Array" ? "String" : a.type;
      v.value = v.binary() ? base64_decode(a.value) : a.value;
      send.message.attributes.push_back(std::move(v));
    }
  }
  if (fifo) {
    send.message.group_id = entry.group_id;
    send.message.deduplication_id =
        entry.deduplication_id.empty() ? hex_sha256(entry.message) : entry.deduplication_id;
  }
  return {sqs::Action::kSendMessage, std::move(send)};
}

// The message a queue gets: with MessageStructure=json the message is an object of texts per
// protocol, and a queue takes its "sqs" text, else the "default" one (the codec checked that
// there is one).
std::string message_for(const PublishEntry& entry) {
  if (entry.message_structure != "json") return entry.message;
  const auto texts = nlohmann::json::parse(entry.message, nullptr, false);
  for (const char* key : {"sqs", "default"}) {
    if (texts.is_object() && texts.contains(key) && texts[key].is_string())
      return texts[key].get<std::string>();
  }
  return entry.message;
}

// Publishes one entry: its deliveries' sends are appended to `out.sends`, its POSTs to
// `out.posts`.
std::optional<ApiError> publish(TopicRegistry& registry, const Arn& topic,
                                const PublishEntry& entry, std::string_view url_prefix,
                                Outcome& out, PublishResult& result) {
  PublishedMessage m{message_for(entry), entry.subject, entry.attributes, entry.group_id,
                     entry.deduplication_id};
  result.message_id = message_id();
  auto delivered = registry.fan_out(topic.text, m, result.message_id, now_iso8601(), url_prefix);
  if (delivered.error) return from_registry(*delivered.error);
  if (topic.fifo()) result.sequence_number = fmt::format("{:020d}", 0);
  for (Delivery& d : *delivered.value) {
    if (d.protocol == "sqs") {
      if (!d.dead_letter_queue.empty())
        out.fallbacks.push_back({out.sends.size(), d.dead_letter_queue, d.body});
      out.sends.push_back(queue_send(d, entry, topic.fifo()));
    } else {
      out.posts.push_back(std::move(d));
    }
  }
  return std::nullopt;
}

template <typename T>
std::span<const T> page(const std::vector<T>& all, const std::string& token, std::string* next) {
  size_t start = 0;
  if (!token.empty())
    start = std::min<size_t>(all.size(), std::strtoull(token.c_str(), nullptr, 10));
  const size_t end = std::min(all.size(), start + kListPage);
  *next = end < all.size() ? std::to_string(end) : std::string();
  return std::span<const T>(all).subspan(start, end - start);
}

std::vector<SubscriptionInfo> infos(const std::vector<Subscription>& subs,
                                    const std::string& account) {
  std::vector<SubscriptionInfo> out;
  for (const Subscription& s : subs)
    out.push_back({s.confirmed ? s.arn : "PendingConfirmation", account, s.protocol, s.endpoint,
                   s.topic_arn});
  return out;
}

}  // namespace

namespace {

// The SNS action a query-protocol request names, in its form body or its query string.
std::optional<Action> requested_action(const http::Request& request) {
  if (request.find("x-amz-target") != nullptr) return std::nullopt;
  for (std::string_view text : {request.body, request.query}) {
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find('&', at);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view pair = text.substr(at, end - at);
      if (pair.starts_with("Action=")) return parse_action(pair.substr(7));
      at = end + 1;
    }
  }
  return std::nullopt;
}

}  // namespace

sqs::Request dead_letter_copy(std::string queue, std::string body, std::string_view code,
                              std::string_view message) {
  sqs::SendMessageRequest send;
  send.queue.name = std::move(queue);
  send.message.body = std::move(body);
  for (auto [name, value] : {std::pair{std::string_view("ErrorCode"), code},
                             std::pair{std::string_view("ErrorMessage"), message}}) {
    sqs::MessageAttributeValue v;
    v.name = name;
    v.data_type = "String";
    v.value = value;
    send.message.attributes.push_back(std::move(v));
  }
  return {sqs::Action::kSendMessage, std::move(send)};
}

bool is_sns_request(const http::Request& request) {
  return requested_action(request).has_value();
}

bool is_unsigned_confirmation(const http::Request& request) {
  return request.find("authorization") == nullptr &&
         request.query.find("X-Amz-Signature=") == std::string_view::npos &&
         requested_action(request) == Action::kConfirmSubscription;
}

Outcome run(TopicRegistry& registry, const Request& request, std::string_view url_prefix,
            std::string_view request_id) {
  Outcome out;
  auto fail = [&](const ApiError& e) {
    out.reply = encode_error(e, request_id);
    out.sends.clear();
    out.fallbacks.clear();
    out.posts.clear();
    return out;
  };
  auto done = [&](std::optional<TopicError> e) {
    if (e) return fail(from_registry(*e));
    out.reply = encode_empty(request.action, request_id);
    return out;
  };
  switch (request.action) {
    case Action::kCreateTopic: {
      const auto& r = std::get<CreateTopicRequest>(request.params);
      auto created = registry.create_topic(r.name, to_map(r.attributes), r.tags);
      if (created.error) return fail(from_registry(*created.error));
      out.reply = encode_create_topic(*created.value, request_id);
      return out;
    }
    case Action::kDeleteTopic:
      return done(registry.delete_topic(std::get<ArnRequest>(request.params).arn.text));
    case Action::kListTopics: {
      const std::vector<std::string> all = registry.list_topics();
      std::string next;
      const auto shown = page(all, std::get<ListRequest>(request.params).next_token, &next);
      out.reply = encode_list_topics(shown, next, request_id);
      return out;
    }
    case Action::kGetTopicAttributes: {
      auto a = registry.topic_attributes(std::get<ArnRequest>(request.params).arn.text);
      if (a.error) return fail(from_registry(*a.error));
      out.reply = encode_attributes(request.action, to_values(*a.value), request_id);
      return out;
    }
    case Action::kSetTopicAttributes: {
      const auto& r = std::get<SetAttributeRequest>(request.params);
      return done(registry.set_topic_attribute(r.arn.text, r.name, r.value));
    }
    case Action::kSubscribe: {
      const auto& r = std::get<SubscribeRequest>(request.params);
      // The deliverer speaks plain HTTP only: an https subscription would never be delivered.
      if (r.protocol == SubscriptionProtocol::kHttps)
        return fail(api_error(ErrorCode::kInvalidParameter,
                              "Invalid parameter: Protocol: https endpoints are not supported "
                              "by this endpoint; use http"));
      std::string why;
      if (r.protocol == SubscriptionProtocol::kHttp && !parse_http_endpoint(r.endpoint, &why))
        return fail(api_error(ErrorCode::kInvalidParameter, "Invalid parameter: Endpoint: " + why));
      auto sub = registry.subscribe(r.topic.text, std::string(protocol_name(r.protocol)),
                                    r.endpoint, to_map(r.attributes), now_iso8601(), url_prefix);
      if (sub.error) return fail(from_registry(*sub.error));
      // A subscription waiting for its endpoint's confirmation is shown as SNS shows it.
      const bool pending = sub.value->confirmation.has_value();
      out.reply = encode_subscription_arn(
          request.action,
          pending && !r.return_subscription_arn ? "pending confirmation" : sub.value->arn,
          request_id);
      if (pending) out.posts.push_back(std::move(*sub.value->confirmation));
      return out;
    }
    case Action::kConfirmSubscription: {
      const auto& r = std::get<ConfirmSubscriptionRequest>(request.params);
      auto confirmed = registry.confirm_subscription(r.topic.text, r.token);
      if (confirmed.error) return fail(from_registry(*confirmed.error));
      out.reply = encode_subscription_arn(request.action, *confirmed.value, request_id);
      return out;
    }
    case Action::kUnsubscribe:
      return done(registry.unsubscribe(std::get<ArnRequest>(request.params).arn.text));
    case Action::kListSubscriptions:
    case Action::kListSubscriptionsByTopic: {
      std::string topic, token;
      if (request.action == Action::kListSubscriptions) {
        token = std::get<ListRequest>(request.params).next_token;
      } else {
        const auto& r = std::get<ListSubscriptionsByTopicRequest>(request.params);
        topic = r.topic.text;
        token = r.next_token;
      }
      auto subs = registry.list_subscriptions(topic);
      if (subs.error) return fail(from_registry(*subs.error));
      const std::vector<SubscriptionInfo> all = infos(*subs.value, registry.account());
      std::string next;
      const auto shown = page(all, token, &next);
      out.reply = encode_list_subscriptions(request.action, shown, next, request_id);
      return out;
    }
    case Action::kGetSubscriptionAttributes: {
      auto a = registry.subscription_attributes(std::get<ArnRequest>(request.params).arn.text);
      if (a.error) return fail(from_registry(*a.error));
      out.reply = encode_attributes(request.action, to_values(*a.value), request_id);
      return out;
    }
    case Action::kSetSubscriptionAttributes: {
      const auto& r = std::get<SetAttributeRequest>(request.params);
      return done(registry.set_subscription_attribute(r.arn.text, r.name, r.value));
    }
    case Action::kPublish: {
      const auto& r = std::get<PublishRequest>(request.params);
      PublishResult result;
      if (auto e = publish(registry, r.topic, r.message, url_prefix, out, result)) return fail(*e);
      out.reply = encode_publish(result, request_id);
      return out;
    }
    case Action::kPublishBatch: {
      const auto& r = std::get<PublishBatchRequest>(request.params);
      if (auto topic = registry.topic_attributes(r.topic.text); topic.error)
        return fail(from_registry(*topic.error));
      std::vector<BatchResultEntry> entries;
      for (const PublishEntry& entry : r.entries) {
        BatchResultEntry e;
        e.id = entry.id;
        e.error = publish(registry, r.topic, entry, url_prefix, out, e.published);
        entries.push_back(std::move(e));
      }
      out.reply = encode_publish_batch(entries, request_id);
      return out;
    }
    case Action::kTagResource: {
      const auto& r = std::get<TagResourceRequest>(request.params);
      return done(registry.tag(r.resource.text, r.tags));
    }
    case Action::kUntagResource: {
      const auto& r = std::get<UntagResourceRequest>(request.params);
      return done(registry.untag(r.resource.text, r.keys));
    }
    case Action::kListTagsForResource: {
      auto tags = registry.tags(std::get<ArnRequest>(request.params).arn.text);
      if (tags.error) return fail(from_registry(*tags.error));
      out.reply = encode_list_tags(*tags.value, request_id);
      return out;
    }
  }
  return fail(api_error(ErrorCode::kInvalidAction, "unknown action"));
}

}  // namespace sluice::api::sns
