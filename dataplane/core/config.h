// Reading and checking the dataplane's configuration. Errors name the offending key and, for
// files, the line, so that an operator can fix the file without reading code.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config_types.h"

namespace sluice {
class YamlField;
}  // namespace sluice

namespace sluice::dataplane {

// A top-level section that a job reads itself (the balancer's "lb" and "services").
struct ConfigSection {
  std::string name;
  std::function<void(const YamlField&)> parse;
};

// Parses a YAML document. `source` names it in error messages (usually the file path).
DataplaneConfig parse_config(std::string_view yaml_text, std::string_view source,
                             const std::vector<ConfigSection>& sections = {});

DataplaneConfig load_config_file(const std::string& path,
                                 const std::vector<ConfigSection>& sections = {});

// Checks the whole configuration (after command-line overrides); throws ConfigError.
void validate_config(const DataplaneConfig& config);

// Parses "0-3,5" style core lists.
std::vector<unsigned> parse_core_list(std::string_view text);

HugepageMode parse_hugepage_mode(std::string_view text);

}  // namespace sluice::dataplane
