#include "sns_filter_policy.h"

#include "sns_filter_policy_nodes.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::api::sns {

namespace {

using nlohmann::json;

constexpr std::string_view kErrorPrefix = "Invalid parameter: FilterPolicy: ";
constexpr size_t kMaxPolicyBytes = 256 * 1024;
constexpr size_t kMaxKeys = 5;
constexpr uint64_t kMaxCombinations = 150;
// Not an SNS limit: it bounds the parser's recursion through nested keys and $or.
constexpr int kMaxDepth = 32;
// Numbers compare with five digits after the decimal point, as SNS does: scaled to integers.
constexpr double kScale = 1e5;
constexpr double kMaxMagnitude = 1e9;
constexpr int64_t kScaledMax = 100'000'000'000'000;  // 1e9 * 1e5

// A number scaled to 1e-5 units. Values beyond +-1e9 saturate just past the range, so they compare
// correctly against every policy bound (all within the range) and equal none.
int64_t scale(double x) {
  if (x > kMaxMagnitude) return kScaledMax + 1;
  if (x < -kMaxMagnitude) return -kScaledMax - 1;
  return std::llround(x * kScale);
}

}  // namespace

namespace {

struct ParseError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw ParseError{std::move(message)};
}

int64_t policy_number(const json& v) {
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < -kMaxMagnitude || x > kMaxMagnitude)
    fail("Numeric values must be between -1.0E9 and 1.0E9, got " + v.dump());
  return scale(x);
}

const std::string& string_operand(const json& v, std::string_view op) {
  if (!v.is_string()) fail(std::string(op) + " match pattern must be a string");
  return v.get_ref<const std::string&>();
}

bool parse_ip(std::string_view text, int family, std::array<uint8_t, 16>* out) {
  if (text.size() > 45) return false;
  const std::string s(text);
  *out = {};
  return inet_pton(family, s.c_str(), out->data()) == 1;
}

Cidr parse_cidr(const json& v) {
  const std::string& s = string_operand(v, "cidr");
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos)
    fail("Malformed CIDR, one '/' required");
  Cidr cidr;
  const std::string_view address(s.data(), slash);
  if (parse_ip(address, AF_INET, &cidr.network)) {
    cidr.family = AF_INET;
  } else if (parse_ip(address, AF_INET6, &cidr.network)) {
    cidr.family = AF_INET6;
  } else {
    fail("Nonstandard IP address: " + std::string(address));
  }
  const std::string_view bits(s.data() + slash + 1, s.size() - slash - 1);
  const int max_bits = cidr.family == AF_INET ? 32 : 128;
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), cidr.prefix_bits);
  if (bits.empty() || ec != std::errc{} || end != bits.data() + bits.size() ||
      cidr.prefix_bits < 0 || cidr.prefix_bits > max_bits)
    fail("Malformed CIDR, mask bits must be an integer between 0 and " + std::to_string(max_bits));
  return cidr;
}

void parse_numeric(const json& v, Matcher* m) {
  if (!v.is_array() || v.empty()) fail("Value of numeric must be an array.");
  size_t i = 0;
  auto operand = [&](const std::string& op) {
    if (i >= v.size() || !v[i].is_number()) fail("Value of " + op + " must be numeric");
    return policy_number(v[i++]);
  };
  auto op_at = [&]() -> std::string {
    if (!v[i].is_string()) fail("Invalid member in numeric match: " + v[i].dump());
    return v[i++].get<std::string>();
  };
  const std::string first = op_at();
  if (first == "=") {
    const int64_t x = operand(first);
    m->lower = m->upper = x;
    m->lower_inclusive = m->upper_inclusive = true;
  } else if (first == ">" || first == ">=") {
    m->lower = operand(first);
    m->lower_inclusive = first == ">=";
    // A lower bound may be followed by an upper bound, never the other way round.
    if (i < v.size()) {
      const std::string second = op_at();
      if (second != "<" && second != "<=") fail("Bad numeric range operator: " + second);
      m->upper = operand(second);
      m->upper_inclusive = second == "<=";
      if (*m->lower >= *m->upper) fail("Bottom must be less than top");
    }
  } else if (first == "<" || first == "<=") {
    m->upper = operand(first);
    m->upper_inclusive = first == "<=";
  } else {
    fail("Unrecognized numeric range operator: " + first);
  }
  if (i != v.size()) fail("Too many elements in numeric expression");
}

