#include "queue_declarer.h"

#include <httplib.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "sigv4_signer.h"

namespace sluice::controlplane {
namespace {

using Json = nlohmann::ordered_json;
using api::sigv4::amz_date;
using api::sigv4::RequestToSign;
using api::sigv4::sigv4_authorization;

constexpr const char* kJsonType = "application/x-amz-json-1.0";

// The HTTP client's failures, worded for an operator.
std::string transport_error(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or failed";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer (the connection closed or the read timed out)";
    case httplib::Error::Write:
      return "the request could not be sent";
    default:
      return httplib::to_string(e);
  }
}

// One SQS endpoint over a kept-alive connection, AWS JSON 1.0.
class SqsClient {
 public:
  struct Reply {
    bool answered = false;  // false: no HTTP answer (error holds why)
    int status = 0;
    Json body;
    std::string code, error;

    bool ok() const { return answered && status == 200; }
  };

  SqsClient(const QueuesConfig& config, std::chrono::milliseconds timeout)
      : config_(config), http_(config.host, config.port) {
    http_.set_connection_timeout(timeout);
    http_.set_read_timeout(timeout);
    http_.set_write_timeout(timeout);
    http_.set_keep_alive(true);
  }

  Reply call(const std::string& action, const Json& params) {
    const std::string body = params.dump(-1, ' ', false, Json::error_handler_t::replace);
    const bool v6 = config_.host.find(':') != std::string::npos;
    // Set here rather than by the HTTP client, so that what is signed is what is sent.
    const std::string host =
        (v6 ? "[" + config_.host + "]" : config_.host) + ":" + std::to_string(config_.port);
    const std::string target = "AmazonSQS." + action;
    httplib::Headers headers = {{"Host", host}, {"X-Amz-Target", target}};
    if (!config_.access_key_id.empty()) {
      const std::string date = amz_date(std::time(nullptr));
      headers.emplace("X-Amz-Date", date);
      const RequestToSign request{.method = "POST",
                                  .path = "/",
                                  .query = "",
                                  .headers = {{"Content-Type", kJsonType},
                                              {"Host", host},
                                              {"X-Amz-Date", date},
                                              {"X-Amz-Target", target}},
                                  .body = body};
      headers.emplace("Authorization",
                      sigv4_authorization(request, {.access_key_id = config_.access_key_id,
                                                    .secret_access_key = config_.secret_access_key,
                                                    .region = config_.region}));
    }
    Reply reply;
    const httplib::Result r = http_.Post("/", headers, body, kJsonType);
    if (!r) {
      reply.error = "cannot reach " + config_.endpoint() + ": " + transport_error(r.error());
      return reply;
    }
    reply.answered = true;
    reply.status = r->status;
    // Actions without a result may answer with no body at all.
    reply.body = r->body.empty() ? Json::object() : Json::parse(r->body, nullptr, false);
    if (reply.ok()) {
      if (!reply.body.is_object()) {
        reply.status = 0;
        reply.error = "the answer is not a JSON object";
      }
      return reply;
    }
    // The query protocol's code is what SQS documents (QueueAlreadyExists rather than the JSON
    // type's QueueNameExists); the JSON type is the fallback.
    const std::string query_error = r->get_header_value("x-amzn-query-error");
    if (!query_error.empty()) {
      reply.code = query_error.substr(0, query_error.find(';'));
    } else if (reply.body.is_object() && reply.body.value("__type", Json()).is_string()) {
      const std::string type = reply.body["__type"];
      reply.code = type.substr(type.find('#') + 1);
    } else {
      reply.code = "HTTP " + std::to_string(r->status);
    }
    std::string message;
    if (reply.body.is_object() && reply.body.value("message", Json()).is_string())
      message = reply.body["message"];
    reply.error = message.empty() ? reply.code : reply.code + ": " + message;
    return reply;
  }

