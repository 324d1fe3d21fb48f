#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "maglev.h"

namespace sluice::lb {
namespace {

std::vector<MaglevBackend> make_backends(size_t n, uint64_t seed, uint32_t max_weight = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint32_t> weight(1, max_weight);
  std::vector<MaglevBackend> backends(n);
  for (MaglevBackend& b : backends) b = {rng(), weight(rng)};
  return backends;
}

// Largest relative deviation of an entry count from its weight's exact share.
double worst_imbalance(const MaglevTable& table, const std::vector<MaglevBackend>& backends) {
  double total_weight = 0;
  for (const MaglevBackend& b : backends) total_weight += b.weight;
  const std::vector<uint32_t> counts = table.entry_counts();
  double worst = 0;
  for (size_t i = 0; i < backends.size(); ++i) {
    const double share = static_cast<double>(table.size()) * backends[i].weight / total_weight;
    worst = std::max(worst, std::abs(counts[i] - share) / share);
  }
  return worst;
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

void BM_MaglevBuild(benchmark::State& state) {
  const auto backends = make_backends(state.range(0), 1, state.range(1));
  double total_ms = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    MaglevTable table = MaglevTable::build(backends);
    benchmark::DoNotOptimize(table.entries().data());
    total_ms += elapsed_ms(start);
  }
  const MaglevTable table = MaglevTable::build(backends);
  state.counters["build_ms"] = benchmark::Counter(total_ms, benchmark::Counter::kAvgIterations);
  state.counters["worst_imbalance_pct"] = 100 * worst_imbalance(table, backends);
}
BENCHMARK(BM_MaglevBuild)
    ->ArgNames({"backends", "max_weight"})
    ->Args({10, 1})
    ->Args({100, 1})
    ->Args({1000, 1})
    ->Args({100, 10})
    ->Unit(benchmark::kMicrosecond);

// Independent lookups over random hashes: throughput, as in a burst.
void BM_MaglevLookup(benchmark::State& state) {
  const auto backends = make_backends(100, 2);
  const MaglevTable table = MaglevTable::build(backends);
  std::mt19937 rng(3);
  std::vector<uint32_t> hashes(1 << 16);
  for (uint32_t& h : hashes) h = rng();
  uint64_t sum = 0;
  double total_ms = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t h : hashes) sum += table.lookup(h);
    benchmark::DoNotOptimize(sum);
    total_ms += elapsed_ms(start);
  }
  const double lookups = static_cast<double>(state.iterations()) * hashes.size();
  state.SetItemsProcessed(static_cast<int64_t>(lookups));
  state.counters["ns_per_lookup"] = total_ms * 1e6 / lookups;
}
BENCHMARK(BM_MaglevLookup);

// Each lookup's hash depends on the previous result: the latency of one lookup, not throughput.
void BM_MaglevLookupChained(benchmark::State& state) {
  const auto backends = make_backends(100, 2);
  const MaglevTable table = MaglevTable::build(backends);
  uint32_t h = 12345;
  constexpr int kChain = 1 << 16;
  for (auto _ : state) {
    for (int i = 0; i < kChain; ++i) h = h * 2654435761u + table.lookup(h);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations() * kChain);
}
BENCHMARK(BM_MaglevLookupChained);

// Share of the table that changes owner when one of N backends leaves (averaged over which one),
// and when one joins; the ideal is 1/N and 1/(N+1).
void BM_MaglevDisruption(benchmark::State& state) {
  const size_t n = state.range(0);
  const auto size = static_cast<uint32_t>(state.range(1));
  const auto backends = make_backends(n + 1, 4);
  const std::vector<MaglevBackend> base(backends.begin(), backends.begin() + n);
  const MaglevTable table = MaglevTable::build(base, size);
  double removed_sum = 0, removed_worst = 0;
  constexpr size_t kRemovals = 10;
  for (auto _ : state) {
    removed_sum = removed_worst = 0;
    for (size_t r = 0; r < kRemovals; ++r) {
      std::vector<MaglevBackend> fewer = base;
      fewer.erase(fewer.begin() + r * n / kRemovals);
      const double moved = moved_fraction(table, base, MaglevTable::build(fewer, size), fewer);
      removed_sum += moved;
      removed_worst = std::max(removed_worst, moved);
    }
  }
  const double added = moved_fraction(table, base, MaglevTable::build(backends, size), backends);
  state.counters["leave_moved_x_ideal"] = removed_sum / kRemovals * n;
  state.counters["leave_worst_x_ideal"] = removed_worst * n;
  state.counters["join_moved_x_ideal"] = added * (n + 1);
  state.counters["leave_moved_pct"] = 100 * removed_sum / kRemovals;
  state.counters["join_moved_pct"] = 100 * added;
}
BENCHMARK(BM_MaglevDisruption)
    ->ArgNames({"backends", "size"})
    ->Args({10, MaglevTable::kDefaultSize})
    ->Args({100, MaglevTable::kDefaultSize})
    ->Args({1000, MaglevTable::kDefaultSize})
    ->Args({100, 655373})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::lb

BENCHMARK_MAIN();
