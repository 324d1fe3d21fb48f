// SNS on sluice-dataplane's queue endpoint, end to end: real AWS clients (pip's awscli v1 and
// boto3, Debian's awscli v2 and python3-boto3) run tests/e2e/sns_clients/scenario.py with SigV4
// authentication on (queue subscriptions, and http endpoints served by the scenario itself on
// loopback: the confirmation handshake, notifications, retries and dead-letter queues); boto3
// runs the filter-policy table; and a durable server is killed with
// SIGKILL under a publish load and restarted on its directory, after which every acknowledged
// publish must be in every queue its subscriptions match. A client test skips, saying why, when
// its client is not installed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sqs_server.h"
#include "topology.h"

#ifndef SLUICE_SOURCE_ROOT
#error "SLUICE_SOURCE_ROOT must name the source tree"
#endif
#ifndef SLUICE_DATAPLANE_PATH
#error "SLUICE_DATAPLANE_PATH must name the sluice-dataplane binary"
#endif

namespace sluice::e2e {
namespace {

using Json = nlohmann::json;

const std::filesystem::path kScenario = SLUICE_SOURCE_ROOT "/tests/e2e/sns_clients/scenario.py";
const std::filesystem::path kPipVenv = "/opt/sluice-pyclients";

// A CLI call starts an interpreter; the scenario makes about fifty of them.
constexpr auto kCliTimeout = std::chrono::seconds(600);
constexpr auto kSdkTimeout = std::chrono::seconds(300);
constexpr auto kProbeTimeout = std::chrono::seconds(120);

std::string tail(const std::string& text, size_t n = 12000) {
  return text.size() <= n ? text : "...\n" + text.substr(text.size() - n);
}

std::vector<std::string> with_credentials(const std::vector<std::string>& argv) {
  std::vector<std::string> out = {
      "env",
      "-u",
      "AWS_PROFILE",
      "-u",
      "AWS_SESSION_TOKEN",
      std::string("AWS_ACCESS_KEY_ID=") + SqsServer::kAccessKeyId,
      std::string("AWS_SECRET_ACCESS_KEY=") + SqsServer::kSecretAccessKey,
      std::string("AWS_DEFAULT_REGION=") + SqsServer::kRegion,
  };
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string path_of(const std::string& command) {
  CommandResult r = run_command({"sh", "-c", "command -v " + command}, kProbeTimeout);
  return r.exit_code == 0 ? r.output.substr(0, r.output.find('\n')) : command;
}

std::vector<std::string> cli_probe(const std::string& aws) {
  return {"python3", kScenario.string(), "--client", "cli", "--aws", aws, "--probe"};
}
std::vector<std::string> boto3_probe(const std::string& python) {
  return {python, kScenario.string(), "--probe"};
}

// Runs the scenario's probe (`make_probe`) for each candidate; returns the first whose reported
// client name contains `want`, or nullopt with `why` saying what each said.
template <typename MakeProbe>
std::optional<std::string> first_client(const std::vector<std::string>& candidates,
                                        MakeProbe make_probe, const std::string& want,
                                        std::string& why) {
  for (const auto& candidate : candidates) {
    CommandResult r = run_command(with_credentials(make_probe(candidate)), kProbeTimeout);
    if (r.exit_code == 0 && r.output.find("protocol=") != std::string::npos &&
        r.output.find(want) != std::string::npos) {
      return candidate;
    }
    why += "\n" + candidate + ": " + tail(r.output, 1000);
  }
  return std::nullopt;
}

// The boto3 that pip installed: the venv's, or python3 on PATH unless that is Debian's own.
std::vector<std::string> pip_pythons() {
  std::vector<std::string> out = {(kPipVenv / "bin/python3").string()};
  const std::string python3 = path_of("python3");
  std::error_code ec;
  const auto real = std::filesystem::canonical(python3, ec);
  if (!ec && !real.string().starts_with("/usr/bin/")) out.push_back(python3);
  return out;
}

class SnsClientsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      server_ = std::make_unique<SqsServer>(SqsServerOptions{.authentication = true});
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
  }

