#include "config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace sluice::dataplane {
namespace {

// Where a value sits in the document: used to prefix every error.
struct Site {
  std::string_view source;
  std::string key;
  int line;  // 1-based; 0 when unknown

  [[noreturn]] void fail(const std::string& message) const {
    std::ostringstream out;
    out << source;
    if (line > 0) out << ':' << line;
    out << ": " << key << ": " << message;
    throw ConfigError(out.str());
  }
};

Site site_of(std::string_view source, const std::string& key, const YAML::Node& node) {
  return {source, key, node.Mark().is_null() ? 0 : node.Mark().line + 1};
}

std::string child_key(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "." + name;
}

void reject_unknown_keys(std::string_view source, const std::string& parent, const YAML::Node& map,
                         std::initializer_list<std::string_view> known) {
  for (const auto& item : map) {
    if (!item.first.IsScalar())
      site_of(source, parent.empty() ? "(key)" : parent, item.first)
          .fail("keys must be plain names");
    const std::string& name = item.first.Scalar();
    bool found = false;
    for (auto k : known) found = found || k == name;
    if (!found) site_of(source, child_key(parent, name), item.first).fail("unknown key");
  }
}

std::string as_string(const Site& at, const YAML::Node& node) {
  if (!node.IsScalar()) at.fail("expected a string");
  return node.Scalar();
}

uint64_t as_unsigned(const Site& at, const YAML::Node& node, uint64_t min, uint64_t max) {
  if (!node.IsScalar()) at.fail("expected a number");
  const std::string& text = node.Scalar();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    at.fail("'" + text + "' is not a whole number");
  if (value < min || value > max) {
    at.fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
            text);
  }
  return value;
}

std::vector<unsigned> as_core_list(const Site& at, const YAML::Node& node) {
  if (node.IsSequence()) {
    std::vector<unsigned> cores;
    for (size_t i = 0; i < node.size(); ++i) {
      auto at_i = site_of(at.source, at.key + "[" + std::to_string(i) + "]", node[i]);
      cores.push_back(static_cast<unsigned>(as_unsigned(at_i, node[i], 0, 1023)));
    }
    return cores;
  }
  try {
    return parse_core_list(as_string(at, node));
  } catch (const ConfigError& e) {
    at.fail(e.what());
  }
}

PortConfig parse_port(std::string_view source, const std::string& key, const YAML::Node& node) {
  if (!node.IsMap()) site_of(source, key, node).fail("expected a map with name and device");
  reject_unknown_keys(source, key, node,
                      {"name", "device", "mtu", "rx_descriptors", "tx_descriptors"});
  PortConfig port;
  for (std::string_view required : {"name", "device"}) {
    if (!node[std::string(required)])
      site_of(source, child_key(key, std::string(required)), node).fail("is required");
  }
  auto field = [&](const char* name) { return site_of(source, child_key(key, name), node[name]); };
  port.name = as_string(field("name"), node["name"]);
  port.device = as_string(field("device"), node["device"]);
  if (node["mtu"])
    port.mtu = static_cast<uint16_t>(as_unsigned(field("mtu"), node["mtu"], 68, 9600));
  if (node["rx_descriptors"]) {
    port.rx_descriptors = static_cast<uint16_t>(
        as_unsigned(field("rx_descriptors"), node["rx_descriptors"], 32, 16384));
  }
  if (node["tx_descriptors"]) {
    port.tx_descriptors = static_cast<uint16_t>(
        as_unsigned(field("tx_descriptors"), node["tx_descriptors"], 32, 16384));
  }
  return port;
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

namespace {

DataplaneConfig parse_document(std::string_view yaml_text, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << source << ':' << e.mark.line + 1 << ": not valid YAML: " << e.msg;
    throw ConfigError(out.str());
  }
  DataplaneConfig config;
  if (root.IsNull()) return config;
  if (!root.IsMap()) site_of(source, "(document)", root).fail("expected a map at the top level");
  reject_unknown_keys(
      source, "", root,
      {"instance", "cores", "hugepages", "memory_mb", "mbufs", "ports", "job", "stats_interval_s"});
  auto at = [&](const std::string& key, const YAML::Node& node) {
    return site_of(source, key, node);
  };

  if (auto n = root["instance"]) config.instance = as_string(at("instance", n), n);
  if (auto n = root["cores"]) {
    if (!n.IsMap()) at("cores", n).fail("expected a map with main and workers");
    reject_unknown_keys(source, "cores", n, {"main", "workers"});
    if (auto m = n["main"])
      config.cores.main = static_cast<unsigned>(as_unsigned(at("cores.main", m), m, 0, 1023));
    if (auto w = n["workers"]) config.cores.workers = as_core_list(at("cores.workers", w), w);
  }
  if (auto n = root["hugepages"]) {
    try {
      config.hugepages = parse_hugepage_mode(as_string(at("hugepages", n), n));
    } catch (const ConfigError& e) {
      at("hugepages", n).fail(e.what());
    }
  }
  if (auto n = root["memory_mb"])
    config.memory_mb = static_cast<unsigned>(as_unsigned(at("memory_mb", n), n, 64, 1u << 20));
  if (auto n = root["mbufs"])
    config.mbufs = static_cast<unsigned>(as_unsigned(at("mbufs", n), n, 1024, 1u << 26));
  if (auto n = root["stats_interval_s"]) {
    config.stats_interval_s =
        static_cast<unsigned>(as_unsigned(at("stats_interval_s", n), n, 0, 86400));
  }
  if (auto n = root["job"]) {
    auto job = as_string(at("job", n), n);
    if (job != "wire") at("job", n).fail("'" + job + "' is not a known job (wire)");
    config.job = Job::kWire;
  }
  if (auto n = root["ports"]) {
    if (!n.IsSequence()) at("ports", n).fail("expected a list of ports");
    for (size_t i = 0; i < n.size(); ++i)
      config.ports.push_back(parse_port(source, "ports[" + std::to_string(i) + "]", n[i]));
  }
  return config;
}

}  // namespace

DataplaneConfig parse_config(std::string_view yaml_text, std::string_view source) {
  try {
    return parse_document(yaml_text, source);
  } catch (const YAML::Exception& e) {
    // Anything the checks above did not anticipate still gets a position, never an abort.
    std::ostringstream out;
    out << source << ':' << e.mark.line + 1 << ": " << e.msg;
    throw ConfigError(out.str());
  }
}

DataplaneConfig load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void validate_config(const DataplaneConfig& config) {
  if (config.instance.empty() || config.instance.find('/') != std::string::npos) {
    throw ConfigError("instance: must be a non-empty name without '/'");
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
  if (config.job == Job::kWire && config.ports.size() != 2) {
    throw ConfigError("ports: the wire job needs exactly two ports, got " +
                      std::to_string(config.ports.size()));
  }
}

}  // namespace sluice::dataplane
