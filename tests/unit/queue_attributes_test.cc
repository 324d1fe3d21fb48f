// Queues: create, delete, list, attributes, tags, purge.
#include <gtest/gtest.h>

#include "queue_settings.h"
#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

using QueueLifecycle = QueueTest;

TEST_F(QueueLifecycle, CreateIsIdempotentForIdenticalAttributes) {
  create("orders", {{"VisibilityTimeout", "45"}});
  const std::vector<AttributeValue> same = {{"VisibilityTimeout", "45"}};
  auto again = engine.create_queue({.name = "orders", .attributes = same});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->arn, "arn:aws:sqs:us-east-1:000000000000:orders");
  auto plain = engine.create_queue({.name = "orders"});
  EXPECT_TRUE(plain.ok());
  const Error e = create_error("orders", {{"VisibilityTimeout", "46"}});
  EXPECT_EQ(e.code, ErrorCode::kQueueAlreadyExists);
  EXPECT_EQ(e.query_code(), "QueueAlreadyExists");
}

TEST_F(QueueLifecycle, NamesAreChecked) {
  EXPECT_EQ(create_error("has space", {}).code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(create_error(std::string(81, 'a'), {}).code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(create_error("", {}).code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(create_error("plain.fifo", {}).code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(create_error("nofifo", {{"FifoQueue", "true"}}).code,
            ErrorCode::kInvalidParameterValue);
  create(std::string(80, 'a'));
  create(std::string(75, 'b') + ".fifo", {{"FifoQueue", "true"}});
}

TEST_F(QueueLifecycle, DeleteThenRecreateWaitsSixtySeconds) {
  create("q");
  ASSERT_TRUE(engine.delete_queue("q").ok());
  EXPECT_EQ(engine.delete_queue("q").error().code, ErrorCode::kQueueDoesNotExist);
  EXPECT_EQ(engine.delete_queue("q").error().query_code(),
            "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(create_error("q", {}).code, ErrorCode::kQueueDeletedRecently);
  advance_s(60);
  create("q");
}

TEST_F(QueueLifecycle, ListByPrefixInOrderWithPages) {
  for (const char* n : {"b-1", "a-2", "a-1", "c", "a-3"}) create(n);
  EXPECT_EQ(engine.list_queues("a-", 1000), (std::vector<std::string>{"a-1", "a-2", "a-3"}));
  EXPECT_EQ(engine.list_queues("", 2), (std::vector<std::string>{"a-1", "a-2"}));
  EXPECT_EQ(engine.list_queues("", 2, "a-2"), (std::vector<std::string>{"a-3", "b-1"}));
  EXPECT_TRUE(engine.list_queues("zzz", 10).empty());
}

TEST_F(QueueLifecycle, DefaultsAndReadOnlyAttributes) {
  create("q");
  const std::string_view all[] = {"All"};
  auto attrs = engine.get_attributes("q", all);
  ASSERT_TRUE(attrs.ok());
  std::map<std::string, std::string> m(attrs->begin(), attrs->end());
  EXPECT_EQ(m["VisibilityTimeout"], "30");
  EXPECT_EQ(m["MaximumMessageSize"], "1048576");
  EXPECT_EQ(m["MessageRetentionPeriod"], "345600");
  EXPECT_EQ(m["DelaySeconds"], "0");
  EXPECT_EQ(m["ReceiveMessageWaitTimeSeconds"], "0");
  EXPECT_EQ(m["ApproximateNumberOfMessages"], "0");
  EXPECT_EQ(m["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_EQ(m["CreatedTimestamp"], std::to_string(clock.now_ms() / 1000));
  EXPECT_EQ(m["SqsManagedSseEnabled"], "true");
  EXPECT_FALSE(m.contains("FifoQueue"));
  EXPECT_FALSE(m.contains("RedrivePolicy"));
  const std::string_view unknown[] = {"Colour"};
  EXPECT_EQ(engine.get_attributes("q", unknown).error().code, ErrorCode::kInvalidAttributeName);
}

struct RangeCase {
  const char* name;
  const char* lowest;
  const char* highest;
  const char* below;
  const char* above;
};

TEST_F(QueueLifecycle, EveryRangeIsEnforcedOnCreateAndSet) {
  const RangeCase cases[] = {
      {"VisibilityTimeout", "0", "43200", nullptr, "43201"},
      {"MaximumMessageSize", "1024", "1048576", "1023", "1048577"},
      {"MessageRetentionPeriod", "60", "1209600", "59", "1209601"},
      {"DelaySeconds", "0", "900", nullptr, "901"},
      {"ReceiveMessageWaitTimeSeconds", "0", "20", nullptr, "21"},
  };
  create("q");
  for (const RangeCase& c : cases) {
    SCOPED_TRACE(c.name);
    for (const char* ok : {c.lowest, c.highest}) {
      const AttributeValue a[] = {{c.name, ok}};
      EXPECT_TRUE(engine.set_attributes("q", a).ok());
      EXPECT_EQ(attribute("q", c.name), ok);
    }
    for (const char* bad : {c.below, c.above, "-1", "abc", ""}) {
      if (bad == nullptr) continue;
      const AttributeValue a[] = {{c.name, bad}};
      const Status s = engine.set_attributes("q", a);
      ASSERT_FALSE(s.ok()) << bad;
      EXPECT_EQ(s.error().code, ErrorCode::kInvalidAttributeValue);
      EXPECT_EQ(s.error().message, "Invalid value for the parameter " + std::string(c.name) + ".");
      EXPECT_EQ(create_error("other", {{c.name, bad}}).code, ErrorCode::kInvalidAttributeValue);
    }
  }
}

TEST_F(QueueLifecycle, UnknownReadOnlyAndFifoOnlyNames) {
  create("q");
  for (const char* name : {"Colour", "QueueArn", "ApproximateNumberOfMessages", "FifoQueue",
                           "ContentBasedDeduplication"}) {
    const AttributeValue a[] = {{name, "true"}};
    const Status s = engine.set_attributes("q", a);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidAttributeName) << name;
  }
  create("f.fifo", {{"FifoQueue", "true"},
                    {"ContentBasedDeduplication", "true"},
                    {"DeduplicationScope", "messageGroup"},
                    {"FifoThroughputLimit", "perMessageGroupId"}});
  EXPECT_EQ(attribute("f.fifo", "FifoQueue"), "true");
  EXPECT_EQ(attribute("f.fifo", "DeduplicationScope"), "messageGroup");
  const AttributeValue bad[] = {{"DeduplicationScope", "everything"}};
  EXPECT_EQ(engine.set_attributes("f.fifo", bad).error().code, ErrorCode::kInvalidAttributeValue);
}

TEST_F(QueueLifecycle, SetAttributesUpdatesLastModified) {
  create("q");
  advance_s(5);
  const AttributeValue a[] = {{"DelaySeconds", "10"}, {"Policy", "{\"Version\":\"2012-10-17\"}"}};
  ASSERT_TRUE(engine.set_attributes("q", a).ok());
  EXPECT_EQ(attribute("q", "LastModifiedTimestamp"), std::to_string(clock.now_ms() / 1000));
  EXPECT_EQ(attribute("q", "Policy"), "{\"Version\":\"2012-10-17\"}");
}

TEST_F(QueueLifecycle, Tags) {
  const Tag initial[] = {{"team", "pay"}};
  ASSERT_TRUE(engine.create_queue({.name = "q", .tags = initial}).ok());
  const Tag more[] = {{"env", "prod"}, {"team", "billing"}};
  ASSERT_TRUE(engine.tag_queue("q", more).ok());
  EXPECT_EQ(engine.list_tags("q").value(), (AttributeList{{"env", "prod"}, {"team", "billing"}}));
  const std::string_view remove[] = {"env", "absent"};
  ASSERT_TRUE(engine.untag_queue("q", remove).ok());
  EXPECT_EQ(engine.list_tags("q").value(), (AttributeList{{"team", "billing"}}));
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<Tag> many;
  for (const auto& k : keys) many.push_back({k, "v"});
  EXPECT_EQ(engine.tag_queue("q", many).error().code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(engine.tag_queue("nope", more).error().code, ErrorCode::kQueueDoesNotExist);
}

TEST_F(QueueLifecycle, PurgeOncePerMinute) {
  create("q");
  send("q", "a");
  send("q", "b");
  receive("q", 1);
  send("q", "c", {.delay_s = 30});
  ASSERT_TRUE(engine.purge("q").ok());
  EXPECT_EQ(counts("q").visible + counts("q").in_flight + counts("q").delayed, 0u);
  const Status again = engine.purge("q");
  EXPECT_EQ(again.error().code, ErrorCode::kPurgeQueueInProgress);
  EXPECT_EQ(error_info(again.error().code).http_status, 403);
  advance_s(60);
  EXPECT_TRUE(engine.purge("q").ok());
}

TEST(QueueSettings, RedrivePolicyJson) {
  auto ok =
      apply_attributes({},
                       std::vector<AttributeValue>{
                           {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq",)"
                                             R"( "maxReceiveCount": "5"})"}},
                       AttributeUse::kSet);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->redrive_policy->max_receive_count, 5u);
  EXPECT_EQ(redrive_policy_json(*ok->redrive_policy),
            R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":5})");
  for (const char* bad : {"{", R"({"maxReceiveCount":5})",
                          R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":0})",
                          R"({"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":1001})",
                          R"({"deadLetterTargetArn":"not-an-arn","maxReceiveCount":3})"}) {
    auto r = apply_attributes({}, std::vector<AttributeValue>{{"RedrivePolicy", bad}},
                              AttributeUse::kSet);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameterValue);
  }
  auto allow =
      apply_attributes({},
                       std::vector<AttributeValue>{{"RedriveAllowPolicy",
                                                    R"({"redrivePermission":"byQueue",)"
                                                    R"("sourceQueueArns":["arn:aws:sqs:r:1:a"]})"}},
                       AttributeUse::kSet);
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(redrive_allow_policy_json(*allow->redrive_allow_policy),
            R"({"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:r:1:a"]})");
}

TEST(QueueErrors, WireNames) {
  EXPECT_EQ(error_info(ErrorCode::kOverLimit).http_status, 403);
  EXPECT_EQ(error_info(ErrorCode::kQueueDoesNotExist).name, "QueueDoesNotExist");
  EXPECT_EQ(error_info(ErrorCode::kBatchEntryIdsNotDistinct).query_code,
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct");
  EXPECT_EQ(error_info(ErrorCode::kUnsupportedOperation).query_code,
            "AWS.SimpleQueueService.UnsupportedOperation");
}

}  // namespace
}  // namespace sluice::queue::testing
