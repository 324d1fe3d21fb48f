// sluicectl: the operator's command line for sluice-controlplane, a client of its REST API.
// Output is a table by default and the API's JSON with --json.
#include <fmt/format.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "table.h"

using Json = nlohmann::ordered_json;
using sluice::controlplane::Table;

namespace {

struct Options {
  std::string api = "http://127.0.0.1:8480";
  std::string token;
  bool json = false;
};

// What went wrong, already worded for the operator; main prints it and exits with `code`.
struct Failure {
  std::string message;
  int code = 1;
};

std::string text(const Json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_float()) return fmt::format("{:.3f}", j.get<double>());
  return j.dump();
}

std::string get_or(const Json& j, const char* key, const std::string& fallback = "-") {
  return j.is_object() && j.contains(key) ? text(j[key]) : fallback;
}

// Percent-encodes what a path segment must not carry raw (IPv6 brackets, for one).
std::string segment(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

class Api {
 public:
  explicit Api(const Options& o) : options_(o), client_(o.api) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(30);
    if (!o.token.empty()) client_.set_bearer_token_auth(o.token);
  }

  Json call(const std::string& method, const std::string& path, const Json& body = nullptr) {
    httplib::Result r = method == "GET"      ? client_.Get(path)
                        : method == "DELETE" ? client_.Delete(path)
                        : method == "PUT"    ? client_.Put(path, body.dump(), "application/json")
                                             : client_.Post(path, body.is_null() ? "" : body.dump(),
                                                            "application/json");
    if (!r) {
      throw Failure{fmt::format("cannot reach the control plane at {}: {}", options_.api,
                                httplib::to_string(r.error())),
                    2};
    }
    if (path == "/metrics") return r->status == 200 ? Json(r->body) : Json::parse(r->body);
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded())
      throw Failure{fmt::format("the control plane answered {} with no JSON", r->status)};
    if (r->status >= 400) {
      throw Failure{fmt::format("{}: {}", get_or(j["error"], "code", std::to_string(r->status)),
                                get_or(j["error"], "message", ""))};
    }
    return j;
  }

 private:
  const Options& options_;
  httplib::Client client_;
};

std::string dataplane_outcome(const Json& r) {
  const Json& d = r.contains("dataplane") ? r["dataplane"] : Json();
  if (d.is_null()) return "";
  if (d.value("applied", false)) {
    if (d.value("unchanged", false)) return "; the dataplane already runs this";
    return fmt::format("; the dataplane took snapshot {}", get_or(d, "generation"));
  }
  return "; NOT applied by the dataplane: " + get_or(d, "error");
}

void print_status(const Json& s) {
  const Json& d = s["dataplane"];
  fmt::print("dataplane       {}\n",
             d.value("connected", false)
                 ? fmt::format("connected, pid {}, {} worker(s), instance {}", get_or(d, "pid"),
                               get_or(d, "workers"), get_or(d, "instance"))
                 : std::string("not connected"));
  fmt::print("generation      {}\n", get_or(s, "generation"));
  fmt::print("pushes          {} ({} failed)\n", get_or(s, "pushes"), get_or(s, "push_failures"));
  if (s.contains("last_push")) {
    fmt::print("last push       build {} ms, publish {} ms\n", get_or(s["last_push"], "build_ms"),
               get_or(s["last_push"], "publish_ms"));
  }
  fmt::print("targets         {}\n", get_or(s, "targets_tracked"));
  fmt::print("config file     {}\n", get_or(s, "config_file"));
  if (s.contains("last_error")) fmt::print("last error      {}\n", get_or(s, "last_error"));
  if (s.contains("queues") && s["queues"].value("declared", 0) != 0) {
    fmt::print("queues          {} of {} applied at {}\n", get_or(s["queues"], "applied"),
               get_or(s["queues"], "declared"), get_or(s["queues"], "endpoint"));
  }
}

std::string last_check(const Json& t) {
  if (!t.contains("last_check")) return "-";
  const Json& c = t["last_check"];
  std::string out = c.value("pass", false) ? "pass" : "fail " + get_or(c, "reason", "");
  if (c.contains("status_code")) out += " " + get_or(c, "status_code");
  return out + fmt::format(" {:.1f}ms", c.value("latency_ms", 0.0));
}

