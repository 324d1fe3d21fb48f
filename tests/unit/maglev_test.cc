#include "maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::lb {
namespace {

using Backends = std::vector<MaglevBackend>;
constexpr uint32_t kM = MaglevTable::kDefaultSize;
constexpr uint32_t kLargeM = 655373;
constexpr uint64_t kNone = ~uint64_t{0};  // owner key of an empty slot; test keys never take it

Backends make_backends(size_t n, uint64_t seed, uint32_t max_weight = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint32_t> weight(1, max_weight);
  Backends backends(n);
  for (MaglevBackend& b : backends) b = {rng() >> 1, weight(rng)};
  return backends;
}

// The key owning each slot: lets tables built from differently ordered inputs be compared.
std::vector<uint64_t> owner_keys(const MaglevTable& table, const Backends& backends) {
  std::vector<uint64_t> keys;
  keys.reserve(table.size());
  for (MaglevTable::Entry e : table.entries()) {
    keys.push_back(e == MaglevTable::kNoBackend ? kNone : backends.at(e).key);
  }
  return keys;
}

// The population algorithm as stated, with a modulo per step and a linear walk per claim.
std::vector<uint64_t> reference_owner_keys(Backends backends, uint32_t size) {
  std::sort(backends.begin(), backends.end(),
            [](const MaglevBackend& a, const MaglevBackend& b) { return a.key < b.key; });
  std::erase_if(backends, [](const MaglevBackend& b) { return b.weight == 0; });
  std::vector<uint64_t> owner(size, kNone);
  if (backends.empty()) return owner;
  uint64_t max_weight = 0;
  for (const MaglevBackend& b : backends) max_weight = std::max<uint64_t>(max_weight, b.weight);
  std::vector<uint64_t> position(backends.size(), 0), credit(backends.size(), 0);
  uint32_t filled = 0;
  for (;;) {
    for (size_t i = 0; i < backends.size(); ++i) {
      credit[i] += backends[i].weight;
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      const MaglevPermutation p = maglev_permutation(backends[i].key, size);
      uint64_t slot;
      do {
        slot = (p.offset + position[i]++ * p.skip) % size;
      } while (owner[slot] != kNone);
      owner[slot] = backends[i].key;
      if (++filled == size) return owner;
    }
  }
}

// Largest relative deviation of an entry count from the weight's exact share of the table.
double worst_imbalance(const MaglevTable& table, const Backends& backends) {
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

std::string build_error(const Backends& backends, uint32_t size) {
  try {
    MaglevTable::build(backends, size);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(MaglevPrime, KnownValues) {
  for (uint32_t p : {2u, 3u, 5u, 7u, 13u, 251u, 7919u, 65537u, 655373u, 4294967291u}) {
    EXPECT_TRUE(is_prime(p)) << p;
  }
  for (uint32_t n : {0u, 1u, 4u, 9u, 25u, 49u, 65535u, 65536u, 62710561u, 4294967295u}) {
    EXPECT_FALSE(is_prime(n)) << n;
  }
}

TEST(MaglevBuild, RejectsNonPrimeSize) {
  const Backends backends = make_backends(3, 1);
  for (uint32_t size : {0u, 1u, 4u, 65536u, 65535u}) {
    EXPECT_NE(build_error(backends, size).find("is not prime"), std::string::npos) << size;
  }
  EXPECT_EQ(build_error(backends, 65537), "");
}

TEST(MaglevBuild, RejectsDuplicateKeys) {
  const Backends backends = {{7, 1}, {9, 1}, {7, 2}};
  EXPECT_NE(build_error(backends, kM).find("share a key"), std::string::npos);
}

TEST(MaglevBuild, RejectsTooManyBackends) {
  const Backends backends = make_backends(MaglevTable::kMaxBackends + 1, 1);
  EXPECT_NE(build_error(backends, kM).find("at most"), std::string::npos);
}

TEST(MaglevBuild, EmptySetLooksUpToSentinel) {
  const MaglevTable table = MaglevTable::build({});
  EXPECT_EQ(table.size(), kM);
  EXPECT_EQ(table.backend_count(), 0u);
  EXPECT_TRUE(table.entry_counts().empty());
  for (uint32_t h : {0u, 1u, 12345u, UINT32_MAX})
    EXPECT_EQ(table.lookup(h), MaglevTable::kNoBackend);
}

TEST(MaglevBuild, AllZeroWeightsLookUpToSentinel) {
  const Backends backends = {{1, 0}, {2, 0}};
  const MaglevTable table = MaglevTable::build(backends);
  EXPECT_EQ(table.entry_counts(), (std::vector<uint32_t>{0, 0}));
  EXPECT_TRUE(std::all_of(table.entries().begin(), table.entries().end(),
                          [](MaglevTable::Entry e) { return e == MaglevTable::kNoBackend; }));
}

TEST(MaglevBuild, SingleBackendGetsEverything) {
  const Backends backends = {{42, 3}};
  const MaglevTable table = MaglevTable::build(backends);
  EXPECT_EQ(table.entry_counts(), std::vector<uint32_t>{kM});
}

TEST(MaglevBuild, ZeroWeightBackendsGetNothing) {
  Backends backends = make_backends(10, 2);
  backends[0].weight = backends[4].weight = backends[9].weight = 0;
  const std::vector<uint32_t> counts = MaglevTable::build(backends).entry_counts();
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[4], 0u);
  EXPECT_EQ(counts[9], 0u);
  for (size_t i : {1, 2, 3, 5, 6, 7, 8}) EXPECT_GT(counts[i], 0u) << i;
}

TEST(MaglevBuild, ZeroWeightIsTheSameAsAbsent) {
  const Backends all = make_backends(20, 3);
  Backends drained = all, without = all;
  drained[7].weight = 0;
  without.erase(without.begin() + 7);
  const std::vector<uint64_t> without_keys = owner_keys(MaglevTable::build(without), without);
  EXPECT_EQ(owner_keys(MaglevTable::build(drained), drained), without_keys);
  EXPECT_NE(owner_keys(MaglevTable::build(all), all), without_keys);
}

// Equal weights: every count is M/N rounded down or up, within 1% of M/N up to N = 1000.
TEST(MaglevBalance, EqualWeightsWithinOnePercent) {
  for (size_t n : {3, 10, 100, 1000}) {
    const Backends backends = make_backends(n, n);
    const MaglevTable table = MaglevTable::build(backends);
    const std::vector<uint32_t> counts = table.entry_counts();
    const auto [min, max] = std::minmax_element(counts.begin(), counts.end());
    EXPECT_LE(*max - *min, 1u) << n;
    EXPECT_LT(worst_imbalance(table, backends), 0.01) << n;
  }
}

// Weighted: every count is within two entries of its weight's exact share, so within 1% of any
// share of 200 entries or more.
TEST(MaglevBalance, WeightsRespected) {
  const Backends proportional = {{11, 1}, {22, 2}, {33, 3}};
  EXPECT_LT(worst_imbalance(MaglevTable::build(proportional), proportional), 0.0001);
  for (size_t n : {3, 10, 100, 1000}) {
    for (uint32_t max_weight : {2u, 10u, 1000u, 1000000u}) {
      const Backends backends = make_backends(n, n + max_weight, max_weight);
      const std::vector<uint32_t> counts = MaglevTable::build(backends).entry_counts();
      double total_weight = 0;
      for (const MaglevBackend& b : backends) total_weight += b.weight;
      for (size_t i = 0; i < n; ++i) {
        const double share = static_cast<double>(kM) * backends[i].weight / total_weight;
        EXPECT_LT(std::abs(counts[i] - share), 2.0)
            << n << " backends, weights up to " << max_weight;
        if (share >= 200) {
          EXPECT_LT(std::abs(counts[i] - share), 0.01 * share);
        }
      }
    }
  }
}

TEST(MaglevBuild, Deterministic) {
  const Backends backends = make_backends(50, 4, 5);
  const MaglevTable a = MaglevTable::build(backends), b = MaglevTable::build(backends);
  EXPECT_TRUE(std::equal(a.entries().begin(), a.entries().end(), b.entries().begin()));
}

TEST(MaglevBuild, IndependentOfInputOrder) {
  const Backends backends = make_backends(50, 5, 5);
  Backends shuffled = backends;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(6));
  const MaglevTable a = MaglevTable::build(backends), b = MaglevTable::build(shuffled);
  EXPECT_EQ(owner_keys(a, backends), owner_keys(b, shuffled));
  EXPECT_EQ(moved_fraction(a, backends, b, shuffled), 0.0);
}

// The fast build (bitmap walk, then positions of the last free slots) against the plain algorithm.
TEST(MaglevBuild, MatchesReferencePopulation) {
  struct Case {
    size_t backends;
    uint32_t max_weight, size;
  };
  for (const Case& c : {Case{1, 1, 2}, Case{2, 1, 2}, Case{3, 1, 5}, Case{7, 3, 13},
                        Case{30, 1, 251}, Case{300, 1, 251}, Case{10, 1, kM}, Case{100, 1, kM},
                        Case{100, 7, kM}, Case{1000, 1, kM}, Case{20, 4, 131071}}) {
    Backends backends = make_backends(c.backends, c.size + c.backends, c.max_weight);
    if (c.backends > 2) backends[1].weight = 0;
    EXPECT_EQ(owner_keys(MaglevTable::build(backends, c.size), backends),
              reference_owner_keys(backends, c.size))
        << c.backends << " backends, size " << c.size;
  }
}

TEST(MaglevLookup, IsHashModuloSize) {
  std::mt19937 rng(7);
  for (uint32_t size : {2u, 3u, 251u, kM, kLargeM, 1000003u}) {
    const Backends backends = make_backends(5, size);
    const MaglevTable table = MaglevTable::build(backends, size);
    std::vector<uint32_t> hashes = {0, 1, size - 1, size, size + 1, UINT32_MAX, UINT32_MAX - 1};
    for (int i = 0; i < 10000; ++i) hashes.push_back(rng());
    for (uint32_t h : hashes) ASSERT_EQ(table.lookup(h), table.entries()[h % size]) << h;
  }
}

TEST(MaglevLookup, RandomHashesFollowEntryShares) {
  const Backends backends = make_backends(10, 8, 4);
  const MaglevTable table = MaglevTable::build(backends);
  const std::vector<uint32_t> counts = table.entry_counts();
  std::vector<uint32_t> hits(backends.size(), 0);
  std::mt19937 rng(9);
  constexpr int kLookups = 2'000'000;
  for (int i = 0; i < kLookups; ++i) ++hits[table.lookup(rng())];
  for (size_t i = 0; i < backends.size(); ++i) {
    const double share = static_cast<double>(counts[i]) / kM;
    // Several standard deviations of a binomial at these shares (about 0.0003).
    EXPECT_NEAR(static_cast<double>(hits[i]) / kLookups, share, 0.002) << i;
  }
}

struct Movement {
  double total;            // share of the table that changed owner
  double among_survivors;  // share of the survivors' former entries that changed owner
};

Movement remove_one(size_t n, uint32_t size, size_t leaving) {
  const Backends before = make_backends(n, n * 7 + leaving);
  Backends after = before;
  after.erase(after.begin() + leaving);
  const MaglevTable a = MaglevTable::build(before, size), b = MaglevTable::build(after, size);
  const std::vector<uint64_t> ka = owner_keys(a, before), kb = owner_keys(b, after);
  uint32_t survivors = 0, survivors_moved = 0;
  for (uint32_t i = 0; i < size; ++i) {
    if (ka[i] == before[leaving].key) {
      EXPECT_NE(kb[i], ka[i]);
      continue;
    }
    ++survivors;
    survivors_moved += ka[i] != kb[i];
  }
  return {moved_fraction(a, before, b, after), static_cast<double>(survivors_moved) / survivors};
}

// One of N leaving: ideally exactly its 1/N share moves. Maglev moves a little more, the more so
// the larger N is against M; at the default size 100 backends move about 1.6x their share.
TEST(MaglevDisruption, OneBackendLeaves) {
  struct Case {
    size_t n;
    uint32_t size;
    double max_total_x_ideal, max_among_survivors;
  };
  for (const Case& c :
       {Case{10, kM, 1.2, 0.005}, Case{100, kLargeM, 1.2, 0.003}, Case{100, kM, 1.7, 0.008}}) {
    for (size_t leaving : {size_t{0}, c.n / 2, c.n - 1}) {
      const Movement m = remove_one(c.n, c.size, leaving);
      EXPECT_GE(m.total, 1.0 / c.n * 0.98) << c.n << " of size " << c.size;
      EXPECT_LE(m.total, c.max_total_x_ideal / c.n) << c.n << " of size " << c.size;
      EXPECT_LE(m.among_survivors, c.max_among_survivors) << c.n << " of size " << c.size;
    }
  }
}

TEST(MaglevDisruption, OneBackendJoins) {
  struct Case {
    size_t n;
    uint32_t size;
    double max_total_x_ideal;
  };
  for (const Case& c : {Case{10, kM, 1.2}, Case{100, kLargeM, 1.2}, Case{100, kM, 1.7}}) {
    const Backends after = make_backends(c.n + 1, c.n);
    const Backends before(after.begin(), after.end() - 1);
    const MaglevTable a = MaglevTable::build(before, c.size);
    const MaglevTable b = MaglevTable::build(after, c.size);
    EXPECT_LE(moved_fraction(a, before, b, after), c.max_total_x_ideal / (c.n + 1)) << c.n;
    // At least the newcomer's own entries moved.
    EXPECT_GE(moved_fraction(a, before, b, after),
              static_cast<double>(b.entry_counts().back()) / c.size);
  }
}

TEST(MaglevDisruption, MovedFractionRejectsSizeMismatch) {
  const Backends backends = make_backends(3, 10);
  const MaglevTable a = MaglevTable::build(backends, kM), b = MaglevTable::build(backends, 251);
  EXPECT_THROW(moved_fraction(a, backends, b, backends), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::lb
