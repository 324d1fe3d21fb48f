// Batches and their errors, the in-flight cap, the memory budget, and the journal.
#include <gtest/gtest.h>

#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

using QueueBatches = QueueTest;

TEST_F(QueueBatches, SendBatchReportsEachEntry) {
  create("q");
  const SendEntry entries[] = {{.id = "a", .body = "one"},
                               {.id = "b", .body = ""},
                               {.id = "c", .body = "three", .delay_s = 1000}};
  auto r = engine.send_batch("q", entries);
  ASSERT_TRUE(r.ok());
  const auto out = r->view();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].id, "a");
  EXPECT_FALSE(out[0].error.has_value());
  EXPECT_EQ(out[1].error->code, ErrorCode::kMissingParameter);
  EXPECT_EQ(out[2].error->code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(counts("q").visible, 1u);
}

TEST_F(QueueBatches, WholeBatchErrors) {
  create("q");
  auto code = [&](std::vector<SendEntry> entries) {
    auto r = engine.send_batch("q", entries);
    EXPECT_FALSE(r.ok());
    return r.ok() ? ErrorCode::kOverLimit : r.error().code;
  };
  EXPECT_EQ(code({}), ErrorCode::kEmptyBatchRequest);
  std::vector<SendEntry> eleven;
  std::vector<std::string> ids;
  for (int i = 0; i < 11; ++i) ids.push_back("e" + std::to_string(i));
  for (const auto& id : ids) eleven.push_back({.id = id, .body = "x"});
  EXPECT_EQ(code(eleven), ErrorCode::kTooManyEntriesInBatchRequest);
  EXPECT_EQ(code({{.id = "a", .body = "x"}, {.id = "a", .body = "y"}}),
            ErrorCode::kBatchEntryIdsNotDistinct);
  EXPECT_EQ(code({{.id = "bad id", .body = "x"}}), ErrorCode::kInvalidBatchEntryId);
  EXPECT_EQ(code({{.id = std::string(81, 'i'), .body = "x"}}), ErrorCode::kInvalidBatchEntryId);
  EXPECT_EQ(code({{.id = "", .body = "x"}}), ErrorCode::kInvalidBatchEntryId);
  const std::string half(600 * 1024, 'h');
  EXPECT_EQ(code({{.id = "a", .body = half}, {.id = "b", .body = half}}),
            ErrorCode::kBatchRequestTooLong);
  auto missing = engine.send_batch("none", std::vector<SendEntry>{{.id = "a", .body = "x"}});
  EXPECT_EQ(missing.error().code, ErrorCode::kQueueDoesNotExist);
  EXPECT_EQ(counts("q").visible, 0u);
}

TEST_F(QueueBatches, DeleteAndVisibilityBatches) {
  create("q");
  for (int i = 0; i < 3; ++i) send("q", "m");
  const auto got = receive("q", 3);
  const DeleteEntry deletes[] = {{"a", got[0].handle}, {"b", "junk"}};
  auto d = engine.delete_batch("q", deletes);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->view()[0].error.has_value());
  EXPECT_EQ(d->view()[1].error->code, ErrorCode::kReceiptHandleIsInvalid);
  const VisibilityEntry changes[] = {
      {"x", got[0].handle, 5}, {"y", got[1].handle, 0}, {"z", got[2].handle, 50000}};
  auto v = engine.change_visibility_batch("q", changes);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->view()[0].error->code, ErrorCode::kMessageNotInflight);  // deleted
  EXPECT_FALSE(v->view()[1].error.has_value());
  EXPECT_EQ(v->view()[2].error->code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(counts("q").visible, 1u);
  const DeleteEntry dup[] = {{"a", got[1].handle}, {"a", got[2].handle}};
  EXPECT_EQ(engine.delete_batch("q", dup).error().code, ErrorCode::kBatchEntryIdsNotDistinct);
  EXPECT_EQ(engine.delete_batch("q", std::span<const DeleteEntry>()).error().code,
            ErrorCode::kEmptyBatchRequest);
}

class QueueCaps : public QueueTest {
 protected:
  QueueCaps()
      : QueueTest(EngineConfig{.memory_budget_bytes = 8 << 20,
                               .standard_inflight_limit = 5,
                               .fifo_inflight_limit = 3}) {}
};

TEST_F(QueueCaps, InFlightLimitGivesOverLimitOnStandardQueues) {
  create("q");
  for (int i = 0; i < 8; ++i) send("q", "m");
  EXPECT_EQ(receive("q", 10).size(), 5u);
  const Error e = receive_error({.queue = "q"});
  EXPECT_EQ(e.code, ErrorCode::kOverLimit);
  EXPECT_EQ(error_info(e.code).http_status, 403);
  advance_s(30);
  EXPECT_EQ(receive("q", 10).size(), 5u);
}

TEST_F(QueueCaps, FifoAtTheLimitReturnsNothing) {
  create("f.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  for (int i = 0; i < 5; ++i)
    send("f.fifo", "m" + std::to_string(i), {.group_id = "g" + std::to_string(i)});
  EXPECT_EQ(receive("f.fifo", 10).size(), 3u);
  EXPECT_TRUE(receive("f.fifo", 10).empty());
}

TEST_F(QueueCaps, MemoryBudgetRefusesWithAClearErrorAndRecovers) {
  create("q");
  const std::string body(200 * 1024, 'b');  // large blocks: one allocation each
  int accepted = 0;
  Error refused;
  for (int i = 0; i < 100; ++i) {
    auto r = engine.send("q", {.body = body});
    if (!r.ok()) {
      refused = r.error();
      break;
    }
    ++accepted;
  }
  ASSERT_GT(accepted, 10);
  ASSERT_LT(accepted, 100);
  EXPECT_EQ(refused.code, ErrorCode::kRequestThrottled);
  EXPECT_NE(refused.message.find("memory budget"), std::string::npos);
  EXPECT_LE(engine.memory().used(), engine.memory().limit());
  EXPECT_GE(engine.stats().throttled, 1u);
  ASSERT_TRUE(engine.purge("q").ok());
  EXPECT_TRUE(engine.send("q", {.body = body}).ok());
}

class RecordingJournal final : public Journal {
 public:
  void record(const JournalRecord& r) override { ops.push_back(r.op); }
  std::vector<JournalOp> ops;
};

TEST(QueueJournal, EveryStateChangeIsRecorded) {
  ManualClock clock;
  RecordingJournal journal;
  QueueEngine engine({}, clock, journal);
  ASSERT_TRUE(engine.create_queue({.name = "q"}).ok());
  ASSERT_TRUE(engine.send("q", {.body = "a"}).ok());
  Collector c;
  engine.receive({.queue = "q", .visibility_timeout_s = 1}, c);
  clock.advance(1000);
  engine.run_timers();
  engine.receive({.queue = "q"}, c);
  ASSERT_TRUE(engine.change_visibility("q", c.got[1].handle, 10).ok());
  ASSERT_TRUE(engine.delete_message("q", c.got[1].handle).ok());
  ASSERT_TRUE(engine.delete_queue("q").ok());
  EXPECT_EQ(journal.ops,
            (std::vector<JournalOp>{JournalOp::kQueueCreated, JournalOp::kMessageSent,
                                    JournalOp::kMessageDelivered, JournalOp::kMessageVisible,
                                    JournalOp::kMessageDelivered, JournalOp::kVisibilityChanged,
                                    JournalOp::kMessageDeleted, JournalOp::kQueueDeleted}));
}

}  // namespace
}  // namespace sluice::queue::testing
