#include "proxy_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>

namespace sluice::proxy {
namespace {

// ALB's limits: values per condition, characters per pattern, groups per forward action,
// characters of a fixed response's body.
constexpr size_t kMaxConditionValues = 5;
constexpr size_t kMaxPatternLength = 128;
constexpr size_t kMaxHeaderNameLength = 40;
constexpr size_t kMaxMethodLength = 40;
constexpr size_t kMaxForwardGroups = 5;
constexpr size_t kMaxFixedBody = 1024;
constexpr size_t kMaxUnixSocketPath = 107;  // sun_path less its terminating NUL

constexpr std::string_view kConditionKeys[] = {"host_header", "path_pattern",        "path_regex",
                                               "http_header", "http_request_method", "query_string",
                                               "source_ip"};
constexpr std::string_view kContentTypes[] = {"text/plain", "text/css", "text/html",
                                              "application/javascript", "application/json"};
constexpr std::string_view kPlaceholders[] = {"protocol", "host", "port", "path", "query"};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ALB's naming: 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen.
bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

std::string name_of(const YamlField& f) {
  std::string s = f.str();
  if (!is_name(s)) {
    f.fail("'" + s +
           "' is not a name (1 to 32 letters, digits and hyphens, not starting or ending with a "
           "hyphen)");
  }
  return s;
}

uint32_t u32(const YamlField& f, uint32_t min, uint32_t max) {
  return static_cast<uint32_t>(f.uint(min, max));
}

std::string lower_case(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

bool printable(std::string_view s, bool allow_space) {
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return (c > ' ' && c < 0x7f) || (allow_space && c == ' '); });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A condition's values: a list of 1 to 5, or a single value.
std::vector<YamlField> condition_values(const YamlField& f) {
  std::vector<YamlField> items = f.is_sequence() ? f.items() : std::vector<YamlField>{f};
  if (items.empty()) f.fail("needs at least one value");
  if (items.size() > kMaxConditionValues) {
    f.fail("has " + std::to_string(items.size()) + " values; a condition takes at most " +
           std::to_string(kMaxConditionValues));
  }
  return items;
}

// A non-empty pattern of at most 128 characters; returns it.
std::string pattern_of(const YamlField& f) {
  std::string s = f.str();
  if (s.empty()) f.fail("must not be empty");
  if (s.size() > kMaxPatternLength) {
    f.fail("is " + std::to_string(s.size()) + " characters long; at most " +
           std::to_string(kMaxPatternLength));
  }
  return s;
}

std::string host_pattern(const YamlField& f) {
  std::string s = pattern_of(f);
  const bool ok = std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '*' || c == '?';
  });
  if (!ok) f.fail("'" + s + "' may hold only letters, digits, '-', '.', '*' and '?'");
  return s;
}

std::string path_pattern(const YamlField& f) {
  std::string s = pattern_of(f);
  if (s.front() != '/' && s.front() != '*' && s.front() != '?')
    f.fail("'" + s + "' must start with '/' or a wildcard");
  if (!printable(s, false))
    f.fail("'" + s + "' may hold only printable ASCII characters without spaces");
  return s;
}

// Header values, query keys and values, regular expressions.
std::string text_pattern(const YamlField& f) {
  std::string s = pattern_of(f);
  if (!printable(s, true)) f.fail("'" + s + "' may hold only printable ASCII characters");
  return s;
}

std::string header_name(const YamlField& f) {
  std::string s = f.str();
  const bool token = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  if (!token || s.size() > kMaxHeaderNameLength) {
    f.fail("'" + s + "' is not a header name (1 to " + std::to_string(kMaxHeaderNameLength) +
           " token characters)");
  }
  if (lower_case(s) == "host") f.fail("the Host header is matched with a host_header condition");
  return s;
}

std::string method_name(const YamlField& f) {
  std::string s = f.str();
  const bool ok =
      !s.empty() && s.size() <= kMaxMethodLength && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
      });
  if (!ok) {
    f.fail("'" + s + "' is not a method name (1 to " + std::to_string(kMaxMethodLength) +
           " of A-Z, '_' and '-')");
  }
  return s;
}

std::vector<StringPattern> patterns(const YamlField& f, std::string (*check)(const YamlField&),
                                    bool regex) {
  std::vector<StringPattern> out;
  for (const auto& item : condition_values(f)) out.push_back({check(item), regex});
  return out;
}

