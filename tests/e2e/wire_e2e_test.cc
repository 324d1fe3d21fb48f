// sluice-dataplane as a wire between a client namespace and a backend namespace: real kernel
// traffic (ICMP, HTTP, a bulk TCP transfer) over net_af_packet ports on veth pairs.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "topology.h"

namespace sluice::e2e {
namespace {

constexpr size_t kBulkBytes = 8 << 20;

std::string sha256_of(const std::filesystem::path& path) {
  CommandResult r = run_command({"sha256sum", path.string()}, 30s);
  if (r.exit_code != 0) return "sha256sum failed: " + r.output;
  return r.output.substr(0, r.output.find(' '));
}

class WireE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = Topology::unavailable_reason();
    if (skip_reason_) return;
    try {
      topology_ = std::make_unique<Topology>(1);
      nginx_ = std::make_unique<Process>(topology_->start_nginx(0));
      bulk_path_ = topology_->web_root(0) / "bulk.bin";
      std::mt19937_64 rng(20240601);
      std::ofstream out(bulk_path_, std::ios::binary);
      for (size_t i = 0; i < kBulkBytes / sizeof(uint64_t); ++i) {
        const uint64_t word = rng();
        out.write(reinterpret_cast<const char*>(&word), sizeof word);
      }
      out.close();
      bulk_sha256_ = sha256_of(bulk_path_);
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    if (nginx_) {
      EXPECT_EQ(nginx_->stop(SIGTERM, 10s), 0) << nginx_->output();
    }
    nginx_.reset();
    topology_.reset();
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    try {
      dataplane_ = topology_->start_dataplane();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
  }

  void TearDown() override {
    if (dataplane_.running()) {
      EXPECT_EQ(dataplane_.stop(), 0) << dataplane_.output();
    }
  }

  Topology& topo() { return *topology_; }

  CommandResult client(const std::string& command, std::chrono::milliseconds timeout = 30s) {
    return topology_->run_in(topology_->client_ns(), command, timeout);
  }

  // Stops the dataplane with SIGTERM and returns the counters it printed on the way out.
  std::map<std::string, PortCounters> stop_dataplane() {
    const int code = dataplane_.stop(SIGTERM, 10s);
    EXPECT_EQ(code, 0) << dataplane_.output();
    return parse_port_counters(dataplane_.output());
  }

  static inline std::optional<std::string> skip_reason_;
  static inline std::string setup_error_;
  static inline std::unique_ptr<Topology> topology_;
  static inline std::unique_ptr<Process> nginx_;
  static inline std::filesystem::path bulk_path_;
  static inline std::string bulk_sha256_;
  Process dataplane_;
};

TEST_F(WireE2E, PingIPv4ReachesBackend) {
  CommandResult r = client("ping -n -c 3 -i 0.2 -W 2 -w 10 " + topo().backend_ip(0), 15s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(WireE2E, PingIPv6ReachesBackend) {
  CommandResult r = client("ping -6 -n -c 3 -i 0.2 -W 2 -w 10 " + topo().backend_ip6(0), 15s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(WireE2E, HttpReturnsTheBackendsPage) {
  CommandResult v4 = client("curl -sS --max-time 10 http://" + topo().backend_ip(0) + "/", 15s);
  EXPECT_EQ(v4.exit_code, 0) << v4.output;
  EXPECT_EQ(v4.output, "backend-0\n");
  CommandResult v6 =
      client("curl -sS --max-time 10 'http://[" + topo().backend_ip6(0) + "]/'", 15s);
  EXPECT_EQ(v6.exit_code, 0) << v6.output;
  EXPECT_EQ(v6.output, "backend-0\n");
}

TEST_F(WireE2E, BulkTransferArrivesIntact) {
  const std::filesystem::path download = topo().run_dir() / "bulk.download";
  CommandResult r =
      client("curl -sS --max-time 60 -o " + download.string() +
                 " -w '%{http_code} %{size_download}' http://" + topo().backend_ip(0) + "/bulk.bin",
             70s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "200 " + std::to_string(kBulkBytes));
  ASSERT_TRUE(std::filesystem::exists(download));
  EXPECT_EQ(std::filesystem::file_size(download), kBulkBytes);
  EXPECT_EQ(sha256_of(download), bulk_sha256_);
  std::filesystem::remove(download);

  // The payload itself crossed the dataplane, backend to client.
  auto counters = stop_dataplane();
  ASSERT_TRUE(counters.contains("backend") && counters.contains("client")) << dataplane_.output();
  EXPECT_GE(counters["backend"].rx_bytes, kBulkBytes);
  EXPECT_GE(counters["client"].tx_bytes, kBulkBytes);
}

TEST_F(WireE2E, TrafficStopsWithTheDataplane) {
  CommandResult before = client("ping -n -c 2 -i 0.2 -W 2 -w 10 " + topo().backend_ip(0), 15s);
  ASSERT_EQ(before.exit_code, 0) << before.output;

  stop_dataplane();
  ASSERT_FALSE(dataplane_.running());

  CommandResult ping = client("ping -n -c 2 -i 0.5 -W 1 -w 2 " + topo().backend_ip(0), 10s);
  EXPECT_NE(ping.exit_code, 0) << ping.output;
  CommandResult ping6 = client("ping -6 -n -c 2 -i 0.5 -W 1 -w 2 " + topo().backend_ip6(0), 10s);
  EXPECT_NE(ping6.exit_code, 0) << ping6.output;
  CommandResult http = client("curl -sS --max-time 2 http://" + topo().backend_ip(0) + "/", 10s);
  EXPECT_NE(http.exit_code, 0) << http.output;
}

TEST_F(WireE2E, ExitCountersCoverBothPorts) {
  constexpr int kPings = 5;
  CommandResult r = client(
      "ping -n -c " + std::to_string(kPings) + " -i 0.2 -W 2 -w 10 " + topo().backend_ip(0), 15s);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto counters = stop_dataplane();
  ASSERT_TRUE(counters.contains("client") && counters.contains("backend")) << dataplane_.output();
  // Requests enter on the client port and leave on the backend port; replies the other way.
  for (const char* port : {"client", "backend"}) {
    SCOPED_TRACE(port);
    const PortCounters& c = counters[port];
    EXPECT_GE(c.rx_packets, static_cast<uint64_t>(kPings));
    EXPECT_GE(c.tx_packets, static_cast<uint64_t>(kPings));
    EXPECT_GT(c.rx_bytes, 0u);
    EXPECT_GT(c.tx_bytes, 0u);
  }
}

}  // namespace
}  // namespace sluice::e2e
