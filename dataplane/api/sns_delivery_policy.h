// SNS delivery policies for http endpoints: how often and how far apart a failed delivery is
// tried again, how fast a subscription may be sent to, and the Content-Type of its POSTs. A
// subscription's own DeliveryPolicy ({"healthyRetryPolicy": ..., "throttlePolicy": ...,
// "requestPolicy": ...}) wins over its topic's ({"http": {"defaultHealthyRetryPolicy": ...,
// "disableSubscriptionOverrides": ...}}), which wins over SNS's default: 3 retries 20 s apart.
//
// Retries run in four phases, as on SNS: numNoDelayRetries at once, numMinDelayRetries
// minDelayTarget apart, then the backoff phase from minDelayTarget to maxDelayTarget shaped by
// backoffFunction, and numMaxDelayRetries maxDelayTarget apart; numRetries counts them all.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::api::sns {

enum class Backoff { kLinear, kArithmetic, kGeometric, kExponential };

struct RetryPolicy {
  int min_delay_s = 20;
  int max_delay_s = 20;
  int num_retries = 3;
  int num_no_delay_retries = 0;
  int num_min_delay_retries = 0;
  int num_max_delay_retries = 0;
  Backoff backoff = Backoff::kLinear;

  // The wait before retry `retry` (1 for the first retry, up to num_retries).
  std::chrono::milliseconds delay_before(int retry) const;
};

struct DeliveryPolicy {
  RetryPolicy retry;
  int max_receives_per_second = 0;  // 0: not throttled
  // One of SNS's content types, in static storage: a policy is copied into every delivery it
  // governs, and copying it allocates nothing.
  std::string_view content_type = "text/plain; charset=UTF-8";

  // As GetSubscriptionAttributes reports it in EffectiveDeliveryPolicy.
  std::string to_json() const;
};

struct TopicDeliveryPolicy {
  DeliveryPolicy defaults;
  bool disable_subscription_overrides = false;
};

// SNS's limits: delays 1..3600 s with min <= max, numRetries 0..100, the phases within
// numRetries, a policy's retries within 3,600 s in all, maxReceivesPerSecond >= 1, and one of
// SNS's content types. A refusal returns nullopt with "Invalid parameter: DeliveryPolicy: ..." in
// `error`.
std::optional<DeliveryPolicy> parse_subscription_delivery_policy(std::string_view json,
                                                                 std::string* error);
std::optional<TopicDeliveryPolicy> parse_topic_delivery_policy(std::string_view json,
                                                               std::string* error);

// The policy a subscription's deliveries follow: its own unless its topic disables overrides.
DeliveryPolicy effective_delivery_policy(const TopicDeliveryPolicy* topic,
                                         const DeliveryPolicy* subscription);

}  // namespace sluice::api::sns
