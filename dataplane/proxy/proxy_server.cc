#include "proxy_server.h"

#include <arpa/inet.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "forwarding.h"
#include "reactor.h"
#include "redirect.h"
#include "request_parser.h"
#include "response_parser.h"
#include "response_writer.h"
#include "target_picker.h"
#include "thread_affinity.h"

namespace sluice::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using http::iequals;

constexpr int kMaxTries = 3;  // a request goes to at most this many targets when connects fail
constexpr auto kLoopWait = std::chrono::milliseconds(50);
// Output queued for a peer beyond which the other side's receiving pauses until it drains.
constexpr size_t kHighWater = 1 << 20;

std::string format_peer(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
    return fmt::format("{}:{}", buf, port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
  port = ntohs(a->sin6_port);
  // A v4-mapped peer on a dual-stack listener reads as plain IPv4.
  if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
    inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    return fmt::format("{}:{}", buf, port);
  }
  return fmt::format("[{}]:{}", buf, port);
}

IpAddress peer_address(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET)
    return IpAddress::from_v4(
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr));
  return IpAddress::from_v6(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr.s6_addr);
}

sockaddr_storage target_sockaddr(const Target& t) {
  sockaddr_storage ss{};
  if (t.address.is_v4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(t.port);
    std::memcpy(&a->sin_addr, t.address.v4(), 4);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(t.port);
    std::memcpy(&a->sin6_addr, t.address.bytes.data(), 16);
  }
  return ss;
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
      1'000'000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(t)), us);
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct UpstreamState;

// One client connection and the request it is being served.
struct ClientState {
  enum class Phase : uint8_t { kRequest, kForwarding, kTunnel };

  reactor::Connection* conn = nullptr;
  size_t listener = 0;
  std::string peer;  // address:port
  IpAddress source;
  std::string source_text;  // the address alone, for X-Forwarded-For
  http::RequestParser parser;
  Phase phase = Phase::kRequest;
  uint64_t timer = 0;  // idle or request timeout, client side

  // The request being forwarded.
  std::shared_ptr<const ProxyRuntime> runtime;
  UpstreamState* upstream = nullptr;
  std::string upstream_request;  // as sent to the target, kept for a retry elsewhere
  std::string method, url, version, user_agent, host, rule_name, rule_priority;
  size_t request_bytes = 0;
  bool keep_alive = true;
  bool head_request = false;
  bool retryable = false;
  bool sticky_cookie = false;  // a balancer cookie goes out with the response
  bool response_started = false;
  bool sent_continue = false;  // "100 Continue" went out for the request being received
  bool awaiting_rest = false;  // the request timeout runs for a request begun
  int group = -1, target = -1, tries = 0;
  std::vector<int> tried;
  uint16_t status = 0;
  int target_status = -1;
  uint64_t sent_bytes = 0;
  Clock::time_point began, sent_at, head_at;
  std::chrono::system_clock::time_point began_wall;
};

// One connection to a target: serving a client's request, or idle in the pool.
struct UpstreamState {
  reactor::Connection* conn = nullptr;
  std::string key;    // address:port
  std::string group;  // the target group it was opened for (counters)
  ClientState* client = nullptr;
  http::ResponseParser parser;
  bool head_done = false;
  bool reused = false;     // served a request before this one
  bool got_bytes = false;  // something arrived for the current request
  bool tunnel = false;
  uint64_t timer = 0;
};

class ProxyCore final : public reactor::Handler {
 public:
  ProxyCore(const ProxySettings& settings, const RuntimeSlot& slot, AccessLog* log,
            ProxyStats& stats, uint64_t seed)
      : settings_(settings), slot_(slot), access_log_(log), stats_(stats), rng_(seed) {
    limits_.max_head_bytes = settings.max_head_bytes;
    limits_.max_body_bytes = settings.max_body_bytes;
  }

  void run(const std::vector<int>& listen_fds, const std::atomic<bool>& running) {
    reactor::ReactorOptions options;
    options.max_input = settings_.max_body_bytes + settings_.max_head_bytes + (1 << 20);
    reactor::Reactor reactor(options);
    reactor_ = &reactor;
    take_runtime();
    listener_handlers_.reserve(listen_fds.size());
    for (size_t i = 0; i < listen_fds.size(); ++i)
      listener_handlers_.push_back(std::make_unique<ListenerHandler>(*this, i));
    for (size_t i = 0; i < listen_fds.size(); ++i)
      reactor.listen(listen_fds[i], *listener_handlers_[i]);
    while (running.load(std::memory_order_relaxed)) {
      reactor.run_once(kLoopWait);
      if (slot_.generation() != runtime_->generation) take_runtime();
      if (access_log_ != nullptr) access_log_->hand_over(log_lines_);
    }
    // Closing from here calls back into the handlers while they still exist.
    std::vector<reactor::Connection*> open;
    for (auto& [state, owned] : clients_) open.push_back(state->conn);
    for (reactor::Connection* c : open) reactor.close(*c);
    std::vector<reactor::Connection*> upstreams;
    for (auto& [state, owned] : upstreams_) upstreams.push_back(state->conn);
    for (reactor::Connection* c : upstreams) reactor.close(*c);
    if (access_log_ != nullptr) access_log_->hand_over(log_lines_);
    reactor_ = nullptr;
  }

