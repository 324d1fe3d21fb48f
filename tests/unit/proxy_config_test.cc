// The L7 proxy's configuration: every key of the proxy, listeners and target_groups sections,
// the defaults, each range error with its file, line and key, the checks across sections, the
// rules' order, and the document dump that parses back to an equal configuration.
#include "proxy_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace sluice::proxy {
namespace {

// The three sections as they appear in the dataplane's document (`job: proxy` beside them).
ProxyConfig parse_sections(const std::string& yaml, std::string_view source) {
  const YamlField root = YamlField::document(yaml, source);
  root.expect_map({"job", "proxy", "listeners", "target_groups"});
  EXPECT_EQ(root.required("job").str(), "proxy");
  ProxyConfig config;
  if (auto f = root.child("proxy"); f.present()) parse_proxy_section(f, config.settings);
  if (auto f = root.child("listeners"); f.present()) parse_listeners_section(f, config.listeners);
  if (auto f = root.child("target_groups"); f.present())
    parse_target_groups_section(f, config.target_groups);
  validate_proxy_config(config);
  return config;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_proxy_document(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

bool eq(const StringPattern& a, const StringPattern& b);
bool eq(const QueryPattern& a, const QueryPattern& b);
bool eq(const IpPrefix& a, const IpPrefix& b);
bool eq(const Condition& a, const Condition& b);
bool eq(const WeightedTargetGroup& a, const WeightedTargetGroup& b);
bool eq(const Action& a, const Action& b);
bool eq(const Rule& a, const Rule& b);
bool eq(const Listener& a, const Listener& b);
bool eq(const Target& a, const Target& b);
bool eq(const TargetGroup& a, const TargetGroup& b);
bool eq(unsigned a, unsigned b) {
  return a == b;
}

template <typename T>
bool eq(const std::vector<T>& a, const std::vector<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const T& x, const T& y) { return eq(x, y); });
}

bool eq(const StringPattern& a, const StringPattern& b) {
  return a.text == b.text && a.regex == b.regex;
}
bool eq(const QueryPattern& a, const QueryPattern& b) {
  return a.key == b.key && a.value == b.value;
}
bool eq(const IpPrefix& a, const IpPrefix& b) {
  return a.address == b.address && a.length == b.length;
}
bool eq(const Condition& a, const Condition& b) {
  return a.field == b.field && a.header_name == b.header_name && eq(a.values, b.values) &&
         eq(a.query, b.query) && eq(a.source_ips, b.source_ips);
}
bool eq(const WeightedTargetGroup& a, const WeightedTargetGroup& b) {
  return a.target_group == b.target_group && a.weight == b.weight;
}
bool eq(const Action& a, const Action& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Action::Kind::kForward:
      return eq(a.forward, b.forward);
    case Action::Kind::kRedirect:
      return a.redirect.status == b.redirect.status && a.redirect.protocol == b.redirect.protocol &&
             a.redirect.host == b.redirect.host && a.redirect.port == b.redirect.port &&
             a.redirect.path == b.redirect.path && a.redirect.query == b.redirect.query;
    case Action::Kind::kFixedResponse:
      return a.fixed_response.status == b.fixed_response.status &&
             a.fixed_response.content_type == b.fixed_response.content_type &&
             a.fixed_response.body == b.fixed_response.body;
  }
  return false;
}
bool eq(const Rule& a, const Rule& b) {
  return a.name == b.name && a.priority == b.priority && eq(a.conditions, b.conditions) &&
         eq(a.action, b.action);
}
bool eq(const Listener& a, const Listener& b) {
  return a.name == b.name && a.address == b.address && a.port == b.port && eq(a.rules, b.rules) &&
         eq(a.default_action, b.default_action);
}
bool eq(const Target& a, const Target& b) {
  return a.address == b.address && a.port == b.port && a.weight == b.weight && a.state == b.state;
}
bool eq(const TargetGroup& a, const TargetGroup& b) {
  return a.name == b.name && a.algorithm == b.algorithm &&
         a.stickiness.enabled == b.stickiness.enabled &&
         a.stickiness.duration_s == b.stickiness.duration_s && a.slow_start_s == b.slow_start_s &&
         eq(a.targets, b.targets);
}
bool eq(const ProxyConfig& a, const ProxyConfig& b) {
  const ProxySettings &s = a.settings, &t = b.settings;
  return eq(s.cores, t.cores) && s.idle_timeout_s == t.idle_timeout_s &&
         s.request_timeout_s == t.request_timeout_s &&
         s.connect_timeout_ms == t.connect_timeout_ms && s.target_timeout_s == t.target_timeout_s &&
         s.max_head_bytes == t.max_head_bytes && s.max_body_bytes == t.max_body_bytes &&
         s.max_idle_per_target == t.max_idle_per_target && s.access_log == t.access_log &&
         s.control_socket == t.control_socket && eq(a.listeners, b.listeners) &&
         eq(a.target_groups, b.target_groups);
}

