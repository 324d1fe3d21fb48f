// The queue service's configuration: the `api` and `queues` sections of the dataplane's document,
// parsed through the dataplane's own loader, and their errors (file, line and key).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "config.h"
#include "service_config.h"

namespace sluice::api {
namespace {

struct Parsed {
  dataplane::DataplaneConfig dataplane;
  ApiConfig api;
  QueuesConfig queues;
};

Parsed parse(const std::string& yaml) {
  Parsed p;
  const std::vector<dataplane::ConfigSection> sections = {
      {"api", [&](const YamlField& f) { parse_api_section(f, p.api); }},
      {"queues", [&](const YamlField& f) { parse_queues_section(f, p.queues); }},
  };
  p.dataplane = dataplane::parse_config(yaml, "svc.yaml", sections);
  dataplane::validate_config(p.dataplane);
  validate_api_config(p.api);
  return p;
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ServiceConfig, ParsesEveryKey) {
  const Parsed p = parse(R"(job: queues
api:
  listen: "[::1]:9500"
  cores: [2, 3]
  region: eu-west-1
  account_id: "123456789012"
  authentication: on
  access_keys:
    - {access_key_id: AKID1, secret_access_key: s1}
    - {access_key_id: AKID2, secret_access_key: s2}
  max_request_bytes: 2097152
  request_timeout_s: 10
  idle_timeout_s: 600
queues:
  shards: 2
  directory: /var/lib/sluice/queues
  memory_budget_mb: 256
  declare:
    - name: orders
      attributes: {VisibilityTimeout: 60, FifoQueue: false}
      tags: {team: shop}
    - name: plain
)");
  EXPECT_EQ(p.dataplane.job, dataplane::Job::kQueues);
  EXPECT_EQ(p.api.address, "::1");
  EXPECT_EQ(p.api.port, 9500);
  EXPECT_EQ(p.api.cores, (std::vector<unsigned>{2, 3}));
  EXPECT_EQ(p.api.region, "eu-west-1");
  EXPECT_EQ(p.api.account_id, "123456789012");
  EXPECT_TRUE(p.api.authentication);
  ASSERT_EQ(p.api.access_keys.size(), 2u);
  EXPECT_EQ(p.api.access_keys[1].id, "AKID2");
  EXPECT_EQ(p.api.access_keys[1].secret, "s2");
  EXPECT_EQ(p.api.max_request_bytes, 2097152u);
  EXPECT_EQ(p.api.request_timeout_s, 10u);
  EXPECT_EQ(p.api.idle_timeout_s, 600u);
  EXPECT_EQ(p.queues.shards, 2u);
  EXPECT_EQ(p.queues.directory, "/var/lib/sluice/queues");
  EXPECT_EQ(p.queues.memory_budget_mb, 256u);
  ASSERT_EQ(p.queues.declared.size(), 2u);
  EXPECT_EQ(p.queues.declared[0].name, "orders");
  // YAML numbers and booleans reach the engine as the text the wire would carry.
  using Values = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(p.queues.declared[0].attributes,
            (Values{{"VisibilityTimeout", "60"}, {"FifoQueue", "false"}}));
  EXPECT_EQ(p.queues.declared[0].tags, (Values{{"team", "shop"}}));
  EXPECT_TRUE(p.queues.declared[1].attributes.empty());
}

TEST(ServiceConfig, DefaultsServeLoopbackWithoutAuthentication) {
  const Parsed p = parse("job: queues\n");
  EXPECT_EQ(p.api.address, "127.0.0.1");
  EXPECT_EQ(p.api.port, 9324);
  EXPECT_FALSE(p.api.authentication);
  EXPECT_EQ(p.queues.shards, 0u);  // one per service core
  EXPECT_TRUE(p.queues.directory.empty());
}

TEST(ServiceConfig, TheExampleIsValid) {
  std::ifstream in(std::string(SLUICE_SOURCE_ROOT) + "/examples/queues.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  const Parsed p = parse(text);
  EXPECT_EQ(p.api.port, 9324);
  EXPECT_FALSE(p.api.authentication);
  EXPECT_FALSE(p.queues.declared.empty());
}

TEST(ServiceConfig, ErrorsNameTheLineAndKey) {
  EXPECT_EQ(error_of("job: queues\napi:\n  listen: localhost\n"),
            "svc.yaml:3: api.listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:9324)");
  EXPECT_EQ(error_of("job: queues\napi:\n  listen: 1.2.3.4:70000\n"),
            "svc.yaml:3: api.listen: '1.2.3.4:70000' is not HOST:PORT (e.g. 127.0.0.1:9324)");
  EXPECT_EQ(error_of("job: queues\napi:\n  authentication: maybe\n"),
            "svc.yaml:3: api.authentication: must be on or off, got 'maybe'");
  EXPECT_EQ(error_of("job: queues\napi:\n  account_id: \"12\"\n"),
            "svc.yaml:3: api.account_id: must be 12 digits");
  EXPECT_EQ(error_of("job: queues\napi:\n  colour: blue\n").rfind("svc.yaml:3: api", 0), 0u);
  EXPECT_EQ(error_of("job: queues\napi:\n  access_keys:\n    - {access_key_id: A, "
                     "secret_access_key: x}\n    - {access_key_id: A, secret_access_key: y}\n"),
            "svc.yaml:5: api.access_keys[1].access_key_id: 'A' is listed twice");
  EXPECT_EQ(error_of("job: queues\nqueues:\n  declare:\n    - name: a\n    - name: a\n"),
            "svc.yaml:5: queues.declare[1].name: queue 'a' is declared twice");
  EXPECT_EQ(error_of("job: queues\nqueues:\n  declare:\n    - attributes: {}\n"),
            "svc.yaml:4: queues.declare[0].name: is required");
  EXPECT_EQ(error_of("job: queues\nqueues:\n  shards: 0\n").rfind("svc.yaml:3: queues.shards", 0),
            0u);
}

TEST(ServiceConfig, CrossChecks) {
  EXPECT_EQ(error_of("job: queues\napi:\n  authentication: on\n"),
            "api.access_keys: authentication is on but no access key is configured");
  EXPECT_EQ(error_of("job: queues\napi:\n  cores: [1, 1]\n"), "api.cores: core 1 is listed twice");
  EXPECT_EQ(error_of("job: queues\nports:\n  - {name: a, device: net_null0}\n"),
            "ports: the queues job takes no ports");
}

TEST(ServiceConfig, ListenAddressForms) {
  ApiConfig c;
  EXPECT_TRUE(parse_listen_address("0.0.0.0:0", c));
  EXPECT_EQ(c.address, "0.0.0.0");
  EXPECT_EQ(c.port, 0);
  EXPECT_TRUE(parse_listen_address("[fd00::1]:9324", c));
  EXPECT_EQ(c.address, "fd00::1");
  EXPECT_FALSE(parse_listen_address(":9324", c));
  EXPECT_FALSE(parse_listen_address("[]:1", c));
  EXPECT_FALSE(parse_listen_address("host:", c));
  EXPECT_FALSE(parse_listen_address("host:12x", c));
}

}  // namespace
}  // namespace sluice::api
