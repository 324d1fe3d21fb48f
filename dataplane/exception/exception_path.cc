#include "exception_path.h"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "config.h"

namespace sluice::exception {
namespace {

constexpr unsigned kMaxSegments = 64;         // longer chains are not written to a TAP
constexpr unsigned kDrainPerService = 256;    // to-kernel frames per service() call
constexpr unsigned kReadPerTapService = 64;   // frames read from each TAP per service() call
constexpr size_t kLargestFrame = 65536 + 64;  // a TAP frame never exceeds 64 KiB plus headers

rte_ring* make_ring(const std::string& name, unsigned size, unsigned flags) {
  rte_ring* r = rte_ring_create(name.c_str(), size, static_cast<int>(rte_socket_id()), flags);
  if (r == nullptr) {
    throw std::runtime_error("cannot create ring " + name + ": " + rte_strerror(rte_errno));
  }
  return r;
}

void free_all(rte_ring* r) {
  if (r == nullptr) return;
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(r);
}

}  // namespace

Doorbell::Doorbell() {
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Doorbell::~Doorbell() {
  close(fd_);
}

void Doorbell::clear() {
  uint64_t value;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &value, sizeof value);
}

ExceptionRings::ExceptionRings(const std::string& name, unsigned to_kernel_size,
                               unsigned from_kernel_size) {
  to_kernel_ = make_ring("exc_tk_" + name, to_kernel_size, RING_F_SC_DEQ);
  try {
    from_kernel_ = make_ring("exc_fk_" + name, from_kernel_size, RING_F_SP_ENQ | RING_F_SC_DEQ);
  } catch (...) {
    rte_ring_free(to_kernel_);
    throw;
  }
}

ExceptionRings::~ExceptionRings() {
  free_all(to_kernel_);
  free_all(from_kernel_);
}

std::vector<std::string> tap_names(const std::string& base, size_t ports) {
  std::vector<std::string> names;
  if (ports == 1) {
    names.push_back(base);
  } else {
    for (size_t i = 0; i < ports; ++i) names.push_back(base + std::to_string(i));
  }
  for (const auto& n : names) {
    if (n.size() > 15) {
      throw ConfigError("lb.exception_interface: with " + std::to_string(ports) +
                        " ports the interfaces are named " + base + "0.." + base +
                        std::to_string(ports - 1) + ", and " + n + " is longer than 15 characters");
    }
  }
  return names;
}

ExceptionPath::ExceptionPath(ExceptionRings& rings, std::vector<TapDevice> taps, rte_mempool* pool)
    : rings_(rings),
      taps_(std::move(taps)),
      pool_(pool),
      counters_(taps_.size()),
      scratch_(kLargestFrame) {}

std::vector<pollfd> ExceptionPath::poll_fds() const {
  std::vector<pollfd> fds{{rings_.doorbell().fd(), POLLIN, 0}};
  for (const auto& t : taps_) fds.push_back({t.fd(), POLLIN, 0});
  return fds;
}

bool ExceptionPath::ready_to_sleep() {
  rings_.doorbell().arm();
  if (rte_ring_empty(rings_.to_kernel())) return true;
  rings_.doorbell().disarm();
  return false;
}

void ExceptionPath::service(std::span<pollfd> fds) {
  rings_.doorbell().disarm();
  if (!fds.empty() && (fds[0].revents & POLLIN) != 0) rings_.doorbell().clear();
  drain_to_kernel(kDrainPerService);
  for (size_t i = 0; i < taps_.size() && i + 1 < fds.size(); ++i) {
    pollfd& p = fds[i + 1];
    if (p.fd < 0 || p.revents == 0) continue;
    std::string failure;
    if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      failure = fmt::format("poll events {:#x}", p.revents);
    } else if (!read_from_kernel(i, kReadPerTapService)) {
      failure = std::strerror(errno);
    }
    if (!failure.empty()) {
      fmt::print(stderr, "sluice-dataplane: exception interface {} failed ({}); no longer read\n",
                 taps_[i].name(), failure);
      p.fd = -1;
    }
  }
}

