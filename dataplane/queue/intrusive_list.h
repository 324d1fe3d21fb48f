// A doubly linked list through two pointer members of T: no allocation, O(1) insert and remove.
// Used for the engine's per-queue lists (ready messages, arrival order, waiters, groups).
#pragma once

#include <cstddef>

namespace sluice::queue {

template <class T, T* T::*Prev, T* T::*Next>
class IntrusiveList {
 public:
  T* front() const { return head_; }
  T* back() const { return tail_; }
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  void push_back(T* x) {
    x->*Prev = tail_;
    x->*Next = nullptr;
    if (tail_ != nullptr) {
      tail_->*Next = x;
    } else {
      head_ = x;
    }
    tail_ = x;
    ++size_;
  }

  void push_front(T* x) {
    x->*Prev = nullptr;
    x->*Next = head_;
    if (head_ != nullptr) {
      head_->*Prev = x;
    } else {
      tail_ = x;
    }
    head_ = x;
    ++size_;
  }

  // Inserts x before `at` (at the end when `at` is null).
  void insert_before(T* at, T* x) {
    if (at == nullptr) return push_back(x);
    if (at == head_) return push_front(x);
    x->*Prev = at->*Prev;
    x->*Next = at;
    (at->*Prev)->*Next = x;
    at->*Prev = x;
    ++size_;
  }

  void remove(T* x) {
    if (x->*Prev != nullptr) {
      (x->*Prev)->*Next = x->*Next;
    } else {
      head_ = x->*Next;
    }
    if (x->*Next != nullptr) {
      (x->*Next)->*Prev = x->*Prev;
    } else {
      tail_ = x->*Prev;
    }
    x->*Prev = nullptr;
    x->*Next = nullptr;
    --size_;
  }

  T* pop_front() {
    T* x = head_;
    if (x != nullptr) remove(x);
    return x;
  }

  static T* next(const T* x) { return x->*Next; }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sluice::queue
