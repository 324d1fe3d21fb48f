// libFuzzer target: the control plane's YAML configuration parser. Any input may be rejected with
// an error; nothing may escape, crash or leak, and a rejected input yields no configuration.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::controlplane;
  LoadResult r =
      load_control_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  if (r.ok() == !r.error.empty()) abort();
  return 0;
}
