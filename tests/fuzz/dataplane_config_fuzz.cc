// libFuzzer target: the dataplane's YAML configuration parser and validator. Any input may be
// rejected with ConfigError; nothing else may escape, crash or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::dataplane;
  try {
    DataplaneConfig config =
        parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    validate_config(config);
  } catch (const sluice::ConfigError&) {
  }
  return 0;
}
