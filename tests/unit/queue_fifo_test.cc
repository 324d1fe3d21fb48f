// FIFO queues: order per group, group blocking, deduplication, sequence numbers.
#include <gtest/gtest.h>

#include "message_digest.h"
#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

class QueueFifo : public QueueTest {
 protected:
  void SetUp() override { create("f.fifo", {{"FifoQueue", "true"}}); }

  SendResult put(std::string_view body, std::string_view group, std::string_view dedup = {}) {
    const std::string id = dedup.empty() ? std::string(body) : std::string(dedup);
    return send("f.fifo", body, {.group_id = group, .deduplication_id = id});
  }

  std::vector<std::string> bodies(const std::vector<Got>& got) {
    std::vector<std::string> out;
    for (const Got& g : got) out.push_back(g.body);
    return out;
  }
};

TEST_F(QueueFifo, OrderWithinAGroupAndIncreasingSequenceNumbers) {
  const SendResult a = put("a1", "A");
  const SendResult b = put("a2", "A");
  EXPECT_GT(b.sequence_number, a.sequence_number);
  put("a3", "A");
  const auto got = receive("f.fifo", 2);
  EXPECT_EQ(bodies(got), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(got[0].group, "A");
  EXPECT_EQ(got[0].dedup, "a1");
  EXPECT_EQ(got[0].sequence, a.sequence_number);
}

TEST_F(QueueFifo, AGroupWithAMessageInFlightDeliversNothingMore) {
  put("a1", "A");
  put("a2", "A");
  put("b1", "B");
  auto first = receive("f.fifo", 1);
  EXPECT_EQ(bodies(first), (std::vector<std::string>{"a1"}));
  // A is blocked until a1 is deleted or visible again: only B can deliver.
  EXPECT_EQ(bodies(receive("f.fifo", 10)), (std::vector<std::string>{"b1"}));
  EXPECT_TRUE(receive("f.fifo", 10).empty());
  ASSERT_TRUE(engine.delete_message("f.fifo", first[0].handle).ok());
  EXPECT_EQ(bodies(receive("f.fifo", 10)), (std::vector<std::string>{"a2"}));
}

TEST_F(QueueFifo, AMessageBackFromFlightKeepsItsPlace) {
  put("a1", "A");
  put("a2", "A");
  put("a3", "A");
  const auto got = receive("f.fifo", 2, 30);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(engine.delete_message("f.fifo", got[0].handle).ok());
  EXPECT_TRUE(receive("f.fifo").empty());  // a2 still in flight
  advance_s(30);
  EXPECT_EQ(bodies(receive("f.fifo", 10)), (std::vector<std::string>{"a2", "a3"}));
}

TEST_F(QueueFifo, OneReceiveTakesFromOneGroupBeforeTheNext) {
  put("a1", "A");
  put("b1", "B");
  put("a2", "A");
  put("b2", "B");
  EXPECT_EQ(bodies(receive("f.fifo", 3)), (std::vector<std::string>{"a1", "a2", "b1"}));
}

TEST_F(QueueFifo, DeduplicationWindowIsFiveMinutes) {
  const SendResult first = put("x", "A", "dup");
  advance_s(299.999);
  const SendResult again = put("other body", "A", "dup");
  EXPECT_EQ(again.message_id, first.message_id);
  EXPECT_EQ(again.sequence_number, first.sequence_number);
  EXPECT_EQ(counts("f.fifo").visible, 1u);
  EXPECT_EQ(engine.stats().deduplicated, 1u);
  advance_s(0.001);
  const SendResult later = put("x", "A", "dup");
  EXPECT_NE(later.message_id, first.message_id);
  EXPECT_EQ(counts("f.fifo").visible, 2u);
}

TEST_F(QueueFifo, DeduplicationHoldsAfterTheMessageIsDeleted) {
  put("x", "A", "d");
  const auto got = receive("f.fifo");
  ASSERT_TRUE(engine.delete_message("f.fifo", got[0].handle).ok());
  put("x", "A", "d");
  EXPECT_TRUE(receive("f.fifo").empty());
}

TEST_F(QueueFifo, ContentBasedDeduplicationUsesSha256OfTheBody) {
  create("c.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  const SendResult a = send("c.fifo", "same", {.group_id = "g"});
  const SendResult b = send("c.fifo", "same", {.group_id = "other"});
  EXPECT_EQ(a.message_id, b.message_id);
  send("c.fifo", "different", {.group_id = "g"});
  const auto got = receive("c.fifo", 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].dedup, to_hex(sha256_of("same")));
  // An explicit id wins over the content.
  send("c.fifo", "same", {.group_id = "g", .deduplication_id = "explicit"});
  EXPECT_EQ(counts("c.fifo").visible, 1u);
}

TEST_F(QueueFifo, DeduplicationScopedToTheGroup) {
  create("s.fifo", {{"FifoQueue", "true"}, {"DeduplicationScope", "messageGroup"}});
  send("s.fifo", "a", {.group_id = "g1", .deduplication_id = "d"});
  send("s.fifo", "b", {.group_id = "g2", .deduplication_id = "d"});
  send("s.fifo", "c", {.group_id = "g1", .deduplication_id = "d"});
  EXPECT_EQ(counts("s.fifo").visible, 2u);
}

TEST_F(QueueFifo, RequiredAndForbiddenParameters) {
  Error e = send_error("f.fifo", {.body = "x", .deduplication_id = "d"});
  EXPECT_EQ(e.code, ErrorCode::kMissingParameter);
  EXPECT_EQ(e.message, "The request must contain the parameter MessageGroupId.");
  e = send_error("f.fifo", {.body = "x", .group_id = "g"});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  e = send_error("f.fifo", {.body = "x", .delay_s = 5, .group_id = "g", .deduplication_id = "d"});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  e = send_error("f.fifo",
                 {.body = "x", .group_id = std::string(129, 'g'), .deduplication_id = "d"});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  e = send_error("f.fifo", {.body = "x", .group_id = "g", .deduplication_id = "has space"});
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
}

TEST_F(QueueFifo, QueueDelayKeepsGroupOrder) {
  create("d.fifo", {{"FifoQueue", "true"}, {"DelaySeconds", "10"}});
  send("d.fifo", "1", {.group_id = "g", .deduplication_id = "1"});
  advance_s(1);
  send("d.fifo", "2", {.group_id = "g", .deduplication_id = "2"});
  advance_s(9);
  EXPECT_EQ(bodies(receive("d.fifo", 10)), (std::vector<std::string>{"1"}));
  advance_s(1);
  EXPECT_TRUE(receive("d.fifo", 10).empty());  // 1 still in flight
}

TEST_F(QueueFifo, LongPollWakesWhenAGroupUnblocks) {
  put("a1", "A");
  put("a2", "A");
  const auto got = receive("f.fifo", 1);
  Collector c;
  engine.receive({.queue = "f.fifo", .wait_time_s = 20}, c);
  EXPECT_EQ(c.calls, 0);
  ASSERT_TRUE(engine.delete_message("f.fifo", got[0].handle).ok());
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0].body, "a2");
}

}  // namespace
}  // namespace sluice::queue::testing
