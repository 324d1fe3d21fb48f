// sluice-dataplane as a one-arm L4 balancer: a client, the balancer's port and three backends
// running nginx on one L2 segment (the "lan" layout). Real kernels on both sides: TCP through a
// full-NAT VIP (IPv4 and IPv6), a bulk stream, DSR with the VIP on the backends' loopback, and
// UDP request/response. The exception path is on: the lb namespace's kernel holds the port's
// addresses on a TAP and answers pings of them, serves HTTP on them and reaches the backends
// (as a health check does), all through the dataplane's port.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "topology.h"

namespace sluice::e2e {
namespace {

constexpr int kBackends = 3;

// Every service the tests use, on one balancer. `web_without` leaves that backend out of the
// full-NAT service "web" (-1: none).
std::string lb_config(int web_without = -1) {
  std::ostringstream y;
  y << "job: lb\n"
       "hugepages: off\n"
       "ports:\n"
       "  - name: lan\n"
       "    device: net_af_packet0,iface=lan\n"
       "    addresses: [10.99.0.2/24, \"fd99::2/64\"]\n"
       "lb:\n"
       "  flow_table_size: 65536\n"
       "  nat_addresses: [10.99.0.2, \"fd99::2\"]\n"
       "  exception_interface: sl-exc\n"
       "services:\n";
  auto service = [&](const char* name, const char* vip, const char* proto, int port,
                     const char* mode, bool v6, int backend_port, int without = -1) {
    y << "  - {name: " << name << ", vip: \"" << vip << "\", protocol: " << proto
      << ", port: " << port << ", mode: " << mode << ", backends: [";
    bool first = true;
    for (int i = 0; i < kBackends; ++i) {
      if (i == without) continue;
      y << (first ? "" : ", ") << "{address: \"" << (v6 ? "fd99::" : "10.99.0.") << 10 + i << "\"";
      first = false;
      if (backend_port) y << ", port: " << backend_port;
      y << "}";
    }
    y << "]}\n";
  };
  service("web", "10.99.0.100", "tcp", 80, "nat", false, 0, web_without);
  service("web6", "fd99::100", "tcp", 80, "nat", true, 0);
  service("direct", "10.99.0.101", "tcp", 80, "dsr", false, 0);
  service("echo", "10.99.0.102", "udp", 7000, "nat", false, 7007);
  return y.str();
}

// A UDP server answering every datagram with "<name> <datagram>".
std::string udp_echo_command(const std::string& name) {
  return "exec python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         "s.bind(('0.0.0.0', 7007));\nwhile True:\n d, a = s.recvfrom(2048); s.sendto(b'" +
         name + " ' + d, a)\"";
}

class LbE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = Topology::unavailable_reason();
    if (skip_reason_) return;
    try {
      topology_ = std::make_unique<Topology>(kBackends, Topology::Layout::kLan);
      for (int i = 0; i < kBackends; ++i) {
        const std::string ns = topology_->backend_ns(i);
        servers_.push_back(std::make_unique<Process>(topology_->start_nginx(i)));
        servers_.push_back(std::make_unique<Process>(
            topology_->spawn_in(ns, {"sh", "-c", udp_echo_command("backend-" + std::to_string(i))},
                                "udp-echo-" + std::to_string(i))));
        // DSR: the backend holds the VIP itself but must not answer ARP for it.
        CommandResult r = topology_->run_in(
            ns,
            "ip addr add 10.99.0.101/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 "
            "net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 "
            "net.ipv4.conf.eth0.arp_announce=2",
            10s);
        if (r.exit_code != 0) throw std::runtime_error("DSR set-up failed: " + r.output);
      }
      dataplane_ = std::make_unique<Process>(
          topology_->start_dataplane_config(lb_config(), "sluice-dataplane: lb"));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    if (dataplane_ && dataplane_->running()) {
      EXPECT_EQ(dataplane_->stop(SIGTERM, 10s), 0) << dataplane_->output();
    }
    dataplane_.reset();
    servers_.clear();
    topology_.reset();
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(dataplane_->running()) << dataplane_->output();
  }

  CommandResult client(const std::string& command, std::chrono::milliseconds timeout = 60s) {
    return topology_->run_in(topology_->client_ns(), command, timeout);
  }

  CommandResult lb_kernel(const std::string& command, std::chrono::milliseconds timeout = 30s) {
    return topology_->run_in(topology_->lb_ns(), command, timeout);
  }

  // A counter of the lb namespace's kernel from /proc/net/snmp or /proc/net/snmp6 (`file`),
  // e.g. ("snmp", "Icmp", "OutEchoReps") or ("snmp6", "", "Icmp6OutEchoReplies").
  uint64_t kernel_counter(const std::string& file, const std::string& group,
                          const std::string& name) {
    CommandResult r = lb_kernel("cat /proc/net/" + file, 5s);
    std::istringstream lines(r.output);
    if (group.empty()) {  // snmp6: "name value" per line
      std::string key;
      uint64_t value = 0;
      while (lines >> key >> value) {
        if (key == name) return value;
      }
      return UINT64_MAX;
    }
    // snmp: a line of names then a line of values, both starting with "<group>:".
    for (std::string names, values; std::getline(lines, names) && std::getline(lines, values);) {
      if (names.rfind(group + ":", 0) != 0) continue;
      std::istringstream n(names), v(values);
      std::string key, value;
      while (n >> key && v >> value) {
        if (key == name) return std::stoull(value);
      }
    }
    return UINT64_MAX;
  }

  // Fetches `url` `n` times, each on a new connection; returns how often each page came back.
  std::map<std::string, int> fetch_many(const std::string& url, int n) {
    CommandResult r = client("for i in $(seq " + std::to_string(n) +
                                 "); do curl -sS --max-time 5 '" + url + "' || echo FAILED; done",
                             120s);
    std::map<std::string, int> pages;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) pages[line]++;
    return pages;
  }

