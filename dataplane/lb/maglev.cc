#include "maglev.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace sluice::lb {
namespace {

// MurmurHash3's 64-bit finaliser: a bijection, so distinct keys keep distinct hashes.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

constexpr uint64_t kOffsetSeed = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSkipSeed = 0x6a09e667f3bcc909ULL;

struct Contender {
  uint64_t key;
  uint32_t weight;
  MaglevTable::Entry index;
};

struct Cursor {
  uint64_t offset;
  uint64_t skip;
  uint64_t next;          // the next slot of this backend's permutation to try
  uint64_t inverse_skip;  // skip^-1 mod M, computed when first needed
  uint64_t credit;
  uint32_t weight;
  MaglevTable::Entry index;
};

// x mod M for x < M^2 (Barrett): a multiplication instead of a division.
class Reducer {
 public:
  explicit Reducer(uint32_t m) : m_(m), factor_(UINT64_MAX / m) {}
  uint64_t operator()(uint64_t x) const {
    __extension__ using u128 = unsigned __int128;
    const uint64_t r = x - static_cast<uint64_t>((static_cast<u128>(x) * factor_) >> 64) * m_;
    return r >= m_ ? r - m_ : r;
  }

 private:
  uint64_t m_, factor_;
};

// a^-1 mod m for a prime m and 0 < a < m (extended Euclid).
uint64_t inverse_mod(uint64_t a, uint64_t m) {
  int64_t t = 0, new_t = 1;
  uint64_t r = m, new_r = a;
  while (new_r != 0) {
    const uint64_t q = r / new_r;
    t = std::exchange(new_t, t - static_cast<int64_t>(q) * new_t);
    r = std::exchange(new_r, r - q * new_r);
  }
  return t < 0 ? static_cast<uint64_t>(t + static_cast<int64_t>(m)) : static_cast<uint64_t>(t);
}

std::vector<uint32_t> free_in(const std::vector<uint64_t>& taken, uint32_t size) {
  std::vector<uint32_t> slots;
  for (size_t w = 0; w < taken.size(); ++w) {
    for (uint64_t bits = ~taken[w]; bits != 0; bits &= bits - 1) {
      const uint32_t slot = static_cast<uint32_t>(w * 64 + std::countr_zero(bits));
      if (slot < size) slots.push_back(slot);
    }
  }
  return slots;
}

}  // namespace

MaglevPermutation maglev_permutation(uint64_t key, uint32_t size) noexcept {
  return {static_cast<uint32_t>(mix64(key ^ kOffsetSeed) % size),
          static_cast<uint32_t>(mix64(key ^ kSkipSeed) % (size - 1) + 1)};
}

MaglevTable::MaglevTable(uint32_t size, size_t backend_count)
    : entries_(size, kNoBackend),
      reciprocal_(UINT64_MAX / size + 1),
      size_(size),
      backend_count_(backend_count) {}

