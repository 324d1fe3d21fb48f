// sqs-loadgen: load for bench/sqs-vs-beanstalkd and bench/sns-fanout against a server on
// loopback, either an SQS/SNS endpoint (AWS JSON 1.0 for SQS, the query protocol for SNS,
// authentication off) or beanstalkd (its text protocol), over kept-alive connections, one thread
// and one blocking socket each.
//
//   pipeline      every connection loops: send 10 messages, receive up to 10, delete what it got
//                 (SendMessageBatch, ReceiveMessage with WaitTimeSeconds 0, DeleteMessageBatch; or
//                 put x10, reserve-with-timeout 0 x10, delete x10). With --depth D, D such batches
//                 of each step are written before their replies are read.
//   send-latency  one connection, one SendMessage (put) at a time: latency percentiles.
//   publish       every connection loops SNS Publish to --topic-arn (form bodies; --depth D
//                 publishes written before their replies are read), with the --message-attribute
//                 NAME=VALUE given (a String; NAME:Number=VALUE, a Number), VALUE suffixed
//                 0 .. N-1 in turn with --vary N.
//   publish-latency  one connection, one Publish at a time: latency percentiles.
//
// It prints one JSON line of results. This is a load generator, not a client library: replies are
// checked for their status and scanned for the few members it needs (message ids, receipt
// handles, failed entries), not parsed as JSON.
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(std::string_view what) {
  fprintf(stderr, "sqs-loadgen: %.*s\n", static_cast<int>(what.size()), what.data());
  _exit(1);  // from any thread, without running destructors under the others
}

struct Options {
  bool beanstalkd = false;
  bool latency = false;
  sockaddr_in address{};
  std::string host;  // the Host header: "127.0.0.1:PORT"
  int connections = 4;
  int depth = 1;
  size_t size = 256;
  double duration = 5;
  double warmup = 1;
  std::string queue = "bench";
  std::vector<std::pair<std::string, std::string>> attributes;
  pid_t server_pid = 0;
  bool moto = false;
  bool publish = false;
  std::string topic_arn;
  struct MessageAttribute {
    std::string name, type, value;  // type: String or Number
  };
  std::vector<MessageAttribute> message_attributes;
  int vary = 0;
};

