// The control plane's declarative configuration: one YAML document describing how to reach the
// dataplane, the API, ports, target groups, L4 services, L7 listeners, queues, topics and access
// keys. Parsing checks every value and every cross-reference; errors name the key and the line.
// docs/controlplane-config.md is the reference of every key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_error.h"
#include "config/port_config.h"
#include "ip_address.h"
#include "proxy_types.h"

namespace sluice::controlplane {

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
};

struct DataplaneLink {
  std::string control_socket = "/run/sluice/control.sock";
  // The L7 proxy's control socket (its proxy.control_socket); empty: no proxy to drive.
  std::string proxy_socket;
};

struct ApiConfig {
  Endpoint listen = {*parse_ip_address("127.0.0.1"), 8480};
  std::string bearer_token;  // required unless `listen` is a loopback address
};

enum class GroupProtocol { kTcp, kUdp, kHttp, kHttps };
enum class HealthProtocol { kTcp, kHttp, kHttps };

struct Target {
  IpAddress address;
  uint16_t port = 0;  // the group's port unless set
  uint16_t weight = 1;
};

// Inclusive ranges of HTTP status codes, all within 200-499.
using StatusMatcher = std::vector<std::pair<uint16_t, uint16_t>>;

struct HealthCheck {
  HealthProtocol protocol = HealthProtocol::kHttp;  // tcp for tcp and udp groups
  std::string path = "/";
  uint16_t port = 0;  // 0: the traffic port (each target's own)
  uint32_t interval_s = 30;
  uint32_t timeout_s = 5;
  uint32_t healthy_threshold = 5;
  uint32_t unhealthy_threshold = 2;
  StatusMatcher matcher = StatusMatcher(1, {200, 200});
};

struct TargetGroup {
  std::string name;
  GroupProtocol protocol = GroupProtocol::kTcp;
  uint16_t port = 0;
  std::vector<Target> targets;
  HealthCheck health_check;
  uint32_t deregistration_delay_s = 300;
  uint32_t slow_start_s = 0;
  // http and https groups, as the L7 proxy balances them.
  proxy::Algorithm algorithm = proxy::Algorithm::kRoundRobin;
  proxy::Stickiness stickiness;
};

enum class ServiceProtocol { kTcp, kUdp };
enum class ForwardingMode { kNat, kDsr, kTunnel };
enum class TunnelType { kIpip, kGue };

struct Service {
  std::string name;
  IpAddress vip;
  ServiceProtocol protocol = ServiceProtocol::kTcp;
  uint16_t port = 0;  // 0: every port
  ForwardingMode mode = ForwardingMode::kNat;
  TunnelType tunnel = TunnelType::kIpip;
  uint16_t gue_port = 6080;
  bool hash_source_port = true;
  bool track_udp_flows = true;
  std::string target_group;
};

// A queue the control plane declares on the dataplane's SQS API: created with these attributes
// and tags, or brought to them when it exists (controlplane/queues/queue_declarer.h).
struct DeclaredQueue {
  std::string name;
  // SQS attribute names and values as the API takes them (text), in document order.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, std::string>> tags;

  // The name of the queue its RedrivePolicy names as dead-letter queue (the last part of
  // deadLetterTargetArn); empty without one, or when the policy does not parse.
  std::string dead_letter_queue() const;

  bool operator==(const DeclaredQueue&) const = default;
};

// A command run when a queue's visible messages cross a threshold (queue_depth.h): up when they
// rise above `above`, down when they fall below `below` (below < above).
struct DepthHook {
  std::string queue;
  uint64_t above = 0;
  uint64_t below = 0;
  std::vector<std::string> command;  // an absolute program path, then its arguments

  bool operator==(const DepthHook&) const = default;
};

struct QueuesConfig {
  // The document has a queues section: the depths of the endpoint's queues are polled.
  bool configured = false;
  // The dataplane's SQS API, http://HOST:PORT.
  std::string host = "127.0.0.1";
  uint16_t port = 9324;
  // Requests are signed with SigV4 when an access key is set (both or neither).
  std::string access_key_id;
  std::string secret_access_key;
  std::string region = "us-east-1";
  std::vector<DeclaredQueue> declare;
  uint32_t depth_interval_s = 5;
  std::vector<DepthHook> depth_hooks;

  std::string endpoint() const;  // "http://127.0.0.1:9324"
};

// The order to declare queues in: indices into `queues`, each queue after the declared queue its
// RedrivePolicy names (a dead-letter queue must exist first), file order otherwise. nullopt when
// those references form a cycle.
std::optional<std::vector<size_t>> declare_order(const std::vector<DeclaredQueue>& queues);

struct Topic {
  std::string name;
  bool fifo = false;
};

struct AccessKey {
  std::string id;
  std::string secret;
};

struct ControlConfig {
  DataplaneLink dataplane;
  ApiConfig api;
  std::vector<PortConfig> ports;
  std::vector<TargetGroup> target_groups;
  std::vector<Service> services;
  // The L7 proxy's listeners in its own schema (proxy_config's parse_listeners_section); they
  // forward to http and https target groups of this configuration. Rules sorted by priority.
  std::vector<proxy::Listener> listeners;
  QueuesConfig queues;
  std::vector<Topic> topics;
  std::vector<AccessKey> access_keys;

  const TargetGroup* find_target_group(std::string_view name) const;
};

// Parses and checks a document; `source` names it in messages. Throws ConfigError.
ControlConfig parse_control_config(std::string_view yaml_text, std::string_view source);

// Either a whole, valid configuration or the first error; never a partial configuration.
struct LoadResult {
  std::optional<ControlConfig> config;
  std::string error;

  bool ok() const { return config.has_value(); }
};

LoadResult load_control_config(std::string_view yaml_text, std::string_view source);
LoadResult load_control_config_file(const std::string& path);

}  // namespace sluice::controlplane
