// SNS delivery to http endpoints: delivery policies (parsing, SNS's limits, the retry schedule),
// endpoint URLs, and the deliverer POSTing to a real endpoint on loopback served by the same
// reactor: delivered, retried, refused, dead-lettered, and an endpoint that is not there.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reactor.h"
#include "request_parser.h"
#include "sns_delivery_policy.h"
#include "sns_http_delivery.h"

namespace sluice::api::sns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

DeliveryPolicy subscription_policy(const std::string& json) {
  std::string error;
  auto p = parse_subscription_delivery_policy(json, &error);
  EXPECT_TRUE(p) << json << ": " << error;
  return p.value_or(DeliveryPolicy{});
}

std::string refusal(const std::string& json) {
  std::string error;
  EXPECT_FALSE(parse_subscription_delivery_policy(json, &error)) << json;
  return error;
}

TEST(DeliveryPolicy, DefaultIsThreeRetriesTwentySecondsApart) {
  const DeliveryPolicy p = subscription_policy("{}");
  EXPECT_EQ(p.retry.num_retries, 3);
  for (int k = 1; k <= 3; ++k) EXPECT_EQ(p.retry.delay_before(k), seconds(20));
  EXPECT_EQ(p.content_type, "text/plain; charset=UTF-8");
  EXPECT_EQ(p.max_receives_per_second, 0);
}

TEST(DeliveryPolicy, RetriesRunInFourPhases) {
  const DeliveryPolicy p = subscription_policy(R"({"healthyRetryPolicy": {
      "numRetries": 8, "numNoDelayRetries": 2, "numMinDelayRetries": 1, "numMaxDelayRetries": 2,
      "minDelayTarget": 1, "maxDelayTarget": 10, "backoffFunction": "linear"}})");
  const std::vector<milliseconds> want = {milliseconds(0), milliseconds(0),    seconds(1),
                                          seconds(1),      milliseconds(5500), seconds(10),
                                          seconds(10),     seconds(10)};
  for (int k = 1; k <= 8; ++k) EXPECT_EQ(p.retry.delay_before(k), want[k - 1]) << "retry " << k;
}

TEST(DeliveryPolicy, BackoffFunctionsRiseFromMinToMax) {
  for (const char* f : {"linear", "arithmetic", "geometric", "exponential"}) {
    const DeliveryPolicy p = subscription_policy(
        std::string(R"({"healthyRetryPolicy": {"numRetries": 6, "minDelayTarget": 2,
        "maxDelayTarget": 60, "backoffFunction": ")") +
        f + "\"}}");
    EXPECT_EQ(p.retry.delay_before(1), seconds(2)) << f;
    EXPECT_EQ(p.retry.delay_before(6), seconds(60)) << f;
    for (int k = 2; k <= 6; ++k)
      EXPECT_GT(p.retry.delay_before(k), p.retry.delay_before(k - 1)) << f << " retry " << k;
  }
  // The curves differ between the ends: exponential stays low longest, linear highest.
  auto third = [](const char* f) {
    return subscription_policy(std::string(R"({"healthyRetryPolicy": {"numRetries": 5,
        "minDelayTarget": 1, "maxDelayTarget": 100, "backoffFunction": ")") +
                               f + "\"}}")
        .retry.delay_before(3);
  };
  EXPECT_LT(third("exponential"), third("geometric"));
  EXPECT_LT(third("geometric"), third("arithmetic"));
  EXPECT_LT(third("arithmetic"), third("linear"));
}

TEST(DeliveryPolicy, RefusalsNameWhatIsWrong) {
  EXPECT_NE(refusal("not json").find("failed to parse JSON"), std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicy": {"numRetries": 101}})").find("numRetries"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicy": {"minDelayTarget": 0}})").find("minDelayTarget"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}})")
                .find("must not exceed"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 3}})")
                .find("numRetries"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 100}})")
                .find("3600 s"),
            std::string::npos);
  EXPECT_NE(
      refusal(R"({"healthyRetryPolicy": {"backoffFunction": "cubic"}})").find("backoffFunction"),
      std::string::npos);
  EXPECT_NE(
      refusal(R"({"throttlePolicy": {"maxReceivesPerSecond": 0}})").find("maxReceivesPerSecond"),
      std::string::npos);
  EXPECT_NE(refusal(R"({"requestPolicy": {"headerContentType": "image/png"}})").find("image/png"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"healthyRetryPolicies": {}})").find("healthyRetryPolicies"),
            std::string::npos);
  for (const std::string& e : {refusal("[]"), refusal(R"({"healthyRetryPolicy": 3})")})
    EXPECT_TRUE(e.starts_with("Invalid parameter: DeliveryPolicy: ")) << e;
}

