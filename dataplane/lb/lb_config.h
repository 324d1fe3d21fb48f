// Reading the balancer's sections of the dataplane configuration ("lb" and "services") and
// checking them. Errors name the key and line, like the rest of the configuration.
#pragma once

#include <optional>
#include <string_view>

#include "lb_config_types.h"
#include "yaml_field.h"

namespace sluice::lb {

// Parses "192.0.2.1" or "2001:db8::1"; sets `family` to kFamilyV4 or kFamilyV6.
std::optional<IpAddress> parse_ip_address(std::string_view text, uint8_t& family);

std::string format_ip_address(const IpAddress& address);

void parse_lb_section(const dataplane::YamlField& section, LbConfig& config);
void parse_services_section(const dataplane::YamlField& section, LbConfig& config);

// Whole-configuration checks (duplicates, families, table sizes); throws dataplane::ConfigError.
void validate_lb_config(const LbConfig& config);

}  // namespace sluice::lb
