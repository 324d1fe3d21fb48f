// Appends a queue shard's log records to its segment files and makes them durable with group
// commit: records collect in memory while the shard works; flush() writes all of them with one
// write, followed by one fdatasync when a record in the batch needs it (its queue's policy is
// fsync, or an interval queue's time is up), through io_uring, or with pwrite and fdatasync when
// the kernel has no usable io_uring. One batch is in flight at a time; what arrives meanwhile
// forms the next. Single-threaded: the shard's own core.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue_types.h"
#include "wal_record.h"

namespace sluice::queue::wal {

// The path of segment `number` in `directory`: 000001.wal, 000002.wal, ...
std::string segment_path(std::string_view directory, uint64_t number);
// The numbers of the segments in `directory`, ascending (none when it does not exist).
std::vector<uint64_t> list_segments(const std::string& directory);
// fsync of a directory, so that files created or removed in it stay so; false on failure.
bool sync_directory(const std::string& directory);
// pwrite of all `size` bytes at `offset`, retried when interrupted or short; false on error.
bool write_fully(int fd, const uint8_t* data, size_t size, uint64_t offset);

struct WriterStats {
  uint64_t batches = 0;
  uint64_t syncs = 0;
  uint64_t bytes = 0;
};

class WalWriter {
 public:
  // Creates segment `segment` in `directory` with `header` (first LSN `next_lsn`), synced; null
  // and `*error` on failure. `use_io_uring` false, or a kernel without it, writes synchronously.
  static std::unique_ptr<WalWriter> create(const std::string& directory, uint64_t segment,
                                           uint64_t next_lsn, uint64_t now_ms,
                                           const SegmentHeader& header, bool use_io_uring,
                                           std::string* error);
  ~WalWriter();
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  // Appending: frame a record with LSN next_lsn() into buffer(), then call committed() with its
  // queue's policy and time.
  RecordBuffer& buffer() { return fill_; }
  uint64_t next_lsn() const { return next_lsn_; }
  void committed(const Durability& durability, uint64_t at_ms);

  // Reaps finished I/O without blocking; true when a batch (or sync) completed.
  bool poll();
  // Submits the waiting records (and the sync they need) when nothing is in flight.
  void flush(uint64_t now_ms);
  // Blocks until everything appended so far is durable; false on an I/O error.
  bool sync(uint64_t now_ms);

  uint64_t appended_lsn() const { return next_lsn_ - 1; }
  uint64_t written_lsn() const { return written_lsn_; }
  uint64_t durable_lsn() const { return durable_lsn_; }
  bool busy() const { return inflight_.active; }
  bool idle() const { return !busy() && fill_.empty() && written_lsn_ == durable_lsn_; }
  // Non-empty once a write or sync failed: nothing more becomes durable.
  const std::string& failure() const { return failure_; }
  // How the log is written: "io_uring", or the fallback and why.
  const std::string& backend() const { return backend_; }
  uint64_t segment() const { return segment_; }
  uint64_t segment_bytes() const { return offset_; }
  const WriterStats& stats() const { return stats_; }

  // Moves on to a new segment, number segment() + 1, when nothing is in flight: the current one
  // is synced first; records waiting to be written go to the new one.
  bool roll(uint64_t now_ms, const SegmentHeader& header);
  // Continues in segment `segment`, already written and synced up to `size` bytes through LSN
  // `last_lsn` (compaction's snapshot); the writer takes `fd`.
  void adopt(uint64_t segment, int fd, uint64_t size, uint64_t last_lsn);

 private:
  WalWriter(std::string directory, uint64_t next_lsn);
  bool open_segment(uint64_t segment, uint64_t now_ms, const SegmentHeader& header);
  void submit();
  void write_now();
  void finish();
  void fail(std::string_view what, int error);

  std::string directory_;
  std::string backend_;
  std::string failure_;
  int fd_ = -1;
  uint64_t segment_ = 0;
  uint64_t offset_ = 0;  // bytes written to the current segment

  io_uring ring_{};
  bool uring_ = false;

  RecordBuffer fill_;
  RecordBuffer sending_;
  uint64_t next_lsn_ = 1;
  uint64_t written_lsn_ = 0;
  uint64_t durable_lsn_ = 0;
  bool batch_needs_sync_ = false;
  uint64_t sync_due_ms_ = UINT64_MAX;  // an interval queue's written records must be synced by

  // The batch being written (sending_, possibly empty) and synced.
  struct InFlight {
    bool active = false;
    bool writing = false;    // a write is outstanding
    bool syncing = false;    // an fdatasync is outstanding
    bool want_sync = false;  // the batch ends with an fdatasync
    bool synced = false;
    size_t done = 0;        // bytes of sending_ written
    uint64_t last_lsn = 0;  // the batch's last record
  } inflight_;
  WriterStats stats_;
};

}  // namespace sluice::queue::wal
