// HTTP/1.1 messages as the parser hands them over: views into the connection's receive buffer
// (zero-copy), the framing it decided on, and the limits that bound it. Shared by the SQS/SNS API
// and the L7 proxy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::http {

struct Limits {
  size_t max_head_bytes = 16 * 1024;    // request line and headers together (431 beyond)
  size_t max_target_bytes = 8 * 1024;   // the request-target (414 beyond)
  size_t max_headers = 100;             // header fields (431 beyond)
  size_t max_body_bytes = 1 << 20;      // decoded body (413 beyond)
  size_t max_trailer_bytes = 4 * 1024;  // trailer section of a chunked body (431 beyond)
};

inline constexpr size_t kMaxHeaders = 128;  // storage; Limits::max_headers may be lower

struct Header {
  std::string_view name;   // as sent; compare with iequals
  std::string_view value;  // leading and trailing whitespace removed
};

enum class Version : uint8_t { kHttp10, kHttp11 };

struct Request {
  std::string_view method;
  std::string_view target;  // as sent
  std::string_view path;    // target up to '?' (origin-form; absolute-form: the path part)
  std::string_view query;   // after '?', without it; empty when none
  Version version = Version::kHttp11;
  std::array<Header, kMaxHeaders> headers{};
  size_t header_count = 0;
  std::string_view host;  // the Host header's value
  std::string_view body;  // the body: in the buffer (Content-Length) or decoded (chunked)
  bool chunked = false;
  bool keep_alive = true;  // after this request the connection may carry another
  bool expect_continue = false;
  bool upgrade = false;  // Connection: upgrade with an Upgrade header (e.g. websocket)

  // The first header of that name (case-insensitive), or nullptr.
  const Header* find(std::string_view name) const;
};

// Why a request was refused: the status to answer with (the connection is then closed, since
// its framing can no longer be trusted) and a short reason for logs and the body.
struct ParseError {
  uint16_t status = 400;
  std::string_view reason;
};

bool iequals(std::string_view a, std::string_view b);

}  // namespace sluice::http
