// The SQS API of sluice-dataplane (`job: queues`) over real TCP on loopback: raw HTTP/1.1 written
// by the test in both wire protocols (AWS JSON 1.0 and the query protocol), long polling,
// pipelining, keep-alive, 100-continue, size limits, malformed and abandoned requests, SigV4
// authentication, protocol errors and shutdown with connections open.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sigv4_signer.h"
#include "sqs_server.h"

namespace sluice::e2e {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kReplyTimeout = 30s;
constexpr size_t kMaxMessageBytes = 1 << 20;  // SQS's largest message body

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string md5_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_md5(), nullptr);
  return hex(out, n);
}

// --- HTTP over a raw socket ------------------------------------------------------------------

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (lower(n) == lower(name)) return v;
    }
    return std::nullopt;
  }
  bool closes() const { return lower(header("Connection").value_or("")) == "close"; }
  Json json() const { return Json::parse(body, nullptr, false); }
};

// The text of the first <tag> element of an XML document; nullopt when there is none.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const size_t start = xml.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(xml.substr(start + open.size(), end - start - open.size()));
}

std::vector<std::string> xml_texts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  while (auto text = xml_text(xml, tag)) {
    out.push_back(*text);
    xml.remove_prefix(xml.find("</" + std::string(tag) + ">") + tag.size() + 3);
  }
  return out;
}

class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string err = strerror(errno);
      close(fd_);
      throw std::runtime_error("connect to port " + std::to_string(port) + ": " + err);
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes all of `data`; false once the peer has closed or reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next complete response (a 1xx one included), or nullopt when the connection ended or
  // `timeout` passed first.
  std::optional<Response> read(milliseconds timeout = kReplyTimeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto r = parse()) return r;
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Sends `request` and reads its reply; a test failure and an empty Response when none comes.
  Response exchange(const std::string& request) {
    EXPECT_TRUE(send(request));
    auto r = read();
    if (!r) {
      ADD_FAILURE() << "no reply to:\n" << request;
      return Response{};
    }
    return *r;
  }

  // Whether anything (bytes, end of stream or a reset) arrives within `timeout`.
  bool readable_within(milliseconds timeout) {
    if (!buf_.empty() || ended_) return true;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  // True when the server ends the connection (end of stream or a reset) within `timeout`, with no
  // further bytes before that.
  bool closed_by_server(milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (buf_.empty() && fill(deadline)) {
    }
    return ended_ && buf_.empty();
  }

  // Closes with SO_LINGER 0: the kernel sends a reset instead of a FIN.
  void reset() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd_);
    fd_ = -1;
  }

 private:
  // Appends what arrives before `deadline`; false on timeout or once the stream has ended.
  bool fill(Clock::time_point deadline) {
    if (ended_) return false;
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ended_ = true;
        return false;
      }
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }

  // One response from the front of buf_, if it is all there.
  std::optional<Response> parse() {
    const size_t head_end = buf_.find("\r\n\r\n");
    if (head_end == std::string::npos) return std::nullopt;
    Response r;
    std::string_view head(buf_.data(), head_end);
    const size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) {
      throw std::runtime_error("not an HTTP response: " + std::string(status_line));
    }
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    while (!rest.empty()) {
      const size_t eol = rest.find("\r\n");
      const std::string_view line = rest.substr(0, eol);
      const size_t colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
    }
    size_t body_start = head_end + 4;
    if (r.status >= 100 && r.status < 200) {
      buf_.erase(0, body_start);
      return r;
    }
    // The server frames every reply with Content-Length.
    const auto length = r.header("Content-Length");
    if (!length) throw std::runtime_error("a reply without Content-Length: " + std::string(head));
    const size_t n = std::stoull(*length);
    if (buf_.size() < body_start + n) return std::nullopt;
    r.body = buf_.substr(body_start, n);
    buf_.erase(0, body_start + n);
    return r;
  }

  int fd_ = -1;
  std::string buf_;
  bool ended_ = false;
};

// --- Requests in both protocols --------------------------------------------------------------

std::string json_request(const std::string& host, std::string_view action, const std::string& body,
                         const std::string& extra_headers = "") {
  return "POST / HTTP/1.1\r\nHost: " + host +
         "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS." +
         std::string(action) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& params) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    for (const std::string* s : {&name, &value}) {
      for (unsigned char c : *s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          out += static_cast<char>(c);
        } else {
          out += '%';
          out += kDigits[c >> 4];
          out += kDigits[c & 15];
        }
      }
      if (s == &name) out += '=';
    }
  }
  return out;
}