Condition parse_condition(const YamlField& f) {
  f.expect_map(std::vector<std::string_view>(std::begin(kConditionKeys), std::end(kConditionKeys)));
  std::vector<std::string_view> present;
  for (auto key : kConditionKeys)
    if (f.child(key).present()) present.push_back(key);
  if (present.size() != 1) {
    std::string list;
    for (auto key : kConditionKeys) list += (list.empty() ? "" : ", ") + std::string(key);
    f.fail(present.empty()
               ? "needs one of " + list
               : "has both " + std::string(present[0]) + " and " + std::string(present[1]) +
                     "; write each as a condition of its own");
  }
  const YamlField v = f.child(present[0]);
  Condition c;
  if (present[0] == "host_header") {
    c.field = ConditionField::kHostHeader;
    c.values = patterns(v, host_pattern, false);
  } else if (present[0] == "path_pattern") {
    c.field = ConditionField::kPathPattern;
    c.values = patterns(v, path_pattern, false);
  } else if (present[0] == "path_regex") {
    c.field = ConditionField::kPathPattern;
    c.values = patterns(v, text_pattern, true);
  } else if (present[0] == "http_header") {
    c.field = ConditionField::kHttpHeader;
    v.expect_map({"name", "values", "regex_values"});
    c.header_name = header_name(v.required("name"));
    const YamlField values = v.child("values"), regex = v.child("regex_values");
    if (values.present() == regex.present()) v.fail("needs exactly one of values, regex_values");
    c.values = values.present() ? patterns(values, text_pattern, false)
                                : patterns(regex, text_pattern, true);
  } else if (present[0] == "http_request_method") {
    c.field = ConditionField::kMethod;
    c.values = patterns(v, method_name, false);
  } else if (present[0] == "query_string") {
    c.field = ConditionField::kQueryString;
    for (const auto& item : condition_values(v)) {
      item.expect_map({"key", "value"});
      QueryPattern q;
      if (auto k = item.child("key"); k.present()) q.key = text_pattern(k);
      q.value = text_pattern(item.required("value"));
      c.query.push_back(std::move(q));
    }
  } else {
    c.field = ConditionField::kSourceIp;
    for (const auto& item : condition_values(v)) {
      const std::string text = item.str();
      auto prefix = parse_ip_prefix(text);
      if (!prefix)
        item.fail("'" + text + "' is not an address/length (e.g. 10.0.0.0/8 or 2001:db8::/32)");
      c.source_ips.push_back(*prefix);
    }
  }
  return c;
}

// A redirect component: printable ASCII without spaces, at most 128 characters, whose only '#'
// characters open the placeholders #{protocol}, #{host}, #{port}, #{path} and #{query}.
std::string redirect_component(const YamlField& f) {
  std::string s = f.str();
  if (s.size() > kMaxPatternLength) {
    f.fail("is " + std::to_string(s.size()) + " characters long; at most " +
           std::to_string(kMaxPatternLength));
  }
  if (!printable(s, false))
    f.fail("'" + s + "' may hold only printable ASCII characters without spaces");
  for (size_t at = s.find('#'); at != std::string::npos; at = s.find('#', at + 1)) {
    const size_t close = s.find('}', at);
    const bool known =
        s.compare(at, 2, "#{") == 0 && close != std::string::npos &&
        std::find(std::begin(kPlaceholders), std::end(kPlaceholders),
                  std::string_view(s).substr(at + 2, close - at - 2)) != std::end(kPlaceholders);
    if (!known) {
      f.fail("'" + s + "': '#' may only open #{protocol}, #{host}, #{port}, #{path} or #{query}");
    }
  }
  return s;
}

