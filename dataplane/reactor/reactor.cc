#include "reactor.h"

#include <poll.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::reactor {
namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr int kOpShift = 56;
constexpr uint64_t kIdMask = (uint64_t{1} << kOpShift) - 1;

uint64_t tag(uint8_t op, uint64_t id) {
  return (uint64_t{op} << kOpShift) | (id & kIdMask);
}

// A scratch ring for probing; `flags` as for io_uring_queue_init. -errno on failure.
int scratch_ring(io_uring& ring, unsigned flags) {
  return io_uring_queue_init(8, &ring, flags);
}

// Waits for one completion on a scratch ring, for at most 200 ms.
bool wait_one(io_uring& ring, io_uring_cqe** cqe) {
  __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 200'000'000};
  return io_uring_submit_and_wait_timeout(&ring, cqe, 1, &ts, nullptr) >= 0 && *cqe != nullptr;
}

bool probe_multishot_accept() {
  io_uring ring;
  if (scratch_ring(ring, 0) < 0) return false;
  bool ok = false;
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  socklen_t len = sizeof a;
  if (lfd >= 0 && bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::listen(lfd, 4) == 0 && getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    io_uring_prep_multishot_accept(io_uring_get_sqe(&ring), lfd, nullptr, nullptr, SOCK_CLOEXEC);
    const int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    io_uring_submit(&ring);
    connect(cfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    io_uring_cqe* cqe = nullptr;
    if (wait_one(ring, &cqe)) {
      ok = cqe->res >= 0 && (cqe->flags & IORING_CQE_F_MORE) != 0;
      if (cqe->res >= 0) ::close(cqe->res);
      io_uring_cqe_seen(&ring, cqe);
    }
    ::close(cfd);
  }
  if (lfd >= 0) ::close(lfd);
  io_uring_queue_exit(&ring);
  return ok;
}

// Returns whether a provided buffer ring registers and, in `multishot`, whether a multishot
// receive into it works.
bool probe_buffers(bool* multishot) {
  *multishot = false;
  io_uring ring;
  if (scratch_ring(ring, 0) < 0) return false;
  void* mem = nullptr;
  const unsigned entries = 8;
  bool ok = false;
  char data[entries][64];
  if (posix_memalign(&mem, 4096, entries * sizeof(io_uring_buf)) == 0) {
    auto* br = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(br);
    reg.ring_entries = entries;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring, &reg, 0) == 0) {
      ok = true;
      for (unsigned i = 0; i < entries; ++i)
        io_uring_buf_ring_add(br, data[i], sizeof data[i], static_cast<uint16_t>(i),
                              io_uring_buf_ring_mask(entries), static_cast<int>(i));
      io_uring_buf_ring_advance(br, entries);
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
        io_uring_sqe* s = io_uring_get_sqe(&ring);
        io_uring_prep_recv_multishot(s, sv[0], nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = kBufferGroup;
        io_uring_submit(&ring);
        const char byte = 'x';
        if (write(sv[1], &byte, 1) == 1) {
          io_uring_cqe* cqe = nullptr;
          if (wait_one(ring, &cqe)) {
            *multishot = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) != 0;
            io_uring_cqe_seen(&ring, cqe);
          }
        }
        ::close(sv[0]);
        ::close(sv[1]);
      }
      io_uring_unregister_buf_ring(&ring, kBufferGroup);
    }
  }
  io_uring_queue_exit(&ring);
  free(mem);
  return ok;
}

}  // namespace

std::string Features::describe() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    s += s.empty() ? "" : ", ";
    s += (on ? "" : "no ");
    s += name;
  };
  add(single_issuer, "single-issuer");
  add(multishot_accept, "multishot accept");
  add(buffer_ring, "provided buffer rings");
  add(multishot_recv, "multishot receive");
  return s;
}

Features probe_features() {
  Features f;
  io_uring ring;
  if (scratch_ring(ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) == 0) {
    f.single_issuer = true;
    io_uring_queue_exit(&ring);
  }
  f.multishot_accept = probe_multishot_accept();
  f.buffer_ring = probe_buffers(&f.multishot_recv);
  return f;
}

namespace {

// The socket address of address:port; throws when `address` is not an IP address.
socklen_t socket_address(const std::string& address, uint16_t port, sockaddr_storage& ss) {
  ss = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof *v4;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof *v6;
  }
  throw std::runtime_error("listener: '" + address + "' is not an IP address");
}

}  // namespace

