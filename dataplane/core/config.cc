#include "config.h"

#include <sys/un.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "config/yaml_field.h"

namespace sluice::dataplane {
namespace {

constexpr size_t kMaxControlSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;

std::vector<unsigned> as_core_list(const YamlField& f) {
  if (f.is_sequence()) {
    std::vector<unsigned> cores;
    for (const auto& item : f.items()) cores.push_back(static_cast<unsigned>(item.uint(0, 1023)));
    return cores;
  }
  try {
    return parse_core_list(f.str());
  } catch (const ConfigError& e) {
    f.fail(e.what());
  }
}

DataplaneConfig parse_document(std::string_view yaml_text, std::string_view source,
                               const std::vector<ConfigSection>& sections) {
  const YamlField root = YamlField::document(yaml_text, source);
  DataplaneConfig config;
  if (!root.present()) return config;
  std::vector<std::string_view> known = {"instance",      "cores", "hugepages", "memory_mb",
                                         "mbufs",         "ports", "job",       "stats_interval_s",
                                         "control_socket"};
  for (const auto& section : sections) known.push_back(section.name);
  root.expect_map(known);
  if (auto f = root.child("instance"); f.present()) config.instance = f.str();
  if (auto f = root.child("cores"); f.present()) {
    f.expect_map({"main", "workers"});
    if (auto m = f.child("main"); m.present())
      config.cores.main = static_cast<unsigned>(m.uint(0, 1023));
    if (auto w = f.child("workers"); w.present()) config.cores.workers = as_core_list(w);
  }
  if (auto f = root.child("hugepages"); f.present()) {
    config.hugepages = static_cast<HugepageMode>(f.choice({"auto", "on", "off"}));
  }
  if (auto f = root.child("memory_mb"); f.present())
    config.memory_mb = static_cast<unsigned>(f.uint(64, 1u << 20));
  if (auto f = root.child("mbufs"); f.present())
    config.mbufs = static_cast<unsigned>(f.uint(1024, 1u << 26));
  if (auto f = root.child("stats_interval_s"); f.present())
    config.stats_interval_s = static_cast<unsigned>(f.uint(0, 86400));
  if (auto f = root.child("job"); f.present())
    config.job = static_cast<Job>(f.choice({"wire", "lb", "queues", "proxy"}));
  if (auto f = root.child("control_socket"); f.present()) config.control_socket = f.str();
  if (auto f = root.child("ports"); f.present()) {
    for (const auto& item : f.items()) config.ports.push_back(parse_port_config(item));
  }
  for (const auto& section : sections) {
    if (auto f = root.child(section.name); f.present()) section.parse(f);
  }
  return config;
}

}  // namespace

std::vector<unsigned> parse_core_list(std::string_view text) {
  std::vector<unsigned> cores;
  auto number = [&](std::string_view s) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > 1023) {
      throw ConfigError("'" + std::string(text) + "' is not a core list like 1,2 or 1-3");
    }
    return v;
  };
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      cores.push_back(number(item));
    } else {
      unsigned lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      if (lo > hi) throw ConfigError("core range '" + std::string(item) + "' runs backwards");
      for (unsigned c = lo; c <= hi; ++c) cores.push_back(c);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) throw ConfigError("core list ends with a comma");
  }
  return cores;
}

HugepageMode parse_hugepage_mode(std::string_view text) {
  if (text == "auto") return HugepageMode::kAuto;
  if (text == "on") return HugepageMode::kOn;
  if (text == "off") return HugepageMode::kOff;
  throw ConfigError("'" + std::string(text) + "' is not one of auto, on, off");
}

DataplaneConfig parse_config(std::string_view yaml_text, std::string_view source,
                             const std::vector<ConfigSection>& sections) {
  try {
    return parse_document(yaml_text, source, sections);
  } catch (const YAML::Exception& e) {
    // Anything the checks above did not anticipate still gets a position, never an abort.
    std::ostringstream out;
    out << source << ':' << e.mark.line + 1 << ": " << e.msg;
    throw ConfigError(out.str());
  }
}

DataplaneConfig load_config_file(const std::string& path,
                                 const std::vector<ConfigSection>& sections) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, sections);
}

void validate_config(const DataplaneConfig& config) {
  if (config.instance.empty() || config.instance.find('/') != std::string::npos) {
    throw ConfigError("instance: must be a non-empty name without '/'");
  }
  if (config.job == Job::kQueues || config.job == Job::kProxy) {
    if (!config.ports.empty())
      throw ConfigError(std::string("ports: the ") +
                        (config.job == Job::kQueues ? "queues" : "proxy") + " job takes no ports");
    if (!config.control_socket.empty())
      throw ConfigError(
          "control_socket: only the lb job takes it (the proxy's is proxy.control_socket)");
    return;
  }
  if (config.cores.workers.empty())
    throw ConfigError("cores.workers: at least one worker core is required");
  std::set<unsigned> seen;
  for (unsigned c : config.cores.workers) {
    if (c == config.cores.main)
      throw ConfigError("cores.workers: core " + std::to_string(c) + " is also cores.main");
    if (!seen.insert(c).second)
      throw ConfigError("cores.workers: core " + std::to_string(c) + " is listed twice");
  }
  std::set<std::string> names, devices;
  for (size_t i = 0; i < config.ports.size(); ++i) {
    const auto& p = config.ports[i];
    const std::string key = "ports[" + std::to_string(i) + "]";
    if (p.name.empty()) throw ConfigError(key + ".name: must not be empty");
    if (p.device.empty()) throw ConfigError(key + ".device: must not be empty");
    if (!names.insert(p.name).second)
      throw ConfigError(key + ".name: '" + p.name + "' is used by another port");
    if (!devices.insert(p.device).second)
      throw ConfigError(key + ".device: '" + p.device + "' is used by another port");
  }
  if (config.job == Job::kLb && config.ports.empty())
    throw ConfigError("ports: the lb job needs at least one port");
  if (config.job == Job::kWire && config.ports.size() != 2) {
    throw ConfigError("ports: the wire job needs exactly two ports, got " +
                      std::to_string(config.ports.size()));
  }
  if (!config.control_socket.empty()) {
    if (config.job != Job::kLb)
      throw ConfigError("control_socket: only the lb job takes configuration over it");
    if (config.control_socket.size() > kMaxControlSocketPath) {
      throw ConfigError("control_socket: a unix socket path is at most " +
                        std::to_string(kMaxControlSocketPath) + " characters");
    }
  }
}

}  // namespace sluice::dataplane