RedirectAction parse_redirect(const YamlField& f) {
  f.expect_map({"status", "protocol", "host", "port", "path", "query"});
  RedirectAction r;
  if (auto s = f.child("status"); s.present()) {
    r.status = static_cast<uint16_t>(s.uint(0, 999));
    if (r.status != 301 && r.status != 302)
      s.fail("must be 301 or 302, got " + std::to_string(r.status));
  }
  if (auto p = f.child("protocol"); p.present()) {
    std::string value = p.str();
    const std::string lower = lower_case(value);
    if (lower != "http" && lower != "https" && value != "#{protocol}")
      p.fail("'" + value + "' is not one of HTTP, HTTPS, #{protocol}");
    r.protocol = value == "#{protocol}" ? value : lower;
  }
  if (auto h = f.child("host"); h.present()) {
    r.host = redirect_component(h);
    if (r.host.empty()) h.fail("must not be empty");
  }
  if (auto p = f.child("port"); p.present()) {
    r.port = p.str();
    if (r.port != "#{port}") {
      r.port = std::to_string(p.uint(1, 65535));
    }
  }
  if (auto p = f.child("path"); p.present()) {
    r.path = redirect_component(p);
    if (r.path.empty() || r.path.front() != '/') p.fail("'" + r.path + "' must start with '/'");
  }
  if (auto q = f.child("query"); q.present()) {
    r.query = redirect_component(q);
    if (!r.query.empty() && r.query.front() == '?')
      q.fail("'" + r.query + "' is written without its leading '?'");
  }
  const RedirectAction unchanged;
  if (r.protocol == unchanged.protocol && r.host == unchanged.host && r.port == unchanged.port &&
      r.path == unchanged.path && r.query == unchanged.query)
    f.fail("would redirect every request to its own URL; change at least one component");
  return r;
}

FixedResponseAction parse_fixed_response(const YamlField& f) {
  f.expect_map({"status", "content_type", "body"});
  FixedResponseAction r{200, "text/plain", ""};
  const YamlField status = f.required("status");
  r.status = static_cast<uint16_t>(status.uint(200, 599));
  if (r.status >= 300 && r.status < 400) {
    status.fail("must be a 2XX, 4XX or 5XX status, got " + std::to_string(r.status) +
                " (a redirect action sends 3XX)");
  }
  if (auto c = f.child("content_type"); c.present()) {
    r.content_type = c.str();
    if (std::find(std::begin(kContentTypes), std::end(kContentTypes), r.content_type) ==
        std::end(kContentTypes)) {
      std::string list;
      for (auto t : kContentTypes) list += (list.empty() ? "" : ", ") + std::string(t);
      c.fail("'" + r.content_type + "' is not one of " + list);
    }
  }
  if (auto b = f.child("body"); b.present()) {
    r.body = b.str();
    if (r.body.size() > kMaxFixedBody) {
      b.fail("is " + std::to_string(r.body.size()) + " bytes long; at most " +
             std::to_string(kMaxFixedBody));
    }
  }
  return r;
}

std::vector<WeightedTargetGroup> parse_forward(const YamlField& f) {
  std::vector<WeightedTargetGroup> out;
  if (!f.is_sequence()) {
    out.push_back({name_of(f), 1});
    return out;
  }
  const std::vector<YamlField> items = f.items();
  if (items.empty()) f.fail("needs at least one target group");
  if (items.size() > kMaxForwardGroups) {
    f.fail("has " + std::to_string(items.size()) + " target groups; at most " +
           std::to_string(kMaxForwardGroups));
  }
  bool any_weight = false;
  for (const auto& item : items) {
    item.expect_map({"target_group", "weight"});
    WeightedTargetGroup g{name_of(item.required("target_group")), 1};
    if (auto w = item.child("weight"); w.present())
      g.weight = static_cast<uint16_t>(w.uint(0, 999));
    any_weight = any_weight || g.weight > 0;
    out.push_back(std::move(g));
  }
  if (!any_weight) f.fail("every target group has weight 0; at least one must take requests");
  return out;
}

Action parse_action(const YamlField& f) {
  f.expect_map({"forward", "redirect", "fixed_response"});
  const YamlField forward = f.child("forward"), redirect = f.child("redirect"),
                  fixed = f.child("fixed_response");
  if (forward.present() + redirect.present() + fixed.present() != 1)
    f.fail("needs exactly one of forward, redirect, fixed_response");
  Action a;
  if (forward.present()) {
    a.kind = Action::Kind::kForward;
    a.forward = parse_forward(forward);
  } else if (redirect.present()) {
    a.kind = Action::Kind::kRedirect;
    a.redirect = parse_redirect(redirect);
  } else {
    a.kind = Action::Kind::kFixedResponse;
    a.fixed_response = parse_fixed_response(fixed);
  }
  return a;
}

