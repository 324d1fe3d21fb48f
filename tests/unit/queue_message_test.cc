// Standard queues: send, receive, delete, visibility, delay, retention, long polling.
#include <gtest/gtest.h>

#include "message_digest.h"
#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

using QueueMessages = QueueTest;

TEST_F(QueueMessages, SendReceiveDeleteWithSystemAttributes) {
  create("q");
  const MessageAttribute attrs[] = {{"colour", "String", "blue"}, {"bytes", "Binary", "\x01\x02"}};
  auto sent = engine.send("q", {.body = "hello", .attributes = attrs, .trace_header = "Root=1"},
                          "AIDEXAMPLE");
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->sequence_number, 0u);
  const uint64_t sent_at = clock.now_ms();
  advance_s(2);
  auto got = receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, sent->message_id.to_string());
  EXPECT_EQ(got[0].id.size(), 36u);
  EXPECT_EQ(got[0].body, "hello");
  EXPECT_EQ(got[0].receive_count, 1u);
  EXPECT_EQ(got[0].sent_ms, sent_at);
  EXPECT_EQ(got[0].first_receive_ms, sent_at + 2000);
  EXPECT_EQ(got[0].sender, "AIDEXAMPLE");
  EXPECT_EQ(got[0].attributes, (std::vector<std::pair<std::string, std::string>>{
                                   {"colour", "blue"}, {"bytes", "\x01\x02"}}));
  EXPECT_EQ(counts("q").in_flight, 1u);
  EXPECT_TRUE(receive("q").empty());
  ASSERT_TRUE(engine.delete_message("q", got[0].handle).ok());
  EXPECT_EQ(counts("q").in_flight, 0u);
  // Deleting again with the same handle succeeds and does nothing.
  EXPECT_TRUE(engine.delete_message("q", got[0].handle).ok());
}

TEST_F(QueueMessages, VisibilityTimeoutExpiresExactly) {
  create("q", {{"VisibilityTimeout", "10"}});
  send("q", "m");
  const auto first = receive("q");
  ASSERT_EQ(first.size(), 1u);
  advance_s(9.999);
  EXPECT_TRUE(receive("q").empty());
  EXPECT_EQ(counts("q").in_flight, 1u);
  advance_s(0.001);
  const auto second = receive("q", 1, 0);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].receive_count, 2u);
  EXPECT_EQ(second[0].first_receive_ms, first[0].first_receive_ms);
  EXPECT_NE(second[0].handle, first[0].handle);
  // Visibility 0: visible again at once, without the clock moving.
  EXPECT_EQ(receive("q").size(), 1u);
}

TEST_F(QueueMessages, StaleReceiptHandleCannotDeleteANewerDelivery) {
  create("q", {{"VisibilityTimeout", "5"}});
  send("q", "m");
  const std::string old_handle = receive("q")[0].handle;
  advance_s(5);
  const std::string new_handle = receive("q")[0].handle;
  ASSERT_TRUE(engine.delete_message("q", old_handle).ok());
  EXPECT_EQ(counts("q").in_flight, 1u);
  EXPECT_EQ(engine.change_visibility("q", old_handle, 100).error().code,
            ErrorCode::kMessageNotInflight);
  ASSERT_TRUE(engine.delete_message("q", new_handle).ok());
  EXPECT_EQ(counts("q").in_flight, 0u);
}

TEST_F(QueueMessages, MalformedOrForeignHandlesAreInvalid) {
  create("a");
  create("b");
  send("a", "m");
  const std::string handle = receive("a")[0].handle;
  for (std::string bad : {std::string("nonsense"), std::string(40, 'z'), handle}) {
    if (bad == handle) bad[39] = bad[39] == '0' ? '1' : '0';  // tag no longer matches
    const Status s = engine.delete_message("a", bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kReceiptHandleIsInvalid);
  }
  EXPECT_EQ(engine.delete_message("b", handle).error().code, ErrorCode::kReceiptHandleIsInvalid);
}

TEST_F(QueueMessages, ChangeVisibility) {
  create("q");
  send("q", "m");
  const std::string h = receive("q")[0].handle;
  ASSERT_TRUE(engine.change_visibility("q", h, 60).ok());
  advance_s(59);
  EXPECT_TRUE(receive("q").empty());
  advance_s(1);
  const std::string h2 = receive("q")[0].handle;
  ASSERT_TRUE(engine.change_visibility("q", h2, 0).ok());
  EXPECT_EQ(counts("q").visible, 1u);
  EXPECT_EQ(engine.change_visibility("q", h2, 10).error().code, ErrorCode::kMessageNotInflight);
  const std::string h3 = receive("q")[0].handle;
  EXPECT_EQ(engine.change_visibility("q", h3, 43201).error().code,
            ErrorCode::kInvalidParameterValue);
  // At most 12 hours from the receive, counted from the call.
  ASSERT_TRUE(engine.change_visibility("q", h3, 43200).ok());
  advance_s(3600);
  const Status beyond = engine.change_visibility("q", h3, 43200);
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error().message.find("beyond the limit"), std::string::npos);
  EXPECT_TRUE(engine.change_visibility("q", h3, 43200 - 3600).ok());
}

