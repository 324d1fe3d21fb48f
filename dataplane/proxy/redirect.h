// The Location of an ALB redirect action.
#pragma once

#include <string>
#include <string_view>

#include "proxy_types.h"

namespace sluice::proxy {

// The request a redirect answers, as the placeholders see it.
struct RedirectContext {
  std::string_view protocol;  // "http" or "https"
  std::string_view host;      // without the port
  std::string_view port;      // the listener's port
  std::string_view path;      // with its leading '/'
  std::string_view query;     // without '?'
};

// The Location URL of an ALB redirect: protocol://host:port/path?query with #{protocol}, #{host},
// #{port}, #{path} (original path WITHOUT its leading '/'), #{query} expanded in every component;
// ":port" left out when it is the protocol's default (80 for http, 443 for https); "?query" left
// out when the query is empty.
std::string redirect_location(const RedirectAction& action, const RedirectContext& ctx);

}  // namespace sluice::proxy