void print_targets(const Json& targets, bool effective) {
  Table t({"target", effective ? "effective weight" : "weight", "state", "last check", "checks"});
  for (const Json& x : targets) {
    std::string state = get_or(x, "state");
    if (x.contains("drain_remaining_s"))
      state += fmt::format(" ({:.0f}s left)", x["drain_remaining_s"].get<double>());
    if (x.contains("slow_start_fraction"))
      state += fmt::format(" (slow start {:.0f}%)", 100 * x["slow_start_fraction"].get<double>());
    t.add({get_or(x, "target"), get_or(x, effective ? "effective_weight" : "weight"), state,
           last_check(x), get_or(x, "checks")});
  }
  fmt::print("{}", t.render());
}

void print_services(const Json& list) {
  Table t({"name", "vip", "protocol", "port", "mode", "target group"});
  for (const Json& s : list) {
    t.add({get_or(s, "name"), get_or(s, "vip"), get_or(s, "protocol"), get_or(s, "port"),
           get_or(s, "mode"), get_or(s, "target_group")});
  }
  fmt::print("{}", t.render());
}

void print_groups(const Json& list) {
  Table t({"name", "protocol", "port", "targets", "healthy", "unhealthy", "initial", "draining"});
  for (const Json& g : list) {
    const Json& st = g["states"];
    t.add({get_or(g, "name"), get_or(g, "protocol"), get_or(g, "port"), get_or(g, "targets"),
           get_or(st, "healthy", "0"), get_or(st, "unhealthy", "0"), get_or(st, "initial", "0"),
           get_or(st, "draining", "0")});
  }
  fmt::print("{}", t.render());
}

void print_health(const Json& list) {
  Table t({"target group", "target", "state", "last check", "checks"});
  for (const Json& x : list) {
    t.add({get_or(x, "target_group"), get_or(x, "target"), get_or(x, "state"), last_check(x),
           get_or(x, "checks")});
  }
  fmt::print("{}", t.render());
}

void print_stats(const Json& s) {
  Table svc({"service", "target", "weight", "packets", "bytes", "new flows", "active flows"});
  for (const Json& x : s["services"]) {
    svc.add({get_or(x, "name"), "", "", get_or(x, "packets"), get_or(x, "bytes"),
             get_or(x, "new_flows"), get_or(x, "active_flows")});
    for (const Json& b : x["backends"]) {
      svc.add({"", get_or(b, "target"), get_or(b, "weight"), get_or(b, "packets"),
               get_or(b, "bytes"), get_or(b, "new_flows"), get_or(b, "active_flows")});
    }
  }
  fmt::print("{}\n", svc.render());
  Table cores({"core", "rx packets", "tx packets", "drops", "active flows", "stateless",
               "busy loops", "max loop us"});
  for (const Json& c : s["cores"]) {
    cores.add({get_or(c, "lcore"), get_or(c, "rx_packets"), get_or(c, "tx_packets"),
               get_or(c, "drops"), get_or(c, "active_flows"), get_or(c, "stateless_flows"),
               get_or(c, "busy_loops"), get_or(c, "max_loop_us")});
  }
  fmt::print("{}", cores.render());
}

void print_queues(const Json& list) {
  Table t({"queue", "state", "visible", "in flight", "delayed", "attempts", "url or last error"});
  for (const Json& q : list) {
    const Json& m = q.contains("messages") ? q["messages"] : Json();
    t.add({get_or(q, "name"), get_or(q, "state"), get_or(m, "visible"), get_or(m, "in_flight"),
           get_or(m, "delayed"), get_or(q, "attempts"),
           get_or(q, q.value("state", "") == "applied" ? "url" : "last_error")});
  }
  fmt::print("{}", t.render());
}

