// libFuzzer target: the queue log's record decoder and its replay. The input is a segment file.
// With the first byte odd, the CRC of every frame is set right first (walking the frames by their
// declared lengths), so that the payload decoders and the engine's restore see the mutations
// instead of the checksum stopping them. Decoding must never read past the input, and replay must
// refuse or repair a bad log, never crash. The seeds are segments of small real logs.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "clock.h"
#include "queue_engine.h"
#include "wal_record.h"
#include "wal_recovery.h"
#include "wal_writer.h"

namespace {

using namespace sluice::queue;

void fix_checksums(std::vector<uint8_t>& bytes) {
  size_t offset = 0;
  while (bytes.size() - offset >= wal::kFrameHeader) {
    uint32_t length = 0;
    std::memcpy(&length, bytes.data() + offset + 4, 4);
    if (length > bytes.size() - offset - wal::kFrameHeader) return;
    const uint32_t crc = wal::crc32c(0, bytes.data() + offset + 4, wal::kFrameHeader - 4 + length);
    std::memcpy(bytes.data() + offset, &crc, 4);
    offset += wal::kFrameHeader + length;
  }
}

const std::string& scratch() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/sluice-wal-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) abort();
    return pattern;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (data[0] % 2 == 1) fix_checksums(bytes);

  // Every frame of the input through the decoders.
  size_t offset = 0;
  for (;;) {
    const wal::FrameResult r = wal::decode_frame(bytes, offset);
    if (r.status != wal::FrameStatus::kOk) break;
    if (r.frame.size < wal::kFrameHeader || r.frame.size > bytes.size() - offset) abort();
    wal::Entry e;
    wal::decode_entry(r.frame, &e);
    offset += r.frame.size;
  }

  // The input as the only segment of a shard's log, replayed.
  const std::string segment = wal::segment_path(scratch(), 1);
  std::ofstream(segment, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  ManualClock clock;
  QueueEngine engine({.memory_budget_bytes = 8 << 20, .encryption_key_ids = {"k1"}}, clock);
  wal::Key key;
  key.fill(1);
  wal::KeyRing keys({{"k1", key}});
  wal::RecoveryReport report;
  std::string error;
  if (wal::recover(scratch(), engine, keys, {.repair = false}, &report, &error)) {
    const auto names = engine.list_queues("", 100);
    for (const std::string& name : names) engine.counts(name);
  }
  return 0;
}
