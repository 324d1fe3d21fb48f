#include <gtest/gtest.h>

#include "config.h"

namespace sluice::dataplane {
namespace {

DataplaneConfig parse(const std::string& yaml) {
  return parse_config(yaml, "test.yaml");
}

// Parses `yaml` and returns the error message (empty when it parsed and validated).
std::string error_of(const std::string& yaml) {
  try {
    validate_config(parse(yaml));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr const char* kValid = R"(instance: edge1
cores:
  main: 0
  workers: 1-2
hugepages: off
memory_mb: 256
stats_interval_s: 5
job: wire
ports:
  - name: client
    device: net_af_packet0,iface=veth0
    mtu: 9000
    rx_descriptors: 512
    addresses: [10.99.0.2/24, "fd99::2/64"]
  - name: backend
    device: 0000:01:00.0
)";

TEST(Config, ParsesEveryKey) {
  DataplaneConfig c = parse(kValid);
  EXPECT_EQ(c.instance, "edge1");
  EXPECT_EQ(c.cores.main, 0u);
  EXPECT_EQ(c.cores.workers, (std::vector<unsigned>{1, 2}));
  EXPECT_EQ(c.hugepages, HugepageMode::kOff);
  EXPECT_EQ(c.memory_mb, 256u);
  EXPECT_EQ(c.stats_interval_s, 5u);
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].name, "client");
  EXPECT_EQ(c.ports[0].device, "net_af_packet0,iface=veth0");
  EXPECT_EQ(c.ports[0].mtu, 9000);
  EXPECT_EQ(c.ports[0].rx_descriptors, 512);
  EXPECT_EQ(c.ports[0].tx_descriptors, 1024);
  ASSERT_EQ(c.ports[0].addresses.size(), 2u);
  EXPECT_EQ(format_ip_address(c.ports[0].addresses[1].address), "fd99::2");
  EXPECT_EQ(c.ports[0].addresses[0].length, 24);
  EXPECT_EQ(c.ports[1].device, "0000:01:00.0");
  EXPECT_NO_THROW(validate_config(c));
}

TEST(Config, EmptyDocumentGivesDefaults) {
  DataplaneConfig c = parse("");
  EXPECT_EQ(c.instance, "sluice");
  EXPECT_EQ(c.hugepages, HugepageMode::kAuto);
  EXPECT_TRUE(c.ports.empty());
}

TEST(Config, ControlSocket) {
  const DataplaneConfig c = parse(
      "job: lb\ncontrol_socket: /run/sluice/edge1.sock\ncores: {workers: [1]}\n"
      "ports: [{name: a, device: x}]\n");
  EXPECT_EQ(c.control_socket, "/run/sluice/edge1.sock");
  EXPECT_NO_THROW(validate_config(c));
}

TEST(Config, WorkersAsSequence) {
  EXPECT_EQ(parse("cores: {workers: [3, 1]}").cores.workers, (std::vector<unsigned>{3, 1}));
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string expected;  // a substring of the message
};

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, NameTheKeyAndLine) {
  const std::string message = error_of(GetParam().yaml);
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << "message: " << message;
}

const std::string kPorts =
    "ports:\n  - {name: a, device: net_ring0}\n  - {name: b, device: net_ring1}\n";

