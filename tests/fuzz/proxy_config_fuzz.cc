// libFuzzer target: the L7 proxy's configuration document. Any input may be rejected with
// ConfigError; one that is accepted must dump to a document that parses back and dumps to the
// same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::proxy;
  ProxyConfig config;
  try {
    config = parse_proxy_document(std::string_view(reinterpret_cast<const char*>(data), size),
                                  "fuzz.yaml");
  } catch (const sluice::ConfigError&) {
    return 0;
  }
  const std::string dumped = dump_proxy_document(config);
  const ProxyConfig again = parse_proxy_document(dumped, "dump.json");
  if (dump_proxy_document(again) != dumped) std::abort();
  return 0;
}
