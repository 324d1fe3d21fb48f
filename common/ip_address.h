// IPv4 and IPv6 addresses and prefixes in one type (and MAC addresses beside them). IPv4 is held
// IPv4-mapped (::ffff:a.b.c.d), so flow keys, tables and comparisons need no per-family variants.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

enum : uint8_t { kFamilyNone = 0, kFamilyV4 = 4, kFamilyV6 = 6 };

using MacAddress = std::array<uint8_t, 6>;

struct IpAddress {
  using Bytes = std::array<uint8_t, 16>;
  Bytes bytes{};  // network byte order

  static IpAddress from_v4(const uint8_t* p) {
    IpAddress a;
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], p, 4);
    return a;
  }
  static IpAddress from_v6(const uint8_t* p) {
    IpAddress a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  const uint8_t* v4() const { return &bytes[12]; }
  bool is_v4() const {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kMapped, 12) == 0;
  }
  uint8_t family() const { return is_v4() ? kFamilyV4 : kFamilyV6; }
  bool operator==(const IpAddress&) const = default;
  auto operator<=>(const IpAddress&) const = default;
};

// Parses "192.0.2.1" or "2001:db8::1".
inline std::optional<IpAddress> parse_ip_address(std::string_view text) {
  const std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return IpAddress::from_v4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return IpAddress::from_v6(buf);
  return std::nullopt;
}

inline std::string format_ip_address(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  if (a.is_v4()) {
    inet_ntop(AF_INET, a.v4(), buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

// An address with a prefix length counted in its own family (/24 for IPv4, /64 for IPv6).
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;

  bool contains(const IpAddress& a) const {
    if (a.is_v4() != address.is_v4()) return false;
    const unsigned bits = (address.is_v4() ? 96u : 0u) + length;
    const unsigned whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a.bytes.data(), address.bytes.data(), whole) != 0) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a.bytes[whole] & mask) == (address.bytes[whole] & mask);
  }
};

// Parses "10.0.0.2/24" or "fd00::2/64"; a bare address gets the full length.
inline std::optional<IpPrefix> parse_ip_prefix(std::string_view text) {
  const auto slash = text.find('/');
  auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned max = address->is_v4() ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      length = length * 10 + static_cast<unsigned>(c - '0');
    }
    if (length > max) return std::nullopt;
  }
  return IpPrefix{*address, static_cast<uint8_t>(length)};
}

}  // namespace sluice