  static inline std::optional<std::string> skip_reason_;
  static inline std::string setup_error_;
  static inline std::unique_ptr<Topology> topology_;
  static inline std::vector<std::unique_ptr<Process>> servers_;
  static inline std::unique_ptr<Process> dataplane_;
};

void expect_spread(const std::map<std::string, int>& pages, int total) {
  int seen = 0;
  for (int i = 0; i < kBackends; ++i) {
    const std::string page = "backend-" + std::to_string(i);
    auto it = pages.find(page);
    EXPECT_TRUE(it != pages.end() && it->second >= total / 10) << page << " got too few requests";
    if (it != pages.end()) seen += it->second;
  }
  EXPECT_EQ(seen, total) << "every request answered by a backend";
}

TEST_F(LbE2E, FullNatSpreadsConnectionsOverBackends) {
  expect_spread(fetch_many("http://10.99.0.100/", 60), 60);
}

TEST_F(LbE2E, FullNatIpv6) {
  expect_spread(fetch_many("http://[fd99::100]/", 45), 45);
}

TEST_F(LbE2E, FullNatCarriesABulkStreamIntact) {
  // The same 4 MiB of random data on every backend: the download must arrive whole, whichever
  // answers.
  const std::filesystem::path source = topology_->run_dir() / "bulk.bin";
  CommandResult make =
      run_command({"sh", "-c", "head -c 4194304 /dev/urandom > " + source.string()}, 30s);
  ASSERT_EQ(make.exit_code, 0) << make.output;
  for (int i = 0; i < kBackends; ++i) {
    std::filesystem::copy_file(source, topology_->web_root(i) / "bulk.bin",
                               std::filesystem::copy_options::overwrite_existing);
  }
  const std::string download = (topology_->run_dir() / "bulk.download").string();
  CommandResult r = client("curl -sS --max-time 60 -o " + download +
                           " -w '%{http_code} %{size_download}' http://10.99.0.100/bulk.bin");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "200 4194304");
  CommandResult sums = run_command({"sha256sum", source.string(), download}, 30s);
  std::istringstream lines(sums.output);
  std::string want, got, rest;
  std::getline(lines, want);
  std::getline(lines, got);
  EXPECT_EQ(want.substr(0, 64), got.substr(0, 64)) << sums.output;
}

TEST_F(LbE2E, DsrBackendsAnswerTheClientDirectly) {
  expect_spread(fetch_many("http://10.99.0.101/", 45), 45);
}