// A blocking TCP connection with a read buffer. Views returned by the reading calls stay valid
// until the next reading call.
class Connection {
 public:
  explicit Connection(const Options& options) : options_(options), buf_(64 * 1024) { open(); }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void write_all(std::string_view data) {
    if (reopen_) {
      ::close(fd_);
      head_ = tail_ = 0;
      open();
      reopen_ = false;
    }
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(std::string("send: ") + strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // The next line, without its CRLF.
  std::string_view line() {
    for (;;) {
      std::string_view have(buf_.data() + head_, tail_ - head_);
      size_t end = have.find("\r\n");
      if (end != std::string_view::npos) {
        head_ += end + 2;
        return have.substr(0, end);
      }
      fill();
    }
  }

  // n bytes of data followed by CRLF.
  std::string_view data(size_t n) {
    while (tail_ - head_ < n + 2) fill();
    std::string_view d(buf_.data() + head_, n);
    if (buf_[head_ + n] != '\r' || buf_[head_ + n + 1] != '\n') fail("data not followed by CRLF");
    head_ += n + 2;
    return d;
  }

  struct HttpReply {
    int status = 0;
    std::string_view body;
  };

  // One HTTP/1.1 reply with a Content-Length. A reply that closes the connection makes the next
  // write open a new one (moto's server closes after every reply).
  HttpReply http_reply() {
    size_t header_end;
    for (;;) {
      header_end = std::string_view(buf_.data() + head_, tail_ - head_).find("\r\n\r\n");
      if (header_end != std::string_view::npos) break;
      fill();
    }
    std::string_view head(buf_.data() + head_, header_end);
    if (head.size() < 12 || !head.starts_with("HTTP/1.")) fail("not an HTTP reply");
    HttpReply reply;
    std::from_chars(head.data() + 9, head.data() + 12, reply.status);
    bool keep_alive = head[7] == '1';
    size_t length = SIZE_MAX;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view field = head.substr(
          pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      size_t colon = field.find(':');
      if (colon != std::string_view::npos) {
        std::string_view name = field.substr(0, colon);
        std::string_view value = field.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (iequals(name, "content-length")) {
          std::from_chars(value.data(), value.data() + value.size(), length);
        } else if (iequals(name, "connection")) {
          keep_alive = !iequals(value, "close");
        } else if (iequals(name, "transfer-encoding")) {
          fail("a chunked reply (only replies with a Content-Length are read)");
        }
      }
      pos = next;
    }
    if (length == SIZE_MAX) fail("an HTTP reply without Content-Length");
    size_t total = header_end + 4 + length;
    while (tail_ - head_ < total) fill();
    reply.body = std::string_view(buf_.data() + head_ + header_end + 4, length);
    head_ += total;
    reopen_ = !keep_alive;
    return reply;
  }

 private:
  static bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x | 0x20) == (y | 0x20);
           });
  }

  void open() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail(std::string("socket: ") + strerror(errno));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{.tv_sec = 10, .tv_usec = 0};  // a server that stops answering ends the run
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&options_.address),
                  sizeof options_.address) != 0) {
      fail(std::string("connect to ") + options_.host + ": " + strerror(errno));
    }
  }

  void fill() {
    if (head_ == tail_) {
      head_ = tail_ = 0;
    } else if (tail_ == buf_.size()) {
      if (head_ > 0) {
        memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
      } else {
        buf_.resize(buf_.size() * 2);
      }
    }
    for (;;) {
      ssize_t n = ::recv(fd_, buf_.data() + tail_, buf_.size() - tail_, 0);
      if (n > 0) {
        tail_ += static_cast<size_t>(n);
        return;
      }
      if (n == 0) fail("the server closed the connection");
      if (errno == EAGAIN || errno == EWOULDBLOCK) fail("no reply within 10 s");
      if (errno != EINTR) fail(std::string("recv: ") + strerror(errno));
    }
  }

  const Options& options_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t head_ = 0;
  size_t tail_ = 0;
  bool reopen_ = false;
};

// The position just after `"key":` (and any blanks) in json, from `from`, or npos. A quoted key
// cannot occur inside a string value, where its quotes would be escaped.
size_t find_member(std::string_view json, std::string_view quoted_key, size_t from) {
  for (;;) {
    size_t at = json.find(quoted_key, from);
    if (at == std::string_view::npos) return at;
    size_t p = at + quoted_key.size();
    while (p < json.size() && json[p] == ' ') ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && json[p] == ' ') ++p;
      return p;
    }
    from = p;
  }
}

size_t count_members(std::string_view json, std::string_view quoted_key) {
  size_t n = 0;
  for (size_t p = find_member(json, quoted_key, 0); p != std::string_view::npos;
       p = find_member(json, quoted_key, p)) {
    ++n;
  }
  return n;
}

// Calls f with each string value of the member, escapes kept: written back into a JSON string
// as they are, they mean the same.
template <typename F>
void each_string_member(std::string_view json, std::string_view quoted_key, F&& f) {
  for (size_t p = find_member(json, quoted_key, 0); p != std::string_view::npos;
       p = find_member(json, quoted_key, p)) {
    if (json[p] != '"') fail("a member that is not a string: " + std::string(json));
    size_t end = p + 1;
    while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    if (end >= json.size()) fail("an unterminated string: " + std::string(json));
    f(json.substr(p + 1, end - p - 1));
    p = end + 1;
  }
}

