// The control plane's queue declarations against the real SQS API: api::QueueService runs
// in-process on a loopback port, the QueueDeclarer declares on it over HTTP, and what it did is
// read back through the same API (GetQueueAttributes, ListQueueTags, ListQueues); and the
// declarations through the Appliance's views.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "appliance.h"
#include "dataplane_connection.h"
#include "queue_declarer.h"
#include "rest_api.h"
#include "sigv4_signer.h"
#include "sqs_server.h"

namespace sluice::controlplane {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;
using api::sigv4::amz_date;
using api::sigv4::sigv4_authorization;
using Map = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kKeyId = "AKIDSLUICETEST";
constexpr const char* kSecret = "sluice-test-secret";

// ---- the declarer against the real SQS API -----------------------------------------------------

// Polls `done` every 10 ms for at most 10 s; the declarer works on its own thread.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// A loopback port nothing listens on (bound, read and closed again).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::unique_ptr<api::QueueService> start_service(uint16_t port = 0, bool authentication = false) {
  api::ApiConfig config;
  config.address = "127.0.0.1";
  config.port = port;
  config.authentication = authentication;
  config.access_keys = {{kKeyId, kSecret}};
  auto service = std::make_unique<api::QueueService>(config, api::QueuesConfig{});
  service->start();
  return service;
}

// One SQS call over AWS JSON 1.0, signed with the test key (the service checks signatures only
// when authentication is on).
struct SqsReply {
  int status = 0;
  nlohmann::json body;  // objects compare whatever their keys' order
};

SqsReply sqs_call(uint16_t port, const std::string& action, const Json& params, bool sign = false) {
  httplib::Client client("127.0.0.1", port);
  const std::string body = params.dump();
  const std::string host = "127.0.0.1:" + std::to_string(port);
  httplib::Headers headers = {{"Host", host}, {"X-Amz-Target", "AmazonSQS." + action}};
  if (sign) {
    const std::string date = amz_date(std::time(nullptr));
    headers.emplace("X-Amz-Date", date);
    headers.emplace(
        "Authorization",
        sigv4_authorization(
            {.method = "POST",
             .path = "/",
             .query = "",
             .headers = {{"Content-Type", "application/x-amz-json-1.0"},
                         {"Host", host},
                         {"X-Amz-Date", date},
                         {"X-Amz-Target", "AmazonSQS." + action}},
             .body = body},
            {.access_key_id = kKeyId, .secret_access_key = kSecret, .region = "us-east-1"}));
  }
  const auto r = client.Post("/", headers, body, "application/x-amz-json-1.0");
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

nlohmann::json sqs(uint16_t port, const std::string& action, const Json& params,
                   bool sign = false) {
  const SqsReply r = sqs_call(port, action, params, sign);
  EXPECT_EQ(r.status, 200) << action << ": " << r.body.dump();
  return r.body;
}

std::string url_of(uint16_t port, const std::string& name, bool sign = false) {
  return sqs(port, "GetQueueUrl", {{"QueueName", name}}, sign).value("QueueUrl", "");
}

nlohmann::json attributes_of(uint16_t port, const std::string& name) {
  return sqs(port, "GetQueueAttributes",
             {{"QueueUrl", url_of(port, name)}, {"AttributeNames", {"All"}}})["Attributes"];
}

nlohmann::json tags_of(uint16_t port, const std::string& name) {
  const nlohmann::json r = sqs(port, "ListQueueTags", {{"QueueUrl", url_of(port, name)}});
  return r.contains("Tags") ? r["Tags"] : nlohmann::json::object();
}

std::string redrive(const std::string& dead_letter, int max_receives) {
  return R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)" + dead_letter +
         R"(","maxReceiveCount":)" + std::to_string(max_receives) + "}";
}

QueuesConfig link_to(uint16_t port) {
  QueuesConfig c;
  c.port = port;
  return c;
}