// Every key, none at its default.
const char* const kFull = R"(proxy:
  cores: [2, 3]
  idle_timeout_s: 120
  request_timeout_s: 30
  connect_timeout_ms: 500
  target_timeout_s: 90
  max_head_bytes: 32768
  max_body_bytes: 1048576
  max_idle_per_target: 8
  access_log: /tmp/access.log
  control_socket: /tmp/proxy.sock
listeners:
  - name: web
    listen: "[::1]:8443"
    rules:
      - name: api
        priority: 10
        conditions:
          - host_header: ["api.example.com", "*.api.example.?om"]
          - path_pattern: ["/api/*"]
          - path_regex: ["^/v[0-9]+/items$"]
          - http_header: {name: X-Env, values: ["canary*"]}
          - http_header: {name: User-Agent, regex_values: ["^curl/[0-9.]+$"]}
          - http_request_method: [GET, HEAD, CUSTOM_VERB-X]
          - query_string: [{key: version, value: "v2*"}, {value: "debug"}]
          - source_ip: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
        action:
          forward:
            - {target_group: api, weight: 90}
            - {target_group: api-canary, weight: 0}
      - name: old
        priority: 20
        conditions: [{path_pattern: "/old/*"}]
        action:
          redirect: {status: 302, protocol: HTTPS, host: "new.example.com", port: 8443,
                     path: "/new/#{path}", query: "from=old&#{query}"}
      - priority: 30
        conditions: [{path_pattern: ["/health"]}]
        action:
          fixed_response: {status: 503, content_type: application/json,
                           body: "{\"q\": \"\\\\\"}\n\té\u0001"}
    default_action: {forward: api}
  - name: other
    listen: 0.0.0.0:80
target_groups:
  - name: api
    algorithm: weighted_random
    stickiness: {enabled: true, duration_s: 3600}
    slow_start_s: 30
    targets:
      - {address: 10.0.0.1, port: 8080, weight: 5, state: healthy}
      - {address: 10.0.0.2, port: 8080, weight: 0, state: initial}
      - {address: "fd00::3", port: 80, weight: 1000, state: unhealthy}
      - {address: 10.0.0.4, port: 1, state: draining}
  - name: api-canary
    algorithm: least_outstanding_requests
)";