TEST_F(QueueMessages, DelayPerMessageAndPerQueue) {
  create("q", {{"DelaySeconds", "5"}});
  send("q", "queue-delay");
  send("q", "own-delay", {.delay_s = 0});
  send("q", "long", {.delay_s = 900});
  EXPECT_EQ(counts("q").delayed, 2u);
  auto got = receive("q", 10, 43200);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "own-delay");
  advance_s(4.999);
  EXPECT_TRUE(receive("q").empty());
  advance_s(0.001);
  got = receive("q", 10, 43200);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "queue-delay");
  advance_s(895);
  EXPECT_EQ(receive("q").size(), 1u);
  const Error e = send_error("q", {.body = "x", .delay_s = 901});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(e.message,
            "Value 901 for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, "
            "if provided.");
}

TEST_F(QueueMessages, RetentionRemovesMessagesInEveryState) {
  create("q", {{"MessageRetentionPeriod", "120"}});
  send("q", "in-flight");
  receive("q", 1);
  send("q", "visible");
  advance_s(30);
  send("q", "delayed", {.delay_s = 100});
  auto total = [&] { return counts("q").visible + counts("q").in_flight + counts("q").delayed; };
  advance_s(40);
  EXPECT_EQ(total(), 3u);
  // Shortening the retention applies to the messages already there.
  const AttributeValue shorter[] = {{"MessageRetentionPeriod", "60"}};
  ASSERT_TRUE(engine.set_attributes("q", shorter).ok());
  EXPECT_EQ(total(), 1u);
  EXPECT_EQ(counts("q").delayed, 1u);
  advance_s(19.999);
  EXPECT_EQ(total(), 1u);
  advance_s(0.001);
  EXPECT_EQ(total(), 0u);
  EXPECT_EQ(engine.stats().expired, 3u);
}

TEST_F(QueueMessages, LongPollIsAnsweredWhenAMessageArrives) {
  create("q");
  Collector c;
  const uint64_t id = engine.receive({.queue = "q", .max_messages = 5, .wait_time_s = 20}, c);
  EXPECT_NE(id, 0u);
  EXPECT_EQ(c.calls, 0);
  advance_s(3);
  EXPECT_EQ(c.calls, 0);
  send("q", "wake");
  ASSERT_EQ(c.calls, 1);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0].body, "wake");
  EXPECT_FALSE(engine.cancel_receive(id));
}

TEST_F(QueueMessages, LongPollTimesOutEmpty) {
  create("q", {{"ReceiveMessageWaitTimeSeconds", "20"}});
  Collector c;
  engine.receive({.queue = "q"}, c);  // the queue's wait time
  advance_s(19.999);
  EXPECT_EQ(c.calls, 0);
  advance_s(0.001);
  ASSERT_EQ(c.calls, 1);
  EXPECT_FALSE(c.error.has_value());
  EXPECT_TRUE(c.got.empty());
}

TEST_F(QueueMessages, LongPollWakesOnDelayAndVisibilityExpiry) {
  create("q");
  send("q", "later", {.delay_s = 2});
  Collector a;
  engine.receive({.queue = "q", .wait_time_s = 10}, a);
  advance_s(2);
  ASSERT_EQ(a.got.size(), 1u);
  Collector b;
  engine.receive({.queue = "q", .wait_time_s = 20}, b);
  ASSERT_TRUE(engine.change_visibility("q", a.got[0].handle, 5).ok());
  advance_s(5);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_EQ(b.got[0].receive_count, 2u);
}

TEST_F(QueueMessages, WaitersAreServedInArrivalOrderAndCanBeCancelled) {
  create("q");
  Collector first;
  Collector second;
  Collector third;
  engine.receive({.queue = "q", .wait_time_s = 20}, first);
  const uint64_t second_id = engine.receive({.queue = "q", .wait_time_s = 20}, second);
  engine.receive({.queue = "q", .wait_time_s = 20}, third);
  EXPECT_TRUE(engine.cancel_receive(second_id));
  send("q", "1");
  send("q", "2");
  EXPECT_EQ(first.got.size(), 1u);
  EXPECT_EQ(second.calls, 0);
  EXPECT_EQ(third.got.size(), 1u);
  advance_s(30);
  EXPECT_EQ(second.calls, 0);
}

