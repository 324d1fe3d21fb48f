#include "config/yaml_field.h"

#include <charconv>
#include <sstream>

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

namespace {

// YAML documents are UTF-8; yaml-cpp passes other bytes through, which would then reach names,
// JSON answers and logs.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (extra > s.size() - i - 1) return false;  // cut short
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::string YamlField::str() const {
  if (!node_.IsScalar()) fail("expected a string");
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