Rule parse_rule(const YamlField& f) {
  f.expect_map({"name", "priority", "conditions", "action"});
  Rule r;
  r.priority = u32(f.required("priority"), 1, 50000);
  r.name = f.child("name").present() ? name_of(f.child("name"))
                                     : "priority-" + std::to_string(r.priority);
  const YamlField conditions = f.required("conditions");
  const std::vector<YamlField> items = conditions.items();
  if (items.empty()) conditions.fail("needs at least one condition");
  for (const auto& item : items) r.conditions.push_back(parse_condition(item));
  r.action = parse_action(f.required("action"));
  return r;
}

// "HOST:PORT" with an IP address for HOST (an IPv6 one in brackets) and a port of 0 - 65535
// (0: the kernel picks a free port when the proxy starts, which it prints).
void parse_listen(const YamlField& f, Listener& listener) {
  const std::string text = f.str();
  auto bad = [&]() {
    f.fail("'" + text + "' is not ADDRESS:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) bad();
  std::string host = text.substr(0, colon);
  const bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 3 || host.back() != ']') bad();
    host = host.substr(1, host.size() - 2);
  }
  auto address = parse_ip_address(host);
  if (!address || (host.find(':') != std::string::npos) != bracketed) bad();
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    bad();
  const unsigned value = static_cast<unsigned>(std::stoul(port));
  if (value > 65535) f.fail("port " + port + " is not between 0 and 65535");
  listener.address = format_ip_address(*address);
  listener.port = static_cast<uint16_t>(value);
}

std::string listen_text(const Listener& l) {
  const bool v6 = l.address.find(':') != std::string::npos;
  return (v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port);
}

std::string path_setting(const YamlField& f) {
  std::string s = f.str();
  if (has_control(s)) f.fail("must not hold control characters");
  return s;
}

}  // namespace

void parse_proxy_section(const YamlField& field, ProxySettings& settings) {
  field.expect_map({"cores", "idle_timeout_s", "request_timeout_s", "connect_timeout_ms",
                    "target_timeout_s", "max_head_bytes", "max_body_bytes", "max_idle_per_target",
                    "access_log", "control_socket"});
  if (auto f = field.child("cores"); f.present()) {
    for (const auto& item : f.items()) {
      const auto core = static_cast<unsigned>(item.uint(0, 1023));
      if (std::find(settings.cores.begin(), settings.cores.end(), core) != settings.cores.end())
        item.fail("core " + std::to_string(core) + " is listed twice");
      settings.cores.push_back(core);
    }
  }
  if (auto f = field.child("idle_timeout_s"); f.present())
    settings.idle_timeout_s = u32(f, 1, 4000);
  if (auto f = field.child("request_timeout_s"); f.present())
    settings.request_timeout_s = u32(f, 1, 3600);
  if (auto f = field.child("connect_timeout_ms"); f.present())
    settings.connect_timeout_ms = u32(f, 10, 60000);
  if (auto f = field.child("target_timeout_s"); f.present())
    settings.target_timeout_s = u32(f, 1, 4000);
  if (auto f = field.child("max_head_bytes"); f.present())
    settings.max_head_bytes = f.uint(1024, 1 << 20);
  if (auto f = field.child("max_body_bytes"); f.present())
    settings.max_body_bytes = f.uint(0, 1 << 30);
  if (auto f = field.child("max_idle_per_target"); f.present())
    settings.max_idle_per_target = u32(f, 0, 4096);
  if (auto f = field.child("access_log"); f.present()) settings.access_log = path_setting(f);
  if (auto f = field.child("control_socket"); f.present()) {
    settings.control_socket = path_setting(f);
    if (settings.control_socket.size() > kMaxUnixSocketPath) {
      f.fail("a unix socket path is at most " + std::to_string(kMaxUnixSocketPath) +
             " characters, got " + std::to_string(settings.control_socket.size()));
    }
  }
}

void parse_listeners_section(const YamlField& field, std::vector<Listener>& listeners) {
  for (const auto& item : field.items()) {
    item.expect_map({"name", "listen", "rules", "default_action"});
    Listener l;
    l.name = name_of(item.required("name"));
    for (const Listener& other : listeners) {
      if (other.name == l.name)
        item.child("name").fail("listener '" + l.name + "' is defined twice");
    }
    parse_listen(item.required("listen"), l);
    if (auto rules = item.child("rules"); rules.present()) {
      for (const auto& r : rules.items()) l.rules.push_back(parse_rule(r));
    }
    if (auto d = item.child("default_action"); d.present()) l.default_action = parse_action(d);
    listeners.push_back(std::move(l));
  }
}