// Written by one thread, read by the main thread.
struct alignas(64) Counters {
  std::atomic<uint64_t> sent{0}, received{0}, deleted{0}, failed{0};
  static void add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

std::atomic<bool> stop{false};
std::atomic<bool> measuring{false};

class SqsClient {
 public:
  SqsClient(const Options& options, std::string queue_url)
      : options_(options), conn_(options), queue_url_(std::move(queue_url)) {
    std::string body(options.size, 'x');
    std::string entries;
    for (int i = 0; i < 10; ++i) {
      entries += (i ? ",{\"Id\":\"" : "{\"Id\":\"") + std::to_string(i) + "\",\"MessageBody\":\"" +
                 body + "\"}";
    }
    for (int i = 0; i < options.depth; ++i) {
      send_batches_ += request("SendMessageBatch", "{\"QueueUrl\":\"" + queue_url_ +
                                                       "\",\"Entries\":[" + entries + "]}");
      receives_ +=
          request("ReceiveMessage", "{\"QueueUrl\":\"" + queue_url_ +
                                        "\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":0}");
    }
    send_one_ = request("SendMessage",
                        "{\"QueueUrl\":\"" + queue_url_ + "\",\"MessageBody\":\"" + body + "\"}");
  }

  // Creates the queue (or finds it) and returns its URL.
  static std::string create_queue(const Options& options) {
    Connection conn(options);
    std::string body = "{\"QueueName\":\"" + options.queue + "\"";
    if (!options.attributes.empty()) {
      body += ",\"Attributes\":{";
      for (size_t i = 0; i < options.attributes.size(); ++i) {
        body += (i ? ",\"" : "\"") + options.attributes[i].first + "\":\"" +
                options.attributes[i].second + "\"";
      }
      body += "}";
    }
    body += "}";
    conn.write_all(request(options, "CreateQueue", body));
    auto reply = conn.http_reply();
    expect_ok(reply, "CreateQueue");
    std::string url;
    each_string_member(reply.body, "\"QueueUrl\"", [&](std::string_view v) { url = v; });
    if (url.empty()) fail("CreateQueue: no QueueUrl in " + std::string(reply.body));
    return url;
  }

  void pipeline_round(Counters& c) {
    conn_.write_all(send_batches_);
    for (int i = 0; i < options_.depth; ++i) {
      auto reply = conn_.http_reply();
      expect_ok(reply, "SendMessageBatch");
      size_t ok = count_members(reply.body, "\"MessageId\"");
      size_t bad = count_members(reply.body, "\"SenderFault\"");
      if (ok + bad != 10) fail("SendMessageBatch: " + std::string(reply.body));
      Counters::add(c.sent, ok);
      if (bad) failed_entry(c, bad, reply.body);
    }
    conn_.write_all(receives_);
    deletes_.clear();
    entries_.clear();
    for (int i = 0; i < options_.depth; ++i) {
      auto reply = conn_.http_reply();
      expect_ok(reply, "ReceiveMessage");
      std::string body = "{\"QueueUrl\":\"" + queue_url_ + "\",\"Entries\":[";
      size_t n = 0;
      each_string_member(reply.body, "\"ReceiptHandle\"", [&](std::string_view handle) {
        body += (n ? ",{\"Id\":\"" : "{\"Id\":\"") + std::to_string(n) + "\",\"ReceiptHandle\":\"";
        body += handle;
        body += "\"}";
        ++n;
      });
      Counters::add(c.received, n);
      if (n == 0) continue;
      deletes_ += request("DeleteMessageBatch", body + "]}");
      entries_.push_back(n);
    }
    if (entries_.empty()) return;
    conn_.write_all(deletes_);
    for (size_t n : entries_) {
      auto reply = conn_.http_reply();
      expect_ok(reply, "DeleteMessageBatch");
      size_t bad = count_members(reply.body, "\"SenderFault\"");
      if (bad > n) fail("DeleteMessageBatch: " + std::string(reply.body));
      Counters::add(c.deleted, n - bad);
      if (bad) failed_entry(c, bad, reply.body);
    }
  }

  void send_one() {
    conn_.write_all(send_one_);
    auto reply = conn_.http_reply();
    expect_ok(reply, "SendMessage");
  }

