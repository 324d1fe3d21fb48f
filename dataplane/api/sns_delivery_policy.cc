#include "sns_delivery_policy.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace sluice::api::sns {
namespace {

using Json = nlohmann::json;

constexpr int kMaxDelayS = 3600;
constexpr int kMaxRetries = 100;
constexpr int kMaxTotalRetryS = 3600;

constexpr std::array<std::string_view, 4> kBackoffNames = {"linear", "arithmetic", "geometric",
                                                           "exponential"};
constexpr std::array<std::string_view, 10> kContentTypes = {"application/json",
                                                            "application/xml",
                                                            "text/css",
                                                            "text/csv",
                                                            "text/html",
                                                            "text/plain",
                                                            "text/xml",
                                                            "application/atom+xml",
                                                            "application/octet-stream",
                                                            "application/x-www-form-urlencoded"};

struct Refusal {
  std::string message;
};

[[noreturn]] void refuse(std::string message) {
  throw Refusal{"Invalid parameter: DeliveryPolicy: " + std::move(message)};
}

const Json& object_of(const Json& j, std::string_view where) {
  if (!j.is_object()) refuse(fmt::format("{} must be a JSON object", where));
  return j;
}

int integer(const Json& object, const char* key, int fallback, int low, int high) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) refuse(fmt::format("{} must be an integer", key));
  const int64_t v = it->get<int64_t>();
  if (v < low || v > high) refuse(fmt::format("{} must be between {} and {}", key, low, high));
  return static_cast<int>(v);
}

void check_keys(const Json& object, std::initializer_list<std::string_view> known,
                std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || key == k;
    if (!ok) refuse(fmt::format("unknown key {} in {}", key, where));
  }
}

RetryPolicy retry_policy(const Json& j) {
  object_of(j, "healthyRetryPolicy");
  check_keys(j,
             {"minDelayTarget", "maxDelayTarget", "numRetries", "numNoDelayRetries",
              "numMinDelayRetries", "numMaxDelayRetries", "backoffFunction"},
             "healthyRetryPolicy");
  RetryPolicy r;
  r.min_delay_s = integer(j, "minDelayTarget", r.min_delay_s, 1, kMaxDelayS);
  r.max_delay_s =
      integer(j, "maxDelayTarget", std::max(r.min_delay_s, r.max_delay_s), 1, kMaxDelayS);
  if (r.min_delay_s > r.max_delay_s) refuse("minDelayTarget must not exceed maxDelayTarget");
  r.num_retries = integer(j, "numRetries", r.num_retries, 0, kMaxRetries);
  r.num_no_delay_retries = integer(j, "numNoDelayRetries", 0, 0, kMaxRetries);
  r.num_min_delay_retries = integer(j, "numMinDelayRetries", 0, 0, kMaxRetries);
  r.num_max_delay_retries = integer(j, "numMaxDelayRetries", 0, 0, kMaxRetries);
  if (r.num_no_delay_retries + r.num_min_delay_retries + r.num_max_delay_retries > r.num_retries)
    refuse(
        "numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries together must not exceed "
        "numRetries");
  if (auto it = j.find("backoffFunction"); it != j.end()) {
    if (!it->is_string()) refuse("backoffFunction must be a string");
    const std::string name = it->get<std::string>();
    size_t i = 0;
    while (i < kBackoffNames.size() && kBackoffNames[i] != name) ++i;
    if (i == kBackoffNames.size())
      refuse("backoffFunction must be linear, arithmetic, geometric or exponential");
    r.backoff = static_cast<Backoff>(i);
  }
  std::chrono::milliseconds total{};
  for (int k = 1; k <= r.num_retries; ++k) total += r.delay_before(k);
  if (total > std::chrono::seconds(kMaxTotalRetryS))
    refuse(fmt::format("the retries take {} s in all, more than the {} s allowed",
                       total.count() / 1000, kMaxTotalRetryS));
  return r;
}

int throttle(const Json& j) {
  object_of(j, "throttlePolicy");
  check_keys(j, {"maxReceivesPerSecond"}, "throttlePolicy");
  return integer(j, "maxReceivesPerSecond", 0, 1, 1'000'000);
}

std::string_view content_type(const Json& j) {
  object_of(j, "requestPolicy");
  check_keys(j, {"headerContentType"}, "requestPolicy");
  auto it = j.find("headerContentType");
  if (it == j.end()) return DeliveryPolicy{}.content_type;
  if (!it->is_string()) refuse("headerContentType must be a string");
  const std::string type = it->get<std::string>();
  for (std::string_view known : kContentTypes)
    if (type == known) return known;
  refuse("headerContentType " + type + " is not supported");
}

Json parse_json(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) refuse("failed to parse JSON");
  return j;
}

