#include "sns_filter_set.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "sns_filter_policy_nodes.h"

namespace sluice::api::sns {

namespace {

using nlohmann::json;
using Ids = std::vector<uint32_t>;

// Lets the string maps be searched with a message's string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// A numeric leaf as a closed range of scaled values.
struct Range {
  int64_t low, high;
  uint32_t condition;
};

// An anything-but leaf: satisfied when some value of the key is not one it excludes. The value
// lists and patterns that exclude a value point at the leaf; per message the leaf counts the
// values excluded and is satisfied while that stays below the values it is asked about (every
// value for a list, the string values for a prefix or suffix).
struct NegativeLeaf {
  uint32_t condition;
  bool strings_only;
};

enum class PatternKind : uint8_t { kPrefix, kSuffix, kIgnoreCase, kButPrefix, kButSuffix };

struct Pattern {
  PatternKind kind;
  std::string text;  // lowered for kIgnoreCase
  Ids targets;       // conditions, or negative leaves for kButPrefix and kButSuffix
};

// Everything the set asks about one key (an attribute, or a path in the body).
struct Key {
  Scope scope = Scope::kMessageAttributes;
  std::vector<std::string> path;
  StringMap<Ids> strings;
  std::unordered_map<int64_t, Ids> numbers;
  std::array<Ids, 5> literals;  // by ValueType
  std::vector<Range> ranges;    // sorted by low
  std::vector<std::pair<Matcher, uint32_t>> cidrs;
  Ids exists, absent;
  std::vector<NegativeLeaf> negatives;
  uint32_t negative_base = 0;  // where this key's negative leaves start in the set's numbering
  StringMap<Ids> but_strings;  // value -> negative leaves
  std::unordered_map<int64_t, Ids> but_numbers;
  std::vector<Pattern> patterns;  // by Hyperscan id
  // Null when there are no patterns, or when Hyperscan refused them (a literal too long for it):
  // then each pattern is compared in turn.
  hs_database_t* db = nullptr;
};

// One conjunction of conditions; a policy passes when one of its conjunctions does.
struct Term {
  uint32_t member;
  uint32_t needed;
};

std::atomic<uint64_t> next_generation{1};

}  // namespace

struct FilterSet::Compiled {
  std::vector<size_t> positions;  // by member
  std::vector<Key> keys;
  std::vector<Term> terms;
  std::vector<uint32_t> condition_term;  // by condition
  uint32_t negative_count = 0;
  Ids always;             // members that pass every message
  Ids always_if_body;     // body-scope members with no condition: any JSON object body passes
  bool has_body = false;  // some key or member is body-scope
  uint64_t generation = next_generation++;

  Compiled() = default;
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;
  ~Compiled() {
    for (Key& k : keys) hs_free_database(k.db);
  }
};

namespace {

// Per-thread state of one match: stamps mark what this match has touched, so nothing is cleared
// between messages.
struct Scratch {
  uint32_t epoch = 0;
  std::vector<uint32_t> condition_stamp, term_stamp, term_count, member_stamp, negative_stamp,
      negative_count;
  std::vector<Value> values;
  std::vector<uint32_t> matched;
  hs_scratch_t* hs = nullptr;
  uint64_t hs_generation = 0;  // the set the Hyperscan scratch was last fitted to

  ~Scratch() { hs_free_scratch(hs); }

  void begin(const FilterSet::Compiled& c) {
    if (++epoch == 0) {  // wrapped: old stamps could collide with new ones
      for (auto* v : {&condition_stamp, &term_stamp, &member_stamp, &negative_stamp})
        std::fill(v->begin(), v->end(), 0);
      epoch = 1;
    }
    auto fit = [](std::vector<uint32_t>& v, size_t n) {
      if (v.size() < n) v.resize(n, 0);
    };
    fit(condition_stamp, c.condition_term.size());
    fit(term_stamp, c.terms.size());
    fit(term_count, c.terms.size());
    fit(member_stamp, c.positions.size());
    fit(negative_stamp, c.negative_count);
    fit(negative_count, c.negative_count);
    matched.clear();
    if (hs_generation != c.generation) {
      for (const Key& k : c.keys)
        if (k.db != nullptr && hs_alloc_scratch(k.db, &hs) != HS_SUCCESS)
          throw std::runtime_error("sns filter set: hs_alloc_scratch failed");
      hs_generation = c.generation;
    }
  }
};

thread_local Scratch scratch;

class Matching {
 public:
  Matching(const FilterSet::Compiled& c, Scratch& s) : c_(c), s_(s) {}

