// sluice-dataplane's proxy job: the L7 proxy on its service cores until SIGINT or SIGTERM;
// SIGHUP reloads the configuration file (rules, actions, target groups and targets; listeners
// are fixed). With `proxy.control_socket` set, the control plane may push configurations and fetch
// the counters on that socket too (proxy_control.h). No EAL and no DPDK port: the proxy uses the
// kernel's TCP stack through io_uring.
#pragma once

#include <functional>
#include <memory>

#include "proxy_runtime.h"

namespace sluice::dataplane {

// Reads and validates the configuration anew; throws ConfigError.
using ProxyConfigLoader = std::function<proxy::ProxyConfig()>;

// The runtime of a validated configuration; a pattern Hyperscan refuses is a ConfigError.
std::shared_ptr<const proxy::ProxyRuntime> compile_proxy_config(const proxy::ProxyConfig& config);

// Returns the process exit code.
int run_proxy_service(std::shared_ptr<const proxy::ProxyRuntime> runtime,
                      const ProxyConfigLoader& reload);

}  // namespace sluice::dataplane
