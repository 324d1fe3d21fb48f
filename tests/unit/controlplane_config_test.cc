#include <gtest/gtest.h>

#include "control_config.h"

namespace sluice::controlplane {
namespace {

// A valid document that the error cases below break one key at a time.
const std::string kBase = R"(target_groups:
  - name: web
    protocol: tcp
    port: 8080
    targets:
      - {address: 10.0.0.11}
services:
  - name: web
    vip: 192.0.2.10
    protocol: tcp
    port: 80
    target_group: web
)";

ControlConfig parse(const std::string& yaml) {
  LoadResult r = load_control_config(yaml, "cp.yaml");
  EXPECT_TRUE(r.ok()) << r.error;
  return r.config.value_or(ControlConfig{});
}

std::string error_of(const std::string& yaml) {
  LoadResult r = load_control_config(yaml, "cp.yaml");
  EXPECT_FALSE(r.config.has_value());
  return r.error;
}

TEST(ControlConfig, EmptyDocumentIsAllDefaults) {
  ControlConfig c = parse("");
  EXPECT_EQ(c.dataplane.control_socket, "/run/sluice/control.sock");
  EXPECT_EQ(format_ip_address(c.api.listen.address), "127.0.0.1");
  EXPECT_EQ(c.api.listen.port, 8480);
  EXPECT_TRUE(c.api.bearer_token.empty());
  EXPECT_TRUE(c.target_groups.empty());
}

TEST(ControlConfig, AlbDefaults) {
  ControlConfig c = parse(R"(target_groups:
  - {name: app, protocol: http, port: 80}
  - {name: raw, protocol: udp, port: 53}
)");
  ASSERT_EQ(c.target_groups.size(), 2u);
  const TargetGroup& g = c.target_groups[0];
  EXPECT_EQ(g.deregistration_delay_s, 300u);
  EXPECT_EQ(g.slow_start_s, 0u);
  const HealthCheck& hc = g.health_check;
  EXPECT_EQ(hc.protocol, HealthProtocol::kHttp);
  EXPECT_EQ(hc.path, "/");
  EXPECT_EQ(hc.port, 0);
  EXPECT_EQ(hc.interval_s, 30u);
  EXPECT_EQ(hc.timeout_s, 5u);
  EXPECT_EQ(hc.healthy_threshold, 5u);
  EXPECT_EQ(hc.unhealthy_threshold, 2u);
  EXPECT_EQ(hc.matcher, (StatusMatcher{{200, 200}}));
  EXPECT_EQ(c.target_groups[1].health_check.protocol, HealthProtocol::kTcp);
}

TEST(ControlConfig, ServiceAndTargetDefaults) {
  ControlConfig c = parse(kBase);
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  EXPECT_EQ(s.mode, ForwardingMode::kNat);
  EXPECT_TRUE(s.hash_source_port);
  EXPECT_TRUE(s.track_udp_flows);
  EXPECT_EQ(s.target_group, "web");
  ASSERT_NE(c.find_target_group("web"), nullptr);
  const Target& t = c.find_target_group("web")->targets.at(0);
  EXPECT_EQ(t.port, 8080);  // the group's port
  EXPECT_EQ(t.weight, 1);
}

TEST(ControlConfig, Matchers) {
  auto matcher = [](const std::string& m) {
    ControlConfig c = parse(
        "target_groups:\n  - name: a\n    protocol: http\n    port: 80\n"
        "    health_check: {matcher: \"" +
        m + "\"}\n");
    return c.target_groups.at(0).health_check.matcher;
  };
  EXPECT_EQ(matcher("200"), (StatusMatcher{{200, 200}}));
  EXPECT_EQ(matcher("200-299"), (StatusMatcher{{200, 299}}));
  EXPECT_EQ(matcher("200,202"), (StatusMatcher{{200, 200}, {202, 202}}));
  EXPECT_EQ(matcher("200,300-399,499"), (StatusMatcher{{200, 200}, {300, 399}, {499, 499}}));
}

TEST(ControlConfig, ListenerRulesSortedByPriority) {
  ControlConfig c = parse(R"(target_groups:
  - {name: app, protocol: http, port: 80}
listeners:
  - name: l
    listen: "[2001:db8::1]:80"
    rules:
      - {priority: 20, conditions: [{host_header: [a.example]}], action: {forward: app}}
      - {priority: 5, conditions: [{path_pattern: [/x]}], action: {fixed_response: {status: 503}}}
    default_action: {forward: app}
)");
  const proxy::Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.port, 80);
  EXPECT_EQ(l.address, "2001:db8::1");
  ASSERT_EQ(l.rules.size(), 2u);
  EXPECT_EQ(l.rules[0].priority, 5u);
  EXPECT_EQ(l.rules[0].action.fixed_response.status, 503);
  EXPECT_EQ(l.rules[1].action.forward.at(0).target_group, "app");
}

