// Writing HTTP/1.1 responses into a connection's send buffer: the status line, the caller's
// headers, Content-Length and the body, with Connection: close when the connection ends after it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "http_types.h"

namespace sluice::http {

using HeaderList = std::initializer_list<std::pair<std::string_view, std::string_view>>;
using OwnedHeader = std::pair<std::string, std::string>;

// The standard reason phrase of a status code ("OK", "Bad Request", ...); "Unknown" otherwise.
std::string_view reason_phrase(uint16_t status);

// Appends a whole response with a body (Content-Length set from it) to `out`.
void write_response(std::string& out, uint16_t status, HeaderList headers, std::string_view body,
                    bool keep_alive);
void write_response(std::string& out, uint16_t status, std::span<const OwnedHeader> headers,
                    std::string_view body, bool keep_alive);

// The answer to a refused request: its status, a text body with the reason, Connection: close.
void write_error(std::string& out, const ParseError& error);

// "HTTP/1.1 100 Continue" for a request that expects it.
void write_continue(std::string& out);

}  // namespace sluice::http
