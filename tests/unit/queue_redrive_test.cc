// Dead-letter queues: redrive at maxReceiveCount, allow policies, source listing, move tasks.
#include <gtest/gtest.h>

#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

class QueueRedrive : public QueueTest {
 protected:
  std::string arn(std::string_view name) { return engine.arn_of(name); }
  std::string policy(std::string_view dlq, int count) {
    return R"({"deadLetterTargetArn":")" + arn(dlq) + R"(","maxReceiveCount":)" +
           std::to_string(count) + "}";
  }
};

TEST_F(QueueRedrive, MovesOnTheReceiveAfterMaxReceiveCount) {
  create("dlq");
  const std::string p = policy("dlq", 3);
  create("src", {{"RedrivePolicy", p}, {"VisibilityTimeout", "0"}});
  const SendResult sent = send("src", "poison");
  for (uint32_t i = 1; i <= 3; ++i) {
    const auto got = receive("src");
    ASSERT_EQ(got.size(), 1u) << i;
    EXPECT_EQ(got[0].receive_count, i);
    engine.run_timers();
  }
  EXPECT_TRUE(receive("src").empty());  // the fourth receive moves it instead
  EXPECT_EQ(counts("src").visible + counts("src").in_flight, 0u);
  EXPECT_EQ(engine.stats().dead_lettered, 1u);
  const auto dead = receive("dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, sent.message_id.to_string());
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(dead[0].dead_letter_source, arn("src"));
  EXPECT_EQ(dead[0].receive_count, 4u);
  EXPECT_EQ(attribute("src", "RedrivePolicy"), p);
}

TEST_F(QueueRedrive, ThePolicyNeedsAnExistingQueueOfTheSameType) {
  create("src");
  const std::string to_nowhere = policy("nowhere", 2);
  const AttributeValue missing[] = {{"RedrivePolicy", to_nowhere}};
  Status s = engine.set_attributes("src", missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidParameterValue);
  create("dlq.fifo", {{"FifoQueue", "true"}});
  const std::string to_fifo = policy("dlq.fifo", 2);
  const AttributeValue mixed[] = {{"RedrivePolicy", to_fifo}};
  EXPECT_EQ(engine.set_attributes("src", mixed).error().code, ErrorCode::kInvalidParameterValue);
  const AttributeValue removed[] = {{"RedrivePolicy", ""}};
  EXPECT_TRUE(engine.set_attributes("src", removed).ok());
}

TEST_F(QueueRedrive, RedriveAllowPolicy) {
  create("allowed");
  create("other");
  const std::string allow =
      R"({"redrivePermission":"byQueue","sourceQueueArns":[")" + arn("allowed") + R"("]})";
  create("dlq", {{"RedriveAllowPolicy", allow}});
  const std::string to_dlq = policy("dlq", 2);
  const AttributeValue p[] = {{"RedrivePolicy", to_dlq}};
  const Status allowed = engine.set_attributes("allowed", p);
  EXPECT_TRUE(allowed.ok()) << allowed.error().message;
  EXPECT_EQ(engine.set_attributes("other", p).error().code, ErrorCode::kInvalidParameterValue);
  const AttributeValue deny[] = {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}};
  ASSERT_TRUE(engine.set_attributes("dlq", deny).ok());
  EXPECT_FALSE(engine.set_attributes("other", p).ok());
}

TEST_F(QueueRedrive, ListDeadLetterSourceQueues) {
  create("dlq");
  create("a", {{"RedrivePolicy", policy("dlq", 5)}});
  create("b", {{"RedrivePolicy", policy("dlq", 5)}});
  create("c");
  EXPECT_EQ(engine.list_dead_letter_source_queues("dlq").value(),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(engine.list_dead_letter_source_queues("c").value().empty());
  EXPECT_EQ(engine.list_dead_letter_source_queues("x").error().code, ErrorCode::kQueueDoesNotExist);
}

TEST_F(QueueRedrive, FifoDeadLetteringKeepsTheGroup) {
  create("dlq.fifo", {{"FifoQueue", "true"}});
  create("src.fifo", {{"FifoQueue", "true"},
                      {"RedrivePolicy", policy("dlq.fifo", 1)},
                      {"VisibilityTimeout", "0"}});
  send("src.fifo", "p", {.group_id = "g", .deduplication_id = "1"});
  send("src.fifo", "q", {.group_id = "g", .deduplication_id = "2"});
  EXPECT_EQ(receive("src.fifo", 1).size(), 1u);
  engine.run_timers();
  // p has been received once: the next receive dead-letters it and delivers q.
  const auto got = receive("src.fifo", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "q");
  const auto dead = receive("dlq.fifo");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].group, "g");
}

