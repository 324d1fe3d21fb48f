#include "response_writer.h"

#include <charconv>

namespace sluice::http {

std::string_view reason_phrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

namespace {

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

void write_status_line(std::string& out, uint16_t status) {
  out += "HTTP/1.1 ";
  append_number(out, status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void write_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void write_body(std::string& out, std::string_view body, bool keep_alive) {
  out += "Content-Length: ";
  append_number(out, body.size());
  out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  out += body;
}

}  // namespace

void write_response(std::string& out, uint16_t status, HeaderList headers, std::string_view body,
                    bool keep_alive) {
  write_status_line(out, status);
  for (const auto& [name, value] : headers) write_header(out, name, value);
  write_body(out, body, keep_alive);
}

void write_response(std::string& out, uint16_t status, std::span<const OwnedHeader> headers,
                    std::string_view body, bool keep_alive) {
  write_status_line(out, status);
  for (const auto& [name, value] : headers) write_header(out, name, value);
  write_body(out, body, keep_alive);
}

void write_error(std::string& out, const ParseError& error) {
  std::string body(error.reason);
  body += '\n';
  write_response(out, error.status, {{"Content-Type", "text/plain"}}, body, false);
}

void write_continue(std::string& out) {
  out += "HTTP/1.1 100 Continue\r\n\r\n";
}

}  // namespace sluice::http