  // Target connections are handled by the core itself; each listener has a small handler that
  // knows which listener accepted.
  void on_open(reactor::Connection& conn) override { upstream_connected(conn); }
  void on_data(reactor::Connection& conn) override { upstream_data(conn); }
  void on_close(reactor::Connection& conn) override { upstream_closed(conn); }
  // A target connection's output (a request body, tunnel bytes) has left: the client may send
  // more.
  void on_drained(reactor::Connection& conn) override {
    auto& u = *static_cast<UpstreamState*>(conn.user);
    if (u.client != nullptr) reactor_->resume_receive(*u.client->conn);
  }

 private:
  struct ListenerHandler final : reactor::Handler {
    ListenerHandler(ProxyCore& core, size_t index) : core(core), index(index) {}
    void on_open(reactor::Connection& conn) override { core.client_opened(conn, index); }
    void on_data(reactor::Connection& conn) override { core.client_data(conn); }
    void on_close(reactor::Connection& conn) override { core.client_closed(conn); }
    void on_drained(reactor::Connection& conn) override { core.client_drained(conn); }
    ProxyCore& core;
    size_t index;
  };

  // ---- configuration -----------------------------------------------------------------------

  void take_runtime() {
    std::shared_ptr<const ProxyRuntime> next = slot_.current();
    const auto now = Clock::now();
    std::vector<std::unique_ptr<TargetPicker>> pickers;
    for (const TargetGroup& g : next->config.target_groups) {
      const TargetPicker* previous = nullptr;
      if (runtime_ != nullptr) {
        auto it = runtime_->group_index.find(g.name);
        if (it != runtime_->group_index.end()) previous = pickers_[it->second].get();
      }
      pickers.push_back(std::make_unique<TargetPicker>(g, rng_(), previous, now));
    }
    pickers_ = std::move(pickers);
    runtime_ = std::move(next);
    // Idle target connections to targets that left their group are closed.
    std::vector<UpstreamState*> stale;
    for (auto& [key, list] : pool_)
      if (!target_in_runtime(key)) stale.insert(stale.end(), list.begin(), list.end());
    for (UpstreamState* u : stale) reactor_->close(*u->conn);
  }

  bool target_in_runtime(const std::string& key) const {
    return runtime_->all_target_keys.contains(key);
  }

  // The picker of `group` in the current runtime for a request routed with `routed`, and the
  // index of its target there (-1 when the target left the group).
  std::pair<TargetPicker*, int> current_picker(const ClientState& s) {
    if (s.group < 0 || s.target < 0) return {nullptr, -1};
    if (s.runtime == runtime_) return {pickers_[static_cast<size_t>(s.group)].get(), s.target};
    const TargetGroup& g = s.runtime->config.target_groups[static_cast<size_t>(s.group)];
    auto it = runtime_->group_index.find(g.name);
    if (it == runtime_->group_index.end()) return {nullptr, -1};
    const Target& t = g.targets[static_cast<size_t>(s.target)];
    TargetPicker* picker = pickers_[it->second].get();
    const int now = picker->find(t.address, t.port);
    return now < 0 ? std::pair<TargetPicker*, int>{nullptr, -1} : std::pair{picker, now};
  }

  // ---- client side -------------------------------------------------------------------------

  void client_opened(reactor::Connection& conn, size_t listener) {
    auto state = std::make_unique<ClientState>();
    state->conn = &conn;
    state->listener = listener;
    state->peer = format_peer(conn.peer());
    state->source = peer_address(conn.peer());
    state->source_text = format_ip_address(state->source);
    state->parser = http::RequestParser(limits_);
    conn.user = state.get();
    ClientState* s = state.get();
    clients_.emplace(s, std::move(state));
    {
      std::lock_guard lock(stats_.mutex);
      ++stats_.listeners[listener_name(*s)].connections;
    }
    arm_client_timer(*s, settings_.idle_timeout_s);
  }

  const std::string& listener_name(const ClientState& s) const {
    return runtime_->config.listeners[s.listener].name;
  }

