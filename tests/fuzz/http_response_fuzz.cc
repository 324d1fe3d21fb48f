// libFuzzer target: the HTTP/1.1 response parser as the proxy drives it, a head from a growing
// buffer then the body through consume_body, response after response. Any bytes may be refused,
// never crash or read out of bounds, and the invariants hold: consume_body never claims more than
// it was given, views stay inside the buffer, a finished body takes nothing more, a refusal is a
// 502 with a reason. Split at a point chosen from the first byte, or in small pieces, the input
// must be relayed exactly as when it arrives whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "response_parser.h"

using sluice::http::ResponseParser;

namespace {

struct Relayed {
  uint16_t status = 0;
  size_t head_size = 0;
  std::string body;
  bool done = false;
  bool operator==(const Relayed&) const = default;
};

struct Trace {
  std::vector<Relayed> responses;
  bool error = false;
  std::string reason;
  bool operator==(const Trace&) const = default;
};

void check(bool ok) {
  if (!ok) abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_head(const ResponseParser& p, std::string_view buffer) {
  const sluice::http::Response& r = p.response();
  check(p.head_size() >= 4 && p.head_size() <= buffer.size());
  check(r.status >= 100 && r.status <= 599);
  check(r.header_count <= sluice::http::kMaxHeaders);
  const std::string_view head = buffer.substr(0, p.head_size());
  check(inside(r.reason, head));
  for (size_t i = 0; i < r.header_count; ++i)
    check(inside(r.headers[i].name, head) && inside(r.headers[i].value, head));
  check(!r.until_close || !r.keep_alive);
  check(!r.no_body || p.body_done());
  check(!(r.chunked && r.until_close));
}

Trace run(std::string_view input, size_t first_piece, size_t piece, bool head_request) {
  Trace t;
  ResponseParser p;
  p.reset(head_request);
  std::string buffer;
  bool in_body = false;
  Relayed cur;
  auto finish = [&] {
    cur.done = p.body_done();
    t.responses.push_back(cur);
    cur = {};
    in_body = false;
    p.reset(head_request);
  };
  auto refuse = [&] {
    check(p.error().status == 502 && !p.error().reason.empty());
    t.error = true;
    t.reason = std::string(p.error().reason);
  };
  size_t at = 0;
  for (size_t k = 0; at < input.size() && t.responses.size() < 64; ++k) {
    const size_t n = std::min(k == 0 ? first_piece : piece, input.size() - at);
    std::string data(input.substr(at, n));
    at += n;
    while (!data.empty() && t.responses.size() < 64) {
      if (!in_body) {
        buffer += data;
        data.clear();
        const ResponseParser::Status s = p.parse_head(buffer);
        if (s == ResponseParser::Status::kError) {
          refuse();
          return t;
        }
        if (s == ResponseParser::Status::kIncomplete) break;
        check_head(p, buffer);
        cur.status = p.response().status;
        cur.head_size = p.head_size();
        data = buffer.substr(p.head_size());
        buffer.clear();
        in_body = true;
        if (p.body_done()) {
          check(p.consume_body(data) == 0);
          finish();
          continue;
        }
      }
      const bool until_close = p.response().until_close;
      const size_t used = p.consume_body(data);
      if (used == ResponseParser::kBodyError) {
        check(p.response().chunked);
        refuse();
        check(p.consume_body(data) == ResponseParser::kBodyError);
        return t;
      }
      check(used <= data.size());
      check(!until_close || used == data.size());
      cur.body += data.substr(0, used);
      data.erase(0, used);
      if (p.body_done()) {
        check(p.consume_body(data) == 0);
        finish();
      } else {
        check(data.empty());  // an unfinished body takes all it is given
      }
    }
  }
  if (in_body) {
    cur.done = p.body_done();
    t.responses.push_back(cur);
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool head_request = (data[1] & 1) != 0;
  const size_t piece = 1 + (data[1] >> 1) % 17;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t split = input.size() * data[0] / 255;
  const Trace whole = run(input, input.size(), input.size(), head_request);
  check(run(input, split, input.size(), head_request) == whole);
  check(run(input, piece, piece, head_request) == whole);
  return 0;
}
