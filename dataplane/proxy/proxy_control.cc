#include "proxy_control.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "config/config_error.h"
#include "proxy_config.h"

namespace sluice::proxy {
namespace {

uint64_t ns_since(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}

}  // namespace

control::SnapshotResult apply_proxy_document(ProxyService& service,
                                             const control::ApplyProxyConfig& message) {
  control::SnapshotResult result{.generation = message.generation};
  const auto start = std::chrono::steady_clock::now();
  try {
    ProxyConfig config = parse_proxy_document(message.document, "pushed configuration");
    config.settings = service.runtime()->config.settings;
    result.build_ns = ns_since(start);
    const auto publish_start = std::chrono::steady_clock::now();
    service.publish(std::move(config));
    result.publish_ns = ns_since(publish_start);
    result.ok = true;
  } catch (const ConfigError& e) {
    result.error = e.what();
  } catch (const std::invalid_argument& e) {
    result.error = e.what();
  }
  return result;
}

ProxyControl::ProxyControl(const std::string& path, ProxyService& service) : service_(service) {
  server_ = std::make_unique<control::ControlServer>(
      path, control::ControlHandlers{
                .hello =
                    [this] {
                      const size_t cores = service_.runtime()->config.settings.cores.size();
                      return control::Hello{
                          .role = "proxy",
                          .instance = "sluice-dataplane",
                          .pid = static_cast<uint32_t>(getpid()),
                          .generation = generation_.load(),
                          .workers = static_cast<uint32_t>(cores == 0 ? 1 : cores)};
                    },
                .apply_proxy =
                    [this](const control::ApplyProxyConfig& m) {
                      control::SnapshotResult r = apply_proxy_document(service_, m);
                      if (r.ok) {
                        generation_ = m.generation;
                      } else {
                        fmt::print(stderr,
                                   "sluice-dataplane: pushed configuration {} refused, the one in "
                                   "force stays: {}\n",
                                   m.generation, r.error);
                      }
                      return r;
                    },
                .proxy_metrics =
                    [this] { return control::ProxyMetricsReply{.text = service_.metrics()}; }});
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw std::runtime_error(
        fmt::format("control socket {}: eventfd: {}", path, std::strerror(errno)));
  thread_ = std::thread([this] { run(); });
}

ProxyControl::~ProxyControl() {
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) != sizeof one) std::abort();
  thread_.join();
  ::close(wake_fd_);
}

void ProxyControl::run() {
  for (;;) {
    std::vector<pollfd> fds = server_->poll_fds();
    fds.push_back({wake_fd_, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "sluice-dataplane: control socket: poll: {}\n", std::strerror(errno));
      return;
    }
    if (fds.back().revents != 0) return;
    server_->service(std::span(fds).first(control::ControlServer::kPollFds));
  }
}

}  // namespace sluice::proxy