TEST(DeliveryPolicy, TopicDefaultsAndSubscriptionOverrides) {
  std::string error;
  auto topic = parse_topic_delivery_policy(
      R"({"http": {"defaultHealthyRetryPolicy": {"numRetries": 7, "minDelayTarget": 5,
          "maxDelayTarget": 5}, "defaultRequestPolicy": {"headerContentType": "application/json"}},
          "sqs": {"anything": 1}})",
      &error);
  ASSERT_TRUE(topic) << error;
  const DeliveryPolicy own = subscription_policy(R"({"healthyRetryPolicy": {"numRetries": 1}})");
  EXPECT_EQ(effective_delivery_policy(nullptr, nullptr).retry.num_retries, 3);
  EXPECT_EQ(effective_delivery_policy(&*topic, nullptr).retry.num_retries, 7);
  EXPECT_EQ(effective_delivery_policy(&*topic, nullptr).content_type, "application/json");
  EXPECT_EQ(effective_delivery_policy(&*topic, &own).retry.num_retries, 1);
  topic->disable_subscription_overrides = true;
  EXPECT_EQ(effective_delivery_policy(&*topic, &own).retry.num_retries, 7);
  EXPECT_FALSE(
      parse_topic_delivery_policy(R"({"http": {"disableSubscriptionOverrides": 1}})", &error));
  EXPECT_NE(error.find("disableSubscriptionOverrides"), std::string::npos);
}

TEST(DeliveryPolicy, EffectivePolicyJsonParsesBackToTheSamePolicy) {
  const DeliveryPolicy p = subscription_policy(R"({"healthyRetryPolicy": {"numRetries": 9,
      "numNoDelayRetries": 1, "minDelayTarget": 3, "maxDelayTarget": 40,
      "backoffFunction": "geometric"}, "throttlePolicy": {"maxReceivesPerSecond": 12},
      "requestPolicy": {"headerContentType": "text/xml"}})");
  const DeliveryPolicy back = subscription_policy(p.to_json());
  EXPECT_EQ(back.to_json(), p.to_json());
  EXPECT_EQ(back.retry.delay_before(5), p.retry.delay_before(5));
  EXPECT_EQ(back.max_receives_per_second, 12);
  EXPECT_EQ(back.content_type, "text/xml");
}

