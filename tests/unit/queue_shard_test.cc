// The rings and the shard set: two shards on two threads, driven from the test's thread.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "clock.h"
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

}  // namespace
}  // namespace sluice::queue
