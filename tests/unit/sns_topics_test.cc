// The SNS topic registry: topics (standard and FIFO naming rules, idempotent creation,
// attributes, tags), subscriptions (sqs confirmed at once, http pending until confirmed with the
// token of a signed SubscriptionConfirmation), fan-out through compiled filter policies in both
// scopes, raw delivery and the signed envelope (verified with the served certificate), and
// persistence across a restart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sns_topics.h"

namespace sluice::api::sns {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kPrefix = "http://127.0.0.1:9324/";
const std::string kTime = "2026-12-02T03:00:00.000Z";

std::string queue_arn(std::string_view name) {
  return "arn:aws:sqs:us-east-1:000000000000:" + std::string(name);
}

// Whether `signature` (base64) is a SHA1withRSA signature of `canonical` by the certificate's key.
bool verify(const std::string& pem, const std::string& canonical, const std::string& signature) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return false;
  EVP_PKEY* key = X509_get_pubkey(cert);
  std::string raw(signature.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(signature.data()),
                                static_cast<int>(signature.size()));
  // EVP_DecodeBlock counts the padding's bytes too.
  const size_t padding = signature.size() - signature.find_last_not_of('=') - 1;
  const size_t length = n < 0 ? 0 : static_cast<size_t>(n) - padding;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha1(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(raw.data()), length,
                                   reinterpret_cast<const unsigned char*>(canonical.data()),
                                   canonical.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  X509_free(cert);
  return ok;
}

class TopicsTest : public ::testing::Test {
 protected:
  TopicRegistry registry{"us-east-1", "000000000000", ""};

