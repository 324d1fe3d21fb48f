#include "packet_harness.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include "config_types.h"
#include "eal.h"

namespace sluice::test {
namespace {

std::string unique_name(const std::string& base) {
  static std::atomic<unsigned> counter{0};
  return base + std::to_string(counter.fetch_add(1));
}

}  // namespace

void start_test_eal(const char* program) {
  const std::vector<std::string> args =
      dataplane::standalone_eal_args(program, "sluice-test-" + std::to_string(getpid()), 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    throw std::runtime_error(std::string("EAL start failed: ") + rte_strerror(rte_errno));
  }
}

void stop_test_eal() {
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  dataplane::remove_runtime_dir(runtime_dir);
}

RingPort::RingPort(const std::string& name, rte_mempool* pool, RingPortOptions options) {
  const std::string id = unique_name(name);
  rx_ = rte_ring_create((id + "_rx").c_str(), options.rx_ring_size, SOCKET_ID_ANY,
                        RING_F_SP_ENQ | RING_F_SC_DEQ);
  tx_ = rte_ring_create((id + "_tx").c_str(), options.tx_ring_size, SOCKET_ID_ANY,
                        RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (rx_ == nullptr || tx_ == nullptr)
    throw std::runtime_error("ring create failed: " + std::string(rte_strerror(rte_errno)));
  int port_id = rte_eth_from_rings(id.c_str(), &rx_, 1, &tx_, 1, SOCKET_ID_ANY);
  if (port_id < 0)
    throw std::runtime_error("rte_eth_from_rings failed: " + std::string(rte_strerror(rte_errno)));
  dataplane::PortConfig config{.name = name, .device = id, .mtu = options.mtu};
  port_ = dataplane::start_port(static_cast<uint16_t>(port_id), config, 1, pool);
}

RingPort::~RingPort() {
  take_sent();
  rte_mbuf* m = nullptr;
  while (rte_ring_dequeue(rx_, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
  rte_eth_dev_stop(port_.id);
  rte_eth_dev_close(port_.id);
  rte_ring_free(rx_);
  rte_ring_free(tx_);
}

size_t RingPort::inject(std::vector<rte_mbuf*> mbufs) {
  const unsigned n = rte_ring_enqueue_burst(rx_, reinterpret_cast<void* const*>(mbufs.data()),
                                            static_cast<unsigned>(mbufs.size()), nullptr);
  for (size_t i = n; i < mbufs.size(); ++i) rte_pktmbuf_free(mbufs[i]);
  return n;
}

std::vector<Frame> RingPort::take_sent() {
  std::vector<Frame> frames;
  rte_mbuf* m = nullptr;
  while (rte_ring_dequeue(tx_, reinterpret_cast<void**>(&m)) == 0) {
    frames.push_back(to_frame(m));
    rte_pktmbuf_free(m);
  }
  return frames;
}

PacketPool::PacketPool(unsigned mbufs) : size_(mbufs) {
  // The dataplane's own pool, laid out as it is when running without hugepages.
  pool_ = dataplane::create_packet_pool(unique_name("test_pool").c_str(), mbufs, SOCKET_ID_ANY,
                                        dataplane::PoolLayout::kPacked);
}

PacketPool::~PacketPool() {
  rte_mempool_free(pool_);
}

rte_mbuf* PacketPool::make(const Frame& frame, size_t segment_bytes) {
  const size_t segment = segment_bytes != 0 ? segment_bytes : std::max<size_t>(frame.size(), 1);
  rte_mbuf* head = nullptr;
  rte_mbuf* tail = nullptr;
  size_t offset = 0;
  do {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
      rte_pktmbuf_free(head);
      throw std::runtime_error("test pool exhausted");
    }
    const auto len = static_cast<uint16_t>(std::min(segment, frame.size() - offset));
    if (len > rte_pktmbuf_tailroom(m)) {
      rte_pktmbuf_free(m);
      rte_pktmbuf_free(head);
      throw std::runtime_error("segment of " + std::to_string(len) + " bytes does not fit an mbuf");
    }
    char* dst = rte_pktmbuf_append(m, len);
    if (len != 0) std::memcpy(dst, frame.data() + offset, len);
    offset += len;
    if (head == nullptr) {
      head = m;
    } else {
      tail->next = m;
      head->nb_segs++;
      head->pkt_len += len;
    }
    tail = m;
  } while (offset < frame.size());
  return head;
}

std::vector<rte_mbuf*> PacketPool::make_all(const std::vector<Frame>& frames,
                                            size_t segment_bytes) {
  std::vector<rte_mbuf*> mbufs;
  for (const auto& f : frames) mbufs.push_back(make(f, segment_bytes));
  return mbufs;
}

Frame to_frame(const rte_mbuf* m) {
  Frame f(m->pkt_len);
  const void* data = rte_pktmbuf_read(m, 0, m->pkt_len, f.data());
  if (data != f.data() && m->pkt_len != 0) std::memcpy(f.data(), data, m->pkt_len);
  return f;
}

}  // namespace sluice::test