TEST(ControlConfig, ExampleFileLoads) {
  LoadResult r = load_control_config_file(SLUICE_SOURCE_ROOT "/examples/controlplane.yaml");
  ASSERT_TRUE(r.ok()) << r.error;
  const ControlConfig& c = *r.config;
  EXPECT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.target_groups.size(), 3u);
  EXPECT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.queues.declare.size(), 3u);
  EXPECT_EQ(c.topics.size(), 2u);
  EXPECT_EQ(c.access_keys.size(), 1u);
  EXPECT_EQ(c.queues.declare[0].dead_letter_queue(), "orders-dlq");
}

TEST(ControlConfig, QueuesSection) {
  ControlConfig c = parse(R"(queues:
  endpoint: http://sqs.internal:8080/
  access_key_id: AKIDSLUICETEST
  secret_access_key: sluice-test-secret
  region: eu-west-1
  declare:
    - name: orders
      attributes:
        VisibilityTimeout: 60
        RedrivePolicy: '{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:000000000000:dlq","maxReceiveCount":3}'
        DelaySeconds: "5"
      tags: {team: shop, cost-centre: 42}
    - name: jobs.fifo
      attributes: {FifoQueue: true}
)");
  const QueuesConfig& q = c.queues;
  EXPECT_EQ(q.host, "sqs.internal");
  EXPECT_EQ(q.port, 8080);
  EXPECT_EQ(q.endpoint(), "http://sqs.internal:8080");
  EXPECT_EQ(q.access_key_id, "AKIDSLUICETEST");
  EXPECT_EQ(q.secret_access_key, "sluice-test-secret");
  EXPECT_EQ(q.region, "eu-west-1");
  ASSERT_EQ(q.declare.size(), 2u);
  using Map = std::vector<std::pair<std::string, std::string>>;
  // Numbers are taken as written, in the file's order.
  EXPECT_EQ(
      q.declare[0].attributes,
      (Map{
          {"VisibilityTimeout", "60"},
          {"RedrivePolicy",
           R"({"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:000000000000:dlq","maxReceiveCount":3})"},
          {"DelaySeconds", "5"}}));
  EXPECT_EQ(q.declare[0].tags, (Map{{"team", "shop"}, {"cost-centre", "42"}}));
  EXPECT_EQ(q.declare[0].dead_letter_queue(), "dlq");
  EXPECT_EQ(q.declare[1].attributes, (Map{{"FifoQueue", "true"}}));
  EXPECT_EQ(q.declare[1].dead_letter_queue(), "");
}

TEST(ControlConfig, QueuesDefaults) {
  const QueuesConfig q = parse("").queues;
  EXPECT_EQ(q.endpoint(), "http://127.0.0.1:9324");
  EXPECT_EQ(q.region, "us-east-1");
  EXPECT_TRUE(q.access_key_id.empty());
  EXPECT_TRUE(q.declare.empty());
  EXPECT_EQ(parse("queues: {endpoint: \"http://[::1]\"}").queues.endpoint(), "http://[::1]:80");
}

TEST(ControlConfig, DeadLetterQueuesAreDeclaredFirst) {
  auto queue = [](std::string name, std::string dead_letter) {
    DeclaredQueue q{.name = std::move(name)};
    if (!dead_letter.empty()) {
      q.attributes.emplace_back("RedrivePolicy",
                                R"({"maxReceiveCount":2,"deadLetterTargetArn":"arn:aws:sqs:)"
                                R"(us-east-1:000000000000:)" +
                                    dead_letter + "\"}");
    }
    return q;
  };
  // a waits for b, b for c; d names a queue that is not declared; e waits for a.
  const std::vector<DeclaredQueue> queues = {queue("a", "b"), queue("d", "elsewhere"),
                                             queue("b", "c"), queue("e", "a"), queue("c", "")};
  EXPECT_EQ(declare_order(queues), (std::vector<size_t>{1, 4, 2, 0, 3}));
  EXPECT_EQ(declare_order({}), std::vector<size_t>{});
  EXPECT_EQ(declare_order({queue("a", "b"), queue("b", "a")}), std::nullopt);
  EXPECT_EQ(declare_order({queue("a", "a")}), std::nullopt);
  // A policy that does not parse names no queue (the SQS API refuses it).
  DeclaredQueue broken{.name = "x", .attributes = {{"RedrivePolicy", "{not json"}}};
  EXPECT_EQ(broken.dead_letter_queue(), "");
}