  void TearDown() override {
    if (!server_) return;
    EXPECT_TRUE(server_->process().running()) << "sluice-dataplane died during the run:\n"
                                              << tail(server_->process().output());
    EXPECT_EQ(server_->process().stop(SIGTERM, std::chrono::seconds(10)), 0)
        << tail(server_->process().output());
    server_.reset();
  }

  std::string endpoint() const { return "http://" + server_->authority(); }

  void run_scenario(std::vector<std::string> argv, std::chrono::seconds timeout) {
    argv.push_back("--endpoint");
    argv.push_back(endpoint());
    CommandResult r = run_command(with_credentials(argv), timeout);
    std::string command;
    for (const auto& a : argv) command += a + " ";
    EXPECT_FALSE(r.timed_out) << command << "ran past " << timeout.count() << " s:\n"
                              << tail(r.output);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << tail(r.output);
    EXPECT_NE(r.output.find("PASSED"), std::string::npos) << tail(r.output);
    if (HasFailure()) {
      ADD_FAILURE() << "sluice-dataplane's output:\n" << tail(server_->process().output(), 4000);
    }
  }

  std::unique_ptr<SqsServer> server_;
};

TEST_F(SnsClientsE2E, PipAwsCliV1) {
  std::string why;
  auto aws =
      first_client({path_of("aws"), (kPipVenv / "bin/aws").string()}, cli_probe, "aws-cli/1.", why);
  if (!aws) GTEST_SKIP() << "no awscli v1 (pip install awscli):" << why;
  run_scenario({"python3", kScenario.string(), "--client", "cli", "--aws", *aws}, kCliTimeout);
}

TEST_F(SnsClientsE2E, DebianAwsCliV2) {
  std::string why;
  auto aws = first_client({"/usr/bin/aws"}, cli_probe, "aws-cli/2.", why);
  if (!aws) GTEST_SKIP() << "no awscli v2 from Debian (apt-get install awscli):" << why;
  run_scenario({"python3", kScenario.string(), "--client", "cli", "--aws", *aws}, kCliTimeout);
}

TEST_F(SnsClientsE2E, PipBoto3) {
  std::string why;
  auto python = first_client(pip_pythons(), boto3_probe, "boto3 ", why);
  if (!python) GTEST_SKIP() << "no boto3 from pip (pip install boto3):" << why;
  run_scenario({*python, kScenario.string()}, kSdkTimeout);
}

TEST_F(SnsClientsE2E, DebianBoto3) {
  std::string why;
  auto python = first_client({"/usr/bin/python3"}, boto3_probe, "boto3 ", why);
  if (!python)
    GTEST_SKIP() << "no python3-boto3 from Debian (apt-get install python3-boto3):" << why;
  run_scenario({*python, kScenario.string()}, kSdkTimeout);
}

// Every filter-policy operator in both scopes, through Subscribe and Publish.
TEST_F(SnsClientsE2E, FilterPolicyTable) {
  std::string why;
  std::vector<std::string> pythons = pip_pythons();
  pythons.push_back("/usr/bin/python3");
  auto python = first_client(pythons, boto3_probe, "boto3 ", why);
  if (!python) GTEST_SKIP() << "no boto3:" << why;
  run_scenario({*python, kScenario.string(), "--part", "filters"}, kSdkTimeout);
}

// --- the crash test: a durable server, raw HTTP, authentication off ------------------------------

constexpr std::string_view kListening = "sluice-dataplane: SQS API listening on http://127.0.0.1:";

// sluice-dataplane on `dir` (queues.directory = dir/data), stdout and stderr in dir/server-N.log.
class DurableServer {
 public:
  DurableServer(const std::filesystem::path& dir, int generation) {
    const std::filesystem::path config = dir / "sluice.yaml";
    std::ofstream(config) << "job: queues\n"
                             "api:\n"
                             "  listen: 127.0.0.1:0\n"
                             "  region: us-east-1\n"
                             "  account_id: \"000000000000\"\n"
                             "  authentication: off\n"
                             "queues:\n"
                             "  shards: 1\n"
                             "  directory: "
                          << (dir / "data").string() << "\n";
    const char* env = std::getenv("SLUICE_DATAPLANE");
    const std::string binary = env != nullptr && *env != '\0' ? env : SLUICE_DATAPLANE_PATH;
    const auto log = dir / ("server-" + std::to_string(generation) + ".log");
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + log.string());
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      const std::string config_arg = config.string();
      execl(binary.c_str(), binary.c_str(), "--config", config_arg.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fd);
    process_ = Process(pid, log);
    if (!process_.wait_for_output(kListening, std::chrono::seconds(30)))
      throw std::runtime_error("sluice-dataplane did not listen:\n" + process_.output());
    for (int attempt = 0; attempt < 100 && port_ == 0; ++attempt) {
      const std::string out = process_.output();
      const size_t digits = out.find(kListening) + kListening.size();
      size_t end = digits;
      while (end < out.size() && std::isdigit(static_cast<unsigned char>(out[end]))) ++end;
      if (end > digits && end < out.size()) port_ = std::stoi(out.substr(digits, end - digits));
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port_ == 0) throw std::runtime_error("no port in:\n" + process_.output());
  }

