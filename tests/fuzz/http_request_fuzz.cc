// libFuzzer target: the HTTP/1.1 request parser. Any bytes may be refused, never crash or read out
// of bounds; fed in pieces or whole, the parser must reach the same verdict, the same request and
// the same framing; pipelined requests are parsed one after another until the input runs out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "request_parser.h"

using sluice::http::RequestParser;

namespace {

struct Verdict {
  RequestParser::Status status;
  size_t consumed = 0;
  uint16_t error = 0;
  std::string method, target, body;
};

Verdict run(RequestParser& p, std::string_view input, size_t piece) {
  std::string buffer;
  RequestParser::Status s = RequestParser::Status::kIncomplete;
  for (size_t at = 0; at < input.size() && s == RequestParser::Status::kIncomplete;) {
    const size_t n = std::min(piece, input.size() - at);
    buffer.append(input.substr(at, n));  // may reallocate: the parser must keep offsets
    at += n;
    s = p.parse(buffer);
  }
  Verdict v{s};
  if (s == RequestParser::Status::kComplete) {
    v.consumed = p.consumed();
    if (v.consumed > buffer.size()) abort();
    v.method = p.request().method;
    v.target = p.request().target;
    v.body = p.request().body;
  } else if (s == RequestParser::Status::kError) {
    v.error = p.error().status;
    if (v.error < 400 || v.error > 505) abort();
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 17;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  RequestParser whole, pieces;
  for (int requests = 0; requests < 16 && !input.empty(); ++requests) {
    const Verdict a = run(whole, input, input.size());
    const Verdict b = run(pieces, input, piece);
    if (a.status != b.status || a.consumed != b.consumed || a.error != b.error ||
        a.method != b.method || a.target != b.target || a.body != b.body)
      abort();
    if (a.status != RequestParser::Status::kComplete || a.consumed == 0) break;
    input.remove_prefix(a.consumed);
    whole.reset();
    pieces.reset();
  }
  return 0;
}