MaglevTable MaglevTable::build(std::span<const MaglevBackend> backends, uint32_t size) {
  if (!is_prime(size)) {
    throw std::invalid_argument("maglev table size " + std::to_string(size) + " is not prime");
  }
  if (backends.size() > kMaxBackends) {
    throw std::invalid_argument("maglev table: " + std::to_string(backends.size()) +
                                " backends, at most " + std::to_string(kMaxBackends));
  }

  // Turn order is by key, so that the table does not depend on the order of the input.
  std::vector<Contender> contenders;
  contenders.reserve(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    contenders.push_back({backends[i].key, backends[i].weight, static_cast<Entry>(i)});
  }
  std::sort(contenders.begin(), contenders.end(),
            [](const Contender& a, const Contender& b) { return a.key < b.key; });
  for (size_t i = 1; i < contenders.size(); ++i) {
    if (contenders[i].key == contenders[i - 1].key) {
      throw std::invalid_argument("maglev table: backends " +
                                  std::to_string(contenders[i - 1].index) + " and " +
                                  std::to_string(contenders[i].index) + " share a key");
    }
  }

  MaglevTable table(size, backends.size());
  std::vector<Cursor> cursors;
  cursors.reserve(contenders.size());
  uint32_t max_weight = 0;
  for (const Contender& c : contenders) {
    if (c.weight == 0) continue;
    const MaglevPermutation p = maglev_permutation(c.key, size);
    cursors.push_back({p.offset, p.skip, p.offset, 0, 0, c.weight, c.index});
    max_weight = std::max(max_weight, c.weight);
  }
  if (cursors.empty()) return table;

  // Rounds over the backends in key order; a backend takes a turn when its credit allows.
  size_t turn = 0;
  auto next_turn = [&]() -> Cursor& {
    for (;;) {
      Cursor& c = cursors[turn];
      turn = turn + 1 == cursors.size() ? 0 : turn + 1;
      c.credit += c.weight;
      if (c.credit >= max_weight) {
        c.credit -= max_weight;
        return c;
      }
    }
  };

  // Two ways to find a backend's next free slot, same answer. While many slots are free, walk its
  // permutation over an occupancy bitmap (small enough for L1). Near the end a walk takes about
  // M/F probes for F free slots, so for the last sqrt(M) slots compute each free slot's position
  // in the permutation instead and take the earliest: O(F) per claim.
  const uint32_t tail = std::max<uint32_t>(1, static_cast<uint32_t>(std::sqrt(size)));
  const uint32_t walk_end = size - tail;
  Entry* entries = table.entries_.data();
  std::vector<uint64_t> taken((size + 63) / 64, 0);
  for (uint32_t filled = 0; filled < walk_end; ++filled) {
    Cursor& c = next_turn();
    uint64_t slot = c.next;
    while (taken[slot >> 6] >> (slot & 63) & 1) {
      slot += c.skip;
      if (slot >= size) slot -= size;
    }
    taken[slot >> 6] |= uint64_t{1} << (slot & 63);
    entries[slot] = c.index;
    slot += c.skip;
    c.next = slot >= size ? slot - size : slot;
  }

  const Reducer mod(size);
  std::vector<uint32_t> free_slots = free_in(taken, size);
  while (!free_slots.empty()) {
    Cursor& c = next_turn();
    if (c.inverse_skip == 0) c.inverse_skip = inverse_mod(c.skip, size);
    size_t best = 0;
    uint64_t best_position = UINT64_MAX;
    for (size_t i = 0; i < free_slots.size(); ++i) {
      const uint64_t s = free_slots[i];
      const uint64_t distance = s >= c.offset ? s - c.offset : s + size - c.offset;
      const uint64_t position = mod(distance * c.inverse_skip);
      if (position < best_position) {
        best_position = position;
        best = i;
      }
    }
    entries[free_slots[best]] = c.index;
    free_slots[best] = free_slots.back();
    free_slots.pop_back();
  }
  return table;
}

std::vector<uint32_t> MaglevTable::entry_counts() const {
  std::vector<uint32_t> counts(backend_count_, 0);
  for (Entry e : entries_) {
    if (e != kNoBackend) ++counts[e];
  }
  return counts;
}

double moved_fraction(const MaglevTable& before, std::span<const MaglevBackend> before_backends,
                      const MaglevTable& after, std::span<const MaglevBackend> after_backends) {
  if (before.size() != after.size()) {
    throw std::invalid_argument("moved_fraction: tables of sizes " + std::to_string(before.size()) +
                                " and " + std::to_string(after.size()));
  }
  if (before.backend_count() != before_backends.size() ||
      after.backend_count() != after_backends.size()) {
    throw std::invalid_argument("moved_fraction: backends do not match their tables");
  }
  const auto a = before.entries(), b = after.entries();
  uint32_t moved = 0;
  for (uint32_t i = 0; i < before.size(); ++i) {
    const bool a_none = a[i] == MaglevTable::kNoBackend, b_none = b[i] == MaglevTable::kNoBackend;
    if (a_none != b_none || (!a_none && before_backends[a[i]].key != after_backends[b[i]].key)) {
      ++moved;
    }
  }
  return static_cast<double>(moved) / before.size();
}

}  // namespace sluice::lb