  uint16_t port() const { return static_cast<uint16_t>(port_); }
  Process& process() { return process_; }

 private:
  Process process_;
  int port_ = 0;
};

// One keep-alive HTTP/1.1 connection to the loopback server.
class Connection {
 public:
  explicit Connection(uint16_t port) : port_(port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // POSTs `body`; returns the status and the reply body, or nullopt when the connection failed.
  std::optional<std::pair<int, std::string>> post(const std::string& body,
                                                  const std::string& target = "") {
    if (fd_ < 0) return std::nullopt;
    std::string req = "POST / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    req += target.empty()
               ? "Content-Type: application/x-www-form-urlencoded\r\n"
               : "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: " + target + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t sent = 0; sent < req.size();) {
      const ssize_t n = send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return std::nullopt;
      sent += static_cast<size_t>(n);
    }
    while (true) {
      const size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = buffer_.substr(0, head_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t cl = head.find("content-length:");
        if (cl == std::string::npos || head.size() < 12) return std::nullopt;
        const size_t length = std::stoul(head.substr(cl + 15));
        if (buffer_.size() >= head_end + 4 + length) {
          const int status = std::stoi(head.substr(9, 3));
          std::string reply = buffer_.substr(head_end + 4, length);
          buffer_.erase(0, head_end + 4 + length);
          return std::make_pair(status, std::move(reply));
        }
      }
      char chunk[16384];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  uint16_t port_;
  int fd_ = -1;
  std::string buffer_;
};

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '&';
    out += key + '=';
    for (unsigned char c : value) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char hex[4];
        snprintf(hex, sizeof hex, "%%%02X", c);
        out += hex;
      }
    }
  }
  return out;
}

std::string xml_field(const std::string& xml, const std::string& tag) {
  const size_t at = xml.find("<" + tag + ">");
  if (at == std::string::npos) return "";
  const size_t start = at + tag.size() + 2;
  return xml.substr(start, xml.find("</" + tag + ">", start) - start);
}

// An SNS query action; fails the test unless it is answered 200.
std::string sns_call(Connection& c, std::vector<std::pair<std::string, std::string>> fields) {
  fields.insert(fields.begin(), {"Version", "2010-03-31"});
  auto reply = c.post(form_encode(fields));
  EXPECT_TRUE(reply && reply->first == 200)
      << form_encode(fields) << " -> " << (reply ? reply->second : "no reply");
  return reply ? reply->second : "";
}

