#include "redirect.h"

namespace sluice::proxy {

namespace {

// One pass: what a placeholder expands to is not expanded again, and an unknown #{...} stays.
std::string expand(std::string_view text, const RedirectContext& ctx) {
  std::string_view original_path = ctx.path;
  if (original_path.starts_with('/')) original_path.remove_prefix(1);
  const std::pair<std::string_view, std::string_view> placeholders[] = {
      {"#{protocol}", ctx.protocol}, {"#{host}", ctx.host},   {"#{port}", ctx.port},
      {"#{path}", original_path},    {"#{query}", ctx.query},
  };
  std::string out;
  while (!text.empty()) {
    const size_t at = text.find("#{");
    out.append(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at);
    bool expanded = false;
    for (const auto& [name, value] : placeholders) {
      if (text.starts_with(name)) {
        out.append(value);
        text.remove_prefix(name.size());
        expanded = true;
        break;
      }
    }
    if (!expanded) {
      out.append(text.substr(0, 2));
      text.remove_prefix(2);
    }
  }
  return out;
}

}  // namespace

std::string redirect_location(const RedirectAction& action, const RedirectContext& ctx) {
  std::string protocol = expand(action.protocol, ctx);
  for (char& c : protocol) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  const std::string port = expand(action.port, ctx);
  const std::string path = expand(action.path, ctx);
  const std::string query = expand(action.query, ctx);

  std::string url = protocol + "://" + expand(action.host, ctx);
  const bool default_port =
      (protocol == "http" && port == "80") || (protocol == "https" && port == "443");
  if (!port.empty() && !default_port) url += ":" + port;
  if (!path.starts_with('/')) url += '/';
  url += path;
  if (!query.empty()) url += "?" + query;
  return url;
}

}  // namespace sluice::proxy
