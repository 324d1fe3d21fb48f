// Packet-test harness: EAL without hugepages or PCI, ports made of rte_rings (net_ring), frames
// injected as if they came off the wire, the dataplane's own processing run on the test thread,
// and whatever it transmitted collected as bytes.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <string>
#include <vector>

#include "frames.h"
#include "port.h"
#include "worker_types.h"

namespace sluice::test {

// Starts EAL for the whole test binary (call once, from main, before RUN_ALL_TESTS).
void start_test_eal(const char* program);
void stop_test_eal();

struct RingPortOptions {
  uint16_t mtu = 1500;
  unsigned rx_ring_size = 1024;  // a power of two; holds size - 1 frames
  unsigned tx_ring_size = 1024;
};

// One net_ring port: frames injected into its receive ring, transmitted frames land in its
// transmit ring. Started through the dataplane's own port set-up.
class RingPort {
 public:
  RingPort(const std::string& name, rte_mempool* pool, RingPortOptions options = {});
  ~RingPort();
  RingPort(const RingPort&) = delete;
  RingPort& operator=(const RingPort&) = delete;

  const dataplane::Port& port() const { return port_; }

  // Enqueues mbufs on the receive ring; returns how many fit. The rest are freed.
  size_t inject(std::vector<rte_mbuf*> mbufs);

  // Takes every frame the dataplane sent on this port, as bytes, freeing the mbufs.
  std::vector<Frame> take_sent();

 private:
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
  dataplane::Port port_;
};

class PacketPool {
 public:
  explicit PacketPool(unsigned mbufs = 8192);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  rte_mempool* get() const { return pool_; }
  unsigned size() const { return size_; }
  unsigned available() const { return rte_mempool_avail_count(pool_); }

  // An mbuf holding `frame`; with `segment_bytes` > 0 the frame is split into a chain of
  // segments of at most that many bytes.
  rte_mbuf* make(const Frame& frame, size_t segment_bytes = 0);
  std::vector<rte_mbuf*> make_all(const std::vector<Frame>& frames, size_t segment_bytes = 0);

 private:
  rte_mempool* pool_ = nullptr;
  unsigned size_ = 0;
};

Frame to_frame(const rte_mbuf* m);

// Polls `job` until it has received nothing for two passes in a row (at most `max_passes`).
// Returns the number of passes made.
template <class Job>
unsigned run_until_idle(Job& job, dataplane::WorkerCounters& counters,
                        unsigned max_passes = 10000) {
  unsigned idle = 0, passes = 0;
  while (idle < 2 && passes < max_passes) {
    idle = job.poll(counters) == 0 ? idle + 1 : 0;
    ++passes;
  }
  return passes;
}

}  // namespace sluice::test