INSTANTIATE_TEST_SUITE_P(
    Config, ConfigErrors,
    ::testing::Values(
        ErrorCase{"unknown_top_level_key", "cores: {workers: [1]}\nbogus: 1\n" + kPorts,
                  "test.yaml:2: bogus: unknown key"},
        ErrorCase{"unknown_port_key",
                  "cores: {workers: [1]}\nports:\n  - {name: a, device: x, speed: 10}\n",
                  "test.yaml:3: ports[0].speed: unknown key"},
        ErrorCase{"not_yaml", "ports: [a, b\n", "test.yaml:2: not valid YAML"},
        ErrorCase{"top_level_not_map", "- 1\n- 2\n", "(document): expected a map"},
        ErrorCase{"number_not_number", "memory_mb: lots\n",
                  "test.yaml:1: memory_mb: 'lots' is not a whole number"},
        ErrorCase{"negative_number", "memory_mb: -5\n", "memory_mb: '-5' is not a whole number"},
        ErrorCase{"number_out_of_range",
                  "cores: {workers: [1]}\nports:\n  - {name: a, device: x, mtu: 20}\n",
                  "test.yaml:3: ports[0].mtu: must be between 68 and 9600, got 20"},
        ErrorCase{"missing_device", "ports:\n  - name: a\n",
                  "test.yaml:2: ports[0].device: is required"},
        ErrorCase{"bad_port_address",
                  "ports:\n  - {name: a, device: x, addresses: [10.0.0.1/40]}\n",
                  "test.yaml:2: ports[0].addresses[0]: '10.0.0.1/40' is not an address with a "
                  "prefix length"},
        ErrorCase{"port_not_map", "ports:\n  - net_ring0\n", "ports[0]: expected a map"},
        ErrorCase{"ports_not_list", "ports: net_ring0\n", "test.yaml:1: ports: expected a list"},
        ErrorCase{"bad_core_list", "cores:\n  workers: 1-x\n",
                  "test.yaml:2: cores.workers: '1-x' is not a core list"},
        ErrorCase{"backwards_core_range", "cores: {workers: 3-1}\n", "runs backwards"},
        ErrorCase{"bad_hugepages", "hugepages: maybe\n",
                  "test.yaml:1: hugepages: 'maybe' is not one of auto, on, off"},
        ErrorCase{"unknown_job", "job: router\n",
                  "test.yaml:1: job: 'router' is not one of wire, lb"},
        ErrorCase{"no_workers", kPorts, "cores.workers: at least one worker core is required"},
        ErrorCase{"worker_is_main", "cores: {main: 1, workers: [1]}\n" + kPorts,
                  "core 1 is also cores.main"},
        ErrorCase{"worker_twice", "cores: {workers: [1, 1]}\n" + kPorts, "core 1 is listed twice"},
        ErrorCase{
            "duplicate_port_name",
            "cores: {workers: [1]}\nports:\n  - {name: a, device: x}\n  - {name: a, device: y}\n",
            "ports[1].name: 'a' is used by another port"},
        ErrorCase{
            "duplicate_device",
            "cores: {workers: [1]}\nports:\n  - {name: a, device: x}\n  - {name: b, device: x}\n",
            "ports[1].device: 'x' is used by another port"},
        ErrorCase{"wire_needs_two_ports",
                  "cores: {workers: [1]}\nports:\n  - {name: a, device: x}\n",
                  "the wire job needs exactly two ports, got 1"},
        ErrorCase{"bad_instance", "instance: a/b\ncores: {workers: [1]}\n" + kPorts,
                  "instance: must be a non-empty name"},
        ErrorCase{"control_socket_for_wire",
                  "control_socket: /run/x.sock\ncores: {workers: [1]}\n" + kPorts,
                  "control_socket: only the lb job takes configuration over it"},
        ErrorCase{"control_socket_too_long",
                  "job: lb\ncontrol_socket: /" + std::string(108, 'x') +
                      "\ncores: {workers: [1]}\n" + kPorts,
                  "control_socket: a unix socket path is at most 107 characters"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, ValidHasNoError) {
  EXPECT_EQ(error_of(kValid), "");
}

TEST(Config, MissingFileNamesThePath) {
  try {
    load_config_file("/nonexistent/sluice.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/sluice.yaml: cannot open");
  }
}

TEST(CoreList, Forms) {
  EXPECT_EQ(parse_core_list("1"), (std::vector<unsigned>{1}));
  EXPECT_EQ(parse_core_list("1,3"), (std::vector<unsigned>{1, 3}));
  EXPECT_EQ(parse_core_list("2-4,7"), (std::vector<unsigned>{2, 3, 4, 7}));
  EXPECT_THROW(parse_core_list("1,"), ConfigError);
  EXPECT_THROW(parse_core_list(",1"), ConfigError);
  EXPECT_THROW(parse_core_list("1-"), ConfigError);
  EXPECT_THROW(parse_core_list("5000"), ConfigError);
}

}  // namespace
}  // namespace sluice::dataplane
