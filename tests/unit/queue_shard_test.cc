// The rings and the shard set: two shards on two threads, driven from the test's thread, in
// memory and with durable logs.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "clock.h"
#include "queue_durable_util.h"
#include "shard_calls.h"
#include "shard_set.h"
#include "spsc_ring.h"

namespace sluice::queue {
namespace {

TEST(QueueSpscRing, FifoAcrossThreadsAndFullWhenFull) {
  SpscRing<uint64_t> ring(4);
  EXPECT_EQ(ring.capacity(), 4u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(ring.push(i));
  EXPECT_FALSE(ring.push(99));
  uint64_t v = 0;
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.pop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.pop(&v));

  SpscRing<uint64_t> big(64);
  constexpr uint64_t kCount = 200000;
  std::thread producer([&] {
    for (uint64_t i = 0; i < kCount;) {
      if (big.push(i)) ++i;
    }
  });
  uint64_t expected = 0;
  while (expected < kCount) {
    if (big.pop(&v)) {
      ASSERT_EQ(v, expected);
      ++expected;
    }
  }
  producer.join();
}

class QueueShards : public ::testing::Test {
 protected:
  QueueShards() : set({.shards = 2, .sources = 1}, clock) {
    for (int i = 0; names[0].empty() || names[1].empty(); ++i) {
      const std::string n = "queue-" + std::to_string(i);
      std::string& slot = names[set.shard_of(n)];
      if (slot.empty()) slot = n;
    }
  }

  // Submits from source 0 and waits for the call to come back.
  void call(uint32_t shard, ShardCall* c) {
    ASSERT_TRUE(set.submit_to(0, shard, c));
    wait_for(c);
  }
  void wait_for(ShardCall* c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ShardCall* back = set.poll(0)) {
        ASSERT_EQ(back, c);
        return;
      }
      std::this_thread::yield();
    }
    FAIL() << "no reply";
  }
  void create(const std::string& name,
              std::vector<std::pair<std::string, std::string>> attributes = {}) {
    CreateQueueCall c;
    c.name = name;
    c.attributes = std::move(attributes);
    call(set.shard_of(name), &c);
    ASSERT_FALSE(c.error.has_value()) << c.error->message;
  }

  ManualClock clock;
  ShardSet set;
  std::string names[2];
};

TEST_F(QueueShards, TwoShardsOnTwoThreads) {
  set.start();
  for (const std::string& n : names) create(n);
  // The queues live on different shards.
  EXPECT_NE(set.shard_of(names[0]), set.shard_of(names[1]));

  SendBatchCall send;
  ReceiveCall receive;
  DeleteBatchCall del;
  for (int round = 0; round < 50; ++round) {
    for (const std::string& n : names) {
      const uint32_t shard = set.shard_of(n);
      send.queue = n;
      send.bodies.assign(10, n + "-" + std::to_string(round));
      call(shard, &send);
      ASSERT_FALSE(send.error.has_value());
      ASSERT_EQ(send.sent.size(), 10u);
      receive.queue = n;
      call(shard, &receive);
      ASSERT_EQ(receive.count, 10u);
      EXPECT_EQ(receive.messages[0].body, n + "-" + std::to_string(round));
      del.queue = n;
      del.handles.clear();
      for (size_t i = 0; i < receive.count; ++i)
        del.handles.push_back(receive.messages[i].receipt_handle);
      call(shard, &del);
      ASSERT_EQ(del.failed, 0u);
    }
  }
  set.stop();
  for (const std::string& n : names) {
    const QueueCounts c = set.engine(set.shard_of(n)).counts(n).value();
    EXPECT_EQ(c.visible + c.in_flight, 0u);
    EXPECT_EQ(set.engine(set.shard_of(n)).stats().deleted, 500u);
  }
}

TEST_F(QueueShards, LongPollAnsweredAcrossTheRings) {
  set.start();
  create(names[1]);
  ReceiveCall waiting;
  waiting.queue = names[1];
  waiting.wait_time_s = 20;
  ASSERT_TRUE(set.submit_to(0, 1, &waiting));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(set.poll(0), nullptr);
  SendBatchCall send;
  send.queue = names[1];
  send.bodies = {"wake"};
  ASSERT_TRUE(set.submit_to(0, 1, &send));
  std::set<ShardCall*> back;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (back.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    if (ShardCall* c = set.poll(0)) back.insert(c);
  }
  ASSERT_EQ(back.size(), 2u);
  ASSERT_EQ(waiting.count, 1u);
  EXPECT_EQ(waiting.messages[0].body, "wake");
}

