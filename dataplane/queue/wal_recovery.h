// Rebuilds a queue shard from its log directory at start-up. Segments are read in order from the
// newest complete snapshot on; every record is checked (CRC, LSN sequence, fit with the state)
// and applied to a fresh engine. A torn or corrupt record in the last segment is where the log
// ends: the file is truncated there and the report says so. One in an older segment means
// acknowledged records after it would be lost, so recovery refuses unless told to truncate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "queue_engine.h"
#include "wal_crypto.h"

namespace sluice::queue::wal {

struct RecoveryOptions {
  // Truncate torn tails, remove superseded and unfinished segments. Off: read only (a checker).
  bool repair = true;
  // A bad record in an older segment: cut the log there (dropping the later segments) instead of
  // refusing to start.
  bool truncate_corrupt = false;
};

struct RecoveryReport {
  uint64_t records = 0;
  uint64_t segments = 0;
  uint64_t bytes = 0;           // of the segments replayed, as they are after repair
  uint64_t snapshot_bytes = 0;  // of the snapshot replay started from (0: none)
  uint64_t last_lsn = 0;
  uint64_t next_segment = 1;
  double seconds = 0;
  std::vector<std::string> notes;  // one line per repair, for the operator
};

// Replays the log in `directory` (missing or empty: nothing to do) into `engine`, which must be
// fresh, and calls engine.finish_restore(). False and `*error` when it refuses.
bool recover(const std::string& directory, QueueEngine& engine, KeyRing& keys,
             const RecoveryOptions& options, RecoveryReport* report, std::string* error);

// 1234567 -> "1,234,567".
std::string with_commas(uint64_t n);

}  // namespace sluice::queue::wal
