// The bracket around every public QueueEngine operation; internal to the engine's sources.
#pragma once

#include <algorithm>

#include "queue_engine.h"

namespace sluice::queue {

// Brackets every public operation: the outermost one first runs the timers up to the clock, and
// at its end answers the long polls that became answerable and frees queues deleted meanwhile.
// Sinks may call back into the engine; those calls nest and leave this work to the outer one.
class QueueEngine::Operation {
 public:
  explicit Operation(QueueEngine& e) : e_(e) {
    if (e_.depth_++ > 0) return;
    // Timers see the time they were due at; the operation itself sees the clock.
    const uint64_t now = std::max(e_.now_, e_.clock_.now_ms());
    e_.wheel_.advance(now, [this](TimerNode* node) {
      e_.now_ = e_.wheel_.now();
      e_.on_timer(node);
    });
    e_.now_ = now;
  }
  ~Operation() {
    if (e_.depth_ == 1) {
      while (!e_.timed_out_.empty()) {
        Waiter* w = e_.timed_out_.back();
        e_.timed_out_.pop_back();
        ReceiveSink* sink = w->sink;
        e_.finish_waiter(w);
        if (sink != nullptr) e_.answer(*sink, 0);
      }
      while (!e_.dirty_.empty()) {
        Queue* q = e_.dirty_.back();
        e_.dirty_.pop_back();
        q->dirty = false;
        e_.serve_waiters(q);
      }
      e_.graveyard_.clear();
    }
    --e_.depth_;
  }
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

 private:
  QueueEngine& e_;
};

}  // namespace sluice::queue
