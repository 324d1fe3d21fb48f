#include "proxy_app.h"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "config/config_error.h"
#include "proxy_control.h"
#include "proxy_server.h"

namespace sluice::dataplane {

std::shared_ptr<const proxy::ProxyRuntime> compile_proxy_config(const proxy::ProxyConfig& config) {
  try {
    return proxy::build_runtime(config, 1);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
}

int run_proxy_service(std::shared_ptr<const proxy::ProxyRuntime> runtime,
                      const ProxyConfigLoader& reload) {
  // Blocked before any thread starts, so that every thread inherits the mask and the signals
  // wait for this one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const proxy::ProxySettings settings = runtime->config.settings;
  proxy::ProxyService service(settings, runtime);
  service.start();
  const auto& listeners = runtime->config.listeners;
  for (size_t i = 0; i < listeners.size(); ++i) {
    const std::string& a = listeners[i].address;
    fmt::print("sluice-dataplane: L7 proxy listener {} on http://{}:{} ({} rule{})\n",
               listeners[i].name, a.find(':') != std::string::npos ? "[" + a + "]" : a,
               service.ports()[i], listeners[i].rules.size(),
               listeners[i].rules.size() == 1 ? "" : "s");
  }
  std::unique_ptr<proxy::ProxyControl> control;
  if (!settings.control_socket.empty()) {
    control = std::make_unique<proxy::ProxyControl>(settings.control_socket, service);
    fmt::print("sluice-dataplane: L7 proxy takes its configuration from the control plane on {}\n",
               settings.control_socket);
  }
  fmt::print("sluice-dataplane: L7 proxy running on {} core{}\n",
             std::max<size_t>(1, settings.cores.size()), settings.cores.size() > 1 ? "s" : "");
  std::fflush(stdout);
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal != SIGHUP) {
      fmt::print("sluice-dataplane: {} received, stopping\n",
                 signal == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (!reload) continue;
    try {
      service.publish(reload());
      fmt::print("sluice-dataplane: configuration reloaded\n");
    } catch (const std::exception& e) {
      fmt::print(stderr, "sluice-dataplane: reload refused, the configuration in force stays: {}\n",
                 e.what());
    }
    std::fflush(stdout);
  }
  control.reset();
  service.stop();
  return 0;
}

}  // namespace sluice::dataplane