std::string query_request(const std::string& host,
                          const std::vector<std::pair<std::string, std::string>>& params) {
  const std::string body = form_encode(params);
  return "POST / HTTP/1.1\r\nHost: " + host +
         "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The error code a client reads from a JSON error reply: botocore and the JavaScript SDK take the
// x-amzn-query-error header's code; the __type's shape name must name the same error.
void expect_json_error(const Response& r, int status, std::string_view type,
                       std::string_view query_code) {
  EXPECT_EQ(r.status, status) << r.body;
  const Json body = r.json();
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("__type", ""), "com.amazonaws.sqs#" + std::string(type)) << r.body;
  EXPECT_TRUE(body.contains("message")) << r.body;
  EXPECT_EQ(r.header("x-amzn-query-error").value_or(""), std::string(query_code) + ";Sender")
      << r.body;
}

void expect_query_error(const Response& r, int status, std::string_view code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.body.find("<ErrorResponse"), std::string::npos) << r.body;
  EXPECT_EQ(xml_text(r.body, "Code").value_or(""), code) << r.body;
  EXPECT_EQ(xml_text(r.body, "Type").value_or(""), "Sender") << r.body;
}

// --- SigV4 (the API's signer, checked against AWS's examples in sigv4_test) -------------------

struct Credentials {
  std::string access_key;
  std::string secret;
};

// A POST to "/" carrying `headers` (Host and X-Amz-Date are added) and `body`, signed over all of
// its headers with `credentials` at the current time.
std::string signed_request(const std::string& host,
                           std::vector<std::pair<std::string, std::string>> headers,
                           const std::string& body, const Credentials& credentials) {
  headers.emplace_back("Host", host);
  headers.emplace_back("X-Amz-Date", api::sigv4::amz_date(std::time(nullptr)));
  const std::string authorization = api::sigv4::sigv4_authorization(
      {.method = "POST", .path = "/", .query = "", .headers = headers, .body = body},
      {.access_key_id = credentials.access_key,
       .secret_access_key = credentials.secret,
       .region = SqsServer::kRegion});
  std::string request = "POST / HTTP/1.1\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  return request + "Authorization: " + authorization +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string signed_json_request(const std::string& host, std::string_view action,
                                const std::string& body, const Credentials& credentials) {
  return signed_request(host,
                        {{"Content-Type", "application/x-amz-json-1.0"},
                         {"X-Amz-Target", "AmazonSQS." + std::string(action)}},
                        body, credentials);
}

std::string signed_query_request(const std::string& host,
                                 const std::vector<std::pair<std::string, std::string>>& params,
                                 const Credentials& credentials) {
  return signed_request(host, {{"Content-Type", "application/x-www-form-urlencoded"}},
                        form_encode(params), credentials);
}

// --- The fixture -------------------------------------------------------------------------------

class SqsApiE2eTest : public ::testing::Test {
 protected:
  virtual SqsServerOptions server_options() const { return {}; }

  void SetUp() override { server_ = std::make_unique<SqsServer>(server_options()); }
  void TearDown() override { server_.reset(); }

  uint16_t port() const { return server_->port(); }
  std::string host() const { return server_->authority(); }

  // One request on a fresh connection; a missing reply fails the test and gives status 0.
  Response call(const std::string& request, milliseconds timeout = kReplyTimeout) {
    Connection c(port());
    EXPECT_TRUE(c.send(request));
    auto r = c.read(timeout);
    if (!r) {
      ADD_FAILURE() << "no reply to:\n" << request.substr(0, 300);
      return {};
    }
    return *r;
  }

  Response json(std::string_view action, const Json& body) {
    return call(json_request(host(), action, body.dump()));
  }

  std::string create_queue(const std::string& name) {
    const Response r = json("CreateQueue", {{"QueueName", name}});
    EXPECT_EQ(r.status, 200) << r.body;
    const Json j = r.json();
    return j.is_object() ? j.value("QueueUrl", "") : "";
  }

  void send_batches(const std::string& url, const std::vector<std::string>& bodies) {
    Connection c(port());
    for (size_t at = 0; at < bodies.size(); at += 10) {
      Json entries = Json::array();
      for (size_t i = at; i < std::min(at + 10, bodies.size()); ++i) {
        entries.push_back({{"Id", "m" + std::to_string(i)}, {"MessageBody", bodies[i]}});
      }
      ASSERT_TRUE(c.send(json_request(host(), "SendMessageBatch",
                                      Json{{"QueueUrl", url}, {"Entries", entries}}.dump())));
      auto r = c.read();
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      ASSERT_EQ(r->json()["Successful"].size(), entries.size()) << r->body;
    }
  }

  // The messages of a JSON ReceiveMessage reply (none when it has no Messages).
  static Json messages_of(const Response& r) {
    const Json j = r.json();
    if (!j.is_object() || !j.contains("Messages")) return Json::array();
    return j["Messages"];
  }

