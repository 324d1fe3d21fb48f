// How a message changes as it crosses the proxy. Toward the target: the request line and the
// client's fields except the hop-by-hop ones (RFC 9110 7.6.1: Connection and the fields it names,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) and Expect (the proxy
// answered it), X-Forwarded-For appended with the client's address, X-Forwarded-Proto and
// X-Forwarded-Port set by the proxy, Host kept, and the body (decoded when it came chunked)
// framed by Content-Length alone, so that the target can never read it differently from the
// proxy. Toward the client: the target's status and end-to-end fields, with the framing and
// connection fields of this hop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http_types.h"
#include "ip_address.h"
#include "proxy_types.h"
#include "response_parser.h"

namespace sluice::proxy {

// A request without Host (HTTP/1.0 allows it) gets the listener's address and port as its Host.
// `client`: the client's address as text, appended to X-Forwarded-For.
std::string upstream_request(const http::Request& req, std::string_view client,
                             const Listener& listener);

struct ResponseHop {
  bool keep_alive = true;       // the client's connection stays open after this response
  bool client_http10 = false;   // the client spoke HTTP/1.0 (keep-alive must then be explicit)
  std::string_view set_cookie;  // a balancer cookie to set, or empty
};

// The response head (status line, fields, the empty line) to send to the client.
std::string client_response_head(const http::Response& r, const ResponseHop& hop);

}  // namespace sluice::proxy
