// The dataplane's end of the control socket: a non-blocking unix-socket server served from the
// main lcore's management loop (poll_fds() joins its poll set, service() handles what poll found).
// One control-plane connection at a time; a new one replaces the old. A connection starts with
// the peer's Hello, answered with ours; then each request (ApplySnapshot, StatsRequest,
// ApplyProxyConfig, ProxyMetricsRequest) is answered by its handler's reply. A malformed or
// unexpected message closes that connection (said on stderr); the dataplane goes on.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "control_protocol.h"

namespace sluice::control {

// `hello` is required; a request whose handler is empty is unexpected (the lb job sets apply and
// stats, the proxy job apply_proxy and proxy_metrics).
struct ControlHandlers {
  std::function<Hello()> hello;
  std::function<SnapshotResult(const ApplySnapshot&)> apply;
  std::function<StatsReply()> stats;
  std::function<SnapshotResult(const ApplyProxyConfig&)> apply_proxy;
  std::function<ProxyMetricsReply()> proxy_metrics;
};

class ControlServer {
 public:
  // Listens on `path` (mode 0600), replacing a stale socket there and creating its directory if
  // missing. Throws std::runtime_error when it cannot.
  ControlServer(std::string path, ControlHandlers handlers);
  // Closes the connection and removes the socket.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Always two entries: the listening socket and the connection (fd -1 when there is none).
  static constexpr size_t kPollFds = 2;
  std::vector<pollfd> poll_fds() const;
  // Handles the events poll() reported on the entries poll_fds() gave.
  void service(std::span<const pollfd> fds);

  bool connected() const { return conn_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  void accept_connections();
  void read_connection();
  void handle(const Message& m);
  void write_connection();
  void close_connection(const std::string& why);

  std::string path_;
  ControlHandlers handlers_;
  int listen_fd_ = -1;
  uint64_t socket_inode_ = 0;  // to remove only our own socket
  int conn_ = -1;
  bool greeted_ = false;  // the peer's Hello has arrived
  FrameReader reader_;
  std::vector<uint8_t> out_;  // replies not yet written
  size_t out_sent_ = 0;
};

}  // namespace sluice::control
