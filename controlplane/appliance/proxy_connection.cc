#include "proxy_connection.h"

#include <unistd.h>

#include <utility>

namespace sluice::controlplane {

ProxyConnection::ProxyConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

bool ProxyConnection::ensure_connected(std::string* error) {
  if (client_.still_open()) return true;
  const control::Hello ours{.role = "controlplane",
                            .instance = "sluice-controlplane",
                            .pid = static_cast<uint32_t>(getpid())};
  if (!client_.connect(path_, ours, timeout_, error)) return false;
  ++serial_;
  return true;
}

std::optional<control::SnapshotResult> ProxyConnection::apply(
    const control::ApplyProxyConfig& config, std::string* error) {
  return client_.call_for<control::SnapshotResult>(config, timeout_, error, "proxy",
                                                   "a configuration");
}

std::optional<std::string> ProxyConnection::metrics(std::string* error) {
  auto reply = client_.call_for<control::ProxyMetricsReply>(
      control::ProxyMetricsRequest{}, timeout_, error, "proxy", "a metrics request");
  if (!reply) return std::nullopt;
  return std::move(reply->text);
}

}  // namespace sluice::controlplane
