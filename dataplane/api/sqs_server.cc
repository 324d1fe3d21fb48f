#include "sqs_server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "reactor.h"
#include "request_parser.h"
#include "response_writer.h"
#include "sigv4.h"
#include "sqs_actions.h"
#include "thread_affinity.h"

namespace sluice::api {
namespace {

using sqs::ActionCall;

// How long a reactor waits for the kernel while calls are out at the shards: not at all for the
// first passes after an answer (the next one is usually microseconds away), then briefly. Long
// polls alone are checked on a slower beat; with nothing out, the wait is the stop check's.
constexpr int kSpinPasses = 2000;
constexpr auto kShortWait = std::chrono::microseconds(50);
constexpr auto kLongPollWait = std::chrono::milliseconds(1);
constexpr auto kIdleWait = std::chrono::milliseconds(20);

// Request ids in the UUID form AWS uses, unique per core.
class RequestIds {
 public:
  RequestIds() : rng_(std::random_device{}()) {}
  std::string next() {
    const uint64_t a = rng_(), b = rng_();
    return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                       a & 0xfff, 0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffff);
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

// One service core: its reactor's connections and the calls they have out at the shards.
class ApiCore final : public reactor::Handler {
 public:
  ApiCore(const ApiConfig& config, queue::ShardSet& shards, uint32_t source)
      : config_(config), shards_(shards), source_(source), verifier_(verifier_options(config)) {}

  void run(int listen_fd, const std::atomic<bool>& running) {
    reactor::ReactorOptions options;
    options.max_input = config_.max_request_bytes + (1 << 20);
    reactor::Reactor reactor(options);
    reactor_ = &reactor;
    reactor.listen(listen_fd, *this);
    int spins = 0;
    while (running.load(std::memory_order_relaxed)) {
      const auto wait =
          fast_calls_ > 0 ? (spins < kSpinPasses ? reactor::Reactor::Clock::duration{} : kShortWait)
          : long_polls_ > 0 ? kLongPollWait
                            : kIdleWait;
      reactor.run_once(wait);
      const bool answered = collect_answers();
      submit_backlog();
      reactor.flush_queued();
      spins = answered ? 0 : spins + 1;
    }
    reactor_ = nullptr;
  }

  void on_open(reactor::Connection& conn) override {
    auto state = std::make_unique<ConnState>(parser_limits());
    state->conn = &conn;
    conn.user = state.get();
    states_.emplace(state.get(), std::move(state));
  }

  void on_data(reactor::Connection& conn) override { process(*static_cast<ConnState*>(conn.user)); }

  void on_close(reactor::Connection& conn) override {
    auto* s = static_cast<ConnState*>(conn.user);
    s->conn = nullptr;
    // Calls still out at a shard (a long poll) come back later; the state goes with the last.
    if (s->waiting == 0) states_.erase(s);
  }

 private:
  struct ConnState {
    explicit ConnState(const http::Limits& limits) : parser(limits) {}
    reactor::Connection* conn = nullptr;
    http::RequestParser parser;
    bool continue_sent = false;
    bool keep_alive = true;
    // The request being answered: its calls out at the shards.
    sqs::Request request{};
    sqs::CallContext context;
    std::vector<ActionCall*> calls;
    size_t waiting = 0;
    bool long_poll = false;
  };

  static sigv4::Options verifier_options(const ApiConfig& config) {
    sigv4::Options o;
    o.services = {"sqs"};
    o.secret_for = [keys = config.access_keys](std::string_view id) -> std::optional<std::string> {
      for (const auto& k : keys) {
        if (k.id == id) return k.secret;
      }
      return std::nullopt;
    };
    return o;
  }

  http::Limits parser_limits() const {
    http::Limits limits;
    limits.max_body_bytes = config_.max_request_bytes;
    return limits;
  }

  // Takes the connection's requests in order while none is waiting for a shard.
  void process(ConnState& s) {
    while (s.conn != nullptr && s.waiting == 0 && !s.conn->closing()) {
      std::string& in = s.conn->input();
      if (in.empty()) return;
      const auto status = s.parser.parse(in);
      if (status == http::RequestParser::Status::kIncomplete) {
        if (s.parser.head_complete() && s.parser.request().expect_continue && !s.continue_sent) {
          http::write_continue(s.conn->output());
          s.continue_sent = true;
          reactor_->flush_later(*s.conn);
        }
        return;
      }
      if (status == http::RequestParser::Status::kError) {
        http::write_error(s.conn->output(), s.parser.error());
        s.conn->close_after_send();
        reactor_->flush_later(*s.conn);
        return;
      }
      handle(s, s.parser.request());
      in.erase(0, s.parser.consumed());
      s.parser.reset();
      s.continue_sent = false;
    }
  }

