// The proxy's counters, one set per core: requests per rule, per target the requests, the
// status classes of the answers and a histogram of the target's response time, and the answers
// the proxy made itself (502, 503, 504, fixed responses, redirects). The core writes under its
// own lock, uncontended except while the metrics are read; the exposition sums the cores.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice::proxy {

// Upper bounds, in seconds, of the response-time histogram's buckets (+Inf follows).
inline constexpr std::array<double, 14> kResponseTimeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct StatusClasses {
  std::array<uint64_t, 5> counts{};  // 1xx .. 5xx
  void add(uint16_t status) {
    if (status >= 100 && status < 600) ++counts[status / 100 - 1];
  }
};

struct TargetCounters {
  uint64_t requests = 0;
  StatusClasses statuses;
  std::array<uint64_t, kResponseTimeBuckets.size() + 1> response_time{};  // cumulative at output
  double response_time_sum = 0;
  uint64_t connect_failures = 0;
  uint64_t connections_opened = 0;
};

struct ListenerCounters {
  uint64_t connections = 0;
  uint64_t bad_requests = 0;  // refused by the parser or timed out before a request was whole
  StatusClasses statuses;     // every answer sent to clients, whoever made it
  std::map<std::string, uint64_t> rule_requests;  // rule name ("default" for the default action)
  std::map<uint16_t, uint64_t> proxy_errors;      // 502 / 503 / 504 made by the proxy
};

class ProxyStats {
 public:
  std::mutex mutex;
  std::map<std::string, ListenerCounters> listeners;
  // (target group, "address:port")
  std::map<std::pair<std::string, std::string>, TargetCounters> targets;

  void add_response_time(TargetCounters& t, std::chrono::nanoseconds elapsed);
};

// Prometheus text of the cores' counters summed, under the `sluice_proxy_` prefix.
std::string prometheus_text(const std::vector<ProxyStats*>& cores);

}  // namespace sluice::proxy
