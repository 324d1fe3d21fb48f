// libFuzzer target: the SNS delivery-policy parsers (subscription and topic forms) and the http
// endpoint URL parser. Any input may be refused, never crash. A refusal names the attribute; an
// accepted policy keeps SNS's limits (its retries within an hour in all, each delay between the
// targets), and its EffectiveDeliveryPolicy JSON parses back to the same policy. An accepted URL
// has a host, a port and a target starting with '/'.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sns_delivery_policy.h"
#include "sns_http_delivery.h"

using namespace sluice::api::sns;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

void check_policy(const DeliveryPolicy& p) {
  const RetryPolicy& r = p.retry;
  check(r.num_retries >= 0 && r.num_retries <= 100);
  check(r.min_delay_s >= 1 && r.min_delay_s <= r.max_delay_s && r.max_delay_s <= 3600);
  std::chrono::milliseconds total{};
  for (int k = 1; k <= r.num_retries; ++k) {
    const auto d = r.delay_before(k);
    check(d.count() >= 0 && d <= std::chrono::seconds(r.max_delay_s));
    total += d;
  }
  check(total <= std::chrono::seconds(3600));
  std::string error;
  auto back = parse_subscription_delivery_policy(p.to_json(), &error);
  check(back.has_value() && back->to_json() == p.to_json());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (auto p = parse_subscription_delivery_policy(text, &error)) {
    check_policy(*p);
  } else {
    check(error.starts_with("Invalid parameter: DeliveryPolicy: "));
  }
  error.clear();
  if (auto t = parse_topic_delivery_policy(text, &error)) {
    check_policy(t->defaults);
  } else {
    check(error.starts_with("Invalid parameter: DeliveryPolicy: "));
  }
  error.clear();
  if (auto url = parse_http_endpoint(text, &error)) {
    check(!url->host.empty() && url->port != 0 && url->target.starts_with('/'));
  } else {
    check(!error.empty());
  }
  return 0;
}