TEST(ProxyConfig, ParsesEveryKey) {
  const ProxyConfig c = parse_proxy_document(kFull, "full.yaml");
  const ProxySettings& s = c.settings;
  EXPECT_EQ(s.cores, (std::vector<unsigned>{2, 3}));
  EXPECT_EQ(s.idle_timeout_s, 120u);
  EXPECT_EQ(s.request_timeout_s, 30u);
  EXPECT_EQ(s.connect_timeout_ms, 500u);
  EXPECT_EQ(s.target_timeout_s, 90u);
  EXPECT_EQ(s.max_head_bytes, 32768u);
  EXPECT_EQ(s.max_body_bytes, 1048576u);
  EXPECT_EQ(s.max_idle_per_target, 8u);
  EXPECT_EQ(s.access_log, "/tmp/access.log");
  EXPECT_EQ(s.control_socket, "/tmp/proxy.sock");

  ASSERT_EQ(c.listeners.size(), 2u);
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.name, "web");
  EXPECT_EQ(l.address, "::1");
  EXPECT_EQ(l.port, 8443);
  ASSERT_EQ(l.rules.size(), 3u);

  const Rule& api = l.rules[0];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.priority, 10u);
  ASSERT_EQ(api.conditions.size(), 8u);
  const auto& cs = api.conditions;
  EXPECT_EQ(cs[0].field, ConditionField::kHostHeader);
  ASSERT_EQ(cs[0].values.size(), 2u);
  EXPECT_EQ(cs[0].values[1].text, "*.api.example.?om");
  EXPECT_FALSE(cs[0].values[1].regex);
  EXPECT_EQ(cs[1].field, ConditionField::kPathPattern);
  EXPECT_EQ(cs[1].values[0].text, "/api/*");
  EXPECT_FALSE(cs[1].values[0].regex);
  EXPECT_EQ(cs[2].field, ConditionField::kPathPattern);
  EXPECT_EQ(cs[2].values[0].text, "^/v[0-9]+/items$");
  EXPECT_TRUE(cs[2].values[0].regex);
  EXPECT_EQ(cs[3].field, ConditionField::kHttpHeader);
  EXPECT_EQ(cs[3].header_name, "X-Env");
  EXPECT_EQ(cs[3].values[0].text, "canary*");
  EXPECT_FALSE(cs[3].values[0].regex);
  EXPECT_EQ(cs[4].header_name, "User-Agent");
  EXPECT_TRUE(cs[4].values[0].regex);
  EXPECT_EQ(cs[5].field, ConditionField::kMethod);
  ASSERT_EQ(cs[5].values.size(), 3u);
  EXPECT_EQ(cs[5].values[2].text, "CUSTOM_VERB-X");
  EXPECT_EQ(cs[6].field, ConditionField::kQueryString);
  ASSERT_EQ(cs[6].query.size(), 2u);
  EXPECT_EQ(cs[6].query[0].key, "version");
  EXPECT_EQ(cs[6].query[0].value, "v2*");
  EXPECT_EQ(cs[6].query[1].key, "");
  EXPECT_EQ(cs[6].query[1].value, "debug");
  EXPECT_EQ(cs[7].field, ConditionField::kSourceIp);
  ASSERT_EQ(cs[7].source_ips.size(), 3u);
  EXPECT_EQ(format_ip_address(cs[7].source_ips[0].address), "10.0.0.0");
  EXPECT_EQ(cs[7].source_ips[0].length, 8);
  EXPECT_EQ(format_ip_address(cs[7].source_ips[1].address), "2001:db8::");
  EXPECT_EQ(cs[7].source_ips[1].length, 32);
  EXPECT_EQ(cs[7].source_ips[2].length, 32);
  EXPECT_EQ(api.action.kind, Action::Kind::kForward);
  ASSERT_EQ(api.action.forward.size(), 2u);
  EXPECT_EQ(api.action.forward[0].target_group, "api");
  EXPECT_EQ(api.action.forward[0].weight, 90);
  EXPECT_EQ(api.action.forward[1].target_group, "api-canary");
  EXPECT_EQ(api.action.forward[1].weight, 0);

  const Rule& old = l.rules[1];
  EXPECT_EQ(old.conditions[0].values[0].text, "/old/*");  // a single value without a list
  ASSERT_EQ(old.action.kind, Action::Kind::kRedirect);
  EXPECT_EQ(old.action.redirect.status, 302);
  EXPECT_EQ(old.action.redirect.protocol, "https");
  EXPECT_EQ(old.action.redirect.host, "new.example.com");
  EXPECT_EQ(old.action.redirect.port, "8443");
  EXPECT_EQ(old.action.redirect.path, "/new/#{path}");
  EXPECT_EQ(old.action.redirect.query, "from=old&#{query}");

  const Rule& health = l.rules[2];
  EXPECT_EQ(health.name, "priority-30");
  ASSERT_EQ(health.action.kind, Action::Kind::kFixedResponse);
  EXPECT_EQ(health.action.fixed_response.status, 503);
  EXPECT_EQ(health.action.fixed_response.content_type, "application/json");
  EXPECT_EQ(health.action.fixed_response.body, "{\"q\": \"\\\\\"}\n\t\xc3\xa9\x01");

  ASSERT_EQ(l.default_action.kind, Action::Kind::kForward);
  ASSERT_EQ(l.default_action.forward.size(), 1u);
  EXPECT_EQ(l.default_action.forward[0].target_group, "api");
  EXPECT_EQ(l.default_action.forward[0].weight, 1);
  EXPECT_EQ(c.listeners[1].address, "0.0.0.0");
  EXPECT_EQ(c.listeners[1].port, 80);

  ASSERT_EQ(c.target_groups.size(), 2u);
  const TargetGroup& g = c.target_groups[0];
  EXPECT_EQ(g.name, "api");
  EXPECT_EQ(g.algorithm, Algorithm::kWeightedRandom);
  EXPECT_TRUE(g.stickiness.enabled);
  EXPECT_EQ(g.stickiness.duration_s, 3600u);
  EXPECT_EQ(g.slow_start_s, 30u);
  ASSERT_EQ(g.targets.size(), 4u);
  EXPECT_EQ(format_ip_address(g.targets[0].address), "10.0.0.1");
  EXPECT_EQ(g.targets[0].port, 8080);
  EXPECT_EQ(g.targets[0].weight, 5u);
  EXPECT_EQ(g.targets[0].state, TargetState::kHealthy);
  EXPECT_EQ(g.targets[1].weight, 0u);
  EXPECT_EQ(g.targets[1].state, TargetState::kInitial);
  EXPECT_EQ(format_ip_address(g.targets[2].address), "fd00::3");
  EXPECT_EQ(g.targets[2].weight, 1000u);
  EXPECT_EQ(g.targets[2].state, TargetState::kUnhealthy);
  EXPECT_EQ(g.targets[3].weight, 1u);
  EXPECT_EQ(g.targets[3].state, TargetState::kDraining);
  EXPECT_EQ(c.target_groups[1].algorithm, Algorithm::kLeastOutstandingRequests);
}