  void arm_client_timer(ClientState& s, uint32_t seconds) {
    if (s.timer != 0) reactor_->cancel_timer(s.timer);
    s.timer = reactor_->add_timer(std::chrono::seconds(seconds), [this, &s] {
      s.timer = 0;
      client_timed_out(s);
    });
  }

  void client_timed_out(ClientState& s) {
    if (s.phase == ClientState::Phase::kRequest && !s.conn->input().empty()) {
      // Part of a request and no more within the request timeout: a slow or stalled client.
      count_bad_request(s);
      http::write_error(s.conn->output(), {408, "request not received in time"});
      s.conn->close_after_send();
      reactor_->flush_later(*s.conn);
      return;
    }
    reactor_->close(*s.conn);
  }

  // What was queued for the client has left: the target may send more of the response.
  void client_drained(reactor::Connection& conn) {
    auto& s = *static_cast<ClientState*>(conn.user);
    if (s.upstream != nullptr) reactor_->resume_receive(*s.upstream->conn);
  }

  // Relays bytes to `to`, pausing `from` while `to` has more queued than it should hold.
  void relay(reactor::Connection& from, reactor::Connection& to, std::string_view bytes) {
    to.send(bytes);
    reactor_->flush_later(to);
    if (to.pending_output() > kHighWater) reactor_->pause_receive(from);
  }

  void client_data(reactor::Connection& conn) {
    auto& s = *static_cast<ClientState*>(conn.user);
    if (s.phase == ClientState::Phase::kTunnel) {
      if (s.upstream != nullptr) {
        relay(conn, *s.upstream->conn, conn.input());
        arm_client_timer(s, settings_.idle_timeout_s);
      }
      conn.input().clear();
      return;
    }
    if (s.phase == ClientState::Phase::kRequest) next_request(s);
  }

  // Parses and serves requests from the client's input until one must wait for a target or the
  // input holds no whole request.
  void next_request(ClientState& s) {
    reactor::Connection& conn = *s.conn;
    while (s.phase == ClientState::Phase::kRequest && !conn.closing() && !conn.input().empty()) {
      const auto status = s.parser.parse(conn.input());
      if (status == http::RequestParser::Status::kError) {
        count_bad_request(s);
        http::write_error(conn.output(), s.parser.error());
        conn.close_after_send();
        log_refusal(s, s.parser.error().status);
        return;
      }
      if (status == http::RequestParser::Status::kIncomplete) {
        if (s.parser.head_complete() && s.parser.request().expect_continue && !s.sent_continue) {
          http::write_continue(conn.output());
          s.sent_continue = true;
        }
        if (!s.awaiting_rest) {
          s.awaiting_rest = true;
          arm_client_timer(s, settings_.request_timeout_s);
        }
        return;
      }
      s.sent_continue = false;
      s.awaiting_rest = false;
      serve(s, s.parser.request());
      if (s.phase == ClientState::Phase::kRequest) finish_request(s);
    }
  }

  void count_bad_request(ClientState& s) {
    std::lock_guard lock(stats_.mutex);
    ++stats_.listeners[listener_name(s)].bad_requests;
  }

  // The request is answered (by the proxy, or the target's response has ended): the next one
  // may be parsed.
  void finish_request(ClientState& s) {
    reactor::Connection& conn = *s.conn;
    conn.input().erase(0, s.parser.consumed());
    s.parser.reset();
    s.phase = ClientState::Phase::kRequest;
    s.runtime.reset();
    if (!s.keep_alive) {
      conn.close_after_send();
    } else {
      arm_client_timer(s, settings_.idle_timeout_s);
    }
    reactor_->flush_later(conn);
  }