TEST_F(QueueShards, ARedrivePolicyToAMissingQueueOfTheSameShardIsRefused) {
  set.start();
  auto redrive_to = [](const std::string& target) {
    return R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)" + target +
           R"(","maxReceiveCount":1})";
  };
  const uint32_t shard = set.shard_of(names[1]);
  std::string missing;
  for (int i = 0; missing.empty() || set.shard_of(missing) != shard; ++i)
    missing = names[1] + "-gone-" + std::to_string(i);
  CreateQueueCall c;
  c.name = names[1];
  // A target that would live on the source's own shard must exist.
  c.attributes = {{"RedrivePolicy", redrive_to(missing)}};
  call(shard, &c);
  ASSERT_TRUE(c.error.has_value());
  EXPECT_NE(c.error->message.find("Dead letter target does not exist."), std::string::npos);
  // One of the other shard cannot be seen from here and is taken on trust.
  c.attributes = {{"RedrivePolicy", redrive_to(names[0])}};
  call(shard, &c);
  EXPECT_FALSE(c.error.has_value()) << c.error->message;
}

TEST_F(QueueShards, DeadLetteringToAQueueOnTheOtherShard) {
  set.start();
  const std::string& dlq = names[0];
  const std::string& source = names[1];
  create(dlq);
  create(source,
         {{"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)" + dlq +
                                R"(","maxReceiveCount":1})"},
          {"VisibilityTimeout", "0"}});
  SendBatchCall send;
  send.queue = source;
  send.bodies = {"poison"};
  call(1, &send);
  ReceiveCall receive;
  receive.queue = source;
  call(1, &receive);
  ASSERT_EQ(receive.count, 1u);
  call(1, &receive);  // the second receive dead-letters it to the other shard
  EXPECT_EQ(receive.count, 0u);
  receive.queue = dlq;
  receive.wait_time_s = 5;
  call(0, &receive);
  ASSERT_EQ(receive.count, 1u);
  EXPECT_EQ(receive.messages[0].body, "poison");
  EXPECT_EQ(receive.messages[0].id, send.sent[0].message_id);
}

// Names of one queue on each of the set's two shards.
std::array<std::string, 2> names_per_shard(const ShardSet& set, const std::string& prefix) {
  std::array<std::string, 2> names;
  for (int i = 0; names[0].empty() || names[1].empty(); ++i) {
    const std::string n = prefix + std::to_string(i);
    std::string& slot = names[set.shard_of(n)];
    if (slot.empty()) slot = n;
  }
  return names;
}

// A send batch that notes how far the shard's log reached once it was logged.
class LoggedSend final : public ShardCall {
 public:
  LoggedSend(DurableShard* log, std::string queue) : log_(log), queue_(std::move(queue)) {}

  void run(QueueEngine& engine, const Completion& completion) override {
    const std::string body = "body-" + std::to_string(round);
    const std::string ids[] = {"0", "1", "2", "3", "4"};
    std::vector<SendEntry> entries;
    for (const std::string& id : ids) entries.push_back({.id = id, .body = body});
    sent.clear();
    auto r = engine.send_batch(queue_, entries);
    if (r.ok()) {
      for (const BatchEntryOutcome& o : r->view()) {
        if (!o.error) sent.push_back(o.sent.message_id.to_string());
      }
    }
    logged_lsn = log_->appended_lsn();
    completion.done(queue_);
  }

  int round = 0;
  uint64_t logged_lsn = 0;
  std::vector<std::string> sent;

 private:
  DurableShard* log_;
  std::string queue_;
};

class DurableShards : public ::testing::Test {
 protected:
  std::unique_ptr<ShardSet> open() {
    std::string error;
    auto set = ShardSet::open({.shards = 2, .sources = 1, .directory = dir.path()}, clock, &error);
    EXPECT_NE(set, nullptr) << error;
    return set;
  }

  // Submits from source 0 to `shard` and runs only that shard's loop until the call is back.
  static void drive(ShardSet& set, uint32_t shard, ShardCall* c) {
    ASSERT_TRUE(set.submit_to(0, shard, c));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      set.run_once(shard);
      if (ShardCall* back = set.poll(0)) {
        ASSERT_EQ(back, c);
        return;
      }
    }
    FAIL() << "no reply";
  }

  static std::vector<std::string> ids_in(QueueEngine& engine, const std::string& queue) {
    std::vector<std::string> ids;
    for (const testing::Got& g : testing::receive_all(engine, queue)) ids.push_back(g.id);
    return ids;
  }

  testing::TempDir dir;
  ManualClock clock;
};

