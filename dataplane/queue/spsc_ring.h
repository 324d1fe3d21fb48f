// A bounded lock-free ring for exactly one producer thread and one consumer thread: how requests
// reach a queue shard from another core and how replies come back.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>

namespace sluice::queue {

template <class T>
class SpscRing {
 public:
  // `capacity` is rounded up to a power of two.
  explicit SpscRing(size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1),
        slots_(std::make_unique<T[]>(mask_ + 1)) {}
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Producer side; false when full.
  bool push(const T& value) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    slots_[tail & mask_] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer side; false when empty.
  bool pop(T* out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    *out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  size_t capacity() const { return mask_ + 1; }

 private:
  const size_t mask_;
  const std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<size_t> head_{0};  // written by the consumer
  size_t tail_cache_ = 0;                    // the consumer's last view of tail_
  alignas(64) std::atomic<size_t> tail_{0};  // written by the producer
  size_t head_cache_ = 0;                    // the producer's last view of head_
};

}  // namespace sluice::queue