int open_listener(const std::string& address, uint16_t port, int backlog) {
  sockaddr_storage ss;
  const socklen_t len = socket_address(address, port, ss);
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, backlog) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                             why);
  }
  return fd;
}

bool port_in_use(const std::string& address, uint16_t port) {
  sockaddr_storage ss;
  const socklen_t len = socket_address(address, port, ss);
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0) return false;
  // SO_REUSEADDR lets a port in TIME_WAIT through; without SO_REUSEPORT the bind fails when any
  // socket listens there, SO_REUSEPORT or not.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool in_use = bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return in_use;
}

Reactor::Reactor(const ReactorOptions& options, const Features& features)
    : options_(options), features_(features) {
  if (!options_.use_multishot) {
    features_.multishot_accept = false;
    features_.multishot_recv = false;
  }
  io_uring_params params{};
  if (features_.single_issuer)
    params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  const int rc = io_uring_queue_init_params(options_.entries, &ring_, &params);
  if (rc < 0) throw std::runtime_error(std::string("io_uring: ") + std::strerror(-rc));
  if (features_.buffer_ring && features_.multishot_recv) {
    void* mem = nullptr;
    const unsigned n = options_.buffers;
    if (posix_memalign(&mem, 4096, n * sizeof(io_uring_buf)) != 0)
      throw std::runtime_error("io_uring: cannot allocate the buffer ring");
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = n;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      free(buf_ring_);
      buf_ring_ = nullptr;
      features_.multishot_recv = false;
    } else {
      buffers_ = std::make_unique<char[]>(size_t{n} * options_.buffer_size);
      for (unsigned i = 0; i < n; ++i) {
        io_uring_buf_ring_add(buf_ring_, buffers_.get() + size_t{i} * options_.buffer_size,
                              options_.buffer_size, static_cast<uint16_t>(i),
                              io_uring_buf_ring_mask(n), static_cast<int>(i));
      }
      io_uring_buf_ring_advance(buf_ring_, static_cast<int>(n));
    }
  } else {
    features_.multishot_recv = false;
  }
}

Reactor::~Reactor() {
  for (auto& [id, c] : connections_) {
    if (!c->closed) ::close(c->fd_);
  }
  for (const Listener& l : listeners_) ::close(l.fd);
  if (buf_ring_ != nullptr) io_uring_unregister_buf_ring(&ring_, kBufferGroup);
  io_uring_queue_exit(&ring_);
  free(buf_ring_);
}

io_uring_sqe* Reactor::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s == nullptr) {
    // The submission queue is full: hand it to the kernel and take a fresh entry.
    io_uring_submit(&ring_);
    ++stats_.submits;
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void Reactor::listen(int listen_fd, Handler& handler) {
  listeners_.push_back({listen_fd, &handler});
  arm_accept(listeners_.size() - 1);
}

void Reactor::arm_accept(size_t listener) {
  io_uring_sqe* s = sqe();
  if (features_.multishot_accept) {
    io_uring_prep_multishot_accept(s, listeners_[listener].fd, nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(s, listeners_[listener].fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
  io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kAccept), listener));
}

void Reactor::arm_recv(Connection& c) {
  io_uring_sqe* s = sqe();
  if (features_.multishot_recv) {
    io_uring_prep_recv_multishot(s, c.fd_, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufferGroup;
  } else {
    if (c.own_buffer.empty()) c.own_buffer.resize(options_.buffer_size);
    io_uring_prep_recv(s, c.fd_, c.own_buffer.data(), c.own_buffer.size(), 0);
  }
  io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kRecv), c.id_));
  c.recv_armed = true;
  ++c.ops_in_flight;
}

void Reactor::flush(Connection& c) {
  if (c.closed || c.send_in_flight || c.connecting_) return;
  if (c.out_.empty()) {
    if (c.closing_) shut(c);
    return;
  }
  c.sending_.swap(c.out_);
  c.out_.clear();
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, c.fd_, c.sending_.data(), c.sending_.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kSend), c.id_));
  c.send_in_flight = true;
  ++c.ops_in_flight;
  ++stats_.send_calls;
}

void Reactor::watch(int fd, std::function<void()> on_readable) {
  watchers_.push_back({fd, std::move(on_readable)});
  arm_watch(watchers_.size() - 1);
}

void Reactor::arm_watch(size_t watcher) {
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, watchers_[watcher].fd, POLLIN);
  io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kWatch), watcher));
}