void parse_target_groups_section(const YamlField& field, std::vector<TargetGroup>& groups) {
  for (const auto& item : field.items()) {
    item.expect_map({"name", "algorithm", "stickiness", "slow_start_s", "targets"});
    TargetGroup g;
    g.name = name_of(item.required("name"));
    for (const TargetGroup& other : groups) {
      if (other.name == g.name)
        item.child("name").fail("target group '" + g.name + "' is defined twice");
    }
    if (auto f = item.child("algorithm"); f.present()) {
      g.algorithm = static_cast<Algorithm>(
          f.choice({"round_robin", "least_outstanding_requests", "weighted_random"}));
    }
    if (auto f = item.child("stickiness"); f.present()) {
      f.expect_map({"enabled", "duration_s"});
      if (auto e = f.child("enabled"); e.present()) g.stickiness.enabled = e.boolean();
      if (auto d = f.child("duration_s"); d.present()) g.stickiness.duration_s = u32(d, 1, 604800);
    }
    if (auto f = item.child("slow_start_s"); f.present()) {
      g.slow_start_s = u32(f, 0, 900);
      if (g.slow_start_s > 0 && g.slow_start_s < 30)
        f.fail("must be 0 (off) or between 30 and 900, got " + std::to_string(g.slow_start_s));
    }
    if (auto f = item.child("targets"); f.present()) {
      for (const auto& t : f.items()) {
        t.expect_map({"address", "port", "weight", "state"});
        Target target;
        const YamlField address = t.required("address");
        const std::string text = address.str();
        auto parsed = parse_ip_address(text);
        if (!parsed) address.fail("'" + text + "' is not an IP address");
        target.address = *parsed;
        target.port = static_cast<uint16_t>(t.required("port").uint(1, 65535));
        if (auto w = t.child("weight"); w.present()) target.weight = u32(w, 0, 1000);
        if (auto s = t.child("state"); s.present()) {
          target.state =
              static_cast<TargetState>(s.choice({"healthy", "initial", "unhealthy", "draining"}));
        }
        for (const Target& other : g.targets) {
          if (other.address == target.address && other.port == target.port) {
            t.fail(format_ip_address(target.address) + " port " + std::to_string(target.port) +
                   " is listed twice in this group");
          }
        }
        g.targets.push_back(target);
      }
    }
    groups.push_back(std::move(g));
  }
}

namespace {

void check_action(const ProxyConfig& config, const Action& action, const std::string& key) {
  if (action.kind != Action::Kind::kForward) return;
  for (size_t i = 0; i < action.forward.size(); ++i) {
    const std::string& name = action.forward[i].target_group;
    const std::string at = key + ".forward[" + std::to_string(i) + "].target_group";
    if (config.find_target_group(name) == nullptr)
      throw ConfigError(at + ": no target group named \"" + name + "\"");
    for (size_t j = 0; j < i; ++j) {
      if (action.forward[j].target_group == name) {
        throw ConfigError(at + ": \"" + name + "\" is also " + key + ".forward[" +
                          std::to_string(j) + "]; list each group once");
      }
    }
  }
}

}  // namespace

