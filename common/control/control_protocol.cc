#include "control_protocol.h"

#include <cstring>
#include <type_traits>
#include <utility>

namespace sluice::control {
namespace {

// Smallest encoding of each repeated item, so that a count can be checked against the bytes left
// before anything is reserved.
constexpr size_t kAddressSize = 16;
constexpr size_t kMinString = 4;
constexpr size_t kMinVector = 4;
constexpr size_t kMinBackendConfig = kAddressSize + 2 + 4;
constexpr size_t kMinServiceConfig =
    kMinString + kAddressSize + 1 + 1 + 2 + 1 + 1 + 2 + 1 + 1 + kMinVector;
constexpr size_t kTrafficStatsSize = 4 * 8;
constexpr size_t kMinCoreStats = 4 + 11 * 8 + kMinVector;
constexpr size_t kMinBackendStats = kAddressSize + 2 + 4 + kMinVector;
constexpr size_t kMinServiceStats = kMinString + kMinVector + kMinVector;

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

  template <class T>
  requires std::is_unsigned_v<T>
  void put(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void put(bool v) { put(static_cast<uint8_t>(v ? 1 : 0)); }
  void put(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void put(const IpAddress& a) { out_.insert(out_.end(), a.bytes.begin(), a.bytes.end()); }
  void put(lb::ForwardingMode m) { put(static_cast<uint8_t>(m)); }
  void put(lb::TunnelType t) { put(static_cast<uint8_t>(t)); }
  void put(const lb::BackendConfig& b) {
    put(b.address);
    put(b.port);
    put(b.weight);
  }
  void put(const lb::ServiceConfig& s) {
    put(s.name);
    put(s.vip);
    put(s.family);
    put(s.protocol);
    put(s.port);
    put(s.mode);
    put(s.tunnel);
    put(s.gue_port);
    put(s.hash_source_port);
    put(s.track_udp_flows);
    put(s.backends);
  }
  void put(const TrafficStats& t) {
    put(t.packets);
    put(t.bytes);
    put(t.new_flows);
    put(t.active_flows);
  }
  void put(const CoreStats& c) {
    put(c.lcore);
    for (uint64_t v :
         {c.loops, c.busy_loops, c.busy_cycles, c.packets, c.rx_packets, c.tx_packets, c.drops,
          c.active_flows, c.stateless_flows, c.nat_replies, c.max_loop_cycles}) {
      put(v);
    }
    put(c.loop_cycles_log2);
  }
  void put(const BackendStats& b) {
    put(b.address);
    put(b.port);
    put(b.weight);
    put(b.per_core);
  }
  void put(const ServiceStats& s) {
    put(s.name);
    put(s.per_core);
    put(s.backends);
  }
  template <class T>
  void put(const std::vector<T>& items) {
    put(static_cast<uint32_t>(items.size()));
    for (const T& item : items) put(item);
  }

  void put(const Hello& m) {
    put(m.role);
    put(m.instance);
    put(m.pid);
    put(m.generation);
    put(m.workers);
  }
  void put(const ApplySnapshot& m) {
    put(m.generation);
    put(m.nat_addresses);
    put(m.tunnel_sources);
    put(m.services);
  }
  void put(const SnapshotResult& m) {
    put(m.generation);
    put(m.ok);
    put(m.error);
    put(m.build_ns);
    put(m.publish_ns);
  }
  void put(const StatsRequest&) {}
  void put(const StatsReply& m) {
    put(m.generation);
    put(m.tsc_hz);
    put(m.cores);
    put(m.services);
  }
  void put(const ApplyProxyConfig& m) {
    put(m.generation);
    put(m.document);
  }
  void put(const ProxyMetricsRequest&) {}
  void put(const ProxyMetricsReply& m) { put(m.text); }

 private:
  std::vector<uint8_t>& out_;
};

// Reads from a payload; the first failure sets `error` and makes every later read fail too, so a
// decoder reads every field and checks once at the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return bytes_.size() - pos_; }

  template <class T>
  requires std::is_unsigned_v<T>
  void get(T& v, const char* what) {
    v = 0;
    if (!take(sizeof(T), what)) return;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T{bytes_[pos_ + i]} << (8 * i));
    pos_ += sizeof(T);
  }
  void get(bool& v, const char* what) {
    uint8_t b = 0;
    get(b, what);
    if (b > 1) fail(what, "is " + std::to_string(b) + ", not a boolean");
    v = b == 1;
  }
  void get(std::string& s, const char* what) {
    uint32_t n = 0;
    get(n, what);
    if (!take(n, what)) return;
    s.assign(reinterpret_cast<const char*>(&bytes_[pos_]), n);
    pos_ += n;
  }
  void get(IpAddress& a, const char* what) {
    if (!take(kAddressSize, what)) return;
    std::memcpy(a.bytes.data(), &bytes_[pos_], kAddressSize);
    pos_ += kAddressSize;
  }
  void get(lb::ForwardingMode& m, const char* what) {
    get_enum(m, static_cast<uint8_t>(lb::ForwardingMode::kTunnel), what);
  }
  void get(lb::TunnelType& t, const char* what) {
    get_enum(t, static_cast<uint8_t>(lb::TunnelType::kGue), what);
  }
  void get(lb::BackendConfig& b, const char*) {
    get(b.address, "backend address");
    get(b.port, "backend port");
    get(b.weight, "backend weight");
  }
  void get(lb::ServiceConfig& s, const char*) {
    get(s.name, "service name");
    get(s.vip, "service vip");
    get(s.family, "service family");
    if (ok() && s.family != kFamilyV4 && s.family != kFamilyV6)
      fail("service family", "is " + std::to_string(s.family) + ", not 4 or 6");
    get(s.protocol, "service protocol");
    get(s.port, "service port");
    get(s.mode, "service mode");
    get(s.tunnel, "service tunnel");
    get(s.gue_port, "service gue_port");
    get(s.hash_source_port, "service hash_source_port");
    get(s.track_udp_flows, "service track_udp_flows");
    get(s.backends, kMinBackendConfig, "service backends");
  }
  void get(TrafficStats& t, const char* what) {
    get(t.packets, what);
    get(t.bytes, what);
    get(t.new_flows, what);
    get(t.active_flows, what);
  }
  void get(CoreStats& c, const char* what) {
    get(c.lcore, what);
    for (uint64_t* v :
         {&c.loops, &c.busy_loops, &c.busy_cycles, &c.packets, &c.rx_packets, &c.tx_packets,
          &c.drops, &c.active_flows, &c.stateless_flows, &c.nat_replies, &c.max_loop_cycles}) {
      get(*v, what);
    }
    get(c.loop_cycles_log2, sizeof(uint64_t), "core loop_cycles_log2");
    if (ok() && c.loop_cycles_log2.size() > kMaxLoopBuckets) {
      fail("core loop_cycles_log2", "has " + std::to_string(c.loop_cycles_log2.size()) +
                                        " buckets, more than " + std::to_string(kMaxLoopBuckets));
    }
  }
  void get(BackendStats& b, const char*) {
    get(b.address, "backend address");
    get(b.port, "backend port");
    get(b.weight, "backend weight");
    get(b.per_core, kTrafficStatsSize, "backend per_core");
  }
  void get(ServiceStats& s, const char*) {
    get(s.name, "service name");
    get(s.per_core, kTrafficStatsSize, "service per_core");
    get(s.backends, kMinBackendStats, "service backends");
  }
  // A u32 count, then that many items of at least `min_item` bytes each.
  template <class T>
  void get(std::vector<T>& items, size_t min_item, const char* what) {
    uint32_t n = 0;
    get(n, what);
    if (!ok()) return;
    if (n > left() / min_item) {
      fail(what,
           "count " + std::to_string(n) + " exceeds the " + std::to_string(left()) + " bytes left");
      return;
    }
    items.resize(n);
    for (T& item : items) {
      get(item, what);
      if (!ok()) return;
    }
  }