TEST(ProxyConfig, Defaults) {
  const ProxyConfig c = parse_proxy_document(R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    rules:
      - priority: 5
        conditions: [{path_pattern: ["/a"]}]
        action: {redirect: {host: example.com}}
      - priority: 6
        conditions: [{path_pattern: ["/b"]}]
        action: {fixed_response: {status: 204}}
      - priority: 7
        conditions: [{path_pattern: ["/c"]}]
        action: {forward: [{target_group: g}]}
target_groups:
  - name: g
    targets: [{address: 10.0.0.1, port: 80}]
)",
                                             "d.yaml");
  const ProxySettings& s = c.settings;
  EXPECT_TRUE(s.cores.empty());
  EXPECT_EQ(s.idle_timeout_s, 60u);
  EXPECT_EQ(s.request_timeout_s, 60u);
  EXPECT_EQ(s.connect_timeout_ms, 2000u);
  EXPECT_EQ(s.target_timeout_s, 60u);
  EXPECT_EQ(s.max_head_bytes, 16384u);
  EXPECT_EQ(s.max_body_bytes, 10485760u);
  EXPECT_EQ(s.max_idle_per_target, 64u);
  EXPECT_EQ(s.access_log, "");
  EXPECT_EQ(s.control_socket, "");

  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.default_action.kind, Action::Kind::kFixedResponse);
  EXPECT_EQ(l.default_action.fixed_response.status, 404);
  EXPECT_EQ(l.default_action.fixed_response.content_type, "text/plain");
  EXPECT_EQ(l.default_action.fixed_response.body, "Not Found");
  EXPECT_EQ(l.rules[0].name, "priority-5");
  const RedirectAction& r = l.rules[0].action.redirect;
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.protocol, "#{protocol}");
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.port, "#{port}");
  EXPECT_EQ(r.path, "/#{path}");
  EXPECT_EQ(r.query, "#{query}");
  EXPECT_EQ(l.rules[1].action.fixed_response.content_type, "text/plain");
  EXPECT_EQ(l.rules[1].action.fixed_response.body, "");
  EXPECT_EQ(l.rules[2].action.forward[0].weight, 1);

  const TargetGroup& g = c.target_groups[0];
  EXPECT_EQ(g.algorithm, Algorithm::kRoundRobin);
  EXPECT_FALSE(g.stickiness.enabled);
  EXPECT_EQ(g.stickiness.duration_s, 86400u);
  EXPECT_EQ(g.slow_start_s, 0u);
  EXPECT_EQ(g.targets[0].weight, 1u);
  EXPECT_EQ(g.targets[0].state, TargetState::kHealthy);
}

struct ErrorCase {
  std::string yaml;
  std::string error;
};

// A rule whose condition list (line 6) is `condition`.
std::string with_condition(const std::string& condition) {
  return "listeners:\n  - name: web\n    listen: 127.0.0.1:8080\n    rules:\n"
         "      - priority: 10\n        conditions: [" +
         condition + "]\n        action: {fixed_response: {status: 200}}\n";
}

// A rule whose action (line 6) is `action`; the target group g exists.
std::string with_action(const std::string& action) {
  return "listeners:\n  - name: web\n    listen: 127.0.0.1:8080\n    rules:\n"
         "      - priority: 10\n        action: " +
         action + "\n        conditions: [{path_pattern: /}]\ntarget_groups:\n  - name: g\n";
}

// A target group whose line 3 is `line`.
std::string with_group(const std::string& line) {
  return "target_groups:\n  - name: g\n    " + line + "\n";
}