  void answer(ConnState& s, const sqs::Reply& reply) {
    http::write_response(s.conn->output(), reply.status, reply.headers, reply.body, s.keep_alive);
    if (!s.keep_alive) s.conn->close_after_send();
    reactor_->flush_later(*s.conn);
  }

  void answer_error(ConnState& s, sqs::Protocol protocol, const sqs::ApiError& error) {
    answer(s, sqs::encode_error(protocol, error, s.context.request_id));
  }

  void handle(ConnState& s, const http::Request& req) {
    s.keep_alive = req.keep_alive;
    s.context.request_id = ids_.next();
    std::string sender = config_.account_id;
    if (config_.authentication) {
      const sigv4::Result auth = verifier_.verify(req);
      if (!auth.ok()) {
        const std::string_view code = sigv4::error_code(auth.error);
        answer_error(
            s, sqs::detect_protocol(req),
            {.name = code, .query_code = code, .status = auth.status, .message = auth.message});
        return;
      }
      sender = auth.access_key_id;
    }
    sqs::Decoded decoded = sqs::decode(req);
    s.context.protocol = decoded.protocol;
    if (decoded.error) {
      answer_error(s, decoded.protocol, *decoded.error);
      return;
    }
    s.request = std::move(*decoded.request);
    if (auto wrong = sqs::check_account(s.request, config_.account_id)) {
      answer_error(s, decoded.protocol, *wrong);
      return;
    }
    const std::string_view host = req.host.empty() ? std::string_view(listen_host_) : req.host;
    s.context.url_prefix = fmt::format("http://{}/{}/", host, config_.account_id);
    s.context.sender_id = std::move(sender);
    dispatch(s);
  }

  void dispatch(ConnState& s) {
    const sqs::Action action = s.request.action;
    const std::string queue = sqs::owning_queue(s.request);
    if (sqs::spans_shards(action)) {
      const auto max_results =
          action == sqs::Action::kListQueues
              ? std::get<sqs::ListQueuesRequest>(s.request.params).max_results
              : std::get<sqs::ListDeadLetterSourceQueuesRequest>(s.request.params).max_results;
      if (max_results && (*max_results < 1 || *max_results > 1000)) {
        answer_error(s, s.context.protocol,
                     sqs::api_error(queue::ErrorCode::kInvalidParameterValue,
                                    "Value for parameter MaxResults is invalid. Reason: must be "
                                    "between 1 and 1000."));
        return;
      }
      const auto part = action == sqs::Action::kListQueues ? ActionCall::Part::kQueueNames
                                                           : ActionCall::Part::kDeadLetterSources;
      const uint32_t owner = shards_.shard_of(queue);
      for (uint32_t shard = 0; shard < shards_.shard_count(); ++shard) {
        ActionCall* call = make_call(s, part);
        call->list_owner = shard == owner;
        submit(call, shard);
      }
      return;
    }
    ActionCall* call = make_call(s, ActionCall::Part::kWhole);
    if (action == sqs::Action::kReceiveMessage) {
      const auto& r = std::get<sqs::ReceiveMessageRequest>(s.request.params);
      // A receive without WaitTimeSeconds may still wait: the queue's own wait time decides.
      s.long_poll = !r.wait_time_s || *r.wait_time_s > 0;
    }
    submit(call, shards_.shard_of(queue));
  }

  ActionCall* make_call(ConnState& s, ActionCall::Part part) {
    if (free_calls_.empty()) {
      all_calls_.push_back(std::make_unique<ActionCall>());
      free_calls_.push_back(all_calls_.back().get());
    }
    ActionCall* call = free_calls_.back();
    free_calls_.pop_back();
    call->request = s.request;
    call->context = s.context;
    call->part = part;
    call->waiter = &s;
    s.calls.push_back(call);
    ++s.waiting;
    return call;
  }

  void submit(ActionCall* call, uint32_t shard) {
    auto* s = static_cast<ConnState*>(call->waiter);
    if (s->long_poll) {
      ++long_polls_;
    } else {
      ++fast_calls_;
    }
    if (!backlog_.empty() || !shards_.submit_to(source_, shard, call))
      backlog_.push_back({call, shard});
  }

  void submit_backlog() {
    while (!backlog_.empty() &&
           shards_.submit_to(source_, backlog_.front().shard, backlog_.front().call)) {
      backlog_.pop_front();
    }
  }

  bool collect_answers() {
    bool any = false;
    while (queue::ShardCall* done = shards_.poll(source_)) {
      any = true;
      auto* call = static_cast<ActionCall*>(done);
      auto* s = static_cast<ConnState*>(call->waiter);
      if (s->long_poll) {
        --long_polls_;
      } else {
        --fast_calls_;
      }
      if (--s->waiting > 0) continue;
      finish(*s);
    }
    return any;
  }

