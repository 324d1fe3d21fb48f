// The L7 proxy's configuration model (the ALB): listeners with ordered rules and a default
// action, target groups with their balancing algorithm, stickiness, slow start and the state of
// each target, and proxy-wide settings. proxy_config parses it from YAML (a file of its own, or
// the document the control plane pushes with health applied); rule_matcher compiles a listener's
// rules; target_picker balances within a group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ip_address.h"

namespace sluice::proxy {

// One value of a string condition. Wildcard patterns use `*` (any run of characters, also none)
// and `?` (exactly one character); regex patterns (path-pattern and http-header only) are
// Hyperscan-compatible regular expressions matched against the whole field.
struct StringPattern {
  std::string text;
  bool regex = false;
};

// One key/value pair of a query-string condition; both sides are wildcard patterns and an empty
// key matches any key (ALB: "value only").
struct QueryPattern {
  std::string key;
  std::string value;
};

enum class ConditionField : uint8_t {
  kHostHeader,   // Host, case-insensitive, without the port
  kPathPattern,  // the request path, case-sensitive, without the query
  kHttpHeader,   // the named header's value, case-insensitive
  kMethod,       // exact, case-sensitive (GET, POST, ...)
  kQueryString,  // any key=value pair of the query (case-insensitive)
  kSourceIp,     // the client's address within any of the prefixes
};

// A rule matches when every one of its conditions matches; a condition matches when any one of
// its values does.
struct Condition {
  ConditionField field = ConditionField::kPathPattern;
  std::string header_name;            // kHttpHeader
  std::vector<StringPattern> values;  // kHostHeader, kPathPattern, kHttpHeader, kMethod
  std::vector<QueryPattern> query;    // kQueryString
  std::vector<IpPrefix> source_ips;   // kSourceIp
};

struct WeightedTargetGroup {
  std::string target_group;
  uint16_t weight = 1;  // 0-999; a group of weight 0 takes no requests
};

// ALB redirect: each component may use #{protocol}, #{host}, #{port}, #{path} (the original path
// without its leading '/') and #{query}; the defaults keep the original component.
struct RedirectAction {
  uint16_t status = 301;  // 301 or 302
  std::string protocol = "#{protocol}";
  std::string host = "#{host}";
  std::string port = "#{port}";
  std::string path = "/#{path}";
  std::string query = "#{query}";
};

struct FixedResponseAction {
  uint16_t status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

struct Action {
  enum class Kind : uint8_t { kForward, kRedirect, kFixedResponse };
  Kind kind = Kind::kFixedResponse;
  std::vector<WeightedTargetGroup> forward;  // kForward: one or more groups
  RedirectAction redirect;
  FixedResponseAction fixed_response{404, "text/plain", "Not Found"};
};

struct Rule {
  std::string name;       // for errors, metrics and the access log ("priority-10" when not named)
  uint32_t priority = 0;  // 1-50000, unique within the listener; lowest wins
  std::vector<Condition> conditions;
  Action action;
};

struct Listener {
  std::string name;
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::vector<Rule> rules;  // sorted by ascending priority
  Action default_action;
};

enum class Algorithm : uint8_t { kRoundRobin, kLeastOutstandingRequests, kWeightedRandom };

// The control plane's view of a target. Initial and unhealthy targets take no requests while
// another target of the group is healthy (fail-open otherwise); draining targets take no new
// requests but finish those they have.
enum class TargetState : uint8_t { kHealthy, kInitial, kUnhealthy, kDraining };

struct Target {
  IpAddress address;
  uint16_t port = 0;
  uint32_t weight = 1;
  TargetState state = TargetState::kHealthy;
};

struct Stickiness {
  bool enabled = false;
  uint32_t duration_s = 86400;  // the balancer cookie's lifetime, 1 s - 7 days
};

struct TargetGroup {
  std::string name;
  Algorithm algorithm = Algorithm::kRoundRobin;
  Stickiness stickiness;
  uint32_t slow_start_s = 0;  // 0 or 30-900: a newly healthy target's share ramps up linearly
  std::vector<Target> targets;
};

struct ProxySettings {
  std::vector<unsigned> cores;         // one reactor thread per CPU; empty: one, unpinned
  uint32_t idle_timeout_s = 60;        // client and target connections without traffic
  uint32_t request_timeout_s = 60;     // a request's head and body must arrive within it
  uint32_t connect_timeout_ms = 2000;  // connecting to a target
  uint32_t target_timeout_s = 60;      // a target's response must begin within it (else 504)
  size_t max_head_bytes = 16 * 1024;   // request line and headers (431 beyond)
  size_t max_body_bytes = 10 << 20;    // request body (413 beyond)
  uint32_t max_idle_per_target = 64;   // kept-alive target connections per core and target
  std::string access_log;              // a file path; empty: no access log
  std::string control_socket;  // non-empty: take configuration pushes from the control plane
};

struct ProxyConfig {
  ProxySettings settings;
  std::vector<Listener> listeners;
  std::vector<TargetGroup> target_groups;

  const TargetGroup* find_target_group(const std::string& name) const {
    for (const TargetGroup& g : target_groups)
      if (g.name == name) return &g;
    return nullptr;
  }
};

}  // namespace sluice::proxy