  void member(uint32_t m) {
    if (s_.member_stamp[m] == s_.epoch) return;
    s_.member_stamp[m] = s_.epoch;
    s_.matched.push_back(m);
  }

  void condition(uint32_t id) {
    if (s_.condition_stamp[id] == s_.epoch) return;
    s_.condition_stamp[id] = s_.epoch;
    const uint32_t t = c_.condition_term[id];
    if (s_.term_stamp[t] != s_.epoch) {
      s_.term_stamp[t] = s_.epoch;
      s_.term_count[t] = 0;
    }
    if (++s_.term_count[t] == c_.terms[t].needed) member(c_.terms[t].member);
  }

  void conditions(const Ids& ids) {
    for (uint32_t id : ids) condition(id);
  }

  void exclude(uint32_t negative) {
    if (s_.negative_stamp[negative] != s_.epoch) {
      s_.negative_stamp[negative] = s_.epoch;
      s_.negative_count[negative] = 0;
    }
    ++s_.negative_count[negative];
  }

  uint32_t excluded(uint32_t negative) const {
    return s_.negative_stamp[negative] == s_.epoch ? s_.negative_count[negative] : 0;
  }

  void key(const Key& k, bool present, const std::vector<Value>& values) {
    if (!present) {
      conditions(k.absent);
      return;
    }
    conditions(k.exists);
    uint32_t strings = 0;
    for (const Value& v : values) {
      switch (v.type) {
        case ValueType::kString:
          ++strings;
          string(k, v);
          break;
        case ValueType::kNumber:
          number(k, v.number);
          break;
        default:
          conditions(k.literals[static_cast<size_t>(v.type)]);
          break;
      }
    }
    for (uint32_t i = 0; i < k.negatives.size(); ++i) {
      const NegativeLeaf& n = k.negatives[i];
      const uint32_t asked = n.strings_only ? strings : static_cast<uint32_t>(values.size());
      if (excluded(k.negative_base + i) < asked) condition(n.condition);
    }
  }

 private:
  struct ScanContext {
    Matching* self;
    const Key* key;
    size_t length;
  };

  static int on_match(unsigned id, unsigned long long /*from*/, unsigned long long to,
                      unsigned /*flags*/, void* context) {
    auto* ctx = static_cast<ScanContext*>(context);
    const Pattern& p = ctx->key->patterns[id];
    // A prefix must start the value (end where its length does); suffixes end the value, and a
    // caseless value is the whole of it.
    const bool prefix = p.kind == PatternKind::kPrefix || p.kind == PatternKind::kButPrefix;
    if (prefix ? to != p.text.size() : to != ctx->length) return 0;
    if (p.kind == PatternKind::kIgnoreCase && p.text.size() != ctx->length) return 0;
    ctx->self->pattern(*ctx->key, p);
    return 0;
  }

  void pattern(const Key& k, const Pattern& p) {
    if (p.kind == PatternKind::kButPrefix || p.kind == PatternKind::kButSuffix) {
      for (uint32_t n : p.targets) exclude(k.negative_base + n);
    } else {
      conditions(p.targets);
    }
  }

  void string(const Key& k, const Value& v) {
    if (auto it = k.strings.find(v.text); it != k.strings.end()) conditions(it->second);
    if (auto it = k.but_strings.find(v.text); it != k.but_strings.end())
      for (uint32_t n : it->second) exclude(k.negative_base + n);
    if (k.db != nullptr) {
      if (v.text.empty()) return;  // no pattern is empty
      ScanContext ctx{this, &k, v.text.size()};
      if (hs_scan(k.db, v.text.data(), static_cast<unsigned>(v.text.size()), 0, s_.hs,
                  &Matching::on_match, &ctx) != HS_SUCCESS)
        throw std::runtime_error("sns filter set: hs_scan failed");
    } else {
      for (const Pattern& p : k.patterns)
        if (holds(p, v.text)) pattern(k, p);
    }
    for (const auto& [m, id] : k.cidrs)
      if (value_matches(m, v)) condition(id);
  }

  void number(const Key& k, int64_t x) {
    if (auto it = k.numbers.find(x); it != k.numbers.end()) conditions(it->second);
    if (auto it = k.but_numbers.find(x); it != k.but_numbers.end())
      for (uint32_t n : it->second) exclude(k.negative_base + n);
    const auto end = std::upper_bound(k.ranges.begin(), k.ranges.end(), x,
                                      [](int64_t v, const Range& r) { return v < r.low; });
    for (auto it = k.ranges.begin(); it != end; ++it)
      if (x <= it->high) condition(it->condition);
  }