TEST_F(LbE2E, UdpRequestAndResponse) {
  CommandResult r = client(
      "python3 -c \"import socket\nfor i in range(30):\n s=socket.socket(socket.AF_INET, "
      "socket.SOCK_DGRAM); "
      "s.settimeout(3)\n for attempt in range(3):\n  s.sendto(b'ping%d' % i, ('10.99.0.102', "
      "7000))\n  try:\n   "
      "print(s.recv(2048).decode()); break\n  except socket.timeout: pass\n else: "
      "print('TIMEOUT')\"",
      120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, int> backends;
  std::istringstream lines(r.output);
  int answered = 0;
  for (std::string line; std::getline(lines, line);) {
    ASSERT_NE(line, "TIMEOUT");
    const auto space = line.find(' ');
    backends[line.substr(0, space)]++;
    EXPECT_EQ(line.substr(space + 1), "ping" + std::to_string(answered));
    ++answered;
  }
  EXPECT_EQ(answered, 30);
  EXPECT_GE(backends.size(), 2u) << "datagrams from different source ports spread";
}

// A keep-alive connection stays on its backend while another backend is removed (SIGHUP with a
// changed file); new connections then avoid the removed backend; an invalid file changes nothing.
TEST_F(LbE2E, ConfigurationChangesKeepEstablishedConnections) {
  const std::filesystem::path dir = topology_->run_dir() / "reload";
  std::filesystem::create_directories(dir);
  for (int i = 0; i < kBackends; ++i)
    std::ofstream(dir / ("without-" + std::to_string(i) + ".yaml")) << lb_config(i);
  const std::string config = topology_->last_config_path().string();
  CommandResult r = client(
      "python3 -c \"import http.client, os, shutil, signal, sys, time\n"
      "c = http.client.HTTPConnection('10.99.0.100', 80, timeout=5)\n"
      "def get():\n c.request('GET', '/'); return c.getresponse().read().decode().strip()\n"
      "first = get(); removed = (int(first[-1]) + 1) % 3\n"
      "shutil.copy('" +
          (dir / "without-").string() + "%d.yaml' % removed, '" + config +
          "')\n"
          "os.kill(" +
          std::to_string(dataplane_->pid()) +
          ", signal.SIGHUP); time.sleep(1)\n"
          "for i in range(10): assert get() == first, 'moved'; time.sleep(0.1)\n"
          "print(first, 'backend-%d' % removed)\"",
      60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(dataplane_->wait_for_output("reloaded", 10s)) << dataplane_->output();
  const std::string removed = r.output.substr(r.output.find(' ') + 1, 9);
  auto pages = fetch_many("http://10.99.0.100/", 30);
  EXPECT_EQ(pages.count(removed), 0u) << removed << " left the service but got new connections";
  EXPECT_EQ(pages.size(), 2u);

  std::ofstream(config) << "job: lb\nservices: [{name: broken\n";
  dataplane_->signal(SIGHUP);
  ASSERT_TRUE(dataplane_->wait_for_output("reload rejected", 10s)) << dataplane_->output();
  pages = fetch_many("http://10.99.0.100/", 20);
  EXPECT_EQ(pages.count(removed), 0u);
  EXPECT_EQ(pages.count("FAILED"), 0u) << "traffic goes on with the last good configuration";
  std::ofstream(config) << lb_config();
  dataplane_->signal(SIGHUP);
}

TEST_F(LbE2E, PingAndArpOnTheVip) {
  CommandResult r = client("ping -n -c 3 -i 0.2 -W 2 -w 10 10.99.0.100", 15s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  CommandResult r6 = client("ping -6 -n -c 3 -i 0.2 -W 2 -w 10 fd99::100", 15s);
  EXPECT_EQ(r6.exit_code, 0) << r6.output;
}

TEST_F(LbE2E, PingOfThePortAddressIsAnsweredByTheKernel) {
  const uint64_t before = kernel_counter("snmp", "Icmp", "OutEchoReps");
  CommandResult r = client("ping -n -c 3 -i 0.2 -W 2 -w 10 10.99.0.2", 15s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("DUP"), std::string::npos) << "one answer per ping: " << r.output;
  EXPECT_EQ(kernel_counter("snmp", "Icmp", "OutEchoReps"), before + 3)
      << "the kernel answered, not the dataplane";

  const uint64_t before6 = kernel_counter("snmp6", "", "Icmp6OutEchoReplies");
  CommandResult r6 = client("ping -6 -n -c 3 -i 0.2 -W 2 -w 10 fd99::2", 15s);
  EXPECT_EQ(r6.exit_code, 0) << r6.output;
  EXPECT_EQ(kernel_counter("snmp6", "", "Icmp6OutEchoReplies"), before6 + 3);
}

TEST_F(LbE2E, HttpServerOnThePortAddress) {
  const std::filesystem::path root = topology_->run_dir() / "lb-www";
  std::filesystem::create_directories(root);
  std::ofstream(root / "hello.txt") << "served by the balancer's kernel\n";
  Process server = topology_->spawn_in(topology_->lb_ns(),
                                       {"python3", "-u", "-m", "http.server", "8000", "--bind",
                                        "10.99.0.2", "--directory", root.string()},
                                       "lb-http");
  ASSERT_TRUE(server.wait_for_output("Serving HTTP", 10s)) << server.output();
  CommandResult r = client("curl -sS --max-time 10 http://10.99.0.2:8000/hello.txt", 30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "served by the balancer's kernel\n");
  // Several connections in a row, while NAT flows use the same address.
  std::map<std::string, int> pages = fetch_many("http://10.99.0.2:8000/hello.txt", 10);
  EXPECT_EQ(pages["served by the balancer's kernel"], 10);
}

TEST_F(LbE2E, KernelReachesTheBackendsThroughThePort) {
  for (int i = 0; i < kBackends; ++i) {
    CommandResult r = lb_kernel("curl -sS --max-time 10 http://" + topology_->backend_ip(i) + "/");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "backend-" + std::to_string(i) + "\n");
  }
  CommandResult r6 =
      lb_kernel("curl -sS --max-time 10 'http://[" + topology_->backend_ip6(0) + "]/'");
  EXPECT_EQ(r6.exit_code, 0) << r6.output;
  EXPECT_EQ(r6.output, "backend-0\n");
}

}  // namespace
}  // namespace sluice::e2e
