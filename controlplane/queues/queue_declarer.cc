#include "queue_declarer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "sqs_client.h"

namespace sluice::controlplane {
namespace {

using Json = SqsClient::Json;

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
