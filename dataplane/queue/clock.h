// The time source of a queue shard, in milliseconds since the Unix epoch (the unit of SQS
// timestamps). Injected so that tests move time by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::queue {

class Clock {
 public:
  virtual uint64_t now_ms() const = 0;

 protected:
  ~Clock() = default;
};

class SystemClock final : public Clock {
 public:
  uint64_t now_ms() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
};

// A clock that moves only when told to; readable from other threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}

  uint64_t now_ms() const override { return now_.load(std::memory_order_acquire); }
  void set(uint64_t ms) { now_.store(ms, std::memory_order_release); }
  void advance(uint64_t ms) { now_.fetch_add(ms, std::memory_order_acq_rel); }

 private:
  std::atomic<uint64_t> now_;
};

}  // namespace sluice::queue
