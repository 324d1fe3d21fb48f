#include "rule_matcher.h"

#include <fmt/format.h>
#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

namespace sluice::proxy {

namespace {

constexpr char kLineStart = '\x01';
constexpr char kTagHost = 'H';
constexpr char kTagPath = 'P';
constexpr char kTagMethod = 'M';
constexpr char kTagHeader = 'X';
constexpr char kTagQuery = 'Q';

std::atomic<uint64_t> next_matcher_id{1};

// Hosts, header values and query strings compare without regard to case.
bool caseless(char tag) {
  return tag == kTagHost || tag == kTagHeader || tag == kTagQuery;
}

bool has_wildcard(std::string_view text) {
  return text.find_first_of("*?") != std::string_view::npos;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_alnum(c) && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

// Every character but letters and digits as \xHH, so nothing in a value acts as regex syntax.
void append_literal(std::string& out, std::string_view text) {
  for (char c : text) {
    if (is_alnum(c)) {
      out += c;
    } else {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
}

void append_wildcard(std::string& out, std::string_view text, std::string_view any_run,
                     std::string_view any_one) {
  for (char c : text) {
    if (c == '*') {
      out += any_run;
    } else if (c == '?') {
      out += any_one;
    } else {
      append_literal(out, std::string_view(&c, 1));
    }
  }
}

// The pattern spans its whole field already: a leading '^' or trailing '$' the author wrote for
// the same purpose would otherwise never match after the line's tag.
std::string_view without_anchors(std::string_view re) {
  if (re.starts_with('^')) re.remove_prefix(1);
  if (re.ends_with('$')) {
    size_t backslashes = 0;
    while (backslashes + 1 < re.size() && re[re.size() - 2 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) re.remove_suffix(1);
  }
  return re;
}

// Patterns carry the scan buffer's line delimiters instead of anchors: "\x01" occurs only where a
// line begins and "\n" only where one ends, so "\x01H*.example.com\n" matches a host line and
// nothing more. A prefix ("/svc/*") thus stays a pure literal, which Hyperscan compiles far faster
// than an anchored multiline expression.
std::string line_start(char tag) {
  std::string out = "\\x01";
  out += tag;
  return out;
}

// A wildcard value up to the end of its line. One ending in '*' matches wherever its prefix
// does, so it leaves out that run and the line's end: "/svc/*" is the literal "\x01P/svc/".
void append_wildcard_to_end(std::string& out, std::string_view text) {
  const bool open_end = text.ends_with('*');
  while (text.ends_with('*')) text.remove_suffix(1);
  // Without HS_FLAG_DOTALL '.' stops at the line's end.
  append_wildcard(out, text, ".*", ".");
  if (!open_end) out += "\\n";
}

// A regex could still match across lines ([^x], \s), so with any regex in the database each line
// is scanned on its own, its '\n' included, and that '\n' can only be the pattern's last byte.
void append_value_to_end(std::string& out, const StringPattern& p) {
  if (p.regex) {
    out += "(?:";
    out += without_anchors(p.text);
    out += ")\\n";
  } else {
    append_wildcard_to_end(out, p.text);
  }
}

std::string_view field_name(ConditionField f) {
  switch (f) {
    case ConditionField::kHostHeader:
      return "host-header";
    case ConditionField::kPathPattern:
      return "path-pattern";
    case ConditionField::kHttpHeader:
      return "http-header";
    case ConditionField::kMethod:
      return "http-request-method";
    case ConditionField::kQueryString:
      return "query-string";
    case ConditionField::kSourceIp:
      return "source-ip";
  }
  return "unknown";
}

struct Origin {
  size_t rule;       // into listener.rules
  size_t condition;  // into the rule's conditions
  std::string value;
};

std::string describe(const Listener& listener, const Origin& o) {
  const Rule& rule = listener.rules[o.rule];
  return fmt::format("listener \"{}\": rule \"{}\" (priority {}), condition {} ({}), value \"{}\"",
                     listener.name, rule.name, rule.priority, o.condition + 1,
                     field_name(rule.conditions[o.condition].field), o.value);
}

// Identical expressions (a shared host, the same method) compile once. A value without
// wildcards is not compiled at all but looked up by its whole line ("H<host>", lowercased where
// the field is caseless): tens of thousands of literals would make the compile slow, and, sharing
// their last bytes (".example.com"), the literal matcher's confirm step slow too.
struct PatternSet {
  std::vector<std::string> expressions;  // empty for a looked-up line
  std::vector<unsigned> flags;
  std::vector<Origin> origins;
  std::vector<bool> regex;
  std::vector<std::string> lines;  // the looked-up line, or empty for an expression
  std::unordered_map<std::string, uint32_t> index;

  uint32_t add(std::string expression, unsigned f, bool is_regex, Origin origin) {
    std::string key = expression;
    key += '\0';
    key += std::to_string(f);
    return insert(std::move(key), std::move(expression), f, is_regex, {}, std::move(origin));
  }

  uint32_t add_line(std::string line, Origin origin) {
    // Expressions begin with "\x01", so the keys cannot collide.
    std::string key = "=" + line;
    return insert(std::move(key), {}, 0, false, std::move(line), std::move(origin));
  }

 private:
  uint32_t insert(std::string key, std::string expression, unsigned f, bool is_regex,
                  std::string line, Origin origin) {
    auto [it, inserted] = index.try_emplace(std::move(key), static_cast<uint32_t>(flags.size()));
    if (inserted) {
      expressions.push_back(std::move(expression));
      flags.push_back(f);
      regex.push_back(is_regex);
      lines.push_back(std::move(line));
      origins.push_back(std::move(origin));
    }
    return it->second;
  }
};

// The tag stays as it is; the value is lowercased where the field is caseless.
std::string exact_line(char tag, std::string_view text) {
  std::string line(1, tag);
  for (char c : text) line += caseless(tag) ? lower(c) : c;
  return line;
}

}  // namespace

std::string_view host_without_port(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

RuleMatcher::RuleMatcher(const Listener& listener) : id_(next_matcher_id.fetch_add(1)) {
  std::vector<size_t> order(listener.rules.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return listener.rules[a].priority < listener.rules[b].priority;
  });

  PatternSet set;
  constexpr unsigned kBase = HS_FLAG_SINGLEMATCH;
  for (size_t li : order) {
    const Rule& rule = listener.rules[li];
    RuleInfo info;
    info.index = static_cast<int>(li);
    info.string_conditions.begin = static_cast<uint32_t>(string_conditions_.size());
    info.ip_conditions.begin = static_cast<uint32_t>(ip_conditions_.size());
    for (size_t ci = 0; ci < rule.conditions.size(); ++ci) {
      const Condition& c = rule.conditions[ci];
      if (c.field == ConditionField::kSourceIp) {
        ip_conditions_.push_back(c.source_ips);
        continue;
      }
      Range range;
      range.begin = static_cast<uint32_t>(condition_patterns_.size());
      auto add = [&](std::string expression, unsigned f, bool is_regex, std::string value) {
        condition_patterns_.push_back(
            set.add(std::move(expression), f, is_regex, Origin{li, ci, std::move(value)}));
      };
      auto add_line = [&](std::string line, std::string value) {
        condition_patterns_.push_back(
            set.add_line(std::move(line), Origin{li, ci, std::move(value)}));
      };
      switch (c.field) {
        case ConditionField::kHostHeader:
        case ConditionField::kPathPattern: {
          const bool host = c.field == ConditionField::kHostHeader;
          (host ? uses_host_ : uses_path_) = true;
          const char tag = host ? kTagHost : kTagPath;
          for (const StringPattern& v : c.values) {
            if (!v.regex && !has_wildcard(v.text)) {
              add_line(exact_line(tag, v.text), v.text);
              continue;
            }
            std::string e = line_start(tag);
            append_value_to_end(e, v);
            add(std::move(e), kBase | (host ? HS_FLAG_CASELESS : 0u), v.regex, v.text);
          }
          break;
        }
        case ConditionField::kHttpHeader: {
          if (!is_token(c.header_name)) {
            throw std::invalid_argument(fmt::format(
                "listener \"{}\": rule \"{}\" (priority {}), condition {} (http-header): header "
                "name \"{}\" is not a valid HTTP header name",
                listener.name, rule.name, rule.priority, ci + 1, c.header_name));
          }
          std::string name;
          for (char ch : c.header_name) name += lower(ch);
          header_names_.insert(name);
          if (header_name_lengths_.size() <= name.size())
            header_name_lengths_.resize(name.size() + 1);
          header_name_lengths_[name.size()] = true;
          for (const StringPattern& v : c.values) {
            if (!v.regex && !has_wildcard(v.text)) {
              add_line(exact_line(kTagHeader, name + ":" + v.text), v.text);
              continue;
            }
            std::string e = line_start(kTagHeader);
            append_literal(e, name);
            append_literal(e, ":");
            append_value_to_end(e, v);
            add(std::move(e), kBase | HS_FLAG_CASELESS, v.regex, v.text);
          }
          break;
        }
        case ConditionField::kMethod:
          uses_method_ = true;
          // A method is matched exactly, wildcard characters included.
          for (const StringPattern& v : c.values) add_line(exact_line(kTagMethod, v.text), v.text);
          break;
        case ConditionField::kQueryString:
          uses_query_ = true;
          for (const QueryPattern& q : c.query) {
            if (!q.key.empty() && !has_wildcard(q.key) && !has_wildcard(q.value)) {
              add_line(exact_line(kTagQuery, q.key + "=" + q.value), q.key + "=" + q.value);
              continue;
            }
            std::string e = line_start(kTagQuery);
            // A key's wildcards stay within the key; an empty key is any key.
            if (q.key.empty()) {
              e += "[^\\x3d\\n]*";
            } else {
              append_wildcard(e, q.key, "[^\\x3d\\n]*", "[^\\x3d\\n]");
            }
            append_literal(e, "=");
            append_wildcard_to_end(e, q.value);
            add(std::move(e), kBase | HS_FLAG_CASELESS, false, q.key + "=" + q.value);
          }
          break;
        case ConditionField::kSourceIp:
          break;
      }
      range.end = static_cast<uint32_t>(condition_patterns_.size());
      string_conditions_.push_back(range);
    }
    info.string_conditions.end = static_cast<uint32_t>(string_conditions_.size());
    info.ip_conditions.end = static_cast<uint32_t>(ip_conditions_.size());
    rules_.push_back(info);
  }

  // Each rule is keyed on the condition whose patterns the fewest conditions share, so a pattern
  // every rule uses (a common host or method) wakes none of them.
  std::vector<uint32_t> shared(set.flags.size(), 0);
  for (uint32_t p : condition_patterns_) ++shared[p];
  pattern_keyed_.resize(set.flags.size());
  for (uint32_t k = 0; k < rules_.size(); ++k) {
    const Range conds = rules_[k].string_conditions;
    if (conds.begin == conds.end) {
      unscanned_rules_.push_back(k);
      continue;
    }
    uint32_t key = conds.begin;
    uint64_t key_cost = UINT64_MAX;
    for (uint32_t c = conds.begin; c < conds.end; ++c) {
      uint64_t cost = 0;
      for (uint32_t i = string_conditions_[c].begin; i < string_conditions_[c].end; ++i)
        cost += shared[condition_patterns_[i]];
      if (cost < key_cost) key = c, key_cost = cost;
    }
    for (uint32_t i = string_conditions_[key].begin; i < string_conditions_[key].end; ++i) {
      std::vector<uint32_t>& keyed = pattern_keyed_[condition_patterns_[i]];
      if (keyed.empty() || keyed.back() != k) keyed.push_back(k);
    }
  }

  per_line_ = std::find(set.regex.begin(), set.regex.end(), true) != set.regex.end();
  std::vector<const char*> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (uint32_t p = 0; p < set.flags.size(); ++p) {
    if (set.lines[p].empty()) {
      expressions.push_back(set.expressions[p].c_str());
      flags.push_back(set.flags[p]);
      ids.push_back(p);
      continue;
    }
    std::vector<uint32_t>& same = exact_lines_[set.lines[p]];
    same.push_back(p);
    if (exact_tags_.find(set.lines[p][0]) == std::string::npos) exact_tags_ += set.lines[p][0];
  }
  if (expressions.empty()) return;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr, &db_,
                       &error) != HS_SUCCESS) {
    std::string message =
        error->expression >= 0 && static_cast<size_t>(error->expression) < ids.size()
            ? fmt::format("{}: {}", describe(listener, set.origins[ids[error->expression]]),
                          error->message)
            : fmt::format("listener \"{}\": its rules do not compile: {}", listener.name,
                          error->message);
    hs_free_compile_error(error);
    throw std::invalid_argument(message);
  }
}

RuleMatcher::~RuleMatcher() {
  hs_free_database(db_);
}

int RuleMatcher::on_match(unsigned id, unsigned long long, unsigned long long, unsigned,
                          void* context) {
  MatchScratch& s = *static_cast<MatchScratch*>(context);
  if (s.pattern_epoch_[id] != s.epoch_) {
    s.pattern_epoch_[id] = s.epoch_;
    s.matched_[s.matched_count_++] = id;
  }
  return 0;
}

bool RuleMatcher::evaluate(const RuleInfo& rule, const MatchInput& in,
                           const MatchScratch& s) const {
  for (uint32_t c = rule.string_conditions.begin; c < rule.string_conditions.end; ++c) {
    const Range r = string_conditions_[c];
    bool any = false;
    for (uint32_t i = r.begin; i < r.end && !any; ++i)
      any = s.pattern_epoch_[condition_patterns_[i]] == s.epoch_;
    if (!any) return false;
  }
  for (uint32_t c = rule.ip_conditions.begin; c < rule.ip_conditions.end; ++c) {
    const std::vector<IpPrefix>& prefixes = ip_conditions_[c];
    if (std::none_of(prefixes.begin(), prefixes.end(),
                     [&](const IpPrefix& p) { return p.contains(in.source); }))
      return false;
  }
  return true;
}

void RuleMatcher::build_buffer(const MatchInput& in, MatchScratch& s) const {
  std::string& b = s.buffer_;
  b.clear();
  // A value's own newline or line-start byte would begin a forged line of another field.
  auto content = [&b](std::string_view v) {
    const size_t at = b.size();
    b.append(v);
    for (char special : {'\n', kLineStart}) {
      for (char* p = b.data() + at;
           (p = static_cast<char*>(std::memchr(p, special, b.size() - (p - b.data())))) != nullptr;)
        *p++ = '\0';
    }
  };
  auto line = [&](char tag, std::string_view v) {
    b += kLineStart;
    b += tag;
    content(v);
    b += '\n';
  };
  if (uses_host_) line(kTagHost, host_without_port(in.host));
  if (uses_path_) line(kTagPath, in.path);
  if (uses_method_) line(kTagMethod, in.method);
  if (!header_names_.empty()) {
    for (const http::Header& h : in.headers) {
      if (h.name.size() >= header_name_lengths_.size() || !header_name_lengths_[h.name.size()])
        continue;
      s.name_.resize(h.name.size());
      for (size_t i = 0; i < h.name.size(); ++i) s.name_[i] = lower(h.name[i]);
      if (header_names_.find(std::string_view(s.name_)) == header_names_.end()) continue;
      b += kLineStart;
      b += kTagHeader;
      b += s.name_;
      b += ':';
      content(h.value);
      b += '\n';
    }
  }
  if (uses_query_) {
    std::string_view q = in.query;
    while (!q.empty()) {
      const size_t amp = q.find('&');
      const std::string_view pair = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      if (pair.empty()) continue;
      b += kLineStart;
      b += kTagQuery;
      content(pair);
      if (pair.find('=') == std::string_view::npos) b += '=';
      b += '\n';
    }
  }
}

int RuleMatcher::match(const MatchInput& in, MatchScratch& s) const {
  s.prepare(*this);
  if (++s.epoch_ == 0) {
    std::fill(s.pattern_epoch_.begin(), s.pattern_epoch_.end(), 0);
    std::fill(s.rule_epoch_.begin(), s.rule_epoch_.end(), 0);
    s.epoch_ = 1;
  }
  s.matched_count_ = 0;
  uint32_t best = static_cast<uint32_t>(rules_.size());
  if (!pattern_keyed_.empty()) {
    build_buffer(in, s);
    const std::string& b = s.buffer_;
    auto scan = [&](const char* data, size_t size) {
      const hs_error_t rc =
          hs_scan(db_, data, static_cast<unsigned>(size), 0, s.hs_, &RuleMatcher::on_match, &s);
      if (rc != HS_SUCCESS) throw std::runtime_error(fmt::format("hs_scan failed: {}", rc));
    };
    if (db_ != nullptr && per_line_) {
      // A regex may match across a newline ([^x], \s); alone on its line it cannot.
      for (size_t at = 0; at < b.size();) {
        const size_t end = b.find('\n', at) + 1;
        scan(b.data() + at, end - at);
        at = end;
      }
    } else if (db_ != nullptr) {
      scan(b.data(), b.size());
    }
    if (!exact_tags_.empty()) {
      for (size_t at = 0; at < b.size();) {
        const size_t end = b.find('\n', at);
        const char tag = b[at + 1];
        if (exact_tags_.find(tag) != std::string::npos) {
          s.line_.assign(b, at + 1, end - at - 1);
          if (caseless(tag))
            std::transform(s.line_.begin() + 1, s.line_.end(), s.line_.begin() + 1, lower);
          const auto it = exact_lines_.find(std::string_view(s.line_));
          if (it != exact_lines_.end()) {
            for (uint32_t p : it->second) on_match(p, 0, 0, 0, &s);
          }
        }
        at = end + 1;
      }
    }
    for (size_t m = 0; m < s.matched_count_; ++m) {
      for (uint32_t k : pattern_keyed_[s.matched_[m]]) {
        if (k >= best) break;
        if (s.rule_epoch_[k] == s.epoch_) continue;
        s.rule_epoch_[k] = s.epoch_;
        if (evaluate(rules_[k], in, s)) {
          best = k;
          break;
        }
      }
    }
  }
  for (uint32_t k : unscanned_rules_) {
    if (k >= best) break;
    if (evaluate(rules_[k], in, s)) {
      best = k;
      break;
    }
  }
  return best == rules_.size() ? -1 : rules_[best].index;
}

MatchScratch::MatchScratch() = default;

MatchScratch::~MatchScratch() {
  hs_free_scratch(hs_);
}

void MatchScratch::prepare(const RuleMatcher& m) {
  if (prepared_for_ == m.id_) return;
  if (m.db_ != nullptr && hs_alloc_scratch(m.db_, &hs_) != HS_SUCCESS)
    throw std::runtime_error("hs_alloc_scratch failed");
  const size_t patterns = m.pattern_keyed_.size();
  if (pattern_epoch_.size() < patterns) {
    pattern_epoch_.resize(patterns, 0);
    matched_.resize(patterns);
  }
  if (rule_epoch_.size() < m.rules_.size()) rule_epoch_.resize(m.rules_.size(), 0);
  prepared_for_ = m.id_;
}

}  // namespace sluice::proxy
