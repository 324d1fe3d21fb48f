// The control socket: every message's encoding round trip, every class of malformed input
// rejected, the stream reader, and the dataplane's server with the control plane's client over a
// real unix socket (fake handlers, no EAL).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "control_client.h"
#include "control_protocol.h"
#include "control_server.h"

namespace sluice::control {
namespace {

using namespace std::chrono_literals;

IpAddress ip(const char* s) {
  return *parse_ip_address(s);
}

lb::ServiceConfig service(std::string name, const char* vip, size_t backends) {
  lb::ServiceConfig s;
  s.name = std::move(name);
  s.vip = ip(vip);
  s.family = s.vip.family();
  s.port = 80;
  for (size_t b = 0; b < backends; ++b) {
    IpAddress a = s.vip;
    a.bytes[14] = static_cast<uint8_t>(b >> 8);
    a.bytes[15] = static_cast<uint8_t>(b);
    s.backends.push_back({a, static_cast<uint16_t>(8000 + b), static_cast<uint32_t>(b % 7)});
  }
  return s;
}

ApplySnapshot snapshot() {
  ApplySnapshot m{.generation = 42,
                  .nat_addresses = {ip("10.0.0.2"), ip("fd00::2")},
                  .tunnel_sources = {ip("10.9.0.0")}};
  m.services.push_back(service("web", "10.0.0.100", 3));
  lb::ServiceConfig v6 = service("web6", "fd00::100", 2);
  v6.protocol = lb::kProtoUdp;
  v6.port = 0;
  v6.mode = lb::ForwardingMode::kTunnel;
  v6.tunnel = lb::TunnelType::kGue;
  v6.gue_port = 7000;
  v6.hash_source_port = false;
  v6.track_udp_flows = false;
  m.services.push_back(v6);
  return m;
}

StatsReply stats_reply(size_t services, size_t backends, size_t cores) {
  StatsReply m{.generation = 7, .tsc_hz = 2'000'000'000};
  for (size_t c = 0; c < cores; ++c) {
    m.cores.push_back({.lcore = static_cast<uint32_t>(c + 1),
                       .loops = 1,
                       .busy_loops = 2,
                       .busy_cycles = 3,
                       .packets = 4,
                       .rx_packets = 5,
                       .tx_packets = 6,
                       .drops = 7,
                       .active_flows = 8,
                       .stateless_flows = 9,
                       .nat_replies = 10,
                       .max_loop_cycles = 11,
                       .loop_cycles_log2 = {0, 0, 0, 0, 0, 0, 5, 90, 3, 0, 1}});
  }
  for (size_t s = 0; s < services; ++s) {
    ServiceStats st{.name = "svc" + std::to_string(s)};
    st.per_core.assign(cores, {1, 2, 3, 4});
    for (size_t b = 0; b < backends; ++b) {
      st.backends.push_back({.address = ip(b % 2 ? "fd00::1" : "10.1.2.3"),
                             .port = static_cast<uint16_t>(b),
                             .weight = 1,
                             .per_core = std::vector<TrafficStats>(cores, {5, 6, 7, 8})});
    }
    m.services.push_back(std::move(st));
  }
  return m;
}

std::vector<Message> every_message() {
  return {
      Hello{
          .role = "controlplane", .instance = "edge1", .pid = 1234, .generation = 9, .workers = 3},
      snapshot(),
      SnapshotResult{.generation = 42,
                     .ok = false,
                     .error = "services[0]: no",
                     .build_ns = 5,
                     .publish_ns = 6},
      StatsRequest{},
      stats_reply(2, 3, 2),
      ApplyProxyConfig{.generation = 7, .document = "{\"listeners\": []}\n"},
      ProxyMetricsRequest{},
      ProxyMetricsReply{.text = "# TYPE x counter\nx 1\n"}};
}

std::span<const uint8_t> payload_of(const std::vector<uint8_t>& frame) {
  return std::span(frame).subspan(kHeaderSize);
}

void set_payload_size(std::vector<uint8_t>& frame, uint32_t size) {
  for (size_t i = 0; i < 4; ++i) frame[8 + i] = static_cast<uint8_t>(size >> (8 * i));
}

std::optional<Message> decode_frame(const std::vector<uint8_t>& frame, std::string* error) {
  const std::optional<Header> h = decode_header(frame, error);
  if (!h) return std::nullopt;
  return decode_payload(h->type, payload_of(frame), error);
}

// The encoding is a function of every field, so equal encodings mean equal messages.
void expect_round_trip(const Message& m) {
  const std::vector<uint8_t> frame = encode(m);
  std::string error;
  const std::optional<Message> back = decode_frame(frame, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->index(), m.index());
  EXPECT_EQ(encode(*back), frame);
}

TEST(ControlProtocol, EveryMessageRoundTrips) {
  for (const Message& m : every_message()) expect_round_trip(m);
}

TEST(ControlProtocol, SnapshotFieldsSurvive) {
  std::string error;
  const auto back = decode_frame(encode(snapshot()), &error);
  ASSERT_TRUE(back) << error;
  const auto& s = std::get<ApplySnapshot>(*back);
  EXPECT_EQ(s.generation, 42u);
  ASSERT_EQ(s.nat_addresses.size(), 2u);
  EXPECT_EQ(s.nat_addresses[1], ip("fd00::2"));
  ASSERT_EQ(s.services.size(), 2u);
  const lb::ServiceConfig& v6 = s.services[1];
  EXPECT_EQ(v6.name, "web6");
  EXPECT_EQ(v6.vip, ip("fd00::100"));
  EXPECT_EQ(v6.family, kFamilyV6);
  EXPECT_EQ(v6.protocol, lb::kProtoUdp);
  EXPECT_EQ(v6.mode, lb::ForwardingMode::kTunnel);
  EXPECT_EQ(v6.tunnel, lb::TunnelType::kGue);
  EXPECT_EQ(v6.gue_port, 7000);
  EXPECT_FALSE(v6.hash_source_port);
  EXPECT_FALSE(v6.track_udp_flows);
  ASSERT_EQ(v6.backends.size(), 2u);
  EXPECT_EQ(v6.backends[1].port, 8001);
  EXPECT_EQ(v6.backends[1].weight, 1u);
}

TEST(ControlProtocol, ProxyMessagesKeepEveryByte) {
  std::string document(70000, 'a');
  document[1] = '\0';
  document[2] = '\xff';
  const std::vector<uint8_t> frame =
      encode(ApplyProxyConfig{.generation = 0xfedcba9876543210, .document = document});
  EXPECT_EQ(frame[6], static_cast<uint8_t>(MessageType::kApplyProxyConfig));
  std::string error;
  std::optional<Message> back = decode_frame(frame, &error);
  ASSERT_TRUE(back) << error;
  const auto& apply = std::get<ApplyProxyConfig>(*back);
  EXPECT_EQ(apply.generation, 0xfedcba9876543210u);
  EXPECT_EQ(apply.document, document);

  back = decode_frame(encode(ProxyMetricsReply{.text = document}), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(std::get<ProxyMetricsReply>(*back).text, document);
  expect_round_trip(ProxyMetricsReply{});
  expect_round_trip(ApplyProxyConfig{});
}

TEST(ControlProtocol, EmptyAndLargeSnapshots) {
  expect_round_trip(ApplySnapshot{});
  ApplySnapshot big{.generation = 1};
  for (int s = 0; s < 1000; ++s)
    big.services.push_back(service("s" + std::to_string(s), "10.0.0.1", 100));
  const std::vector<uint8_t> frame = encode(big);
  EXPECT_LT(frame.size(), kMaxPayload);
  std::string error;
  const auto back = decode_frame(frame, &error);
  ASSERT_TRUE(back) << error;
  const auto& s = std::get<ApplySnapshot>(*back);
  ASSERT_EQ(s.services.size(), 1000u);
  EXPECT_EQ(s.services[999].name, "s999");
  EXPECT_EQ(s.services[999].backends.size(), 100u);
  EXPECT_EQ(encode(*back), frame);
}

TEST(ControlProtocol, LargeStatsReplyRoundTrips) {
  expect_round_trip(stats_reply(1000, 100, 2));
}

std::string header_error(std::vector<uint8_t> frame) {
  std::string error;
  EXPECT_FALSE(decode_header(frame, &error));
  return error;
}

TEST(ControlProtocol, BadHeadersAreRejected) {
  const std::vector<uint8_t> good = encode(StatsRequest{});
  ASSERT_EQ(good.size(), kHeaderSize);
  ASSERT_TRUE(decode_header(good, nullptr));

  std::vector<uint8_t> f = good;
  f[0] = 'X';
  EXPECT_NE(header_error(f).find("bad magic"), std::string::npos);
  f = good;
  f[4] = 1;  // the version before the per-core pass-duration buckets
  EXPECT_EQ(header_error(f), "protocol version 1, this side speaks 2");
  for (uint8_t type : {0, 9, 255}) {
    f = good;
    f[6] = type;
    EXPECT_EQ(header_error(f), "unknown message type " + std::to_string(type));
  }
  f = good;
  set_payload_size(f, kMaxPayload + 1);
  EXPECT_NE(header_error(f).find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(header_error(std::vector<uint8_t>(good.begin(), good.end() - 1)), "header truncated");
}

TEST(ControlProtocol, EveryTruncationIsRejected) {
  for (const Message& m : every_message()) {
    const std::vector<uint8_t> frame = encode(m);
    const auto type = static_cast<MessageType>(m.index() + 1);
    for (size_t cut = 0; cut < frame.size(); ++cut) {
      // A stream cut short waits for the rest.
      FrameReader reader;
      reader.append(std::span(frame).first(cut));
      Message out;
      std::string error;
      EXPECT_EQ(reader.next(out, &error), FrameReader::Status::kNeedMore) << cut;
      // A frame whose length says it ends there is malformed.
      if (cut >= kHeaderSize) {
        std::vector<uint8_t> shorter(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(cut));
        set_payload_size(shorter, static_cast<uint32_t>(cut - kHeaderSize));
        EXPECT_FALSE(decode_payload(type, payload_of(shorter), &error))
            << "type " << m.index() << " cut " << cut;
        FrameReader r2;
        r2.append(shorter);
        EXPECT_EQ(r2.next(out, &error), FrameReader::Status::kError);
        EXPECT_FALSE(error.empty());
      }
    }
  }
}

TEST(ControlProtocol, TrailingBytesAreRejected) {
  for (const Message& m : every_message()) {
    std::vector<uint8_t> frame = encode(m);
    frame.push_back(0);
    set_payload_size(frame, static_cast<uint32_t>(frame.size() - kHeaderSize));
    std::string error;
    EXPECT_FALSE(decode_frame(frame, &error));
    EXPECT_EQ(error, "payload has 1 trailing bytes");
  }
}

// Byte offsets in the payload of a snapshot with no addresses and one service named "a".
constexpr size_t kServicesCount = 8 + 4 + 4;
constexpr size_t kServiceName = kServicesCount + 4;
constexpr size_t kFamily = kServiceName + 4 + 1 + 16;
constexpr size_t kMode = kFamily + 1 + 1 + 2;
constexpr size_t kTunnel = kMode + 1;
constexpr size_t kHashSourcePort = kTunnel + 1 + 2;
constexpr size_t kBackendsCount = kHashSourcePort + 2;

std::string patched_error(size_t offset, std::vector<uint8_t> bytes) {
  ApplySnapshot m;
  m.services.push_back(service("a", "10.0.0.1", 1));
  std::vector<uint8_t> frame = encode(m);
  std::copy(bytes.begin(), bytes.end(),
            frame.begin() + static_cast<ptrdiff_t>(kHeaderSize + offset));
  std::string error;
  EXPECT_FALSE(decode_frame(frame, &error));
  return error;
}

TEST(ControlProtocol, OutOfRangeValuesAreRejected) {
  EXPECT_EQ(patched_error(kFamily, {5}), "service family is 5, not 4 or 6");
  EXPECT_EQ(patched_error(kMode, {3}), "service mode is 3, not a known value");
  EXPECT_EQ(patched_error(kTunnel, {2}), "service tunnel is 2, not a known value");
  EXPECT_EQ(patched_error(kHashSourcePort, {2}), "service hash_source_port is 2, not a boolean");
  std::vector<uint8_t> frame = encode(SnapshotResult{.ok = true});
  frame[kHeaderSize + 8] = 7;
  std::string error;
  EXPECT_FALSE(decode_frame(frame, &error));
  EXPECT_EQ(error, "ok is 7, not a boolean");
}

TEST(ControlProtocol, AbsurdCountsAreRejectedBeforeAllocating) {
  const std::vector<uint8_t> huge = {0xff, 0xff, 0xff, 0xff};
  EXPECT_NE(patched_error(kServicesCount, huge).find("services count 4294967295 exceeds"),
            std::string::npos);
  EXPECT_NE(patched_error(kBackendsCount, huge).find("service backends count 4294967295"),
            std::string::npos);
  EXPECT_NE(patched_error(kServiceName, huge).find("service name truncated"), std::string::npos);
  EXPECT_NE(patched_error(kServicesCount, {2, 0, 0, 0}).find("services count 2 exceeds"),
            std::string::npos);
  // Stats: per-core arrays and cores.
  std::vector<uint8_t> frame = encode(StatsReply{});
  std::copy(huge.begin(), huge.end(), frame.begin() + kHeaderSize + 16);
  std::string error;
  EXPECT_FALSE(decode_frame(frame, &error));
  EXPECT_NE(error.find("cores count"), std::string::npos);
  // A core's pass-duration buckets: the count after its lcore and eleven counters.
  frame = encode(StatsReply{.cores = {CoreStats{.loop_cycles_log2 = {1, 2}}}});
  std::copy(huge.begin(), huge.end(), frame.begin() + kHeaderSize + 8 + 8 + 4 + 4 + 11 * 8);
  EXPECT_FALSE(decode_frame(frame, &error));
  EXPECT_NE(error.find("core loop_cycles_log2 count 4294967295 exceeds"), std::string::npos)
      << error;
}

TEST(ControlProtocol, AtMostSixtyFourLoopBuckets) {
  StatsReply m{.cores = {CoreStats{.loop_cycles_log2 = std::vector<uint64_t>(kMaxLoopBuckets, 1)}}};
  std::string error;
  EXPECT_TRUE(decode_frame(encode(m), &error)) << error;
  m.cores[0].loop_cycles_log2.push_back(1);
  EXPECT_FALSE(decode_frame(encode(m), &error));
  EXPECT_EQ(error, "core loop_cycles_log2 has 65 buckets, more than 64");
}

std::vector<uint8_t> concat(const std::vector<Message>& messages) {
  std::vector<uint8_t> stream;
  for (const Message& m : messages) {
    const std::vector<uint8_t> f = encode(m);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  return stream;
}

TEST(FrameReader, ByteAtATime) {
  const std::vector<Message> sent = every_message();
  const std::vector<uint8_t> stream = concat(sent);
  FrameReader reader;
  std::vector<Message> got;
  for (uint8_t b : stream) {
    reader.append(std::span(&b, 1));
    Message m;
    std::string error;
    FrameReader::Status s;
    while ((s = reader.next(m, &error)) == FrameReader::Status::kMessage) got.push_back(m);
    ASSERT_EQ(s, FrameReader::Status::kNeedMore) << error;
  }
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(encode(got[i]), encode(sent[i]));
}

TEST(FrameReader, SeveralFramesInOneChunkThenAnError) {
  std::vector<uint8_t> stream = concat(every_message());
  stream.insert(stream.end(), {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1'});
  FrameReader reader;
  reader.append(stream);
  Message m;
  std::string error;
  for (size_t i = 0; i < every_message().size(); ++i)
    ASSERT_EQ(reader.next(m, &error), FrameReader::Status::kMessage) << error;
  EXPECT_EQ(reader.next(m, &error), FrameReader::Status::kError);
  EXPECT_NE(error.find("bad magic"), std::string::npos);
  EXPECT_EQ(reader.next(m, &error), FrameReader::Status::kError) << "the stream stays unusable";
}

TEST(ControlProtocol, FuzzSeedsAreValidFrames) {
  const std::filesystem::path dir =
      std::filesystem::path(SLUICE_SOURCE_ROOT) / "tests/fuzz/corpus/control_protocol";
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    FrameReader reader;
    reader.append(bytes);
    Message m;
    std::string error;
    EXPECT_EQ(reader.next(m, &error), FrameReader::Status::kMessage)
        << entry.path() << ": " << error;
    ++seeds;
  }
  EXPECT_GE(seeds, 5u);
}

// The server on its own thread, as on the dataplane's main lcore, with handlers that record
// what they were given.
class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sluice-control-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/run/ctl.sock";
  }
  void TearDown() override {
    stop_server();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    auto server = std::make_unique<ControlServer>(
        path_, ControlHandlers{.hello =
                                   [this] {
                                     return Hello{.role = "dataplane",
                                                  .instance = "test",
                                                  .pid = 77,
                                                  .generation = generation_,
                                                  .workers = 2};
                                   },
                               .apply =
                                   [this](const ApplySnapshot& s) {
                                     std::lock_guard lock(mu_);
                                     applied_.push_back(s.generation);
                                     generation_ = s.generation;
                                     return SnapshotResult{.generation = s.generation,
                                                           .ok = !s.services.empty(),
                                                           .build_ns = s.services.size()};
                                   },
                               .stats = [this] { return stats_reply(stats_services_, 10, 2); }});
    running_ = true;
    thread_ = std::thread([this, s = std::move(server)] {
      while (running_) {
        std::vector<pollfd> fds = s->poll_fds();
        poll(fds.data(), fds.size(), 10);
        s->service(fds);
      }
    });
  }
  void stop_server() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

  Hello ours() const { return Hello{.role = "controlplane", .instance = "cp", .pid = 1}; }

  // A socket at path_, bound (and listening with `listen_too`) as a process that is not the
  // dataplane would leave it.
  int bound_socket(bool listen_too) {
    std::filesystem::create_directories(dir_ + "/run");
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = address();
    EXPECT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    if (listen_too) {
      EXPECT_EQ(listen(fd, 4), 0);
    }
    return fd;
  }

  // A raw connection to the server that sends `bytes`; returns everything the server sent back
  // until it closed the connection (empty and a failure if it did not within 5 s).
  std::vector<uint8_t> exchange_raw(const std::vector<uint8_t>& bytes) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = address();
    EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    const timeval limit{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::vector<uint8_t> got;
    uint8_t buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.insert(got.end(), buf, buf + n);
    EXPECT_EQ(n, 0) << "the server did not close the connection";
    close(fd);
    return got;
  }

  sockaddr_un address() const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    return addr;
  }

  std::string dir_, path_;
  std::atomic<uint64_t> generation_{3};
  std::atomic<size_t> stats_services_{1};
  std::mutex mu_;
  std::vector<uint64_t> applied_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

TEST_F(ControlServerTest, HelloApplyAndStats) {
  start_server();
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0) << "the socket's directory is created";
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ControlClient client;
  std::string error;
  const std::optional<Hello> theirs = client.connect(path_, ours(), 5s, &error);
  ASSERT_TRUE(theirs) << error;
  EXPECT_EQ(theirs->role, "dataplane");
  EXPECT_EQ(theirs->generation, 3u);
  EXPECT_EQ(theirs->workers, 2u);
  EXPECT_TRUE(client.connected());
  EXPECT_GE(client.fd(), 0);

  auto reply = client.call(snapshot(), 5s, &error);
  ASSERT_TRUE(reply) << error;
  const auto& result = std::get<SnapshotResult>(*reply);
  EXPECT_EQ(result.generation, 42u);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.build_ns, 2u);

  reply = client.call(StatsRequest{}, 5s, &error);
  ASSERT_TRUE(reply) << error;
  const auto& stats = std::get<StatsReply>(*reply);
  ASSERT_EQ(stats.cores.size(), 2u);
  EXPECT_EQ(stats.cores[1].max_loop_cycles, 11u);
  EXPECT_EQ(stats.cores[1].loop_cycles_log2.size(), 11u);
  EXPECT_EQ(stats.cores[1].loop_cycles_log2[7], 90u);
  ASSERT_EQ(stats.services.size(), 1u);
  EXPECT_EQ(stats.services[0].backends.size(), 10u);

  client.close();
  EXPECT_FALSE(client.connected());
  std::lock_guard lock(mu_);
  EXPECT_EQ(applied_, std::vector<uint64_t>{42});
}

TEST_F(ControlServerTest, LargeMessagesBothWays) {
  stats_services_ = 1000;  // about 1 MB of counters: more than a socket buffer takes at once
  start_server();
  ControlClient client;
  std::string error;
  ASSERT_TRUE(client.connect(path_, ours(), 5s, &error)) << error;
  ApplySnapshot big{.generation = 9};
  for (int s = 0; s < 1000; ++s)
    big.services.push_back(service("s" + std::to_string(s), "10.0.0.1", 100));
  auto reply = client.call(big, 30s, &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(std::get<SnapshotResult>(*reply).build_ns, 1000u);
  reply = client.call(StatsRequest{}, 30s, &error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(encode(*reply), encode(stats_reply(1000, 10, 2)));
  // The Hello of a new connection reports the generation now running.
  ControlClient again;
  const auto hello = again.connect(path_, ours(), 5s, &error);
  ASSERT_TRUE(hello) << error;
  EXPECT_EQ(hello->generation, 9u);
}

TEST_F(ControlServerTest, ASecondClientReplacesTheFirst) {
  start_server();
  ControlClient first, second;
  std::string error;
  ASSERT_TRUE(first.connect(path_, ours(), 5s, &error)) << error;
  ASSERT_TRUE(second.connect(path_, ours(), 5s, &error)) << error;
  ASSERT_TRUE(second.call(StatsRequest{}, 5s, &error)) << error;
  EXPECT_FALSE(first.call(StatsRequest{}, 5s, &error));
  EXPECT_EQ(error, "dataplane closed the control socket");
  EXPECT_FALSE(first.connected());
  EXPECT_TRUE(second.call(StatsRequest{}, 5s, &error)) << error;
}

TEST_F(ControlServerTest, ARequestWithoutAHandlerClosesTheConnection) {
  start_server();
  std::vector<uint8_t> bytes = encode(ours());
  const std::vector<uint8_t> proxy = encode(ApplyProxyConfig{.generation = 1, .document = "{}"});
  bytes.insert(bytes.end(), proxy.begin(), proxy.end());
  FrameReader reader;
  reader.append(exchange_raw(bytes));
  Message m;
  std::string error;
  ASSERT_EQ(reader.next(m, &error), FrameReader::Status::kMessage) << error;
  EXPECT_TRUE(std::holds_alternative<Hello>(m));
  EXPECT_EQ(reader.next(m, &error), FrameReader::Status::kNeedMore) << "nothing after the Hello";
}

TEST_F(ControlServerTest, MalformedInputClosesOnlyThatConnection) {
  start_server();
  EXPECT_TRUE(exchange_raw({'h', 'e', 'l', 'l', 'o', ' ', 't', 'h', 'e', 'r', 'e', '!'}).empty());
  std::vector<uint8_t> other_version = encode(ours());
  other_version[4] = 9;
  EXPECT_TRUE(exchange_raw(other_version).empty());
  EXPECT_TRUE(exchange_raw(encode(StatsRequest{})).empty()) << "Hello must come first";
  // The server answers the Hello, then closes on the unexpected message.
  std::vector<uint8_t> hello_then_reply = encode(ours());
  const std::vector<uint8_t> reply = encode(SnapshotResult{});
  hello_then_reply.insert(hello_then_reply.end(), reply.begin(), reply.end());
  const std::vector<uint8_t> got = exchange_raw(hello_then_reply);
  FrameReader reader;
  reader.append(got);
  Message m;
  std::string error;
  ASSERT_EQ(reader.next(m, &error), FrameReader::Status::kMessage) << error;
  EXPECT_TRUE(std::holds_alternative<Hello>(m));
  EXPECT_EQ(reader.next(m, &error), FrameReader::Status::kNeedMore) << "nothing after the Hello";

  ControlClient client;
  ASSERT_TRUE(client.connect(path_, ours(), 5s, &error)) << error;
  auto r = client.call(ApplySnapshot{.generation = 5}, 5s, &error);
  ASSERT_TRUE(r) << error;
  EXPECT_FALSE(std::get<SnapshotResult>(*r).ok);
}

TEST_F(ControlServerTest, StaleSocketIsReplacedAndTheSocketRemovedAtExit) {
  close(bound_socket(false));  // as a killed dataplane leaves it
  {
    ControlServer server(path_, {});
    EXPECT_TRUE(std::filesystem::exists(path_));
    EXPECT_EQ(server.poll_fds().size(), ControlServer::kPollFds);
    EXPECT_EQ(server.poll_fds()[1].fd, -1);
  }
  EXPECT_FALSE(std::filesystem::exists(path_));
  std::ofstream(path_) << "not a socket";
  EXPECT_THROW(ControlServer(path_, {}), std::runtime_error);
  EXPECT_TRUE(std::filesystem::exists(path_)) << "a file that is not a socket is left alone";
}

TEST_F(ControlServerTest, ClientErrors) {
  ControlClient client;
  std::string error;
  EXPECT_FALSE(client.call(StatsRequest{}, 1s, &error));
  EXPECT_EQ(error, "not connected to the dataplane");
  EXPECT_FALSE(client.connect(path_, ours(), 1s, &error));
  EXPECT_NE(error.find("cannot connect to " + path_), std::string::npos) << error;

  // A listener that never answers: the Hello exchange times out.
  const int fd = bound_socket(true);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(client.connect(path_, ours(), 200ms, &error));
  EXPECT_EQ(error, "timed out waiting for the dataplane");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_FALSE(client.connected());
  close(fd);
}

}  // namespace
}  // namespace sluice::control
