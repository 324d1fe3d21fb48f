// The proxy job's end of the control socket (ProxySettings::control_socket): the control plane
// connects, both sides send Hello, and then it pushes whole configurations (ApplyProxyConfig,
// answered by SnapshotResult) and fetches the counters (ProxyMetricsRequest, answered by
// ProxyMetricsReply). The socket is served by the lb job's ControlServer on a thread of its own;
// one control-plane connection at a time, a new one replaces the old.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "control_server.h"
#include "proxy_server.h"

namespace sluice::proxy {

// What an ApplyProxyConfig does to `service`: the document is parsed and validated, takes the
// running proxy settings (a pushed document changes listeners' rules and target groups, not the
// settings), and is published. A document that does not parse or validate, or that the service
// refuses, changes nothing and is answered with ok false and the reason.
control::SnapshotResult apply_proxy_document(ProxyService& service,
                                             const control::ApplyProxyConfig& message);

class ProxyControl {
 public:
  // Listens on `path` and serves it until destroyed. `service` must outlive this object. Throws
  // std::runtime_error when the socket cannot be set up.
  ProxyControl(const std::string& path, ProxyService& service);
  ~ProxyControl();
  ProxyControl(const ProxyControl&) = delete;
  ProxyControl& operator=(const ProxyControl&) = delete;

  // The generation of the last configuration applied through the socket (0: none yet).
  uint64_t generation() const { return generation_.load(); }
  const std::string& path() const { return server_->path(); }

 private:
  void run();

  ProxyService& service_;
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<control::ControlServer> server_;
  int wake_fd_ = -1;  // an eventfd that ends the thread
  std::thread thread_;
};

}  // namespace sluice::proxy
