#include <gtest/gtest.h>

#include "lb_config.h"
#include "service_table.h"

namespace sluice::lb {
namespace {

IpAddress ip(const char* s) {
  return *parse_ip_address(s);
}

TEST(ServiceTable, ExactPortWinsOverWildcard) {
  ServiceTable t({{ip("10.0.0.1"), kProtoTcp, 80},
                  {ip("10.0.0.1"), kProtoTcp, 0},
                  {ip("10.0.0.1"), kProtoUdp, 53},
                  {ip("fd00::1"), kProtoTcp, 443}});
  EXPECT_EQ(t.find(ip("10.0.0.1"), kProtoTcp, 80), 0);
  EXPECT_EQ(t.find(ip("10.0.0.1"), kProtoTcp, 22), 1);
  EXPECT_EQ(t.find(ip("10.0.0.1"), kProtoUdp, 53), 2);
  EXPECT_EQ(t.find(ip("10.0.0.1"), kProtoUdp, 54), ServiceTable::kNone);
  EXPECT_EQ(t.find(ip("fd00::1"), kProtoTcp, 443), 3);
  EXPECT_EQ(t.find(ip("fd00::1"), kProtoTcp, 80), ServiceTable::kNone);
  EXPECT_EQ(t.find(ip("10.0.0.2"), kProtoTcp, 80), ServiceTable::kNone);
  EXPECT_TRUE(t.is_vip(ip("fd00::1")));
  EXPECT_FALSE(t.is_vip(ip("fd00::2")));
}

TEST(ServiceTable, ManyServices) {
  std::vector<ServiceTable::Key> keys;
  for (uint16_t i = 0; i < 5000; ++i) {
    uint8_t a[4] = {10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 1};
    keys.push_back(
        {IpAddress::from_v4(a), i % 2 ? kProtoUdp : kProtoTcp, static_cast<uint16_t>(1000 + i)});
  }
  ServiceTable t(keys);
  for (uint16_t i = 0; i < 5000; ++i) {
    EXPECT_EQ(t.find(keys[i].vip, keys[i].protocol, keys[i].port), i);
    EXPECT_EQ(t.find(keys[i].vip, keys[i].protocol, static_cast<uint16_t>(keys[i].port + 1)),
              ServiceTable::kNone);
  }
  EXPECT_EQ(ServiceTable({}).find(keys[0].vip, kProtoTcp, 1), ServiceTable::kNone);
}

}  // namespace
}  // namespace sluice::lb
