#include "control_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "config/yaml_field.h"
#include "proxy_config.h"

namespace sluice::controlplane {
namespace {

// Target group, service and listener names: like ALB's, they end up in metric labels and URLs.
std::string resource_name(const YamlField& f) {
  const std::string name = f.str();
  bool ok = !name.empty() && name.size() <= 32 && name.front() != '-' && name.back() != '-';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
  if (!ok) {
    f.fail(
        "'" + name +
        "' is not a name of 1 to 32 letters, digits and hyphens, without a hyphen at either end");
  }
  return name;
}

IpAddress ip_field(const YamlField& f) {
  auto a = parse_ip_address(f.str());
  if (!a) f.fail("'" + f.str() + "' is not an IPv4 or IPv6 address");
  return *a;
}

// "10.0.0.1:80" or "[fd00::1]:80".
Endpoint endpoint_field(const YamlField& f) {
  const std::string text = f.str();
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close != std::string::npos) {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else if (const size_t colon = text.find(':');
             colon != std::string::npos && text.find(':', colon + 1) == std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto address = parse_ip_address(host);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (!address || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value < 1 || value > 65535) {
    f.fail("'" + text + "' is not an address and port like 10.0.0.1:80 or [fd00::1]:80");
  }
  return {*address, static_cast<uint16_t>(value)};
}

bool is_loopback(const IpAddress& a) {
  if (a.is_v4()) return a.bytes[12] == 127;
  return a == *parse_ip_address("::1");
}

// "200", "200-299", "200,202" and combinations of those, every code within 200-499.
StatusMatcher matcher_field(const YamlField& f) {
  const std::string text = f.str();
  StatusMatcher out;
  auto bad = [&] {
    f.fail("'" + text + "' is not a list of HTTP codes and ranges within 200-499, like 200, " +
           "200-299 or 200,202");
  };
  auto code = [&](std::string_view s) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 200 || v > 499) bad();
    return static_cast<uint16_t>(v);
  };
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      const uint16_t c = code(item);
      out.emplace_back(c, c);
    } else {
      const uint16_t lo = code(item.substr(0, dash)), hi = code(item.substr(dash + 1));
      if (lo > hi) bad();
      out.emplace_back(lo, hi);
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

// Rejects a second use of `value` among `seen`, naming this field.
void unique(std::set<std::string>& seen, const YamlField& f, const std::string& value,
            std::string_view what) {
  if (!seen.insert(value).second) f.fail("'" + value + "' is used by another " + std::string(what));
}

void parse_dataplane(const YamlField& f, DataplaneLink& out) {
  f.expect_map({"control_socket", "proxy_socket"});
  auto socket_path = [](const YamlField& v) {
    std::string path = v.str();
    if (path.empty() || path.front() != '/') v.fail("must be an absolute path");
    // sockaddr_un holds 107 characters and the terminating NUL.
    if (path.size() > 107) v.fail("socket paths are at most 107 characters");
    return path;
  };
  if (auto v = f.child("control_socket"); v.present()) out.control_socket = socket_path(v);
  if (auto v = f.child("proxy_socket"); v.present()) out.proxy_socket = socket_path(v);
}

void parse_api(const YamlField& f, ApiConfig& out) {
  f.expect_map({"listen", "bearer_token"});
  const YamlField listen = f.child("listen");
  if (listen.present()) out.listen = endpoint_field(listen);
  if (auto v = f.child("bearer_token"); v.present()) {
    out.bearer_token = v.str();
    bool ok = out.bearer_token.size() >= 16 && out.bearer_token.size() <= 256;
    for (char c : out.bearer_token) ok = ok && c > ' ' && c < 127;
    if (!ok) v.fail("must be 16 to 256 printable characters without spaces");
  }
  if (out.bearer_token.empty() && !is_loopback(out.listen.address))
    listen.fail("is not a loopback address, so api.bearer_token is required");
}

HealthCheck parse_health_check(const YamlField& f, GroupProtocol group) {
  HealthCheck hc;
  hc.protocol = group == GroupProtocol::kHttps  ? HealthProtocol::kHttps
                : group == GroupProtocol::kHttp ? HealthProtocol::kHttp
                                                : HealthProtocol::kTcp;
  if (!f.present()) return hc;
  f.expect_map({"protocol", "path", "port", "interval_s", "timeout_s", "healthy_threshold",
                "unhealthy_threshold", "matcher"});
  if (auto v = f.child("protocol"); v.present())
    hc.protocol = static_cast<HealthProtocol>(v.choice({"tcp", "http", "https"}));
  const bool http = hc.protocol != HealthProtocol::kTcp;
  if (auto v = f.child("path"); v.present()) {
    if (!http) v.fail("only http and https health checks have a path");
    hc.path = v.str();
    bool ok = !hc.path.empty() && hc.path.front() == '/' && hc.path.size() <= 1024;
    for (char c : hc.path) ok = ok && c > ' ' && c < 127;
    if (!ok) v.fail("'" + hc.path + "' is not a path starting with '/' (at most 1024 characters)");
  }
  if (auto v = f.child("matcher"); v.present()) {
    if (!http) v.fail("only http and https health checks have a matcher");
    hc.matcher = matcher_field(v);
  }
  if (auto v = f.child("port"); v.present()) hc.port = static_cast<uint16_t>(v.uint(1, 65535));
  if (auto v = f.child("interval_s"); v.present())
    hc.interval_s = static_cast<uint32_t>(v.uint(5, 300));
  if (auto v = f.child("timeout_s"); v.present())
    hc.timeout_s = static_cast<uint32_t>(v.uint(2, 120));
  if (auto v = f.child("healthy_threshold"); v.present())
    hc.healthy_threshold = static_cast<uint32_t>(v.uint(2, 10));
  if (auto v = f.child("unhealthy_threshold"); v.present())
    hc.unhealthy_threshold = static_cast<uint32_t>(v.uint(2, 10));
  if (hc.timeout_s >= hc.interval_s) {
    const YamlField at = f.child("timeout_s").present() ? f.child("timeout_s") : f;
    at.fail("timeout_s (" + std::to_string(hc.timeout_s) + ") must be less than interval_s (" +
            std::to_string(hc.interval_s) + ")");
  }
  return hc;
}

TargetGroup parse_target_group(const YamlField& f) {
  f.expect_map({"name", "protocol", "port", "targets", "health_check", "deregistration_delay_s",
                "slow_start_s", "algorithm", "stickiness"});
  TargetGroup g;
  g.name = resource_name(f.required("name"));
  g.protocol =
      static_cast<GroupProtocol>(f.required("protocol").choice({"tcp", "udp", "http", "https"}));
  g.port = static_cast<uint16_t>(f.required("port").uint(1, 65535));
  if (auto v = f.child("targets"); v.present()) {
    std::set<std::pair<IpAddress, uint16_t>> seen;
    for (const auto& item : v.items()) {
      item.expect_map({"address", "port", "weight"});
      Target t;
      t.address = ip_field(item.required("address"));
      t.port = g.port;
      if (auto p = item.child("port"); p.present())
        t.port = static_cast<uint16_t>(p.uint(1, 65535));
      if (auto w = item.child("weight"); w.present())
        t.weight = static_cast<uint16_t>(w.uint(0, 999));
      if (!seen.insert({t.address, t.port}).second) {
        item.fail(format_ip_address(t.address) + " port " + std::to_string(t.port) +
                  " is already a target of this group");
      }
      g.targets.push_back(t);
    }
  }
  g.health_check = parse_health_check(f.child("health_check"), g.protocol);
  if (auto v = f.child("deregistration_delay_s"); v.present())
    g.deregistration_delay_s = static_cast<uint32_t>(v.uint(0, 3600));
  if (auto v = f.child("slow_start_s"); v.present()) {
    g.slow_start_s = static_cast<uint32_t>(v.uint(0, 900));
    if (g.slow_start_s != 0 && g.slow_start_s < 30) v.fail("must be 0 (off) or between 30 and 900");
  }
  const bool http = g.protocol == GroupProtocol::kHttp || g.protocol == GroupProtocol::kHttps;
  if (auto v = f.child("algorithm"); v.present()) {
    if (!http) v.fail("only http and https groups have an algorithm");
    g.algorithm = static_cast<proxy::Algorithm>(
        v.choice({"round_robin", "least_outstanding_requests", "weighted_random"}));
  }
  if (auto v = f.child("stickiness"); v.present()) {
    if (!http) v.fail("only http and https groups have stickiness");
    v.expect_map({"enabled", "duration_s"});
    if (auto e = v.child("enabled"); e.present()) g.stickiness.enabled = e.boolean();
    if (auto d = v.child("duration_s"); d.present())
      g.stickiness.duration_s = static_cast<uint32_t>(d.uint(1, 7 * 86400));
  }
  return g;
}

Service parse_service(const YamlField& f, const ControlConfig& config) {
  f.expect_map({"name", "vip", "protocol", "port", "mode", "tunnel", "gue_port", "hash_source_port",
                "track_udp_flows", "target_group"});
  Service s;
  s.name = resource_name(f.required("name"));
  s.vip = ip_field(f.required("vip"));
  s.protocol = static_cast<ServiceProtocol>(f.required("protocol").choice({"tcp", "udp"}));
  s.port = static_cast<uint16_t>(f.required("port").uint(0, 65535));
  if (auto v = f.child("mode"); v.present())
    s.mode = static_cast<ForwardingMode>(v.choice({"nat", "dsr", "tunnel"}));
  if (auto v = f.child("tunnel"); v.present()) {
    if (s.mode != ForwardingMode::kTunnel) v.fail("only tunnel mode services have a tunnel type");
    s.tunnel = static_cast<TunnelType>(v.choice({"ipip", "gue"}));
  }
  if (auto v = f.child("gue_port"); v.present()) {
    if (s.mode != ForwardingMode::kTunnel || s.tunnel != TunnelType::kGue)
      v.fail("only services with tunnel: gue have a gue_port");
    s.gue_port = static_cast<uint16_t>(v.uint(1, 65535));
  }
  if (auto v = f.child("hash_source_port"); v.present()) s.hash_source_port = v.boolean();
  if (auto v = f.child("track_udp_flows"); v.present()) {
    s.track_udp_flows = v.boolean();
    // nat rewrites replies, which needs the flow's state.
    if (!s.track_udp_flows && s.mode == ForwardingMode::kNat)
      v.fail("nat services must track UDP flows; false is only for dsr and tunnel");
  }
  const YamlField tg = f.required("target_group");
  s.target_group = tg.str();
  const TargetGroup* group = config.find_target_group(s.target_group);
  if (!group) tg.fail("'" + s.target_group + "' is not a target group");
  const bool tcp_group = group->protocol == GroupProtocol::kTcp;
  const bool udp_group = group->protocol == GroupProtocol::kUdp;
  if ((s.protocol == ServiceProtocol::kTcp && !tcp_group) ||
      (s.protocol == ServiceProtocol::kUdp && !udp_group)) {
    tg.fail("target group '" + s.target_group + "' is not of the service's protocol (" +
            (s.protocol == ServiceProtocol::kTcp ? "tcp" : "udp") + ")");
  }
  for (const auto& t : group->targets) {
    if (t.address.family() != s.vip.family()) {
      tg.fail("target " + format_ip_address(t.address) + " of '" + s.target_group +
              "' is not of the VIP's address family");
    }
  }
  return s;
}

// Every group a listener forwards to is an http or https group of this configuration.
void check_forward(const YamlField& action, const proxy::Action& a, const ControlConfig& config) {
  if (a.kind != proxy::Action::Kind::kForward) return;
  const YamlField forward = action.child("forward");
  const std::vector<YamlField> items =
      forward.is_sequence() ? forward.items() : std::vector<YamlField>{};
  for (size_t i = 0; i < a.forward.size(); ++i) {
    const YamlField at = items.empty() ? forward : items[i].child("target_group");
    const std::string& name = a.forward[i].target_group;
    const TargetGroup* group = config.find_target_group(name);
    if (!group) at.fail("'" + name + "' is not a target group");
    if (group->protocol != GroupProtocol::kHttp && group->protocol != GroupProtocol::kHttps)
      at.fail("listeners forward only to http and https target groups");
  }
}

void parse_listeners(const YamlField& f, ControlConfig& config, std::string_view source) {
  proxy::parse_listeners_section(f, config.listeners);
  const std::vector<YamlField> items = f.items();
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const proxy::Listener& l = config.listeners[i];
    const std::vector<YamlField> rules = items[i].child("rules").present()
                                             ? items[i].child("rules").items()
                                             : std::vector<YamlField>{};
    for (size_t r = 0; r < l.rules.size(); ++r)
      check_forward(rules[r].required("action"), l.rules[r].action, config);
    if (auto d = items[i].child("default_action"); d.present())
      check_forward(d, l.default_action, config);
  }
  if (config.listeners.empty()) return;
  // The proxy's own checks across listeners (unique addresses and rule priorities and names),
  // which also sort each listener's rules.
  proxy::ProxyConfig checked;
  checked.listeners = std::move(config.listeners);
  for (const TargetGroup& g : config.target_groups)
    checked.target_groups.push_back({.name = g.name});
  try {
    proxy::validate_proxy_config(checked);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(source) + ": " + e.what());
  }
  config.listeners = std::move(checked.listeners);
}