// Tests see every try: a failure is retried soon, a success never again in a test's time.
QueueDeclarer::Options fast() {
  return {.retry_interval = 50ms, .resync_interval = 1h, .request_timeout = 2s};
}

QueueDeclarer::QueueStatus state_of(const QueueDeclarer& d, const std::string& name) {
  for (const auto& s : d.status()) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no state for " << name;
  return {};
}

bool all_applied(const QueueDeclarer& d) {
  const auto states = d.status();
  return std::all_of(states.begin(), states.end(), [](const QueueDeclarer::QueueStatus& s) {
    return s.state == QueueDeclarer::State::kApplied;
  });
}

TEST(QueueDeclarer, CreatesQueuesWithTheirAttributesAndTags) {
  auto service = start_service();
  const uint16_t port = service->port();
  QueuesConfig c = link_to(port);
  c.declare = {
      {.name = "orders-dlq", .attributes = {{"MessageRetentionPeriod", "1209600"}}},
      {.name = "orders",
       .attributes = {{"VisibilityTimeout", "60"}, {"RedrivePolicy", redrive("orders-dlq", 3)}},
       .tags = {{"team", "shop"}, {"tier", "1"}}},
      {.name = "payments.fifo",
       .attributes = {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}}},
  };
  QueueDeclarer d(fast());
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return all_applied(d); }));
  EXPECT_EQ(d.endpoint(), "http://127.0.0.1:" + std::to_string(port));

  const nlohmann::json orders = attributes_of(port, "orders");
  EXPECT_EQ(orders["VisibilityTimeout"], "60");
  const Json policy = Json::parse(orders.value("RedrivePolicy", "{}"));
  EXPECT_EQ(policy["deadLetterTargetArn"], "arn:aws:sqs:us-east-1:000000000000:orders-dlq");
  EXPECT_EQ(policy["maxReceiveCount"], 3);
  EXPECT_EQ(tags_of(port, "orders"), (nlohmann::json{{"team", "shop"}, {"tier", "1"}}));
  EXPECT_EQ(attributes_of(port, "orders-dlq")["MessageRetentionPeriod"], "1209600");
  const nlohmann::json fifo = attributes_of(port, "payments.fifo");
  EXPECT_EQ(fifo["FifoQueue"], "true");
  EXPECT_EQ(fifo["ContentBasedDeduplication"], "true");
  EXPECT_EQ(tags_of(port, "payments.fifo"), nlohmann::json::object());

  const auto s = state_of(d, "orders");
  EXPECT_EQ(s.url, "http://127.0.0.1:" + std::to_string(port) + "/000000000000/orders");
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.failures, 0u);
}

