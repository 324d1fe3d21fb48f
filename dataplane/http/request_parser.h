// A strict HTTP/1.1 request parser (RFC 9110/9112) for servers and proxies: incremental (feed it
// the bytes received so far), zero-copy (the request's fields are views into the caller's buffer;
// only a chunked body is decoded into storage the parser owns and reuses), and unforgiving of the
// ambiguities request smuggling is made of: bare CR or LF, obs-fold, whitespace before a colon,
// Content-Length together with Transfer-Encoding, repeated or malformed lengths, transfer codings
// other than chunked, a missing or repeated Host. Anything it refuses comes with the status to
// answer and the connection must then be closed.
//
// Use per connection: parse(buffer) until kComplete or kError; after kComplete the request is
// request() and used consumed() bytes of the buffer (pipelined requests follow them); reset()
// before parsing the next. The buffer passed must start at the request's first byte and hold
// everything received since (it may move or grow between calls: positions are kept as offsets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_types.h"

namespace sluice::http {

class RequestParser {
 public:
  enum class Status { kIncomplete, kComplete, kError };

  explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

  Status parse(std::string_view buffer);

  const Request& request() const { return request_; }
  size_t consumed() const { return consumed_; }
  const ParseError& error() const { return error_; }
  // The head is parsed and its framing accepted, the body not yet whole: the moment to answer
  // "100 Continue" when request().expect_continue.
  bool head_complete() const { return phase_ != Phase::kHead; }

  void reset();

 private:
  enum class Phase : uint8_t {
    kHead,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailer,
    kDone
  };
  struct Span {
    uint32_t at = 0, len = 0;
  };

  Status fail(uint16_t status, std::string_view reason);
  Status find_head_end(std::string_view b);
  Status parse_head(std::string_view b);
  Status parse_request_line(std::string_view line);
  Status parse_header_line(std::string_view b, size_t start, size_t end);
  Status decide_framing(std::string_view b);
  Status parse_chunked(std::string_view b);
  void materialize(std::string_view b);

  Limits limits_;
  Phase phase_ = Phase::kHead;
  size_t head_start_ = 0;  // after the empty lines that may precede the request line
  size_t scanned_ = 0;     // head bytes checked for line endings so far
  size_t head_size_ = 0;   // request line + headers + the empty line
  size_t pos_ = 0;         // next byte of the body to look at
  uint64_t content_length_ = 0;
  uint64_t chunk_left_ = 0;
  size_t trailer_bytes_ = 0;
  size_t consumed_ = 0;

  Span method_, target_;
  Span names_[kMaxHeaders], values_[kMaxHeaders];
  size_t header_count_ = 0;
  Span body_span_;
  std::string decoded_;  // a chunked body, reused across requests
  Request request_;
  ParseError error_;
};

}  // namespace sluice::http