  void get(Hello& m) {
    get(m.role, "role");
    get(m.instance, "instance");
    get(m.pid, "pid");
    get(m.generation, "generation");
    get(m.workers, "workers");
  }
  void get(ApplySnapshot& m) {
    get(m.generation, "generation");
    get(m.nat_addresses, kAddressSize, "nat_addresses");
    get(m.tunnel_sources, kAddressSize, "tunnel_sources");
    get(m.services, kMinServiceConfig, "services");
  }
  void get(SnapshotResult& m) {
    get(m.generation, "generation");
    get(m.ok, "ok");
    get(m.error, "error");
    get(m.build_ns, "build_ns");
    get(m.publish_ns, "publish_ns");
  }
  void get(StatsRequest&) {}
  void get(StatsReply& m) {
    get(m.generation, "generation");
    get(m.tsc_hz, "tsc_hz");
    get(m.cores, kMinCoreStats, "cores");
    get(m.services, kMinServiceStats, "services");
  }
  void get(ApplyProxyConfig& m) {
    get(m.generation, "generation");
    get(m.document, "document");
  }
  void get(ProxyMetricsRequest&) {}
  void get(ProxyMetricsReply& m) { get(m.text, "text"); }

  void fail(const char* what, const std::string& why) {
    if (ok()) error_ = std::string(what) + " " + why;
  }

