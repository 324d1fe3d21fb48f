// The control plane's connection to sluice-dataplane over the control socket: a DataplaneSink
// that connects (and reconnects) to the socket path, pushes snapshots and fetches counters.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "control/control_client.h"
#include "dataplane_sink.h"

namespace sluice::controlplane {

class DataplaneConnection : public DataplaneSink {
 public:
  explicit DataplaneConnection(std::string socket_path,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

  bool ensure_connected(std::string* error) override;
  bool connected() const override { return client_.connected(); }
  uint64_t connection_serial() const override { return serial_; }
  int fd() const override { return client_.fd(); }
  std::optional<control::Hello> peer() const override { return peer_; }
  std::optional<control::SnapshotResult> apply(const control::ApplySnapshot& snapshot,
                                               std::string* error) override;
  std::optional<control::StatsReply> stats(std::string* error) override;

 private:
  std::string path_;
  std::chrono::milliseconds timeout_;
  control::ControlClient client_;
  std::optional<control::Hello> peer_;
  uint64_t serial_ = 0;
};

}  // namespace sluice::controlplane