  void serve(ClientState& s, const http::Request& req) {
    s.runtime = runtime_;
    s.began = Clock::now();
    s.began_wall = std::chrono::system_clock::now();
    s.method.assign(req.method);
    s.version = req.version == http::Version::kHttp10 ? "HTTP/1.0" : "HTTP/1.1";
    const Listener& listener = runtime_->config.listeners[s.listener];
    s.host.assign(req.host);
    s.url = fmt::format("http://{}{}", req.host, req.target);
    const http::Header* ua = req.find("user-agent");
    s.user_agent.assign(ua == nullptr ? std::string_view() : ua->value);
    s.request_bytes = s.parser.consumed();
    s.keep_alive = req.keep_alive;
    s.head_request = req.method == "HEAD";
    s.group = s.target = -1;
    s.tries = 0;
    s.tried.clear();
    s.status = 0;
    s.target_status = -1;
    s.sent_bytes = 0;
    s.sticky_cookie = false;
    s.response_started = false;

    MatchInput in;
    in.method = req.method;
    in.host = req.host;
    in.path = req.path;
    in.query = req.query;
    in.headers = std::span<const http::Header>(req.headers.data(), req.header_count);
    in.source = s.source;
    scratch_.prepare(*runtime_->matchers[s.listener]);
    const int rule = runtime_->matchers[s.listener]->match(in, scratch_);
    const Action& action =
        rule < 0 ? listener.default_action : listener.rules[static_cast<size_t>(rule)].action;
    s.rule_name = rule < 0 ? "default" : listener.rules[static_cast<size_t>(rule)].name;
    s.rule_priority =
        rule < 0 ? "-" : std::to_string(listener.rules[static_cast<size_t>(rule)].priority);
    {
      std::lock_guard lock(stats_.mutex);
      ++stats_.listeners[listener.name].rule_requests[s.rule_name];
    }
    switch (action.kind) {
      case Action::Kind::kFixedResponse: {
        const FixedResponseAction& f = action.fixed_response;
        answer(s, f.status, {{"Content-Type", f.content_type}}, f.body, "fixed-response", "");
        return;
      }
      case Action::Kind::kRedirect: {
        const std::string_view host = host_without_port(req.host);
        const std::string port = std::to_string(listener.port);
        const RedirectContext ctx{"http", host, port, req.path, req.query};
        const std::string location = redirect_location(action.redirect, ctx);
        answer(s, action.redirect.status, {{"Location", location}}, "", "redirect", location);
        return;
      }
      case Action::Kind::kForward:
        forward(s, req, action);
        return;
    }
  }

  // A response the proxy makes itself.
  void answer(ClientState& s, uint16_t status, http::HeaderList headers, std::string_view body,
              std::string_view actions, std::string_view redirect_url,
              std::string_view error_reason = "") {
    std::string& out = s.conn->output();
    const size_t before = out.size();
    http::write_response(out, status, headers, s.head_request ? std::string_view() : body,
                         s.keep_alive);
    if (s.head_request && !body.empty()) {
      // A HEAD answer tells the length the body would have had.
      const std::string wrong = "Content-Length: 0\r\n";
      const size_t at = out.find(wrong, before);
      if (at != std::string::npos)
        out.replace(at, wrong.size(), fmt::format("Content-Length: {}\r\n", body.size()));
    }
    s.status = status;
    s.sent_bytes = out.size() - before;
    count_status(s, status, error_reason.empty() ? 0 : status);
    log_request(s, actions, redirect_url, error_reason);
    reactor_->flush_later(*s.conn);
  }

  void count_status(ClientState& s, uint16_t status, uint16_t proxy_error) {
    std::lock_guard lock(stats_.mutex);
    ListenerCounters& l = stats_.listeners[listener_name(s)];
    l.statuses.add(status);
    if (proxy_error != 0) ++l.proxy_errors[proxy_error];
  }

  void proxy_error(ClientState& s, uint16_t status, std::string_view reason) {
    const std::string body = fmt::format(
        "<html>\r\n<head><title>{0} {1}</title></head>\r\n<body>\r\n<center><h1>{0} "
        "{1}</h1></center>\r\n</body>\r\n</html>\r\n",
        status, http::reason_phrase(status));
    answer(s, status, {{"Content-Type", "text/html"}}, body, "forward", "", reason);
  }

  void forward(ClientState& s, const http::Request& req, const Action& action) {
    const int g = pick_weighted_group(action.forward, rng_());
    if (g < 0) {
      proxy_error(s, 503, "NoTargetGroupWeight");
      return;
    }
    const std::string& group_name = action.forward[static_cast<size_t>(g)].target_group;
    s.group = static_cast<int>(runtime_->group_index.at(group_name));
    s.upstream_request =
        upstream_request(req, s.source_text, runtime_->config.listeners[s.listener]);
    s.retryable = idempotent(req.method);
    s.phase = ClientState::Phase::kForwarding;
    if (s.timer != 0) {
      reactor_->cancel_timer(s.timer);
      s.timer = 0;
    }
    TargetPicker& picker = *pickers_[static_cast<size_t>(s.group)];
    int target = -1;
    const TargetGroup& group = runtime_->config.target_groups[static_cast<size_t>(s.group)];
    if (group.stickiness.enabled) {
      if (const http::Header* cookie = req.find("cookie"); cookie != nullptr)
        target = picker.sticky_target(cookie->value);
      s.sticky_cookie = true;
    }
    dispatch(s, target);
  }

