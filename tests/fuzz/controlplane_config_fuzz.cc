// libFuzzer target: the control plane's YAML configuration parser. Any input may be rejected with
// an error; nothing may escape, crash or leak, and a rejected input yields no configuration. An
// accepted one must survive the round trip through its JSON dump unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config_json.h"
#include "control_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::controlplane;
  LoadResult r =
      load_control_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (r.ok() == !r.error.empty()) abort();
  if (!r.ok()) return 0;
  const auto dumped = config_to_json(*r.config);
  LoadResult again = load_control_config(dumped.dump(), "dump.json");
  if (!again.ok() || config_to_json(*again.config) != dumped) abort();
  return 0;
}
