// Helpers for the queue log's tests: a scratch directory, reading a log back without changing it,
// and a dump of a shard's whole state through the engine's public API for comparing two shards.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "clock.h"
#include "queue_engine.h"
#include "queue_test_util.h"
#include "wal_recovery.h"
#include "wal_writer.h"

namespace sluice::queue::testing {

// A directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sluice-wal-XXXXXX";
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string shard() const { return path_ + "/shard-0"; }

 private:
  std::string path_;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The bytes of every segment in `directory`, one after another.
inline std::string log_bytes(const std::string& directory) {
  std::string all;
  for (uint64_t n : wal::list_segments(directory)) all += read_all(wal::segment_path(directory, n));
  return all;
}

inline uint64_t log_size(const std::string& directory) {
  uint64_t n = 0;
  for (uint64_t s : wal::list_segments(directory)) {
    n += std::filesystem::file_size(wal::segment_path(directory, s));
  }
  return n;
}

// Replays `directory` into `engine` without repairing anything; the report, or a failure.
inline wal::RecoveryReport read_back(const std::string& directory, QueueEngine& engine,
                                     wal::KeyRing& keys) {
  wal::RecoveryReport report;
  std::string error;
  EXPECT_TRUE(wal::recover(directory, engine, keys, {.repair = false}, &report, &error)) << error;
  return report;
}

// Receives every visible message of `queue` (keeping them in flight for 12 hours).
inline std::vector<Got> receive_all(QueueEngine& engine, std::string_view queue) {
  std::vector<Got> all;
  for (;;) {
    Collector c;
    engine.receive({.queue = queue,
                    .max_messages = 10,
                    .visibility_timeout_s = limits::kMaxVisibilitySeconds,
                    .wait_time_s = 0},
                   c);
    if (c.error || c.got.empty()) return all;
    all.insert(all.end(), c.got.begin(), c.got.end());
  }
}

// Everything a client can see of a shard, as text: queues, attributes, tags, counts, then every
// message with its fields (visible ones first, in delivery order, then, with the clock moved on
// by an hour, the ones that were delayed or in flight). Consumes the shard's messages.
inline std::vector<std::string> dump(QueueEngine& engine, ManualClock& clock) {
  std::vector<std::string> out;
  const auto queues = engine.list_queues("", 1000);
  auto describe = [&](const std::string& q, const Got& g) {
    std::string s =
        q + " " + g.id + " body=" + g.body + " count=" + std::to_string(g.receive_count) +
        " sent=" + std::to_string(g.sent_ms) + " first=" + std::to_string(g.first_receive_ms) +
        " seq=" + std::to_string(g.sequence) + " group=" + g.group + " dedup=" + g.dedup +
        " sender=" + g.sender + " dlq=" + g.dead_letter_source;
    for (const auto& [n, v] : g.attributes) s += " " + n + "=" + v;
    return s;
  };
  for (const std::string& q : queues) {
    const std::string_view all[] = {"All"};
    const auto attributes = engine.get_attributes(q, all);
    for (const auto& [n, v] : attributes.value()) out.push_back(q + " attribute " + n + "=" + v);
    const auto tags = engine.list_tags(q);
    for (const auto& [k, v] : tags.value()) out.push_back(q + " tag " + k + "=" + v);
    const auto tasks = engine.list_move_tasks(engine.arn_of(q), 10);
    if (tasks) {
      for (const MoveTaskInfo& t : tasks.value()) {
        out.push_back(q + " task " + t.task_handle + " " +
                      std::string(move_task_status_name(t.status)) + " " +
                      std::to_string(t.approximate_messages_moved) + "/" +
                      std::to_string(t.approximate_messages_to_move));
      }
    }
  }
  for (const std::string& q : queues) {
    for (const Got& g : receive_all(engine, q)) out.push_back("visible " + describe(q, g));
  }
  clock.advance(3'600'000);
  engine.run_timers();
  for (const std::string& q : queues) {
    std::vector<std::string> later;
    for (const Got& g : receive_all(engine, q)) later.push_back("later " + describe(q, g));
    std::sort(later.begin(), later.end());
    out.insert(out.end(), later.begin(), later.end());
  }
  return out;
}

}  // namespace sluice::queue::testing