  // Sends the request to `target` (or to one the picker chooses when -1). False when no target
  // may take it: the client has its 503 and the request is over.
  bool dispatch(ClientState& s, int target) {
    TargetPicker& picker = *pickers_[static_cast<size_t>(s.group)];
    if (target < 0) target = picker.pick(Clock::now(), s.tried);
    if (target < 0) {
      s.phase = ClientState::Phase::kRequest;
      s.target = -1;
      proxy_error(s, s.tries == 0 ? 503 : 502,
                  s.tries == 0 ? "NoHealthyTargets" : "TargetConnectionError");
      return false;
    }
    s.target = target;
    ++s.tries;
    s.tried.push_back(target);
    const TargetGroup& group = runtime_->config.target_groups[static_cast<size_t>(s.group)];
    const Target& t = group.targets[static_cast<size_t>(target)];
    const std::string& key =
        runtime_->target_keys[static_cast<size_t>(s.group)][static_cast<size_t>(target)];
    picker.on_start(target);
    UpstreamState* u = take_pooled(key);
    if (u == nullptr) {
      auto owned = std::make_unique<UpstreamState>();
      u = owned.get();
      u->key = key;
      u->group = group.name;
      reactor::Connection& c = reactor_->connect(target_sockaddr(t), *this);
      u->conn = &c;
      c.user = u;
      upstreams_.emplace(u, std::move(owned));
      {
        std::lock_guard lock(stats_.mutex);
        ++stats_.targets[{group.name, key}].connections_opened;
      }
      attach(s, *u);
      if (!c.connected() && c.connect_error() == 0) {
        u->timer =
            reactor_->add_timer(std::chrono::milliseconds(settings_.connect_timeout_ms), [this, u] {
              u->timer = 0;
              connect_timed_out(*u);
            });
      }
    } else {
      attach(s, *u);
      arm_response_timer(*u);
    }
    u->conn->send(s.upstream_request);
    s.sent_at = Clock::now();
    reactor_->flush_later(*u->conn);
    {
      std::lock_guard lock(stats_.mutex);
      ++stats_.targets[{group.name, key}].requests;
    }
    return true;
  }

  void attach(ClientState& s, UpstreamState& u) {
    s.upstream = &u;
    u.client = &s;
    u.head_done = false;
    u.got_bytes = false;
    u.parser.reset(s.head_request);
  }

  UpstreamState* take_pooled(const std::string& key) {
    auto it = pool_.find(key);
    if (it == pool_.end() || it->second.empty()) return nullptr;
    UpstreamState* u = it->second.back();
    it->second.pop_back();
    if (u->timer != 0) {
      reactor_->cancel_timer(u->timer);
      u->timer = 0;
    }
    u->reused = true;
    return u;
  }

  void arm_response_timer(UpstreamState& u) {
    if (u.timer != 0) reactor_->cancel_timer(u.timer);
    u.timer = reactor_->add_timer(std::chrono::seconds(settings_.target_timeout_s), [this, &u] {
      u.timer = 0;
      response_timed_out(u);
    });
  }

  // ---- target side -------------------------------------------------------------------------

  void upstream_connected(reactor::Connection& conn) {
    auto& u = *static_cast<UpstreamState*>(conn.user);
    if (u.client != nullptr) arm_response_timer(u);
  }

  void upstream_data(reactor::Connection& conn) {
    auto& u = *static_cast<UpstreamState*>(conn.user);
    if (u.client == nullptr) {
      // An idle connection has nothing to say: whatever it sends cannot be trusted.
      reactor_->close(conn);
      return;
    }
    ClientState& s = *u.client;
    u.got_bytes = true;
    std::string& in = conn.input();
    if (u.tunnel) {
      relay(conn, *s.conn, in);
      in.clear();
      arm_client_timer(s, settings_.idle_timeout_s);
      return;
    }
    while (!in.empty() || (u.head_done && u.parser.body_done())) {
      if (!u.head_done) {
        const auto status = u.parser.parse_head(in);
        if (status == http::ResponseParser::Status::kIncomplete) return;
        if (status == http::ResponseParser::Status::kError) {
          upstream_failed(u, 502, "TargetResponseError");
          return;
        }
        const http::Response& r = u.parser.response();
        if (r.status >= 100 && r.status < 200 && !r.upgrade) {
          // An interim response goes to the client as it is; the final one follows.
          s.conn->send(std::string_view(in).substr(0, u.parser.head_size()));
          in.erase(0, u.parser.head_size());
          u.parser.reset(s.head_request);
          continue;
        }
        start_response(s, u, r);
        in.erase(0, u.parser.head_size());
        u.head_done = true;
        if (r.upgrade) {
          become_tunnel(s, u);
          return;
        }
      }
      if (!u.parser.body_done()) {
        const size_t n = u.parser.consume_body(in);
        if (n == http::ResponseParser::kBodyError) {
          upstream_failed(u, 502, "TargetResponseError");
          return;
        }
        relay(conn, *s.conn, std::string_view(in).substr(0, n));
        s.sent_bytes += n;
        in.erase(0, n);
        arm_response_timer(u);
      }
      if (u.parser.body_done()) {
        end_response(s, u, in.empty());
        return;
      }
      if (in.empty()) break;
    }
    reactor_->flush_later(*s.conn);
  }