 private:
  static std::string request(const Options& options, std::string_view action,
                             std::string_view body) {
    std::string r = "POST / HTTP/1.1\r\nHost: " + options.host +
                    "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.";
    r += action;
    r += "\r\n";
    if (options.moto) {
      // moto_server picks the service from the credential scope; it does not check signatures.
      r += "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sqs/aws4_request, "
           "SignedHeaders=host, Signature=00\r\n";
    }
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    r += body;
    return r;
  }
  std::string request(std::string_view action, std::string_view body) const {
    return request(options_, action, body);
  }

  static void expect_ok(const Connection::HttpReply& reply, std::string_view action) {
    if (reply.status != 200) {
      fail(std::string(action) + ": HTTP " + std::to_string(reply.status) + " " +
           std::string(reply.body));
    }
  }

  // Entries a batch refused: counted, and the first reply of them shown.
  static void failed_entry(Counters& c, size_t n, std::string_view body) {
    Counters::add(c.failed, n);
    static std::atomic<bool> shown{false};
    if (!shown.exchange(true)) {
      fprintf(stderr, "sqs-loadgen: a batch entry failed: %.*s\n", static_cast<int>(body.size()),
              body.data());
    }
  }

  const Options& options_;
  Connection conn_;
  std::string queue_url_;
  std::string send_batches_, receives_, send_one_, deletes_;
  std::vector<size_t> entries_;  // of each delete batch in deletes_
};

// A query-protocol form value: unreserved characters as they are, everything else %XX.
std::string form_encode(std::string_view text) {
  std::string out;
  for (unsigned char ch : text) {
    if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      char hex[4];
      snprintf(hex, sizeof hex, "%%%02X", ch);
      out += hex;
    }
  }
  return out;
}