  static bool holds(const Pattern& p, std::string_view text) {
    switch (p.kind) {
      case PatternKind::kPrefix:
      case PatternKind::kButPrefix:
        return text.starts_with(p.text);
      case PatternKind::kSuffix:
      case PatternKind::kButSuffix:
        return text.ends_with(p.text);
      case PatternKind::kIgnoreCase:
        return text.size() == p.text.size() && ascii_lower(text) == p.text;
    }
    return false;
  }

  const FilterSet::Compiled& c_;
  Scratch& s_;
};

// Builds the compiled set: conditions numbered in order, each attached to its key's leaves.
class Builder {
 public:
  explicit Builder(FilterSet::Compiled& c) : c_(c) {}

  void add(uint32_t member, const FilterPolicy& policy) {
    std::vector<std::vector<const Condition*>> terms;
    expand(policy.root(), &terms);
    for (const auto& conditions : terms) {
      const auto term = static_cast<uint32_t>(c_.terms.size());
      c_.terms.push_back({member, static_cast<uint32_t>(conditions.size())});
      if (conditions.empty()) {
        (policy.scope() == Scope::kMessageBody ? c_.always_if_body : c_.always).push_back(member);
        continue;
      }
      for (const Condition* cond : conditions) {
        const auto id = static_cast<uint32_t>(c_.condition_term.size());
        c_.condition_term.push_back(term);
        const size_t k = key(policy.scope(), cond->path);
        for (const Matcher& m : cond->matchers) leaf(k, m, id);
      }
    }
    if (policy.scope() == Scope::kMessageBody) c_.has_body = true;
  }

  void finish() {
    uint32_t base = 0;
    for (Key& k : c_.keys) {
      std::sort(k.ranges.begin(), k.ranges.end(),
                [](const Range& a, const Range& b) { return a.low < b.low; });
      k.negative_base = base;
      base += static_cast<uint32_t>(k.negatives.size());
      compile(k);
    }
    c_.negative_count = base;
  }

 private:
  // The policy as a disjunction of conjunctions: its own conditions with one alternative of each
  // $or group (the parser bounds their product).
  static void expand(const PolicyNode& node, std::vector<std::vector<const Condition*>>* out) {
    std::vector<std::vector<const Condition*>> terms(1);
    for (const Condition& c : node.conditions) terms[0].push_back(&c);
    for (const auto& group : node.any_of) {
      std::vector<std::vector<const Condition*>> alternatives;
      for (const PolicyNode& alternative : group) expand(alternative, &alternatives);
      std::vector<std::vector<const Condition*>> next;
      for (const auto& t : terms)
        for (const auto& a : alternatives) {
          auto& joined = next.emplace_back(t);
          joined.insert(joined.end(), a.begin(), a.end());
        }
      terms = std::move(next);
    }
    for (auto& t : terms) out->push_back(std::move(t));
  }

  size_t key(Scope scope, const std::vector<std::string>& path) {
    auto [it, added] = by_path_.try_emplace({scope, path}, c_.keys.size());
    if (added) {
      Key& k = c_.keys.emplace_back();
      k.scope = scope;
      k.path = path;
    }
    return it->second;
  }

  void pattern(size_t key, PatternKind kind, const std::string& text, uint32_t target) {
    Key& k = c_.keys[key];
    auto [it, added] = patterns_.try_emplace({key, kind, text}, k.patterns.size());
    if (added) k.patterns.push_back({kind, text, {}});
    k.patterns[it->second].targets.push_back(target);
  }

  static void unique_push(Ids& ids, uint32_t id) {
    if (ids.empty() || ids.back() != id) ids.push_back(id);
  }

