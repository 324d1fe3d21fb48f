// The control plane's end of the control socket: a blocking client that connects to a dataplane's
// socket, exchanges Hello, and then makes one request at a time and waits for its reply. Any
// failure (timeout, peer gone, malformed reply) closes the connection, since a late reply would
// otherwise be read as the answer to the next request; connect again to go on.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "control_protocol.h"

namespace sluice::control {

class ControlClient {
 public:
  ControlClient() = default;
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Connects to the unix socket at `path`, sends `ours` and returns the dataplane's Hello; the
  // whole exchange takes at most `timeout`. nullopt and `error` set on failure. Closes any
  // connection held before.
  std::optional<Hello> connect(const std::string& path, const Hello& ours,
                               std::chrono::milliseconds timeout, std::string* error);

  // Sends `request` and returns the one message that answers it, within `timeout`.
  std::optional<Message> call(const Message& request, std::chrono::milliseconds timeout,
                              std::string* error);

  // call() for a request answered by one kind of message: any other answer closes the connection
  // and is an error naming the peer (`who`) and the request (`what`).
  template <typename Reply>
  std::optional<Reply> call_for(const Message& request, std::chrono::milliseconds timeout,
                                std::string* error, std::string_view who, std::string_view what) {
    auto reply = call(request, timeout, error);
    if (!reply) return std::nullopt;
    if (auto* r = std::get_if<Reply>(&*reply)) return std::move(*r);
    close();
    *error = "the " + std::string(who) + " answered " + std::string(what) + " with another message";
    return std::nullopt;
  }

  // Whether a connection is held and still open. Nothing arrives unasked, so a readable socket is
  // a peer that closed it: the connection is then closed here.
  bool still_open();

  void close();
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }

 private:
  using Deadline = std::chrono::steady_clock::time_point;

  bool send_all(const std::vector<uint8_t>& bytes, Deadline deadline, std::string* error);
  std::optional<Message> receive(Deadline deadline, std::string* error);
  // Closes the connection and sets `error`; returns nullopt for the caller to pass on.
  std::nullopt_t fail(std::string why, std::string* error);

  int fd_ = -1;
  FrameReader reader_;
};

}  // namespace sluice::control