  void finish(ConnState& s) {
    if (s.conn != nullptr) {
      if (s.calls.front()->part == ActionCall::Part::kWhole) {
        answer(s, s.calls.front()->reply);
      } else {
        answer(s, sqs::merge_list_parts(s.request, s.context, s.calls));
      }
    }
    free_calls_.insert(free_calls_.end(), s.calls.begin(), s.calls.end());
    s.calls.clear();
    s.long_poll = false;
    if (s.conn == nullptr) {
      states_.erase(&s);
      return;
    }
    process(s);  // the requests pipelined behind this one
  }

  struct Pending {
    ActionCall* call;
    uint32_t shard;
  };

  const ApiConfig& config_;
  queue::ShardSet& shards_;
  const uint32_t source_;
  sigv4::Verifier verifier_;
  RequestIds ids_;
  std::string listen_host_ = fmt::format("{}:{}", config_.address, config_.port);
  reactor::Reactor* reactor_ = nullptr;
  std::unordered_map<ConnState*, std::unique_ptr<ConnState>> states_;
  // Every call this core has made, reused once answered; calls still out at the shards when the
  // service stops are freed with the core, after the shards have stopped.
  std::vector<std::unique_ptr<ActionCall>> all_calls_;
  std::vector<ActionCall*> free_calls_;
  std::deque<Pending> backlog_;
  size_t fast_calls_ = 0;
  size_t long_polls_ = 0;
};

QueueService::QueueService(ApiConfig api, QueuesConfig queues)
    : api_(std::move(api)), queues_(std::move(queues)) {}

QueueService::~QueueService() {
  stop();
}

void QueueService::start() {
  const size_t cores = std::max<size_t>(1, api_.cores.size());
  queue::ShardSetConfig sc;
  sc.shards = queues_.shards;
  sc.sources = static_cast<uint32_t>(cores);
  sc.cores = queues_.cores;
  sc.directory = queues_.directory;
  sc.engine.region = api_.region;
  sc.engine.account_id = api_.account_id;
  sc.engine.memory_budget_bytes = queues_.memory_budget_mb << 20;
  // Message ids must not repeat across restarts: a fresh seed each start (a durable shard keeps
  // its receipt-handle key in its log).
  std::random_device entropy;
  sc.engine.seed = uint64_t{entropy()} << 32 | entropy();
  std::string error;
  shards_ = queue::ShardSet::open(sc, clock_, &error);
  if (!shards_) throw std::runtime_error("queues.directory: " + error);
  declare_queues();

  // Every reactor has a listener of its own on the same port (SO_REUSEPORT): the kernel spreads
  // connections over them. Port 0 takes the port the first one was given.
  std::vector<int> listeners;
  uint16_t port = api_.port;
  for (size_t i = 0; i < cores; ++i) {
    listeners.push_back(reactor::open_listener(api_.address, port));
    if (port == 0) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      getsockname(listeners.back(), reinterpret_cast<sockaddr*>(&addr), &len);
      port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    }
  }
  port_ = port;
  api_.port = port;
  shards_->start();
  running_ = true;
  for (size_t i = 0; i < cores; ++i) {
    threads_.emplace_back([this, i, fd = listeners[i]] { run_core(i, fd); });
  }
}

void QueueService::run_core(size_t index, int listen_fd) {
  if (index < api_.cores.size() && !run_on_cpu(api_.cores[index])) {
    fmt::print(stderr, "sluice-dataplane: api.cores: cannot run on CPU {}\n", api_.cores[index]);
  }
  ApiCore core(api_, *shards_, static_cast<uint32_t>(index));
  try {
    core.run(listen_fd, running_);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice-dataplane: API core {} stopped: {}\n", index, e.what());
    ++failed_;
  }
}

void QueueService::stop() {
  if (!running_.exchange(false)) return;
  // The shards stop first: none of them may answer a call once its core is gone.
  shards_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void QueueService::declare_queues() {
  for (const DeclaredQueue& q : queues_.declared) {
    queue::QueueEngine& engine = shards_->engine(shards_->shard_of(q.name));
    std::vector<queue::AttributeValue> attributes;
    for (const auto& [n, v] : q.attributes) attributes.push_back({n, v});
    std::vector<queue::Tag> tags;
    for (const auto& [k, v] : q.tags) tags.push_back({k, v});
    auto created = engine.create_queue({.name = q.name, .attributes = attributes, .tags = tags});
    queue::Status status;
    if (!created && created.error().code == queue::ErrorCode::kQueueAlreadyExists) {
      // Declared again with other settings (the log kept the old ones): the file wins.
      status = engine.set_attributes(q.name, attributes);
      if (status) status = engine.tag_queue(q.name, tags);
    } else if (!created) {
      status = created.error();
    }
    if (!status) {
      throw std::runtime_error("queues.declare: queue '" + q.name + "': " + status.error().message);
    }
  }
}

}  // namespace sluice::api
