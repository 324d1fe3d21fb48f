#include "sqs_server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <latch>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "reactor.h"
#include "request_parser.h"
#include "response_writer.h"
#include "sigv4.h"
#include "sns_actions.h"
#include "sns_http_delivery.h"
#include "sqs_actions.h"
#include "thread_affinity.h"

namespace sluice::api {
namespace {

using sqs::ActionCall;

// How a service core waits when a pass found nothing to do: it keeps polling for a while after
// its last work (the next request or answer is usually microseconds away), then waits briefly
// (a durable shard's log completes on its own ring, not this one), then sleeps until its sockets
// or its doorbell wake it, or its shards' timers (long polls, visibility) are due.
constexpr auto kSpinFor = std::chrono::microseconds(200);
constexpr auto kShortWaitFor = std::chrono::milliseconds(50);
constexpr auto kShortWait = std::chrono::microseconds(50);
constexpr auto kShardTimerWait = std::chrono::milliseconds(5);
constexpr auto kIdleWait = std::chrono::milliseconds(50);

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

// Wakes a service core that sleeps in its reactor's wait: an eventfd its reactor watches, rung by
// the other cores after they put a call or an answer on a ring it reads.
struct Doorbell {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::atomic<bool> sleeping{false};

  ~Doorbell() { ::close(fd); }
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the ring's push before the look
    if (sleeping.exchange(false)) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
    }
  }
  void clear() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
  }
};

using Clock = std::chrono::steady_clock;

// One service core: its reactor's connections, the calls they have out at the shards, and the
// shards it runs itself.
class ApiCore final : public reactor::Handler {
 public:
  ApiCore(const ApiConfig& config, queue::ShardSet& shards, sns::TopicRegistry& topics,
          uint32_t source, std::vector<uint32_t> own_shards, Doorbell& doorbell)
      : config_(config),
        shards_(shards),
        topics_(topics),
        source_(source),
        own_shards_(std::move(own_shards)),
        doorbell_(doorbell),
        verifier_(verifier_options(config)) {}

  void run(int listen_fd, const std::atomic<bool>& running) {
    reactor::ReactorOptions options;
    options.max_input = config_.max_request_bytes + (1 << 20);
    reactor::Reactor reactor(options);
    reactor_ = &reactor;
    sns::HttpDeliverer deliverer(reactor,
                                 [this](sqs::Request send) { dead_letter(std::move(send)); });
    deliverer_ = &deliverer;
    reactor.listen(listen_fd, *this);
    reactor.watch(doorbell_.fd, [this] { doorbell_.clear(); });
    sweep_idle_connections();
    Clock::time_point last_work = Clock::now();
    Clock::duration wait{};
    while (running.load(std::memory_order_relaxed)) {
      reactor.run_once(wait);
      doorbell_.sleeping.store(false, std::memory_order_relaxed);
      const Clock::time_point now = Clock::now();
      if (work_pass() > 0) last_work = now;
      reactor.flush_queued();
      const Clock::duration idle = now - last_work;
      wait = idle < kSpinFor        ? Clock::duration{}
             : idle < kShortWaitFor ? Clock::duration(kShortWait)
             : own_shards_.empty()  ? Clock::duration(kIdleWait)
                                    : Clock::duration(kShardTimerWait);
      if (wait > Clock::duration{}) {
        // Announce the sleep, then look once more: a push made before the announcement did not
        // ring the doorbell.
        doorbell_.sleeping.store(true);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (work_pass() > 0) {
          doorbell_.sleeping.store(false, std::memory_order_relaxed);
          last_work = now;
          wait = {};
          reactor.flush_queued();
        }
      }
    }
    deliverer_ = nullptr;
    reactor_ = nullptr;
  }

  void on_open(reactor::Connection& conn) override {
    auto state = std::make_unique<ConnState>(parser_limits());
    state->conn = &conn;
    conn.user = state.get();
    states_.emplace(state.get(), std::move(state));
  }

  void on_data(reactor::Connection& conn) override {
    auto& s = *static_cast<ConnState*>(conn.user);
    if (!s.receiving) {
      s.receiving = true;
      s.request_since = Clock::now();
    }
    process(s);
  }

