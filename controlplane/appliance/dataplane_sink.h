// Where the control plane's compiled snapshots go and where its counters come from: the running
// dataplane behind the control socket (DataplaneConnection). An interface so that the logic above
// it can be driven in unit tests without a dataplane process.
#pragma once

#include <optional>
#include <string>

#include "control/control_protocol.h"

namespace sluice::controlplane {

class DataplaneSink {
 public:
  virtual ~DataplaneSink() = default;

  // Connects when not connected, and notices a dataplane that went away while idle; true when
  // connected. `error` says why not.
  virtual bool ensure_connected(std::string* error) = 0;
  virtual bool connected() const = 0;
  // Counts connections made: a new value means a dataplane that has not had our snapshot yet.
  virtual uint64_t connection_serial() const = 0;
  // Readable when the dataplane closes the connection (or -1): lets the owner's loop wake up.
  virtual int fd() const = 0;
  // The dataplane's Hello from the current connection (its generation, pid, workers).
  virtual std::optional<control::Hello> peer() const = 0;
  // Sends a snapshot and waits for the dataplane's verdict. nullopt and `error` when the
  // dataplane could not be reached (the connection is then closed).
  virtual std::optional<control::SnapshotResult> apply(const control::ApplySnapshot& snapshot,
                                                       std::string* error) = 0;
  virtual std::optional<control::StatsReply> stats(std::string* error) = 0;
};

}  // namespace sluice::controlplane