 private:
  const QueuesConfig& config_;
  httplib::Client http_;
};

Json text_object(const std::vector<std::pair<std::string, std::string>>& map) {
  Json out = Json::object();
  for (const auto& [key, value] : map) out[key] = value;
  return out;
}

std::string queue_url(const Json& body) {
  const auto it = body.find("QueueUrl");
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Outcome {
  bool ok = false;
  bool unreachable = false;  // no HTTP answer: the queues after it are not tried this pass
  std::string url, error;
};

// Creates the queue, or brings an existing one to the declaration.
Outcome declare_one(SqsClient& sqs, const DeclaredQueue& q) {
  Json attributes = text_object(q.attributes), tags = text_object(q.tags);
  Outcome o;
  auto failed = [&](const std::string& action, const auto& reply) {
    o.unreachable = !reply.answered;
    o.error = action + ": " + reply.error;
    return o;
  };
  Json create = {{"QueueName", q.name}};
  if (!attributes.empty()) create["Attributes"] = attributes;
  if (!tags.empty()) create["tags"] = tags;
  auto reply = sqs.call("CreateQueue", create);
  if (!reply.ok() && reply.code != "QueueAlreadyExists") return failed("CreateQueue", reply);
  if (reply.ok()) {
    o.url = queue_url(reply.body);
  } else {
    // The queue exists with other attributes: the file's win. FifoQueue cannot change after
    // creation, and the name already fixes it.
    reply = sqs.call("GetQueueUrl", {{"QueueName", q.name}});
    if (!reply.ok()) return failed("GetQueueUrl", reply);
    o.url = queue_url(reply.body);
    attributes.erase("FifoQueue");
    if (!attributes.empty()) {
      reply = sqs.call("SetQueueAttributes", {{"QueueUrl", o.url}, {"Attributes", attributes}});
      if (!reply.ok()) return failed("SetQueueAttributes", reply);
    }
  }
  if (o.url.empty()) {
    o.error = "the SQS API answered without a QueueUrl";
    return o;
  }
  // CreateQueue leaves the tags of a queue that already existed as they were.
  if (!tags.empty()) {
    reply = sqs.call("TagQueue", {{"QueueUrl", o.url}, {"Tags", tags}});
    if (!reply.ok()) return failed("TagQueue", reply);
  }
  o.ok = true;
  return o;
}

}  // namespace

std::string_view to_string(QueueDeclarer::State s) {
  return s == QueueDeclarer::State::kApplied ? "applied" : "pending";
}

QueueDeclarer::QueueDeclarer(Options options) : options_(options) {}

QueueDeclarer::~QueueDeclarer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t QueueDeclarer::declare(const QueuesConfig& config) {
  std::lock_guard lock(mu_);
  const bool same_link = config.host == config_.host && config.port == config_.port &&
                         config.access_key_id == config_.access_key_id &&
                         config.secret_access_key == config_.secret_access_key &&
                         config.region == config_.region;
  std::vector<QueueStatus> states;
  for (const DeclaredQueue& q : config.declare) {
    QueueStatus s{.name = q.name};
    const auto before = std::find_if(config_.declare.begin(), config_.declare.end(),
                                     [&](const DeclaredQueue& d) { return d.name == q.name; });
    const auto state = std::find_if(states_.begin(), states_.end(),
                                    [&](const QueueStatus& st) { return st.name == q.name; });
    if (same_link && before != config_.declare.end() && *before == q && state != states_.end())
      s = *state;
    states.push_back(std::move(s));
  }
  states_ = std::move(states);
  config_ = config;
  ++generation_;
  wake_ = true;
  if (!thread_.joinable() && !config_.declare.empty()) thread_ = std::thread([this] { run(); });
  wake_cv_.notify_one();
  return generation_;
}

std::vector<QueueDeclarer::QueueStatus> QueueDeclarer::status() const {
  std::lock_guard lock(mu_);
  return states_;
}

std::string QueueDeclarer::endpoint() const {
  std::lock_guard lock(mu_);
  return config_.endpoint();
}

uint64_t QueueDeclarer::last_pass() const {
  std::lock_guard lock(mu_);
  return last_pass_;
}

void QueueDeclarer::run() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (true) {
    wake_cv_.wait_until(lock, next_pass_,
                        [&] { return stopping_ || wake_ || Clock::now() >= next_pass_; });
    if (stopping_) return;
    wake_ = false;
    const QueuesConfig config = config_;
    const uint64_t generation = generation_;
    lock.unlock();
    pass(config, generation);
    lock.lock();
    if (generation == generation_) last_pass_ = generation;
    const bool applied = std::all_of(states_.begin(), states_.end(), [](const QueueStatus& s) {
      return s.state == State::kApplied;
    });
    next_pass_ = Clock::now() + (applied ? options_.resync_interval : options_.retry_interval);
  }
}

void QueueDeclarer::pass(const QueuesConfig& config, uint64_t generation) {
  SqsClient sqs(config, options_.request_timeout);
  std::vector<size_t> order(config.declare.size());
  std::iota(order.begin(), order.end(), 0);
  order = declare_order(config.declare).value_or(order);
  std::set<std::string> failed;
  std::string unreachable;
  for (size_t i : order) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || generation != generation_) return;
    }
    const DeclaredQueue& q = config.declare[i];
    Outcome o;
    const std::string dead_letter = q.dead_letter_queue();
    if (!unreachable.empty()) {
      o.error = unreachable;
    } else if (failed.contains(dead_letter)) {
      o.error = "waiting for its dead-letter queue '" + dead_letter + "'";
    } else {
      o = declare_one(sqs, q);
      if (o.unreachable) unreachable = o.error;
    }
    if (!o.ok) failed.insert(q.name);
    record(generation, q.name, o.url, o.ok ? std::string() : o.error);
  }
}

void QueueDeclarer::record(uint64_t generation, const std::string& name, const std::string& url,
                           const std::string& error) {
  std::lock_guard lock(mu_);
  if (generation != generation_) return;
  for (QueueStatus& s : states_) {
    if (s.name != name) continue;
    ++s.attempts;
    if (!url.empty()) s.url = url;
    s.state = error.empty() ? State::kApplied : State::kPending;
    s.error = error;
    if (!error.empty()) ++s.failures;
  }
}

}  // namespace sluice::controlplane