TEST(ControlConfig, MissingFile) {
  LoadResult r = load_control_config_file("/nonexistent/cp.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "/nonexistent/cp.yaml: cannot open");
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string error;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class ControlConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ControlConfigErrors, NameTheKeyAndLine) {
  EXPECT_EQ(error_of(GetParam().yaml), GetParam().error);
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// The health check block of a group named web, inserted into kBase.
std::string with_health_check(const std::string& block) {
  return replace(kBase, "    targets:\n", "    health_check: " + block + "\n    targets:\n");
}

INSTANTIATE_TEST_SUITE_P(
    All, ControlConfigErrors,
    ::testing::Values(
        ErrorCase{"NotYaml", "a: [1", "cp.yaml:1: not valid YAML: end of sequence flow not found"},
        ErrorCase{"UnknownTopLevelKey", "dataplane: {}\nvips: []\n",
                  "cp.yaml:2: vips: unknown key"},
        ErrorCase{"UnknownNestedKey",
                  replace(kBase, "    port: 80\n", "    port: 80\n    colour: red\n"),
                  "cp.yaml:12: services[0].colour: unknown key"},
        ErrorCase{"UnknownQueuesKey", "queues:\n  endpoint: http://127.0.0.1:9324\n  retries: 5\n",
                  "cp.yaml:3: queues.retries: unknown key"},
        ErrorCase{"UnknownDeclaredQueueKey",
                  "queues:\n  declare:\n    - name: q\n      retention: 5\n",
                  "cp.yaml:4: queues.declare[0].retention: unknown key"},
        ErrorCase{"QueuesAsAList", "queues:\n  - name: q\n", "cp.yaml:2: queues: expected a map"},
        ErrorCase{"UnknownAccessKeyKey", "access_keys:\n  - {id: ABCDEFGHIJKLMNOP, user: x}\n",
                  "cp.yaml:2: access_keys[0].user: unknown key"},
        ErrorCase{"WrongTypeSection", "target_groups: {name: web}\n",
                  "cp.yaml:1: target_groups: expected a list"},
        ErrorCase{"WrongTypeBool", "topics:\n  - {name: t, fifo: yes}\n",
                  "cp.yaml:2: topics[0].fifo: 'yes' is not one of false, true"},
        ErrorCase{"WrongTypeNumber", replace(kBase, "port: 8080", "port: eighty"),
                  "cp.yaml:4: target_groups[0].port: 'eighty' is not a whole number"},
        ErrorCase{"WrongTypeString", replace(kBase, "vip: 192.0.2.10", "vip: [192.0.2.10]"),
                  "cp.yaml:9: services[0].vip: expected a string"},
        ErrorCase{
            "OutOfRangeWeight",
            replace(kBase, "{address: 10.0.0.11}", "{address: 10.0.0.11, weight: 1000}"),
            "cp.yaml:6: target_groups[0].targets[0].weight: must be between 0 and 999, got 1000"},
        ErrorCase{"OutOfRangeInterval", with_health_check("{interval_s: 301}"),
                  "cp.yaml:5: target_groups[0].health_check.interval_s: must be between 5 and 300, "
                  "got 301"},
        ErrorCase{"OutOfRangeThreshold", with_health_check("{healthy_threshold: 1}"),
                  "cp.yaml:5: target_groups[0].health_check.healthy_threshold: must be between 2 "
                  "and 10, got 1"},
        ErrorCase{
            "OutOfRangeDelay",
            replace(kBase, "    targets:\n", "    deregistration_delay_s: 3601\n    targets:\n"),
            "cp.yaml:5: target_groups[0].deregistration_delay_s: must be between 0 and 3600, got "
            "3601"},
        ErrorCase{
            "SlowStartGap",
            replace(kBase, "    targets:\n", "    slow_start_s: 10\n    targets:\n"),
            "cp.yaml:5: target_groups[0].slow_start_s: must be 0 (off) or between 30 and 900"},
        ErrorCase{
            "BadChoice",
            replace(kBase, "protocol: tcp\n    port: 8080", "protocol: sctp\n    port: 8080"),
            "cp.yaml:3: target_groups[0].protocol: 'sctp' is not one of tcp, udp, http, https"},
        ErrorCase{"MissingRequired", replace(kBase, "    target_group: web\n", ""),
                  "cp.yaml:8: services[0].target_group: is required"},
        ErrorCase{"MissingTargetAddress", replace(kBase, "{address: 10.0.0.11}", "{port: 80}"),
                  "cp.yaml:6: target_groups[0].targets[0].address: is required"},
        ErrorCase{
            "DuplicateTargetGroup",
            replace(kBase, "services:", "  - {name: web, protocol: udp, port: 53}\nservices:"),
            "cp.yaml:7: target_groups[1].name: 'web' is used by another target group"},
        ErrorCase{
            "DuplicateService",
            kBase +
                "  - {name: web, vip: 192.0.2.11, protocol: tcp, port: 80, target_group: web}\n",
            "cp.yaml:13: services[1].name: 'web' is used by another service"},
        ErrorCase{
            "DuplicateVip",
            kBase +
                "  - {name: web2, vip: 192.0.2.10, protocol: tcp, port: 80, target_group: web}\n",
            "cp.yaml:13: services[1]: 192.0.2.10 tcp port 80 is already a service"},
        ErrorCase{"DuplicatePortDevice",
                  "ports:\n  - {name: a, device: net_ring0}\n  - {name: b, device: net_ring0}\n",
                  "cp.yaml:3: ports[1].device: 'net_ring0' is used by another port"},
        ErrorCase{"DuplicateQueue", "queues:\n  declare:\n    - name: q\n    - name: q\n",
                  "cp.yaml:4: queues.declare[1].name: 'q' is used by another queue"},
        ErrorCase{"DuplicateAccessKey",
                  "access_keys:\n  - {id: ABCDEFGHIJKLMNOP, secret: 0123456789abcdef}\n  - {id: "
                  "ABCDEFGHIJKLMNOP, secret: 0123456789abcdeg}\n",
                  "cp.yaml:3: access_keys[1].id: 'ABCDEFGHIJKLMNOP' is used by another access key"},
        ErrorCase{
            "DuplicateRulePriority",
            "listeners:\n  - name: l\n    listen: 10.0.0.1:80\n    rules:\n      - {priority: 1, "
            "conditions: [{path_pattern: [/a]}], action: {fixed_response: {status: 200}}}\n      - "
            "{name: b, priority: 1, conditions: [{path_pattern: [/b]}], action: {fixed_response: "
            "{status: 200}}}\n    default_action: {fixed_response: {status: 404}}\n",
            "cp.yaml: listeners[0].rules[1].priority: 1 is also the priority of "
            "listeners[0].rules[0]"},
        ErrorCase{"DanglingTargetGroup", replace(kBase, "target_group: web", "target_group: www"),
                  "cp.yaml:12: services[0].target_group: 'www' is not a target group"},
        ErrorCase{"DanglingForward",
                  "listeners:\n  - name: l\n    listen: 10.0.0.1:80\n    default_action: "
                  "{forward: app}\n",
                  "cp.yaml:4: listeners[0].default_action.forward: 'app' is not a target group"},
        ErrorCase{
            "ForwardToTcpGroup",
            kBase +
                "listeners:\n  - {name: l, listen: 10.0.0.1:80, default_action: {forward: web}}\n",
            "cp.yaml:14: listeners[0].default_action.forward: listeners forward only to http and "
            "https target groups"},
        ErrorCase{"ProtocolMismatch",
                  replace(kBase, "protocol: tcp\n    port: 80\n", "protocol: udp\n    port: 80\n"),
                  "cp.yaml:12: services[0].target_group: target group 'web' is not of the "
                  "service's protocol (udp)"},
        ErrorCase{"BadMatcherText", with_health_check("{protocol: http, matcher: ok}"),
                  "cp.yaml:5: target_groups[0].health_check.matcher: 'ok' is not a list of HTTP "
                  "codes and ranges within 200-499, like 200, 200-299 or 200,202"},
        ErrorCase{"MatcherOutOfRange", with_health_check("{protocol: http, matcher: \"200-500\"}"),
                  "cp.yaml:5: target_groups[0].health_check.matcher: '200-500' is not a list of "
                  "HTTP codes and ranges within 200-499, like 200, 200-299 or 200,202"},
        ErrorCase{"MatcherBackwards", with_health_check("{protocol: http, matcher: \"299-200\"}"),
                  "cp.yaml:5: target_groups[0].health_check.matcher: '299-200' is not a list of "
                  "HTTP codes and ranges within 200-499, like 200, 200-299 or 200,202"},
        ErrorCase{"MatcherEmptyItem", with_health_check("{protocol: http, matcher: \"200,\"}"),
                  "cp.yaml:5: target_groups[0].health_check.matcher: '200,' is not a list of HTTP "
                  "codes and ranges within 200-499, like 200, 200-299 or 200,202"},
        ErrorCase{"MatcherOnTcpCheck", with_health_check("{matcher: \"200\"}"),
                  "cp.yaml:5: target_groups[0].health_check.matcher: only http and https health "
                  "checks have a matcher"},
        ErrorCase{"TimeoutEqualsInterval", with_health_check("{interval_s: 10, timeout_s: 10}"),
                  "cp.yaml:5: target_groups[0].health_check.timeout_s: timeout_s (10) must be less "
                  "than interval_s (10)"},
        ErrorCase{"DefaultTimeoutAboveInterval", with_health_check("{interval_s: 5}"),
                  "cp.yaml:5: target_groups[0].health_check: timeout_s (5) must be less than "
                  "interval_s (5)"},
        ErrorCase{"FamilyMismatch", replace(kBase, "vip: 192.0.2.10", "vip: \"2001:db8::10\""),
                  "cp.yaml:12: services[0].target_group: target 10.0.0.11 of 'web' is not of the "
                  "VIP's address family"},
        ErrorCase{"BadAddress", replace(kBase, "vip: 192.0.2.10", "vip: 192.0.2.300"),
                  "cp.yaml:9: services[0].vip: '192.0.2.300' is not an IPv4 or IPv6 address"},
        ErrorCase{"BadName",
                  replace(kBase, "  - name: web\n    protocol: tcp\n    port: 8080",
                          "  - name: -web\n    protocol: tcp\n    port: 8080"),
                  "cp.yaml:2: target_groups[0].name: '-web' is not a name of 1 to 32 letters, "
                  "digits and hyphens, without a hyphen at either end"},
        ErrorCase{
            "TokenRequiredOffLoopback", "api:\n  listen: 0.0.0.0:8480\n",
            "cp.yaml:2: api.listen: is not a loopback address, so api.bearer_token is required"},
        ErrorCase{
            "ShortToken", "api: {bearer_token: short}\n",
            "cp.yaml:1: api.bearer_token: must be 16 to 256 printable characters without spaces"},
        ErrorCase{"BadListen", "api: {listen: \"::1:80\"}\n",
                  "cp.yaml:1: api.listen: '::1:80' is not an address and port like 10.0.0.1:80 or "
                  "[fd00::1]:80"},
        ErrorCase{"RelativeSocket", "dataplane: {control_socket: control.sock}\n",
                  "cp.yaml:1: dataplane.control_socket: must be an absolute path"},
        ErrorCase{"QueueNameCharacters", "queues:\n  declare:\n    - name: orders!\n",
                  "cp.yaml:3: queues.declare[0].name: 'orders!' is not a queue name of 1 to 80 "
                  "letters, digits, hyphens and underscores"},
        ErrorCase{"QueueNameTooLong",
                  "queues:\n  declare:\n    - name: " + std::string(76, 'q') + ".fifo\n",
                  "cp.yaml:3: queues.declare[0].name: '" + std::string(76, 'q') +
                      ".fifo' is not a queue name of 1 to 80 letters, digits, hyphens and "
                      "underscores"},
        ErrorCase{"QueueNameOnlySuffix", "queues:\n  declare:\n    - name: .fifo\n",
                  "cp.yaml:3: queues.declare[0].name: '.fifo' is not a queue name of 1 to 80 "
                  "letters, digits, hyphens and underscores"},
        ErrorCase{"FifoNameWithoutFifoQueue", "queues:\n  declare:\n    - name: jobs.fifo\n",
                  "cp.yaml:3: queues.declare[0].name: 'jobs.fifo' is a FIFO queue name, so "
                  "attributes.FifoQueue must be \"true\""},
        ErrorCase{"FifoQueueWithoutSuffix",
                  "queues:\n  declare:\n    - {name: jobs, attributes: {FifoQueue: \"true\"}}\n",
                  "cp.yaml:3: queues.declare[0].attributes.FifoQueue: FIFO queues have names "
                  "ending in .fifo"},
        ErrorCase{"AttributeNotText",
                  "queues:\n  declare:\n    - {name: q, attributes: {VisibilityTimeout: [60]}}\n",
                  "cp.yaml:3: queues.declare[0].attributes.VisibilityTimeout: expected a string"},
        ErrorCase{"AttributeTwice",
                  "queues:\n  declare:\n    - name: q\n      attributes:\n        DelaySeconds: "
                  "1\n        DelaySeconds: 2\n",
                  "cp.yaml:6: queues.declare[0].attributes.DelaySeconds: is given twice"},
        ErrorCase{
            "TagValueTooLong",
            "queues:\n  declare:\n    - {name: q, tags: {team: " + std::string(257, 'x') + "}}\n",
            "cp.yaml:3: queues.declare[0].tags.team: tag values are at most 256 "
            "characters"},
        ErrorCase{"RedriveCycle",
                  "queues:\n  declare:\n    - name: a\n      attributes: {RedrivePolicy: "
                  "'{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:b\"}'}\n"
                  "    - name: b\n      attributes: {RedrivePolicy: "
                  "'{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:a\"}'}\n",
                  "cp.yaml:4: queues.declare[0].attributes.RedrivePolicy: 'a' is its own "
                  "dead-letter queue, directly or through others"},
        ErrorCase{"HttpsEndpoint", "queues: {endpoint: \"https://127.0.0.1:9324\"}\n",
                  "cp.yaml:1: queues.endpoint: 'https://127.0.0.1:9324' is not a URL like "
                  "http://127.0.0.1:9324 (http, a host, an optional port, no path)"},
        ErrorCase{"EndpointWithPath", "queues: {endpoint: \"http://127.0.0.1:9324/q\"}\n",
                  "cp.yaml:1: queues.endpoint: 'http://127.0.0.1:9324/q' is not a URL like "
                  "http://127.0.0.1:9324 (http, a host, an optional port, no path)"},
        ErrorCase{"EndpointPortZero", "queues: {endpoint: \"http://127.0.0.1:0\"}\n",
                  "cp.yaml:1: queues.endpoint: 'http://127.0.0.1:0' is not a URL like "
                  "http://127.0.0.1:9324 (http, a host, an optional port, no path)"},
        ErrorCase{"KeyWithoutSecret", "queues:\n  access_key_id: AKIDSLUICETEST\n",
                  "cp.yaml:2: queues.access_key_id: access_key_id and secret_access_key are "
                  "given together"},
        ErrorCase{"SecretWithSpace",
                  "queues: {access_key_id: AKID, secret_access_key: \"a secret\"}\n",
                  "cp.yaml:1: queues.secret_access_key: must be 1 to 128 printable characters "
                  "without spaces"},
        ErrorCase{"BadRegion", "queues: {region: US East}\n",
                  "cp.yaml:1: queues.region: 'US East' is not a region like us-east-1"},
        ErrorCase{"TopicSuffixWithoutFifo", "topics:\n  - {name: news.fifo}\n",
                  "cp.yaml:2: topics[0].name: only fifo topics have names ending in .fifo"},
        ErrorCase{"ActionNeedsOne",
                  "listeners:\n  - {name: l, listen: 10.0.0.1:80, default_action: {}}\n",
                  "cp.yaml:2: listeners[0].default_action: needs exactly one of forward, redirect, "
                  "fixed_response"},
        ErrorCase{
            "GuePortWithoutGue",
            replace(kBase, "    port: 80\n", "    port: 80\n    gue_port: 7000\n"),
            "cp.yaml:12: services[0].gue_port: only services with tunnel: gue have a gue_port"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice::controlplane

namespace sluice::controlplane {
namespace {

TEST(ControlConfig, StringsMustBeUtf8) {
  EXPECT_EQ(error_of("ports:\n  - {name: lan, device: \"net_ring0\xff\"}\n"),
            "cp.yaml:2: ports[0].device: is not valid UTF-8");
  for (const char* bad :
       {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_NE(error_of(std::string("topics:\n  - name: \"a") + bad + "\"\n").find("UTF-8"),
              std::string::npos)
        << bad;
  }
  const ControlConfig c = parse(
      "listeners:\n  - {name: l, listen: 127.0.0.1:80, default_action: {fixed_response: "
      "{status: 200, body: \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}}\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].default_action.fixed_response.body,
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace sluice::controlplane