  void on_close(reactor::Connection& conn) override {
    auto* s = static_cast<ConnState*>(conn.user);
    s->conn = nullptr;
    // Calls still out at a shard come back later; the state goes with the last. A receive that
    // waits is ended, so that no message is handed to a client that is gone.
    if (s->waiting == 0) {
      states_.erase(s);
    } else if (s->request_action == sqs::Action::kReceiveMessage) {
      ActionCall* receive = s->calls.front();
      sqs::ReceiveMessageRequest target;
      target.queue.name = s->queue;
      s->request = {sqs::Action::kReceiveMessage, std::move(target)};
      ActionCall* cancel = make_call(*s, ActionCall::Part::kCancelReceive);
      cancel->cancelled = receive;
      submit(cancel, shards_.shard_of(s->queue));
    }
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
    sqs::Action request_action{};
    std::string queue;  // the one its shard runs it for
    std::vector<ActionCall*> calls;
    size_t waiting = 0;
    std::optional<sqs::Reply> sns_reply;       // a publish's answer, once its sends are taken
    std::vector<sns::Fallback> sns_fallbacks;  // by call: where a copy goes if not taken
    bool dead_letter = false;  // no connection: an http delivery's copy for its dead-letter queue
    bool http10 = false;
    bool receiving = false;  // part of a request is in
    Clock::time_point request_since = Clock::now(), idle_since = Clock::now();
  };