void parse_anything_but(const json& v, Matcher* m) {
  auto add = [&](const json& item) {
    if (item.is_string()) {
      m->but_strings.push_back(item.get<std::string>());
    } else if (item.is_number()) {
      m->but_numbers.push_back(policy_number(item));
    } else {
      fail("Inside anything but list, start|null|boolean is not supported.");
    }
  };
  if (v.is_object()) {
    if (v.size() != 1)
      fail("Value of anything-but must be an array or single string/number value.");
    const std::string& op = v.begin().key();
    const json& operand = v.begin().value();
    if (op == "prefix") {
      m->kind = Matcher::Kind::kAnythingButPrefix;
    } else if (op == "suffix") {
      m->kind = Matcher::Kind::kAnythingButSuffix;
    } else {
      fail("Unsupported anything-but pattern: " + op);
    }
    m->text = string_operand(operand, op);
    if (m->text.empty()) fail("Null " + op + " not allowed");
    return;
  }
  m->kind = Matcher::Kind::kAnythingBut;
  if (v.is_array()) {
    if (v.empty()) fail("Empty arrays are not allowed");
    for (const json& item : v) add(item);
  } else {
    add(v);
  }
}

Matcher parse_operator(const json& object) {
  if (object.size() != 1) fail("Only one key allowed in match expression");
  const std::string& op = object.begin().key();
  const json& v = object.begin().value();
  Matcher m;
  if (op == "prefix" || op == "suffix") {
    m.kind = op == "prefix" ? Matcher::Kind::kPrefix : Matcher::Kind::kSuffix;
    m.text = string_operand(v, op);
    if (m.text.empty()) fail("Null " + op + " not allowed");
  } else if (op == "equals-ignore-case") {
    m.kind = Matcher::Kind::kEqualsIgnoreCase;
    m.text = ascii_lower(string_operand(v, op));
  } else if (op == "anything-but") {
    parse_anything_but(v, &m);
  } else if (op == "numeric") {
    m.kind = Matcher::Kind::kNumeric;
    parse_numeric(v, &m);
  } else if (op == "exists") {
    if (!v.is_boolean()) fail("exists match pattern must be either true or false.");
    m.kind = Matcher::Kind::kExists;
    m.exists = v.get<bool>();
  } else if (op == "cidr") {
    m.kind = Matcher::Kind::kCidr;
    m.cidr = parse_cidr(v);
  } else {
    fail("Unrecognized match type " + op);
  }
  return m;
}

Matcher parse_value(const json& v) {
  Matcher m;
  if (v.is_string()) {
    m.kind = Matcher::Kind::kString;
    m.text = v.get<std::string>();
  } else if (v.is_number()) {
    m.kind = Matcher::Kind::kNumber;
    m.number = policy_number(v);
  } else if (v.is_boolean() || v.is_null()) {
    m.kind = Matcher::Kind::kLiteral;
    m.literal = v.is_null()     ? ValueType::kNull
                : v.get<bool>() ? ValueType::kTrue
                                : ValueType::kFalse;
  } else if (v.is_object()) {
    m = parse_operator(v);
  } else {
    fail("Match value must be String, number, true, false, or null");
  }
  return m;
}

// "$or" is the operator only when its value is an array of at least two objects; otherwise it is an
// ordinary key named "$or".
bool is_or(const std::string& key, const json& v) {
  if (key != "$or" || !v.is_array() || v.size() < 2) return false;
  return std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
}

void parse_object(const json& object, Scope scope, std::vector<std::string>& path, int depth,
                  PolicyNode* node) {
  if (depth > kMaxDepth) fail("Filter policy is too deeply nested");
  for (const auto& [key, v] : object.items()) {
    if (is_or(key, v)) {
      std::vector<PolicyNode>& alternatives = node->any_of.emplace_back();
      for (const json& branch : v) {
        if (branch.empty()) fail("Empty objects are not allowed");
        parse_object(branch, scope, path, depth + 1, &alternatives.emplace_back());
      }
      continue;
    }
    path.push_back(key);
    if (v.is_object()) {
      if (scope == Scope::kMessageAttributes)
        fail("Filter policy scope MessageAttributes does not support nested filter policy");
      if (v.empty()) fail("Empty objects are not allowed");
      parse_object(v, scope, path, depth + 1, node);
    } else if (v.is_array()) {
      if (v.empty()) fail("Empty arrays are not allowed");
      Condition& c = node->conditions.emplace_back();
      c.path = path;
      for (const json& item : v) c.matchers.push_back(parse_value(item));
    } else {
      fail("\"" + key + "\" must be an object or an array");
    }
    path.pop_back();
  }
}

