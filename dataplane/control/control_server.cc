#include "control_server.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <variant>

namespace sluice::control {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

std::runtime_error socket_error(const std::string& path, const char* what) {
  return std::runtime_error(
      fmt::format("control socket {}: {}: {}", path, what, std::strerror(errno)));
}

const char* type_name(const Message& m) {
  static constexpr const char* kNames[] = {
      "Hello",      "ApplySnapshot",    "SnapshotResult",      "StatsRequest",
      "StatsReply", "ApplyProxyConfig", "ProxyMetricsRequest", "ProxyMetricsReply"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[m.index()];
}

}  // namespace

ControlServer::ControlServer(std::string path, ControlHandlers handlers)
    : path_(std::move(path)), handlers_(std::move(handlers)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    throw std::runtime_error(fmt::format("control socket {}: path is empty or longer than {}",
                                         path_, sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("control socket {}: cannot create {}: {}", path_,
                                         parent.string(), ec.message()));
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error(fmt::format("control socket {}: exists and is not a socket", path_));
    }
    ::unlink(path_.c_str());  // left by a dataplane that did not exit cleanly
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw socket_error(path_, "socket");
  // Nobody can connect before listen(), so the mode is set before anyone could.
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path_.c_str(), 0600) != 0 || ::stat(path_.c_str(), &st) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    const auto error = socket_error(path_, "cannot listen");
    ::close(listen_fd_);
    throw error;
  }
  socket_inode_ = st.st_ino;
}

ControlServer::~ControlServer() {
  if (conn_ >= 0) ::close(conn_);
  ::close(listen_fd_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_ino == socket_inode_) ::unlink(path_.c_str());
}

std::vector<pollfd> ControlServer::poll_fds() const {
  const short conn_events = out_.empty() ? POLLIN : POLLOUT;
  return {{listen_fd_, POLLIN, 0}, {conn_, conn_events, 0}};
}

void ControlServer::service(std::span<const pollfd> fds) {
  if (fds.size() < kPollFds) return;
  const pollfd& c = fds[1];
  if (conn_ >= 0 && c.fd == conn_ && c.revents != 0) {
    // A finished reply lets the requests that waited behind it through.
    write_connection();
    if (conn_ >= 0) read_connection();
  }
  if ((fds[0].revents & POLLIN) != 0) accept_connections();
}

void ControlServer::accept_connections() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) {
        fmt::print(stderr, "sluice-dataplane: control socket: accept: {}\n", std::strerror(errno));
      }
      return;
    }
    if (conn_ >= 0) close_connection("a new control-plane connection replaces it");
    conn_ = fd;
  }
}

void ControlServer::read_connection() {
  uint8_t buf[kReadChunk];
  // Requests wait in the socket while a reply is being written, so a peer that does not read
  // cannot make replies pile up.
  while (conn_ >= 0 && out_.empty()) {
    Message m;
    std::string error;
    const FrameReader::Status status = reader_.next(m, &error);
    if (status == FrameReader::Status::kMessage) {
      handle(m);
      continue;
    }
    if (status == FrameReader::Status::kError) {
      close_connection("malformed message: " + error);
      return;
    }
    const ssize_t n = ::read(conn_, buf, sizeof buf);
    if (n > 0) {
      reader_.append(std::span(buf, static_cast<size_t>(n)));
    } else if (n == 0) {
      close_connection("the control plane disconnected");
    } else if (errno == EAGAIN) {
      return;
    } else if (errno != EINTR) {
      close_connection(fmt::format("read: {}", std::strerror(errno)));
    }
  }
}

void ControlServer::handle(const Message& m) {
  Message reply;
  if (!greeted_) {
    const auto* hello = std::get_if<Hello>(&m);
    if (hello == nullptr) {
      close_connection(fmt::format("expected Hello first, got {}", type_name(m)));
      return;
    }
    greeted_ = true;
    fmt::print(stderr, "sluice-dataplane: control plane connected: {} {} pid {}\n", hello->role,
               hello->instance, hello->pid);
    reply = handlers_.hello();
  } else if (const auto* snapshot = std::get_if<ApplySnapshot>(&m); snapshot && handlers_.apply) {
    reply = handlers_.apply(*snapshot);
  } else if (std::holds_alternative<StatsRequest>(m) && handlers_.stats) {
    reply = handlers_.stats();
  } else if (const auto* proxy = std::get_if<ApplyProxyConfig>(&m);
             proxy && handlers_.apply_proxy) {
    reply = handlers_.apply_proxy(*proxy);
  } else if (std::holds_alternative<ProxyMetricsRequest>(m) && handlers_.proxy_metrics) {
    reply = handlers_.proxy_metrics();
  } else {
    close_connection(fmt::format("unexpected {} message", type_name(m)));
    return;
  }
  out_ = encode(reply);
  out_sent_ = 0;
  write_connection();
}

void ControlServer::write_connection() {
  while (out_sent_ < out_.size()) {
    const ssize_t n = ::send(conn_, out_.data() + out_sent_, out_.size() - out_sent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      out_sent_ += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      return;
    } else if (errno != EINTR) {
      close_connection(fmt::format("send: {}", std::strerror(errno)));
      return;
    }
  }
  out_.clear();
  out_sent_ = 0;
}

void ControlServer::close_connection(const std::string& why) {
  fmt::print(stderr, "sluice-dataplane: control connection closed: {}\n", why);
  ::close(conn_);
  conn_ = -1;
  greeted_ = false;
  reader_ = FrameReader();
  out_.clear();
  out_sent_ = 0;
}

}  // namespace sluice::control