  // Receives until `expected` bodies came back or a long poll of 1 s finds nothing more, with the
  // messages kept invisible; returns how often each body was received.
  std::map<std::string, int> drain(const std::string& url, size_t expected) {
    std::map<std::string, int> seen;
    size_t received = 0;
    Connection c(port());
    for (size_t round = 0; round < expected / 10 + 20; ++round) {
      const int wait = received >= expected ? 1 : 0;
      EXPECT_TRUE(c.send(json_request(host(), "ReceiveMessage",
                                      Json{{"QueueUrl", url},
                                           {"MaxNumberOfMessages", 10},
                                           {"VisibilityTimeout", 600},
                                           {"WaitTimeSeconds", wait}}
                                          .dump())));
      auto r = c.read();
      if (!r) {
        ADD_FAILURE() << "no reply to ReceiveMessage";
        break;
      }
      EXPECT_EQ(r->status, 200) << r->body;
      const Json messages = messages_of(*r);
      for (const auto& m : messages) ++seen[m.value("Body", "")];
      received += messages.size();
      if (wait > 0 && messages.empty()) break;
    }
    return seen;
  }

  std::unique_ptr<SqsServer> server_;
};

// --- Long polling ------------------------------------------------------------------------------

TEST_F(SqsApiE2eTest, LongPollIsAnsweredByAMessageSentMeanwhile) {
  const std::string url = create_queue("long-poll");
  Connection poller(port());
  ASSERT_TRUE(poller.send(json_request(
      host(), "ReceiveMessage",
      Json{{"QueueUrl", url}, {"WaitTimeSeconds", 5}, {"MaxNumberOfMessages", 1}}.dump())));
  // The queue is empty: nothing may come back before a message is sent.
  EXPECT_FALSE(poller.readable_within(500ms));

  const Response sent = json("SendMessage", {{"QueueUrl", url}, {"MessageBody", "wake up"}});
  ASSERT_EQ(sent.status, 200) << sent.body;

  auto r = poller.read(5s + kReplyTimeout);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const Json messages = messages_of(*r);
  ASSERT_EQ(messages.size(), 1u) << r->body;
  EXPECT_EQ(messages[0].value("Body", ""), "wake up");
  EXPECT_EQ(messages[0].value("MD5OfBody", ""), md5_hex("wake up"));
}

TEST_F(SqsApiE2eTest, QueryLongPollIsAnsweredByAMessageSentMeanwhile) {
  const std::string url = create_queue("long-poll-query");
  Connection poller(port());
  ASSERT_TRUE(poller.send(query_request(host(), {{"Action", "ReceiveMessage"},
                                                 {"Version", "2012-11-05"},
                                                 {"QueueUrl", url},
                                                 {"WaitTimeSeconds", "5"}})));
  EXPECT_FALSE(poller.readable_within(500ms));

  const Response sent = call(query_request(
      host(), {{"Action", "SendMessage"}, {"QueueUrl", url}, {"MessageBody", "wake up, query"}}));
  ASSERT_EQ(sent.status, 200) << sent.body;

  auto r = poller.read(5s + kReplyTimeout);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(xml_texts(r->body, "Body"), std::vector<std::string>{"wake up, query"}) << r->body;
}

TEST_F(SqsApiE2eTest, LongPollOnAnEmptyQueueEndsEmpty) {
  const std::string url = create_queue("long-poll-empty");
  Connection poller(port());
  ASSERT_TRUE(poller.send(json_request(host(), "ReceiveMessage",
                                       Json{{"QueueUrl", url}, {"WaitTimeSeconds", 1}}.dump())));
  auto r = poller.read(1s + kReplyTimeout);
  ASSERT_TRUE(r) << "the long poll was never answered";
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(messages_of(*r).empty()) << r->body;
  // The connection stays usable.
  ASSERT_TRUE(poller.send(
      json_request(host(), "GetQueueUrl", Json{{"QueueName", "long-poll-empty"}}.dump())));
  auto again = poller.read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->json().value("QueueUrl", ""), url) << again->body;
}