  // Writes the response head to the client: the target's status and fields but the hop-by-hop
  // ones, with the framing and connection fields this hop needs.
  void start_response(ClientState& s, UpstreamState& u, const http::Response& r) {
    s.head_at = Clock::now();
    s.status = r.status;
    s.target_status = r.status;
    s.response_started = true;
    if (r.until_close) s.keep_alive = false;
    std::string cookie;
    if (s.sticky_cookie) {
      const auto [picker, target] = current_picker(s);
      if (picker != nullptr)
        cookie = picker->sticky_cookie(target, std::chrono::system_clock::now());
    }
    const std::string head =
        client_response_head(r, {s.keep_alive, s.version == "HTTP/1.0", cookie});
    s.conn->send(head);
    s.sent_bytes += head.size();
    std::lock_guard lock(stats_.mutex);
    TargetCounters& t = stats_.targets[{u.group, u.key}];
    t.statuses.add(r.status);
    stats_.add_response_time(t, s.head_at - s.sent_at);
  }

  void become_tunnel(ClientState& s, UpstreamState& u) {
    s.phase = ClientState::Phase::kTunnel;
    u.tunnel = true;
    if (u.timer != 0) {
      reactor_->cancel_timer(u.timer);
      u.timer = 0;
    }
    count_status(s, s.status, 0);
    log_request(s, "forward", "", "");
    // Bytes the client sent after its upgrade request belong to the tunnel now.
    reactor::Connection& client = *s.conn;
    client.input().erase(0, s.parser.consumed());
    s.parser.reset();
    if (!client.input().empty()) {
      u.conn->send(client.input());
      client.input().clear();
      reactor_->flush_later(*u.conn);
    }
    std::string& rest = u.conn->input();
    if (!rest.empty()) {
      client.send(rest);
      rest.clear();
    }
    arm_client_timer(s, settings_.idle_timeout_s);
    reactor_->flush_later(client);
  }

  // The target's response has ended: the target connection goes back to the pool when it can
  // carry another request, and the client's next request may be served.
  void end_response(ClientState& s, UpstreamState& u, bool clean) {
    detach(s, u);
    const bool reusable = clean && u.parser.response().keep_alive && !u.conn->closing();
    count_status(s, s.status, 0);
    log_request(s, "forward", "", "");
    if (reusable && park(u)) {
      // Parked.
    } else {
      reactor_->close(*u.conn);
    }
    finish_request(s);
    next_request(s);
  }

  void detach(ClientState& s, UpstreamState& u) {
    const auto [picker, target] = current_picker(s);
    if (picker != nullptr) picker->on_finish(target);
    if (u.timer != 0) {
      reactor_->cancel_timer(u.timer);
      u.timer = 0;
    }
    s.upstream = nullptr;
    u.client = nullptr;
  }

  bool park(UpstreamState& u) {
    if (!target_in_runtime(u.key)) return false;
    // An idle connection must notice its target closing it.
    reactor_->resume_receive(*u.conn);
    std::vector<UpstreamState*>& idle = pool_[u.key];
    if (idle.size() >= settings_.max_idle_per_target) return false;
    idle.push_back(&u);
    u.timer = reactor_->add_timer(std::chrono::seconds(settings_.idle_timeout_s), [this, &u] {
      u.timer = 0;
      reactor_->close(*u.conn);
    });
    return true;
  }

  // The target failed the request: a 502/504 to the client when nothing of the response went
  // out yet, else the client's connection ends (its response cannot be completed).
  void upstream_failed(UpstreamState& u, uint16_t status, std::string_view reason) {
    ClientState& s = *u.client;
    detach(s, u);
    reactor_->close(*u.conn);
    if (s.response_started) {
      log_request(s, "forward", "", reason);
      reactor_->close(*s.conn);
      return;
    }
    s.phase = ClientState::Phase::kRequest;
    s.target_status = -1;
    proxy_error(s, status, reason);
    finish_request(s);
    next_request(s);
  }

  void connect_timed_out(UpstreamState& u) {
    if (u.client == nullptr) {
      reactor_->close(*u.conn);
      return;
    }
    count_connect_failure(u);
    ClientState& s = *u.client;
    if (retry(s, u)) return;
    upstream_failed(u, 504, "TargetConnectTimeout");
  }