// Combinations as SNS counts them: the product of the sizes of the value lists, where a $or group
// contributes the sum of its alternatives' combinations. Saturates past the limit.
uint64_t combinations(const PolicyNode& node) {
  uint64_t total = 1;
  for (const Condition& c : node.conditions)
    total = std::min(total * c.matchers.size(), kMaxCombinations + 1);
  for (const auto& group : node.any_of) {
    uint64_t sum = 0;
    for (const PolicyNode& alternative : group)
      sum = std::min(sum + combinations(alternative), kMaxCombinations + 1);
    total = std::min(total * sum, kMaxCombinations + 1);
  }
  return total;
}

// Keys that one message must satisfy together: the leaf keys of the node plus, for each $or
// group, those of its largest alternative.
size_t key_count(const PolicyNode& node) {
  size_t keys = node.conditions.size();
  for (const auto& group : node.any_of) {
    size_t widest = 0;
    for (const PolicyNode& alternative : group) widest = std::max(widest, key_count(alternative));
    keys += widest;
  }
  return keys;
}

bool equals_ignore_case(std::string_view s, std::string_view lower) {
  return s.size() == lower.size() && ascii_lower(s) == lower;
}

bool in_cidr(const Cidr& cidr, std::string_view text) {
  std::array<uint8_t, 16> address;
  if (!parse_ip(text, cidr.family, &address)) return false;
  const int full = cidr.prefix_bits / 8;
  if (!std::equal(address.begin(), address.begin() + full, cidr.network.begin())) return false;
  const int rest = cidr.prefix_bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[full] & mask) == (cidr.network[full] & mask);
}

bool in_range(const Matcher& m, int64_t x) {
  if (m.lower && (m.lower_inclusive ? x < *m.lower : x <= *m.lower)) return false;
  if (m.upper && (m.upper_inclusive ? x > *m.upper : x >= *m.upper)) return false;
  return true;
}

}  // namespace

bool value_matches(const Matcher& m, const Value& v) {
  const bool is_string = v.type == ValueType::kString;
  switch (m.kind) {
    case Matcher::Kind::kString:
      return is_string && v.text == m.text;
    case Matcher::Kind::kNumber:
      return v.type == ValueType::kNumber && v.number == m.number;
    case Matcher::Kind::kLiteral:
      return v.type == m.literal;
    case Matcher::Kind::kPrefix:
      return is_string && v.text.starts_with(m.text);
    case Matcher::Kind::kSuffix:
      return is_string && v.text.ends_with(m.text);
    case Matcher::Kind::kEqualsIgnoreCase:
      return is_string && equals_ignore_case(v.text, m.text);
    case Matcher::Kind::kAnythingBut:
      // Values of another type than the listed ones are "anything but" them.
      if (is_string)
        return std::find(m.but_strings.begin(), m.but_strings.end(), v.text) == m.but_strings.end();
      if (v.type == ValueType::kNumber)
        return std::find(m.but_numbers.begin(), m.but_numbers.end(), v.number) ==
               m.but_numbers.end();
      return true;
    case Matcher::Kind::kAnythingButPrefix:
      return is_string && !v.text.starts_with(m.text);
    case Matcher::Kind::kAnythingButSuffix:
      return is_string && !v.text.ends_with(m.text);
    case Matcher::Kind::kNumeric:
      return v.type == ValueType::kNumber && in_range(m, v.number);
    case Matcher::Kind::kCidr:
      return is_string && in_cidr(m.cidr, v.text);
    case Matcher::Kind::kExists:
      return false;
  }
  return false;
}

namespace {

// A key is present when the message has it (an attribute of a type SNS filters on, or a body
// property that is not an object); `values` are what it holds, one per array element.
bool condition_holds(const Condition& c, bool present, const std::vector<Value>& values) {
  for (const Matcher& m : c.matchers) {
    if (m.kind == Matcher::Kind::kExists) {
      if (m.exists == present) return true;
      continue;
    }
    for (const Value& v : values)
      if (value_matches(m, v)) return true;
  }
  return false;
}

std::optional<Value> json_value(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return Value{ValueType::kString, j.get_ref<const std::string&>()};
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return Value{ValueType::kNumber, {}, scale(j.get<double>())};
    case json::value_t::boolean:
      return Value{j.get<bool>() ? ValueType::kTrue : ValueType::kFalse, {}};
    case json::value_t::null:
      return Value{ValueType::kNull, {}};
    default:
      return std::nullopt;
  }
}