TEST_F(SqsApiE2eTest, LongPollsOfClosedConnectionsTakeNoMessage) {
  const std::string url = create_queue("gone-pollers");
  std::vector<std::unique_ptr<Connection>> pollers;
  for (int i = 0; i < 4; ++i) {
    pollers.push_back(std::make_unique<Connection>(port()));
    ASSERT_TRUE(pollers.back()->send(json_request(
        host(), "ReceiveMessage", Json{{"QueueUrl", url}, {"WaitTimeSeconds", 20}}.dump())));
  }
  EXPECT_FALSE(pollers.back()->readable_within(300ms));
  // Two leave with a FIN, two with a reset.
  for (size_t i = 0; i < pollers.size(); ++i) {
    if (i % 2 == 0) pollers[i]->reset();
  }
  pollers.clear();
  EXPECT_EQ(json("GetQueueUrl", {{"QueueName", "gone-pollers"}}).status, 200);

  const Response sent = json("SendMessage", {{"QueueUrl", url}, {"MessageBody", "for the living"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  // Handed to a poller that is gone, the message would stay invisible for the visibility timeout.
  const Response r = call(json_request(host(), "ReceiveMessage",
                                       Json{{"QueueUrl", url}, {"WaitTimeSeconds", 5}}.dump()),
                          5s + kReplyTimeout);
  EXPECT_EQ(r.status, 200) << r.body;
  const Json messages = messages_of(r);
  ASSERT_EQ(messages.size(), 1u) << r.body;
  EXPECT_EQ(messages[0].value("Body", ""), "for the living");
}

TEST_F(SqsApiE2eTest, HundredConcurrentLongPollsShareHundredMessages) {
  constexpr int kPollers = 100;
  const std::string url = create_queue("fan-out");
  std::vector<std::unique_ptr<Connection>> pollers;
  for (int i = 0; i < kPollers; ++i) {
    pollers.push_back(std::make_unique<Connection>(port()));
    ASSERT_TRUE(pollers.back()->send(json_request(host(), "ReceiveMessage",
                                                  Json{{"QueueUrl", url},
                                                       {"WaitTimeSeconds", 10},
                                                       {"MaxNumberOfMessages", 1},
                                                       {"VisibilityTimeout", 600}}
                                                      .dump())));
  }
  int early = 0;
  for (auto& p : pollers) early += p->readable_within(0ms) ? 1 : 0;
  EXPECT_EQ(early, 0) << "long polls on an empty queue answered before any message was sent";

  std::vector<std::string> bodies;
  Connection sender(port());
  for (int i = 0; i < kPollers; ++i) {
    bodies.push_back("fan-out-" + std::to_string(i));
    ASSERT_TRUE(sender.send(json_request(
        host(), "SendMessage", Json{{"QueueUrl", url}, {"MessageBody", bodies.back()}}.dump())));
    auto r = sender.read();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  std::map<std::string, int> seen;
  int answered = 0, empty = 0;
  const auto deadline = Clock::now() + 10s + kReplyTimeout;
  for (auto& p : pollers) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    auto r = p->read(std::max(left, milliseconds(1)));
    if (!r) continue;
    ++answered;
    EXPECT_EQ(r->status, 200) << r->body;
    const Json messages = messages_of(*r);
    EXPECT_LE(messages.size(), 1u) << r->body;
    if (messages.empty()) ++empty;
    for (const auto& m : messages) ++seen[m.value("Body", "")];
  }
  EXPECT_EQ(answered, kPollers);
  // A poller may come back empty only if its message went to another; whatever no poller got
  // must still be in the queue.
  for (const auto& [body, n] : drain(url, static_cast<size_t>(empty))) seen[body] += n;
  for (const auto& b : bodies) EXPECT_EQ(seen[b], 1) << b;
  EXPECT_EQ(seen.size(), bodies.size());
}

// --- Connection handling -------------------------------------------------------------------------

TEST_F(SqsApiE2eTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::string url = create_queue("pipeline");
  const std::string idle_url = create_queue("pipeline-idle");
  Connection c(port());
  // A long poll first: the replies behind it must wait for it.
  std::string batch = json_request(host(), "ReceiveMessage",
                                   Json{{"QueueUrl", idle_url}, {"WaitTimeSeconds", 1}}.dump());
  batch +=
      json_request(host(), "SendMessage", Json{{"QueueUrl", url}, {"MessageBody", "p1"}}.dump());
  batch +=
      query_request(host(), {{"Action", "SendMessage"}, {"QueueUrl", url}, {"MessageBody", "p2"}});
  batch +=
      json_request(host(), "SendMessage", Json{{"QueueUrl", url}, {"MessageBody", "p3"}}.dump());
  batch += json_request(host(), "GetQueueUrl", Json{{"QueueName", "pipeline"}}.dump());
  batch += query_request(host(), {{"Action", "ListQueues"}, {"QueueNamePrefix", "pipeline"}});
  batch += json_request(host(), "ReceiveMessage",
                        Json{{"QueueUrl", url}, {"MaxNumberOfMessages", 10}}.dump());
  ASSERT_TRUE(c.send(batch));

  std::vector<Response> replies;
  for (int i = 0; i < 7; ++i) {
    auto r = c.read(1s + kReplyTimeout);
    ASSERT_TRUE(r) << "reply " << i << " missing";
    EXPECT_EQ(r->status, 200) << "reply " << i << ": " << r->body;
    replies.push_back(*r);
  }
  EXPECT_TRUE(messages_of(replies[0]).empty()) << replies[0].body;
  EXPECT_EQ(replies[1].json().value("MD5OfMessageBody", ""), md5_hex("p1")) << replies[1].body;
  EXPECT_EQ(xml_text(replies[2].body, "MD5OfMessageBody").value_or(""), md5_hex("p2"))
      << replies[2].body;
  EXPECT_EQ(replies[3].json().value("MD5OfMessageBody", ""), md5_hex("p3")) << replies[3].body;
  EXPECT_EQ(replies[4].json().value("QueueUrl", ""), url) << replies[4].body;
  EXPECT_NE(replies[5].body.find("<ListQueuesResponse"), std::string::npos) << replies[5].body;
  const std::vector<std::string> listed = xml_texts(replies[5].body, "QueueUrl");
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()),
            (std::set<std::string>{url, idle_url}))
      << replies[5].body;
  std::set<std::string> received;
  for (const auto& m : messages_of(replies[6])) received.insert(m.value("Body", ""));
  // One receive may return fewer than all; the rest are still queued.
  for (const auto& [body, n] : drain(url, 3 - received.size())) {
    EXPECT_EQ(n, 1) << body;
    received.insert(body);
  }
  EXPECT_EQ(received, (std::set<std::string>{"p1", "p2", "p3"}));
}

TEST_F(SqsApiE2eTest, KeepAliveServesManyRequestsOnOneConnection) {
  const std::string url = create_queue("keep-alive");
  Connection c(port());
  for (int i = 0; i < 20; ++i) {
    const std::string body = "keep-" + std::to_string(i);
    ASSERT_TRUE(c.send(
        i % 2 == 0
            ? json_request(host(), "SendMessage",
                           Json{{"QueueUrl", url}, {"MessageBody", body}}.dump())
            : query_request(
                  host(), {{"Action", "SendMessage"}, {"QueueUrl", url}, {"MessageBody", body}})));
    auto r = c.read();
    ASSERT_TRUE(r) << "request " << i << " on the kept connection got no reply";
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_FALSE(r->closes());
  }
  // Connection: close is honoured: the reply says so and the server ends the connection.
  ASSERT_TRUE(c.send(json_request(host(), "GetQueueUrl", Json{{"QueueName", "keep-alive"}}.dump(),
                                  "Connection: close\r\n")));
  auto last = c.read();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200) << last->body;
  EXPECT_TRUE(last->closes());
  EXPECT_TRUE(c.closed_by_server());

  // HTTP/1.0 ends after one reply unless both sides say keep-alive.
  const std::string body = Json{{"QueueName", "keep-alive"}}.dump();
  const std::string http10 =
      "POST / HTTP/1.0\r\nHost: " + host() +
      "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.GetQueueUrl\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n";
  Connection old(port());
  ASSERT_TRUE(old.send(http10 + "\r\n" + body));
  auto r = old.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(old.closed_by_server());

  Connection old_kept(port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(old_kept.send(http10 + "Connection: keep-alive\r\n\r\n" + body));
    auto kept = old_kept.read();
    ASSERT_TRUE(kept) << "HTTP/1.0 keep-alive request " << i << " got no reply";
    EXPECT_EQ(kept->status, 200) << kept->body;
    // An HTTP/1.0 client keeps the connection only when the reply says so.
    EXPECT_EQ(lower(kept->header("Connection").value_or("")), "keep-alive");
  }
  EXPECT_EQ(drain(url, 20).size(), 20u);
}

