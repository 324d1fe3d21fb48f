#include "forwarding.h"

#include <fmt/format.h>

#include <array>

namespace sluice::proxy {
namespace {

using http::iequals;

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kNames = {
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"};
  for (std::string_view n : kNames)
    if (iequals(name, n)) return true;
  return false;
}

// Whether `name` is listed in a Connection field's value (such fields are hop-by-hop too).
bool named_by_connection(std::string_view connection, std::string_view name) {
  size_t at = 0;
  while (at <= connection.size()) {
    size_t comma = connection.find(',', at);
    if (comma == std::string_view::npos) comma = connection.size();
    std::string_view token = connection.substr(at, comma - at);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty() && iequals(token, name)) return true;
    at = comma + 1;
  }
  return false;
}

template <typename Message>
std::string_view connection_value(const Message& m) {
  const http::Header* h = m.find("connection");
  return h == nullptr ? std::string_view() : h->value;
}

void add_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

std::string upstream_request(const http::Request& req, std::string_view client,
                             const Listener& listener) {
  std::string out;
  out.reserve(256 + req.body.size());
  out += req.method;
  out += ' ';
  out += req.target;
  out += " HTTP/1.1\r\n";
  if (req.find("host") == nullptr) {
    const bool v6 = listener.address.find(':') != std::string::npos;
    add_field(out, "Host",
              v6 ? fmt::format("[{}]:{}", listener.address, listener.port)
                 : fmt::format("{}:{}", listener.address, listener.port));
  }
  const std::string_view connection = connection_value(req);
  std::string forwarded_for;
  for (size_t i = 0; i < req.header_count; ++i) {
    const http::Header& h = req.headers[i];
    if (iequals(h.name, "x-forwarded-for")) {
      if (!forwarded_for.empty()) forwarded_for += ", ";
      forwarded_for += h.value;
      continue;
    }
    if (iequals(h.name, "x-forwarded-proto") || iequals(h.name, "x-forwarded-port") ||
        iequals(h.name, "transfer-encoding") || iequals(h.name, "content-length") ||
        iequals(h.name, "expect") || is_hop_by_hop(h.name) ||
        named_by_connection(connection, h.name))
      continue;
    add_field(out, h.name, h.value);
  }
  if (!forwarded_for.empty()) forwarded_for += ", ";
  forwarded_for += client;
  add_field(out, "X-Forwarded-For", forwarded_for);
  add_field(out, "X-Forwarded-Proto", "http");
  add_field(out, "X-Forwarded-Port", std::to_string(listener.port));
  if (req.upgrade) {
    const http::Header* upgrade = req.find("upgrade");
    add_field(out, "Connection", "upgrade");
    add_field(out, "Upgrade", upgrade == nullptr ? std::string_view() : upgrade->value);
  }
  if (!req.body.empty() || req.find("content-length") != nullptr || req.chunked)
    add_field(out, "Content-Length", std::to_string(req.body.size()));
  out += "\r\n";
  out += req.body;
  return out;
}

std::string client_response_head(const http::Response& r, const ResponseHop& hop) {
  std::string head = fmt::format("HTTP/1.1 {} {}\r\n", r.status, r.reason);
  const std::string_view connection = connection_value(r);
  for (size_t i = 0; i < r.header_count; ++i) {
    const http::Header& h = r.headers[i];
    if (is_hop_by_hop(h.name) || iequals(h.name, "transfer-encoding") ||
        named_by_connection(connection, h.name))
      continue;
    add_field(head, h.name, h.value);
  }
  // A chunked body is relayed as it came, chunk framing included.
  if (r.chunked) add_field(head, "Transfer-Encoding", "chunked");
  if (r.upgrade) {
    const http::Header* upgrade = r.find("upgrade");
    add_field(head, "Connection", "upgrade");
    add_field(head, "Upgrade", upgrade == nullptr ? std::string_view("websocket") : upgrade->value);
  } else if (!hop.keep_alive || r.until_close) {
    add_field(head, "Connection", "close");
  } else if (hop.client_http10) {
    add_field(head, "Connection", "keep-alive");
  }
  if (!hop.set_cookie.empty()) add_field(head, "Set-Cookie", hop.set_cookie);
  head += "\r\n";
  return head;
}

}  // namespace sluice::proxy