// SQS naming: letters, digits, hyphens and underscores; FIFO names end in ".fifo".
std::string messaging_name(const YamlField& f, bool fifo, size_t max, std::string_view what) {
  const std::string name = f.str();
  const std::string_view suffix = ".fifo";
  const bool has_suffix = name.size() > suffix.size() && name.ends_with(suffix);
  const std::string_view base =
      std::string_view(name).substr(0, name.size() - (has_suffix ? suffix.size() : 0));
  bool ok = !base.empty() && name.size() <= max;
  for (char c : base)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (!ok) {
    f.fail("'" + name + "' is not a " + std::string(what) + " name of 1 to " + std::to_string(max) +
           " letters, digits, hyphens and underscores");
  }
  if (fifo && !has_suffix) f.fail("fifo " + std::string(what) + " names end in .fifo");
  if (!fifo && has_suffix)
    f.fail("only fifo " + std::string(what) + "s have names ending in .fifo");
  return name;
}

// "http://HOST[:PORT]" (a trailing "/" allowed): the dataplane's SQS API speaks plain HTTP.
void parse_endpoint_url(const YamlField& f, QueuesConfig& out) {
  const std::string text = f.str();
  auto bad = [&] {
    f.fail("'" + text +
           "' is not a URL like http://127.0.0.1:9324 (http, a host, an optional port, no path)");
  };
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) bad();
  std::string_view rest = std::string_view(text).substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  std::string_view host;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) bad();
    host = rest.substr(1, close - 1);
    const auto address = parse_ip_address(host);
    if (!address || address->is_v4()) bad();
    rest = rest.substr(close + 1);
  } else {
    host = rest.substr(0, rest.find(':'));
    rest = rest.substr(host.size());
    bool ok = !host.empty() && host.size() <= 253;
    for (char c : host)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.');
    if (!ok) bad();
  }
  unsigned port = 80;
  if (!rest.empty()) {
    const std::string_view digits = rest.substr(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (rest.front() != ':' || digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || port < 1 || port > 65535) {
      bad();
    }
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(port);
}

// Printable ASCII without spaces, 1 to `max` characters.
std::string token_field(const YamlField& f, size_t max) {
  std::string value = f.str();
  bool ok = !value.empty() && value.size() <= max;
  for (char c : value) ok = ok && c > ' ' && c < 127;
  if (!ok) f.fail("must be 1 to " + std::to_string(max) + " printable characters without spaces");
  return value;
}

// A map of text values (YAML numbers and booleans taken as written), each key once.
std::vector<std::pair<std::string, std::string>> text_map(const YamlField& f) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const auto& [key, value] : f.entries()) {
    if (!seen.insert(key).second) value.fail("is given twice");
    out.emplace_back(key, value.str());
  }
  return out;
}

