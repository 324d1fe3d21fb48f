// The SNS actions on the queue service's endpoint: a decoded SNS request is run against the
// topic registry, and a publish becomes one SendMessage per matching queue subscription, which
// the service core sends to the shards that own those queues and answers only once every one of
// them has taken its copy (durably, for durable queues). Copies for http endpoints (and a new
// http subscription's SubscriptionConfirmation) are POSTed by the core's HttpDeliverer, which
// retries them on their own schedule: the publish does not wait for them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_types.h"
#include "sns_codec.h"
#include "sns_topics.h"
#include "sqs_codec.h"

namespace sluice::api::sns {

// Whether `request` is a query-protocol request whose Action is an SNS action.
bool is_sns_request(const http::Request& request);
// Whether `request` is an unsigned ConfirmSubscription: an http endpoint following the
// SubscribeURL of its SubscriptionConfirmation, whose token is the proof it needs (as on SNS).
bool is_unsigned_confirmation(const http::Request& request);

// Where a copy goes when its queue does not take it: the subscription's dead-letter queue.
struct Fallback {
  size_t send;  // the copy's place in Outcome::sends
  std::string queue;
  std::string body;
};

struct Outcome {
  Reply reply;                      // to answer once every send has been taken
  std::vector<sqs::Request> sends;  // SendMessage requests for the queue subscriptions
  std::vector<Fallback> fallbacks;  // for the sends whose subscription has a dead-letter queue
  std::vector<Delivery> posts;      // POSTs to http endpoints, made after the answer
};

// The SendMessage that puts a copy its endpoint never took in a dead-letter queue, with SNS's
// ErrorCode and ErrorMessage attributes saying why.
sqs::Request dead_letter_copy(std::string queue, std::string body, std::string_view code,
                              std::string_view message);

// Runs `request`. `url_prefix` is "http://HOST/" of the endpoint (for the envelope's URLs).
Outcome run(TopicRegistry& registry, const Request& request, std::string_view url_prefix,
            std::string_view request_id);

}  // namespace sluice::api::sns