// Passes SQS requests on to the service and records each one's action and QueueName, in order.
class RecordingProxy {
 public:
  explicit RecordingProxy(uint16_t service_port) : service_("127.0.0.1", service_port) {
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      const auto body = nlohmann::json::parse(req.body, nullptr, false);
      const std::string target = req.get_header_value("X-Amz-Target");
      calls_.push_back(target + " " + (body.is_object() ? body.value("QueueName", "") : ""));
      const auto r =
          service_.Post("/", {{"Host", req.get_header_value("Host")}, {"X-Amz-Target", target}},
                        req.body, req.get_header_value("Content-Type"));
      if (!r) {
        res.status = 502;
        return;
      }
      res.status = r->status;
      if (r->has_header("x-amzn-query-error"))
        res.set_header("x-amzn-query-error", r->get_header_value("x-amzn-query-error"));
      res.set_content(r->body, r->get_header_value("Content-Type"));
    });
    port_ = static_cast<uint16_t>(server_.bind_to_any_port("127.0.0.1"));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RecordingProxy() {
    server_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  // "AmazonSQS.CreateQueue orders", ...
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  httplib::Client service_;
  httplib::Server server_;
  std::vector<std::string> calls_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// The file lists each queue before its dead-letter queue; they are created the other way round,
// in one pass.
TEST(QueueDeclarer, DeadLetterQueuesAreDeclaredFirst) {
  auto service = start_service();
  RecordingProxy proxy(service->port());
  QueuesConfig c = link_to(proxy.port());
  c.declare = {
      {.name = "a", .attributes = {{"RedrivePolicy", redrive("b", 2)}}},
      {.name = "b", .attributes = {{"RedrivePolicy", redrive("c", 2)}}},
      {.name = "other"},
      {.name = "c"},
  };
  QueueDeclarer d({.retry_interval = 1h, .resync_interval = 1h, .request_timeout = 2s});
  const uint64_t declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  for (const auto& s : d.status()) {
    EXPECT_EQ(s.state, QueueDeclarer::State::kApplied) << s.name << ": " << s.error;
    EXPECT_EQ(s.attempts, 1u) << s.name;
  }
  EXPECT_EQ(proxy.calls(),
            (std::vector<std::string>{"AmazonSQS.CreateQueue other", "AmazonSQS.CreateQueue c",
                                      "AmazonSQS.CreateQueue b", "AmazonSQS.CreateQueue a"}));
  EXPECT_EQ(Json::parse(attributes_of(service->port(), "a").value("RedrivePolicy", "{}"))
                .value("deadLetterTargetArn", ""),
            "arn:aws:sqs:us-east-1:000000000000:b");
}

TEST(QueueDeclarer, ADeclarationThatChangedIsAppliedOverTheQueue) {
  auto service = start_service();
  const uint16_t port = service->port();
  QueuesConfig c = link_to(port);
  c.declare = {{.name = "orders",
                .attributes = {{"VisibilityTimeout", "30"}, {"DelaySeconds", "0"}},
                .tags = {{"team", "a"}}}};
  QueueDeclarer d(fast());
  uint64_t declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  EXPECT_TRUE(all_applied(d)) << state_of(d, "orders").error;
  EXPECT_EQ(attributes_of(port, "orders")["VisibilityTimeout"], "30");

  // Other attribute values: CreateQueue answers QueueAlreadyExists, and the file wins.
  c.declare[0].attributes = {{"VisibilityTimeout", "90"}, {"DelaySeconds", "5"}};
  c.declare[0].tags = {{"team", "b"}, {"owner", "ops"}};
  declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  EXPECT_TRUE(all_applied(d)) << state_of(d, "orders").error;
  const nlohmann::json a = attributes_of(port, "orders");
  EXPECT_EQ(a["VisibilityTimeout"], "90");
  EXPECT_EQ(a["DelaySeconds"], "5");
  EXPECT_EQ(tags_of(port, "orders"), (nlohmann::json{{"owner", "ops"}, {"team", "b"}}));

  // Only the tags changed: CreateQueue succeeds on the existing queue, the tags still follow.
  c.declare[0].tags = {{"team", "c"}};
  declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  EXPECT_TRUE(all_applied(d)) << state_of(d, "orders").error;
  EXPECT_EQ(tags_of(port, "orders")["team"], "c");

  // A queue changed behind the declarer's back is put back by the pass of a reload.
  sqs(port, "SetQueueAttributes",
      {{"QueueUrl", url_of(port, "orders")}, {"Attributes", {{"VisibilityTimeout", "7"}}}});
  declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  EXPECT_TRUE(all_applied(d)) << state_of(d, "orders").error;
  EXPECT_EQ(attributes_of(port, "orders")["VisibilityTimeout"], "90");
}

TEST(QueueDeclarer, QueuesThatAreNotDeclaredAreLeftAlone) {
  auto service = start_service();
  const uint16_t port = service->port();
  sqs(port, "CreateQueue", {{"QueueName", "theirs"}});
  QueuesConfig c = link_to(port);
  c.declare = {{.name = "one"}, {.name = "two"}};
  QueueDeclarer d(fast());
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return all_applied(d); }));
  // "two" leaves the file: it is no longer reported, and stays on the API.
  c.declare.pop_back();
  const uint64_t declared = d.declare(c);
  ASSERT_TRUE(eventually([&] { return d.last_pass() >= declared; }));
  ASSERT_EQ(d.status().size(), 1u);
  const nlohmann::json list = sqs(port, "ListQueues", Json::object());
  std::vector<std::string> urls = list.value("QueueUrls", std::vector<std::string>{});
  std::sort(urls.begin(), urls.end());
  const std::string prefix = "http://127.0.0.1:" + std::to_string(port) + "/000000000000/";
  EXPECT_EQ(urls, (std::vector<std::string>{prefix + "one", prefix + "theirs", prefix + "two"}));
}