// A scalar adds itself; an array adds each scalar element (objects and nested arrays add nothing).
void add_values(const json& j, std::vector<Value>* out) {
  if (j.is_array()) {
    for (const json& e : j)
      if (auto v = json_value(e)) out->push_back(*v);
  } else if (auto v = json_value(j)) {
    out->push_back(*v);
  }
}

std::optional<double> parse_number(std::string_view s) {
  double x = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(x))
    return std::nullopt;
  return x;
}

template <typename Lookup>
bool node_holds(const PolicyNode& node, const Lookup& lookup) {
  std::vector<Value> values;
  for (const Condition& c : node.conditions) {
    values.clear();
    const bool present = lookup(c.path, &values);
    if (!condition_holds(c, present, values)) return false;
  }
  for (const auto& group : node.any_of) {
    const bool any = std::any_of(group.begin(), group.end(),
                                 [&](const PolicyNode& n) { return node_holds(n, lookup); });
    if (!any) return false;
  }
  return true;
}

// Walks `path` through the body; arrays on the way are searched element by element.
void collect(const json& j, const std::vector<std::string>& path, size_t at,
             std::vector<Value>* out, bool* present) {
  if (at == path.size()) {
    if (j.is_object()) return;
    *present = true;
    add_values(j, out);
    return;
  }
  if (j.is_array()) {
    for (const json& e : j)
      if (e.is_object()) collect(e, path, at, out, present);
    return;
  }
  if (!j.is_object()) return;
  const auto it = j.find(path[at]);
  if (it != j.end()) collect(*it, path, at + 1, out, present);
}

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool attribute_values(const MessageAttributes& attributes, const std::string& key,
                      std::vector<Value>* values, std::deque<json>* arrays) {
  const auto it = attributes.find(key);
  if (it == attributes.end()) return false;
  const MessageAttribute& a = it->second;
  // SNS ignores Binary attributes entirely.
  if (a.type.starts_with("Binary")) return false;
  if (a.type == "String.Array") {
    json parsed = json::parse(a.value, nullptr, false);
    if (parsed.is_array()) {
      arrays->push_back(std::move(parsed));
      add_values(arrays->back(), values);
    }
  } else if (a.type.starts_with("Number")) {
    if (auto x = parse_number(a.value)) values->push_back({ValueType::kNumber, {}, scale(*x)});
  } else {
    values->push_back({ValueType::kString, a.value});
  }
  return true;
}

bool body_values(const json& body, const std::vector<std::string>& path,
                 std::vector<Value>* values) {
  bool present = false;
  collect(body, path, 0, values, &present);
  return present;
}

std::optional<FilterPolicy> parse_filter_policy(std::string_view text, Scope scope,
                                                std::string* error) {
  try {
    if (text.size() > kMaxPolicyBytes) fail("Filter policy is too large");
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) fail("failed to parse JSON.");
    if (!doc.is_object()) fail("Filter policy must be a JSON object");
    auto root = std::make_shared<PolicyNode>();
    std::vector<std::string> path;
    parse_object(doc, scope, path, 0, root.get());
    if (key_count(*root) > kMaxKeys) fail("Filter policy can not have more than 5 keys");
    if (combinations(*root) > kMaxCombinations) fail("Filter policy is too complex");
    return FilterPolicy(scope, std::move(root));
  } catch (const ParseError& e) {
    *error = std::string(kErrorPrefix) + e.message;
  } catch (const json::exception& e) {
    *error = std::string(kErrorPrefix) + "failed to parse JSON.";
  }
  return std::nullopt;
}

bool matches(const FilterPolicy& policy, const MessageAttributes& attributes) {
  if (policy.scope() != Scope::kMessageAttributes) return false;
  std::deque<json> arrays;  // keeps String.Array elements in place while they are matched
  return node_holds(policy.root(),
                    [&](const std::vector<std::string>& path, std::vector<Value>* values) {
                      return attribute_values(attributes, path.front(), values, &arrays);
                    });
}

bool matches(const FilterPolicy& policy, std::string_view body_json) {
  if (policy.scope() != Scope::kMessageBody) return false;
  const json body = json::parse(body_json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return false;
  return node_holds(policy.root(),
                    [&](const std::vector<std::string>& path, std::vector<Value>* values) {
                      return body_values(body, path, values);
                    });
}

}  // namespace sluice::api::sns