// An SQS JSON action; fails the test unless it is answered 200.
Json sqs_call(Connection& c, const std::string& action, const Json& body) {
  auto reply = c.post(body.dump(), "AmazonSQS." + action);
  EXPECT_TRUE(reply && reply->first == 200)
      << action << " " << body.dump() << " -> " << (reply ? reply->second : "no reply");
  return reply && reply->first == 200 ? Json::parse(reply->second) : Json::object();
}

std::string publish_body(const std::string& topic, uint64_t n) {
  return form_encode({{"Action", "Publish"},
                      {"Version", "2010-03-31"},
                      {"TopicArn", topic},
                      {"Message", std::to_string(n)},
                      {"MessageAttributes.entry.1.Name", "n"},
                      {"MessageAttributes.entry.1.Value.DataType", "Number"},
                      {"MessageAttributes.entry.1.Value.StringValue", std::to_string(n)},
                      {"MessageAttributes.entry.2.Name", "even"},
                      {"MessageAttributes.entry.2.Value.DataType", "Number"},
                      {"MessageAttributes.entry.2.Value.StringValue", n % 2 == 0 ? "1" : "0"}});
}

// Receives and deletes every message of `queue_url`; returns the bodies.
std::multiset<std::string> drain(Connection& c, const std::string& queue_url) {
  std::multiset<std::string> bodies;
  // Bounded: far more rounds than the publishers could have filled.
  for (int round = 0; round < 20000; ++round) {
    Json got = sqs_call(c, "ReceiveMessage",
                        {{"QueueUrl", queue_url},
                         {"MaxNumberOfMessages", 10},
                         {"VisibilityTimeout", 600},
                         {"WaitTimeSeconds", 0}});
    if (!got.contains("Messages") || got["Messages"].empty()) break;
    Json entries = Json::array();
    for (const auto& m : got["Messages"]) {
      bodies.insert(m["Body"].get<std::string>());
      entries.push_back(
          {{"Id", std::to_string(entries.size())}, {"ReceiptHandle", m["ReceiptHandle"]}});
    }
    Json deleted =
        sqs_call(c, "DeleteMessageBatch", {{"QueueUrl", queue_url}, {"Entries", entries}});
    EXPECT_TRUE(!deleted.contains("Failed") || deleted["Failed"].empty()) << deleted.dump();
    if (::testing::Test::HasFailure()) break;
  }
  return bodies;
}

