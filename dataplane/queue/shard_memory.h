// Storage of one shard: a byte budget, fixed-size object pools (message records, groups,
// deduplication entries, waiters) and size-classed blocks for message contents. Memory is taken
// from the system in chunks and reused from free lists afterwards, so the steady state allocates
// nothing per message. Every chunk counts against the budget; when the next chunk would pass it,
// allocation fails and the caller answers with an error instead of aborting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::queue {

// Bytes a shard may hold; shared by its pools and its block arena.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}

  bool reserve(uint64_t bytes) {
    if (used_ + bytes > limit_) return false;
    used_ += bytes;
    return true;
  }
  void release(uint64_t bytes) { used_ -= bytes; }
  uint64_t used() const { return used_; }
  uint64_t limit() const { return limit_; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
};

// Objects of one type addressed by a 32-bit slot: chunks of kChunk objects that are never freed
// while the pool lives, and a stack of free slots. Objects are default-constructed once and reset
// by their users on reuse.
template <class T>
class ObjectPool {
 public:
  static constexpr uint32_t kChunk = 1024;

  explicit ObjectPool(MemoryBudget& budget) : budget_(budget) {}
  ~ObjectPool() { budget_.release(chunks_.size() * kChunk * sizeof(T)); }
  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  // A free object and its slot, or nullptr when the budget is spent.
  T* acquire(uint32_t* slot) {
    if (free_.empty() && !grow()) return nullptr;
    *slot = free_.back();
    free_.pop_back();
    ++live_;
    return at(*slot);
  }
  void release(uint32_t slot) {
    free_.push_back(slot);
    --live_;
  }

  // Restoring objects where they were: the object at `slot`, the pool grown to hold it, or
  // nullptr when the budget is spent. The free list is stale until rebuild_free().
  T* place(uint32_t slot) {
    while (slot / kChunk >= chunks_.size()) {
      if (!grow()) return nullptr;
    }
    ++live_;
    return at(slot);
  }
  // The free list again: every object `is_free` calls free, the lowest slot handed out first.
  template <class IsFree>
  void rebuild_free(IsFree&& is_free) {
    free_.clear();
    for (auto slot = static_cast<uint32_t>(chunks_.size() * kChunk); slot-- > 0;) {
      if (is_free(*at(slot))) free_.push_back(slot);
    }
  }

  // The object at `slot`, or nullptr for a slot the pool never had.
  T* find(uint32_t slot) const {
    if (slot / kChunk >= chunks_.size()) return nullptr;
    return at(slot);
  }
  uint32_t live() const { return live_; }

 private:
  T* at(uint32_t slot) const { return &chunks_[slot / kChunk][slot % kChunk]; }

  bool grow() {
    if (!budget_.reserve(kChunk * sizeof(T))) return false;
    const auto base = static_cast<uint32_t>(chunks_.size() * kChunk);
    chunks_.push_back(std::make_unique<T[]>(kChunk));
    free_.reserve(free_.size() + kChunk);
    for (uint32_t i = kChunk; i-- > 0;) free_.push_back(base + i);
    return true;
  }

  MemoryBudget& budget_;
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t live_ = 0;
};

// Variable-size blocks for message contents in size classes (powers of two and the halves
// between them, from 64 bytes). Blocks up to kLargeBlock are cut from 1 MiB chunks and kept on
// per-class free lists; larger ones are allocated one by one and returned when freed.
class BlockArena {
 public:
  static constexpr size_t kChunkBytes = size_t{1} << 20;
  static constexpr size_t kLargeBlock = size_t{64} << 10;

  explicit BlockArena(MemoryBudget& budget) : budget_(budget) {}
  ~BlockArena();
  BlockArena(const BlockArena&) = delete;
  BlockArena& operator=(const BlockArena&) = delete;

  // A block of at least `bytes`, or nullptr when the budget is spent. `*size_class` is passed
  // back to free().
  uint8_t* allocate(size_t bytes, uint8_t* size_class);
  void free(uint8_t* block, uint8_t size_class);

  static size_t class_bytes(uint8_t size_class);
  static uint8_t class_of(size_t bytes);

 private:
  static constexpr int kClasses = 40;

  MemoryBudget& budget_;
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
  uint8_t* bump_ = nullptr;
  size_t bump_left_ = 0;
  uint8_t* free_[kClasses] = {};
};

}  // namespace sluice::queue
