#include "sns_http_delivery.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>

#include <cstring>

#include "response_parser.h"
#include "sns_actions.h"

namespace sluice::api::sns {

struct HttpDeliverer::Pending {
  uint64_t id = 0;
  Delivery delivery;
  HttpEndpoint url;
  Endpoint* endpoint = nullptr;  // its entry in endpoints_, which are never removed
  bool holds_slot = false;       // counted in the endpoint's in_flight
  std::string request;           // the POST, the same for every try
  int retries = 0;               // made so far
  reactor::Connection* conn = nullptr;
  uint64_t timer = 0;  // the try's timeout, or the wait before the next try
  http::ResponseParser parser;
};

namespace {

std::string endpoint_key(const HttpEndpoint& url) {
  return fmt::format("{}:{}", url.host, url.port);
}

std::string post_of(const Delivery& d, const HttpEndpoint& url) {
  std::string out = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "x-amz-sns-message-type: {}\r\nx-amz-sns-message-id: {}\r\nx-amz-sns-topic-arn: {}\r\n",
      url.target, url.authority, d.policy.content_type, d.body.size(), d.message_type, d.message_id,
      d.topic_arn);
  if (d.message_type == "Notification") {
    out += fmt::format("x-amz-sns-subscription-arn: {}\r\nx-amz-sns-rawdelivery: {}\r\n",
                       d.subscription_arn, d.raw ? "true" : "false");
  }
  out += "User-Agent: Amazon Simple Notification Service Agent\r\nConnection: close\r\n\r\n";
  out += d.body;
  return out;
}

// A numeric address, or the first IPv4/IPv6 address the resolver gives for a name.
std::optional<sockaddr_storage> resolve(const HttpEndpoint& url, std::string* error) {
  sockaddr_storage out{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, url.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(url.port);
    return out;
  }
  if (inet_pton(AF_INET6, url.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(url.port);
    return out;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(url.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    *error = fmt::format("cannot resolve {}: {}", url.host, gai_strerror(rc));
    return std::nullopt;
  }
  std::memcpy(&out, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (out.ss_family == AF_INET) v4->sin_port = htons(url.port);
  if (out.ss_family == AF_INET6) v6->sin6_port = htons(url.port);
  return out;
}

}  // namespace

std::optional<HttpEndpoint> parse_http_endpoint(std::string_view url, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    *error = "the endpoint must start with http://";
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (target.find('#') != std::string_view::npos) target = target.substr(0, target.find('#'));
  HttpEndpoint out;
  out.authority = std::string(authority);
  out.target =
      target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "an IPv6 address must end with ]";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      *error = "unexpected text after the IPv6 address";
      return std::nullopt;
    }
    if (!after.empty()) port = after.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of(" @\t\r\n") != std::string_view::npos ||
      authority.find('@') != std::string_view::npos) {
    *error = "the endpoint has no valid host";
    return std::nullopt;
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        *error = "the port must be a number from 1 to 65535";
        return std::nullopt;
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      *error = "the port must be a number from 1 to 65535";
      return std::nullopt;
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (out.target.find_first_of(" \t\r\n") != std::string::npos) {
    *error = "the path must not hold spaces or line breaks";
    return std::nullopt;
  }
  out.host = std::string(host);
  return out;
}

HttpDeliverer::HttpDeliverer(reactor::Reactor& reactor, DeadLetter dead_letter)
    : reactor_(reactor), dead_letter_(std::move(dead_letter)) {}

HttpDeliverer::~HttpDeliverer() {
  // The reactor may outlive this: nothing of it may call back here.
  for (auto& [id, p] : pending_) {
    if (p->timer != 0) reactor_.cancel_timer(p->timer);
    if (p->conn != nullptr) p->conn->user = nullptr;
  }
}

void HttpDeliverer::deliver(Delivery delivery) {
  std::string error;
  auto url = parse_http_endpoint(delivery.endpoint, &error);
  auto pending = std::make_unique<Pending>();
  Pending& p = *pending;
  p.id = next_id_++;
  p.delivery = std::move(delivery);
  pending_.emplace(p.id, std::move(pending));
  if (!url) {
    give_up(p, "ClientError", "the endpoint " + p.delivery.endpoint + " is not valid: " + error);
    return;
  }
  if (pending_.size() > kMaxPending) {
    give_up(p, "ServerError",
            fmt::format("more than {} copies are waiting for their endpoints on this core",
                        kMaxPending));
    return;
  }
  p.url = std::move(*url);
  p.endpoint = &endpoints_[endpoint_key(p.url)];
  p.request = post_of(p.delivery, p.url);
  try_send(p.id);
}

void HttpDeliverer::try_send(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  const int rate = p.delivery.policy.max_receives_per_second;
  if (rate > 0) {
    const auto now = reactor::Reactor::Clock::now();
    auto& slot = next_slot_[p.delivery.subscription_arn];
    if (slot > now) {
      p.timer = reactor_.add_timer(slot - now, [this, id] {
        if (auto found = pending_.find(id); found != pending_.end()) found->second->timer = 0;
        try_send(id);
      });
      return;
    }
    slot = std::max(slot, now) + std::chrono::microseconds(1'000'000 / rate);
  }
  // Resolved once; a name that did not resolve is tried again at the copy's next try.
  Endpoint& e = *p.endpoint;
  if (!e.address) e.address = resolve(p.url, &e.resolve_error);
  if (!e.address) {
    ++stats_.attempts;
    finish_attempt(p, 0, e.resolve_error);
    return;
  }
  if (e.in_flight >= kMaxConnectionsPerEndpoint) {
    e.waiting.push_back(id);
    return;
  }
  start_attempt(p);
}

void HttpDeliverer::start_attempt(Pending& p) {
  Endpoint& e = *p.endpoint;
  ++e.in_flight;
  p.holds_slot = true;
  ++stats_.attempts;
  p.parser.reset();
  p.conn = &reactor_.connect(*e.address, *this);
  p.conn->user = &p;
  p.conn->send(p.request);
  p.timer = reactor_.add_timer(kAttemptTimeout, [this, id = p.id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& late = *it->second;
    late.timer = 0;
    if (late.conn == nullptr) return;
    reactor::Connection* conn = late.conn;
    conn->user = nullptr;
    late.conn = nullptr;
    reactor_.close(*conn);
    finish_attempt(late, 0,
                   fmt::format("no response within {} s", HttpDeliverer::kAttemptTimeout.count()));
  });
}

void HttpDeliverer::on_data(reactor::Connection& conn) {
  auto* p = static_cast<Pending*>(conn.user);
  if (p == nullptr) {
    conn.input().clear();
    return;
  }
  const auto status = p->parser.parse_head(conn.input());
  if (status == http::ResponseParser::Status::kIncomplete) return;
  const uint16_t code =
      status == http::ResponseParser::Status::kHead ? p->parser.response().status : 0;
  const std::string error =
      code == 0 ? "malformed response: " + std::string(p->parser.error().reason) : "";
  conn.user = nullptr;
  p->conn = nullptr;
  reactor_.close(conn);
  finish_attempt(*p, code, error);
}

void HttpDeliverer::on_close(reactor::Connection& conn) {
  auto* p = static_cast<Pending*>(conn.user);
  if (p == nullptr) return;
  conn.user = nullptr;
  p->conn = nullptr;
  const int failed = conn.connect_error();
  finish_attempt(*p, 0,
                 failed != 0 ? fmt::format("cannot connect to {}: {}", p->url.authority,
                                           std::strerror(-failed))
                             : "the connection closed before a response");
}

void HttpDeliverer::finish_attempt(Pending& p, uint16_t status, std::string error) {
  if (p.timer != 0) {
    reactor_.cancel_timer(p.timer);
    p.timer = 0;
  }
  if (p.holds_slot) {
    p.holds_slot = false;
    Endpoint& e = *p.endpoint;
    --e.in_flight;
    while (!e.waiting.empty() && e.in_flight < kMaxConnectionsPerEndpoint) {
      auto next = pending_.find(e.waiting.front());
      e.waiting.pop_front();
      if (next != pending_.end()) start_attempt(*next->second);
    }
  }
  if (status >= 200 && status < 300) {
    ++stats_.delivered;
    release(p);
    return;
  }
  if (status != 0) error = fmt::format("the endpoint answered {}", status);
  // A 5xx or a 429 is the endpoint failing for now; other statuses are it refusing the message.
  const bool retryable = status == 0 || status >= 500 || status == 429;
  if (!retryable) {
    ++stats_.refused;
    give_up(p, "ClientError", error);
    return;
  }
  const RetryPolicy& retry = p.delivery.policy.retry;
  if (p.retries >= retry.num_retries) {
    give_up(p, "ServerError",
            fmt::format("delivery failed after {} retries: {}", p.retries, error));
    return;
  }
  ++p.retries;
  ++stats_.retries;
  p.timer = reactor_.add_timer(retry.delay_before(p.retries), [this, id = p.id] {
    if (auto found = pending_.find(id); found != pending_.end()) found->second->timer = 0;
    try_send(id);
  });
}

void HttpDeliverer::give_up(Pending& p, std::string_view code, const std::string& message) {
  if (p.delivery.dead_letter_queue.empty()) {
    ++stats_.dropped;
    // Said on standard error, at most once a second per core: an endpoint that is down for good
    // would otherwise fill it.
    const auto now = reactor::Reactor::Clock::now();
    if (now - last_drop_report_ >= std::chrono::seconds(1)) {
      last_drop_report_ = now;
      fmt::print(stderr,
                 "sluice-dataplane: sns: a copy for {} was dropped (no dead-letter queue): {} "
                 "({} dropped on this core so far)\n",
                 p.delivery.subscription_arn, message, stats_.dropped);
    }
  } else {
    ++stats_.dead_lettered;
    dead_letter_(dead_letter_copy(std::move(p.delivery.dead_letter_queue),
                                  std::move(p.delivery.body), code, message));
  }
  release(p);
}

void HttpDeliverer::release(Pending& p) {
  pending_.erase(p.id);
}

}  // namespace sluice::api::sns
