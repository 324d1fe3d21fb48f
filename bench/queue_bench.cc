// The queue engine in-process: one shard's send + receive + delete throughput with 256-byte
// messages in batches of 10, the wake-up latency of a long poll, and a request's round trip over
// the rings to a shard on another thread.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "queue_engine.h"
#include "shard_calls.h"
#include "shard_set.h"

namespace sluice::queue {
namespace {

using Steady = std::chrono::steady_clock;

// Keeps the receipt handles of what it was given.
class HandleSink final : public ReceiveSink {
 public:
  void on_receive(const ReceiveOutcome& outcome) override {
    count = outcome.messages.size();
    for (size_t i = 0; i < count; ++i) handles[i] = outcome.messages[i].receipt_handle;
    woke_at = Steady::now();
  }
  std::array<ReceiptHandle, limits::kMaxReceiveMessages> handles;
  size_t count = 0;
  Steady::time_point woke_at;
};

void BM_QueueSendReceiveDelete(benchmark::State& state) {
  SystemClock clock;
  QueueEngine engine({}, clock);
  engine.create_queue({.name = "bench"});
  const std::string body(256, 'm');
  std::array<std::string, 10> ids;
  std::array<SendEntry, 10> sends;
  std::array<DeleteEntry, 10> deletes;
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = std::to_string(i);
    sends[i] = {.id = ids[i], .body = body};
  }
  HandleSink sink;
  const ReceiveRequest receive{.queue = "bench", .max_messages = 10, .wait_time_s = 0};
  for (auto _ : state) {
    engine.send_batch("bench", sends);
    engine.receive(receive, sink);
    for (size_t i = 0; i < sink.count; ++i) deletes[i] = {ids[i], sink.handles[i].view()};
    engine.delete_batch("bench", std::span(deletes).first(sink.count));
    if (sink.count != 10) state.SkipWithError("short receive");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 10);
  state.counters["messages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 10, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_QueueSendReceiveDelete);

// From the send that makes a message available to the waiting receive's callback.
void BM_QueueLongPollWakeup(benchmark::State& state) {
  SystemClock clock;
  QueueEngine engine({}, clock);
  engine.create_queue({.name = "bench"});
  const std::string body(256, 'm');
  HandleSink sink;
  double total_ns = 0;
  for (auto _ : state) {
    engine.receive({.queue = "bench", .max_messages = 1, .wait_time_s = 20}, sink);
    const auto start = Steady::now();
    engine.send("bench", {.body = body});
    total_ns += std::chrono::duration<double, std::nano>(sink.woke_at - start).count();
    engine.delete_message("bench", sink.handles[0].view());
  }
  state.counters["wakeup_ns"] = benchmark::Counter(total_ns, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_QueueLongPollWakeup);

// One shard on its own spinning thread with the queue "bench", and source 0 to reach it.
class RemoteShard {
 public:
  RemoteShard() : shards_({.shards = 1, .sources = 1, .idle_sleep_us = 0}, clock_) {
    shards_.engine(0).create_queue({.name = "bench"});
    shards_.start();
  }
  ~RemoteShard() { shards_.stop(); }

  // Submits and waits for the reply, yielding the core meanwhile (the shard may share it).
  void call(ShardCall* c) {
    while (!shards_.submit_to(0, 0, c)) std::this_thread::yield();
    while (shards_.poll(0) == nullptr) std::this_thread::yield();
  }

 private:
  SystemClock clock_;
  ShardSet shards_;
};

// A receive on an empty queue submitted to a shard thread and polled back.
void BM_QueueCrossShardRoundTrip(benchmark::State& state) {
  RemoteShard shard;
  ReceiveCall receive;
  receive.queue = "bench";
  for (auto _ : state) shard.call(&receive);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_QueueCrossShardRoundTrip)->UseRealTime();

// Send, receive and delete batches of ten through the rings, one call outstanding at a time.
void BM_QueueCrossShardBatches(benchmark::State& state) {
  RemoteShard shard;
  SendBatchCall send;
  send.queue = "bench";
  send.bodies.assign(10, std::string(256, 'm'));
  ReceiveCall receive;
  receive.queue = "bench";
  DeleteBatchCall del;
  del.queue = "bench";
  for (auto _ : state) {
    shard.call(&send);
    shard.call(&receive);
    del.handles.clear();
    for (size_t i = 0; i < receive.count; ++i) {
      del.handles.push_back(receive.messages[i].receipt_handle);
    }
    shard.call(&del);
  }
  state.counters["messages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 10, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_QueueCrossShardBatches)->UseRealTime();

}  // namespace
}  // namespace sluice::queue

BENCHMARK_MAIN();
