// libFuzzer target: the L4 balancer's frame parser. Every input must get a verdict; offsets of
// accepted frames must lie inside the frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "packet_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::lb;
  if (size > 65535) return 0;
  const auto len = static_cast<uint32_t>(size);
  // The first byte, when present, picks how much of the frame is contiguous, as a first mbuf
  // segment would be.
  const uint32_t header_len = size == 0 ? 0 : len - (data[0] % 8 == 0 ? data[0] % len : 0);
  PacketMeta meta;
  const PacketKind kind = parse_frame(data, header_len, len, size > 1 && data[1] == 0xff, meta);
  if (kind == PacketKind::kIp && (meta.l3_offset + meta.l3_length > len || meta.l4_offset > len))
    std::abort();
  if (kind == PacketKind::kDrop && meta.drop == sluice::DropReason::kCount) std::abort();
  return 0;
}
