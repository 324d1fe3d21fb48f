// Reading the balancer's sections of the dataplane configuration ("lb" and "services") and
// checking them. Errors name the key and line, like the rest of the configuration.
#pragma once

#include <optional>
#include <string_view>

#include "config/yaml_field.h"
#include "lb_config_types.h"

namespace sluice::lb {

void parse_lb_section(const YamlField& section, LbConfig& config);
void parse_services_section(const YamlField& section, LbConfig& config);

// Whole-configuration checks (duplicates, families, table sizes); throws ConfigError.
void validate_lb_config(const LbConfig& config);

}  // namespace sluice::lb
