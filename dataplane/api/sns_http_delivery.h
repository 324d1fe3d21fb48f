// Delivery of SNS messages to http endpoints, on a service core's reactor: each copy is POSTed on
// a connection of its own with SNS's x-amz-sns-* headers; a 2xx answer delivers it; a failed
// connection, no answer within 15 s, a 5xx or a 429 is tried again on the subscription's delivery
// policy's schedule (timers on the reactor, so that nothing blocks: a publish is answered before
// its POSTs are made). Any other status is the endpoint refusing the message, which is not tried
// again. A copy whose tries are spent, or that was refused, goes to its subscription's
// dead-letter queue when it has one, with the ErrorCode and ErrorMessage attributes saying why;
// otherwise it is dropped, counted and reported on standard error.
//
// At most kMaxConnectionsPerEndpoint POSTs are in flight to one endpoint; the others wait their
// turn in order. A subscription's throttlePolicy spaces its POSTs evenly. A core holds at most
// kMaxPending copies: past that (endpoints far slower than the publishes) a new copy is given up
// at once, to its dead-letter queue when it has one, rather than growing memory without bound.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "reactor.h"
#include "sns_topics.h"
#include "sqs_codec.h"

namespace sluice::api::sns {

// "http://HOST[:PORT][/PATH]": HOST a name, an IPv4 address or a bracketed IPv6 one.
struct HttpEndpoint {
  std::string host;  // without brackets
  uint16_t port = 80;
  std::string target;     // path and query, "/" at least
  std::string authority;  // for the Host header
};
// On a malformed URL returns nullopt with the reason in `error`.
std::optional<HttpEndpoint> parse_http_endpoint(std::string_view url, std::string* error);

struct HttpDeliveryStats {
  uint64_t attempts = 0, delivered = 0, retries = 0, refused = 0;
  uint64_t dead_lettered = 0, dropped = 0;
};

class HttpDeliverer final : public reactor::Handler {
 public:
  static constexpr size_t kMaxConnectionsPerEndpoint = 64;
  static constexpr size_t kMaxPending = 100'000;
  static constexpr std::chrono::seconds kAttemptTimeout{15};

  // `dead_letter` sends a SendMessage to a dead-letter queue (on the core's shards).
  using DeadLetter = std::function<void(sqs::Request send)>;
  HttpDeliverer(reactor::Reactor& reactor, DeadLetter dead_letter);
  ~HttpDeliverer();
  HttpDeliverer(const HttpDeliverer&) = delete;
  HttpDeliverer& operator=(const HttpDeliverer&) = delete;

  // Starts delivering `delivery` (an http one, with its headers' fields and policy).
  void deliver(Delivery delivery);

  const HttpDeliveryStats& stats() const { return stats_; }
  size_t pending() const { return pending_.size(); }

  void on_data(reactor::Connection& conn) override;
  void on_close(reactor::Connection& conn) override;

 private:
  struct Pending;
  struct Endpoint {
    std::optional<sockaddr_storage> address;  // resolved once; nullopt when it could not be
    std::string resolve_error;
    size_t in_flight = 0;
    std::deque<uint64_t> waiting;  // pending ids, in order
  };

  void try_send(uint64_t id);
  void start_attempt(Pending& p);
  void finish_attempt(Pending& p, uint16_t status, std::string error);
  void give_up(Pending& p, std::string_view code, const std::string& message);
  void release(Pending& p);

  reactor::Reactor& reactor_;
  DeadLetter dead_letter_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
  std::unordered_map<std::string, Endpoint> endpoints_;  // by "host:port"
  // A throttled subscription's next free slot.
  std::unordered_map<std::string, reactor::Reactor::Clock::time_point> next_slot_;
  HttpDeliveryStats stats_;
  reactor::Reactor::Clock::time_point last_drop_report_{};
};

}  // namespace sluice::api::sns