TEST(ProxyConfig, RangeErrorsNameTheKeyAndLine) {
  const std::string c = "t.yaml:6: listeners[0].rules[0].conditions[0]";
  const std::string a = "t.yaml:6: listeners[0].rules[0].action";
  const std::string g = "t.yaml:3: target_groups[0]";
  const std::string long_host(129, 'a');
  const std::string long_body(1025, 'x');
  const std::vector<ErrorCase> cases = {
      {"proxy:\n  idle_timeout_s: 0\n",
       "t.yaml:2: proxy.idle_timeout_s: must be between 1 and 4000, got 0"},
      {"proxy:\n  idle_timeout_s: 4001\n",
       "t.yaml:2: proxy.idle_timeout_s: must be between 1 and 4000, got 4001"},
      {"proxy:\n  request_timeout_s: 3601\n",
       "t.yaml:2: proxy.request_timeout_s: must be between 1 and 3600, got 3601"},
      {"proxy:\n  connect_timeout_ms: 9\n",
       "t.yaml:2: proxy.connect_timeout_ms: must be between 10 and 60000, got 9"},
      {"proxy:\n  target_timeout_s: 0\n",
       "t.yaml:2: proxy.target_timeout_s: must be between 1 and 4000, got 0"},
      {"proxy:\n  max_head_bytes: 1023\n",
       "t.yaml:2: proxy.max_head_bytes: must be between 1024 and 1048576, got 1023"},
      {"proxy:\n  max_body_bytes: 1073741825\n",
       "t.yaml:2: proxy.max_body_bytes: must be between 0 and 1073741824, got 1073741825"},
      {"proxy:\n  max_idle_per_target: 4097\n",
       "t.yaml:2: proxy.max_idle_per_target: must be between 0 and 4096, got 4097"},
      {"proxy:\n  max_idle_per_target: -1\n",
       "t.yaml:2: proxy.max_idle_per_target: '-1' is not a whole number"},
      {"proxy:\n  cores: [1, 1]\n", "t.yaml:2: proxy.cores[1]: core 1 is listed twice"},
      {"proxy:\n  cores: [1024]\n",
       "t.yaml:2: proxy.cores[0]: must be between 0 and 1023, got 1024"},
      {"proxy:\n  control_socket: /" + std::string(107, 's') + "\n",
       "t.yaml:2: proxy.control_socket: a unix socket path is at most 107 characters, got 108"},
      {"proxy:\n  access_log: \"a\\tb\"\n",
       "t.yaml:2: proxy.access_log: must not hold control characters"},
      {"proxy:\n  idle_timeout: 5\n", "t.yaml:2: proxy.idle_timeout: unknown key"},
      {"listeners:\n  - name: web\n    listen: localhost:80\n",
       "t.yaml:3: listeners[0].listen: 'localhost:80' is not ADDRESS:PORT (e.g. 127.0.0.1:8080 "
       "or [::1]:8080)"},
      {"listeners:\n  - name: web\n    listen: \"::1:80\"\n",
       "t.yaml:3: listeners[0].listen: '::1:80' is not ADDRESS:PORT (e.g. 127.0.0.1:8080 or "
       "[::1]:8080)"},
      {"listeners:\n  - name: web\n    listen: 127.0.0.1:65536\n",
       "t.yaml:3: listeners[0].listen: port 65536 is not between 0 and 65535"},
      {"listeners:\n  - name: web\n", "t.yaml:2: listeners[0].listen: is required"},
      {"listeners:\n  - name: -web\n    listen: 127.0.0.1:80\n",
       "t.yaml:2: listeners[0].name: '-web' is not a name (1 to 32 letters, digits and hyphens, "
       "not starting or ending with a hyphen)"},
      {"listeners:\n  - {name: web, listen: 127.0.0.1:80}\n  - {name: web, listen: "
       "127.0.0.1:81}\n",
       "t.yaml:3: listeners[1].name: listener 'web' is defined twice"},
      {"listeners:\n  - name: web\n    listen: 127.0.0.1:80\n    rules:\n      - priority: 0\n",
       "t.yaml:5: listeners[0].rules[0].priority: must be between 1 and 50000, got 0"},
      {"listeners:\n  - name: web\n    listen: 127.0.0.1:80\n    rules:\n      - priority: "
       "50001\n",
       "t.yaml:5: listeners[0].rules[0].priority: must be between 1 and 50000, got 50001"},
      {"listeners:\n  - name: web\n    listen: 127.0.0.1:80\n    rules:\n      - name: x\n",
       "t.yaml:5: listeners[0].rules[0].priority: is required"},
      {with_condition(""),
       "t.yaml:6: listeners[0].rules[0].conditions: needs at least one "
       "condition"},
      {with_condition("{}"),
       c + ": needs one of host_header, path_pattern, path_regex, http_header, "
           "http_request_method, query_string, source_ip"},
      {with_condition("{host_header: [a], path_pattern: [/]}"),
       c + ": has both host_header and path_pattern; write each as a condition of its own"},
      {with_condition("{path: [/]}"), c + ".path: unknown key"},
      {with_condition("{path_pattern: [/a, /b, /c, /d, /e, /f]}"),
       c + ".path_pattern: has 6 values; a condition takes at most 5"},
      {with_condition("{path_pattern: []}"), c + ".path_pattern: needs at least one value"},
      {with_condition("{host_header: [\"a b\"]}"),
       c + ".host_header[0]: 'a b' may hold only letters, digits, '-', '.', '*' and '?'"},
      {with_condition("{host_header: [" + long_host + "]}"),
       c + ".host_header[0]: is 129 characters long; at most 128"},
      {with_condition("{path_pattern: [api]}"),
       c + ".path_pattern[0]: 'api' must start with '/' or a wildcard"},
      {with_condition("{path_pattern: [\"\"]}"), c + ".path_pattern[0]: must not be empty"},
      {with_condition("{path_pattern: [\"/a b\"]}"),
       c + ".path_pattern[0]: '/a b' may hold only printable ASCII characters without spaces"},
      {with_condition("{path_regex: [\"^/\\t\"]}"),
       c + ".path_regex[0]: '^/\t' may hold only printable ASCII characters"},
      {with_condition("{http_header: {name: Host, values: [a]}}"),
       c + ".http_header.name: the Host header is matched with a host_header condition"},
      {with_condition("{http_header: {name: \"X Y\", values: [a]}}"),
       c + ".http_header.name: 'X Y' is not a header name (1 to 40 token characters)"},
      {with_condition("{http_header: {name: X-A}}"),
       c + ".http_header: needs exactly one of values, regex_values"},
      {with_condition("{http_header: {name: X-A, values: [a], regex_values: [b]}}"),
       c + ".http_header: needs exactly one of values, regex_values"},
      {with_condition("{http_request_method: [get]}"),
       c + ".http_request_method[0]: 'get' is not a method name (1 to 40 of A-Z, '_' and '-')"},
      {with_condition("{query_string: [{key: a}]}"), c + ".query_string[0].value: is required"},
      {with_condition("{source_ip: [10.0.0.0/33]}"),
       c + ".source_ip[0]: '10.0.0.0/33' is not an address/length (e.g. 10.0.0.0/8 or "
           "2001:db8::/32)"},
      {with_action("{}"), a + ": needs exactly one of forward, redirect, fixed_response"},
      {with_action("{forward: g, fixed_response: {status: 200}}"),
       a + ": needs exactly one of forward, redirect, fixed_response"},
      {with_action("{fixed_response: {status: 302}}"),
       a + ".fixed_response.status: must be a 2XX, 4XX or 5XX status, got 302 (a redirect "
           "action sends 3XX)"},
      {with_action("{fixed_response: {status: 600}}"),
       a + ".fixed_response.status: must be between 200 and 599, got 600"},
      {with_action("{fixed_response: {body: x}}"), a + ".fixed_response.status: is required"},
      {with_action("{fixed_response: {status: 200, content_type: text/xml}}"),
       a + ".fixed_response.content_type: 'text/xml' is not one of text/plain, text/css, "
           "text/html, application/javascript, application/json"},
      {with_action("{fixed_response: {status: 200, body: " + long_body + "}}"),
       a + ".fixed_response.body: is 1025 bytes long; at most 1024"},
      {with_action("{redirect: {status: 303, host: a}}"),
       a + ".redirect.status: must be 301 or 302, got 303"},
      {with_action("{redirect: {path: x}}"), a + ".redirect.path: 'x' must start with '/'"},
      {with_action("{redirect: {path: \"/#{path}\"}}"),
       a + ".redirect: would redirect every request to its own URL; change at least one "
           "component"},
      {with_action("{redirect: {host: \"#{hots}\"}}"),
       a + ".redirect.host: '#{hots}': '#' may only open #{protocol}, #{host}, #{port}, "
           "#{path} or #{query}"},
      {with_action("{redirect: {host: \"\"}}"), a + ".redirect.host: must not be empty"},
      {with_action("{redirect: {protocol: ftp, host: a}}"),
       a + ".redirect.protocol: 'ftp' is not one of HTTP, HTTPS, #{protocol}"},
      {with_action("{redirect: {port: 0, host: a}}"),
       a + ".redirect.port: must be between 1 and 65535, got 0"},
      {with_action("{redirect: {query: \"?a\", host: a}}"),
       a + ".redirect.query: '?a' is written without its leading '?'"},
      {with_action("{forward: []}"), a + ".forward: needs at least one target group"},
      {with_action("{forward: [{target_group: a}, {target_group: b}, {target_group: c}, "
                   "{target_group: d}, {target_group: e}, {target_group: f}]}"),
       a + ".forward: has 6 target groups; at most 5"},
      {with_action("{forward: [{target_group: g, weight: 1000}]}"),
       a + ".forward[0].weight: must be between 0 and 999, got 1000"},
      {with_action("{forward: [{target_group: g, weight: 0}]}"),
       a + ".forward: every target group has weight 0; at least one must take requests"},
      {with_action("{forward: \"bad name\"}"),
       a + ".forward: 'bad name' is not a name (1 to 32 letters, digits and hyphens, not "
           "starting or ending with a hyphen)"},
      {with_group("algorithm: fastest"),
       g + ".algorithm: 'fastest' is not one of round_robin, least_outstanding_requests, "
           "weighted_random"},
      {with_group("slow_start_s: 10"),
       g + ".slow_start_s: must be 0 (off) or between 30 and 900, got 10"},
      {with_group("slow_start_s: 901"), g + ".slow_start_s: must be between 0 and 900, got 901"},
      {with_group("stickiness: {duration_s: 0}"),
       g + ".stickiness.duration_s: must be between 1 and 604800, got 0"},
      {with_group("stickiness: {duration_s: 604801}"),
       g + ".stickiness.duration_s: must be between 1 and 604800, got 604801"},
      {with_group("stickiness: {enabled: yes}"),
       g + ".stickiness.enabled: 'yes' is not one of false, true"},
      {with_group("targets: [{address: 10.0.0.1, port: 80, weight: 1001}]"),
       g + ".targets[0].weight: must be between 0 and 1000, got 1001"},
      {with_group("targets: [{address: example.com, port: 80}]"),
       g + ".targets[0].address: 'example.com' is not an IP address"},
      {with_group("targets: [{address: 10.0.0.1}]"), g + ".targets[0].port: is required"},
      {with_group("targets: [{address: 10.0.0.1, port: 80, state: unused}]"),
       g + ".targets[0].state: 'unused' is not one of healthy, initial, unhealthy, draining"},
      {with_group("targets: [{address: 10.0.0.1, port: 80}, {address: 10.0.0.1, port: 80}]"),
       g + ".targets[1]: 10.0.0.1 port 80 is listed twice in this group"},
      {"target_groups:\n  - name: g\n  - name: g\n",
       "t.yaml:3: target_groups[1].name: target group 'g' is defined twice"},
      {"job: proxy\n", "t.yaml:1: job: unknown key"},
      {"listeners: [\n", "t.yaml:2: not valid YAML: end of sequence flow not found"},
  };
  for (const auto& tc : cases) EXPECT_EQ(error_of(tc.yaml), tc.error) << tc.yaml;
}