const std::string* find_value(const std::vector<std::pair<std::string, std::string>>& map,
                              std::string_view key) {
  for (const auto& [k, v] : map) {
    if (k == key) return &v;
  }
  return nullptr;
}

DeclaredQueue parse_declared_queue(const YamlField& f) {
  f.expect_map({"name", "attributes", "tags"});
  DeclaredQueue q;
  const YamlField name = f.required("name");
  const bool fifo_name = name.str().ends_with(".fifo");
  q.name = messaging_name(name, fifo_name, 80, "queue");
  const YamlField attributes = f.child("attributes");
  if (attributes.present()) {
    q.attributes = text_map(attributes);
    for (const auto& [key, value] : q.attributes) {
      if (key.empty()) attributes.fail("attribute names must not be empty");
    }
  }
  // SQS makes a FIFO queue from a .fifo name and FifoQueue "true", never from one alone.
  const std::string* fifo = find_value(q.attributes, "FifoQueue");
  if (fifo_name && (fifo == nullptr || *fifo != "true"))
    name.fail("'" + q.name + "' is a FIFO queue name, so attributes.FifoQueue must be \"true\"");
  if (!fifo_name && fifo != nullptr && *fifo == "true")
    attributes.child("FifoQueue").fail("FIFO queues have names ending in .fifo");
  if (auto t = f.child("tags"); t.present()) {
    q.tags = text_map(t);
    if (q.tags.size() > 50) t.fail("a queue has at most 50 tags");
    for (const auto& [key, value] : q.tags) {
      if (key.empty() || key.size() > 128) t.fail("tag keys are 1 to 128 characters");
      if (value.size() > 256) t.child(key).fail("tag values are at most 256 characters");
    }
  }
  return q;
}

