// A listener's rules compiled into one Hyperscan database (block mode). Each request becomes one
// scan buffer with a line per field ("\x01H<host>", "\x01P<path>", "\x01M<method>",
// "\x01X<header-name>:<value>", "\x01Q<key>=<value>", each ended by '\n'), and every condition
// value is an expression bounded by its field's line delimiters, except values without wildcards,
// which are looked up by their whole line instead. A scan only records which patterns matched; the
// winning rule is then found from the rules keyed on those patterns (each rule is
// keyed on its most selective condition), so the work after the scan follows what matched, not how
// many rules there are.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http_types.h"
#include "ip_address.h"
#include "proxy_types.h"

struct hs_database;
struct hs_scratch;

namespace sluice::proxy {

struct MatchInput {
  std::string_view method;
  std::string_view host;   // the Host value, possibly with ":port"
  std::string_view path;   // without the query
  std::string_view query;  // raw, after '?'
  std::span<const http::Header> headers;
  IpAddress source;
};

// "example.com:8080" -> "example.com", "[::1]:80" -> "[::1]".
std::string_view host_without_port(std::string_view host);

class RuleMatcher;

// Per-thread state for RuleMatcher::match: the Hyperscan scratch, the scan buffer and the
// epoch-stamped per-pattern and per-rule marks. One scratch may serve several matchers.
class MatchScratch {
 public:
  MatchScratch();
  ~MatchScratch();
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  // (Re)sizes for `m` if m is not the matcher it was last prepared for (hs_alloc_scratch grows an
  // existing scratch); cheap when it is.
  void prepare(const RuleMatcher& m);

 private:
  friend class RuleMatcher;

  hs_scratch* hs_ = nullptr;
  uint64_t prepared_for_ = 0;  // RuleMatcher's id; ids are never reused, unlike addresses
  uint32_t epoch_ = 0;
  std::vector<uint32_t> pattern_epoch_;
  std::vector<uint32_t> rule_epoch_;  // rules already evaluated for this request
  std::vector<uint32_t> matched_;     // pattern ids matched by this request, each once
  size_t matched_count_ = 0;
  std::string buffer_;
  std::string name_;  // a request header's name, lowercased
  std::string line_;  // a buffer line without its delimiters, lowercased where caseless
};

// Immutable after construction; one matcher is shared by all threads, each with its own scratch.
class RuleMatcher {
 public:
  // Throws std::invalid_argument naming the listener, rule, condition and value of a pattern
  // Hyperscan cannot compile, or of an invalid header name.
  explicit RuleMatcher(const Listener& listener);
  ~RuleMatcher();
  RuleMatcher(const RuleMatcher&) = delete;
  RuleMatcher& operator=(const RuleMatcher&) = delete;

  // The index into listener.rules of the winning rule, or -1 for the default action.
  int match(const MatchInput& in, MatchScratch& scratch) const;
  size_t pattern_count() const { return pattern_keyed_.size(); }

 private:
  friend class MatchScratch;

  struct Range {
    uint32_t begin = 0, end = 0;
  };
  struct RuleInfo {
    int index = 0;            // into listener.rules
    Range string_conditions;  // into string_conditions_
    Range ip_conditions;      // into ip_conditions_
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                      void* context);
  bool evaluate(const RuleInfo& rule, const MatchInput& in, const MatchScratch& s) const;
  void build_buffer(const MatchInput& in, MatchScratch& s) const;

  uint64_t id_;
  hs_database* db_ = nullptr;
  std::vector<RuleInfo> rules_;               // by ascending priority
  std::vector<Range> string_conditions_;      // into condition_patterns_
  std::vector<uint32_t> condition_patterns_;  // pattern ids
  std::vector<std::vector<IpPrefix>> ip_conditions_;
  std::vector<std::vector<uint32_t>> pattern_keyed_;  // per pattern: rules keyed on it, ascending
  std::vector<uint32_t> unscanned_rules_;             // rules without string conditions, ascending
  // Values without wildcards, by their whole line ("H<host>"): pattern ids not in the database.
  std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>> exact_lines_;
  std::string exact_tags_;  // the tags of exact_lines_' lines
  std::unordered_set<std::string, StringHash, std::equal_to<>> header_names_;  // lowercased
  std::vector<bool> header_name_lengths_;  // skips most request headers before hashing
  bool uses_host_ = false, uses_path_ = false, uses_method_ = false, uses_query_ = false;
  bool per_line_ = false;  // a regex could match across lines: scan each line on its own
};

}  // namespace sluice::proxy
