// An open-addressing hash index from a string key to objects that carry their own key and hash
// (message groups, deduplication entries). Linear probing with backward-shift deletion: no
// tombstones, no allocation except when it grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::queue {

// FNV-1a, then a 64-bit finaliser: spreads short, similar keys.
inline uint64_t hash_key(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// T has `uint64_t hash` and `std::string_view key() const`.
template <class T>
class PointerIndex {
 public:
  T* find(std::string_view key, uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      T* x = slots_[i];
      if (x == nullptr) return nullptr;
      if (x->hash == hash && x->key() == key) return x;
    }
  }

  void insert(T* x) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(x);
    ++size_;
  }

  void erase(T* x) {
    size_t i = x->hash & mask_;
    while (slots_[i] != x) i = (i + 1) & mask_;
    // Shift later members of the probe run back over the hole.
    for (size_t j = (i + 1) & mask_; slots_[j] != nullptr; j = (j + 1) & mask_) {
      const size_t home = slots_[j]->hash & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = nullptr;
    --size_;
  }

  size_t size() const { return size_; }

 private:
  void place(T* x) {
    size_t i = x->hash & mask_;
    while (slots_[i] != nullptr) i = (i + 1) & mask_;
    slots_[i] = x;
  }

  void grow() {
    std::vector<T*> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, nullptr);
    mask_ = slots_.size() - 1;
    for (T* x : old) {
      if (x != nullptr) place(x);
    }
  }

  std::vector<T*> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace sluice::queue
