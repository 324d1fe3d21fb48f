// Reading YAML configuration with errors that name the file, the line and the key path
// ("sluice.yaml:12: ports[1].mtu: must be between 68 and 9600, got 20"). Every accessor throws
// ConfigError on a wrong type or value; unknown keys are rejected by expect_map().
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_error.h"

namespace sluice {

class YamlField {
 public:
  YamlField(std::string_view source, std::string key, YAML::Node node)
      : source_(source), key_(std::move(key)), node_(std::move(node)) {}

  // Parses a whole document; YAML syntax errors become ConfigError with the line.
  static YamlField document(std::string_view text, std::string_view source);

  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  const std::string& key() const { return key_; }
  int line() const { return node_.Mark().is_null() ? 0 : node_.Mark().line + 1; }

  [[noreturn]] void fail(const std::string& message) const;

  // Requires a map whose keys are all in `known`.
  void expect_map(std::initializer_list<std::string_view> known) const {
    expect_map(std::vector<std::string_view>(known));
  }
  void expect_map(const std::vector<std::string_view>& known) const;
  YamlField child(std::string_view name) const;
  YamlField required(std::string_view name) const;  // a child that must be present

  // Requires a sequence; returns its items.
  std::vector<YamlField> items() const;
  bool is_sequence() const { return node_.IsSequence(); }
  // Requires a map whose keys are strings; returns its entries in document order.
  std::vector<std::pair<std::string, YamlField>> entries() const;

  std::string str() const;
  uint64_t uint(uint64_t min, uint64_t max) const;
  bool boolean() const;
  // One of `choices`; returns its index.
  size_t choice(std::initializer_list<std::string_view> choices) const;

 private:
  std::string_view source_;
  std::string key_;
  YAML::Node node_;
};

}  // namespace sluice
