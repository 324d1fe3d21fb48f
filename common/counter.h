// Counters written by exactly one core and read by any thread (stats printers, the control
// plane). Single-writer increments compile to a plain load/add/store; readers see a recent value.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

class Counter {
 public:
  void add(uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void inc() { add(1); }
  void set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace sluice