template <typename F>
auto guarded(std::string* error, F&& f) -> std::optional<decltype(f())> {
  try {
    return f();
  } catch (const Refusal& r) {
    *error = r.message;
    return std::nullopt;
  }
}

}  // namespace

std::chrono::milliseconds RetryPolicy::delay_before(int retry) const {
  using std::chrono::milliseconds;
  const milliseconds min{min_delay_s * 1000}, max{max_delay_s * 1000};
  if (retry <= num_no_delay_retries) return {};
  retry -= num_no_delay_retries;
  if (retry <= num_min_delay_retries) return min;
  retry -= num_min_delay_retries;
  const int backoff_retries =
      num_retries - num_no_delay_retries - num_min_delay_retries - num_max_delay_retries;
  if (retry > backoff_retries) return max;
  // Position in the backoff phase, 0 at its first retry and 1 at its last.
  const double t = backoff_retries <= 1 ? 1.0 : double(retry - 1) / (backoff_retries - 1);
  double share = t;
  switch (backoff) {
    case Backoff::kLinear:
      break;
    case Backoff::kArithmetic:  // the steps grow by equal amounts
      share = t * t;
      break;
    case Backoff::kGeometric:  // each delay a fixed multiple of the one before
      return milliseconds(
          std::llround(double(min.count()) * std::pow(double(max.count()) / min.count(), t)));
    case Backoff::kExponential:  // flat at first, steep at the end
      share = (std::exp2(10 * t) - 1) / (std::exp2(10.0) - 1);
      break;
  }
  return milliseconds(std::llround(double(min.count()) + share * double((max - min).count())));
}

std::string DeliveryPolicy::to_json() const {
  Json retry_json = {{"minDelayTarget", retry.min_delay_s},
                     {"maxDelayTarget", retry.max_delay_s},
                     {"numRetries", retry.num_retries},
                     {"numMaxDelayRetries", retry.num_max_delay_retries},
                     {"numNoDelayRetries", retry.num_no_delay_retries},
                     {"numMinDelayRetries", retry.num_min_delay_retries},
                     {"backoffFunction", kBackoffNames[static_cast<size_t>(retry.backoff)]}};
  Json out = {{"healthyRetryPolicy", retry_json}};
  if (max_receives_per_second > 0)
    out["throttlePolicy"] = {{"maxReceivesPerSecond", max_receives_per_second}};
  if (content_type != DeliveryPolicy{}.content_type)
    out["requestPolicy"] = {{"headerContentType", content_type}};
  return out.dump();
}

std::optional<DeliveryPolicy> parse_subscription_delivery_policy(std::string_view json,
                                                                 std::string* error) {
  return guarded(error, [&] {
    const Json j = parse_json(json);
    object_of(j, "the policy");
    check_keys(j, {"healthyRetryPolicy", "throttlePolicy", "requestPolicy"}, "the policy");
    DeliveryPolicy p;
    if (j.contains("healthyRetryPolicy")) p.retry = retry_policy(j["healthyRetryPolicy"]);
    if (j.contains("throttlePolicy")) p.max_receives_per_second = throttle(j["throttlePolicy"]);
    if (j.contains("requestPolicy")) p.content_type = content_type(j["requestPolicy"]);
    return p;
  });
}

std::optional<TopicDeliveryPolicy> parse_topic_delivery_policy(std::string_view json,
                                                               std::string* error) {
  return guarded(error, [&] {
    const Json j = parse_json(json);
    object_of(j, "the policy");
    TopicDeliveryPolicy p;
    // Other protocols' sections are accepted and kept, as SNS does; only http is delivered here.
    auto http = j.find("http");
    if (http == j.end()) return p;
    object_of(*http, "http");
    check_keys(*http,
               {"defaultHealthyRetryPolicy", "defaultThrottlePolicy", "defaultRequestPolicy",
                "disableSubscriptionOverrides"},
               "http");
    if (http->contains("defaultHealthyRetryPolicy"))
      p.defaults.retry = retry_policy((*http)["defaultHealthyRetryPolicy"]);
    if (http->contains("defaultThrottlePolicy"))
      p.defaults.max_receives_per_second = throttle((*http)["defaultThrottlePolicy"]);
    if (http->contains("defaultRequestPolicy"))
      p.defaults.content_type = content_type((*http)["defaultRequestPolicy"]);
    if (auto d = http->find("disableSubscriptionOverrides"); d != http->end()) {
      if (!d->is_boolean()) refuse("disableSubscriptionOverrides must be true or false");
      p.disable_subscription_overrides = d->get<bool>();
    }
    return p;
  });
}

DeliveryPolicy effective_delivery_policy(const TopicDeliveryPolicy* topic,
                                         const DeliveryPolicy* subscription) {
  if (subscription != nullptr && (topic == nullptr || !topic->disable_subscription_overrides))
    return *subscription;
  return topic != nullptr ? topic->defaults : DeliveryPolicy{};
}

}  // namespace sluice::api::sns
