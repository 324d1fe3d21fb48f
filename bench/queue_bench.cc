// The queue engine in-process: one shard's send + receive + delete throughput with 256-byte
// messages in batches of 10, in memory and durable (write-ahead log with group commit, under each
// durability policy, with the latency of an acknowledged send), the wake-up latency of a long
// poll, and a request's round trip over the rings to a shard on another thread.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "durable_shard.h"
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

// A send batch of ten 256-byte messages to the queue "bench", the receive of ten, and the delete
// batch of what a receive got, with batch entry ids "0" to "9".
class TenMessages {
 public:
  TenMessages() {
    for (size_t i = 0; i < ids_.size(); ++i) {
      ids_[i] = std::to_string(i);
      sends[i] = {.id = ids_[i], .body = body_};
    }
  }
  TenMessages(const TenMessages&) = delete;
  TenMessages& operator=(const TenMessages&) = delete;

  std::span<const DeleteEntry> deletes_of(const HandleSink& got) {
    for (size_t i = 0; i < got.count; ++i) deletes_[i] = {ids_[i], got.handles[i].view()};
    return std::span(deletes_).first(got.count);
  }

  std::array<SendEntry, 10> sends;
  const ReceiveRequest receive{.queue = "bench", .max_messages = 10, .wait_time_s = 0};

 private:
  const std::string body_ = std::string(256, 'm');
  std::array<std::string, 10> ids_;
  std::array<DeleteEntry, 10> deletes_;
};

void BM_QueueSendReceiveDelete(benchmark::State& state) {
  SystemClock clock;
  QueueEngine engine({}, clock);
  engine.create_queue({.name = "bench"});
  TenMessages ten;
  HandleSink sink;
  for (auto _ : state) {
    engine.send_batch("bench", ten.sends);
    engine.receive(ten.receive, sink);
    engine.delete_batch("bench", ten.deletes_of(sink));
    if (sink.count != 10) state.SkipWithError("short receive");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 10);
  state.counters["messages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 10, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_QueueSendReceiveDelete);

// One client of a durable shard: sends a batch of ten, and once that is acknowledged receives
// ten and deletes them, and once that is acknowledged starts again.
class DurableClient final : public DurableAck {
 public:
  void on_durable() override {
    ready = true;
    if (deleting) {
      ++cycles;
    } else {
      latencies_ns->push_back(
          std::chrono::duration<double, std::nano>(Steady::now() - sent_at).count());
    }
    deleting = !deleting;
  }
  bool ready = true;
  bool deleting = false;
  uint64_t cycles = 0;
  Steady::time_point sent_at;
  std::vector<double>* latencies_ns = nullptr;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto at = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

// Send + receive + delete on a durable shard (one thread, the shard's loop and its clients
// together) with many clients outstanding (the benchmark's argument), so that group commit has
// something to group. Captured: the queue's SluiceDurability. The log goes to $SLUICE_BENCH_DIR
// or /tmp.
void BM_QueueDurable(benchmark::State& state, std::string_view durability) {
  const char* base = std::getenv("SLUICE_BENCH_DIR");
  std::string dir = std::string(base != nullptr ? base : "/tmp") + "/sluice-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return state.SkipWithError("no scratch directory");
  SystemClock clock;
  std::string error;
  auto shard = DurableShard::open({.directory = dir + "/shard-0"}, clock, &error);
  if (shard == nullptr) return state.SkipWithError(error.c_str());
  QueueEngine& engine = shard->engine();
  const AttributeValue policy[] = {{"SluiceDurability", durability}};
  engine.create_queue({.name = "bench", .attributes = policy});
  TenMessages ten;
  HandleSink sink;
  std::vector<double> latencies;
  latencies.reserve(size_t{1} << 22);
  std::vector<DurableClient> clients(static_cast<size_t>(state.range(0)));
  for (DurableClient& c : clients) c.latencies_ns = &latencies;
  const auto started = Steady::now();
  for (auto _ : state) {
    for (DurableClient& c : clients) {
      if (!c.ready) continue;
      c.ready = false;
      if (!c.deleting) {
        c.sent_at = Steady::now();
        engine.send_batch("bench", ten.sends);
      } else {
        engine.receive(ten.receive, sink);
        engine.delete_batch("bench", ten.deletes_of(sink));
      }
      shard->when_durable(shard->ack_lsn("bench"), c);
    }
    shard->poll();
  }
  shard->sync();
  const double seconds = std::chrono::duration<double>(Steady::now() - started).count();
  uint64_t cycles = 0;
  for (const DurableClient& c : clients) cycles += c.cycles;
  state.counters["messages_per_s"] = static_cast<double>(cycles) * 10 / seconds;
  state.counters["ack_p50_us"] = percentile(latencies, 0.50) / 1000;
  state.counters["ack_p99_us"] = percentile(latencies, 0.99) / 1000;
  state.counters["fsyncs_per_s"] = static_cast<double>(shard->writer().stats().syncs) / seconds;
  state.counters["log_MB_per_s"] =
      static_cast<double>(shard->writer().stats().bytes) / seconds / 1e6;
  shard.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK_CAPTURE(BM_QueueDurable, fsync, "fsync")->Arg(64)->Arg(512)->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(BM_QueueDurable, interval_10ms, "interval:10")
    ->Arg(64)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_QueueDurable, none, "none")->Arg(64)->UseRealTime()->MinTime(2);

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