  void leaf(size_t key, const Matcher& m, uint32_t id) {
    using K = Matcher::Kind;
    Key& k = c_.keys[key];
    switch (m.kind) {
      case K::kString:
        unique_push(k.strings[m.text], id);
        break;
      case K::kNumber:
        unique_push(k.numbers[m.number], id);
        break;
      case K::kLiteral:
        k.literals[static_cast<size_t>(m.literal)].push_back(id);
        break;
      case K::kPrefix:
        pattern(key, PatternKind::kPrefix, m.text, id);
        break;
      case K::kSuffix:
        pattern(key, PatternKind::kSuffix, m.text, id);
        break;
      case K::kEqualsIgnoreCase:
        // An empty value equals only itself; Hyperscan has no empty patterns.
        if (m.text.empty())
          unique_push(k.strings[m.text], id);
        else
          pattern(key, PatternKind::kIgnoreCase, m.text, id);
        break;
      case K::kNumeric: {
        constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
        constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
        // Bounds are scaled integers: x > a is x >= a + 1.
        const int64_t low = !m.lower ? kMin : m.lower_inclusive ? *m.lower : *m.lower + 1;
        const int64_t high = !m.upper ? kMax : m.upper_inclusive ? *m.upper : *m.upper - 1;
        if (low <= high) k.ranges.push_back({low, high, id});
        break;
      }
      case K::kExists:
        (m.exists ? k.exists : k.absent).push_back(id);
        break;
      case K::kCidr:
        k.cidrs.emplace_back(m, id);
        break;
      case K::kAnythingBut: {
        const auto n = static_cast<uint32_t>(k.negatives.size());
        k.negatives.push_back({id, false});
        for (const std::string& s : m.but_strings) unique_push(k.but_strings[s], n);
        for (int64_t x : m.but_numbers) unique_push(k.but_numbers[x], n);
        break;
      }
      case K::kAnythingButPrefix:
      case K::kAnythingButSuffix: {
        const auto n = static_cast<uint32_t>(k.negatives.size());
        k.negatives.push_back({id, true});
        pattern(key,
                m.kind == K::kAnythingButPrefix ? PatternKind::kButPrefix : PatternKind::kButSuffix,
                m.text, n);
        break;
      }
    }
  }

  // The patterns as plain literals (Hyperscan's literal API: no escaping, and an order of
  // magnitude faster to compile than the same literals anchored with \A and \z, which matters
  // because a set is rebuilt on every subscription change); where a match must start or end is
  // checked in on_match. A prefix only counts where it starts the value, which is its first,
  // earliest-ending match, so one match per prefix is enough; other patterns must end with the
  // value and are reported at every end.
  static void compile(Key& k) {
    if (k.patterns.empty()) return;
    std::vector<const char*> expressions;
    std::vector<size_t> lengths;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < k.patterns.size(); ++i) {
      const Pattern& p = k.patterns[i];
      expressions.push_back(p.text.data());
      lengths.push_back(p.text.size());
      const bool prefix = p.kind == PatternKind::kPrefix || p.kind == PatternKind::kButPrefix;
      flags.push_back((prefix ? HS_FLAG_SINGLEMATCH : 0) |
                      (p.kind == PatternKind::kIgnoreCase ? HS_FLAG_CASELESS : 0));
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* error = nullptr;
    if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                             static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                             &k.db, &error) != HS_SUCCESS) {
      hs_free_compile_error(error);
      k.db = nullptr;
    }
  }

  FilterSet::Compiled& c_;
  std::map<std::pair<Scope, std::vector<std::string>>, size_t> by_path_;
  std::map<std::tuple<size_t, PatternKind, std::string>, size_t> patterns_;
};

}  // namespace

FilterSet::FilterSet(const std::vector<Member>& members) {
  auto c = std::make_shared<Compiled>();
  std::vector<const Member*> sorted;
  for (const Member& m : members) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(),
            [](const Member* a, const Member* b) { return a->position < b->position; });
  Builder builder(*c);
  for (const Member* m : sorted) {
    const auto index = static_cast<uint32_t>(c->positions.size());
    c->positions.push_back(m->position);
    if (m->policy)
      builder.add(index, *m->policy);
    else
      c->always.push_back(index);
  }
  builder.finish();
  compiled_ = std::move(c);
}

size_t FilterSet::size() const {
  return compiled_ ? compiled_->positions.size() : 0;
}

void FilterSet::match(const MessageAttributes& attributes, std::string_view body,
                      std::vector<size_t>* out) const {
  if (!compiled_) return;
  const Compiled& c = *compiled_;
  Scratch& s = scratch;
  s.begin(c);
  Matching matching(c, s);
  for (uint32_t m : c.always) matching.member(m);

  json parsed;
  bool body_ok = false;
  if (c.has_body) {
    parsed = json::parse(body, nullptr, false);
    body_ok = !parsed.is_discarded() && parsed.is_object();
    if (body_ok)
      for (uint32_t m : c.always_if_body) matching.member(m);
  }
  std::deque<json> arrays;
  for (const Key& k : c.keys) {
    if (k.scope == Scope::kMessageBody && !body_ok) continue;
    s.values.clear();
    const bool present = k.scope == Scope::kMessageAttributes
                             ? attribute_values(attributes, k.path.front(), &s.values, &arrays)
                             : body_values(parsed, k.path, &s.values);
    matching.key(k, present, s.values);
  }
  const size_t first = out->size();
  for (uint32_t m : s.matched) out->push_back(c.positions[m]);
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
}

}  // namespace sluice::api::sns