// "{queue: NAME, above: N, below: M, command: [/path/to/program, arg, ...]}".
DepthHook parse_depth_hook(const YamlField& f) {
  f.expect_map({"queue", "above", "below", "command"});
  DepthHook h;
  const YamlField queue = f.required("queue");
  h.queue = messaging_name(queue, queue.str().ends_with(".fifo"), 80, "queue");
  constexpr uint64_t kMaxDepth = 1'000'000'000;
  h.above = f.required("above").uint(1, kMaxDepth);
  const YamlField below = f.required("below");
  h.below = below.uint(1, kMaxDepth);
  if (h.below >= h.above) {
    below.fail("must be less than above (" + std::to_string(h.above) + "), got " +
               std::to_string(h.below));
  }
  const YamlField command = f.required("command");
  if (!command.is_sequence())
    command.fail("must be a list: an absolute program path, then its arguments");
  for (const YamlField& item : command.items()) {
    std::string arg = item.str();
    if (arg.find('\0') != std::string::npos) item.fail("must not contain a NUL character");
    h.command.push_back(std::move(arg));
  }
  if (h.command.empty())
    command.fail("must not be empty: an absolute program path, then its arguments");
  if (h.command.front().empty() || h.command.front().front() != '/') {
    command.items().front().fail("'" + h.command.front() +
                                 "' is not an absolute path (commands run without a shell)");
  }
  return h;
}

