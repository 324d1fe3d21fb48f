// One io_uring event loop per service core: TCP listeners (SO_REUSEPORT, so that every core
// accepts its own connections and keeps them), receives into a ring of provided buffers, sends
// batched at the end of each pass, and timers. What the running kernel offers is probed at
// start-up: multishot accept and receive, provided buffer rings and single-issuer/deferred task
// running are used when present, with plain one-shot accept and receive into the connection's
// own buffer otherwise. Single-threaded: a reactor is made, fed and run by one thread (with
// single-issuer rings the kernel refuses submissions from any other).
#pragma once

#include <liburing.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::reactor {

struct Features {
  bool single_issuer = false;  // IORING_SETUP_SINGLE_ISSUER with IORING_SETUP_DEFER_TASKRUN
  bool multishot_accept = false;
  bool multishot_recv = false;  // needs provided buffer rings too
  bool buffer_ring = false;
  std::string describe() const;
};

// What this kernel supports, found by trying each feature on a scratch ring and socket pair.
Features probe_features();

// A TCP listening socket on address:port with SO_REUSEPORT (and SO_REUSEADDR), non-blocking.
// Throws std::runtime_error naming the address when it cannot.
int open_listener(const std::string& address, uint16_t port, int backlog = 4096);

// Whether a socket is bound to address:port already. SO_REUSEPORT listeners of another process
// of the same user would otherwise share the port with ours, and split its connections.
bool port_in_use(const std::string& address, uint16_t port);

class Reactor;

class Connection {
 public:
  uint64_t id() const { return id_; }
  int fd() const { return fd_; }
  // Bytes received and not yet consumed by the handler; it erases what it has used.
  std::string& input() { return in_; }
  // Queues bytes to send; they leave at the end of the loop pass, in order.
  void send(std::string_view data) { out_.append(data); }
  std::string& output() { return out_; }
  // Bytes queued or handed to the kernel and not yet sent.
  size_t pending_output() const { return out_.size() + sending_.size(); }
  // Closes once the queued output is sent; no more input is delivered.
  void close_after_send() { closing_ = true; }
  bool closing() const { return closing_; }
  const sockaddr_storage& peer() const { return peer_; }
  // For a connection the reactor opened (Reactor::connect): -errno when connecting failed, which
  // on_close then reports; 0 otherwise.
  int connect_error() const { return connect_error_; }
  bool connected() const { return !connecting_; }
  void* user = nullptr;  // the handler's per-connection state

 private:
  friend class Reactor;
  uint64_t id_ = 0;
  int fd_ = -1;
  std::string in_, out_;
  std::string sending_;  // bytes handed to the kernel, alive until their completion
  sockaddr_storage peer_{};
  bool send_in_flight = false;
  bool recv_armed = false;
  bool closing_ = false;
  bool closed = false;
  bool connecting_ = false;
  bool paused_ = false;
  int connect_error_ = 0;
  uint32_t ops_in_flight = 0;
  std::vector<char> own_buffer;  // one-shot receives without provided buffers
};

class Handler {
 public:
  virtual void on_open(Connection&) {}
  // New bytes are in conn.input(); consume what forms whole messages.
  virtual void on_data(Connection& conn) = 0;
  // The peer closed or the connection failed; `conn` is gone after this returns.
  virtual void on_close(Connection&) {}
  // Everything queued on `conn` has been sent.
  virtual void on_drained(Connection&) {}

 protected:
  ~Handler() = default;
};

struct ReactorOptions {
  unsigned entries = 4096;       // submission queue size
  unsigned buffers = 1024;       // provided receive buffers (a power of two)
  unsigned buffer_size = 16384;  // bytes each
  size_t max_input = 8 << 20;    // unconsumed input beyond which a connection is closed
  bool use_multishot = true;     // false: one-shot operations even where multishot works
};

