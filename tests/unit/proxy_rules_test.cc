// The L7 proxy's rule matcher against real Hyperscan databases, and redirect Location URLs.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "redirect.h"
#include "rule_matcher.h"

namespace sluice::proxy {
namespace {

StringPattern wild(std::string text) {
  return StringPattern{std::move(text), false};
}
StringPattern regex(std::string text) {
  return StringPattern{std::move(text), true};
}

Condition strings(ConditionField field, std::vector<StringPattern> values) {
  Condition c;
  c.field = field;
  c.values = std::move(values);
  return c;
}
Condition host(std::vector<StringPattern> v) {
  return strings(ConditionField::kHostHeader, std::move(v));
}
Condition path(std::vector<StringPattern> v) {
  return strings(ConditionField::kPathPattern, std::move(v));
}
Condition method(std::vector<StringPattern> v) {
  return strings(ConditionField::kMethod, std::move(v));
}
Condition header(std::string name, std::vector<StringPattern> v) {
  Condition c = strings(ConditionField::kHttpHeader, std::move(v));
  c.header_name = std::move(name);
  return c;
}
Condition query(std::vector<QueryPattern> q) {
  Condition c;
  c.field = ConditionField::kQueryString;
  c.query = std::move(q);
  return c;
}
Condition source(std::vector<std::string> prefixes) {
  Condition c;
  c.field = ConditionField::kSourceIp;
  for (const std::string& p : prefixes) c.source_ips.push_back(parse_ip_prefix(p).value());
  return c;
}

Rule rule(std::string name, uint32_t priority, std::vector<Condition> conditions) {
  Rule r;
  r.name = std::move(name);
  r.priority = priority;
  r.conditions = std::move(conditions);
  return r;
}

Listener listener(std::vector<Rule> rules) {
  Listener l;
  l.name = "web";
  l.rules = std::move(rules);
  return l;
}

struct Request {
  std::string method = "GET";
  std::string host = "example.com";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string source = "192.0.2.1";
};

int run(const RuleMatcher& m, MatchScratch& s, const Request& r) {
  std::vector<http::Header> headers;
  for (const auto& [name, value] : r.headers) headers.push_back({name, value});
  MatchInput in{r.method, r.host, r.path, r.query, headers, parse_ip_address(r.source).value()};
  return m.match(in, s);
}

struct Case {
  const char* what;
  Request request;
  int expected;
};

void expect_cases(const Listener& l, const std::vector<Case>& cases) {
  const RuleMatcher m(l);
  MatchScratch s;
  for (const Case& c : cases) EXPECT_EQ(run(m, s, c.request), c.expected) << c.what;
}

TEST(ProxyRules, LowestPriorityNumberWins) {
  // Out of priority order on purpose: the matcher orders them itself.
  expect_cases(listener({
                   rule("catch-all", 50, {path({wild("/*")})}),
                   rule("api", 10, {path({wild("/api/*")})}),
                   rule("api-v1", 20, {path({wild("/api/v1/*")})}),
               }),
               {
                   {"both api rules match, 10 beats 20", {.path = "/api/v1/users"}, 1},
                   {"only the catch-all", {.path = "/static/a.css"}, 0},
                   {"api", {.path = "/api/x"}, 1},
               });
}

TEST(ProxyRules, Wildcards) {
  expect_cases(listener({
                   rule("star-host", 1, {host({wild("*.Example.com")})}),
                   rule("one-char-host", 2, {host({wild("a?.test")})}),
                   rule("png", 3, {path({wild("/img/*.PNG")})}),
                   rule("version", 4, {path({wild("/v?/status")})}),
               }),
               {
                   {"host is case-insensitive", {.host = "API.example.COM"}, 0},
                   {"* also matches dots", {.host = "a.b.example.com"}, 0},
                   {"*. needs a label before the dot", {.host = "example.com"}, -1},
                   {"? is exactly one character", {.host = "ab.test"}, 1},
                   {"? is not two", {.host = "abc.test"}, -1},
                   {"? is not none", {.host = "a.test"}, -1},
                   {"path * within a segment", {.host = "x", .path = "/img/logo.PNG"}, 2},
                   {"path * across segments", {.host = "x", .path = "/img/a/b.PNG"}, 2},
                   {"path is case-sensitive", {.host = "x", .path = "/img/logo.png"}, -1},
                   {"path ?", {.host = "x", .path = "/v2/status"}, 3},
                   {"path ? is one character", {.host = "x", .path = "/v10/status"}, -1},
                   {"the whole path must match", {.host = "x", .path = "/v2/status/x"}, -1},
                   {"dot is literal", {.host = "abXtest"}, -1},
               });
}

TEST(ProxyRules, PathRegex) {
  expect_cases(listener({
                   rule("users", 1, {path({regex("^/users/[0-9]+$")})}),
                   rule("items", 2, {path({regex("/items/\\d+")})}),
                   rule("not-z", 3, {path({regex("/a[^z]+")})}),
               }),
               {
                   {"anchored regex", {.path = "/users/42"}, 0},
                   {"not digits", {.path = "/users/abc"}, -1},
                   {"a regex matches the whole path", {.path = "/users/42/x"}, -1},
                   {"unanchored regex still whole path", {.path = "/items/7"}, 1},
                   {"unanchored regex, longer path", {.path = "/x/items/7"}, -1},
                   {"negated class within the path", {.path = "/abc"}, 2},
                   // [^z]+ would reach into the next line if the scan let it.
                   {"negated class cannot cross into another field", {.path = "/a"}, -1},
               });
}

TEST(ProxyRules, HeaderCondition) {
  expect_cases(
      listener({
          rule("env", 1, {header("X-Env", {wild("prod*"), wild("stage")})}),
          rule("agent", 2, {header("user-agent", {regex("curl/[0-9.]+")})}),
      }),
      {
          {"value case-insensitive", {.headers = {{"x-env", "PRODUCTION"}}}, 0},
          {"second value", {.headers = {{"X-ENV", "Stage"}}}, 0},
          {"other value", {.headers = {{"X-Env", "dev"}}}, -1},
          {"header missing", {.headers = {{"X-Other", "prod"}}}, -1},
          {"no headers", {}, -1},
          {"any of repeated headers", {.headers = {{"X-Env", "dev"}, {"X-Env", "prod-eu"}}}, 0},
          {"regex value, case-insensitive", {.headers = {{"User-Agent", "CURL/8.1.2"}}}, 1},
          {"regex value must match whole", {.headers = {{"User-Agent", "curl/8.1 (x)"}}}, -1},
      });
}

TEST(ProxyRules, MethodIsExactAndCaseSensitive) {
  expect_cases(listener({rule("writes", 1, {method({wild("POST"), wild("PUT")})}),
                         rule("star", 2, {method({wild("G*")})})}),
               {
                   {"POST", {.method = "POST"}, 0},
                   {"PUT", {.method = "PUT"}, 0},
                   {"lower case", {.method = "post"}, -1},
                   {"prefix", {.method = "POS"}, -1},
                   {"no wildcards in methods", {.method = "GET"}, -1},
                   {"a literal star", {.method = "G*"}, 1},
               });
}

TEST(ProxyRules, QueryString) {
  expect_cases(listener({
                   rule("version", 1, {query({{"version", "v2"}})}),
                   rule("debug-any-key", 2, {query({{"", "debug"}})}),
                   rule("either", 3, {query({{"a", "1"}, {"b", "2*"}})}),
                   rule("key-wildcard", 4, {query({{"ke?", "x"}})}),
               }),
               {
                   {"key=value among pairs", {.query = "a=0&version=V2&z=1"}, 0},
                   {"case-insensitive key", {.query = "VERSION=v2"}, 0},
                   {"value differs", {.query = "version=v3"}, -1},
                   {"value only", {.query = "mode=debug"}, 1},
                   {"first of several pairs", {.query = "a=1"}, 2},
                   {"second of several pairs", {.query = "q=x&b=20"}, 2},
                   {"no query", {}, -1},
                   {"key wildcard", {.query = "kex=x"}, 3},
                   {"a key wildcard stays in the key", {.query = "ke=a=x"}, -1},
                   {"a key without value", {.query = "version"}, -1},
               });
}

TEST(ProxyRules, SourceIp) {
  expect_cases(listener({
                   rule("v4", 1, {source({"10.0.0.0/8", "192.168.1.0/24"})}),
                   rule("v6", 2, {source({"2001:db8::/32"})}),
               }),
               {
                   {"in 10/8", {.source = "10.2.3.4"}, 0},
                   {"in the second prefix", {.source = "192.168.1.77"}, 0},
                   {"outside v4", {.source = "192.168.2.1"}, -1},
                   {"in v6", {.source = "2001:db8:1::5"}, 1},
                   {"outside v6", {.source = "2001:db9::1"}, -1},
               });
}

TEST(ProxyRules, AndAcrossConditionsOrWithinValues) {
  expect_cases(
      listener({
          rule("combined", 1,
               {host({wild("a.com"), wild("b.com")}), path({wild("/x/*")}), method({wild("GET")}),
                source({"10.0.0.0/8"})}),
      }),
      {
          {"all hold, first host", {.host = "a.com", .path = "/x/1", .source = "10.0.0.1"}, 0},
          {"all hold, second host", {.host = "b.com", .path = "/x/1", .source = "10.0.0.1"}, 0},
          {"path fails", {.host = "a.com", .path = "/y/1", .source = "10.0.0.1"}, -1},
          {"host fails", {.host = "c.com", .path = "/x/1", .source = "10.0.0.1"}, -1},
          {"method fails",
           {.method = "PUT", .host = "a.com", .path = "/x/1", .source = "10.0.0.1"},
           -1},
          {"source fails", {.host = "a.com", .path = "/x/1", .source = "11.0.0.1"}, -1},
      });
}

TEST(ProxyRules, SourceOnlyRuleAndDefault) {
  expect_cases(
      listener({
          rule("internal", 5, {source({"10.0.0.0/8"})}),
          rule("api", 10, {path({wild("/api/*")})}),
      }),
      {
          {"source-only rule wins by priority", {.path = "/api/a", .source = "10.1.1.1"}, 0},
          {"string rule", {.path = "/api/a"}, 1},
          {"default action", {.path = "/other"}, -1},
      });
  // Without any string condition there is no database at all.
  expect_cases(listener({rule("internal", 5, {source({"10.0.0.0/8"})})}),
               {{"source only", {.source = "10.0.0.9"}, 0}, {"default", {}, -1}});
  expect_cases(listener({}), {{"no rules", {}, -1}});
}

TEST(ProxyRules, HostWithPort) {
  expect_cases(listener({rule("name", 1, {host({wild("example.com")})}),
                         rule("v6", 2, {host({wild("[::1]")})})}),
               {
                   {"port stripped", {.host = "example.com:8080"}, 0},
                   {"no port", {.host = "example.com"}, 0},
                   {"v6 literal with port", {.host = "[::1]:80"}, 1},
                   {"v6 literal", {.host = "[::1]"}, 1},
               });
}

TEST(ProxyRules, ValuesCannotForgeAnotherFieldsLine) {
  expect_cases(
      listener({
          rule("evil-host", 1, {host({wild("evil.com")})}),
          rule("admin", 2, {path({wild("/admin")})}),
          rule("flag", 3, {header("X-Flag", {wild("on")})}),
      }),
      {
          {"header value with a host line",
           {.host = "good.com", .headers = {{"X-Flag", "off\n\x01Hevil.com"}}},
           -1},
          {"query with a path line", {.host = "good.com", .query = "a=1\n\x01P/admin"}, -1},
          {"host with a header line", {.host = "good.com\n\x01Xx-flag:on"}, -1},
          {"separator byte alone",
           {.host = "good.com", .headers = {{"X-Flag", "\x01Hevil.com"}}},
           -1},
      });
}

TEST(ProxyRules, UncompilableRegexNamesTheRule) {
  const Listener l = listener({
      rule("fine", 3, {path({wild("/ok")})}),
      rule("broken", 7, {host({wild("a.com")}), path({wild("/x"), regex("/users/(")})}),
  });
  try {
    const RuleMatcher m(l);
    FAIL() << "an unbalanced regex compiled";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("listener \"web\""), std::string::npos) << message;
    EXPECT_NE(message.find("rule \"broken\" (priority 7)"), std::string::npos) << message;
    EXPECT_NE(message.find("condition 2 (path-pattern)"), std::string::npos) << message;
    EXPECT_NE(message.find("\"/users/(\""), std::string::npos) << message;
  }
}

TEST(ProxyRules, InvalidHeaderNameRefused) {
  EXPECT_THROW(RuleMatcher(listener({rule("bad", 1, {header("X:Y", {wild("a")})})})),
               std::invalid_argument);
  EXPECT_THROW(RuleMatcher(listener({rule("empty", 1, {header("", {wild("a")})})})),
               std::invalid_argument);
}

Listener generated(int n) {
  std::vector<Rule> rules;
  for (int i = 0; i < n; ++i) {
    rules.push_back(rule("svc" + std::to_string(i), static_cast<uint32_t>(i + 1),
                         {host({wild("api.example.com")}),
                          path({wild("/svc" + std::to_string(i) + "/*")}), method({wild("GET")})}));
  }
  return listener(std::move(rules));
}

TEST(ProxyRules, TenThousandRules) {
  const Listener l = generated(10000);
  const RuleMatcher m(l);
  MatchScratch s;
  for (int i : {0, 1, 9, 10, 123, 4999, 9998, 9999}) {
    Request r{.host = "api.example.com", .path = "/svc" + std::to_string(i) + "/items"};
    EXPECT_EQ(run(m, s, r), i) << r.path;
  }
  EXPECT_EQ(run(m, s, {.host = "api.example.com", .path = "/svc10000/x"}), -1);
  EXPECT_EQ(run(m, s, {.host = "other.com", .path = "/svc5/x"}), -1);
  EXPECT_EQ(run(m, s, {.method = "POST", .host = "api.example.com", .path = "/svc5/x"}), -1);
}

TEST(ProxyRules, OneScratchAlternatingMatchers) {
  const RuleMatcher small(listener(
      {rule("a", 1, {path({wild("/a/*")})}), rule("b", 2, {header("X-B", {regex("b+")})})}));
  const RuleMatcher large(generated(2000));
  MatchScratch s;
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(run(small, s, {.path = "/a/1"}), 0);
    EXPECT_EQ(run(large, s, {.host = "api.example.com", .path = "/svc1500/x"}), 1500);
    EXPECT_EQ(run(small, s, {.headers = {{"x-b", "bbb"}}}), 1);
    EXPECT_EQ(run(large, s, {.host = "api.example.com", .path = "/a/1"}), -1);
    EXPECT_EQ(run(small, s, {.path = "/svc1/x"}), -1);
  }
}

