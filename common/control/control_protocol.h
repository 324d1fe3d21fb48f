// The control socket between sluice-controlplane and sluice-dataplane: a unix stream socket that
// carries length-prefixed, versioned binary messages. The control plane connects, both sides send
// Hello, and then the control plane pushes snapshots (ApplySnapshot, answered by SnapshotResult)
// and asks for counters (StatsRequest, answered by StatsReply). The L7 proxy's control socket
// speaks the same framing: the control plane pushes its configuration (ApplyProxyConfig, answered
// by SnapshotResult) and fetches its counters (ProxyMetricsRequest, answered by ProxyMetricsReply).
// Every decoder checks every length against the bytes it has, so a corrupt or hostile message is an
// error, never a crash.
//
// Frame: magic "SLCP" (4 bytes), protocol version (u16), message type (u16), payload length (u32),
// payload. Integers little-endian. A reader that sees another major version answers nothing and
// closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "ip_address.h"
#include "lb_config_types.h"

namespace sluice::control {

inline constexpr uint32_t kMagic = 0x50434c53;  // "SLCP" read as little-endian u32
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kHeaderSize = 12;
inline constexpr uint32_t kMaxPayload = 256u << 20;  // far above 1,000 services x 100 targets

enum class MessageType : uint16_t {
  kHello = 1,
  kApplySnapshot = 2,
  kSnapshotResult = 3,
  kStatsRequest = 4,
  kStatsReply = 5,
  kApplyProxyConfig = 6,
  kProxyMetricsRequest = 7,
  kProxyMetricsReply = 8,
};

// Sent by both sides first. `generation` from the dataplane is the snapshot it runs (0: none
// pushed since it started, i.e. it runs its start-up file), so a control plane that reconnects
// knows whether the dataplane restarted and needs the current configuration again.
struct Hello {
  std::string role;  // "controlplane" or "dataplane"
  std::string instance;
  uint32_t pid = 0;
  uint64_t generation = 0;
  uint32_t workers = 0;
};

// The services and backends to run; balancer-wide settings (table sizes, timeouts, exception path)
// stay as the dataplane started. NAT and tunnel source addresses travel too since the control plane
// derives them from its ports.
struct ApplySnapshot {
  uint64_t generation = 0;
  std::vector<IpAddress> nat_addresses;
  std::vector<IpAddress> tunnel_sources;
  std::vector<lb::ServiceConfig> services;
};

struct SnapshotResult {
  uint64_t generation = 0;
  bool ok = false;
  std::string error;        // why it was rejected; the dataplane keeps what it had
  uint64_t build_ns = 0;    // compiling the runtime (Maglev tables, neighbours)
  uint64_t publish_ns = 0;  // swap plus RCU grace period
};

struct StatsRequest {};

struct TrafficStats {
  uint64_t packets = 0, bytes = 0, new_flows = 0, active_flows = 0;
};

// One worker core's counters.
struct CoreStats {
  uint32_t lcore = 0;
  uint64_t loops = 0, busy_loops = 0, busy_cycles = 0, packets = 0;
  uint64_t rx_packets = 0, tx_packets = 0, drops = 0;  // over every port
  uint64_t active_flows = 0, stateless_flows = 0, nat_replies = 0;
  uint64_t max_loop_cycles = 0;  // longest polling pass since the worker started
  // Polling passes by duration: element b counts passes of 2^b to 2^(b+1) - 1 TSC cycles (the
  // last element also longer ones). At most kMaxLoopBuckets elements.
  std::vector<uint64_t> loop_cycles_log2;
};
inline constexpr size_t kMaxLoopBuckets = 64;

struct BackendStats {
  IpAddress address;
  uint16_t port = 0;
  uint32_t weight = 0;
  std::vector<TrafficStats> per_core;  // one per worker, in CoreStats order
};

struct ServiceStats {
  std::string name;
  std::vector<TrafficStats> per_core;
  std::vector<BackendStats> backends;
};

struct StatsReply {
  uint64_t generation = 0;
  uint64_t tsc_hz = 0;
  std::vector<CoreStats> cores;
  std::vector<ServiceStats> services;
};

// The L7 proxy's whole configuration (listeners, target groups with each target's state) as the
// document proxy_config's parse_proxy_document reads; its proxy settings stay as the proxy started.
struct ApplyProxyConfig {
  uint64_t generation = 0;
  std::string document;
};

struct ProxyMetricsRequest {};

// The proxy's counters in the Prometheus text exposition format.
struct ProxyMetricsReply {
  std::string text;
};

// The alternatives are in MessageType order (a message's type is its index + 1).
using Message = std::variant<Hello, ApplySnapshot, SnapshotResult, StatsRequest, StatsReply,
                             ApplyProxyConfig, ProxyMetricsRequest, ProxyMetricsReply>;

// A whole frame (header and payload) for the message.
std::vector<uint8_t> encode(const Message& message);

struct Header {
  uint16_t version = 0;
  MessageType type{};
  uint32_t payload_size = 0;
};

// Reads a header from at least kHeaderSize bytes. nullopt and `error` set on a bad magic, another
// protocol version, an unknown type or a payload over kMaxPayload.
std::optional<Header> decode_header(std::span<const uint8_t> bytes, std::string* error);

// Decodes a payload of the given type. nullopt and `error` set when it is malformed.
std::optional<Message> decode_payload(MessageType type, std::span<const uint8_t> payload,
                                      std::string* error);

// Accumulates bytes from a stream and yields whole messages.
class FrameReader {
 public:
  void append(std::span<const uint8_t> bytes);
  enum class Status { kMessage, kNeedMore, kError };
  // kMessage: `out` holds the next message. kError: `error` says why; the stream is unusable.
  Status next(Message& out, std::string* error);

 private:
  std::vector<uint8_t> buffer_;
  size_t consumed_ = 0;
};

}  // namespace sluice::control