void parse_queues(const YamlField& f, QueuesConfig& out) {
  f.expect_map({"endpoint", "access_key_id", "secret_access_key", "region", "declare",
                "depth_interval_s", "depth_hooks"});
  out.configured = true;
  if (auto v = f.child("depth_interval_s"); v.present())
    out.depth_interval_s = static_cast<uint32_t>(v.uint(1, 3600));
  if (auto v = f.child("depth_hooks"); v.present()) {
    for (const auto& item : v.items()) out.depth_hooks.push_back(parse_depth_hook(item));
  }
  if (auto v = f.child("endpoint"); v.present()) parse_endpoint_url(v, out);
  const YamlField id = f.child("access_key_id"), secret = f.child("secret_access_key");
  if (id.present()) out.access_key_id = token_field(id, 128);
  if (secret.present()) out.secret_access_key = token_field(secret, 128);
  if (id.present() != secret.present()) {
    (id.present() ? id : secret).fail("access_key_id and secret_access_key are given together");
  }
  if (auto v = f.child("region"); v.present()) {
    out.region = v.str();
    bool ok = !out.region.empty() && out.region.size() <= 64;
    for (char c : out.region)
      ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                  std::isdigit(static_cast<unsigned char>(c)) || c == '-');
    if (!ok) v.fail("'" + out.region + "' is not a region like us-east-1");
  }
  const YamlField declare = f.child("declare");
  if (!declare.present()) return;
  std::set<std::string> names;
  const std::vector<YamlField> items = declare.items();
  for (const auto& item : items) {
    DeclaredQueue q = parse_declared_queue(item);
    unique(names, item.child("name"), q.name, "queue");
    out.declare.push_back(std::move(q));
  }
  if (declare_order(out.declare)) return;
  // A dead-letter queue must exist before the queues that name it: name the first on a cycle.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < out.declare.size(); ++i) index[out.declare[i].name] = i;
  for (size_t i = 0; i < out.declare.size(); ++i) {
    size_t at = i;
    for (size_t step = 0; step < out.declare.size(); ++step) {
      const auto next = index.find(out.declare[at].dead_letter_queue());
      if (next == index.end()) break;
      at = next->second;
      if (at == i) {
        items[i]
            .child("attributes")
            .child("RedrivePolicy")
            .fail("'" + out.declare[i].name +
                  "' is its own dead-letter queue, directly or through others");
      }
    }
  }
}