TEST_F(QueueMessages, DeletingAQueueAnswersItsWaiters) {
  create("q");
  Collector c;
  engine.receive({.queue = "q", .wait_time_s = 20}, c);
  ASSERT_TRUE(engine.delete_queue("q").ok());
  ASSERT_EQ(c.calls, 1);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_EQ(c.error->code, ErrorCode::kQueueDoesNotExist);
}

TEST_F(QueueMessages, ReceiveParametersAreChecked) {
  create("q");
  EXPECT_EQ(receive_error({.queue = "q", .max_messages = 0}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(receive_error({.queue = "q", .max_messages = 11}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(receive_error({.queue = "q", .visibility_timeout_s = 43201}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(receive_error({.queue = "q", .wait_time_s = 21}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(receive_error({.queue = "nope"}).code, ErrorCode::kQueueDoesNotExist);
}

TEST_F(QueueMessages, ReceivesAtMostTenInArrivalOrder) {
  create("q");
  for (int i = 0; i < 15; ++i) send("q", std::to_string(i));
  const auto got = receive("q", 10);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i].body, std::to_string(i));
  EXPECT_EQ(counts("q").visible, 5u);
  EXPECT_EQ(counts("q").in_flight, 10u);
}

TEST_F(QueueMessages, BodyAndAttributeChecks) {
  create("q", {{"MaximumMessageSize", "1024"}});
  EXPECT_EQ(send_error("q", {.body = ""}).code, ErrorCode::kMissingParameter);
  EXPECT_EQ(send_error("q", {.body = std::string(1025, 'x')}).code,
            ErrorCode::kInvalidParameterValue);
  send("q", std::string(1024, 'x'));
  const std::string long_value(1000, 'v');
  const MessageAttribute big[] = {{"a", "String", long_value}};
  EXPECT_EQ(send_error("q", {.body = std::string(30, 'x'), .attributes = big}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(send_error("q", {.body = std::string("bad\x01", 4)}).code,
            ErrorCode::kInvalidMessageContents);
  EXPECT_EQ(send_error("q", {.body = "\xc3\x28"}).code, ErrorCode::kInvalidMessageContents);
  send("q", "caf\xc3\xa9 \xf0\x9f\x98\x80 \t\r\n");

  std::vector<std::string> names;
  std::vector<MessageAttribute> eleven;
  for (int i = 0; i < 11; ++i) names.push_back("n" + std::to_string(i));
  for (const auto& n : names) eleven.push_back({n, "String", "v"});
  EXPECT_EQ(send_error("q", {.body = "b", .attributes = eleven}).message,
            "Number of message attributes [11] exceeds the allowed maximum [10].");
  send("q", "b", {.attributes = std::span(eleven).first(10)});

  const MessageAttribute bad_sets[][1] = {
      {{"AWS.reserved", "String", "v"}},
      {{"two..dots", "String", "v"}},
      {{".lead", "String", "v"}},
      {{"ok", "Text", "v"}},
      {{"ok", "String", ""}},
      {{"n", "Number", "12x"}},
      {{"sp ace", "String", "v"}},
      {{"ok", "String.", "v"}},
  };
  for (const auto& set : bad_sets) {
    EXPECT_EQ(send_error("q", {.body = "b", .attributes = set}).code,
              ErrorCode::kInvalidParameterValue)
        << set[0].name << " " << set[0].data_type;
  }
  const MessageAttribute good[] = {{"n", "Number.float", "-1.5e3"}, {"s", "String.label", "x"}};
  send("q", "b", {.attributes = good});
  const MessageAttribute repeated[] = {{"a", "String", "1"}, {"a", "String", "2"}};
  EXPECT_EQ(send_error("q", {.body = "b", .attributes = repeated}).code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(send_error("q", {.body = "b", .deduplication_id = "d"}).code,
            ErrorCode::kInvalidParameterValue);
}

TEST(QueueDigests, ReferenceVectors) {
  const MessageAttribute a{"attribName1", "String", "attribValue 1"};
  const MessageAttribute b{"customNumberTypeAttrib", "Number.float",
                           "4563442423554324324264524243.32543234"};
  const MessageAttribute c{"binaryAttribute", "Binary", "Hello binary world!"};
  EXPECT_EQ(to_hex(md5_of_attributes(std::vector{a})), "19e27d4e946b072f3f58da80d94fd778");
  EXPECT_EQ(to_hex(md5_of_attributes(std::vector{b})), "9fe1b90bbd9965bdf77bac517c7d2495");
  EXPECT_EQ(to_hex(md5_of_attributes(std::vector{c})), "31a92b15d92f8db860eda32aceb656c3");
  EXPECT_EQ(to_hex(md5_of_attributes(std::vector{c, a, b})), "c932db14a896c663f83c260297d594ff");
  EXPECT_EQ(to_hex(md5_of_body("hello")), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(to_hex(sha256_of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sluice::queue::testing