class QueueMoveTask : public QueueRedrive {
 protected:
  void SetUp() override {
    create("dlq");
    create("src", {{"RedrivePolicy", policy("dlq", 1)}, {"VisibilityTimeout", "0"}});
    for (int i = 0; i < 10; ++i) send("src", "m" + std::to_string(i));
    receive("src", 10);
    engine.run_timers();
    receive("src", 10);  // all ten go to the dead-letter queue
    ASSERT_EQ(counts("dlq").visible, 10u);
  }
};

TEST_F(QueueMoveTask, MovesBackToTheSourceAtTheGivenRate) {
  auto handle = engine.start_move_task({.source_arn = arn("dlq"), .max_messages_per_second = 2});
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  auto second = engine.start_move_task({.source_arn = arn("dlq")});
  EXPECT_EQ(second.error().code, ErrorCode::kUnsupportedOperation);
  advance_s(1);
  EXPECT_EQ(counts("src").visible, 2u);
  advance_s(2);
  EXPECT_EQ(counts("src").visible, 6u);
  auto tasks = engine.list_move_tasks(arn("dlq"), 10).value();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].status, MoveTaskStatus::kRunning);
  EXPECT_EQ(tasks[0].approximate_messages_to_move, 10u);
  EXPECT_EQ(tasks[0].approximate_messages_moved, 6u);
  advance_s(2);
  tasks = engine.list_move_tasks(arn("dlq"), 10).value();
  EXPECT_EQ(tasks[0].status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(move_task_status_name(tasks[0].status), "COMPLETED");
  EXPECT_EQ(counts("src").visible, 10u);
  EXPECT_EQ(counts("dlq").visible, 0u);
  const auto got = receive("src", 1);
  EXPECT_EQ(got[0].receive_count, 1u);  // counted afresh
}

TEST_F(QueueMoveTask, CancelAndDestination) {
  create("elsewhere");
  auto handle = engine.start_move_task({.source_arn = arn("dlq"),
                                        .destination_arn = arn("elsewhere"),
                                        .max_messages_per_second = 1});
  ASSERT_TRUE(handle.ok());
  advance_s(3);
  auto moved = engine.cancel_move_task(handle.value());
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved.value(), 3u);
  EXPECT_EQ(counts("elsewhere").visible, 3u);
  EXPECT_EQ(engine.cancel_move_task(handle.value()).error().code, ErrorCode::kUnsupportedOperation);
  EXPECT_EQ(engine.cancel_move_task("0:nope").error().code, ErrorCode::kResourceNotFound);
  EXPECT_EQ(engine.list_move_tasks(arn("dlq")).value()[0].status, MoveTaskStatus::kCancelled);
}

TEST_F(QueueMoveTask, Checks) {
  EXPECT_EQ(engine.start_move_task({.source_arn = arn("src")}).error().code,
            ErrorCode::kInvalidParameterValue);  // not a dead-letter queue
  EXPECT_EQ(engine.start_move_task({.source_arn = arn("none")}).error().code,
            ErrorCode::kResourceNotFound);
  EXPECT_EQ(engine.start_move_task({.source_arn = arn("dlq"), .max_messages_per_second = 501})
                .error()
                .code,
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(engine.list_move_tasks(arn("dlq"), 11).error().code, ErrorCode::kInvalidParameterValue);
}

}  // namespace
}  // namespace sluice::queue::testing