uint64_t Reactor::add_timer(Clock::duration delay, std::function<void()> fn) {
  const uint64_t id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  timer_heap_.push({Clock::now() + delay, id});
  return id;
}

void Reactor::cancel_timer(uint64_t id) {
  timers_.erase(id);
}

void Reactor::run_timers() {
  const auto now = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.top().at <= now) {
    const uint64_t id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
}

void Reactor::run_once(Clock::duration max_wait) {
  Clock::duration wait = max_wait;
  while (!timer_heap_.empty() && !timers_.contains(timer_heap_.top().id)) timer_heap_.pop();
  if (!timer_heap_.empty()) {
    wait = std::min(wait, std::max(Clock::duration::zero(), timer_heap_.top().at - Clock::now()));
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  __kernel_timespec ts{.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
  io_uring_cqe* first = nullptr;
  const int rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
    throw std::logic_error(std::string("io_uring_enter: ") + std::strerror(-rc) +
                           " (is the reactor run by the thread that made it?)");
  ++stats_.submits;

  unsigned head, seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    const auto op = static_cast<Op>(data >> kOpShift);
    const uint64_t id = data & kIdMask;
    if (op == Op::kAccept) {
      on_accept(id, *cqe);
      continue;
    }
    if (op == Op::kWatch) {
      watchers_[id].on_readable();
      arm_watch(id);  // a one-shot poll: every kernel with io_uring has it
      continue;
    }
    auto it = connections_.find(id);
    if (it == connections_.end()) {
      if ((cqe->flags & IORING_CQE_F_BUFFER) != 0)
        recycle_buffer(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
      continue;
    }
    Connection& c = *it->second;
    if (op == Op::kRecv) {
      on_recv(c, *cqe);
    } else if (op == Op::kSend) {
      on_send(c, *cqe);
    } else if (op == Op::kConnect) {
      on_connect(c, *cqe);
    }
  }
  io_uring_cq_advance(&ring_, seen);

  run_timers();
  flush_queued();
}

void Reactor::flush_later(Connection& c) {
  if (!c.closed) dirty_.push_back(&c);
}

void Reactor::flush_queued() {
  for (Connection* c : dirty_) flush(*c);
  dirty_.clear();
  // Closed connections with nothing in flight are freed only now, when no pointer to them is left
  // in this pass.
  for (uint64_t id : released_) {
    handlers_.erase(id);
    connections_.erase(id);
  }
  released_.clear();
  // Sends and re-armed operations are submitted by the next run_once, together with its wait:
  // one system call a pass instead of two.
}

void Reactor::run_until(const std::function<bool()>& stop, Clock::duration tick) {
  while (!stop()) run_once(tick);
}

void Reactor::on_accept(size_t listener, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) arm_accept(listener);
  if (cqe.res < 0) return;  // the listener's error (EMFILE, ...): the next accept may succeed
  auto conn = std::make_unique<Connection>();
  Connection& c = *conn;
  c.id_ = next_id_++;
  c.fd_ = cqe.res;
  const int one = 1;
  setsockopt(c.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socklen_t len = sizeof c.peer_;
  getpeername(c.fd_, reinterpret_cast<sockaddr*>(&c.peer_), &len);
  Handler* handler = listeners_[listener].handler;
  connections_.emplace(c.id_, std::move(conn));
  handlers_.emplace(c.id_, handler);
  ++stats_.accepted;
  handler->on_open(c);
  arm_recv(c);
  dirty_.push_back(&c);
}

Connection& Reactor::connect(const sockaddr_storage& to, Handler& handler) {
  auto conn = std::make_unique<Connection>();
  Connection& c = *conn;
  c.id_ = next_id_++;
  c.peer_ = to;
  c.fd_ = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  connections_.emplace(c.id_, std::move(conn));
  handlers_.emplace(c.id_, &handler);
  ++stats_.connects;
  if (c.fd_ < 0) {
    // No socket (descriptor limit): reported like a failed connect, from the loop rather than
    // from inside the caller.
    c.connect_error_ = -errno;
    c.closed = true;
    add_timer(Clock::duration::zero(), [this, id = c.id_] {
      auto it = connections_.find(id);
      if (it == connections_.end()) return;
      ++stats_.connect_failures;
      handlers_.at(id)->on_close(*it->second);
      released_.push_back(id);
    });
    return c;
  }
  const int one = 1;
  setsockopt(c.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.connecting_ = true;
  io_uring_sqe* s = sqe();
  const socklen_t len = to.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  io_uring_prep_connect(s, c.fd_, reinterpret_cast<const sockaddr*>(&c.peer_), len);
  io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kConnect), c.id_));
  ++c.ops_in_flight;
  return c;
}