std::string target_path(const std::string& group, const std::string& target) {
  return "/v1/target-groups/" + segment(group) + "/targets/" + segment(target);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluicectl: manage a running Sluice appliance through its control plane"};
  app.require_subcommand(1);
  Options o;
  if (const char* v = std::getenv("SLUICE_API")) o.api = v;
  if (const char* v = std::getenv("SLUICE_TOKEN")) o.token = v;
  app.add_option("--api", o.api, "control plane URL (default $SLUICE_API or " + o.api + ")");
  app.add_option("--token", o.token, "bearer token (default $SLUICE_TOKEN)");
  app.add_flag("--json", o.json, "print the API's JSON instead of a table");

  std::string name, group, target;
  unsigned weight = 1;
  auto* status = app.add_subcommand("status", "the control plane and its dataplane");
  auto* services = app.add_subcommand("services", "list services, or show one");
  services->add_option("name", name, "a service");
  auto* groups = app.add_subcommand("target-groups", "list target groups, or show one");
  groups->alias("tg");
  groups->add_option("name", name, "a target group");
  auto* reg = app.add_subcommand("register", "register a target in a target group");
  reg->add_option("group", group)->required();
  reg->add_option("target", target, "ADDRESS[:PORT] or [IPV6]:PORT")->required();
  reg->add_option("-w,--weight", weight, "weight 0-999")->check(CLI::Range(0, 999));
  auto* dereg = app.add_subcommand("deregister", "deregister a target (it drains)");
  dereg->add_option("group", group)->required();
  dereg->add_option("target", target)->required();
  auto* set_weight = app.add_subcommand("set-weight", "change a target's weight");
  set_weight->add_option("group", group)->required();
  set_weight->add_option("target", target)->required();
  set_weight->add_option("weight", weight)->required()->check(CLI::Range(0, 999));
  auto* drain = app.add_subcommand("drain", "drain a target: no new flows, existing ones stay");
  drain->add_option("group", group)->required();
  drain->add_option("target", target)->required();
  auto* health = app.add_subcommand("health", "every target's health");
  auto* stats = app.add_subcommand("stats", "traffic counters, per service, target and core");
  auto* reload = app.add_subcommand("reload", "read the configuration file again");
  auto* queues = app.add_subcommand(
      "queues", "every queue with its depth; declared ones applied, or pending and why");
  auto* config = app.add_subcommand("config", "the configuration in force (file plus API changes)");
  auto* metrics = app.add_subcommand("metrics", "the Prometheus exposition");
  CLI11_PARSE(app, argc, argv);

  try {
    Api api(o);
    Json r;
    std::function<void()> show;
    if (status->parsed()) {
      r = api.call("GET", "/v1/status");
      show = [&] { print_status(r); };
    } else if (services->parsed()) {
      r = api.call("GET", name.empty() ? "/v1/services" : "/v1/services/" + segment(name));
      show = [&] {
        if (name.empty()) return print_services(r);
        print_services(Json::array({r}));
        fmt::print("\n");
        print_targets(r["backends"], true);
      };
    } else if (groups->parsed()) {
      r = api.call("GET",
                   name.empty() ? "/v1/target-groups" : "/v1/target-groups/" + segment(name));
      show = [&] {
        if (name.empty()) return print_groups(r);
        print_targets(r["targets"], false);
      };
    } else if (reg->parsed()) {
      r = api.call("POST", "/v1/target-groups/" + segment(group) + "/targets",
                   {{"target", target}, {"weight", weight}});
      show = [&] {
        fmt::print("registered {} in {} with weight {}{}\n", get_or(r, "registered"), group, weight,
                   dataplane_outcome(r));
      };
    } else if (dereg->parsed()) {
      r = api.call("DELETE", target_path(group, target));
      show = [&] {
        fmt::print("deregistered {} from {}: draining for {} s{}\n", get_or(r, "deregistered"),
                   group, get_or(r, "deregistration_delay_s"), dataplane_outcome(r));
      };
    } else if (set_weight->parsed()) {
      r = api.call("PUT", target_path(group, target) + "/weight", {{"weight", weight}});
      show = [&] {
        fmt::print("{} in {} now has weight {}{}\n", get_or(r, "target"), group, weight,
                   dataplane_outcome(r));
      };
    } else if (drain->parsed()) {
      r = api.call("POST", target_path(group, target) + "/drain");
      show = [&] {
        fmt::print("draining {} in {} for {} s{}\n", get_or(r, "draining"), group,
                   get_or(r, "deregistration_delay_s"), dataplane_outcome(r));
      };
    } else if (health->parsed()) {
      r = api.call("GET", "/v1/health");
      show = [&] { print_health(r); };
    } else if (stats->parsed()) {
      r = api.call("GET", "/v1/stats");
      show = [&] { print_stats(r); };
    } else if (reload->parsed()) {
      r = api.call("POST", "/v1/reload");
      show = [&] {
        fmt::print("reloaded {}{}\n", get_or(r, "reloaded"), dataplane_outcome(r));
        for (const Json& n : r["notes"]) fmt::print("note: {}\n", text(n));
      };
    } else if (queues->parsed()) {
      r = api.call("GET", "/v1/queues");
      show = [&] { print_queues(r); };
    } else if (config->parsed()) {
      r = api.call("GET", "/v1/config");
      show = [&] { fmt::print("{}\n", r.dump(2)); };
    } else if (metrics->parsed()) {
      r = api.call("GET", "/metrics");
      show = [&] { fmt::print("{}", r.get<std::string>()); };
    }
    if (o.json && !metrics->parsed()) {
      fmt::print("{}\n", r.dump(2));
    } else {
      show();
    }
    return 0;
  } catch (const Failure& f) {
    fmt::print(stderr, "sluicectl: {}\n", f.message);
    return f.code;
  }
}