void validate_proxy_config(ProxyConfig& config) {
  if (config.listeners.empty())
    throw ConfigError("listeners: the proxy needs at least one listener");
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    Listener& l = config.listeners[i];
    const std::string key = "listeners[" + std::to_string(i) + "]";
    for (size_t j = 0; j < i; ++j) {
      const Listener& other = config.listeners[j];
      if (other.address == l.address && other.port == l.port && l.port != 0) {
        throw ConfigError(key + ".listen: " + listen_text(l) +
                          " is also the address of listeners[" + std::to_string(j) + "] (" +
                          other.name + ")");
      }
    }
    std::map<uint32_t, size_t> priorities;
    for (size_t r = 0; r < l.rules.size(); ++r) {
      const std::string rule_key = key + ".rules[" + std::to_string(r) + "]";
      auto [it, inserted] = priorities.emplace(l.rules[r].priority, r);
      if (!inserted) {
        throw ConfigError(rule_key + ".priority: " + std::to_string(l.rules[r].priority) +
                          " is also the priority of " + key + ".rules[" +
                          std::to_string(it->second) + "]");
      }
      for (size_t k = 0; k < r; ++k) {
        if (l.rules[k].name == l.rules[r].name) {
          throw ConfigError(rule_key + ".name: '" + l.rules[r].name + "' is also the name of " +
                            key + ".rules[" + std::to_string(k) + "]");
        }
      }
      check_action(config, l.rules[r].action, rule_key + ".action");
    }
    check_action(config, l.default_action, key + ".default_action");
    std::stable_sort(l.rules.begin(), l.rules.end(),
                     [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
  }
}

ProxyConfig parse_proxy_document(std::string_view text, std::string_view source) {
  const YamlField root = YamlField::document(text, source);
  ProxyConfig config;
  if (root.present()) {
    root.expect_map({"proxy", "listeners", "target_groups"});
    if (auto f = root.child("proxy"); f.present()) parse_proxy_section(f, config.settings);
    if (auto f = root.child("listeners"); f.present()) parse_listeners_section(f, config.listeners);
    if (auto f = root.child("target_groups"); f.present())
      parse_target_groups_section(f, config.target_groups);
  }
  validate_proxy_config(config);
  return config;
}

namespace {

// JSON text; a subset that YAML 1.2 (and yaml-cpp) reads the same way.
class JsonWriter {
 public:
  std::string take() { return std::move(out_); }

  void open(char c) {
    value_start();
    out_ += c;
    first_ = true;
  }
  void close(char c) {
    out_ += c;
    first_ = false;
  }
  void key(std::string_view k) {
    value_start();
    quote(k);
    out_ += ": ";
    after_key_ = true;
  }
  void string(std::string_view s) {
    value_start();
    quote(s);
  }
  void number(uint64_t n) {
    value_start();
    out_ += std::to_string(n);
  }
  void boolean(bool b) {
    value_start();
    out_ += b ? "true" : "false";
  }

 private:
  void value_start() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ", ";
    first_ = false;
  }
  void quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out_ += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

void write_strings(JsonWriter& w, const std::vector<StringPattern>& values) {
  w.open('[');
  for (const auto& v : values) w.string(v.text);
  w.close(']');
}

void write_condition(JsonWriter& w, const Condition& c, const std::string& key) {
  const bool regex = !c.values.empty() && c.values.front().regex;
  for (const auto& v : c.values) {
    if (v.regex != regex)
      throw ConfigError(key + ": cannot be written: it mixes regex and wildcard values");
  }
  const bool regex_allowed =
      c.field == ConditionField::kPathPattern || c.field == ConditionField::kHttpHeader;
  if (regex && !regex_allowed)
    throw ConfigError(key + ": cannot be written: only path and header conditions take regexes");
  w.open('{');
  switch (c.field) {
    case ConditionField::kHostHeader:
      w.key("host_header");
      write_strings(w, c.values);
      break;
    case ConditionField::kPathPattern:
      w.key(regex ? "path_regex" : "path_pattern");
      write_strings(w, c.values);
      break;
    case ConditionField::kHttpHeader:
      w.key("http_header");
      w.open('{');
      w.key("name");
      w.string(c.header_name);
      w.key(regex ? "regex_values" : "values");
      write_strings(w, c.values);
      w.close('}');
      break;
    case ConditionField::kMethod:
      w.key("http_request_method");
      write_strings(w, c.values);
      break;
    case ConditionField::kQueryString:
      w.key("query_string");
      w.open('[');
      for (const auto& q : c.query) {
        w.open('{');
        if (!q.key.empty()) {
          w.key("key");
          w.string(q.key);
        }
        w.key("value");
        w.string(q.value);
        w.close('}');
      }
      w.close(']');
      break;
    case ConditionField::kSourceIp:
      w.key("source_ip");
      w.open('[');
      for (const auto& p : c.source_ips)
        w.string(format_ip_address(p.address) + "/" + std::to_string(p.length));
      w.close(']');
      break;
  }
  w.close('}');
}

void write_action(JsonWriter& w, const Action& a) {
  w.open('{');
  switch (a.kind) {
    case Action::Kind::kForward:
      w.key("forward");
      w.open('[');
      for (const auto& g : a.forward) {
        w.open('{');
        w.key("target_group");
        w.string(g.target_group);
        w.key("weight");
        w.number(g.weight);
        w.close('}');
      }
      w.close(']');
      break;
    case Action::Kind::kRedirect:
      w.key("redirect");
      w.open('{');
      w.key("status");
      w.number(a.redirect.status);
      w.key("protocol");
      w.string(a.redirect.protocol);
      w.key("host");
      w.string(a.redirect.host);
      w.key("port");
      w.string(a.redirect.port);
      w.key("path");
      w.string(a.redirect.path);
      w.key("query");
      w.string(a.redirect.query);
      w.close('}');
      break;
    case Action::Kind::kFixedResponse:
      w.key("fixed_response");
      w.open('{');
      w.key("status");
      w.number(a.fixed_response.status);
      w.key("content_type");
      w.string(a.fixed_response.content_type);
      w.key("body");
      w.string(a.fixed_response.body);
      w.close('}');
      break;
  }
  w.close('}');
}

constexpr const char* kAlgorithmNames[] = {"round_robin", "least_outstanding_requests",
                                           "weighted_random"};
constexpr const char* kStateNames[] = {"healthy", "initial", "unhealthy", "draining"};

}  // namespace

std::string dump_proxy_document(const ProxyConfig& config) {
  JsonWriter w;
  w.open('{');
  const ProxySettings& s = config.settings;
  w.key("proxy");
  w.open('{');
  w.key("cores");
  w.open('[');
  for (unsigned c : s.cores) w.number(c);
  w.close(']');
  w.key("idle_timeout_s");
  w.number(s.idle_timeout_s);
  w.key("request_timeout_s");
  w.number(s.request_timeout_s);
  w.key("connect_timeout_ms");
  w.number(s.connect_timeout_ms);
  w.key("target_timeout_s");
  w.number(s.target_timeout_s);
  w.key("max_head_bytes");
  w.number(s.max_head_bytes);
  w.key("max_body_bytes");
  w.number(s.max_body_bytes);
  w.key("max_idle_per_target");
  w.number(s.max_idle_per_target);
  w.key("access_log");
  w.string(s.access_log);
  w.key("control_socket");
  w.string(s.control_socket);
  w.close('}');

  w.key("listeners");
  w.open('[');
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const Listener& l = config.listeners[i];
    w.open('{');
    w.key("name");
    w.string(l.name);
    w.key("listen");
    w.string(listen_text(l));
    w.key("rules");
    w.open('[');
    for (size_t r = 0; r < l.rules.size(); ++r) {
      const Rule& rule = l.rules[r];
      w.open('{');
      w.key("name");
      w.string(rule.name);
      w.key("priority");
      w.number(rule.priority);
      w.key("conditions");
      w.open('[');
      for (size_t c = 0; c < rule.conditions.size(); ++c) {
        write_condition(w, rule.conditions[c],
                        "listeners[" + std::to_string(i) + "].rules[" + std::to_string(r) +
                            "].conditions[" + std::to_string(c) + "]");
      }
      w.close(']');
      w.key("action");
      write_action(w, rule.action);
      w.close('}');
    }
    w.close(']');
    w.key("default_action");
    write_action(w, l.default_action);
    w.close('}');
  }
  w.close(']');

  w.key("target_groups");
  w.open('[');
  for (const TargetGroup& g : config.target_groups) {
    w.open('{');
    w.key("name");
    w.string(g.name);
    w.key("algorithm");
    w.string(kAlgorithmNames[static_cast<size_t>(g.algorithm)]);
    w.key("stickiness");
    w.open('{');
    w.key("enabled");
    w.boolean(g.stickiness.enabled);
    w.key("duration_s");
    w.number(g.stickiness.duration_s);
    w.close('}');
    w.key("slow_start_s");
    w.number(g.slow_start_s);
    w.key("targets");
    w.open('[');
    for (const Target& t : g.targets) {
      w.open('{');
      w.key("address");
      w.string(format_ip_address(t.address));
      w.key("port");
      w.number(t.port);
      w.key("weight");
      w.number(t.weight);
      w.key("state");
      w.string(kStateNames[static_cast<size_t>(t.state)]);
      w.close('}');
    }
    w.close(']');
    w.close('}');
  }
  w.close(']');
  w.close('}');
  return w.take() + "\n";
}

}  // namespace sluice::proxy