unsigned ExceptionPath::drain_to_kernel(unsigned max) {
  unsigned done = 0;
  rte_mbuf* burst[32];
  while (done < max) {
    const unsigned n =
        rte_ring_sc_dequeue_burst(rings_.to_kernel(), reinterpret_cast<void**>(burst),
                                  std::min<unsigned>(32, max - done), nullptr);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      write_frame(burst[i]);
      rte_pktmbuf_free(burst[i]);
    }
    done += n;
  }
  return done;
}

bool ExceptionPath::write_frame(rte_mbuf* m) {
  if (m->port >= taps_.size()) {
    misdirected_.inc();
    return false;
  }
  TapCounters& c = counters_[m->port];
  iovec iov[kMaxSegments];
  unsigned segs = 0;
  for (rte_mbuf* s = m; s != nullptr; s = s->next) {
    if (segs == kMaxSegments) {
      c.write_errors.inc();
      return false;
    }
    iov[segs++] = {rte_pktmbuf_mtod(s, void*), s->data_len};
  }
  const ssize_t n = writev(taps_[m->port].fd(), iov, static_cast<int>(segs));
  if (n != static_cast<ssize_t>(m->pkt_len)) {
    c.write_errors.inc();
    return false;
  }
  c.to_kernel_packets.inc();
  c.to_kernel_bytes.add(m->pkt_len);
  return true;
}

rte_mbuf* ExceptionPath::copy_to_mbuf(const uint8_t* data, size_t len) const {
  const auto total = static_cast<uint32_t>(len);
  rte_mbuf* head = rte_pktmbuf_alloc(pool_);
  if (head == nullptr) return nullptr;
  rte_mbuf* tail = head;
  for (;;) {
    const auto room = static_cast<size_t>(rte_pktmbuf_tailroom(tail));
    const auto chunk = static_cast<uint16_t>(std::min(room, len));
    std::memcpy(rte_pktmbuf_mtod(tail, uint8_t*), data, chunk);
    tail->data_len = chunk;
    data += chunk;
    len -= chunk;
    if (len == 0) {
      head->pkt_len = total;
      return head;
    }
    rte_mbuf* next = rte_pktmbuf_alloc(pool_);
    if (next == nullptr || rte_pktmbuf_chain(head, next) != 0) {
      rte_pktmbuf_free(next);
      rte_pktmbuf_free(head);
      return nullptr;
    }
    tail = next;
  }
}

bool ExceptionPath::read_from_kernel(size_t index, unsigned max) {
  TapCounters& c = counters_[index];
  for (unsigned i = 0; i < max; ++i) {
    const ssize_t n = ::read(taps_[index].fd(), scratch_.data(), scratch_.size());
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) return true;
    rte_mbuf* m = copy_to_mbuf(scratch_.data(), static_cast<size_t>(n));
    if (m == nullptr) {
      c.from_kernel_drops.inc();
      continue;
    }
    m->port = static_cast<uint16_t>(index);
    if (rte_ring_sp_enqueue(rings_.from_kernel(), m) != 0) {
      rte_pktmbuf_free(m);
      c.from_kernel_drops.inc();
      continue;
    }
    c.from_kernel_packets.inc();
    c.from_kernel_bytes.add(static_cast<uint64_t>(n));
  }
  return true;
}

void ExceptionPath::print_stats(std::FILE* out) const {
  fmt::print(out, "{:<16} {:>14} {:>16} {:>14} {:>16} {:>12} {:>12}\n", "exception", "to_kernel",
             "to_kernel_bytes", "from_kernel", "from_kernel_bytes", "write_err", "from_drops");
  for (size_t i = 0; i < taps_.size(); ++i) {
    const TapCounters& c = counters_[i];
    fmt::print(out, "{:<16} {:>14} {:>16} {:>14} {:>16} {:>12} {:>12}\n", taps_[i].name(),
               c.to_kernel_packets.get(), c.to_kernel_bytes.get(), c.from_kernel_packets.get(),
               c.from_kernel_bytes.get(), c.write_errors.get(), c.from_kernel_drops.get());
  }
  fmt::print(out, "{:<16} wake-ups {}, frames naming no interface {}\n", "",
             rings_.doorbell().wakeups(), misdirected_.get());
  std::fflush(out);
}

}  // namespace sluice::exception
