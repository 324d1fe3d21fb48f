#include "timer_wheel.h"

#include <algorithm>

namespace sluice::queue {

void TimerWheel::schedule(TimerNode* node, uint64_t at_ms) {
  if (node->armed()) unlink(node);
  node->expiry_ms = at_ms;
  insert(node);
}

void TimerWheel::cancel(TimerNode* node) {
  if (node->armed()) unlink(node);
}

// A timer sits at the level of the highest digit in which its expiry differs from now, in the
// slot of that digit; an expiry not after now goes to the slot now is in at level 0 (due).
void TimerWheel::insert(TimerNode* node) {
  const uint64_t at = std::max(node->expiry_ms, now_);
  const uint64_t diff = at ^ now_;
  const int level = diff == 0 ? 0 : (63 - std::countl_zero(diff)) / kBits;
  const int slot = digit(at, level);
  const int index = level * kSlots + slot;
  node->slot = static_cast<uint16_t>(index);
  node->prev = nullptr;
  node->next = heads_[index];
  if (node->next != nullptr) node->next->prev = node;
  heads_[index] = node;
  occupied_[level] |= uint64_t{1} << slot;
  ++size_;
}

void TimerWheel::unlink(TimerNode* node) {
  const int index = node->slot;
  if (node->prev != nullptr) {
    node->prev->next = node->next;
  } else {
    heads_[index] = node->next;
  }
  if (node->next != nullptr) node->next->prev = node->prev;
  if (heads_[index] == nullptr) occupied_[index / kSlots] &= ~(uint64_t{1} << (index % kSlots));
  node->prev = nullptr;
  node->next = nullptr;
  node->slot = TimerNode::kUnarmed;
  --size_;
}

void TimerWheel::cascade(int level, int slot) {
  TimerNode* node = heads_[level * kSlots + slot];
  while (node != nullptr) {
    TimerNode* next = node->next;
    unlink(node);
    insert(node);
    node = next;
  }
}

uint64_t TimerWheel::next_step() const {
  uint64_t best = UINT64_MAX;
  for (int level = 0; level < kLevels; ++level) {
    const int shift = kBits * level;
    const int current = digit(now_, level);
    // Level 0 includes the current slot (due timers); higher levels only slots after it.
    const int first = level == 0 ? current : current + 1;
    if (first >= kSlots) continue;
    const uint64_t later = occupied_[level] & (~uint64_t{0} << first);
    if (later == 0) continue;
    const int slot = std::countr_zero(later);
    const int above = shift + kBits;
    const uint64_t base = above >= 64 ? 0 : (now_ >> above) << above;
    const uint64_t start = base | (uint64_t{static_cast<unsigned>(slot)} << shift);
    best = std::min(best, level == 0 ? std::max(start, now_) : start);
  }
  return best;
}

}  // namespace sluice::queue
