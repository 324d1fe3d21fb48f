// The configuration of the queue service (`job: queues`): the SQS API listener and its reactor
// cores, request authentication, and the queue shards with the queues declared at start-up.
// Parsed from the `api` and `queues` sections of the dataplane's YAML document.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/yaml_field.h"

namespace sluice::api {

struct AccessKey {
  std::string id;
  std::string secret;
};

struct ApiConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 9324;
  std::vector<unsigned> cores;  // one reactor per core, pinned; empty: one reactor, not pinned
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  bool authentication = false;
  std::vector<AccessKey> access_keys;
  uint64_t max_request_bytes = 4 << 20;  // an HTTP body beyond this is refused (413)
  uint32_t request_timeout_s = 30;       // a request must arrive whole within this (408)
  uint32_t idle_timeout_s = 120;         // a connection idle between requests is closed
};

struct DeclaredQueue {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, std::string>> tags;
};

struct QueuesConfig {
  uint32_t shards = 0;    // 0: one per service core; shard s runs on service core s % cores
  std::string directory;  // durable logs under it; empty: in memory
  uint64_t memory_budget_mb = 1024;
  std::vector<DeclaredQueue> declared;
};

void parse_api_section(const YamlField& field, ApiConfig& config);
void parse_queues_section(const YamlField& field, QueuesConfig& config);
// "HOST:PORT" (an IPv6 host in brackets) into config.address and config.port; false when it is
// not of that form.
bool parse_listen_address(const std::string& text, ApiConfig& config);
// Checks the section once the command line is in too: throws ConfigError.
void validate_api_config(const ApiConfig& api);

}  // namespace sluice::api