TEST_F(SqsApiE2eTest, ExpectContinueGetsContinueThenTheReply) {
  const std::string url = create_queue("continue");
  const std::string body = Json{{"QueueUrl", url}, {"MessageBody", "after continue"}}.dump();
  Connection c(port());
  ASSERT_TRUE(
      c.send("POST / HTTP/1.1\r\nHost: " + host() +
             "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.SendMessage"
             "\r\nExpect: 100-continue\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  auto interim = c.read();
  ASSERT_TRUE(interim) << "no 100 Continue";
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send(body));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->json().value("MD5OfMessageBody", ""), md5_hex("after continue")) << r->body;

  // The same connection goes on serving.
  ASSERT_TRUE(c.send(json_request(host(), "ReceiveMessage", Json{{"QueueUrl", url}}.dump())));
  auto received = c.read();
  ASSERT_TRUE(received);
  const Json messages = messages_of(*received);
  ASSERT_EQ(messages.size(), 1u) << received->body;
  EXPECT_EQ(messages[0].value("Body", ""), "after continue");
}

// --- Size limits -------------------------------------------------------------------------------

class SqsApiLimitsE2eTest : public SqsApiE2eTest {
 protected:
  static constexpr size_t kMaxRequestBytes = 2 << 20;
  SqsServerOptions server_options() const override {
    SqsServerOptions o;
    o.max_request_bytes = kMaxRequestBytes;
    return o;
  }
};

class SqsApiTimeoutsE2eTest : public SqsApiE2eTest {
 protected:
  SqsServerOptions server_options() const override {
    SqsServerOptions o;
    o.request_timeout_s = 1;
    o.idle_timeout_s = 2;
    return o;
  }
};

