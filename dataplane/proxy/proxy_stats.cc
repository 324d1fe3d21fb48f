#include "proxy_stats.h"

#include <fmt/format.h>

namespace sluice::proxy {

void ProxyStats::add_response_time(TargetCounters& t, std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  size_t bucket = 0;
  while (bucket < kResponseTimeBuckets.size() && seconds > kResponseTimeBuckets[bucket]) ++bucket;
  ++t.response_time[bucket];
  t.response_time_sum += seconds;
}

namespace {

constexpr std::array<const char*, 5> kClassNames = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void add_classes(StatusClasses& into, const StatusClasses& from) {
  for (size_t i = 0; i < into.counts.size(); ++i) into.counts[i] += from.counts[i];
}

}  // namespace

std::string prometheus_text(const std::vector<ProxyStats*>& cores) {
  std::map<std::string, ListenerCounters> listeners;
  std::map<std::pair<std::string, std::string>, TargetCounters> targets;
  for (ProxyStats* core : cores) {
    std::lock_guard lock(core->mutex);
    for (const auto& [name, l] : core->listeners) {
      ListenerCounters& sum = listeners[name];
      sum.connections += l.connections;
      sum.bad_requests += l.bad_requests;
      add_classes(sum.statuses, l.statuses);
      for (const auto& [rule, n] : l.rule_requests) sum.rule_requests[rule] += n;
      for (const auto& [status, n] : l.proxy_errors) sum.proxy_errors[status] += n;
    }
    for (const auto& [key, t] : core->targets) {
      TargetCounters& sum = targets[key];
      sum.requests += t.requests;
      add_classes(sum.statuses, t.statuses);
      for (size_t i = 0; i < t.response_time.size(); ++i)
        sum.response_time[i] += t.response_time[i];
      sum.response_time_sum += t.response_time_sum;
      sum.connect_failures += t.connect_failures;
      sum.connections_opened += t.connections_opened;
    }
  }
  std::string out;
  auto header = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP sluice_proxy_{} {}\n# TYPE sluice_proxy_{} {}\n", name, help, name,
                       type);
  };
  header("connections_total", "counter", "Client connections accepted per listener.");
  for (const auto& [name, l] : listeners)
    out += fmt::format("sluice_proxy_connections_total{{listener=\"{}\"}} {}\n", label(name),
                       l.connections);
  header("bad_requests_total", "counter",
         "Requests refused by the parser or not whole within the request timeout.");
  for (const auto& [name, l] : listeners)
    out += fmt::format("sluice_proxy_bad_requests_total{{listener=\"{}\"}} {}\n", label(name),
                       l.bad_requests);
  header("responses_total", "counter", "Responses sent to clients per listener and status class.");
  for (const auto& [name, l] : listeners)
    for (size_t i = 0; i < kClassNames.size(); ++i)
      out += fmt::format("sluice_proxy_responses_total{{listener=\"{}\",class=\"{}\"}} {}\n",
                         label(name), kClassNames[i], l.statuses.counts[i]);
  header("rule_requests_total", "counter", "Requests per listener rule that won the match.");
  for (const auto& [name, l] : listeners)
    for (const auto& [rule, n] : l.rule_requests)
      out += fmt::format("sluice_proxy_rule_requests_total{{listener=\"{}\",rule=\"{}\"}} {}\n",
                         label(name), label(rule), n);
  header("errors_total", "counter",
         "Answers the proxy made itself because targets failed (502), none could take the request "
         "(503) or one did not answer in time (504).");
  for (const auto& [name, l] : listeners)
    for (const auto& [status, n] : l.proxy_errors)
      out += fmt::format("sluice_proxy_errors_total{{listener=\"{}\",status=\"{}\"}} {}\n",
                         label(name), status, n);
  header("target_requests_total", "counter", "Requests sent per target.");
  for (const auto& [key, t] : targets)
    out += fmt::format("sluice_proxy_target_requests_total{{group=\"{}\",target=\"{}\"}} {}\n",
                       label(key.first), label(key.second), t.requests);
  header("target_responses_total", "counter", "Target responses per status class.");
  for (const auto& [key, t] : targets)
    for (size_t i = 0; i < kClassNames.size(); ++i)
      out += fmt::format(
          "sluice_proxy_target_responses_total{{group=\"{}\",target=\"{}\",class=\"{}\"}} {}\n",
          label(key.first), label(key.second), kClassNames[i], t.statuses.counts[i]);
  header("target_connect_failures_total", "counter", "Connections to a target that failed.");
  for (const auto& [key, t] : targets)
    out +=
        fmt::format("sluice_proxy_target_connect_failures_total{{group=\"{}\",target=\"{}\"}} {}\n",
                    label(key.first), label(key.second), t.connect_failures);
  header("target_connections_opened_total", "counter",
         "Connections opened to a target (the rest of its requests reused kept-alive ones).");
  for (const auto& [key, t] : targets)
    out += fmt::format(
        "sluice_proxy_target_connections_opened_total{{group=\"{}\",target=\"{}\"}} {}\n",
        label(key.first), label(key.second), t.connections_opened);
  header("target_response_seconds", "histogram",
         "Time from sending a request to a target to the end of its response head.");
  for (const auto& [key, t] : targets) {
    uint64_t cumulative = 0;
    const std::string labels =
        fmt::format("group=\"{}\",target=\"{}\"", label(key.first), label(key.second));
    for (size_t i = 0; i < t.response_time.size(); ++i) {
      cumulative += t.response_time[i];
      const std::string le =
          i < kResponseTimeBuckets.size() ? fmt::format("{}", kResponseTimeBuckets[i]) : "+Inf";
      out += fmt::format("sluice_proxy_target_response_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         le, cumulative);
    }
    out += fmt::format("sluice_proxy_target_response_seconds_sum{{{}}} {}\n", labels,
                       t.response_time_sum);
    out += fmt::format("sluice_proxy_target_response_seconds_count{{{}}} {}\n", labels, cumulative);
  }
  return out;
}

}  // namespace sluice::proxy
