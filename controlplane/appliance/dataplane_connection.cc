#include "dataplane_connection.h"

#include <unistd.h>

namespace sluice::controlplane {

DataplaneConnection::DataplaneConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

bool DataplaneConnection::ensure_connected(std::string* error) {
  if (client_.still_open()) return true;
  const control::Hello ours{.role = "controlplane",
                            .instance = "sluice-controlplane",
                            .pid = static_cast<uint32_t>(getpid())};
  peer_ = client_.connect(path_, ours, timeout_, error);
  if (!peer_) return false;
  ++serial_;
  return true;
}

std::optional<control::SnapshotResult> DataplaneConnection::apply(
    const control::ApplySnapshot& snapshot, std::string* error) {
  return client_.call_for<control::SnapshotResult>(snapshot, timeout_, error, "dataplane",
                                                   "a snapshot");
}

std::optional<control::StatsReply> DataplaneConnection::stats(std::string* error) {
  return client_.call_for<control::StatsReply>(control::StatsRequest{}, timeout_, error,
                                               "dataplane", "a stats request");
}

}  // namespace sluice::controlplane