TEST(QueueDeclarer, PendingWhileTheEndpointIsDownThenApplied) {
  const uint16_t port = free_port();
  QueuesConfig c = link_to(port);
  c.declare = {{.name = "orders-dlq"},
               {.name = "orders", .attributes = {{"RedrivePolicy", redrive("orders-dlq", 5)}}}};
  QueueDeclarer d(fast());
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return state_of(d, "orders").failures >= 2; }));
  for (const auto& s : d.status()) {
    EXPECT_EQ(s.state, QueueDeclarer::State::kPending);
    EXPECT_NE(s.error.find("cannot reach http://127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << s.error;
  }
  auto service = start_service(port);
  ASSERT_TRUE(eventually([&] { return all_applied(d); })) << state_of(d, "orders").error;
  EXPECT_EQ(state_of(d, "orders").error, "");
  EXPECT_EQ(Json::parse(attributes_of(port, "orders").value("RedrivePolicy", "{}"))
                .value("maxReceiveCount", 0),
            5);
}

TEST(QueueDeclarer, SignsRequestsWhenAuthenticationIsOn) {
  auto service = start_service(0, true);
  const uint16_t port = service->port();
  // Authentication is on: an unsigned request is refused.
  EXPECT_EQ(sqs_call(port, "ListQueues", Json::object()).status, 403);

  QueuesConfig c = link_to(port);
  c.access_key_id = kKeyId;
  c.secret_access_key = kSecret;
  c.declare = {{.name = "signed", .attributes = {{"DelaySeconds", "3"}}, .tags = {{"k", "v"}}}};
  QueueDeclarer d(fast());
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return all_applied(d); })) << state_of(d, "signed").error;
  const nlohmann::json a =
      sqs(port, "GetQueueAttributes",
          {{"QueueUrl", url_of(port, "signed", true)}, {"AttributeNames", {"All"}}}, true);
  EXPECT_EQ(a["Attributes"]["DelaySeconds"], "3");

  // The wrong secret: pending, with the API's refusal.
  c.secret_access_key = "not-the-secret";
  c.declare[0].name = "refused";
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return state_of(d, "refused").failures >= 1; }));
  auto s = state_of(d, "refused");
  EXPECT_EQ(s.state, QueueDeclarer::State::kPending);
  EXPECT_NE(s.error.find("CreateQueue: SignatureDoesNotMatch"), std::string::npos) << s.error;

  // An unknown key id.
  c.access_key_id = "AKIDNOBODY";
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return state_of(d, "refused").failures >= 1; }));
  s = state_of(d, "refused");
  EXPECT_NE(s.error.find("CreateQueue: InvalidClientTokenId"), std::string::npos) << s.error;
  EXPECT_EQ(sqs_call(port, "GetQueueUrl", {{"QueueName", "refused"}}, true).status, 400);
}