  std::string make_topic(const std::string& name, std::map<std::string, std::string> a = {}) {
    auto r = registry.create_topic(name, a, {});
    EXPECT_FALSE(r.error) << r.error->message;
    return r.value.value_or("");
  }
  std::string subscribe_queue(const std::string& topic, const std::string& queue,
                              std::map<std::string, std::string> attributes = {}) {
    auto r = registry.subscribe(topic, "sqs", queue_arn(queue), attributes, kTime, kPrefix);
    EXPECT_FALSE(r.error) << (r.error ? r.error->message : "");
    return r.value ? r.value->arn : "";
  }
  std::vector<std::string> delivered_to(const std::string& topic, const PublishedMessage& m) {
    auto r = registry.fan_out(topic, m, "id-1", kTime, kPrefix);
    EXPECT_FALSE(r.error) << (r.error ? r.error->message : "");
    std::vector<std::string> queues;
    for (const Delivery& d : r.value.value_or(std::vector<Delivery>{}))
      queues.push_back(d.endpoint);
    return queues;
  }
};

TEST_F(TopicsTest, CreatesTopicsIdempotentlyAndChecksFifoNames) {
  const std::string arn = make_topic("uploads");
  EXPECT_EQ(arn, "arn:aws:sns:us-east-1:000000000000:uploads");
  EXPECT_EQ(make_topic("uploads"), arn);
  EXPECT_TRUE(registry.create_topic("uploads", {{"DisplayName", "other"}}, {}).error);
  EXPECT_TRUE(registry.create_topic("orders.fifo", {}, {}).error);  // FifoTopic missing
  EXPECT_TRUE(registry.create_topic("orders", {{"FifoTopic", "true"}}, {}).error);
  EXPECT_FALSE(registry.create_topic("orders.fifo", {{"FifoTopic", "true"}}, {}).error);
  EXPECT_TRUE(registry.create_topic("t", {{"Bogus", "1"}}, {}).error);
  EXPECT_EQ(registry.list_topics().size(), 2u);
  auto attributes = registry.topic_attributes(arn);
  ASSERT_TRUE(attributes.value);
  EXPECT_EQ(attributes.value->at("TopicArn"), arn);
  EXPECT_EQ(attributes.value->at("SubscriptionsConfirmed"), "0");
  EXPECT_TRUE(Json::accept(attributes.value->at("Policy")));
  EXPECT_FALSE(registry.set_topic_attribute(arn, "DisplayName", "Uploads"));
  EXPECT_EQ(registry.topic_attributes(arn).value->at("DisplayName"), "Uploads");
  EXPECT_EQ(registry.set_topic_attribute(arn + "x", "DisplayName", "x")->code, "NotFound");
  EXPECT_FALSE(registry.delete_topic(arn));
  EXPECT_FALSE(registry.delete_topic(arn));  // deleting twice succeeds, as on SNS
  EXPECT_EQ(registry.topic_attributes(arn).error->code, "NotFound");
}

TEST_F(TopicsTest, FansOutToEveryMatchingSubscription) {
  const std::string topic = make_topic("uploads");
  subscribe_queue(topic, "resize");
  subscribe_queue(topic, "tag", {{"FilterPolicy", R"({"kind": ["image"]})"}});
  subscribe_queue(topic, "big", {{"FilterPolicy", R"({"size": [{"numeric": [">", 1000]}]})"}});
  subscribe_queue(topic, "body",
                  {{"FilterPolicyScope", "MessageBody"},
                   {"FilterPolicy", R"({"format": [{"prefix": "jp"}]})"}});
  PublishedMessage image{
      R"({"format": "jpeg"})", "", {{"kind", {"String", "image"}}, {"size", {"Number", "2048"}}}};
  EXPECT_EQ(delivered_to(topic, image), (std::vector<std::string>{"resize", "tag", "big", "body"}));
  PublishedMessage text{
      R"({"format": "txt"})", "", {{"kind", {"String", "text"}}, {"size", {"Number", "10"}}}};
  EXPECT_EQ(delivered_to(topic, text), (std::vector<std::string>{"resize"}));
  // The same subscription again is the same one; with other attributes it is refused.
  EXPECT_EQ(subscribe_queue(topic, "resize"), registry.list_subscriptions(topic).value->at(0).arn);
  EXPECT_TRUE(registry
                  .subscribe(topic, "sqs", queue_arn("resize"), {{"RawMessageDelivery", "true"}},
                             kTime, kPrefix)
                  .error);
}

TEST_F(TopicsTest, ExactStringPoliciesAreFoundByValue) {
  const std::string topic = make_topic("tenants");
  for (int i = 0; i < 1000; ++i)
    subscribe_queue(topic, "t" + std::to_string(i),
                    {{"FilterPolicy", R"({"tenant": ["t)" + std::to_string(i) + R"(", "all"]})"}});
  subscribe_queue(topic, "prefix", {{"FilterPolicy", R"({"tenant": [{"prefix": "t99"}]})"}});
  EXPECT_EQ(delivered_to(topic, {"m", "", {{"tenant", {"String", "t998"}}}}),
            (std::vector<std::string>{"t998", "prefix"}));
  EXPECT_EQ(delivered_to(topic, {"m", "", {{"tenant", {"String", "all"}}}}).size(), 1000u);
  EXPECT_TRUE(delivered_to(topic, {"m", "", {{"tenant", {"Number", "5"}}}}).empty());
  EXPECT_TRUE(delivered_to(topic, {"m", "", {{"other", {"String", "t5"}}}}).empty());
  // A String.Array attribute matches when any element does.
  EXPECT_EQ(delivered_to(topic, {"m", "", {{"tenant", {"String.Array", R"(["x", "t7"])"}}}}),
            (std::vector<std::string>{"t7"}));
  // A policy changed, or a subscription gone, is seen by the next publish.
  const auto subs = *registry.list_subscriptions(topic).value;
  auto t5 = std::find_if(subs.begin(), subs.end(),
                         [](const Subscription& s) { return s.endpoint.ends_with(":t5"); });
  ASSERT_NE(t5, subs.end());
  EXPECT_FALSE(
      registry.set_subscription_attribute(t5->arn, "FilterPolicy", R"({"tenant": ["five"]})"));
  EXPECT_EQ(delivered_to(topic, {"m", "", {{"tenant", {"String", "five"}}}}),
            (std::vector<std::string>{"t5"}));
  EXPECT_TRUE(delivered_to(topic, {"m", "", {{"tenant", {"String", "t5"}}}}).empty());
  EXPECT_FALSE(registry.unsubscribe(t5->arn));
  EXPECT_TRUE(delivered_to(topic, {"m", "", {{"tenant", {"String", "five"}}}}).empty());
}

TEST_F(TopicsTest, RefusesBadSubscriptions) {
  const std::string topic = make_topic("uploads");
  EXPECT_EQ(registry.subscribe(topic, "email", "a@b.c", {}, kTime, kPrefix).error->code,
            "InvalidParameter");
  EXPECT_TRUE(registry.subscribe(topic, "sqs", "not-an-arn", {}, kTime, kPrefix).error);
  EXPECT_TRUE(registry.subscribe(topic, "http", "https://x/", {}, kTime, kPrefix).error);
  auto bad_policy = registry.subscribe(
      topic, "sqs", queue_arn("q"), {{"FilterPolicy", R"({"a": "not-a-list"})"}}, kTime, kPrefix);
  ASSERT_TRUE(bad_policy.error);
  EXPECT_TRUE(bad_policy.error->message.starts_with("Invalid parameter: FilterPolicy"));
  EXPECT_EQ(registry.subscribe(topic + "x", "sqs", queue_arn("q"), {}, kTime, kPrefix).error->code,
            "NotFound");
  const std::string sub = subscribe_queue(topic, "q");
  EXPECT_TRUE(registry.set_subscription_attribute(sub, "RawMessageDelivery", "yes"));
  EXPECT_TRUE(registry.set_subscription_attribute(sub, "Nope", "1"));
  EXPECT_FALSE(registry.set_subscription_attribute(sub, "RawMessageDelivery", "true"));
  EXPECT_EQ(registry.subscription_attributes(sub).value->at("RawMessageDelivery"), "true");
  EXPECT_FALSE(registry.unsubscribe(sub));
  EXPECT_EQ(registry.unsubscribe(sub)->code, "NotFound");
}

TEST_F(TopicsTest, RawDeliveryAndTheSignedEnvelope) {
  const std::string topic = make_topic("uploads");
  const std::string enveloped = subscribe_queue(topic, "enveloped");
  subscribe_queue(topic, "raw", {{"RawMessageDelivery", "true"}});
  PublishedMessage m{"hello", "greeting", {{"kind", {"String", "image"}}}};
  auto r = registry.fan_out(topic, m, "msg-1", kTime, kPrefix);
  ASSERT_TRUE(r.value);
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ(r.value->at(1).body, "hello");
  const Json e = Json::parse(r.value->at(0).body);
  EXPECT_EQ(e["Type"], "Notification");
  EXPECT_EQ(e["MessageId"], "msg-1");
  EXPECT_EQ(e["TopicArn"], topic);
  EXPECT_EQ(e["Subject"], "greeting");
  EXPECT_EQ(e["Message"], "hello");
  EXPECT_EQ(e["Timestamp"], kTime);
  EXPECT_EQ(e["SignatureVersion"], "1");
  EXPECT_EQ(e["SigningCertURL"], std::string(kPrefix) + "SimpleNotificationService-sluice.pem");
  EXPECT_EQ(e["UnsubscribeURL"],
            std::string(kPrefix) + "?Action=Unsubscribe&SubscriptionArn=" + enveloped);
  EXPECT_EQ(e["MessageAttributes"]["kind"]["Type"], "String");
  EXPECT_EQ(e["MessageAttributes"]["kind"]["Value"], "image");
  const std::string canonical = "Message\nhello\nMessageId\nmsg-1\nSubject\ngreeting\nTimestamp\n" +
                                kTime + "\nTopicArn\n" + topic + "\nType\nNotification\n";
  EXPECT_TRUE(verify(registry.signer().certificate_pem(), canonical, e["Signature"]));
  EXPECT_FALSE(verify(registry.signer().certificate_pem(), canonical + "x", e["Signature"]));
}

TEST_F(TopicsTest, HttpSubscriptionsWaitForConfirmation) {
  const std::string topic = make_topic("uploads");
  auto r = registry.subscribe(topic, "http", "http://127.0.0.1:1/hook", {}, kTime, kPrefix);
  ASSERT_TRUE(r.value);
  ASSERT_TRUE(r.value->confirmation);
  const Json c = Json::parse(r.value->confirmation->body);
  EXPECT_EQ(c["Type"], "SubscriptionConfirmation");
  EXPECT_EQ(registry.topic_attributes(topic).value->at("SubscriptionsPending"), "1");
  EXPECT_TRUE(delivered_to(topic, {"m", "", {}}).empty());  // not confirmed: nothing goes out
  EXPECT_TRUE(registry.confirm_subscription(topic, "wrong").error);
  auto confirmed = registry.confirm_subscription(topic, c["Token"]);
  ASSERT_TRUE(confirmed.value);
  EXPECT_EQ(*confirmed.value, r.value->arn);
  EXPECT_EQ(delivered_to(topic, {"m", "", {}}),
            (std::vector<std::string>{"http://127.0.0.1:1/hook"}));
}

TEST_F(TopicsTest, FifoTopicsNeedGroupsAndDeduplication) {
  const std::string topic = make_topic("orders.fifo", {{"FifoTopic", "true"}});
  subscribe_queue(topic, "orders.fifo");
  EXPECT_TRUE(registry.fan_out(topic, {"m", "", {}, "", "d"}, "id", kTime, kPrefix).error);
  EXPECT_TRUE(registry.fan_out(topic, {"m", "", {}, "g", ""}, "id", kTime, kPrefix).error);
  EXPECT_FALSE(registry.fan_out(topic, {"m", "", {}, "g", "d"}, "id", kTime, kPrefix).error);
  EXPECT_FALSE(registry.set_topic_attribute(topic, "ContentBasedDeduplication", "true"));
  EXPECT_FALSE(registry.fan_out(topic, {"m", "", {}, "g", ""}, "id", kTime, kPrefix).error);
  EXPECT_TRUE(registry.subscribe(topic, "http", "http://x/", {}, kTime, kPrefix).error);
}

TEST_F(TopicsTest, TagsAndPersistenceAcrossARestart) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("sns-topics-" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir);
  std::string topic, sub;
  {
    TopicRegistry durable("us-east-1", "000000000000", dir);
    topic = *durable.create_topic("uploads", {{"DisplayName", "Uploads"}}, {{"team", "web"}}).value;
    sub = durable
              .subscribe(topic, "sqs", queue_arn("tag"),
                         {{"FilterPolicy", R"({"kind": ["image"]})"}}, kTime, kPrefix)
              .value->arn;
    // A nested body-scope policy set together with its scope, in one Subscribe.
    EXPECT_FALSE(durable
                     .subscribe(topic, "sqs", queue_arn("gold"),
                                {{"FilterPolicy", R"({"order": {"tier": ["gold"]}})"},
                                 {"FilterPolicyScope", "MessageBody"}},
                                kTime, kPrefix)
                     .error);
    EXPECT_FALSE(durable.tag(topic, {{"env", "prod"}}));
    EXPECT_FALSE(durable.untag(topic, {"team"}));
  }
  TopicRegistry reopened("us-east-1", "000000000000", dir);
  EXPECT_EQ(reopened.list_topics(), std::vector<std::string>{topic});
  EXPECT_EQ(reopened.topic_attributes(topic).value->at("DisplayName"), "Uploads");
  EXPECT_EQ(*reopened.tags(topic).value,
            (std::vector<std::pair<std::string, std::string>>{{"env", "prod"}}));
  auto out =
      reopened.fan_out(topic, {"m", "", {{"kind", {"String", "text"}}}}, "i", kTime, kPrefix);
  EXPECT_TRUE(out.value->empty());  // the filter policies came back compiled
  out = reopened.fan_out(topic, {"m", "", {{"kind", {"String", "image"}}}}, "i", kTime, kPrefix);
  ASSERT_EQ(out.value->size(), 1u);
  EXPECT_EQ(out.value->at(0).subscription_arn, sub);
  out = reopened.fan_out(topic, {R"({"order": {"tier": "gold"}})", "", {}}, "i", kTime, kPrefix);
  ASSERT_EQ(out.value->size(), 1u);
  EXPECT_EQ(out.value->at(0).endpoint, "gold");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::api::sns
