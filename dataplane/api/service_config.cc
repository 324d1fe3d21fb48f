#include "service_config.h"

#include <charconv>
#include <set>

namespace sluice::api {
namespace {

std::vector<unsigned> core_list(const YamlField& f) {
  std::vector<unsigned> cores;
  for (const auto& item : f.items()) cores.push_back(static_cast<unsigned>(item.uint(0, 1023)));
  return cores;
}

// Attribute and tag values are text on the wire; YAML numbers and booleans are taken as written.
std::vector<std::pair<std::string, std::string>> text_map(const YamlField& f) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [name, value] : f.entries()) out.emplace_back(name, value.str());
  return out;
}

void check_cores(const std::vector<unsigned>& cores, const std::string& key) {
  std::set<unsigned> seen;
  for (unsigned c : cores) {
    if (!seen.insert(c).second)
      throw ConfigError(key + ": core " + std::to_string(c) + " is listed twice");
  }
}

}  // namespace

bool parse_listen_address(const std::string& text, ApiConfig& config) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port = std::string_view(text).substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return false;
  config.address = host;
  config.port = static_cast<uint16_t>(value);
  return true;
}

void parse_api_section(const YamlField& field, ApiConfig& config) {
  field.expect_map({"listen", "cores", "region", "account_id", "authentication", "access_keys",
                    "max_request_bytes", "request_timeout_s", "idle_timeout_s"});
  if (auto f = field.child("listen"); f.present()) {
    if (!parse_listen_address(f.str(), config))
      f.fail("'" + f.str() + "' is not HOST:PORT (e.g. 127.0.0.1:9324)");
  }
  if (auto f = field.child("cores"); f.present()) config.cores = core_list(f);
  if (auto f = field.child("region"); f.present()) config.region = f.str();
  if (auto f = field.child("account_id"); f.present()) {
    config.account_id = f.str();
    if (config.account_id.size() != 12 ||
        config.account_id.find_first_not_of("0123456789") != std::string::npos)
      f.fail("must be 12 digits");
  }
  if (auto f = field.child("authentication"); f.present()) {
    // YAML 1.1 reads a bare `off` as false; both spellings are accepted.
    const std::string value = f.str();
    if (value == "on" || value == "true") {
      config.authentication = true;
    } else if (value == "off" || value == "false") {
      config.authentication = false;
    } else {
      f.fail("must be on or off, got '" + value + "'");
    }
  }
  if (auto f = field.child("access_keys"); f.present()) {
    for (const auto& item : f.items()) {
      item.expect_map({"access_key_id", "secret_access_key"});
      AccessKey key{item.required("access_key_id").str(), item.required("secret_access_key").str()};
      if (key.id.empty()) item.child("access_key_id").fail("must not be empty");
      if (key.secret.empty()) item.child("secret_access_key").fail("must not be empty");
      for (const auto& other : config.access_keys) {
        if (other.id == key.id)
          item.child("access_key_id").fail("'" + key.id + "' is listed twice");
      }
      config.access_keys.push_back(std::move(key));
    }
  }
  if (auto f = field.child("max_request_bytes"); f.present())
    config.max_request_bytes = f.uint(64 << 10, 64 << 20);
  if (auto f = field.child("request_timeout_s"); f.present())
    config.request_timeout_s = static_cast<uint32_t>(f.uint(1, 3600));
  if (auto f = field.child("idle_timeout_s"); f.present())
    config.idle_timeout_s = static_cast<uint32_t>(f.uint(1, 86400));
}

void parse_queues_section(const YamlField& field, QueuesConfig& config) {
  field.expect_map({"shards", "directory", "memory_budget_mb", "declare"});
  if (auto f = field.child("shards"); f.present())
    config.shards = static_cast<uint32_t>(f.uint(1, 64));
  if (auto f = field.child("directory"); f.present()) config.directory = f.str();
  if (auto f = field.child("memory_budget_mb"); f.present())
    config.memory_budget_mb = f.uint(16, 1 << 20);
  if (auto f = field.child("declare"); f.present()) {
    std::set<std::string> names;
    for (const auto& item : f.items()) {
      item.expect_map({"name", "attributes", "tags"});
      DeclaredQueue q;
      q.name = item.required("name").str();
      if (!names.insert(q.name).second)
        item.child("name").fail("queue '" + q.name + "' is declared twice");
      if (auto a = item.child("attributes"); a.present()) q.attributes = text_map(a);
      if (auto t = item.child("tags"); t.present()) q.tags = text_map(t);
      config.declared.push_back(std::move(q));
    }
  }
}

void validate_api_config(const ApiConfig& api) {
  check_cores(api.cores, "api.cores");
  if (api.authentication && api.access_keys.empty())
    throw ConfigError("api.access_keys: authentication is on but no access key is configured");
}

}  // namespace sluice::api