TEST(ProxyConfig, CrossSectionErrors) {
  const std::string listener = "listeners:\n  - name: web\n    listen: 127.0.0.1:8080\n";
  const std::string rule = "      - {priority: %P, conditions: [{path_pattern: /}], action: %A}\n";
  auto rule_with = [&](const std::string& priority, const std::string& action) {
    std::string r = rule;
    r.replace(r.find("%P"), 2, priority);
    r.replace(r.find("%A"), 2, action);
    return r;
  };
  EXPECT_EQ(error_of(listener + "    rules:\n" + rule_with("1", "{forward: g}") +
                     rule_with("2", "{forward: g}") + rule_with("3", "{forward: api}") +
                     "target_groups: [{name: g}]\n"),
            "listeners[0].rules[2].action.forward[0].target_group: no target group named \"api\"");
  EXPECT_EQ(error_of(listener + "    rules:\n" +
                     rule_with("1", "{forward: [{target_group: g}, {target_group: g}]}") +
                     "target_groups: [{name: g}]\n"),
            "listeners[0].rules[0].action.forward[1].target_group: \"g\" is also "
            "listeners[0].rules[0].action.forward[0]; list each group once");
  EXPECT_EQ(error_of(listener + "    default_action: {forward: nowhere}\n"),
            "listeners[0].default_action.forward[0].target_group: no target group named "
            "\"nowhere\"");
  EXPECT_EQ(error_of(listener + "    rules:\n" + rule_with("7", "{forward: g}") +
                     rule_with("3", "{forward: g}") + rule_with("7", "{forward: g}") +
                     "target_groups: [{name: g}]\n"),
            "listeners[0].rules[2].priority: 7 is also the priority of listeners[0].rules[0]");
  EXPECT_EQ(error_of(listener + "    rules:\n" + rule_with("1, name: x", "{forward: g}") +
                     rule_with("2", "{forward: g}") + rule_with("3, name: x", "{forward: g}") +
                     "target_groups: [{name: g}]\n"),
            "listeners[0].rules[2].name: 'x' is also the name of listeners[0].rules[0]");
  EXPECT_EQ(error_of(listener + "    rules:\n" + rule_with("1, name: priority-2", "{forward: g}") +
                     rule_with("2", "{forward: g}") + "target_groups: [{name: g}]\n"),
            "listeners[0].rules[1].name: 'priority-2' is also the name of listeners[0].rules[0]");
  EXPECT_EQ(error_of("listeners:\n  - {name: a, listen: \"[::1]:80\"}\n"
                     "  - {name: b, listen: \"[0:0::1]:80\"}\n"),
            "listeners[1].listen: [::1]:80 is also the address of listeners[0] (a)");
  EXPECT_EQ(error_of("listeners:\n  - {name: a, listen: \"127.0.0.1:80\"}\n"
                     "  - {name: b, listen: \"127.0.0.1:81\"}\n"),
            "(no error)");
  EXPECT_EQ(error_of("target_groups: [{name: g}]\n"),
            "listeners: the proxy needs at least one listener");
  EXPECT_EQ(error_of(""), "listeners: the proxy needs at least one listener");
}

