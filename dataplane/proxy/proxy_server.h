// The L7 proxy on service cores: one thread per core, each with an io_uring reactor holding its
// own SO_REUSEPORT listener per configured listener, its client connections, and its kept-alive
// connections to targets. A request is parsed strictly, matched against the listener's rules
// (one Hyperscan scan), and answered by the winning action: forwarded to a target of a weighted
// target group, redirected, or answered with a fixed response. Responses are relayed as they
// arrive; a WebSocket upgrade turns the pair of connections into a tunnel.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "access_log.h"
#include "proxy_runtime.h"
#include "proxy_stats.h"

namespace sluice::proxy {

class ProxyService {
 public:
  // `runtime` must hold every listener the service will ever serve: later runtimes change rules,
  // groups and targets, not the listening addresses.
  ProxyService(ProxySettings settings, std::shared_ptr<const ProxyRuntime> runtime);
  ~ProxyService();
  ProxyService(const ProxyService&) = delete;
  ProxyService& operator=(const ProxyService&) = delete;

  // Opens the listeners and starts the cores; throws std::runtime_error when it cannot.
  void start();
  void stop();

  // Takes a new configuration (validated): throws std::invalid_argument when its listeners differ
  // from the running ones or a rule's pattern does not compile, and then changes nothing. Cores
  // switch to it at their next loop pass.
  void publish(ProxyConfig config);
  std::shared_ptr<const ProxyRuntime> runtime() const { return slot_.current(); }

  // The ports listened on, in the order of the listeners (the kernel's choice where 0 was asked).
  const std::vector<uint16_t>& ports() const { return ports_; }
  std::string metrics() const;

 private:
  void run_core(size_t index, std::vector<int> listen_fds);

  ProxySettings settings_;
  RuntimeSlot slot_;
  std::unique_ptr<AccessLog> access_log_;
  std::vector<std::unique_ptr<ProxyStats>> stats_;  // one per core
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::vector<uint16_t> ports_;
};

}  // namespace sluice::proxy
