// The control plane's connection to the L7 proxy's control socket (dataplane.proxy_socket):
// connects (and reconnects), pushes the proxy's configuration and fetches its counters. Each call
// blocks for at most the timeout; a failure closes the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "control/control_client.h"

namespace sluice::controlplane {

class ProxyConnection {
 public:
  explicit ProxyConnection(std::string socket_path,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Connects when not connected, and notices a proxy that went away while idle; true when
  // connected. `error` says why not.
  bool ensure_connected(std::string* error);
  bool connected() const { return client_.connected(); }
  // Counts connections made: a new value means a proxy that has not had our configuration yet.
  uint64_t connection_serial() const { return serial_; }
  const std::string& path() const { return path_; }

  // Sends a configuration document and waits for the proxy's verdict; nullopt and `error` when
  // the proxy could not be reached.
  std::optional<control::SnapshotResult> apply(const control::ApplyProxyConfig& config,
                                               std::string* error);
  // The proxy's counters as Prometheus text; nullopt and `error` when it could not be reached.
  std::optional<std::string> metrics(std::string* error);

 private:
  std::string path_;
  std::chrono::milliseconds timeout_;
  control::ControlClient client_;
  uint64_t serial_ = 0;
};

}  // namespace sluice::controlplane
