#include "proxy_connection.h"

#include <poll.h>
#include <unistd.h>

#include <utility>
#include <variant>

namespace sluice::controlplane {

ProxyConnection::ProxyConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

bool ProxyConnection::ensure_connected(std::string* error) {
  if (client_.connected()) {
    // Nothing arrives unasked: a readable socket is a proxy that closed it.
    pollfd p{client_.fd(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    client_.close();
  }
  const control::Hello ours{.role = "controlplane",
                            .instance = "sluice-controlplane",
                            .pid = static_cast<uint32_t>(getpid())};
  if (!client_.connect(path_, ours, timeout_, error)) return false;
  ++serial_;
  return true;
}

std::optional<control::SnapshotResult> ProxyConnection::apply(
    const control::ApplyProxyConfig& config, std::string* error) {
  auto reply = client_.call(config, timeout_, error);
  if (!reply) return std::nullopt;
  if (auto* r = std::get_if<control::SnapshotResult>(&*reply)) return *r;
  client_.close();
  *error = "the proxy answered a configuration with another message";
  return std::nullopt;
}

std::optional<std::string> ProxyConnection::metrics(std::string* error) {
  auto reply = client_.call(control::ProxyMetricsRequest{}, timeout_, error);
  if (!reply) return std::nullopt;
  if (auto* r = std::get_if<control::ProxyMetricsReply>(&*reply)) return std::move(r->text);
  client_.close();
  *error = "the proxy answered a metrics request with another message";
  return std::nullopt;
}

}  // namespace sluice::controlplane
