#include "dataplane_connection.h"

#include <poll.h>
#include <unistd.h>

#include <variant>

namespace sluice::controlplane {

DataplaneConnection::DataplaneConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

bool DataplaneConnection::ensure_connected(std::string* error) {
  if (client_.connected()) {
    // Nothing arrives unasked: a readable socket is a dataplane that closed it.
    pollfd p{client_.fd(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    client_.close();
  }
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
  auto reply = client_.call(snapshot, timeout_, error);
  if (!reply) return std::nullopt;
  if (auto* r = std::get_if<control::SnapshotResult>(&*reply)) return *r;
  client_.close();
  *error = "the dataplane answered a snapshot with another message";
  return std::nullopt;
}

std::optional<control::StatsReply> DataplaneConnection::stats(std::string* error) {
  auto reply = client_.call(control::StatsRequest{}, timeout_, error);
  if (!reply) return std::nullopt;
  if (auto* r = std::get_if<control::StatsReply>(&*reply)) return std::move(*r);
  client_.close();
  *error = "the dataplane answered a stats request with another message";
  return std::nullopt;
}

}  // namespace sluice::controlplane
