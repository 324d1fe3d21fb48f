// libFuzzer target: the REST API's target syntax (ADDRESS, ADDRESS:PORT, [IPV6]:PORT), which
// arrives in URL paths and request bodies. Whatever it accepts must print back to a target it
// accepts as the same address and port.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config_json.h"
#include "rest_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::controlplane;
  const auto t = parse_target(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!t || t->second == 0) return 0;
  const auto again = parse_target(format_endpoint(t->first, t->second));
  if (!again || *again != *t) abort();
  return 0;
}