AccessKey parse_access_key(const YamlField& f) {
  f.expect_map({"id", "secret"});
  AccessKey k;
  const YamlField id = f.required("id"), secret = f.required("secret");
  k.id = id.str();
  bool ok = k.id.size() >= 16 && k.id.size() <= 128;
  for (char c : k.id)
    ok = ok && (std::isupper(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)));
  if (!ok) id.fail("must be 16 to 128 upper-case letters and digits");
  k.secret = secret.str();
  ok = k.secret.size() >= 16 && k.secret.size() <= 128;
  for (char c : k.secret) ok = ok && c > ' ' && c < 127;
  if (!ok) secret.fail("must be 16 to 128 printable characters without spaces");
  return k;
}

ControlConfig parse_document(const YamlField& root, std::string_view source) {
  ControlConfig config;
  if (!root.present()) return config;
  root.expect_map({"dataplane", "api", "ports", "target_groups", "services", "listeners", "queues",
                   "topics", "access_keys"});
  if (auto f = root.child("dataplane"); f.present()) parse_dataplane(f, config.dataplane);
  if (auto f = root.child("api"); f.present()) parse_api(f, config.api);
  if (auto f = root.child("ports"); f.present()) {
    std::set<std::string> names, devices;
    for (const auto& item : f.items()) {
      PortConfig p = parse_port_config(item);
      unique(names, item.child("name"), p.name, "port");
      unique(devices, item.child("device"), p.device, "port");
      config.ports.push_back(std::move(p));
    }
  }
  if (auto f = root.child("target_groups"); f.present()) {
    std::set<std::string> names;
    for (const auto& item : f.items()) {
      TargetGroup g = parse_target_group(item);
      unique(names, item.child("name"), g.name, "target group");
      config.target_groups.push_back(std::move(g));
    }
  }
  if (auto f = root.child("services"); f.present()) {
    std::set<std::string> names;
    std::set<std::tuple<IpAddress, ServiceProtocol, uint16_t>> vips;
    for (const auto& item : f.items()) {
      Service s = parse_service(item, config);
      unique(names, item.child("name"), s.name, "service");
      if (!vips.insert({s.vip, s.protocol, s.port}).second) {
        item.fail(format_ip_address(s.vip) + " " +
                  (s.protocol == ServiceProtocol::kTcp ? "tcp" : "udp") + " port " +
                  std::to_string(s.port) + " is already a service");
      }
      config.services.push_back(std::move(s));
    }
  }
  if (auto f = root.child("listeners"); f.present()) parse_listeners(f, config, source);
  if (auto f = root.child("queues"); f.present()) parse_queues(f, config.queues);
  if (auto f = root.child("topics"); f.present()) {
    std::set<std::string> names;
    for (const auto& item : f.items()) {
      item.expect_map({"name", "fifo"});
      Topic t;
      if (auto v = item.child("fifo"); v.present()) t.fifo = v.boolean();
      t.name = messaging_name(item.required("name"), t.fifo, 256, "topic");
      unique(names, item.child("name"), t.name, "topic");
      config.topics.push_back(std::move(t));
    }
  }
  if (auto f = root.child("access_keys"); f.present()) {
    std::set<std::string> ids;
    for (const auto& item : f.items()) {
      AccessKey k = parse_access_key(item);
      unique(ids, item.child("id"), k.id, "access key");
      config.access_keys.push_back(std::move(k));
    }
  }
  return config;
}

}  // namespace

