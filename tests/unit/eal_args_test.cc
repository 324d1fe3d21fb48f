#include <gtest/gtest.h>

#include <algorithm>

#include "config.h"
#include "eal.h"

namespace sluice::dataplane {
namespace {

DataplaneConfig two_ports(std::string a, std::string b) {
  DataplaneConfig c;
  c.instance = "t1";
  c.cores = {.main = 0, .workers = {2, 3}};
  c.ports = {{.name = "a", .device = std::move(a)}, {.name = "b", .device = std::move(b)}};
  return c;
}

bool has(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

bool has_pair(const std::vector<std::string>& args, const std::string& a, const std::string& b) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == a && args[i + 1] == b) return true;
  }
  return false;
}

TEST(EalArgs, VirtualDevicesWithoutHugepages) {
  auto args = build_eal_args(two_ports("net_ring0", "net_af_packet0,iface=veth1"),
                             {.hugepages_available = false}, "prog");
  EXPECT_EQ(args[0], "prog");
  EXPECT_TRUE(has_pair(args, "-l", "0,2,3"));
  EXPECT_TRUE(has_pair(args, "--main-lcore", "0"));
  EXPECT_TRUE(has_pair(args, "--file-prefix", "t1"));
  EXPECT_TRUE(has(args, "--no-huge"));
  EXPECT_TRUE(has_pair(args, "-m", "512"));
  EXPECT_FALSE(has(args, "--huge-unlink"));
  EXPECT_TRUE(has(args, "--vdev=net_ring0"));
  EXPECT_TRUE(has(args, "--vdev=net_af_packet0,iface=veth1"));
  EXPECT_TRUE(has(args, "--no-pci"));
}

TEST(EalArgs, HugepagesWhenAvailable) {
  auto args =
      build_eal_args(two_ports("net_ring0", "net_ring1"), {.hugepages_available = true}, "prog");
  EXPECT_FALSE(has(args, "--no-huge"));
  EXPECT_TRUE(has(args, "--huge-unlink"));
}

TEST(EalArgs, HugepagesOffWins) {
  auto c = two_ports("net_ring0", "net_ring1");
  c.hugepages = HugepageMode::kOff;
  EXPECT_TRUE(has(build_eal_args(c, {.hugepages_available = true}, "prog"), "--no-huge"));
}

TEST(EalArgs, HugepagesOnButMissingIsAnError) {
  auto c = two_ports("net_ring0", "net_ring1");
  c.hugepages = HugepageMode::kOn;
  EXPECT_THROW(build_eal_args(c, {.hugepages_available = false}, "prog"), ConfigError);
}

TEST(EalArgs, PciDevicesAreAllowListed) {
  auto args = build_eal_args(two_ports("0000:01:00.0", "01:00.1"), {}, "prog");
  EXPECT_TRUE(has_pair(args, "-a", "0000:01:00.0"));
  EXPECT_TRUE(has_pair(args, "-a", "01:00.1"));
  EXPECT_FALSE(has(args, "--no-pci"));
}

TEST(EalArgs, PciAddressRecognition) {
  EXPECT_TRUE(is_pci_address("0000:01:00.0"));
  EXPECT_TRUE(is_pci_address("af:00.7"));
  EXPECT_FALSE(is_pci_address("net_ring0"));
  EXPECT_FALSE(is_pci_address("0000:01:00.8"));
  EXPECT_FALSE(is_pci_address("01:00"));
}

TEST(EalArgs, EthdevNames) {
  EXPECT_EQ(ethdev_name({.name = "x", .device = "net_af_packet0,iface=veth1,qpairs=2"}),
            "net_af_packet0");
  EXPECT_EQ(ethdev_name({.name = "x", .device = "net_ring3"}), "net_ring3");
  EXPECT_EQ(ethdev_name({.name = "x", .device = "0000:01:00.0"}), "0000:01:00.0");
  EXPECT_EQ(ethdev_name({.name = "x", .device = "01:00.0"}), "0000:01:00.0");
}

}  // namespace
}  // namespace sluice::dataplane