// SNS Publish over the query protocol. With --vary N, the requests for the N attribute values are
// made once and written in turn.
class PublishClient {
 public:
  explicit PublishClient(const Options& options) : options_(options), conn_(options) {
    const std::string prefix =
        "Action=Publish&Version=2010-03-31&TopicArn=" + form_encode(options.topic_arn) +
        "&Message=" + std::string(options.size, 'x');
    for (int v = 0; v < std::max(options.vary, 1); ++v) {
      std::string body = prefix;
      for (size_t i = 0; i < options.message_attributes.size(); ++i) {
        const Options::MessageAttribute& a = options.message_attributes[i];
        const std::string entry = "&MessageAttributes.entry." + std::to_string(i + 1);
        body += entry + ".Name=" + form_encode(a.name) + entry + ".Value.DataType=" + a.type +
                entry + ".Value.StringValue=" +
                form_encode(options.vary ? a.value + std::to_string(v) : a.value);
      }
      requests_.push_back("POST / HTTP/1.1\r\nHost: " + options.host +
                          "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  }

  void pipeline_round(Counters& c) {
    batch_.clear();
    for (int i = 0; i < options_.depth; ++i) batch_ += next();
    conn_.write_all(batch_);
    for (int i = 0; i < options_.depth; ++i) expect_published(conn_.http_reply());
    Counters::add(c.sent, static_cast<uint64_t>(options_.depth));
  }

  void send_one() {
    conn_.write_all(next());
    expect_published(conn_.http_reply());
  }

 private:
  const std::string& next() {
    const std::string& r = requests_[turn_];
    turn_ = (turn_ + 1) % requests_.size();
    return r;
  }

  static void expect_published(const Connection::HttpReply& reply) {
    if (reply.status != 200 || reply.body.find("<MessageId>") == std::string_view::npos) {
      fail("Publish: HTTP " + std::to_string(reply.status) + " " + std::string(reply.body));
    }
  }

  const Options& options_;
  Connection conn_;
  std::vector<std::string> requests_;
  size_t turn_ = 0;
  std::string batch_;
};

class BeanstalkClient {
 public:
  explicit BeanstalkClient(const Options& options) : options_(options), conn_(options) {
    std::string job(options.size, 'x');
    put_one_ = "put 0 0 60 " + std::to_string(options.size) + "\r\n" + job + "\r\n";
    for (int i = 0; i < 10 * options.depth; ++i) {
      puts_ += put_one_;
      reserves_ += "reserve-with-timeout 0\r\n";
    }
  }

  void pipeline_round(Counters& c) {
    const int n = 10 * options_.depth;
    conn_.write_all(puts_);
    for (int i = 0; i < n; ++i) expect_inserted(conn_.line());
    Counters::add(c.sent, static_cast<uint64_t>(n));
    conn_.write_all(reserves_);
    deletes_.clear();
    uint64_t got = 0;
    for (int i = 0; i < n; ++i) {
      std::string_view line = conn_.line();
      if (line == "TIMED_OUT") continue;
      if (!line.starts_with("RESERVED ")) fail("reserve: " + std::string(line));
      std::string_view rest = line.substr(9);
      size_t space = rest.find(' ');
      size_t bytes = 0;
      if (space == std::string_view::npos ||
          std::from_chars(rest.data() + space + 1, rest.data() + rest.size(), bytes).ec !=
              std::errc{}) {
        fail("reserve: " + std::string(line));
      }
      deletes_ += "delete ";
      deletes_ += rest.substr(0, space);
      deletes_ += "\r\n";
      conn_.data(bytes);
      ++got;
    }
    Counters::add(c.received, got);
    if (got == 0) return;
    conn_.write_all(deletes_);
    uint64_t deleted = 0;
    for (uint64_t i = 0; i < got; ++i) {
      std::string_view line = conn_.line();
      if (line == "DELETED") {
        ++deleted;
      } else if (line != "NOT_FOUND") {
        fail("delete: " + std::string(line));
      }
    }
    Counters::add(c.deleted, deleted);
    Counters::add(c.failed, got - deleted);
  }

  void send_one() {
    conn_.write_all(put_one_);
    expect_inserted(conn_.line());
  }

 private:
  static void expect_inserted(std::string_view line) {
    if (!line.starts_with("INSERTED ")) fail("put: " + std::string(line));
  }

  const Options& options_;
  Connection conn_;
  std::string put_one_, puts_, reserves_, deletes_;
};

double process_cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  // Fields after the command name's ')': state is field 3; utime and stime are 14 and 15.
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

struct Snapshot {
  Clock::time_point at;
  uint64_t sent = 0, received = 0, deleted = 0, failed = 0;
  double server_cpu = 0, client_cpu = 0;
};

Snapshot snapshot(const Options& options, const std::vector<Counters>& counters) {
  Snapshot s;
  s.at = Clock::now();
  for (const auto& c : counters) {
    s.sent += c.sent.load(std::memory_order_relaxed);
    s.received += c.received.load(std::memory_order_relaxed);
    s.deleted += c.deleted.load(std::memory_order_relaxed);
    s.failed += c.failed.load(std::memory_order_relaxed);
  }
  if (options.server_pid) s.server_cpu = process_cpu_seconds(options.server_pid);
  s.client_cpu = own_cpu_seconds();
  return s;
}

void sleep_for(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

[[noreturn]] void usage() {
  fprintf(stderr,
          "usage: sqs-loadgen --server sqs|beanstalkd --address 127.0.0.1:PORT\n"
          "         [--workload pipeline|send-latency] [-c CONNECTIONS] [--depth D] [-s BYTES]\n"
          "         [-d SECONDS] [--warmup SECONDS] [--queue NAME] [--attribute NAME=VALUE]...\n"
          "         [--server-pid PID] [--moto]\n"
          "       sqs-loadgen --server sqs --address 127.0.0.1:PORT --workload "
          "publish|publish-latency\n"
          "         --topic-arn ARN [--message-attribute NAME[:Number]=VALUE]... [--vary N]\n"
          "         [-c CONNECTIONS] [--depth D] [-s BYTES] [-d SECONDS] [--warmup SECONDS]\n"
          "         [--server-pid PID]\n");
  exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  std::string server, address;
  static const option longs[] = {
      {"server", required_argument, nullptr, 'S'},
      {"address", required_argument, nullptr, 'a'},
      {"workload", required_argument, nullptr, 'w'},
      {"connections", required_argument, nullptr, 'c'},
      {"depth", required_argument, nullptr, 'p'},
      {"size", required_argument, nullptr, 's'},
      {"duration", required_argument, nullptr, 'd'},
      {"warmup", required_argument, nullptr, 'W'},
      {"queue", required_argument, nullptr, 'q'},
      {"attribute", required_argument, nullptr, 'A'},
      {"server-pid", required_argument, nullptr, 'P'},
      {"moto", no_argument, nullptr, 'M'},
      {"topic-arn", required_argument, nullptr, 'T'},
      {"message-attribute", required_argument, nullptr, 'm'},
      {"vary", required_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "c:s:d:", longs, nullptr)) != -1) {
    switch (opt) {
      case 'S':
        server = optarg;
        break;
      case 'a':
        address = optarg;
        break;
      case 'w':
        if (std::string_view(optarg) == "send-latency") {
          o.latency = true;
        } else if (std::string_view(optarg) == "publish") {
          o.publish = true;
        } else if (std::string_view(optarg) == "publish-latency") {
          o.publish = o.latency = true;
        } else if (std::string_view(optarg) != "pipeline") {
          usage();
        }
        break;
      case 'c':
        o.connections = atoi(optarg);
        break;
      case 'p':
        o.depth = atoi(optarg);
        break;
      case 's':
        o.size = strtoul(optarg, nullptr, 10);
        break;
      case 'd':
        o.duration = atof(optarg);
        break;
      case 'W':
        o.warmup = atof(optarg);
        break;
      case 'q':
        o.queue = optarg;
        break;
      case 'A': {
        std::string_view a(optarg);
        size_t eq = a.find('=');
        if (eq == std::string_view::npos) usage();
        o.attributes.emplace_back(a.substr(0, eq), a.substr(eq + 1));
        break;
      }
      case 'P':
        o.server_pid = atoi(optarg);
        break;
      case 'M':
        o.moto = true;
        break;
      case 'T':
        o.topic_arn = optarg;
        break;
      case 'm': {
        std::string_view a(optarg);
        size_t eq = a.find('=');
        if (eq == std::string_view::npos || eq == 0) usage();
        std::string name(a.substr(0, eq)), type = "String";
        if (name.ends_with(":Number")) {
          name.resize(name.size() - 7);
          type = "Number";
        }
        if (name.empty()) usage();
        o.message_attributes.push_back({name, type, std::string(a.substr(eq + 1))});
        break;
      }
      case 'V':
        o.vary = atoi(optarg);
        break;
      default:
        usage();
    }
  }
  if (server == "beanstalkd") {
    o.beanstalkd = true;
  } else if (server != "sqs") {
    usage();
  }
  if (o.connections < 1 || o.depth < 1 || o.size < 1 || o.duration <= 0 || o.warmup < 0) usage();
  if (o.publish != !o.topic_arn.empty() || o.vary < 0) usage();
  if (o.publish && o.beanstalkd) fail("publish is an SNS workload: --server sqs");
  // Names and values go into JSON and the job as they are: keep them plain.
  auto plain = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char ch) { return ch > ' ' && ch != '"' && ch != '\\'; });
  };
  if (!plain(o.queue)) usage();
  for (const auto& [name, value] : o.attributes) {
    if (!plain(name) || !plain(value)) usage();
  }
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) usage();
  o.address.sin_family = AF_INET;
  o.address.sin_port = htons(static_cast<uint16_t>(atoi(address.c_str() + colon + 1)));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &o.address.sin_addr) != 1) usage();
  if ((ntohl(o.address.sin_addr.s_addr) >> 24) != 127) fail("the server must be on loopback");
  o.host = address;
  return o;
}

