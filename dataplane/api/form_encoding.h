// application/x-www-form-urlencoded bodies and URL queries, as the query protocols of SQS and SNS
// send their parameters: `name=value` pairs joined by '&', percent-encoded, '+' for a space.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::api::form {

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// nullopt when a '%' is not followed by two hex digits; `bad_at` then holds its offset.
inline std::optional<std::string> url_decode(std::string_view text, size_t* bad_at) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        *bad_at = i;
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The parameters of `text` into `params` (a later one replaces an earlier one of the same name).
// nullopt when all decoded; else the offset, within its name or value, of the first malformed
// escape.
template <typename Map>
std::optional<size_t> parse(std::string_view text, Map& params) {
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    size_t bad_at = 0;
    auto key = url_decode(pair.substr(0, eq), &bad_at);
    if (!key) return bad_at;
    std::optional<std::string> value = std::string();
    if (eq != std::string_view::npos) value = url_decode(pair.substr(eq + 1), &bad_at);
    if (!value) return bad_at;
    params[std::move(*key)] = std::move(*value);
  }
  return std::nullopt;
}

}  // namespace sluice::api::form
