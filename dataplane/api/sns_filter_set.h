// The filter policies of one topic's subscriptions compiled as one set, so that a publish finds
// the subscriptions it passes without evaluating every policy from scratch. Each policy is split
// into leaves (one condition on one key); per message each key the set knows is read once, its
// string leaves matched by a hash lookup (exact values) and one Hyperscan database (prefix, suffix,
// equals-ignore-case, anything-but prefix/suffix), its numeric leaves by ranges sorted by lower
// bound, and a policy passes when every condition of one of its conjunctions is satisfied. The
// result equals matches() policy by policy. See docs/sns-filter-policy.md.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "sns_filter_policy.h"

namespace sluice::api::sns {

class FilterSet {
 public:
  // One subscription: its position in the topic and its policy (null: it passes every message).
  struct Member {
    size_t position = 0;
    std::shared_ptr<const FilterPolicy> policy;
  };

  FilterSet() = default;  // no members
  explicit FilterSet(const std::vector<Member>& members);

  // Appends the positions, ascending, of the members whose policy the message passes:
  // attribute-scope policies by `attributes`, body-scope ones by `body`. Safe to call from several
  // threads at once (each has its own scratch); throws std::runtime_error when Hyperscan cannot
  // allocate its scratch.
  void match(const MessageAttributes& attributes, std::string_view body,
             std::vector<size_t>* out) const;

  size_t size() const;

  struct Compiled;

 private:
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace sluice::api::sns