 private:
  bool take(size_t n, const char* what) {
    if (!ok()) return false;
    if (n > left()) {
      fail(what,
           "truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(left()) + " left");
      return false;
    }
    return true;
  }
  template <class E>
  void get_enum(E& e, uint8_t max, const char* what) {
    uint8_t v = 0;
    get(v, what);
    if (v > max) fail(what, "is " + std::to_string(v) + ", not a known value");
    e = static_cast<E>(v);
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::string error_;
};

template <class M>
std::optional<Message> decode_as(std::span<const uint8_t> payload, std::string* error) {
  Reader r(payload);
  M m;
  r.get(m);
  if (r.ok() && r.left() != 0)
    r.fail("payload", "has " + std::to_string(r.left()) + " trailing bytes");
  if (!r.ok()) {
    if (error != nullptr) *error = r.error();
    return std::nullopt;
  }
  return Message(std::move(m));
}

constexpr uint16_t kLastType = static_cast<uint16_t>(MessageType::kProxyMetricsReply);
static_assert(std::variant_size_v<Message> == kLastType);

}  // namespace

std::vector<uint8_t> encode(const Message& message) {
  std::vector<uint8_t> frame;
  Writer w(frame);
  w.put(kMagic);
  w.put(kProtocolVersion);
  w.put(static_cast<uint16_t>(message.index() + 1));
  w.put(uint32_t{0});
  std::visit([&](const auto& m) { w.put(m); }, message);
  const auto size = static_cast<uint32_t>(frame.size() - kHeaderSize);
  for (size_t i = 0; i < 4; ++i) frame[8 + i] = static_cast<uint8_t>(size >> (8 * i));
  return frame;
}

std::optional<Header> decode_header(std::span<const uint8_t> bytes, std::string* error) {
  auto failed = [&](std::string why) -> std::optional<Header> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  if (bytes.size() < kHeaderSize) return failed("header truncated");
  Reader r(bytes.first(kHeaderSize));
  uint32_t magic = 0;
  uint16_t type = 0;
  Header h;
  r.get(magic, "magic");
  r.get(h.version, "version");
  r.get(type, "type");
  r.get(h.payload_size, "payload size");
  if (magic != kMagic) return failed("not a control-socket frame (bad magic)");
  if (h.version != kProtocolVersion) {
    return failed("protocol version " + std::to_string(h.version) + ", this side speaks " +
                  std::to_string(kProtocolVersion));
  }
  if (type == 0 || type > kLastType) return failed("unknown message type " + std::to_string(type));
  if (h.payload_size > kMaxPayload) {
    return failed("payload of " + std::to_string(h.payload_size) + " bytes exceeds the limit of " +
                  std::to_string(kMaxPayload));
  }
  h.type = static_cast<MessageType>(type);
  return h;
}

std::optional<Message> decode_payload(MessageType type, std::span<const uint8_t> payload,
                                      std::string* error) {
  switch (type) {
    case MessageType::kHello:
      return decode_as<Hello>(payload, error);
    case MessageType::kApplySnapshot:
      return decode_as<ApplySnapshot>(payload, error);
    case MessageType::kSnapshotResult:
      return decode_as<SnapshotResult>(payload, error);
    case MessageType::kStatsRequest:
      return decode_as<StatsRequest>(payload, error);
    case MessageType::kStatsReply:
      return decode_as<StatsReply>(payload, error);
    case MessageType::kApplyProxyConfig:
      return decode_as<ApplyProxyConfig>(payload, error);
    case MessageType::kProxyMetricsRequest:
      return decode_as<ProxyMetricsRequest>(payload, error);
    case MessageType::kProxyMetricsReply:
      return decode_as<ProxyMetricsReply>(payload, error);
  }
  if (error != nullptr) *error = "unknown message type " + std::to_string(static_cast<int>(type));
  return std::nullopt;
}

void FrameReader::append(std::span<const uint8_t> bytes) {
  if (consumed_ != 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

FrameReader::Status FrameReader::next(Message& out, std::string* error) {
  const std::span<const uint8_t> waiting = std::span(buffer_).subspan(consumed_);
  if (waiting.size() < kHeaderSize) return Status::kNeedMore;
  const std::optional<Header> h = decode_header(waiting, error);
  if (!h) return Status::kError;
  if (waiting.size() - kHeaderSize < h->payload_size) return Status::kNeedMore;
  std::optional<Message> m =
      decode_payload(h->type, waiting.subspan(kHeaderSize, h->payload_size), error);
  if (!m) return Status::kError;
  out = std::move(*m);
  consumed_ += kHeaderSize + h->payload_size;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return Status::kMessage;
}

}  // namespace sluice::control