TEST_F(SqsApiTimeoutsE2eTest, TrickledRequestsAndIdleConnectionsAreClosedButLongPollsAreNot) {
  const std::string url = create_queue("timeouts");
  // Half a request, then nothing: answered 408 and closed once the request timeout passes.
  Connection trickle(port());
  ASSERT_TRUE(trickle.send("POST / HTTP/1.1\r\nHost: " + host() + "\r\nContent-Len"));
  auto r = trickle.read();
  ASSERT_TRUE(r) << "no reply to a request that never finished";
  EXPECT_EQ(r->status, 408) << r->body;
  EXPECT_TRUE(trickle.closed_by_server());

  // A kept-alive connection that goes quiet is closed after the idle timeout.
  Connection idle(port());
  ASSERT_TRUE(
      idle.send(json_request(host(), "GetQueueUrl", Json{{"QueueName", "timeouts"}}.dump())));
  ASSERT_TRUE(idle.read());
  EXPECT_TRUE(idle.closed_by_server());

  // A long poll longer than both timeouts is answered, not cut off.
  Connection poller(port());
  ASSERT_TRUE(poller.send(json_request(host(), "ReceiveMessage",
                                       Json{{"QueueUrl", url}, {"WaitTimeSeconds", 4}}.dump())));
  auto polled = poller.read();
  ASSERT_TRUE(polled) << "the long poll was cut off";
  EXPECT_EQ(polled->status, 200) << polled->body;
}

