// The control plane's REST API: JSON over HTTP on the Appliance (the one logic layer), plus the
// Prometheus exposition at /metrics. docs/controlplane-api.md lists every route. When a bearer
// token is configured every request must carry it (`Authorization: Bearer TOKEN`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "appliance.h"

namespace httplib {
class Server;
}

namespace sluice::controlplane {

// "10.0.0.1:80", "[fd00::1]:80", or a bare address (port 0: the group's port). nullopt when it is
// none of these.
std::optional<std::pair<IpAddress, uint16_t>> parse_target(std::string_view text);

void install_routes(httplib::Server& server, Appliance& appliance, const std::string& bearer_token);

}  // namespace sluice::controlplane