TEST(ProxyConfig, RulesAreSortedByPriority) {
  const ProxyConfig c = parse_proxy_document(R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    rules:
      - {name: c, priority: 300, conditions: [{path_pattern: /c}], action: {forward: g}}
      - {name: a, priority: 1, conditions: [{path_pattern: /a}], action: {forward: g}}
      - {name: d, priority: 50000, conditions: [{path_pattern: /d}], action: {forward: g}}
      - {name: b, priority: 20, conditions: [{path_pattern: /b}], action: {forward: g}}
target_groups: [{name: g}]
)",
                                             "s.yaml");
  std::string order;
  for (const Rule& r : c.listeners[0].rules) order += r.name;
  EXPECT_EQ(order, "abcd");
  EXPECT_EQ(c.listeners[0].rules[3].priority, 50000u);
}

TEST(ProxyConfig, DumpParsesBackEqual) {
  const ProxyConfig original = parse_proxy_document(kFull, "full.yaml");
  const std::string dumped = dump_proxy_document(original);
  const ProxyConfig again = parse_proxy_document(dumped, "dump.json");
  EXPECT_TRUE(eq(original, again)) << dumped;
  EXPECT_EQ(dump_proxy_document(again), dumped);
  // The equality above compares every field: a changed one is noticed.
  ProxyConfig changed = again;
  changed.target_groups[0].stickiness.duration_s = 7;
  EXPECT_FALSE(eq(original, changed));
}

