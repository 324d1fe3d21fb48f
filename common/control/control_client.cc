#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace sluice::control {
namespace {

constexpr const char* kPeerClosed = "dataplane closed the control socket";

// Waits until `fd` has `events` or the deadline passes; false (and `error`) on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline,
              std::string* error) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *error = "timed out waiting for the dataplane";
      return false;
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

ControlClient::~ControlClient() {
  close();
}

bool ControlClient::still_open() {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  close();
  return false;
}

void ControlClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reader_ = FrameReader();
}

std::nullopt_t ControlClient::fail(std::string why, std::string* error) {
  close();
  if (error != nullptr) *error = std::move(why);
  return std::nullopt;
}

std::optional<Hello> ControlClient::connect(const std::string& path, const Hello& ours,
                                            std::chrono::milliseconds timeout, std::string* error) {
  close();
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail("control socket path '" + path + "' is empty or too long", error);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(errno_text("socket"), error);
  std::string why;
  for (;;) {
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EAGAIN) {
      // The dataplane's backlog is full: it has not accepted the connections before this one.
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail("timed out connecting to " + path, error);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
      return fail("cannot connect to " + path + ": " + std::strerror(errno), error);
    }
    if (!wait_for(fd_, POLLOUT, deadline, &why)) return fail(why, error);
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
    if (so_error != 0) {
      return fail("cannot connect to " + path + ": " + std::strerror(so_error), error);
    }
    break;
  }
  if (!send_all(encode(ours), deadline, error)) return std::nullopt;
  std::optional<Message> reply = receive(deadline, error);
  if (!reply) return std::nullopt;
  if (auto* hello = std::get_if<Hello>(&*reply)) return *hello;
  return fail("the dataplane answered Hello with another message", error);
}

std::optional<Message> ControlClient::call(const Message& request,
                                           std::chrono::milliseconds timeout, std::string* error) {
  if (!connected()) {
    if (error != nullptr) *error = "not connected to the dataplane";
    return std::nullopt;
  }
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  if (!send_all(encode(request), deadline, error)) return std::nullopt;
  return receive(deadline, error);
}

bool ControlClient::send_all(const std::vector<uint8_t>& bytes, Deadline deadline,
                             std::string* error) {
  size_t sent = 0;
  std::string why;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      if (!wait_for(fd_, POLLOUT, deadline, &why)) {
        fail(why, error);
        return false;
      }
    } else if (errno != EINTR) {
      fail(errno == EPIPE || errno == ECONNRESET ? kPeerClosed : errno_text("send"), error);
      return false;
    }
  }
  return true;
}

std::optional<Message> ControlClient::receive(Deadline deadline, std::string* error) {
  uint8_t buf[64 * 1024];
  std::string why;
  for (;;) {
    Message m;
    switch (reader_.next(m, &why)) {
      case FrameReader::Status::kMessage:
        return m;
      case FrameReader::Status::kError:
        return fail("malformed message from the dataplane: " + why, error);
      case FrameReader::Status::kNeedMore:
        break;
    }
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      reader_.append(std::span(buf, static_cast<size_t>(n)));
    } else if (n == 0 || errno == ECONNRESET) {
      return fail(kPeerClosed, error);
    } else if (errno == EAGAIN) {
      if (!wait_for(fd_, POLLIN, deadline, &why)) return fail(why, error);
    } else if (errno != EINTR) {
      return fail(errno_text("read"), error);
    }
  }
}

}  // namespace sluice::control
