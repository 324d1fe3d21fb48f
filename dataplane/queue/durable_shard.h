// A queue shard whose state survives crashes: a QueueEngine journaling into its own write-ahead
// log (wal_writer.h), rebuilt from that log when it opens (wal_recovery.h), compacted into a
// snapshot when the log outgrows the live data, and a durability gate for replies: a reply about
// a queue whose policy is fsync waits until the log is on disk up to the operation's last record.
// Single-threaded: the shard's core calls the engine, then poll() once per loop pass.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "clock.h"
#include "journal.h"
#include "queue_engine.h"
#include "wal_crypto.h"
#include "wal_recovery.h"
#include "wal_writer.h"

namespace sluice::queue {

struct DurableShardConfig {
  std::string directory;                              // this shard's log; created when missing
  EngineConfig engine;                                // its encryption_key_ids are set from `keys`
  std::map<std::string, wal::Key, std::less<>> keys;  // SluiceEncryptionKeyId -> AES-256 key
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Compaction: when the log passes both this size and compact_ratio times the last snapshot.
  uint64_t compact_min_bytes = uint64_t{64} << 20;
  uint32_t compact_ratio = 4;
  bool io_uring = true;
  wal::RecoveryOptions recovery;
};

// A reply held back until its records are durable. Owned by the caller; it must stay alive
// until on_durable() is called.
class DurableAck {
 public:
  virtual void on_durable() = 0;

 protected:
  ~DurableAck() = default;

 private:
  friend class DurableShard;
  DurableAck* next_ = nullptr;
  uint64_t lsn_ = 0;
};

struct DurableShardStats {
  uint64_t compactions = 0;
  uint64_t last_compaction_bytes = 0;  // the snapshot the last compaction wrote
  uint64_t log_bytes = 0;              // segments since the newest snapshot
};

class DurableShard final : private Journal {
 public:
  // Recovers the shard from `config.directory` and starts a new segment; null and `*error`
  // when recovery refuses or the log cannot be written.
  static std::unique_ptr<DurableShard> open(DurableShardConfig config, const Clock& clock,
                                            std::string* error);
  ~DurableShard();
  DurableShard(const DurableShard&) = delete;
  DurableShard& operator=(const DurableShard&) = delete;

  QueueEngine& engine() { return *engine_; }
  const wal::RecoveryReport& recovery() const { return recovery_; }

  // After an operation on `queue`: the LSN its reply must wait for, or 0 to reply now (the
  // queue's policy is interval or none, or everything is durable already).
  uint64_t ack_lsn(std::string_view queue) const;
  // Calls ack.on_durable() from poll() once the log is durable through `lsn` (at once if it is).
  void when_durable(uint64_t lsn, DurableAck& ack);

  // End of a loop pass: reaps finished I/O, releases the replies it made durable, submits what
  // was logged since (group commit), compacts or starts a new segment when due. Returns the
  // number of replies released.
  size_t poll();
  // Blocks until everything logged is durable and every reply released; false on I/O failure.
  bool sync();
  // Writes a snapshot of the live state as a new segment and removes the older ones (blocking).
  bool compact();

  uint64_t durable_lsn() const { return writer_->durable_lsn(); }
  uint64_t appended_lsn() const { return writer_->appended_lsn(); }
  const wal::WalWriter& writer() const { return *writer_; }
  const DurableShardStats& stats() const { return stats_; }
  // Non-empty once the log could not be written: replies wait for ever, the shard must stop.
  const std::string& failure() const;

 private:
  DurableShard(DurableShardConfig config, const Clock& clock);
  void record(const JournalRecord& record) override;
  size_t release_acks();
  wal::SegmentHeader header(bool snapshot) const;

  DurableShardConfig config_;
  const Clock& clock_;
  wal::KeyRing keys_;
  std::unique_ptr<QueueEngine> engine_;
  std::unique_ptr<wal::WalWriter> writer_;
  wal::RecoveryReport recovery_;
  DurableShardStats stats_;
  uint64_t counted_bytes_ = 0;  // writer bytes already in stats_.log_bytes
  std::string failure_;
  DurableAck* acks_head_ = nullptr;
  DurableAck* acks_tail_ = nullptr;
};

// Frames one journal record as a log record with LSN `lsn` into `out`, sealing the contents of
// encrypted queues with `keys`; `next_task` is the engine's task counter. False when it could
// not be sealed (nothing is left in `out`).
bool encode_journal_record(const JournalRecord& record, uint64_t next_task, uint64_t lsn,
                           wal::KeyRing& keys, wal::RecordBuffer& out);

}  // namespace sluice::queue