TEST(SnsCrashE2E, AcknowledgedPublishesSurviveSigkill) {
  char tmpl[] = "/tmp/sluice-sns-crash-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};

  const std::string all_queue = "crash-all", even_queue = "crash-even";
  const std::string account_arn = "arn:aws:sqs:us-east-1:000000000000:";
  std::string topic;
  auto server = std::make_unique<DurableServer>(dir, 1);
  {
    Connection c(server->port());
    for (const auto& q : {all_queue, even_queue}) sqs_call(c, "CreateQueue", {{"QueueName", q}});
    topic = xml_field(sns_call(c, {{"Action", "CreateTopic"}, {"Name", "crash"}}), "TopicArn");
    ASSERT_EQ(topic, "arn:aws:sns:us-east-1:000000000000:crash");
    sns_call(c, {{"Action", "Subscribe"},
                 {"TopicArn", topic},
                 {"Protocol", "sqs"},
                 {"Endpoint", account_arn + all_queue},
                 {"Attributes.entry.1.key", "RawMessageDelivery"},
                 {"Attributes.entry.1.value", "true"}});
    sns_call(c, {{"Action", "Subscribe"},
                 {"TopicArn", topic},
                 {"Protocol", "sqs"},
                 {"Endpoint", account_arn + even_queue},
                 {"Attributes.entry.1.key", "RawMessageDelivery"},
                 {"Attributes.entry.1.value", "true"},
                 {"Attributes.entry.2.key", "FilterPolicy"},
                 {"Attributes.entry.2.value", R"({"even": [{"numeric": ["=", 1]}]})"}});
    ASSERT_FALSE(::testing::Test::HasFailure());
  }

  // Publishers on their own connections until the server dies (or the 3 s are up).
  constexpr int kThreads = 4;
  constexpr uint64_t kMaxPerThread = 200000;
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  std::set<uint64_t> acked;
  std::atomic<uint64_t> refused{0};
  std::string first_refusal;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> publishers;
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&, port = server->port()] {
      Connection c(port);
      for (uint64_t i = 0; i < kMaxPerThread && std::chrono::steady_clock::now() < deadline; ++i) {
        const uint64_t n = next++;
        auto reply = c.post(publish_body(topic, n));
        if (!reply) return;
        std::lock_guard lock(mu);
        if (reply->first == 200 && !xml_field(reply->second, "MessageId").empty()) {
          acked.insert(n);
        } else if (refused++ == 0) {
          first_refusal = std::to_string(reply->first) + " " + reply->second;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(acked.empty()) << "nothing acknowledged before the kill:\n"
                                << server->process().output();
  }
  ASSERT_TRUE(server->process().signal(SIGKILL));
  server->process().wait(std::chrono::seconds(10));
  for (auto& t : publishers) t.join();
  const uint64_t attempted = next.load();
  EXPECT_EQ(refused.load(), 0u) << "first refusal: " << first_refusal;

  server = std::make_unique<DurableServer>(dir, 2);
  Connection c(server->port());
  const std::string base = "http://127.0.0.1:" + std::to_string(server->port()) + "/000000000000/";
  // The topic and its subscriptions came back from topics.json: one more publish reaches both.
  const uint64_t after = attempted;
  auto reply = c.post(publish_body(topic, after));
  ASSERT_TRUE(reply && reply->first == 200) << (reply ? reply->second : "no reply");

  const std::multiset<std::string> all = drain(c, base + all_queue);
  const std::multiset<std::string> even = drain(c, base + even_queue);
  std::set<uint64_t> all_numbers, even_numbers;
  size_t duplicates = 0;
  for (const auto* bag : {&all, &even}) {
    for (const auto& body : *bag) {
      const uint64_t n = std::stoull(body);
      EXPECT_LE(n, after) << "a message nobody published: " << body;
      auto& numbers = bag == &all ? all_numbers : even_numbers;
      if (!numbers.insert(n).second) ++duplicates;
    }
  }
  size_t lost_all = 0, lost_even = 0, odd_in_even = 0;
  for (uint64_t n : acked) {
    if (!all_numbers.contains(n)) ++lost_all;
    if (n % 2 == 0 && !even_numbers.contains(n)) ++lost_even;
  }
  for (uint64_t n : even_numbers) odd_in_even += n % 2;
  const size_t acked_even =
      std::count_if(acked.begin(), acked.end(), [](uint64_t n) { return n % 2 == 0; });
  std::cout << "publishes attempted " << attempted << ", acknowledged " << acked.size() << " ("
            << acked_even << " even); after restart: " << all.size() << " in " << all_queue << ", "
            << even.size() << " in " << even_queue << ", " << duplicates << " repeated\n";
  EXPECT_TRUE(all_numbers.contains(after)) << "the publish after the restart";
  EXPECT_TRUE(even_numbers.contains(after) == (after % 2 == 0)) << "the publish after the restart";
  EXPECT_EQ(lost_all, 0u) << "acknowledged publishes missing from " << all_queue;
  EXPECT_EQ(lost_even, 0u) << "acknowledged even publishes missing from " << even_queue;
  EXPECT_EQ(odd_in_even, 0u) << "odd numbers delivered to " << even_queue;
  EXPECT_TRUE(server->process().running()) << server->process().output();
  EXPECT_EQ(server->process().stop(SIGTERM, std::chrono::seconds(10)), 0)
      << server->process().output();
}

}  // namespace
}  // namespace sluice::e2e
