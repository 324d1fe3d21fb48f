// SNS subscription filter policies: parsing a FilterPolicy document into a compiled policy and
// matching published messages against it, by message attributes or by the JSON message body
// (FilterPolicyScope). See docs/sns-filter-policy.md.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::api::sns {

enum class Scope { kMessageAttributes, kMessageBody };

// One message attribute as published: Type "String", "Number", "String.Array" or "Binary" (with
// an optional custom ".suffix", e.g. "Number.float"), and its value as sent. String.Array values
// are JSON arrays.
struct MessageAttribute {
  std::string type;
  std::string value;
};
using MessageAttributes = std::map<std::string, MessageAttribute, std::less<>>;

struct PolicyNode;

// A compiled policy. Immutable; copies share the compiled form.
class FilterPolicy {
 public:
  explicit FilterPolicy(Scope scope, std::shared_ptr<const PolicyNode> root)
      : scope_(scope), root_(std::move(root)) {}
  Scope scope() const { return scope_; }
  const PolicyNode& root() const { return *root_; }

 private:
  Scope scope_;
  std::shared_ptr<const PolicyNode> root_;
};

// Compiles `json` for `scope`. On a refusal returns nullopt with SNS's InvalidParameter message
// ("Invalid parameter: FilterPolicy: ...") in `error`.
std::optional<FilterPolicy> parse_filter_policy(std::string_view json, Scope scope,
                                                std::string* error);

// Attribute scope: whether the message's attributes satisfy the policy. A body-scope policy never
// matches here.
bool matches(const FilterPolicy& policy, const MessageAttributes& attributes);

// Body scope: whether the message body, which must be a JSON object, satisfies the policy. A body
// that is not a JSON object, or an attribute-scope policy, never matches.
bool matches(const FilterPolicy& policy, std::string_view body_json);

}  // namespace sluice::api::sns