struct ReactorStats {
  uint64_t accepted = 0, closed = 0, recv_completions = 0, bytes_in = 0, bytes_out = 0;
  uint64_t send_calls = 0, submits = 0, buffer_exhausted = 0, input_overflows = 0;
  uint64_t connects = 0, connect_failures = 0;
};

class Reactor {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Reactor(const ReactorOptions& options = {}, const Features& features = probe_features());
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Accepts connections on `listen_fd` (owned by the reactor from now on) for `handler`.
  void listen(int listen_fd, Handler& handler);
  // Opens a TCP connection to `to` for `handler`: on_open runs once it is established, on_close
  // (with connect_error() set) when it cannot be. Output queued before then leaves once connected.
  Connection& connect(const sockaddr_storage& to, Handler& handler);
  // Closes `c` now, whatever is queued or in flight on it; on_close runs before this returns.
  void close(Connection& c) { shut(c); }
  // Back-pressure: stops receiving on `c` (bytes already on their way are still delivered) until
  // resume_receive; the kernel's socket buffer then fills and TCP slows the peer down.
  void pause_receive(Connection& c);
  void resume_receive(Connection& c);
  // Runs `on_readable` in the loop each time `fd` (not owned) becomes readable; it must consume
  // what made it readable (an eventfd's count, say), or it is called again at once.
  void watch(int fd, std::function<void()> on_readable);
  // Runs `fn` once `delay` has passed; returns an id for cancel_timer.
  uint64_t add_timer(Clock::duration delay, std::function<void()> fn);
  void cancel_timer(uint64_t id);

  // One pass: submits what is queued, waits up to `max_wait` for completions (or the next timer),
  // handles them, runs due timers, and flushes output.
  void run_once(Clock::duration max_wait);
  // Output queued on `c` outside on_data (an answer that arrived from elsewhere) is queued for
  // sending at the next flush_queued(), which run_once() also does at the end of each pass; the
  // next run_once() hands it to the kernel.
  void flush_later(Connection& c);
  void flush_queued();
  // Passes until `stop` holds (checked at least every `tick`).
  void run_until(const std::function<bool()>& stop,
                 Clock::duration tick = std::chrono::milliseconds(50));

  const Features& features() const { return features_; }
  const ReactorStats& stats() const { return stats_; }
  size_t connection_count() const { return connections_.size(); }

 private:
  enum class Op : uint8_t { kAccept, kRecv, kSend, kClose, kWatch, kConnect, kCancel };
  struct Listener {
    int fd;
    Handler* handler;
  };

  io_uring_sqe* sqe();
  void arm_accept(size_t listener);
  void arm_watch(size_t watcher);
  void arm_recv(Connection& c);
  void flush(Connection& c);
  void on_accept(size_t listener, const io_uring_cqe& cqe);
  void on_recv(Connection& c, const io_uring_cqe& cqe);
  void on_send(Connection& c, const io_uring_cqe& cqe);
  void on_connect(Connection& c, const io_uring_cqe& cqe);
  void deliver(Connection& c);
  void shut(Connection& c);
  void finish_op(Connection& c);
  void recycle_buffer(uint16_t bid);
  void run_timers();

  ReactorOptions options_;
  Features features_;
  io_uring ring_{};
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::unique_ptr<char[]> buffers_;
  std::vector<Listener> listeners_;
  struct Watcher {
    int fd;
    std::function<void()> on_readable;
  };
  std::vector<Watcher> watchers_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<uint64_t, Handler*> handlers_;  // connection id -> its listener's handler
  std::vector<Connection*> dirty_;                   // output queued during this pass
  std::vector<uint64_t> released_;                   // closed, nothing in flight: to free
  uint64_t next_id_ = 1;
  struct Timer {
    Clock::time_point at;
    uint64_t id;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timer_heap_;
  std::unordered_map<uint64_t, std::function<void()>> timers_;
  uint64_t next_timer_ = 1;
  ReactorStats stats_;
};

}  // namespace sluice::reactor