TEST(HttpEndpoint, UrlsAreSplitAndCheckedWithReasons) {
  std::string error;
  auto e = parse_http_endpoint("http://127.0.0.1:8080/sns/in?x=1", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->target, "/sns/in?x=1");
  EXPECT_EQ(e->authority, "127.0.0.1:8080");
  e = parse_http_endpoint("http://localhost", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->target, "/");
  e = parse_http_endpoint("http://[::1]:9000?q", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->target, "/?q");
  for (const char* bad :
       {"https://127.0.0.1/", "http://", "http://:80/", "http://h:0/", "http://h:70000/",
        "http://h:8x/", "http://[::1/", "http://u@h/", "http://h/a b"}) {
    error.clear();
    EXPECT_FALSE(parse_http_endpoint(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

// An endpoint on loopback, served by the deliverer's own reactor: answers the POSTs it gets with
// the statuses in `answers` (200 once they run out) and keeps every request it parsed.
class Endpoint final : public reactor::Handler {
 public:
  explicit Endpoint(reactor::Reactor& reactor) {
    const int fd = reactor::open_listener("127.0.0.1", 0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    reactor.listen(fd, *this);
  }
  void on_data(reactor::Connection& conn) override {
    http::RequestParser parser;
    if (parser.parse(conn.input()) != http::RequestParser::Status::kComplete) return;
    const http::Request& r = parser.request();
    Seen seen{std::string(r.target), std::string(r.body), {}};
    for (const char* h : {"x-amz-sns-message-type", "x-amz-sns-message-id", "x-amz-sns-topic-arn",
                          "x-amz-sns-subscription-arn", "x-amz-sns-rawdelivery", "content-type"}) {
      if (const auto* v = r.find(h)) seen.headers[h] = std::string(v->value);
    }
    requests.push_back(std::move(seen));
    conn.input().clear();
    const int status = answers.empty() ? 200 : answers.front();
    if (!answers.empty()) answers.pop_front();
    conn.send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n");
    conn.close_after_send();
  }

  struct Seen {
    std::string target, body;
    std::map<std::string, std::string> headers;
  };
  uint16_t port = 0;
  std::deque<int> answers;
  std::vector<Seen> requests;
};

class Deliveries : public ::testing::Test {
 protected:
  Delivery delivery(uint16_t port, int retries, std::string dlq = "") {
    Delivery d;
    d.subscription_arn = "arn:aws:sns:us-east-1:123456789012:t:sub";
    d.protocol = "http";
    d.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/in";
    d.body = R"({"Type":"Notification","Message":"hi"})";
    d.message_type = "Notification";
    d.message_id = "m-1";
    d.topic_arn = "arn:aws:sns:us-east-1:123456789012:t";
    // Retries without delay, so that the test does not wait out a schedule.
    d.policy.retry.num_retries = retries;
    d.policy.retry.num_no_delay_retries = retries;
    d.dead_letter_queue = std::move(dlq);
    return d;
  }
  // Until every copy is settled, or a minute has gone by (the checks then say what is missing).
  void run_until_settled() {
    const auto give_up = reactor::Reactor::Clock::now() + std::chrono::minutes(1);
    reactor.run_until(
        [&] { return deliverer.pending() == 0 || reactor::Reactor::Clock::now() > give_up; });
  }

  reactor::Reactor reactor;
  std::vector<sqs::Request> dead;
  HttpDeliverer deliverer{reactor, [this](sqs::Request r) { dead.push_back(std::move(r)); }};
};

TEST_F(Deliveries, PostCarriesSnsHeadersAndTheBody) {
  Endpoint endpoint(reactor);
  deliverer.deliver(delivery(endpoint.port, 3));
  run_until_settled();
  ASSERT_EQ(endpoint.requests.size(), 1u);
  const auto& r = endpoint.requests[0];
  EXPECT_EQ(r.target, "/in");
  EXPECT_EQ(r.body, R"({"Type":"Notification","Message":"hi"})");
  EXPECT_EQ(r.headers.at("x-amz-sns-message-type"), "Notification");
  EXPECT_EQ(r.headers.at("x-amz-sns-message-id"), "m-1");
  EXPECT_EQ(r.headers.at("x-amz-sns-topic-arn"), "arn:aws:sns:us-east-1:123456789012:t");
  EXPECT_EQ(r.headers.at("x-amz-sns-subscription-arn"), "arn:aws:sns:us-east-1:123456789012:t:sub");
  EXPECT_EQ(r.headers.at("x-amz-sns-rawdelivery"), "false");
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(deliverer.stats().delivered, 1u);
  EXPECT_EQ(deliverer.stats().retries, 0u);
}

TEST_F(Deliveries, ServerErrorsAreRetriedUntilDelivered) {
  Endpoint endpoint(reactor);
  endpoint.answers = {500, 429, 503};
  deliverer.deliver(delivery(endpoint.port, 3, "dlq"));
  run_until_settled();
  EXPECT_EQ(endpoint.requests.size(), 4u);
  EXPECT_EQ(deliverer.stats().delivered, 1u);
  EXPECT_EQ(deliverer.stats().retries, 3u);
  EXPECT_TRUE(dead.empty());
}

TEST_F(Deliveries, SpentRetriesGoToTheDeadLetterQueue) {
  Endpoint endpoint(reactor);
  endpoint.answers = {500, 500, 500, 500};
  deliverer.deliver(delivery(endpoint.port, 2, "dlq"));
  run_until_settled();
  EXPECT_EQ(endpoint.requests.size(), 3u);
  ASSERT_EQ(dead.size(), 1u);
  const auto& send = std::get<sqs::SendMessageRequest>(dead[0].params);
  EXPECT_EQ(send.queue.name, "dlq");
  EXPECT_EQ(send.message.body, R"({"Type":"Notification","Message":"hi"})");
  ASSERT_EQ(send.message.attributes.size(), 2u);
  EXPECT_EQ(send.message.attributes[0].name, "ErrorCode");
  EXPECT_EQ(send.message.attributes[0].value, "ServerError");
  EXPECT_NE(send.message.attributes[1].value.find("after 2 retries"), std::string::npos);
  EXPECT_EQ(deliverer.stats().dead_lettered, 1u);
}

TEST_F(Deliveries, ARefusalIsNotRetried) {
  Endpoint endpoint(reactor);
  endpoint.answers = {404};
  deliverer.deliver(delivery(endpoint.port, 3, "dlq"));
  run_until_settled();
  EXPECT_EQ(endpoint.requests.size(), 1u);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(std::get<sqs::SendMessageRequest>(dead[0].params).message.attributes[0].value,
            "ClientError");
  EXPECT_EQ(deliverer.stats().refused, 1u);
}

TEST_F(Deliveries, AnEndpointThatIsNotThereIsRetriedThenDropped) {
  // A port that was just free: nothing listens on it.
  const int fd = reactor::open_listener("127.0.0.1", 0);
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  deliverer.deliver(delivery(ntohs(addr.sin_port), 2));
  run_until_settled();
  EXPECT_EQ(deliverer.stats().attempts, 3u);
  EXPECT_EQ(deliverer.stats().dropped, 1u);
  EXPECT_TRUE(dead.empty());
}

TEST_F(Deliveries, ManyCopiesToOneEndpointAllArrive) {
  Endpoint endpoint(reactor);
  constexpr size_t kCopies = HttpDeliverer::kMaxConnectionsPerEndpoint * 3;
  for (size_t i = 0; i < kCopies; ++i) deliverer.deliver(delivery(endpoint.port, 0));
  run_until_settled();
  EXPECT_EQ(endpoint.requests.size(), kCopies);
  EXPECT_EQ(deliverer.stats().delivered, kCopies);
}

}  // namespace
}  // namespace sluice::api::sns
