#include "frames.h"

#include <cstdio>

#include "packet_builder.h"

namespace sluice::test {
Frame udp4_frame(const UdpFrameSpec& spec) {
  constexpr size_t kHeaders = 14 + 20 + 8;
  return PacketBuilder()
      .eth(spec.src_mac, spec.dst_mac)
      .ipv4(spec.src_ip, spec.dst_ip)
      .udp(spec.src_port, spec.dst_port)
      .payload(spec.frame_size > kHeaders ? spec.frame_size - kHeaders : 0, spec.fill)
      .build();
}

Frame raw_frame(size_t size, uint8_t fill) {
  Frame f(size, fill);
  if (size >= 14) {
    f[12] = 0x88;  // local experimental ethertype
    f[13] = 0xb5;
  }
  return f;
}

std::string hex_dump(const Frame& frame, size_t max_bytes) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < frame.size() && i < max_bytes; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", frame[i]);
    out += buf;
    if (i % 16 == 15) out += ' ';
  }
  if (frame.size() > max_bytes) out += "... (" + std::to_string(frame.size()) + " bytes)";
  return out;
}

}  // namespace sluice::test