TEST(QueueDeclarer, TheApisRefusalIsTheError) {
  auto service = start_service();
  QueuesConfig c = link_to(service->port());
  c.declare = {{.name = "q", .attributes = {{"VisibilityTimeout", "99999"}}}, {.name = "fine"}};
  QueueDeclarer d(fast());
  d.declare(c);
  ASSERT_TRUE(eventually([&] { return state_of(d, "q").failures >= 1; }));
  EXPECT_NE(state_of(d, "q").error.find("CreateQueue: InvalidAttributeValue"), std::string::npos)
      << state_of(d, "q").error;
  // The other queues go on.
  ASSERT_TRUE(
      eventually([&] { return state_of(d, "fine").state == QueueDeclarer::State::kApplied; }));
}

// ---- through the Appliance: REST views and metrics ---------------------------------------------

TEST(ApplianceQueues, StatusRouteMetricsAndReload) {
  auto service = start_service();
  const uint16_t port = service->port();
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("sluice-cp-queues-" + std::to_string(::getpid()) + ".yaml");
  auto write = [&](const std::string& queues) {
    std::ofstream(file) << "queues:\n  endpoint: http://127.0.0.1:" << port << "\n  declare:\n"
                        << queues;
  };
  write("    - {name: orders, attributes: {VisibilityTimeout: 45}}\n");
  LoadResult loaded = load_control_config_file(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error;
  // No dataplane listens there; the queues do not depend on it.
  DataplaneConnection link("/nonexistent/sluice-control.sock");
  Appliance a(std::move(*loaded.config), file, link, 1, fast());
  httplib::Server server;
  install_routes(server, a, "");
  const int api_port = server.bind_to_any_port("127.0.0.1");
  std::thread http([&] { server.listen_after_bind(); });
  httplib::Client client("127.0.0.1", api_port);
  auto get = [&](const std::string& path) {
    const auto r = client.Get(path);
    return r ? Json::parse(r->body, nullptr, false) : Json();
  };
  // The `key` of the i-th declared queue in GET /v1/queues; null when there is none.
  auto queue_field = [&](size_t i, const char* key) {
    const Json list = get("/v1/queues");
    if (!list.is_array() || list.size() <= i || !list[i].contains(key)) return Json();
    return list[i][key];
  };

  ASSERT_TRUE(eventually([&] { return queue_field(0, "state") == "applied"; }));
  Json q = get("/v1/queues");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0]["name"], "orders");
  EXPECT_EQ(q[0]["url"], "http://127.0.0.1:" + std::to_string(port) + "/000000000000/orders");
  EXPECT_FALSE(q[0].contains("last_error"));
  EXPECT_EQ(attributes_of(port, "orders")["VisibilityTimeout"], "45");
  const Json status = get("/v1/status");
  EXPECT_EQ(status["queues"]["declared"], 1);
  EXPECT_EQ(status["queues"]["applied"], 1);
  EXPECT_NE(a.metrics().find("sluice_queue_declared{queue=\"orders\"} 1\n"), std::string::npos);

  // A reload adds a queue the API refuses: pending with the refusal, in every view.
  write(
      "    - {name: orders, attributes: {VisibilityTimeout: 45}}\n"
      "    - {name: broken, attributes: {DelaySeconds: 901}}\n");
  const auto r = client.Post("/v1/reload", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(eventually([&] {
    const Json failures = queue_field(1, "failures");
    return failures.is_number() && failures >= 1;
  }));
  q = get("/v1/queues");
  EXPECT_EQ(q[0]["state"], "applied");
  EXPECT_EQ(q[1]["name"], "broken");
  EXPECT_EQ(q[1]["state"], "pending");
  EXPECT_NE(q[1].value("last_error", "").find("InvalidAttributeValue"), std::string::npos)
      << q[1].dump();
  const std::string m = a.metrics();
  EXPECT_NE(m.find("sluice_queue_declared{queue=\"broken\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE sluice_queue_declare_failures_total counter\n"), std::string::npos);
  EXPECT_EQ(get("/v1/config")["queues"]["declare"][1]["attributes"]["DelaySeconds"], "901");

  server.stop();
  http.join();
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace sluice::controlplane
