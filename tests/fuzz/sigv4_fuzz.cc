// libFuzzer target: SigV4 verification. The input is split into a raw query string, an
// Authorization header, an X-Amz-Date header and a body; any of it may be refused, never crash,
// and a request is never accepted, since no input can carry a valid signature for the secret.
// Every refusal carries a known AWS error code and the status that goes with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sigv4.h"

using namespace sluice::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const size_t nl = input.find('\n');
    parts[i] = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  }
  parts[3] = input;

  sluice::http::Request r;
  r.method = "POST";
  r.path = "/000000000000/orders";
  r.query = parts[0];
  r.body = parts[3];
  size_t n = 0;
  r.headers[n++] = {"Host", "localhost:9324"};
  if (!parts[1].empty()) r.headers[n++] = {"Authorization", parts[1]};
  if (!parts[2].empty()) r.headers[n++] = {"X-Amz-Date", parts[2]};
  r.header_count = n;

  sigv4::Options o;
  o.secret_for = [](std::string_view id) -> std::optional<std::string> {
    if (id == "AKIDEXAMPLE") return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return std::nullopt;
  };
  o.now = [] { return int64_t{1440938160}; };
  sigv4::Verifier v(o);
  const sigv4::Result res = v.verify(r);
  if (res.ok()) abort();
  if (sigv4::error_code(res.error).empty()) abort();
  if (res.status != (res.error == sigv4::Error::kIncompleteSignature ? 400 : 403)) abort();
  return 0;
}
