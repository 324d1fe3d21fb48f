// A strict HTTP/1.1 response parser (RFC 9110/9112) for the L7 proxy, which reads responses from
// its targets and relays them to clients as they arrive. Incremental and zero-copy: the head's
// fields are views into the caller's buffer, and the body is never buffered: the parser is told
// about each piece of it as it passes through and says how much of it belongs to this response,
// so a chunked body is relayed as is (sizes, extensions and trailers included) while the parser
// tracks where it ends. What it refuses, because relaying it could split or smuggle responses:
// bare CR or LF, obs-fold, whitespace before a colon, Transfer-Encoding together with
// Content-Length (stricter than RFC 9112, by design), differing Content-Length values,
// Transfer-Encoding in HTTP/1.0, chunked that is not the final coding or appears twice, a status
// outside 100-599, heads over the limits, and malformed chunk framing. Every refusal is a 502.
//
// Use per upstream connection: reset(head_request) before each response; parse_head(buffer) until
// kHead or kError, the buffer starting at the response's first byte and holding everything
// received since (it may move or grow between calls: positions are kept as offsets); then
// consume_body() on the bytes after head_size() and on each later read, until body_done() (or
// the connection closes, for a body delimited by close). A 1xx other than 101 is an interim
// response: the final one follows it on the same connection, after a reset().
//
// Framing (RFC 9112 section 6.3): 1xx, 204, 304 and responses to HEAD have no body whatever their
// headers say; otherwise chunked when it is the final transfer coding; otherwise Content-Length;
// otherwise (no length, or a final coding other than chunked) the body runs until the close.
// Limits::max_body_bytes does not apply: a relayed body is not held.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_types.h"

namespace sluice::http {

struct Response {
  Version version = Version::kHttp11;
  uint16_t status = 0;
  std::string_view reason;  // may be empty
  std::array<Header, kMaxHeaders> headers{};
  size_t header_count = 0;
  // The target keeps the connection open for another request after this response: HTTP/1.1
  // without Connection: close, or HTTP/1.0 with Connection: keep-alive; never when the body is
  // delimited by the close, nor after a 101 (the connection then no longer carries HTTP).
  bool keep_alive = true;
  bool chunked = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool until_close = false;  // the body is delimited by the connection's close
  bool no_body = false;      // 1xx, 204, 304, or a response to HEAD
  bool upgrade = false;      // 101 Switching Protocols

  // The first header of that name (case-insensitive), or nullptr.
  const Header* find(std::string_view name) const;
};

class ResponseParser {
 public:
  enum class Status { kIncomplete, kHead, kError };

  explicit ResponseParser(const Limits& limits = {}) : limits_(limits) {}

  // Before each response: whether the request it answers was HEAD (then it has no body whatever
  // its headers say).
  void reset(bool head_request = false);

  // Parses the status line and headers from the start of `buffer`. kHead: response() is valid
  // (its views into this buffer) and the first head_size() bytes are the head; the body, if any,
  // follows. Called again after kHead, it returns kHead with the views into the buffer given.
  Status parse_head(std::string_view buffer);
  const Response& response() const { return response_; }
  size_t head_size() const { return head_size_; }
  const ParseError& error() const { return error_; }

  // After kHead: the body bytes that follow, in order, as they arrive (never bytes already fed).
  // Returns how many of `data` belong to this response's body (the rest belong to the next
  // response, or are garbage), or kBodyError on malformed chunked framing (error() says why).
  static constexpr size_t kBodyError = SIZE_MAX;
  size_t consume_body(std::string_view data);
  // The body is complete: at once for no_body and Content-Length: 0, never for until_close.
  bool body_done() const { return body_ == Body::kDone; }

 private:
  enum class Body : uint8_t {
    kNone,  // the head is not parsed yet
    kLength,
    kUntilClose,
    kChunkSize,     // hex digits of a chunk size
    kChunkSizeWs,   // whitespace after the size, before ";"
    kChunkExt,      // a chunk extension, up to CR
    kChunkSizeLf,   // LF ending the chunk-size line
    kChunkData,     // chunk_left_ bytes of data
    kChunkDataCr,   // CR after the data
    kChunkDataLf,   // LF after the data
    kTrailerStart,  // a trailer field's first byte, or CR of the empty line ending the body
    kTrailerName,   // a trailer field's name, up to ':'
    kTrailerValue,  // a trailer field's value, up to CR
    kTrailerLf,     // LF ending a trailer field
    kFinalLf,       // LF of the empty line ending the body
    kDone,
    kError
  };
  struct Span {
    uint32_t at = 0, len = 0;
  };

  Status fail(std::string_view reason);
  size_t body_fail(std::string_view reason);
  Status find_head_end(std::string_view b);
  Status parse_status_line(std::string_view line);
  Status parse_header_line(std::string_view b, size_t start, size_t end);
  Status decide_framing(std::string_view b);
  void materialize(std::string_view b);
  size_t consume_chunked(std::string_view data);

  Limits limits_;
  bool head_request_ = false;
  bool head_parsed_ = false;
  bool failed_ = false;
  size_t scanned_ = 0;    // head bytes checked for line endings so far
  size_t head_size_ = 0;  // status line + headers + the empty line
  Body body_ = Body::kNone;
  uint64_t length_left_ = 0;  // Content-Length bytes still to come
  uint64_t chunk_left_ = 0;   // data bytes of the current chunk still to come
  size_t line_bytes_ = 0;     // bytes of the current chunk-size line so far
  size_t trailer_bytes_ = 0;  // bytes of the trailer section so far

  Span reason_;
  Span names_[kMaxHeaders], values_[kMaxHeaders];
  size_t header_count_ = 0;
  Response response_;
  ParseError error_;
};

}  // namespace sluice::http
