// The configuration as a JSON document in the shape of the YAML file (JSON is YAML), so that what
// the control plane runs — the file plus every change made through the API — can be shown,
// saved and loaded again as it is.
#pragma once

#include <nlohmann/json.hpp>

#include "control_config.h"

namespace sluice::controlplane {

nlohmann::ordered_json config_to_json(const ControlConfig& config);

// The names the YAML document uses for these values.
const char* group_protocol_name(GroupProtocol p);
const char* forwarding_mode_name(ForwardingMode m);

// "10.0.0.1:80", "[fd00::1]:80".
std::string format_endpoint(const IpAddress& address, uint16_t port);

}  // namespace sluice::controlplane
