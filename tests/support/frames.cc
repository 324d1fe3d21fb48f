#include "frames.h"

#include <algorithm>
#include <cstdio>

namespace sluice::test {
namespace {

void put16(Frame& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

void put32(Frame& f, size_t at, uint32_t v) {
  put16(f, at, static_cast<uint16_t>(v >> 16));
  put16(f, at + 2, static_cast<uint16_t>(v));
}

}  // namespace

uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Frame udp4_frame(const UdpFrameSpec& spec) {
  constexpr size_t kEth = 14, kIp = 20, kUdp = 8;
  const size_t size = std::max(spec.frame_size, kEth + kIp + kUdp);
  Frame f(size, spec.fill);
  std::copy(spec.dst_mac.begin(), spec.dst_mac.end(), f.begin());
  std::copy(spec.src_mac.begin(), spec.src_mac.end(), f.begin() + 6);
  put16(f, 12, 0x0800);
  const size_t ip = kEth, udp = kEth + kIp;
  f[ip] = 0x45;
  f[ip + 1] = 0;
  put16(f, ip + 2, static_cast<uint16_t>(size - kEth));
  put32(f, ip + 4, 0x00004000);  // id 0, don't fragment
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  put16(f, ip + 10, 0);
  put32(f, ip + 12, spec.src_ip);
  put32(f, ip + 16, spec.dst_ip);
  put16(f, ip + 10, internet_checksum(&f[ip], kIp));
  const auto udp_len = static_cast<uint16_t>(size - kEth - kIp);
  put16(f, udp, spec.src_port);
  put16(f, udp + 2, spec.dst_port);
  put16(f, udp + 4, udp_len);
  put16(f, udp + 6, 0);
  uint32_t pseudo = (spec.src_ip >> 16) + (spec.src_ip & 0xffff) + (spec.dst_ip >> 16) + (spec.dst_ip & 0xffff) + 17 + udp_len;
  uint16_t csum = internet_checksum(&f[udp], udp_len, pseudo);
  put16(f, udp + 6, csum == 0 ? 0xffff : csum);
  return f;
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
