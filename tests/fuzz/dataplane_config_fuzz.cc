// libFuzzer target: the dataplane's YAML configuration parser and validator, with the queue
// service's sections. Any input may be rejected with ConfigError; nothing else may escape, crash or
// leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"
#include "service_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::dataplane;
  try {
    sluice::api::ApiConfig api;
    sluice::api::QueuesConfig queues;
    const std::vector<ConfigSection> sections = {
        {"api", [&](const sluice::YamlField& f) { sluice::api::parse_api_section(f, api); }},
        {"queues",
         [&](const sluice::YamlField& f) { sluice::api::parse_queues_section(f, queues); }},
    };
    DataplaneConfig config = parse_config(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml", sections);
    validate_config(config);
    sluice::api::validate_api_config(api);
  } catch (const sluice::ConfigError&) {
  }
  return 0;
}
