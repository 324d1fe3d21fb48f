// A fluent builder for test frames: Ethernet, VLAN tags, IPv4 (with options), IPv6 (with
// extension headers), TCP, UDP, ICMP, ICMPv6 and raw payloads, with lengths and checksums filled
// in at build(). Layers are stacked in call order, so tunnels are built by stacking IP twice.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "frames.h"

namespace sluice::test {

using Ipv6Addr = std::array<uint8_t, 16>;

uint32_t ipv4(const char* dotted);
Ipv6Addr ipv6(const char* text);
Mac mac(const char* text);

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
}

class PacketBuilder {
 public:
  PacketBuilder& eth(Mac src, Mac dst, uint16_t ether_type = 0);  // type 0: from the next layer
  PacketBuilder& vlan(uint16_t vid, uint16_t tpid = 0x8100);
  PacketBuilder& ipv4(uint32_t src, uint32_t dst, uint8_t ttl = 64,
                      std::vector<uint8_t> options = {});
  PacketBuilder& ipv4_fragment(uint16_t offset_units,
                               bool more_fragments);  // applies to the last IPv4 layer
  PacketBuilder& ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t hop_limit = 64);
  // An IPv6 extension header (0 hop-by-hop, 43 routing, 60 destination options, 44 fragment)
  // with `body_bytes` of zeros after its first two bytes (rounded to the header's unit).
  PacketBuilder& ipv6_ext(uint8_t type, size_t body_bytes = 6);
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = tcp_flags::kAck,
                     uint32_t seq = 1, uint32_t ack = 0);
  PacketBuilder& udp(uint16_t sport, uint16_t dport);
  PacketBuilder& icmp(uint8_t type, uint8_t code, uint32_t rest = 0);   // ICMPv4
  PacketBuilder& icmp6(uint8_t type, uint8_t code, uint32_t rest = 0);  // ICMPv6
  PacketBuilder& payload(const std::vector<uint8_t>& bytes);
  PacketBuilder& payload(size_t n, uint8_t fill = 0xab);
  // Pads with zeros after everything else so that the frame is at least `n` bytes (Ethernet
  // minimum frames carry such trailing padding beyond the IP total length).
  PacketBuilder& pad_to(size_t n);

  Frame build() const;

 private:
  enum class Kind { kEth, kVlan, kIpv4, kIpv6, kIpv6Ext, kTcp, kUdp, kIcmp, kIcmp6, kPayload };
  struct Layer {
    Kind kind;
    std::vector<uint8_t> bytes;
    uint16_t type = 0;  // ext header type / vlan tpid / explicit ether type
  };
  std::vector<Layer> layers_;
  size_t pad_to_ = 0;
};

}  // namespace sluice::test
