// Test frames as plain bytes, so that packet tests state their inputs and expected outputs
// exactly. PacketBuilder (packet_builder.h) builds arbitrary stacks; these are shortcuts.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

using Frame = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

struct UdpFrameSpec {
  Mac dst_mac{0x02, 0, 0, 0, 0, 0x02};
  Mac src_mac{0x02, 0, 0, 0, 0, 0x01};
  uint32_t src_ip = 0x0a000001;  // 10.0.0.1
  uint32_t dst_ip = 0x0a000002;  // 10.0.0.2
  uint16_t src_port = 1234;
  uint16_t dst_port = 80;
  size_t frame_size = 64;  // total bytes on the wire without FCS; payload pads to it
  uint8_t fill = 0xab;     // payload byte
};

Frame udp4_frame(const UdpFrameSpec& spec);

// A frame of `size` bytes whose first 14 bytes are an Ethernet header when size allows.
Frame raw_frame(size_t size, uint8_t fill = 0x5a);

std::string hex_dump(const Frame& frame, size_t max_bytes = 64);

}  // namespace sluice::test