const TargetGroup* ControlConfig::find_target_group(std::string_view name) const {
  for (const auto& g : target_groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::string DeclaredQueue::dead_letter_queue() const {
  const std::string* policy = find_value(attributes, "RedrivePolicy");
  if (policy == nullptr) return {};
  const auto j = nlohmann::json::parse(*policy, nullptr, false);
  if (!j.is_object() || !j.contains("deadLetterTargetArn") ||
      !j["deadLetterTargetArn"].is_string()) {
    return {};
  }
  const std::string arn = j["deadLetterTargetArn"];
  const size_t colon = arn.rfind(':');
  return colon == std::string::npos ? std::string() : arn.substr(colon + 1);
}

std::string QueuesConfig::endpoint() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<std::vector<size_t>> declare_order(const std::vector<DeclaredQueue>& queues) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < queues.size(); ++i) index[queues[i].name] = i;
  // The declared queue each one waits for, if any.
  std::vector<std::optional<size_t>> after(queues.size());
  for (size_t i = 0; i < queues.size(); ++i) {
    auto it = index.find(queues[i].dead_letter_queue());
    if (it != index.end()) after[i] = it->second;
  }
  std::vector<size_t> order;
  std::vector<bool> placed(queues.size(), false);
  // Each round places, in file order, every queue whose dead-letter queue is placed; a round that
  // places nothing leaves only queues on a cycle.
  while (order.size() < queues.size()) {
    const size_t before = order.size();
    for (size_t i = 0; i < queues.size(); ++i) {
      if (placed[i] || (after[i] && !placed[*after[i]])) continue;
      placed[i] = true;
      order.push_back(i);
    }
    if (order.size() == before) return std::nullopt;
  }
  return order;
}

ControlConfig parse_control_config(std::string_view yaml_text, std::string_view source) {
  return parse_document(YamlField::document(yaml_text, source), source);
}

LoadResult load_control_config(std::string_view yaml_text, std::string_view source) {
  LoadResult result;
  try {
    result.config = parse_control_config(yaml_text, source);
  } catch (const ConfigError& e) {
    result.error = e.what();
  }
  return result;
}

LoadResult load_control_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {std::nullopt, path + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  return load_control_config(text.str(), path);
}

}  // namespace sluice::controlplane
