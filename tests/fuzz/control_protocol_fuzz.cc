// libFuzzer target: the control socket's decoders. The input is a byte stream fed to a
// FrameReader in chunks whose sizes come from the input itself; every message it yields must
// encode back to exactly the bytes it came from (the encoding is canonical). The seeds are frames
// of each message type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::control;
  const std::span<const uint8_t> input(data, size);
  FrameReader reader;
  size_t fed = 0, decoded = 0;
  while (fed < input.size()) {
    const size_t chunk = std::min<size_t>(input.size() - fed, 1 + input[fed] % 64);
    reader.append(input.subspan(fed, chunk));
    fed += chunk;
    Message m;
    std::string error;
    FrameReader::Status s;
    while ((s = reader.next(m, &error)) == FrameReader::Status::kMessage) {
      const std::vector<uint8_t> frame = encode(m);
      if (frame.size() > size - decoded || std::memcmp(frame.data(), data + decoded, frame.size()))
        abort();
      decoded += frame.size();
    }
    if (s == FrameReader::Status::kError) {
      if (error.empty()) abort();
      break;
    }
  }
  return 0;
}
