// The exception path: frames a worker does not handle itself go to the kernel through a TAP per
// port, and what the kernel sends on those TAPs leaves by the ports.
//
//   workers --(ExceptionChannel::send: to-kernel ring, multi-producer)--> main lcore --write()-->
//   TAP TAP --read()--> main lcore --(from-kernel ring, single-producer)--> worker 0 --> tx queue 0
//
// Workers make no system call on this path except the consumer's wake-up (an eventfd write),
// and only when the consumer has said it is about to sleep (Doorbell). The main lcore's management
// loop owns the TAPs (ExceptionPath) and polls the doorbell's eventfd and the TAPs' descriptors.
// The rings are separate from the TAPs (ExceptionRings), so jobs can be tested without a TAP.
// An mbuf on either ring carries, in mbuf->port, the index of its port in the job's port list.
#pragma once

#include <poll.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "counter.h"
#include "tap.h"

namespace sluice::exception {

// Wakes the consumer (an eventcount over an eventfd). The consumer arms it, checks the ring once
// more and sleeps in poll(); a producer that finds it armed after enqueueing disarms it and
// writes the eventfd. Either the consumer sees the new frames in its check or the producer sees
// the doorbell armed, so no frame waits for a later wake-up; and producers write at most once per
// sleep of the consumer, however many frames they send.
class alignas(64) Doorbell {
 public:
  Doorbell();  // throws std::system_error
  ~Doorbell();
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  int fd() const { return fd_; }

  // Producer side, after the frames are on the ring.
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_relaxed) && armed_.exchange(false)) {
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
      wakeups_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Consumer side: arm() then look at the ring once more before sleeping; disarm() on waking,
  // and clear() the eventfd when poll() said it was readable.
  void arm() {
    armed_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void disarm() { armed_.store(false, std::memory_order_relaxed); }
  void clear();

  // Eventfd writes made by producers, all of them together.
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> armed_{false};
  int fd_ = -1;
  std::atomic<uint64_t> wakeups_{0};  // touched only beside a system call
};

// What one worker holds of the exception path. Empty (to_kernel null): there is none.
struct ExceptionChannel {
  rte_ring* to_kernel = nullptr;    // multi-producer, single-consumer
  rte_ring* from_kernel = nullptr;  // set only for the worker that transmits the kernel's frames
  Doorbell* doorbell = nullptr;

  bool enabled() const { return to_kernel != nullptr; }

  // Puts frames on the to-kernel ring (each with mbuf->port set to its port's index) and wakes
  // the consumer if it sleeps. Returns how many were taken; the caller frees and counts the rest.
  uint16_t send(rte_mbuf** pkts, uint16_t n) const {
    const auto sent = static_cast<uint16_t>(
        rte_ring_mp_enqueue_burst(to_kernel, reinterpret_cast<void**>(pkts), n, nullptr));
    if (sent != 0) doorbell->ring();
    return sent;
  }

  // Takes up to n frames the kernel sent (mbuf->port: the port index).
  uint16_t receive(rte_mbuf** pkts, uint16_t n) const {
    return static_cast<uint16_t>(
        rte_ring_sc_dequeue_burst(from_kernel, reinterpret_cast<void**>(pkts), n, nullptr));
  }
};

// The two rings and the doorbell. Frees the mbufs still queued when destroyed.
class ExceptionRings {
 public:
  static constexpr unsigned kDefaultSize = 1024;  // a power of two; holds size - 1 frames

  // `name` must be unique in the process (it names the rings). Throws std::runtime_error.
  explicit ExceptionRings(const std::string& name, unsigned to_kernel_size = kDefaultSize,
                          unsigned from_kernel_size = kDefaultSize);
  ~ExceptionRings();
  ExceptionRings(const ExceptionRings&) = delete;
  ExceptionRings& operator=(const ExceptionRings&) = delete;

  // The channel of one worker; `transmits` for the one worker that sends the kernel's frames.
  ExceptionChannel channel(bool transmits) {
    return {to_kernel_, transmits ? from_kernel_ : nullptr, &doorbell_};
  }
  rte_ring* to_kernel() const { return to_kernel_; }
  rte_ring* from_kernel() const { return from_kernel_; }
  Doorbell& doorbell() { return doorbell_; }
  const Doorbell& doorbell() const { return doorbell_; }

  // The mbufs the rings can hold: what a packet pool must have beyond its other needs.
  static unsigned capacity(unsigned to_kernel_size = kDefaultSize,
                           unsigned from_kernel_size = kDefaultSize) {
    return to_kernel_size + from_kernel_size;
  }

 private:
  Doorbell doorbell_;
  rte_ring* to_kernel_ = nullptr;
  rte_ring* from_kernel_ = nullptr;
};

// Counters of one TAP, written and read by the main lcore.
struct TapCounters {
  Counter to_kernel_packets, to_kernel_bytes;      // written to the TAP
  Counter from_kernel_packets, from_kernel_bytes;  // read from the TAP and queued for a worker
  Counter write_errors;                            // write() refused (interface down, ...)
  Counter from_kernel_drops;                       // no mbuf, or the from-kernel ring was full
};

// The TAP names for a port count: `base` for one port, base0, base1, ... for several. Throws
// ConfigError when a name would be longer than 15 characters.
std::vector<std::string> tap_names(const std::string& base, size_t ports);

// The consumer: the TAPs and the main lcore's half of the rings. Used by one thread only.
class ExceptionPath {
 public:
  // taps[i] is the TAP of port index i; the kernel's frames are copied into mbufs from `pool`.
  ExceptionPath(ExceptionRings& rings, std::vector<TapDevice> taps, rte_mempool* pool);
  ExceptionPath(const ExceptionPath&) = delete;
  ExceptionPath& operator=(const ExceptionPath&) = delete;

  // The descriptors to poll for POLLIN, in the order service() expects their results: the
  // doorbell's eventfd, then each TAP.
  std::vector<pollfd> poll_fds() const;

  // Before poll(): arms the doorbell; false (and disarmed) when frames are already waiting, in
  // which case the caller must not sleep.
  bool ready_to_sleep();

  // After poll(): disarms the doorbell, writes waiting frames to their TAPs and reads what the
  // readable TAPs have (each bounded, so that signals and the other TAPs are not starved).
  // `fds` is what poll_fds() returned, with revents filled; a TAP that reports an error is
  // dropped from it (its fd set to -1) and a line said on stderr.
  void service(std::span<pollfd> fds);

  // Writes up to `max` frames from the to-kernel ring to their TAPs. Returns how many it took.
  unsigned drain_to_kernel(unsigned max);
  // Reads up to `max` frames from TAP `index` onto the from-kernel ring. Returns false when the
  // descriptor failed (anything but "nothing more to read").
  bool read_from_kernel(size_t index, unsigned max);

  const std::vector<TapDevice>& taps() const { return taps_; }
  const TapCounters& counters(size_t index) const { return counters_[index]; }
  uint64_t misdirected() const { return misdirected_.get(); }
  void print_stats(std::FILE* out) const;

 private:
  bool write_frame(rte_mbuf* m);
  rte_mbuf* copy_to_mbuf(const uint8_t* data, size_t len) const;

  ExceptionRings& rings_;
  std::vector<TapDevice> taps_;
  rte_mempool* pool_;
  std::vector<TapCounters> counters_;
  Counter misdirected_;  // frames whose port index names no TAP
  std::vector<uint8_t> scratch_;
};

}  // namespace sluice::exception
