// Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted: maps a flow hash to one of a
// service's backends through a lookup table of prime size M, built off the hot path and swapped in.
//
// Population: each backend's key gives two independent hashes h1, h2; its preference list is the
// permutation offset, offset + skip, offset + 2*skip, ... (mod M) with offset = h1 % M and
// skip = h2 % (M - 1) + 1, which visits every slot because M is prime. Backends take turns in
// order of key, each claiming the next still-free slot of its list, until the table is full.
// Weights follow Katran's scheme: every round each backend adds its weight to a credit and takes a
// turn only when the credit reaches the largest weight (then pays that much back), so a backend's
// entry count is within two entries of its weight's share of M. Equal weights are plain Maglev.
//
// The table depends only on the set of (key, weight) pairs and on M, not on the order of the
// input: indices in the table refer to the input span, whatever its order. A zero weight is the
// same as leaving the set. When a backend leaves or joins, the others keep their preference lists
// and turn order, so mostly only its own share moves; the excess grows with N/M (measured, one of
// N leaving: 1.02x its share for N = 10 and 1.6x for N = 100 at M = 65537, 1.14x for N = 100 at
// M = 655373).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sluice::lb {

struct MaglevBackend {
  uint64_t key = 0;     // stable identity, e.g. a hash of the backend's address; unique per table
  uint32_t weight = 1;  // 0: gets no entries
};

// Deterministic trial division; meant for validating table sizes, not for hot paths.
constexpr bool is_prime(uint32_t n) noexcept {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  if (n % 3 == 0) return n == 3;
  for (uint64_t d = 5; d * d <= n; d += 6) {
    if (n % d == 0 || n % (d + 2) == 0) return false;
  }
  return true;
}

struct MaglevPermutation {
  uint32_t offset;  // first preferred slot
  uint32_t skip;    // distance to the next, in [1, M - 1]
};

// The preference list of the backend with `key` in a table of prime `size`.
MaglevPermutation maglev_permutation(uint64_t key, uint32_t size) noexcept;

class MaglevTable {
 public:
  using Entry = uint16_t;  // index into the span given to build()
  static constexpr Entry kNoBackend = UINT16_MAX;
  static constexpr size_t kMaxBackends = kNoBackend;
  static constexpr uint32_t kDefaultSize = 65537;
  static_assert(is_prime(kDefaultSize));

  // Throws std::invalid_argument when `size` is not prime, there are more than kMaxBackends
  // backends, or two backends share a key. With no backend of non-zero weight every lookup
  // returns kNoBackend.
  static MaglevTable build(std::span<const MaglevBackend> backends, uint32_t size = kDefaultSize);

  // The backend index owning `flow_hash`: entries()[flow_hash % size()], computed with Lemire's
  // fastmod (two multiplications, no division).
  Entry lookup(uint32_t flow_hash) const noexcept {
    __extension__ using u128 = unsigned __int128;
    const uint64_t fraction = reciprocal_ * flow_hash;
    return entries_[static_cast<uint32_t>((static_cast<u128>(fraction) * size_) >> 64)];
  }

  uint32_t size() const noexcept { return size_; }
  size_t backend_count() const noexcept { return backend_count_; }
  std::span<const Entry> entries() const noexcept { return entries_; }

  // Entries owned by each input backend, indexed like the span given to build().
  std::vector<uint32_t> entry_counts() const;

 private:
  MaglevTable(uint32_t size, size_t backend_count);

  std::vector<Entry> entries_;
  uint64_t reciprocal_ = 0;  // 2^64 / size_, rounded up
  uint32_t size_ = 0;
  size_t backend_count_ = 0;
};

// The fraction of entries whose backend (compared by key; kNoBackend counts as its own owner)
// differs between two tables of the same size. Throws std::invalid_argument on a size mismatch.
double moved_fraction(const MaglevTable& before, std::span<const MaglevBackend> before_backends,
                      const MaglevTable& after, std::span<const MaglevBackend> after_backends);

}  // namespace sluice::lb