TEST(ProxyConfig, DumpOfDefaultsParsesBackEqual) {
  ProxyConfig config;
  config.listeners.emplace_back();
  config.listeners[0].name = "only";
  config.listeners[0].port = 1;
  const std::string dumped = dump_proxy_document(config);
  EXPECT_TRUE(eq(config, parse_proxy_document(dumped, "dump.json"))) << dumped;
}

TEST(ProxyConfig, DumpKeepsEveryByteOfTheBody) {
  const std::vector<std::string> bodies = {std::string("nul\0byte", 8),
                                           "\x7f\x01\x1f",
                                           "\xc2\x85next line",
                                           "\xe2\x80\xa8separator",
                                           "\xef\xbb\xbf bom",
                                           "  spaces  ",
                                           "null",
                                           "~",
                                           "",
                                           "'single'",
                                           "key: value",
                                           "- item",
                                           "# not a comment",
                                           "\\\"\r\n\t",
                                           "\xf0\x9f\x98\x80 emoji"};
  for (const std::string& body : bodies) {
    ProxyConfig config;
    config.listeners.emplace_back();
    config.listeners[0].name = "web";
    config.listeners[0].port = 80;
    config.listeners[0].default_action.fixed_response.body = body;
    const ProxyConfig again = parse_proxy_document(dump_proxy_document(config), "dump.json");
    EXPECT_EQ(again.listeners[0].default_action.fixed_response.body, body);
  }
}

TEST(ProxyConfig, ReadsCompactJson) {
  const ProxyConfig c = parse_proxy_document(
      R"({"listeners":[{"name":"a","listen":"127.0.0.1:80","rules":[{"priority":1,)"
      R"("conditions":[{"path_pattern":["/x"]}],"action":{"forward":"g"}}]}],)"
      R"("target_groups":[{"name":"g","targets":[{"address":"10.0.0.1","port":80}]}]})",
      "push.json");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].rules[0].conditions[0].values[0].text, "/x");
  EXPECT_EQ(c.target_groups[0].targets[0].port, 80);
}

TEST(ProxyConfig, DumpRefusesWhatNoDocumentExpresses) {
  ProxyConfig config = parse_proxy_document(with_condition("{path_pattern: [/a, /b]}"), "m.yaml");
  config.listeners[0].rules[0].conditions[0].values[1].regex = true;
  try {
    dump_proxy_document(config);
    FAIL() << "dumped a condition mixing regex and wildcard values";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "listeners[0].rules[0].conditions[0]: cannot be written: it mixes regex and "
                 "wildcard values");
  }
  config.listeners[0].rules[0].conditions[0].field = ConditionField::kHostHeader;
  config.listeners[0].rules[0].conditions[0].values[0].regex = true;
  EXPECT_THROW(dump_proxy_document(config), ConfigError);
}

TEST(ProxyConfig, ExampleParses) {
  std::ifstream in(std::string(SLUICE_SOURCE_ROOT) + "/examples/proxy.yaml");
  ASSERT_TRUE(in) << "examples/proxy.yaml";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const ProxyConfig c = parse_sections(text, "examples/proxy.yaml");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].rules.size(), 4u);
  EXPECT_EQ(c.target_groups.size(), 2u);
  const ProxyConfig again = parse_proxy_document(dump_proxy_document(c), "dump.json");
  EXPECT_TRUE(eq(c, again));
}

}  // namespace
}  // namespace sluice::proxy