void Reactor::on_connect(Connection& c, const io_uring_cqe& cqe) {
  c.connecting_ = false;
  finish_op(c);
  if (c.closed) return;
  if (cqe.res < 0) {
    c.connect_error_ = cqe.res;
    ++stats_.connect_failures;
    shut(c);
    return;
  }
  handlers_.at(c.id_)->on_open(c);
  if (c.closed) return;
  if (!c.paused_) arm_recv(c);
  dirty_.push_back(&c);
}

void Reactor::on_recv(Connection& c, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
    c.recv_armed = false;
    finish_op(c);
  }
  if (c.closed) {
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0)
      recycle_buffer(static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    return;
  }
  ++stats_.recv_completions;
  if (cqe.res == -ECANCELED) {
    // Stopped by pause_receive; resumed since, it is armed again.
    if (!c.recv_armed && !c.paused_) arm_recv(c);
    return;
  }
  if (cqe.res == -ENOBUFS) {
    // Every provided buffer is in use: try again once some are back.
    ++stats_.buffer_exhausted;
    if (!c.recv_armed && !c.paused_) arm_recv(c);
    return;
  }
  if (cqe.res <= 0) {
    shut(c);
    return;
  }
  const auto n = static_cast<size_t>(cqe.res);
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    c.in_.append(buffers_.get() + size_t{bid} * options_.buffer_size, n);
    recycle_buffer(bid);
  } else {
    c.in_.append(c.own_buffer.data(), n);
  }
  stats_.bytes_in += n;
  deliver(c);
  if (!c.closed && !c.closing_ && !c.recv_armed && !c.paused_) arm_recv(c);
}

void Reactor::pause_receive(Connection& c) {
  if (c.paused_ || c.closed) return;
  c.paused_ = true;
  if (c.recv_armed && features_.multishot_recv) {
    // A multishot receive stays armed until cancelled; a one-shot one is simply not re-armed.
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, tag(static_cast<uint8_t>(Op::kRecv), c.id_), 0);
    io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kCancel), c.id_));
  }
}

void Reactor::resume_receive(Connection& c) {
  if (!c.paused_) return;
  c.paused_ = false;
  if (!c.closed && !c.closing_ && !c.recv_armed && !c.connecting_) arm_recv(c);
}

void Reactor::deliver(Connection& c) {
  if (c.closing_) return;
  handlers_.at(c.id_)->on_data(c);
  if (c.in_.size() > options_.max_input) {
    ++stats_.input_overflows;
    shut(c);
    return;
  }
  dirty_.push_back(&c);
}

void Reactor::on_send(Connection& c, const io_uring_cqe& cqe) {
  c.send_in_flight = false;
  finish_op(c);
  if (c.closed) return;
  if (cqe.res < 0) {
    shut(c);
    return;
  }
  stats_.bytes_out += static_cast<uint64_t>(cqe.res);
  c.sending_.erase(0, static_cast<size_t>(cqe.res));
  if (!c.sending_.empty()) {
    // A short send: the rest goes first, before anything queued since.
    c.out_.insert(0, c.sending_);
    c.sending_.clear();
  }
  if (c.out_.empty()) handlers_.at(c.id_)->on_drained(c);
  dirty_.push_back(&c);
}

void Reactor::shut(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  ++stats_.closed;
  handlers_.at(c.id_)->on_close(c);
  if (c.connecting_) {
    // A connect still in flight holds the socket; cancelling it lets its completion arrive.
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, tag(static_cast<uint8_t>(Op::kConnect), c.id_), 0);
    io_uring_sqe_set_data64(s, tag(static_cast<uint8_t>(Op::kCancel), c.id_));
  }
  // Shutting the socket down ends the receive still armed on it, so that its completion arrives
  // and the connection can be freed once nothing refers to its buffers.
  ::shutdown(c.fd_, SHUT_RDWR);
  ::close(c.fd_);
  if (c.ops_in_flight == 0) released_.push_back(c.id_);
}

void Reactor::finish_op(Connection& c) {
  if (--c.ops_in_flight == 0 && c.closed) released_.push_back(c.id_);
}

void Reactor::recycle_buffer(uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buffers_.get() + size_t{bid} * options_.buffer_size,
                        options_.buffer_size, bid, io_uring_buf_ring_mask(options_.buffers), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

}  // namespace sluice::reactor