  static sigv4::Options verifier_options(const ApiConfig& config) {
    sigv4::Options o;
    o.services = {"sqs", "sns"};
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
      s.receiving = !in.empty();  // a pipelined request's bytes came with this one
      s.request_since = s.idle_since = Clock::now();
    }
  }

  // Once a second: a connection whose request has not arrived whole within the request timeout
  // is answered 408 and closed (a client that trickles bytes cannot hold a connection), and one
  // idle between requests for the idle timeout is closed. Connections with a call out at a shard
  // (a long poll) are neither.
  void sweep_idle_connections() {
    const Clock::time_point now = Clock::now();
    const auto request_timeout = std::chrono::seconds(config_.request_timeout_s);
    const auto idle_timeout = std::chrono::seconds(config_.idle_timeout_s);
    for (auto& [key, state] : states_) {
      ConnState& s = *state;
      if (s.conn == nullptr || s.waiting > 0 || s.conn->closing()) continue;
      if (s.receiving && now - s.request_since > request_timeout) {
        http::write_error(s.conn->output(), {408, "request not received in time"});
      } else if (s.receiving || now - s.idle_since <= idle_timeout) {
        continue;
      }
      s.conn->close_after_send();
      reactor_->flush_later(*s.conn);
    }
    reactor_->add_timer(std::chrono::seconds(1), [this] { sweep_idle_connections(); });
  }

  void answer(ConnState& s, const sqs::Reply& reply) {
    if (s.http10 && s.keep_alive) {
      // An HTTP/1.0 client keeps the connection only when the reply says so.
      sqs::Reply kept = reply;
      kept.headers.emplace_back("Connection", "keep-alive");
      http::write_response(s.conn->output(), kept.status, kept.headers, kept.body, true);
    } else {
      http::write_response(s.conn->output(), reply.status, reply.headers, reply.body, s.keep_alive);
    }
    if (!s.keep_alive) s.conn->close_after_send();
    reactor_->flush_later(*s.conn);
  }

  void answer_error(ConnState& s, sqs::Protocol protocol, const sqs::ApiError& error) {
    answer(s, sqs::encode_error(protocol, error, s.context.request_id));
  }

  void handle(ConnState& s, const http::Request& req) {
    s.keep_alive = req.keep_alive;
    s.http10 = req.version == http::Version::kHttp10;
    s.context.request_id = ids_.next();
    // The certificate of SNS signatures is public: subscribers fetch it unsigned.
    if (req.method == "GET" &&
        req.path == "/" + std::string(sns::MessageSigner::kCertificatePath)) {
      answer(
          s,
          {200, {{"Content-Type", "application/x-pem-file"}}, topics_.signer().certificate_pem()});
      return;
    }
    std::string sender = config_.account_id;
    if (config_.authentication && !sns::is_unsigned_confirmation(req)) {
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
    const std::string_view host = req.host.empty() ? std::string_view(listen_host_) : req.host;
    if (sns::is_sns_request(req)) {
      handle_sns(s, req, host);
      return;
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
    s.context.url_prefix = fmt::format("http://{}/{}/", host, config_.account_id);
    s.context.sender_id = std::move(sender);
    dispatch(s);
  }

  // An SNS request: run on the topic registry here; a publish's copies for queue subscriptions
  // go to the queues' shards as SendMessage calls, and the publish is answered once all are in.
  void handle_sns(ConnState& s, const http::Request& req, std::string_view host) {
    sns::Decoded decoded = sns::decode(req);
    if (decoded.error) {
      const sns::Reply reply = sns::encode_error(*decoded.error, s.context.request_id);
      answer(s, {reply.status, reply.headers, reply.body});
      return;
    }
    sns::Outcome outcome =
        sns::run(topics_, *decoded.request, fmt::format("http://{}/", host), s.context.request_id);
    sqs::Reply reply{outcome.reply.status, std::move(outcome.reply.headers),
                     std::move(outcome.reply.body)};
    for (sns::Delivery& post : outcome.posts) deliverer_->deliver(std::move(post));
    if (outcome.sends.empty()) {
      answer(s, reply);
      return;
    }
    s.sns_reply = std::move(reply);
    s.sns_fallbacks = std::move(outcome.fallbacks);
    s.request_action = sqs::Action::kSendMessage;
    s.context.protocol = sqs::Protocol::kQuery;
    s.context.url_prefix = fmt::format("http://{}/{}/", host, config_.account_id);
    s.context.sender_id = config_.account_id;
    for (sqs::Request& send : outcome.sends) {
      const std::string queue = sqs::owning_queue(send);
      s.request = std::move(send);
      submit(make_call(s, ActionCall::Part::kWhole), shards_.shard_of(queue));
    }
  }

  // A copy an http endpoint never took, sent to its subscription's dead-letter queue on a state
  // of its own that no connection waits for.
  void dead_letter(sqs::Request send) {
    auto state = std::make_unique<ConnState>(parser_limits());
    ConnState& s = *state;
    states_.emplace(&s, std::move(state));
    s.dead_letter = true;
    s.context.request_id = ids_.next();
    s.context.protocol = sqs::Protocol::kQuery;
    s.context.url_prefix = fmt::format("http://{}/{}/", listen_host_, config_.account_id);
    s.context.sender_id = config_.account_id;
    s.request_action = sqs::Action::kSendMessage;
    s.queue = sqs::owning_queue(send);
    s.request = std::move(send);
    submit(make_call(s, ActionCall::Part::kWhole), shards_.shard_of(s.queue));
  }

  void dispatch(ConnState& s) {
    const sqs::Action action = s.request.action;
    std::string queue = sqs::owning_queue(s.request);
    s.request_action = action;
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
    const uint32_t shard = shards_.shard_of(queue);
    s.queue = std::move(queue);
    submit(make_call(s, ActionCall::Part::kWhole), shard);
  }

  ActionCall* make_call(ConnState& s, ActionCall::Part part) {
    if (free_calls_.empty()) {
      all_calls_.push_back(std::make_unique<ActionCall>());
      free_calls_.push_back(all_calls_.back().get());
    }
    ActionCall* call = free_calls_.back();
    free_calls_.pop_back();
    // A whole request moves to its call (message bodies are not copied); list parts share it.
    if (part == ActionCall::Part::kWhole) {
      call->request = std::move(s.request);
    } else {
      call->request = s.request;
    }
    call->context = s.context;
    call->part = part;
    call->waiter = &s;
    s.calls.push_back(call);
    ++s.waiting;
    return call;
  }

  void submit(ActionCall* call, uint32_t shard) {
    if (!backlog_.empty() || !shards_.submit_to(source_, shard, call))
      backlog_.push_back({call, shard});
  }

  void submit_backlog() {
    while (!backlog_.empty() &&
           shards_.submit_to(source_, backlog_.front().shard, backlog_.front().call)) {
      backlog_.pop_front();
    }
  }

  // The core's own shards, the answers that came back, the calls that waited for room on a
  // ring; again while one step gave the next something to do (a request answered here lets the
  // connection's next pipelined request go to the shard). Returns the work done.
  size_t work_pass() {
    size_t total = 0;
    for (int round = 0; round < 4; ++round) {
      size_t work = 0;
      for (uint32_t shard : own_shards_) work += shards_.run_once(shard);
      work += collect_answers();
      submit_backlog();
      total += work;
      if (work == 0) break;
    }
    return total;
  }

  size_t collect_answers() {
    size_t answers = 0;
    while (queue::ShardCall* done = shards_.poll(source_)) {
      ++answers;
      auto* call = static_cast<ActionCall*>(done);
      auto* s = static_cast<ConnState*>(call->waiter);
      if (--s->waiting > 0) continue;
      s->idle_since = Clock::now();
      finish(*s);
    }
    return answers;
  }

  void finish(ConnState& s) {
    if (s.conn != nullptr) {
      if (s.sns_reply) {
        answer(s, *s.sns_reply);
      } else if (s.calls.front()->part == ActionCall::Part::kWhole) {
        answer(s, s.calls.front()->reply);
      } else {
        answer(s, sqs::merge_list_parts(s.request, s.context, s.calls));
      }
    } else if (s.dead_letter && s.calls.front()->reply.status != 200) {
      fmt::print(stderr, "sluice-dataplane: sns: dead-letter queue {} refused a message: {}\n",
                 s.queue, s.calls.front()->reply.body);
    }
    // A publish's copies that their queues did not take (a queue deleted since it was
    // subscribed) go to their subscriptions' dead-letter queues.
    std::vector<sqs::Request> undelivered;
    for (sns::Fallback& f : s.sns_fallbacks) {
      const sqs::Reply& taken = s.calls[f.send]->reply;
      if (taken.status == 200) continue;
      undelivered.push_back(sns::dead_letter_copy(
          std::move(f.queue), std::move(f.body), "ClientError",
          fmt::format("the queue did not take the copy (HTTP status {})", taken.status)));
    }
    s.sns_fallbacks.clear();
    free_calls_.insert(free_calls_.end(), s.calls.begin(), s.calls.end());
    s.calls.clear();
    s.sns_reply.reset();
    for (sqs::Request& send : undelivered) dead_letter(std::move(send));
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
  sns::TopicRegistry& topics_;
  const uint32_t source_;
  const std::vector<uint32_t> own_shards_;
  Doorbell& doorbell_;
  sigv4::Verifier verifier_;
  RequestIds ids_;
  std::string listen_host_ = fmt::format("{}:{}", config_.address, config_.port);
  reactor::Reactor* reactor_ = nullptr;
  sns::HttpDeliverer* deliverer_ = nullptr;
  std::unordered_map<ConnState*, std::unique_ptr<ConnState>> states_;
  // Every call this core has made, reused once answered; calls still out at the shards when the
  // service stops are freed with the core, after the shards have stopped.
  std::vector<std::unique_ptr<ActionCall>> all_calls_;
  std::vector<ActionCall*> free_calls_;
  std::deque<Pending> backlog_;
};

QueueService::QueueService(ApiConfig api, QueuesConfig queues)
    : api_(std::move(api)), queues_(std::move(queues)) {}

QueueService::~QueueService() {
  stop();
}

void QueueService::start() {
  const size_t cores = std::max<size_t>(1, api_.cores.size());
  for (size_t i = 0; i < cores; ++i) doorbells_.push_back(std::make_unique<Doorbell>());
  queue::ShardSetConfig sc;
  sc.shards = queues_.shards == 0 ? static_cast<uint32_t>(cores) : queues_.shards;
  sc.sources = static_cast<uint32_t>(cores);
  sc.directory = queues_.directory;
  sc.engine.region = api_.region;
  sc.engine.account_id = api_.account_id;
  sc.engine.memory_budget_bytes = queues_.memory_budget_mb << 20;
  // Message ids must not repeat across restarts: a fresh seed each start (a durable shard keeps
  // its receipt-handle key in its log).
  std::random_device entropy;
  sc.engine.seed = uint64_t{entropy()} << 32 | entropy();
  sc.on_request = [this, cores](uint32_t shard) { doorbells_[shard % cores]->ring(); };
  sc.on_reply = [this](uint32_t source) { doorbells_[source]->ring(); };
  std::string error;
  shards_ = queue::ShardSet::open(sc, clock_, &error);
  if (!shards_) throw std::runtime_error("queues.directory: " + error);
  topics_ = std::make_unique<sns::TopicRegistry>(api_.region, api_.account_id, queues_.directory);
  declare_queues();

  // Every core has a listener of its own on the same port (SO_REUSEPORT): the kernel spreads
  // connections over them. Port 0 takes the port the first one was given.
  std::vector<int> listeners;
  uint16_t port = api_.port;
  if (port != 0 && reactor::port_in_use(api_.address, port)) {
    throw std::runtime_error("api.listen: " + api_.address + ":" + std::to_string(port) +
                             " is in use by another process");
  }
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
  running_ = true;
  stopped_ = std::make_unique<std::latch>(static_cast<std::ptrdiff_t>(cores));
  for (size_t i = 0; i < cores; ++i) {
    threads_.emplace_back([this, i, fd = listeners[i]] { run_core(i, fd); });
  }
}

void QueueService::run_core(size_t index, int listen_fd) {
  if (index < api_.cores.size() && !run_on_cpu(api_.cores[index])) {
    fmt::print(stderr, "sluice-dataplane: api.cores: cannot run on CPU {}\n", api_.cores[index]);
  }
  // Shard s runs on core s % cores: a queue's requests from this core's connections go to a
  // shard in the same loop when it is one of these, over to another core's otherwise.
  std::vector<uint32_t> own;
  for (uint32_t shard = static_cast<uint32_t>(index); shard < shards_->shard_count();
       shard += static_cast<uint32_t>(doorbells_.size())) {
    own.push_back(shard);
  }
  ApiCore core(api_, *shards_, *topics_, static_cast<uint32_t>(index), std::move(own),
               *doorbells_[index]);
  try {
    core.run(listen_fd, running_);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice-dataplane: service core {} stopped: {}\n", index, e.what());
  }
  // No core frees its calls before every core has stopped running shards: a shard may hold a
  // call of another core (a long poll) until then.
  stopped_->arrive_and_wait();
}

void QueueService::stop() {
  if (!running_.exchange(false)) return;
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