  void response_timed_out(UpstreamState& u) {
    if (u.client == nullptr) return;
    upstream_failed(u, 504, "TargetResponseTimeout");
  }

  void count_connect_failure(const UpstreamState& u) {
    std::lock_guard lock(stats_.mutex);
    ++stats_.targets[{u.group, u.key}].connect_failures;
  }

  // Sends the request elsewhere when the target could not have seen it: a refused or timed-out
  // connect, or a kept-alive connection the target had closed before it arrived (only for
  // idempotent requests, since the target might have started on it).
  bool retry(ClientState& s, UpstreamState& u) {
    if (!s.retryable || s.tries >= kMaxTries || s.runtime != runtime_) return false;
    detach(s, u);
    reactor_->close(*u.conn);
    if (!dispatch(s, -1)) {
      finish_request(s);
      next_request(s);
    }
    return true;
  }

  void upstream_closed(reactor::Connection& conn) {
    auto* u = static_cast<UpstreamState*>(conn.user);
    if (u->timer != 0) reactor_->cancel_timer(u->timer);
    u->timer = 0;
    if (u->client != nullptr) {
      ClientState& s = *u->client;
      if (u->tunnel) {
        detach(s, *u);
        reactor_->close(*s.conn);
      } else if (conn.connect_error() != 0 || (u->reused && !u->got_bytes)) {
        if (conn.connect_error() != 0) count_connect_failure(*u);
        if (!retry(s, *u)) upstream_failed(*u, 502, "TargetConnectionError");
      } else if (u->head_done && u->parser.response().until_close) {
        end_response(s, *u, false);
      } else {
        upstream_failed(*u, 502, "TargetClosedConnection");
      }
    }
    auto it = pool_.find(u->key);
    if (it != pool_.end()) std::erase(it->second, u);
    upstreams_.erase(u);
  }

  void client_closed(reactor::Connection& conn) {
    auto* s = static_cast<ClientState*>(conn.user);
    if (s->timer != 0) reactor_->cancel_timer(s->timer);
    s->timer = 0;
    if (s->upstream != nullptr) {
      // A request in flight whose client is gone: its target connection cannot be reused.
      UpstreamState& u = *s->upstream;
      if (!s->response_started && s->phase == ClientState::Phase::kForwarding) {
        s->status = 460;  // the ALB's code for a client that closed before the response
        log_request(*s, "forward", "", "ClientClosed");
      }
      detach(*s, u);
      reactor_->close(*u.conn);
    }
    clients_.erase(s);
  }

  // ---- access log --------------------------------------------------------------------------

  void log_request(ClientState& s, std::string_view actions, std::string_view redirect_url,
                   std::string_view error_reason) {
    if (access_log_ == nullptr) return;
    const auto now = Clock::now();
    AccessRecord r;
    r.listener = listener_name(s);
    r.client = s.peer;
    std::string_view target, group;
    if (s.group >= 0 && s.target >= 0) {
      const auto g = static_cast<size_t>(s.group);
      target = s.runtime->target_keys[g][static_cast<size_t>(s.target)];
      group = s.runtime->config.target_groups[g].name;
    }
    r.target = target;
    r.target_group = group;
    const bool forwarded = !target.empty() && s.sent_at >= s.began;
    r.request_s = forwarded ? seconds_between(s.began, s.sent_at) : 0;
    r.target_s = forwarded && s.target_status >= 0 ? seconds_between(s.sent_at, s.head_at) : -1;
    r.response_s = forwarded && s.target_status >= 0 ? seconds_between(s.head_at, now) : 0;
    r.status = s.status;
    r.target_status = s.target_status;
    r.received_bytes = s.request_bytes;
    r.sent_bytes = s.sent_bytes;
    r.method = s.method;
    r.url = s.url;
    r.version = s.version;
    r.user_agent = s.user_agent;
    r.domain = s.host;
    r.rule_priority = s.rule_priority;
    const std::string began = iso8601(s.began_wall);
    r.request_time = began;
    r.actions = actions;
    r.redirect_url = redirect_url;
    r.error_reason = error_reason;
    format_access_record(log_lines_, iso8601(std::chrono::system_clock::now()), r);
  }

  // A request the parser refused: logged without a rule or target.
  void log_refusal(ClientState& s, uint16_t status) {
    count_status(s, status, 0);
    if (access_log_ == nullptr) return;
    AccessRecord r;
    r.listener = listener_name(s);
    r.client = s.peer;
    r.status = status;
    r.received_bytes = s.conn->input().size();
    r.method = "-";
    r.url = "-";
    r.version = "-";
    r.rule_priority = "-";
    const std::string now = iso8601(std::chrono::system_clock::now());
    r.request_time = now;
    r.error_reason = s.parser.error().reason;
    format_access_record(log_lines_, now, r);
  }