template <typename Client>
std::vector<std::unique_ptr<Client>> connect_all(const Options& o, int n,
                                                 const std::string& queue_url) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<Client, SqsClient>) {
      clients.push_back(std::make_unique<Client>(o, queue_url));
    } else if constexpr (std::is_same_v<Client, PublishClient>) {
      clients.push_back(std::make_unique<Client>(o));
    } else {
      clients.push_back(std::make_unique<Client>(o));
    }
  }
  return clients;
}

template <typename Client>
int run(const Options& o) {
  std::string queue_url;
  if constexpr (std::is_same_v<Client, SqsClient>) queue_url = SqsClient::create_queue(o);
  const char* server = o.beanstalkd ? "beanstalkd" : o.publish ? "sns" : "sqs";

  if (o.latency) {
    auto clients = connect_all<Client>(o, 1, queue_url);
    std::vector<int64_t> ns;
    ns.reserve(1 << 20);
    std::thread t([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto start = Clock::now();
        clients[0]->send_one();
        auto took = Clock::now() - start;
        if (measuring.load(std::memory_order_relaxed)) ns.push_back(took.count());
      }
    });
    sleep_for(o.warmup);
    measuring = true;
    sleep_for(o.duration);
    measuring = false;
    stop = true;
    t.join();
    if (ns.empty()) fail("no sample");
    std::sort(ns.begin(), ns.end());
    auto pct = [&](double p) {
      size_t rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(ns.size())));
      return static_cast<double>(ns[std::clamp<size_t>(rank, 1, ns.size()) - 1]) / 1000;
    };
    double mean = 0;
    for (int64_t v : ns) mean += static_cast<double>(v);
    mean /= static_cast<double>(ns.size()) * 1000;
    printf(
        "{\"server\":\"%s\",\"workload\":\"%s\",\"size\":%zu,\"samples\":%zu,"
        "\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p99.9_us\":%.2f,\"max_us\":%.2f}\n",
        server, o.publish ? "publish-latency" : "send-latency", o.size, ns.size(), mean, pct(50),
        pct(99), pct(99.9), pct(100));
    return 0;
  }

  auto clients = connect_all<Client>(o, o.connections, queue_url);
  std::vector<Counters> counters(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      while (!stop.load(std::memory_order_relaxed)) clients[i]->pipeline_round(counters[i]);
    });
  }
  sleep_for(o.warmup);
  Snapshot a = snapshot(o, counters);
  sleep_for(o.duration);
  Snapshot b = snapshot(o, counters);
  stop = true;
  for (auto& t : threads) t.join();

  double seconds = std::chrono::duration<double>(b.at - a.at).count();
  auto rate = [&](uint64_t x, uint64_t y) { return static_cast<double>(y - x) / seconds; };
  if (o.publish) {
    // Every publish of the run, warm-up and the rounds finished after the window included, so
    // that the deliveries the queues hold can be set against it.
    Snapshot end = snapshot(o, counters);
    printf(
        "{\"server\":\"sns\",\"workload\":\"publish\",\"connections\":%d,\"depth\":%d,"
        "\"size\":%zu,\"seconds\":%.3f,\"published_per_s\":%.0f,\"published_total\":%llu,"
        "\"server_cpu_share\":%.4f,\"client_cpu_share\":%.4f}\n",
        o.connections, o.depth, o.size, seconds, rate(a.sent, b.sent),
        static_cast<unsigned long long>(end.sent),
        o.server_pid ? (b.server_cpu - a.server_cpu) / seconds : 0.0,
        (b.client_cpu - a.client_cpu) / seconds);
    return 0;
  }
  printf(
      "{\"server\":\"%s\",\"workload\":\"pipeline\",\"connections\":%d,\"depth\":%d,"
      "\"size\":%zu,\"seconds\":%.3f,\"sent_per_s\":%.0f,\"received_per_s\":%.0f,"
      "\"deleted_per_s\":%.0f,\"failed_entries\":%llu,\"server_cpu_share\":%.4f,"
      "\"client_cpu_share\":%.4f}\n",
      server, o.connections, o.depth, o.size, seconds, rate(a.sent, b.sent),
      rate(a.received, b.received), rate(a.deleted, b.deleted),
      static_cast<unsigned long long>(b.failed - a.failed),
      o.server_pid ? (b.server_cpu - a.server_cpu) / seconds : 0.0,
      (b.client_cpu - a.client_cpu) / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.beanstalkd) return run<BeanstalkClient>(o);
  return o.publish ? run<PublishClient>(o) : run<SqsClient>(o);
}
