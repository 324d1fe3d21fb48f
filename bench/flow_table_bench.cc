// Flow table benchmarks: bulk lookup of 32 keys among 1M established flows, inserts of new
// flows (into a filling table, on the miss path after a bulk lookup, and into a full table that
// must evict), and the memory each flow costs.
#include <benchmark/benchmark.h>

#include "bench_util.h"

#include <cstdint>
#include <memory>

#include "flow_table.h"

namespace sluice::lb {
namespace {

using sluice::bench::cycles_since;
using sluice::bench::Rng;
using sluice::bench::thread_cpu_seconds;

constexpr uint32_t kSeed = 0x5eed1234;
constexpr uint32_t kFlows = 1000000;
constexpr uint32_t kNow = 1000;

// Distinct, random-looking keys (a bijective mix of i in the source address and port): sequential
// keys would flatter the table, CRC being linear.
FlowKey key_of(uint32_t i) {
  i = mix32(i);
  FlowKey k;
  const uint8_t src[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
  const uint8_t dst[4] = {192, 0, 2, 10};
  k.src = IpAddress::from_v4(src);
  k.dst = IpAddress::from_v4(dst);
  k.src_port = static_cast<uint16_t>(1024 + (i >> 24));
  k.dst_port = 443;
  k.proto = kProtoTcp;
  k.family = kFamilyV4;
  return k;
}

// A table sized for kFlows (capacity rounds up to 2^20) holding kFlows established flows.
FlowTable& established_table() {
  static FlowTable* table = [] {
    auto* t = new FlowTable(kFlows);
    for (uint32_t i = 0; i < kFlows; ++i) {
      const FlowKey k = key_of(i);
      t->touch_tcp(t->insert(k, flow_hash(k, kSeed), kNow), kTcpFlagAck, kNow);
    }
    return t;
  }();
  return *table;
}

void add_memory_counters(benchmark::State& state, const FlowTable& t) {
  state.counters["bytes_per_flow"] = static_cast<double>(t.memory_bytes()) / t.active();
  state.counters["load"] = static_cast<double>(t.active()) / t.capacity();
  state.counters["evictions"] = static_cast<double>(t.evictions());
}

struct Burst {
  FlowKey keys[32];
  const FlowKey* ptrs[32];
  uint32_t hashes[32];
  FlowEntry* out[32];
  Burst() {
    for (int i = 0; i < 32; ++i) ptrs[i] = &keys[i];
  }
  void random(Rng& rng, uint32_t base, uint32_t range) {
    for (int i = 0; i < 32; ++i) {
      keys[i] = key_of(base + rng.below(range));
      hashes[i] = flow_hash(keys[i], kSeed);
    }
  }
};

// The cost of making the keys and hashing them, included in the lookup benchmarks below.
void BM_KeysAndHash32(benchmark::State& state) {
  Rng rng;
  Burst b;
  for (auto _ : state) {
    b.random(rng, 0, kFlows);
    benchmark::DoNotOptimize(b.hashes);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_KeysAndHash32);

void BM_LookupBulk32Hit(benchmark::State& state) {
  FlowTable& t = established_table();
  Rng rng;
  Burst b;
  uint64_t hits = 0;
  for (auto _ : state) {
    b.random(rng, 0, kFlows);
    t.lookup_bulk(b.ptrs, b.hashes, 32, kNow + 1, b.out);
    for (FlowEntry* e : b.out) hits += e != nullptr;
  }
  state.SetItemsProcessed(state.iterations() * 32);
  state.counters["hit_ratio"] = static_cast<double>(hits) / (state.iterations() * 32.0);
  state.counters["ns_per_lookup"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 32,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  add_memory_counters(state, t);
}
BENCHMARK(BM_LookupBulk32Hit);

void BM_LookupBulk32HitAndTouch(benchmark::State& state) {
  FlowTable& t = established_table();
  Rng rng;
  Burst b;
  uint32_t now = kNow + 1;
  for (auto _ : state) {
    b.random(rng, 0, kFlows);
    t.lookup_bulk(b.ptrs, b.hashes, 32, now, b.out);
    for (FlowEntry* e : b.out) t.touch_tcp(e, kTcpFlagAck, now);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_LookupBulk32HitAndTouch);

void BM_LookupBulk32Miss(benchmark::State& state) {
  FlowTable& t = established_table();
  Rng rng;
  Burst b;
  for (auto _ : state) {
    b.random(rng, kFlows, 1u << 30);
    t.lookup_bulk(b.ptrs, b.hashes, 32, kNow + 1, b.out);
    benchmark::DoNotOptimize(b.out);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_LookupBulk32Miss);

void BM_LookupScalar32Hit(benchmark::State& state) {
  FlowTable& t = established_table();
  Rng rng;
  Burst b;
  for (auto _ : state) {
    b.random(rng, 0, kFlows);
    for (int i = 0; i < 32; ++i) b.out[i] = t.lookup(b.keys[i], b.hashes[i], kNow + 1);
    benchmark::DoNotOptimize(b.out);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_LookupScalar32Hit);

// Inserts of new flows into a table of 2^20 slots, from empty to the argument's share of kFlows
// (100: 95.4% load), cleared and refilled; each insert reads its candidate headers cold.
void BM_InsertFill(benchmark::State& state) {
  FlowTable t(kFlows);
  const uint32_t fill = static_cast<uint32_t>(uint64_t{kFlows} * state.range(0) / 100);
  uint32_t n = 0, base = 0;
  for (auto _ : state) {
    if (n == fill) {
      state.PauseTiming();
      t.clear();
      base += n;
      n = 0;
      state.ResumeTiming();
    }
    const FlowKey k = key_of(base + n);
    benchmark::DoNotOptimize(t.insert(k, flow_hash(k, kSeed), kNow));
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["moves_per_insert"] = static_cast<double>(t.moves()) / t.inserts();
  add_memory_counters(state, t);
}
BENCHMARK(BM_InsertFill)->Arg(50)->Arg(100)->Iterations(3 * kFlows);

// The miss path of a burst of 32 new flows in a table that has room: bulk lookup (all miss),
// then insert, set state and touch each, as the worker does. The table is refilled when it reaches
// kFlows.
void BM_NewFlowBurst32(benchmark::State& state) {
  FlowTable t(kFlows);
  Burst b;
  uint32_t next = 0;
  for (auto _ : state) {
    if (t.active() + 32 > kFlows) {
      state.PauseTiming();
      t.clear();
      state.ResumeTiming();
    }
    for (int i = 0; i < 32; ++i) {
      b.keys[i] = key_of(next++);
      b.hashes[i] = flow_hash(b.keys[i], kSeed);
    }
    t.lookup_bulk(b.ptrs, b.hashes, 32, kNow, b.out);
    for (int i = 0; i < 32; ++i) {
      if (b.out[i] == nullptr)
        t.touch_tcp(t.insert(b.keys[i], b.hashes[i], kNow), kTcpFlagSyn, kNow);
    }
  }
  state.SetItemsProcessed(state.iterations() * 32);
  state.counters["ns_per_flow"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 32,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  add_memory_counters(state, t);
}
BENCHMARK(BM_NewFlowBurst32);

// A full table of live flows (a SYN flood past capacity): every insert evicts the least recently
// seen of its 16 candidates after a failed cuckoo search.
void BM_InsertEvicting(benchmark::State& state) {
  FlowTable t(kFlows);
  uint32_t next = 0;
  while (t.evictions() == 0 || t.active() < t.capacity() * 99ull / 100) {
    const FlowKey k = key_of(next++);
    t.insert(k, flow_hash(k, kSeed), kNow);
  }
  const uint64_t ev0 = t.evictions();
  for (auto _ : state) {
    const FlowKey k = key_of(next++);
    benchmark::DoNotOptimize(t.insert(k, flow_hash(k, kSeed), kNow));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["evicting_share"] =
      static_cast<double>(t.evictions() - ev0) / static_cast<double>(state.iterations());
  add_memory_counters(state, t);
}
BENCHMARK(BM_InsertEvicting);

// The miss path of a SYN flood: bursts of 32 new flows into a full table of live flows, each
// insert evicting.
void BM_NewFlowBurst32Full(benchmark::State& state) {
  FlowTable t(kFlows);
  Burst b;
  uint32_t next = 0;
  while (t.active() < t.capacity()) {
    const FlowKey k = key_of(next++);
    t.insert(k, flow_hash(k, kSeed), kNow);
  }
  const uint64_t ev0 = t.evictions();
  for (auto _ : state) {
    for (int i = 0; i < 32; ++i) {
      b.keys[i] = key_of(next++);
      b.hashes[i] = flow_hash(b.keys[i], kSeed);
    }
    t.lookup_bulk(b.ptrs, b.hashes, 32, kNow, b.out);
    for (int i = 0; i < 32; ++i) {
      if (b.out[i] == nullptr)
        t.touch_tcp(t.insert(b.keys[i], b.hashes[i], kNow), kTcpFlagSyn, kNow);
    }
  }
  state.SetItemsProcessed(state.iterations() * 32);
  state.counters["ns_per_flow"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 32,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["evicting_share"] =
      static_cast<double>(t.evictions() - ev0) / (static_cast<double>(state.iterations()) * 32);
  add_memory_counters(state, t);
}
BENCHMARK(BM_NewFlowBurst32Full);

// The expiry sweep over a table of 1M established (live) flows: cost per bucket visited.
void BM_ExpireSome(benchmark::State& state) {
  FlowTable& t = established_table();
  for (auto _ : state) benchmark::DoNotOptimize(t.expire_some(kNow + 2, 256));
  state.SetItemsProcessed(state.iterations() * 256);
}
BENCHMARK(BM_ExpireSome);

}  // namespace
}  // namespace sluice::lb

BENCHMARK_MAIN();