  const ProxySettings& settings_;
  const RuntimeSlot& slot_;
  AccessLog* access_log_;
  ProxyStats& stats_;
  std::mt19937_64 rng_;
  http::Limits limits_;
  reactor::Reactor* reactor_ = nullptr;
  std::shared_ptr<const ProxyRuntime> runtime_;
  std::vector<std::unique_ptr<TargetPicker>> pickers_;  // per target group of runtime_
  MatchScratch scratch_;
  std::vector<std::unique_ptr<ListenerHandler>> listener_handlers_;
  std::unordered_map<ClientState*, std::unique_ptr<ClientState>> clients_;
  std::unordered_map<UpstreamState*, std::unique_ptr<UpstreamState>> upstreams_;
  std::unordered_map<std::string, std::vector<UpstreamState*>> pool_;  // idle, per target
  std::string log_lines_;
};

bool same_listeners(const ProxyConfig& a, const ProxyConfig& b) {
  if (a.listeners.size() != b.listeners.size()) return false;
  for (size_t i = 0; i < a.listeners.size(); ++i) {
    if (a.listeners[i].address != b.listeners[i].address ||
        a.listeners[i].port != b.listeners[i].port || a.listeners[i].name != b.listeners[i].name)
      return false;
  }
  return true;
}

}  // namespace

ProxyService::ProxyService(ProxySettings settings, std::shared_ptr<const ProxyRuntime> runtime)
    : settings_(std::move(settings)) {
  slot_.publish(std::move(runtime));
}

ProxyService::~ProxyService() {
  stop();
}

void ProxyService::start() {
  const auto runtime = slot_.current();
  if (!settings_.access_log.empty())
    access_log_ = std::make_unique<AccessLog>(settings_.access_log);
  const size_t cores = std::max<size_t>(1, settings_.cores.size());
  // Every core gets its own SO_REUSEPORT socket per listener, so that the kernel spreads new
  // connections over the cores; the first core's sockets fix a port the kernel chose.
  std::vector<std::vector<int>> fds(cores);
  for (const Listener& l : runtime->config.listeners) {
    if (l.port != 0 && reactor::port_in_use(l.address, l.port))
      throw std::runtime_error(fmt::format("listener {}: {}:{} is in use by another process",
                                           l.name, l.address, l.port));
    uint16_t port = l.port;
    for (size_t c = 0; c < cores; ++c) {
      const int fd = reactor::open_listener(l.address, port);
      if (port == 0) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
        port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
      }
      fds[c].push_back(fd);
    }
    ports_.push_back(port);
  }
  // Listeners that asked for port 0 learn theirs, so that X-Forwarded-Port and redirects tell it.
  ProxyConfig resolved = runtime->config;
  bool changed = false;
  for (size_t i = 0; i < resolved.listeners.size(); ++i) {
    if (resolved.listeners[i].port != ports_[i]) {
      resolved.listeners[i].port = ports_[i];
      changed = true;
    }
  }
  if (changed) slot_.publish(build_runtime(std::move(resolved), runtime->generation + 1));
  running_ = true;
  for (size_t c = 0; c < cores; ++c) stats_.push_back(std::make_unique<ProxyStats>());
  for (size_t c = 0; c < cores; ++c) {
    threads_.emplace_back([this, c, list = fds[c]] { run_core(c, list); });
  }
}

void ProxyService::run_core(size_t index, std::vector<int> listen_fds) {
  if (!settings_.cores.empty()) run_on_cpu(settings_.cores[index]);
  try {
    ProxyCore core(settings_, slot_, access_log_.get(), *stats_[index],
                   std::random_device{}() ^ (uint64_t{index} << 32));
    core.run(listen_fds, running_);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice-dataplane: proxy core {} stopped: {}\n", index, e.what());
  }
}

void ProxyService::stop() {
  running_ = false;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void ProxyService::publish(ProxyConfig config) {
  const auto current = slot_.current();
  // Ports the kernel chose at start-up stay; a new configuration names the configured ones.
  for (size_t i = 0; i < config.listeners.size() && i < ports_.size(); ++i)
    if (config.listeners[i].port == 0) config.listeners[i].port = ports_[i];
  if (!same_listeners(current->config, config))
    throw std::invalid_argument(
        "listeners: names and addresses are fixed while the proxy runs; restart it to change them");
  slot_.publish(build_runtime(std::move(config), current->generation + 1));
}

std::string ProxyService::metrics() const {
  std::vector<ProxyStats*> cores;
  for (const auto& s : stats_) cores.push_back(s.get());
  return prometheus_text(cores);
}

}  // namespace sluice::proxy
