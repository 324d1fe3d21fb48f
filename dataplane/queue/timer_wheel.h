// A hierarchical timer wheel over milliseconds: every delay, visibility timeout, retention
// deadline and long-poll deadline of a shard is one TimerNode in it. Scheduling and cancelling
// are O(1); advancing costs O(levels) per step plus O(levels) per timer over its lifetime (each
// timer moves down at most once per level), so the cost does not grow with the number of timers.
// Single-threaded: one wheel per shard.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace sluice::queue {

// A timer, embedded in whatever it belongs to. `owner` and `kind` tell the fire callback what
// expired.
struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t expiry_ms = 0;
  void* owner = nullptr;
  uint16_t slot = kUnarmed;
  uint8_t kind = 0;

  static constexpr uint16_t kUnarmed = 0xffff;
  bool armed() const { return slot != kUnarmed; }
};

class TimerWheel {
 public:
  explicit TimerWheel(uint64_t now_ms) : now_(now_ms) {}
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  uint64_t now() const { return now_; }
  size_t size() const { return size_; }

  // Arms (or re-arms) `node` to fire at `at_ms`; a time not after now() fires on the next advance.
  void schedule(TimerNode* node, uint64_t at_ms);
  void cancel(TimerNode* node);

  // The earliest time at which advance() has work: a timer to fire or timers to move down a
  // level. UINT64_MAX when empty.
  uint64_t next_step() const;

  // Moves time forward to `to_ms`, calling fire(TimerNode*) for each timer that expires, in order
  // of expiry. The callback may schedule and cancel timers, this one included.
  template <class Fire>
  void advance(uint64_t to_ms, Fire&& fire);

 private:
  static constexpr int kBits = 6;
  static constexpr int kSlots = 1 << kBits;
  static constexpr int kLevels = 11;  // 66 bits: any uint64_t expiry

  static int digit(uint64_t t, int level) { return static_cast<int>((t >> (kBits * level)) & 63); }
  void insert(TimerNode* node);
  void unlink(TimerNode* node);
  void cascade(int level, int slot);

  uint64_t now_;
  size_t size_ = 0;
  std::array<uint64_t, kLevels> occupied_{};
  std::array<TimerNode*, kLevels * kSlots> heads_{};
};

template <class Fire>
void TimerWheel::advance(uint64_t to_ms, Fire&& fire) {
  for (;;) {
    const int due = digit(now_, 0);
    while (TimerNode* node = heads_[due]) {
      unlink(node);
      fire(node);
    }
    const uint64_t step = next_step();
    if (step > to_ms) break;
    now_ = step;
    for (int level = kLevels - 1; level > 0; --level) {
      const int slot = digit(now_, level);
      if ((occupied_[level] >> slot) & 1) cascade(level, slot);
    }
  }
  if (to_ms > now_) now_ = to_ms;
}

}  // namespace sluice::queue