TEST(ProxyRules, PatternsAreShared) {
  const RuleMatcher m(generated(100));
  // One host, one method and a path per rule.
  EXPECT_EQ(m.pattern_count(), 102u);
}

struct RedirectCase {
  const char* what;
  RedirectAction action;
  RedirectContext ctx;
  std::string expected;
};

TEST(Redirect, Location) {
  const RedirectContext plain{"http", "example.com", "80", "/a/b", "x=1"};
  const RedirectContext tls{"https", "example.com", "443", "/a/b", ""};
  const std::vector<RedirectCase> cases = {
      {"defaults keep everything", {}, plain, "http://example.com/a/b?x=1"},
      {"default port of https", {}, tls, "https://example.com/a/b"},
      {"non-default port",
       {},
       {"http", "example.com", "8080", "/", ""},
       "http://example.com:8080/"},
      {"to https", {.protocol = "HTTPS", .port = "443"}, plain, "https://example.com/a/b?x=1"},
      {"https on port 80 keeps it", {.protocol = "https"}, plain, "https://example.com:80/a/b?x=1"},
      {"host placeholder", {.host = "www.#{host}"}, plain, "http://www.example.com/a/b?x=1"},
      {"path placeholder has no leading slash",
       {.path = "/new/#{path}"},
       plain,
       "http://example.com/new/a/b?x=1"},
      {"query placeholder",
       {.query = "#{query}&from=#{protocol}-#{port}"},
       plain,
       "http://example.com/a/b?x=1&from=http-80"},
      {"port placeholder in the host",
       {.host = "#{host}-#{port}"},
       plain,
       "http://example.com-80/a/b?x=1"},
      {"empty query left out", {}, {"http", "h", "80", "/p", ""}, "http://h/p"},
      {"fixed query", {.query = "a=b"}, {"http", "h", "80", "/p", ""}, "http://h/p?a=b"},
      {"unknown placeholder stays", {.path = "/#{nope}"}, plain, "http://example.com/#{nope}?x=1"},
      {"expanded text is not expanded again",
       {},
       {"http", "h", "80", "/#{host}", ""},
       "http://h/#{host}"},
      {"302 with every component",
       {.status = 302,
        .protocol = "https",
        .host = "login.#{host}",
        .port = "8443",
        .path = "/auth",
        .query = "next=#{path}"},
       plain,
       "https://login.example.com:8443/auth?next=a/b"},
  };
  for (const RedirectCase& c : cases)
    EXPECT_EQ(redirect_location(c.action, c.ctx), c.expected) << c.what;
}

}  // namespace
}  // namespace sluice::proxy
