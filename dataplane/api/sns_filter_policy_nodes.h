// The compiled form of SNS filter policies and the values of a message they are tested against:
// shared by the per-policy matcher (sns_filter_policy.cc) and the per-topic set of policies
// (sns_filter_set.cc). Not for other users.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sns_filter_policy.h"

namespace sluice::api::sns {

enum class ValueType { kString, kNumber, kTrue, kFalse, kNull };

struct Cidr {
  int family = AF_INET;
  std::array<uint8_t, 16> network{};
  int prefix_bits = 0;
};

struct Matcher {
  enum class Kind {
    kString,
    kNumber,
    kLiteral,  // true, false or null
    kPrefix,
    kSuffix,
    kEqualsIgnoreCase,
    kAnythingBut,
    kAnythingButPrefix,
    kAnythingButSuffix,
    kNumeric,
    kExists,
    kCidr,
  };
  Kind kind = Kind::kString;
  std::string text;
  int64_t number = 0;
  ValueType literal = ValueType::kNull;
  std::vector<std::string> but_strings;
  std::vector<int64_t> but_numbers;
  std::optional<int64_t> lower, upper;
  bool lower_inclusive = false, upper_inclusive = false;
  bool exists = false;
  Cidr cidr;
};

// One key of the policy (a path of nested keys in body scope) and its list of match conditions,
// any one of which satisfies it.
struct Condition {
  std::vector<std::string> path;
  std::vector<Matcher> matchers;
};

// All conditions must hold, and for each $or group, at least one of its alternatives.
struct PolicyNode {
  std::vector<Condition> conditions;
  std::vector<std::vector<PolicyNode>> any_of;
};

// One value of a message attribute or body property that a match condition is tested against.
struct Value {
  ValueType type;
  std::string_view text;  // kString
  int64_t number = 0;     // kNumber, scaled
};

// ASCII letters lowered, other bytes as they are (equals-ignore-case).
std::string ascii_lower(std::string_view s);

// Whether one value satisfies one condition (never for kExists, which asks about presence).
bool value_matches(const Matcher& m, const Value& v);

// The values of attribute `key` as SNS filters on them; false when the message lacks it (or it is
// Binary). String.Array elements are parsed into `arrays`, which must outlive the values.
bool attribute_values(const MessageAttributes& attributes, const std::string& key,
                      std::vector<Value>* values, std::deque<nlohmann::json>* arrays);

// The values at `path` in a body (a JSON object); false when nothing but objects is there.
bool body_values(const nlohmann::json& body, const std::vector<std::string>& path,
                 std::vector<Value>* values);

}  // namespace sluice::api::sns