TEST_F(SqsApiLimitsE2eTest, BodyOverTheRequestLimitIsRefusedWith413) {
  const std::string url = create_queue("limits");
  Connection c(port());
  ASSERT_TRUE(
      c.send("POST / HTTP/1.1\r\nHost: " + host() +
             "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.SendMessage"
             "\r\nContent-Length: " +
             std::to_string(kMaxRequestBytes + 1) + "\r\n\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r) << "no reply to an oversized Content-Length";
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_TRUE(c.closed_by_server());

  // A chunked body that grows past the limit, sent while the server reads it.
  Connection chunked(port());
  ASSERT_TRUE(chunked.send("POST / HTTP/1.1\r\nHost: " + host() +
                           "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: "
                           "AmazonSQS.SendMessage\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  for (size_t sent = 0; sent <= kMaxRequestBytes && !chunked.readable_within(0ms);
       sent += 0x10000) {
    if (!chunked.send(chunk)) break;
  }
  auto refused = chunked.read();
  ASSERT_TRUE(refused) << "no reply to a chunked body over the limit";
  EXPECT_EQ(refused->status, 413) << refused->body;
  EXPECT_TRUE(chunked.closed_by_server());

  // Still serving.
  EXPECT_EQ(json("GetQueueUrl", {{"QueueName", "limits"}}).json().value("QueueUrl", ""), url);
}

TEST_F(SqsApiLimitsE2eTest, MessageOverOneMebibyteIsInvalidInBothProtocols) {
  const std::string url = create_queue("big");
  // Exactly the largest message: accepted and received whole.
  const std::string largest(kMaxMessageBytes, 'a');
  const Response ok = json("SendMessage", {{"QueueUrl", url}, {"MessageBody", largest}});
  EXPECT_EQ(ok.status, 200) << ok.body.substr(0, 500);
  const Response got = json("ReceiveMessage", {{"QueueUrl", url}});
  const Json messages = messages_of(got);
  ASSERT_EQ(messages.size(), 1u) << got.body.substr(0, 500);
  EXPECT_TRUE(messages[0].value("Body", "") == largest) << "the largest message came back changed";

  const std::string too_big(kMaxMessageBytes + 1, 'a');
  expect_json_error(json("SendMessage", {{"QueueUrl", url}, {"MessageBody", too_big}}), 400,
                    "InvalidParameterValue", "InvalidParameterValue");
  expect_query_error(
      call(query_request(host(),
                         {{"Action", "SendMessage"}, {"QueueUrl", url}, {"MessageBody", too_big}})),
      400, "InvalidParameterValue");

  // A request body of exactly max_request_bytes is within the limit: the message in it is what
  // is refused.
  const std::string frame = Json{{"QueueUrl", url}, {"MessageBody", ""}}.dump();
  const std::string filler(kMaxRequestBytes - frame.size(), 'b');
  const std::string exact = Json{{"QueueUrl", url}, {"MessageBody", filler}}.dump();
  ASSERT_EQ(exact.size(), kMaxRequestBytes);
  expect_json_error(call(json_request(host(), "SendMessage", exact)), 400, "InvalidParameterValue",
                    "InvalidParameterValue");
  // Nothing refused was queued.
  EXPECT_TRUE(drain(url, 0).empty());
}

// --- Malformed and abandoned requests ------------------------------------------------------------

TEST_F(SqsApiE2eTest, GarbageAndAbandonedRequestsLoseNoMessage) {
  constexpr int kMessages = 200;
  const std::string url = create_queue("survivor");
  std::vector<std::string> bodies;
  for (int i = 0; i < kMessages; ++i) bodies.push_back("survivor-" + std::to_string(i));
  send_batches(url, bodies);

  auto refused_and_closed = [&](const std::string& request, std::set<int> statuses,
                                const std::string& what) {
    Connection c(port());
    c.send(request);
    auto r = c.read();
    ASSERT_TRUE(r) << what << ": no reply";
    EXPECT_TRUE(statuses.count(r->status)) << what << ": " << r->status << " " << r->body;
    EXPECT_TRUE(c.closed_by_server()) << what << ": connection left open";
    // The server goes on serving.
    EXPECT_EQ(json("GetQueueUrl", {{"QueueName", "survivor"}}).status, 200) << what;
  };

  std::mt19937 rng(20261121);
  std::string noise(2048, '\0');
  for (char& ch : noise) ch = static_cast<char>(rng() & 0xff);
  noise[0] = '\x01';  // never a method's first character
  refused_and_closed(noise + "\r\n\r\n", {400}, "random bytes");
  refused_and_closed("POST / HTTP/1.1\r\nHost: " + host() +
                         "\r\nContent-Type: application/x-amz-json-1.0\r\n"
                         "X-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 2\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                     {400}, "Content-Length with Transfer-Encoding");
  refused_and_closed("POST / HTTP/1.1\nHost: " + host() +
                         "\r\nContent-Type: application/x-amz-json-1.0\r\n"
                         "X-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 2\r\n\r\n{}",
                     {400}, "bare LF after the request line");
  refused_and_closed("POST / HTTP/1.1\r\nHost: " + host() + "\r\nX-Padding: " +
                         std::string(20000, 'p') + "\r\nContent-Length: 2\r\n\r\n{}",
                     {431}, "huge header");

  // Requests left half-sent on 50 connections, then reset.
  std::vector<std::unique_ptr<Connection>> abandoned;
  for (int i = 0; i < 50; ++i) {
    const std::string request = json_request(
        host(), "SendMessage",
        Json{{"QueueUrl", url}, {"MessageBody", "abandoned-" + std::to_string(i)}}.dump());
    const size_t head = request.find("\r\n\r\n") + 4;
    const size_t cut = i % 2 == 0 ? head : head + (request.size() - head) / 2;
    abandoned.push_back(std::make_unique<Connection>(port()));
    ASSERT_TRUE(abandoned.back()->send(std::string_view(request).substr(0, cut)));
  }
  // The server serves others while they hang.
  EXPECT_EQ(json("GetQueueUrl", {{"QueueName", "survivor"}}).status, 200);
  for (auto& c : abandoned) EXPECT_FALSE(c->readable_within(0ms));
  for (auto& c : abandoned) c->reset();
  abandoned.clear();

  ASSERT_TRUE(server_->process().running()) << server_->process().output();
  const std::map<std::string, int> seen = drain(url, kMessages);
  for (const auto& b : bodies) EXPECT_EQ(seen.count(b) ? seen.at(b) : 0, 1) << b;
  // Nothing of the abandoned sends was queued.
  EXPECT_EQ(seen.size(), bodies.size());
  EXPECT_TRUE(server_->process().running()) << server_->process().output();
}

// --- Protocol errors -----------------------------------------------------------------------------

TEST_F(SqsApiE2eTest, ProtocolErrorsAreTheDocumentedOnes) {
  Connection c(port());
  // Unknown action in both protocols.
  expect_json_error(c.exchange(json_request(host(), "Frobnicate", "{}")), 400, "InvalidAction",
                    "InvalidAction");
  expect_query_error(c.exchange(query_request(host(), {{"Action", "Frobnicate"}})), 400,
                     "InvalidAction");
  // A JSON request without X-Amz-Target.
  expect_json_error(c.exchange("POST / HTTP/1.1\r\nHost: " + host() +
                               "\r\nContent-Type: application/x-amz-json-1.0\r\n"
                               "Content-Length: 2\r\n\r\n{}"),
                    400, "InvalidAction", "InvalidAction");
  // A target of another service.
  expect_json_error(c.exchange("POST / HTTP/1.1\r\nHost: " + host() +
                               "\r\nContent-Type: application/x-amz-json-1.0\r\n"
                               "X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
                               "Content-Length: 2\r\n\r\n{}"),
                    400, "InvalidAction", "InvalidAction");
  // A JSON body that is not an object.
  expect_json_error(c.exchange(json_request(host(), "ListQueues", "[1,2,3]")), 400,
                    "SerializationException", "SerializationException");
  expect_json_error(c.exchange(json_request(host(), "ListQueues", "\"ListQueues\"")), 400,
                    "SerializationException", "SerializationException");
  // A query request without an Action.
  expect_query_error(c.exchange(query_request(host(), {{"QueueName", "x"}})), 400,
                     "MissingParameter");
  // After all of these the connection still serves.
  const Response ok = c.exchange(json_request(host(), "ListQueues", "{}"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(ok.json().is_object()) << ok.body;
}

// --- Authentication ------------------------------------------------------------------------------

class SqsApiAuthE2eTest : public SqsApiE2eTest {
 protected:
  SqsServerOptions server_options() const override {
    SqsServerOptions o;
    o.authentication = true;
    return o;
  }
};

// SDKs read an SQS JSON error's code from x-amzn-query-error; AWS's JSON services name
// authentication failures in __type with shapes of their own, so only its presence is checked.
void expect_json_auth_error(const Response& r, std::string_view code) {
  EXPECT_EQ(r.status, 403) << r.body;
  const Json body = r.json();
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_NE(body.value("__type", "").find('#'), std::string::npos) << r.body;
  EXPECT_TRUE(body.contains("message")) << r.body;
  EXPECT_EQ(r.header("x-amzn-query-error").value_or(""), std::string(code) + ";Sender") << r.body;
}

TEST_F(SqsApiAuthE2eTest, OnlyCorrectlySignedRequestsAreServed) {
  const Credentials good{SqsServer::kAccessKeyId, SqsServer::kSecretAccessKey};
  const Credentials wrong_secret{SqsServer::kAccessKeyId, "not-the-secret"};
  const Credentials unknown_key{"AKIDUNKNOWN", SqsServer::kSecretAccessKey};
  const std::string create = Json{{"QueueName", "secured"}}.dump();
  const std::vector<std::pair<std::string, std::string>> create_form{{"Action", "CreateQueue"},
                                                                     {"QueueName", "secured"}};

  // Unsigned.
  expect_json_auth_error(call(json_request(host(), "CreateQueue", create)),
                         "MissingAuthenticationToken");
  expect_query_error(call(query_request(host(), create_form)), 403, "MissingAuthenticationToken");
  // Signed with the wrong secret.
  expect_json_auth_error(call(signed_json_request(host(), "CreateQueue", create, wrong_secret)),
                         "SignatureDoesNotMatch");
  expect_query_error(call(signed_query_request(host(), create_form, wrong_secret)), 403,
                     "SignatureDoesNotMatch");
  // Signed with a key the server does not know.
  expect_json_auth_error(call(signed_json_request(host(), "CreateQueue", create, unknown_key)),
                         "InvalidClientTokenId");
  // Correctly signed, then the body changed.
  std::string tampered = signed_json_request(host(), "CreateQueue", create, good);
  tampered.replace(tampered.rfind("secured"), 7, "hijackd");
  expect_json_auth_error(call(tampered), "SignatureDoesNotMatch");

  // Correctly signed requests are served, in both protocols; the refused ones created nothing.
  Connection c(port());
  const Response listed = c.exchange(signed_json_request(host(), "ListQueues", "{}", good));
  EXPECT_EQ(listed.status, 200) << listed.body;
  EXPECT_TRUE(listed.json().value("QueueUrls", Json::array()).empty()) << listed.body;
  const Response created = c.exchange(signed_query_request(host(), create_form, good));
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string url = xml_text(created.body, "QueueUrl").value_or("");
  EXPECT_EQ(url, server_->queue_url("secured")) << created.body;
  const Response sent = c.exchange(signed_json_request(
      host(), "SendMessage", Json{{"QueueUrl", url}, {"MessageBody", "signed"}}.dump(), good));
  EXPECT_EQ(sent.status, 200) << sent.body;
  const Response received = c.exchange(
      signed_query_request(host(), {{"Action", "ReceiveMessage"}, {"QueueUrl", url}}, good));
  EXPECT_EQ(received.status, 200) << received.body;
  EXPECT_EQ(xml_texts(received.body, "Body"), std::vector<std::string>{"signed"}) << received.body;
}

// --- Shutdown ----------------------------------------------------------------------------------

TEST_F(SqsApiE2eTest, SigtermExitsCleanlyWithConnectionsOpen) {
  const std::string url = create_queue("shutdown");
  std::vector<std::unique_ptr<Connection>> open;
  for (int i = 0; i < 5; ++i) open.push_back(std::make_unique<Connection>(port()));
  auto poller = std::make_unique<Connection>(port());
  ASSERT_TRUE(poller->send(json_request(host(), "ReceiveMessage",
                                        Json{{"QueueUrl", url}, {"WaitTimeSeconds", 20}}.dump())));
  auto half = std::make_unique<Connection>(port());
  ASSERT_TRUE(half->send("POST / HTTP/1.1\r\nHost: " + host() + "\r\nContent-Length: 100\r\n\r\n"));
  auto kept = std::make_unique<Connection>(port());
  ASSERT_TRUE(kept->send(json_request(host(), "ListQueues", "{}")));
  ASSERT_TRUE(kept->read());
  EXPECT_FALSE(poller->readable_within(200ms));

  ASSERT_TRUE(server_->process().signal(SIGTERM));
  const std::optional<int> code = server_->process().wait(10s);
  ASSERT_TRUE(code) << "still running 10 s after SIGTERM:\n" << server_->process().output();
  EXPECT_EQ(*code, 0) << server_->process().output();
}

}  // namespace
}  // namespace sluice::e2e
