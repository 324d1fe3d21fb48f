#include "access_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::proxy {
namespace {

// A quoted field: quotes and backslashes escaped, control bytes as \xHH, empty as "-".
void quoted(std::string& out, std::string_view value) {
  out += '"';
  if (value.empty()) out += '-';
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void seconds(std::string& out, double s) {
  out += s < 0 ? std::string("-1") : fmt::format("{:.6f}", s);
  out += ' ';
}

}  // namespace

void format_access_record(std::string& out, std::string_view time, const AccessRecord& r) {
  out += "http ";
  out += time;
  out += ' ';
  out += r.listener;
  out += ' ';
  out += r.client;
  out += ' ';
  out += r.target.empty() ? "-" : r.target;
  out += ' ';
  seconds(out, r.request_s);
  seconds(out, r.target_s);
  seconds(out, r.response_s);
  out += fmt::format("{} {} {} {} ", r.status,
                     r.target_status < 0 ? std::string("-") : std::to_string(r.target_status),
                     r.received_bytes, r.sent_bytes);
  quoted(out, fmt::format("{} {} {}", r.method, r.url, r.version));
  out += ' ';
  quoted(out, r.user_agent);
  out += " - - ";
  out += r.target_group.empty() ? "-" : r.target_group;
  out += ' ';
  quoted(out, "");
  out += ' ';
  quoted(out, r.domain);
  out += ' ';
  quoted(out, "");
  out += ' ';
  out += r.rule_priority;
  out += ' ';
  out += r.request_time;
  out += ' ';
  quoted(out, r.actions);
  out += ' ';
  quoted(out, r.redirect_url);
  out += ' ';
  quoted(out, r.error_reason);
  out += ' ';
  quoted(out, r.target);
  out += ' ';
  quoted(out, r.target_status < 0 ? std::string() : std::to_string(r.target_status));
  out += " \"-\" \"-\"\n";
}

AccessLog::AccessLog(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("proxy.access_log: cannot open " + path + ": " + std::strerror(errno));
  writer_ = std::thread([this] { write_loop(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
  ::close(fd_);
}

void AccessLog::hand_over(std::string& lines) {
  if (lines.empty()) return;
  {
    std::lock_guard lock(mutex_);
    pending_.append(lines);
  }
  lines.clear();
  wake_.notify_one();
}

void AccessLog::write_loop() {
  std::string batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) return;
      batch.swap(pending_);
    }
    size_t at = 0;
    while (at < batch.size()) {
      const ssize_t n = ::write(fd_, batch.data() + at, batch.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk loses log lines, never requests
      at += static_cast<size_t>(n);
    }
    batch.clear();
  }
}

}  // namespace sluice::proxy
