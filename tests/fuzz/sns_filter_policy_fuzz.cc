// libFuzzer target: SNS filter policies. The first byte's low bit picks the scope (attributes or
// body); the rest is the policy document. A refusal must carry SNS's InvalidParameter prefix; a
// policy that parses for attributes must parse for bodies too (the body scope only adds nesting).
// A parsed policy is evaluated against attribute sets and bodies made from its own keys and values
// (so that matches are likely), and against the raw input as a body; evaluation must be repeatable
// and a policy never matches messages of the other scope. The policy is also compiled into a filter
// set (alone, and beside fixed policies of every operator) whose results must equal matches().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sns_filter_policy.h"
#include "sns_filter_set.h"

using namespace sluice::api::sns;
using nlohmann::json;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

// A scalar standing for one match condition: the value itself, or an operator's first operand.
json sample(const json& condition) {
  if (!condition.is_object() || condition.empty()) return condition;
  const json& operand = condition.begin().value();
  if (operand.is_array()) {
    for (const json& e : operand)
      if (e.is_number() || e.is_string()) return e;
    return nullptr;
  }
  if (operand.is_object() && !operand.empty()) return operand.begin().value();
  return operand;
}

// The policy turned into a message body: each condition list becomes the sample of its
// `pick`-th condition (wrapping around); a $or group contributes its `pick`-th alternative.
json to_body(const json& policy, size_t pick) {
  json out = json::object();
  for (const auto& [key, v] : policy.items()) {
    if (v.is_object()) {
      out[key] = to_body(v, pick);
    } else if (v.is_array() && !v.empty()) {
      const json& chosen = v[pick % v.size()];
      if (key == "$or" && chosen.is_object()) {
        out.update(to_body(chosen, pick));
      } else {
        out[key] = sample(chosen);
      }
    }
  }
  return out;
}

std::string text_of(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Attribute sets: every top-level key given the sample of its `pick`-th condition, as a String, as
// a Number and inside a String.Array.
std::vector<MessageAttributes> attribute_sets(const json& policy, size_t pick) {
  std::vector<MessageAttributes> sets(3);
  if (!policy.is_object()) return sets;
  for (const auto& [key, v] : policy.items()) {
    if (!v.is_array() || v.empty()) continue;
    const json value = sample(v[pick % v.size()]);
    sets[0][key] = {"String", text_of(value)};
    sets[1][key] = {"Number", text_of(value)};
    sets[2][key] = {"String.Array", json::array({value, "other"}).dump()};
  }
  return sets;
}

// Policies of every operator in both scopes, set beside the fuzzed one.
std::vector<FilterSet::Member> fixed_members() {
  const char* texts[] = {
      R"({"tenant": ["t1", "t2"], "n": [{"numeric": [">", 0, "<=", 10]}]})",
      R"({"tenant": [{"prefix": "t"}, {"suffix": "9"}, {"equals-ignore-case": "T5"}]})",
      R"({"tenant": [{"anything-but": ["t1", 3]}], "ip": [{"cidr": "10.0.0.0/8"}]})",
      R"({"tenant": [{"anything-but": {"prefix": "t"}}], "n": [{"exists": false}]})",
      R"({"$or": [{"tenant": [{"exists": true}]}, {"n": [5, true, null]}]})",
  };
  std::vector<FilterSet::Member> out;
  size_t position = 1;
  for (const Scope scope : {Scope::kMessageAttributes, Scope::kMessageBody})
    for (const char* text : texts) {
      std::string error;
      auto p = parse_filter_policy(text, scope, &error);
      check(p.has_value());
      out.push_back({position++, std::make_shared<const FilterPolicy>(std::move(*p))});
    }
  return out;
}

// The set's answer for every member must be matches()'s.
void check_set(const std::vector<FilterSet::Member>& members, const FilterSet& set,
               const MessageAttributes& attributes, const std::string& body) {
  std::vector<size_t> expected;
  for (const FilterSet::Member& m : members)
    if (m.policy->scope() == Scope::kMessageBody ? matches(*m.policy, body)
                                                 : matches(*m.policy, attributes))
      expected.push_back(m.position);
  std::sort(expected.begin(), expected.end());
  std::vector<size_t> got;
  set.match(attributes, body, &got);
  check(got == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Scope scope = (data[0] & 1) ? Scope::kMessageBody : Scope::kMessageAttributes;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string error;
  const auto policy = parse_filter_policy(text, scope, &error);
  if (!policy) {
    check(error.starts_with("Invalid parameter: FilterPolicy: "));
    return 0;
  }
  check(policy->scope() == scope);
  if (scope == Scope::kMessageAttributes)
    check(parse_filter_policy(text, Scope::kMessageBody, &error).has_value());

  const json doc = json::parse(text);
  std::vector<std::string> bodies = {std::string(text), "{}", "not json"};
  std::vector<MessageAttributes> sets = {{}};
  for (size_t pick = 0; pick < 3; ++pick) {
    bodies.push_back(to_body(doc, pick).dump());
    for (MessageAttributes& a : attribute_sets(doc, pick)) sets.push_back(std::move(a));
  }
  for (const std::string& body : bodies) {
    const bool first = matches(*policy, body);
    check(first == matches(*policy, body));
    if (scope == Scope::kMessageAttributes) check(!first);
  }
  for (const MessageAttributes& a : sets) {
    const bool first = matches(*policy, a);
    check(first == matches(*policy, a));
    if (scope == Scope::kMessageBody) check(!first);
  }
  check(!matches(*policy, std::string_view("not json")));

  static const std::vector<FilterSet::Member> fixed = fixed_members();
  std::vector<FilterSet::Member> members = {{0, std::make_shared<const FilterPolicy>(*policy)}};
  const FilterSet alone(members);
  members.insert(members.end(), fixed.begin(), fixed.end());
  const FilterSet together(members);
  const MessageAttributes fixed_attributes = {
      {"tenant", {"String", "t5"}}, {"n", {"Number", "5"}}, {"ip", {"String", "10.1.2.3"}}};
  const std::string fixed_body = R"({"tenant": "t5", "n": [5, true], "ip": "10.1.2.3"})";
  sets.push_back(fixed_attributes);
  bodies.push_back(fixed_body);
  for (size_t i = 0; i < std::max(sets.size(), bodies.size()); ++i) {
    const MessageAttributes& a = sets[std::min(i, sets.size() - 1)];
    const std::string& body = bodies[std::min(i, bodies.size() - 1)];
    check_set({members.front()}, alone, a, body);
    check_set(members, together, a, body);
  }
  return 0;
}