TEST_F(DurableShards, SendsFromAnotherCoreAreAcknowledgedOnceDurableAndSurviveARestart) {
  std::array<std::string, 2> names;
  std::multiset<std::string> acknowledged[2];
  {
    auto set = open();
    ASSERT_NE(set, nullptr);
    names = names_per_shard(*set, "durable-");
    set->start();
    for (uint32_t shard = 0; shard < 2; ++shard) {
      CreateQueueCall create;
      create.name = names[shard];
      ASSERT_TRUE(set->submit_to(0, shard, &create));
      while (set->poll(0) != &create) std::this_thread::yield();
      ASSERT_FALSE(create.error.has_value());
    }
    LoggedSend sends[2] = {{set->durable(0), names[0]}, {set->durable(1), names[1]}};
    for (int round = 0; round < 100; ++round) {
      for (uint32_t shard = 0; shard < 2; ++shard) {
        sends[shard].round = round;
        ASSERT_TRUE(set->submit_to(0, shard, &sends[shard]));
      }
      for (int back = 0; back < 2;) {
        ShardCall* c = set->poll(0);
        if (c == nullptr) continue;
        auto* send = static_cast<LoggedSend*>(c);
        const uint32_t shard = send == &sends[0] ? 0 : 1;
        // The log was on disk through the send's records before the reply left the shard.
        ASSERT_GE(set->durable_lsn(shard), send->logged_lsn);
        ASSERT_EQ(send->sent.size(), 5u);
        acknowledged[shard].insert(send->sent.begin(), send->sent.end());
        ++back;
      }
    }
    set->stop();
  }
  auto set = open();
  ASSERT_NE(set, nullptr);
  for (uint32_t shard = 0; shard < 2; ++shard) {
    EXPECT_EQ(set->durable(shard)->recovery().records, 501u);
    const std::vector<std::string> ids = ids_in(set->engine(shard), names[shard]);
    EXPECT_EQ(std::multiset<std::string>(ids.begin(), ids.end()), acknowledged[shard]);
  }
}

TEST_F(DurableShards, DeadLetterHandOverAcrossShardsLosesNothingOnACrash) {
  std::array<std::string, 2> names;
  MessageId id;
  ReceiveCall receive;
  {
    auto set = open();
    ASSERT_NE(set, nullptr);
    names = names_per_shard(*set, "handover-");
    CreateQueueCall create;
    create.name = names[0];
    drive(*set, 0, &create);
    create.name = names[1];
    create.attributes = {
        {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)" +
                              names[0] + R"(","maxReceiveCount":1})"},
        {"VisibilityTimeout", "0"}};
    drive(*set, 1, &create);
    ASSERT_FALSE(create.error.has_value());
    SendBatchCall send;
    send.queue = names[1];
    send.bodies = {"poison"};
    drive(*set, 1, &send);
    id = send.sent.at(0).message_id;
    receive.queue = names[1];
    drive(*set, 1, &receive);
    ASSERT_EQ(receive.count, 1u);
    // The second receive hands the message to the dead-letter queue's shard, which never runs:
    // the crash comes before the target has it.
    drive(*set, 1, &receive);
    EXPECT_EQ(receive.count, 0u);
    EXPECT_EQ(set->engine(1).counts(names[1]).value().visible, 0u);
  }
  {
    auto set = open();
    ASSERT_NE(set, nullptr);
    EXPECT_EQ(ids_in(set->engine(0), names[0]).size(), 0u);
    EXPECT_EQ(set->engine(1).counts(names[1]).value().visible, 1u);
    // Again, and this time the target takes it and syncs, but the source never hears back.
    drive(*set, 1, &receive);
    EXPECT_EQ(receive.count, 0u);
    while (set->engine(0).counts(names[0]).value().visible == 0) set->run_once(0);
    ASSERT_TRUE(set->durable(0)->sync());
  }
  {
    auto set = open();
    ASSERT_NE(set, nullptr);
    // In both queues: a duplicate with the same message id, not a loss.
    EXPECT_EQ(set->engine(0).counts(names[0]).value().visible, 1u);
    EXPECT_EQ(set->engine(1).counts(names[1]).value().visible, 1u);
    // The whole hand-over: the source logs the message's removal once the target has it.
    drive(*set, 1, &receive);
    while (set->engine(0).counts(names[0]).value().visible < 2) set->run_once(0);
    ASSERT_TRUE(set->durable(0)->sync());  // the target's record is on disk: the relay goes back
    set->run_once(1);
    ASSERT_TRUE(set->durable(1)->sync());
  }
  auto set = open();
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(ids_in(set->engine(1), names[1]).size(), 0u);
  EXPECT_EQ(ids_in(set->engine(0), names[0]),
            (std::vector<std::string>{id.to_string(), id.to_string()}));
}

}  // namespace
}  // namespace sluice::queue
