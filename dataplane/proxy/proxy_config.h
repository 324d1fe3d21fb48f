// The L7 proxy's configuration (`job: proxy`): the `proxy`, `listeners` and `target_groups`
// sections of the dataplane's YAML document, or a document of just those three sections as the
// control plane pushes it (JSON or YAML). Every key is checked against ALB's ranges; errors name
// the file, the line and the key. The keys are described in docs/proxy-config.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_field.h"
#include "proxy_types.h"

namespace sluice::proxy {

void parse_proxy_section(const YamlField& field, ProxySettings& settings);
void parse_listeners_section(const YamlField& field, std::vector<Listener>& listeners);
void parse_target_groups_section(const YamlField& field, std::vector<TargetGroup>& groups);

// The checks across sections, once all are in: every forwarded group exists and a forward
// action's groups are distinct, rule priorities are unique within a listener (the rules are then
// sorted by ascending priority), listener addresses are unique, and there is at least one
// listener. Throws ConfigError naming the key.
void validate_proxy_config(ProxyConfig& config);

// A whole document of the three sections, parsed and validated; throws ConfigError.
ProxyConfig parse_proxy_document(std::string_view text, std::string_view source);

// The inverse: a JSON document that parse_proxy_document reads back to an equal configuration.
// Throws ConfigError for a configuration no document can express (a condition that mixes regex
// and wildcard values, or a regex on a field that takes none).
std::string dump_proxy_document(const ProxyConfig& config);

}  // namespace sluice::proxy
