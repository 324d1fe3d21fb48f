#include "config/yaml_field.h"

#include <charconv>
#include <sstream>

#include "utf8.h"

namespace sluice {

YamlField YamlField::document(std::string_view text, std::string_view source) {
  try {
    return YamlField(source, "", YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    std::ostringstream out;
    out << source << ':' << e.mark.line + 1 << ": not valid YAML: " << e.msg;
    throw ConfigError(out.str());
  }
}

void YamlField::fail(const std::string& message) const {
  std::ostringstream out;
  out << source_;
  if (line() > 0) out << ':' << line();
  out << ": " << (key_.empty() ? "(document)" : key_) << ": " << message;
  throw ConfigError(out.str());
}

void YamlField::expect_map(const std::vector<std::string_view>& known) const {
  if (!node_.IsMap()) fail("expected a map");
  for (const auto& item : node_) {
    if (!item.first.IsScalar())
      YamlField(source_, key_, item.first).fail("keys must be plain names");
    const std::string& name = item.first.Scalar();
    bool found = false;
    for (auto k : known) found = found || k == name;
    if (!found) YamlField(source_, child(name).key_, item.first).fail("unknown key");
  }
}

YamlField YamlField::child(std::string_view name) const {
  std::string key = key_.empty() ? std::string(name) : key_ + "." + std::string(name);
  YAML::Node node =
      node_.IsMap() ? node_[std::string(name)] : YAML::Node(YAML::NodeType::Undefined);
  return YamlField(source_, std::move(key),
                   node.IsDefined() ? node : YAML::Node(YAML::NodeType::Undefined));
}

YamlField YamlField::required(std::string_view name) const {
  YamlField f = child(name);
  if (!f.present()) YamlField(source_, f.key_, node_).fail("is required");
  return f;
}

std::vector<YamlField> YamlField::items() const {
  if (!node_.IsSequence()) fail("expected a list");
  std::vector<YamlField> out;
  for (size_t i = 0; i < node_.size(); ++i)
    out.emplace_back(source_, key_ + "[" + std::to_string(i) + "]", node_[i]);
  return out;
}

std::vector<std::pair<std::string, YamlField>> YamlField::entries() const {
  if (!node_.IsMap()) fail("expected a map");
  std::vector<std::pair<std::string, YamlField>> out;
  for (const auto& kv : node_) {
    const YamlField key(source_, key_, kv.first);
    std::string name = key.str();
    out.emplace_back(name, YamlField(source_, key_ + "." + name, kv.second));
  }
  return out;
}

std::string YamlField::str() const {
  if (!node_.IsScalar()) fail("expected a string");
  // YAML documents are UTF-8; yaml-cpp passes other bytes through, to names, JSON and logs.
  if (!valid_utf8(node_.Scalar())) fail("is not valid UTF-8");
  return node_.Scalar();
}

uint64_t YamlField::uint(uint64_t min, uint64_t max) const {
  if (!node_.IsScalar()) fail("expected a number");
  const std::string& text = node_.Scalar();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    fail("'" + text + "' is not a whole number");
  if (value < min || value > max) {
    fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
         text);
  }
  return value;
}

bool YamlField::boolean() const {
  const size_t i = choice({"false", "true"});
  return i == 1;
}

size_t YamlField::choice(std::initializer_list<std::string_view> choices) const {
  const std::string value = str();
  size_t i = 0;
  std::string list;
  for (auto c : choices) {
    if (c == value) return i;
    list += (i++ ? ", " : "") + std::string(c);
  }
  fail("'" + value + "' is not one of " + list);
}

}  // namespace sluice
