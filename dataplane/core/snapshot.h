// Publishing an immutable configuration snapshot to the worker cores without stopping them
// (DPDK's quiescent-state-based RCU). Workers load the current snapshot once per polling pass and
// report a quiescent state when the pass ends; a new snapshot is swapped in by pointer, and the old
// one is freed only after every online worker has passed a quiescent state, so that no worker can
// still hold it. Threads other than the workers (stats, telemetry) read under a mutex that
// publish() also takes.
#pragma once

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace sluice::dataplane {

template <class T>
class SnapshotPublisher {
 public:
  SnapshotPublisher(unsigned workers, std::unique_ptr<T> initial) : workers_(workers) {
    const size_t size = rte_rcu_qsbr_get_memsize(workers);
    qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("snapshot_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, workers) != 0) {
      rte_free(qsbr_);
      throw std::runtime_error("cannot set up RCU for configuration snapshots");
    }
    for (unsigned w = 0; w < workers; ++w) rte_rcu_qsbr_thread_register(qsbr_, w);
    current_.store(initial.release(), std::memory_order_release);
  }
  ~SnapshotPublisher() {
    delete current_.load();
    rte_free(qsbr_);
  }
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Worker side. `worker` is 0..workers-1.
  void online(unsigned worker) { rte_rcu_qsbr_thread_online(qsbr_, worker); }
  void offline(unsigned worker) { rte_rcu_qsbr_thread_offline(qsbr_, worker); }
  T* current() const { return current_.load(std::memory_order_acquire); }
  void quiescent(unsigned worker) { rte_rcu_qsbr_quiescent(qsbr_, worker); }

  // Control side: swaps `next` in; returns once no worker can see the old snapshot, freed then.
  void publish(std::unique_ptr<T> next) {
    std::lock_guard lock(control_);
    T* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
    delete old;
  }

  // Control side: runs fn(const T&) on the current snapshot while it cannot be freed.
  template <class Fn>
  void read(Fn&& fn) const {
    std::lock_guard lock(control_);
    fn(*current());
  }

  unsigned workers() const { return workers_; }

 private:
  unsigned workers_;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::atomic<T*> current_{nullptr};
  mutable std::mutex control_;
};

}  // namespace sluice::dataplane
