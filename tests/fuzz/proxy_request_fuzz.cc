// libFuzzer target: the proxy's request path. Bytes from a client go through the strict parser
// (pipelined requests one after another), each whole request is matched against a listener whose
// rules use every condition kind, and is rewritten for the target. The rewritten request must
// parse back, with the same strict parser, into exactly one request with the same method, target
// and body, consuming every byte: nothing a client sends can make the target see a request the
// proxy did not route (request smuggling), and no hop-by-hop or framing field slips through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "forwarding.h"
#include "request_parser.h"
#include "rule_matcher.h"

using namespace sluice;
using namespace sluice::proxy;

namespace {

Rule rule(std::string name, uint32_t priority, std::vector<Condition> conditions) {
  Rule r;
  r.name = std::move(name);
  r.priority = priority;
  r.conditions = std::move(conditions);
  r.action.kind = Action::Kind::kFixedResponse;
  return r;
}

Condition strings(ConditionField field, std::vector<StringPattern> values,
                  std::string header = "") {
  Condition c;
  c.field = field;
  c.values = std::move(values);
  c.header_name = std::move(header);
  return c;
}

const Listener& listener() {
  static const Listener l = [] {
    Listener l;
    l.name = "fuzz";
    l.port = 8080;
    l.rules.push_back(rule("api", 10,
                           {strings(ConditionField::kHostHeader, {{"*.example.com", false}}),
                            strings(ConditionField::kPathPattern, {{"/api/*", false}})}));
    l.rules.push_back(
        rule("regex", 20, {strings(ConditionField::kPathPattern, {{"/v[0-9]+/items", true}})}));
    l.rules.push_back(
        rule("canary", 30, {strings(ConditionField::kHttpHeader, {{"canary*", false}}, "X-Env")}));
    l.rules.push_back(
        rule("post", 40, {strings(ConditionField::kMethod, {{"POST", false}, {"PUT", false}})}));
    Condition query;
    query.field = ConditionField::kQueryString;
    query.query = {{"version", "v2*"}, {"", "debug"}};
    l.rules.push_back(rule("query", 50, {query}));
    Condition source;
    source.field = ConditionField::kSourceIp;
    source.source_ips = {*parse_ip_prefix("192.0.2.0/24")};
    l.rules.push_back(rule("source", 60, {source}));
    return l;
  }();
  return l;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const RuleMatcher matcher(listener());
  static MatchScratch scratch;
  static const IpAddress client = *parse_ip_address("192.0.2.7");
  http::Limits limits;
  limits.max_head_bytes = 4096;
  limits.max_body_bytes = 4096;
  // The rewritten head may grow by the X-Forwarded-* fields the proxy adds.
  http::Limits target_limits = limits;
  target_limits.max_head_bytes = 2 * limits.max_head_bytes;
  target_limits.max_headers = limits.max_headers + 4;

  std::string input(reinterpret_cast<const char*>(data), size);
  http::RequestParser parser(limits);
  for (int requests = 0; requests < 16 && !input.empty(); ++requests) {
    const auto status = parser.parse(input);
    if (status != http::RequestParser::Status::kComplete) break;
    const http::Request& req = parser.request();
    MatchInput in{req.method,
                  req.host,
                  req.path,
                  req.query,
                  std::span<const http::Header>(req.headers.data(), req.header_count),
                  client};
    const int winner = matcher.match(in, scratch);
    check(winner >= -1 && winner < static_cast<int>(listener().rules.size()));

    const std::string forwarded = upstream_request(req, format_ip_address(client), listener());
    http::RequestParser target(target_limits);
    check(target.parse(forwarded) == http::RequestParser::Status::kComplete);
    check(target.consumed() == forwarded.size());
    const http::Request& seen = target.request();
    check(seen.method == req.method && seen.target == req.target && seen.body == req.body);
    check((req.find("host") == nullptr || seen.host == req.host) && !seen.chunked &&
          !seen.expect_continue);
    check(seen.upgrade == req.upgrade);
    for (size_t i = 0; i < seen.header_count; ++i) {
      const std::string_view name = seen.headers[i].name;
      check(!http::iequals(name, "transfer-encoding") && !http::iequals(name, "te") &&
            !http::iequals(name, "keep-alive") && !http::iequals(name, "proxy-connection"));
    }
    const http::Header* xff = seen.find("x-forwarded-for");
    check(xff != nullptr && xff->value.ends_with("192.0.2.7"));

    input.erase(0, parser.consumed());
    parser.reset();
  }
  return 0;
}
