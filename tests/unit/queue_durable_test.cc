// A durable shard: acknowledgements that wait for the disk, the three policies, group commit,
// recovery to the exact state (also after compaction), compaction's bound, damaged logs cut at
// every byte, and encryption at rest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "durable_shard.h"
#include "queue_durable_util.h"

namespace sluice::queue::testing {
namespace {

namespace fs = std::filesystem;

class Flag final : public DurableAck {
 public:
  void on_durable() override { done = true; }
  bool done = false;
};

wal::Key key_of(uint8_t fill) {
  wal::Key k;
  k.fill(fill);
  return k;
}

class QueueDurable : public ::testing::Test {
 protected:
  DurableShardConfig config() {
    return {.directory = dir.shard(), .keys = {{"k1", key_of(1)}}, .io_uring = use_io_uring};
  }

  std::unique_ptr<DurableShard> open(DurableShardConfig c) {
    std::string error;
    auto s = DurableShard::open(std::move(c), clock, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }
  std::unique_ptr<DurableShard> open() { return open(config()); }

  void create(DurableShard& s, std::string_view name,
              std::initializer_list<AttributeValue> attributes = {}) {
    const std::vector<AttributeValue> a(attributes);
    auto r = s.engine().create_queue({.name = name, .attributes = a});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  SendResult send(DurableShard& s, std::string_view queue, std::string_view body,
                  SendEntry entry = {}) {
    entry.body = body;
    auto r = s.engine().send(queue, entry);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : SendResult{};
  }

  std::vector<Got> receive(DurableShard& s, std::string_view queue, uint32_t visibility = 30) {
    Collector c;
    s.engine().receive(
        {.queue = queue, .max_messages = 10, .visibility_timeout_s = visibility, .wait_time_s = 0},
        c);
    return c.got;
  }

  // The state `directory` recovers to, as dump() sees it, on a copy of the clock.
  std::vector<std::string> recovered_dump(const std::string& directory) {
    ManualClock copy(clock.now_ms());
    QueueEngine engine({}, copy);
    wal::KeyRing keys({{"k1", key_of(1)}});
    read_back(directory, engine, keys);
    return dump(engine, copy);
  }

  ManualClock clock;
  TempDir dir;
  bool use_io_uring = true;
};

TEST_F(QueueDurable, FsyncRepliesWaitForTheDiskOthersDoNot) {
  auto s = open();
  EXPECT_EQ(s->writer().backend(), "io_uring");
  create(*s, "strict");
  create(*s, "relaxed", {{"SluiceDurability", "interval:200"}});
  create(*s, "loose", {{"SluiceDurability", "none"}});
  s->sync();

  send(*s, "strict", "a");
  const uint64_t lsn = s->ack_lsn("strict");
  EXPECT_GT(lsn, s->durable_lsn());
  Flag ack;
  s->when_durable(lsn, ack);
  EXPECT_FALSE(ack.done);
  while (!ack.done) s->poll();
  EXPECT_GE(s->durable_lsn(), lsn);
  EXPECT_EQ(s->ack_lsn("strict"), 0u);  // nothing more to wait for

  send(*s, "relaxed", "b");
  EXPECT_EQ(s->ack_lsn("relaxed"), 0u);
  send(*s, "loose", "c");
  EXPECT_EQ(s->ack_lsn("loose"), 0u);
  const uint64_t syncs = s->writer().stats().syncs;
  while (s->writer().written_lsn() < s->appended_lsn() || s->writer().busy()) s->poll();
  EXPECT_EQ(s->writer().stats().syncs, syncs);  // written, not synced: 200 ms have not passed
  EXPECT_LT(s->durable_lsn(), s->appended_lsn());
  clock.advance(200);
  while (s->durable_lsn() < s->appended_lsn()) s->poll();
  EXPECT_EQ(s->writer().stats().syncs, syncs + 1);  // the interval's sync, with nothing new

  const uint64_t before = s->writer().stats().syncs;
  for (int i = 0; i < 100; ++i) send(*s, "loose", "d");
  while (s->writer().written_lsn() < s->appended_lsn() || s->writer().busy()) s->poll();
  EXPECT_EQ(s->writer().stats().syncs, before);  // none never syncs for itself
}

TEST_F(QueueDurable, GroupCommitOneWriteAndSyncPerPass) {
  auto s = open();
  create(*s, "q");
  s->sync();
  const auto before = s->writer().stats();
  std::vector<Flag> acks(100);
  for (Flag& a : acks) {
    send(*s, "q", "m");
    s->when_durable(s->ack_lsn("q"), a);
  }
  while (!acks.back().done) s->poll();
  for (const Flag& a : acks) EXPECT_TRUE(a.done);
  EXPECT_EQ(s->writer().stats().batches - before.batches, 1u);
  EXPECT_EQ(s->writer().stats().syncs - before.syncs, 1u);
}

TEST_F(QueueDurable, WithoutIoUringTheSameHolds) {
  use_io_uring = false;
  auto s = open();
  EXPECT_EQ(s->writer().backend(), "pwrite/fdatasync (io_uring turned off)");
  create(*s, "q");
  send(*s, "q", "m");
  Flag ack;
  s->when_durable(s->ack_lsn("q"), ack);
  s->poll();
  EXPECT_TRUE(ack.done);
  s.reset();
  auto again = open();
  EXPECT_EQ(receive(*again, "q").size(), 1u);
}

TEST_F(QueueDurable, RestartKeepsReceiptsDeletesAndDeduplication) {
  std::string handle;
  MessageId fifo_id;
  {
    auto s = open();
    create(*s, "q");
    create(*s, "f.fifo", {{"FifoQueue", "true"}});
    send(*s, "q", "kept");
    send(*s, "q", "deleted");
    fifo_id = send(*s, "f.fifo", "x", {.group_id = "g", .deduplication_id = "d"}).message_id;
    const auto got = receive(*s, "q");
    ASSERT_EQ(got.size(), 2u);
    for (const Got& g : got) {
      if (g.body == "deleted") {
        ASSERT_TRUE(s->engine().delete_message("q", g.handle).ok());
      } else {
        handle = g.handle;
      }
    }
    s->sync();
  }
  auto s = open();
  EXPECT_EQ(s->recovery().records, 8u);
  EXPECT_EQ(s->engine().counts("q").value().in_flight, 1u);
  EXPECT_TRUE(s->engine().delete_message("q", handle).ok());  // the receipt still works
  EXPECT_EQ(s->engine().counts("q").value().in_flight, 0u);
  const auto again = send(*s, "f.fifo", "y", {.group_id = "g", .deduplication_id = "d"});
  EXPECT_EQ(again.message_id, fifo_id);
  EXPECT_EQ(s->engine().counts("f.fifo").value().visible, 1u);
  const auto fresh = send(*s, "q", "new");
  EXPECT_FALSE(fresh.message_id == fifo_id);
}

// Random operations on standard, FIFO and dead-letter queues, then recovery: the same state.
void random_work(QueueDurable& t, DurableShard& s, ManualClock& clock, uint64_t seed,
                 bool compact_midway) {
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return rng() % n; };
  const std::string dlq_arn = s.engine().arn_of("dlq");
  ASSERT_TRUE(s.engine().create_queue({.name = "dlq"}).ok());
  const std::string policy = "{\"deadLetterTargetArn\":\"" + dlq_arn + "\",\"maxReceiveCount\":2}";
  const std::vector<AttributeValue> std_attrs = {{"RedrivePolicy", policy}};
  ASSERT_TRUE(s.engine().create_queue({.name = "std", .attributes = std_attrs}).ok());
  const std::vector<AttributeValue> fifo_attrs = {{"FifoQueue", "true"},
                                                  {"ContentBasedDeduplication", "true"}};
  ASSERT_TRUE(s.engine().create_queue({.name = "f.fifo", .attributes = fifo_attrs}).ok());
  const std::vector<AttributeValue> enc = {{"SluiceEncryptionKeyId", "k1"}};
  ASSERT_TRUE(s.engine().create_queue({.name = "secret", .attributes = enc}).ok());
  const char* queues[] = {"std", "f.fifo", "secret", "dlq"};
  std::vector<std::pair<std::string, std::string>> handles;
  for (int i = 0; i < 1500; ++i) {
    const std::string q = queues[pick(4)];
    const int op = static_cast<int>(pick(100));
    if (compact_midway && i == 700) {
      ASSERT_TRUE(s.compact());
    }
    if (op < 35) {
      std::string body = "m" + std::to_string(i);
      std::string group;
      SendEntry e;
      const std::string value = std::to_string(pick(5));
      const MessageAttribute attrs[] = {{"a", "String", value}};
      if (pick(2)) e.attributes = attrs;
      if (q == "f.fifo") {
        group = "g" + std::to_string(pick(4));
        e.group_id = group;
        body = "m" + std::to_string(pick(300));  // some repeat: deduplicated
      } else if (pick(5) == 0) {
        e.delay_s = static_cast<uint32_t>(pick(5));
      }
      e.body = body;
      s.engine().send(q, e, "sender");
    } else if (op < 60) {
      Collector c;
      s.engine().receive({.queue = q,
                          .max_messages = static_cast<uint32_t>(1 + pick(10)),
                          .visibility_timeout_s = static_cast<uint32_t>(pick(4)),
                          .wait_time_s = 0},
                         c);
      for (const Got& g : c.got) handles.emplace_back(q, g.handle);
    } else if (op < 75 && !handles.empty()) {
      const size_t k = pick(handles.size());
      s.engine().delete_message(handles[k].first, handles[k].second);
      handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (op < 82 && !handles.empty()) {
      const size_t k = pick(handles.size());
      s.engine().change_visibility(handles[k].first, handles[k].second,
                                   static_cast<uint32_t>(pick(3)));
    } else if (op < 92) {
      clock.advance(pick(1500));
      s.engine().run_timers();
    } else if (op < 94) {
      const std::string key = "k" + std::to_string(pick(3));
      const std::string value = std::to_string(i);
      const Tag tags[] = {{key, value}};
      s.engine().tag_queue(q, tags);
    } else if (op < 96) {
      const std::string value = std::to_string(pick(5));
      const AttributeValue a[] = {{"VisibilityTimeout", value}};
      s.engine().set_attributes(q, a);
    } else if (op < 97 && pick(4) == 0) {
      s.engine().purge(q);
    } else if (op < 99) {
      s.engine().start_move_task({.source_arn = dlq_arn, .max_messages_per_second = 3});
    } else {
      s.engine().run_timers();
    }
    if (pick(8) == 0) s.poll();
  }
  (void)t;
}

TEST_F(QueueDurable, RecoveryRebuildsTheExactState) {
  for (bool compact : {false, true}) {
    SCOPED_TRACE(compact ? "compacted midway" : "log only");
    fs::remove_all(dir.shard());
    auto s = open();
    random_work(*this, *s, clock, compact ? 7 : 3, compact);
    ASSERT_TRUE(s->sync());
    const std::vector<std::string> recovered = recovered_dump(dir.shard());
    const std::vector<std::string> live = dump(s->engine(), clock);
    EXPECT_GT(live.size(), 50u);
    EXPECT_EQ(recovered, live);
  }
}

TEST_F(QueueDurable, CompactionKeepsTheLogToTheLiveData) {
  auto c = config();
  c.compact_min_bytes = 1 << 20;
  c.segment_bytes = 256 << 10;
  auto s = open(c);
  create(*s, "q");
  const std::string body(256, 'b');
  uint64_t largest = 0;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 100; ++i) send(*s, "q", body);
    for (int i = 0; i < 10; ++i) {
      for (const Got& g : receive(*s, "q")) {
        if (round % 2 == 0 || g.body.size() != body.size()) {
          s->engine().delete_message("q", g.handle);
        }
      }
    }
    while (s->durable_lsn() < s->appended_lsn()) s->poll();
    largest = std::max(largest, log_size(dir.shard()));
  }
  const uint64_t live = s->engine().counts("q").value().in_flight;
  EXPECT_GT(s->stats().compactions, 2u);
  // Written in all: about 200 x 100 messages of 256 bytes and their deliveries and deletes.
  EXPECT_GT(s->writer().stats().bytes, uint64_t{8} << 20);
  EXPECT_LT(largest, (uint64_t{1} << 20) + 4 * s->stats().last_compaction_bytes + (512 << 10));
  ASSERT_TRUE(s->compact());
  const uint64_t compacted = log_size(dir.shard());
  // About 400 bytes of record per live message.
  EXPECT_LT(compacted, live * 500 + 4096) << live << " live messages";
  EXPECT_GT(compacted, live * 256);
  std::printf("[          ] compaction: %llu live messages, log %llu bytes at most, %llu after\n",
              static_cast<unsigned long long>(live), static_cast<unsigned long long>(largest),
              static_cast<unsigned long long>(compacted));
  s->sync();
  const auto live_dump = dump(s->engine(), clock);
  s.reset();
  ManualClock copy(clock.now_ms() - 3'600'000);
  QueueEngine engine({}, copy);
  wal::KeyRing keys;
  EXPECT_EQ(read_back(dir.shard(), engine, keys).segments, 1u);
}

// Builds a small log of three segments' worth of work and returns its directory's files.
class QueueDamagedLog : public QueueDurable {
 protected:
  void build() {
    auto s = open();
    create(*s, "q");
    for (int i = 0; i < 6; ++i) send(*s, "q", "message " + std::to_string(i));
    const auto got = receive(*s, "q");
    s->engine().delete_message("q", got[0].handle);
    s->sync();
  }
  std::string only_segment() {
    const auto segments = wal::list_segments(dir.shard());
    EXPECT_EQ(segments.size(), 1u);
    return wal::segment_path(dir.shard(), segments.front());
  }
};

TEST_F(QueueDamagedLog, CutOrChangedAtEveryByteRecoversAPrefix) {
  build();
  const std::string path = only_segment();
  const std::string good = read_all(path);
  const std::vector<std::string> full = recovered_dump(dir.shard());
  TempDir scratch;
  const std::string copy = scratch.path() + "/shard-0";
  const std::string copy_file = copy + "/" + fs::path(path).filename().string();
  size_t truncated = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (int damage = 0; damage < 2; ++damage) {
      fs::remove_all(copy);
      fs::create_directories(copy);
      std::string bytes = damage == 0 ? good.substr(0, at) : good;
      if (damage == 1) bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
      std::ofstream(copy_file, std::ios::binary) << bytes;
      ManualClock c(clock.now_ms());
      QueueEngine engine({}, c);
      wal::KeyRing keys;
      wal::RecoveryReport report;
      std::string error;
      // Repairing syncs the disk: every 97th case repairs, the others only read.
      const bool repair = at % 97 == 0;
      ASSERT_TRUE(wal::recover(copy, engine, keys, {.repair = repair}, &report, &error))
          << "byte " << at << ": " << error;
      if (!report.notes.empty()) ++truncated;
      ASSERT_LE(report.notes.size(), 1u);
      // What survives is a prefix of the good log; repaired, the file ends where it does.
      EXPECT_EQ(good.compare(0, report.bytes, bytes, 0, report.bytes), 0);
      if (repair) {
        EXPECT_EQ(report.bytes, fs::exists(copy_file) ? fs::file_size(copy_file) : 0);
      }
      EXPECT_LE(engine.counts("q").ok()
                    ? engine.counts("q").value().visible + engine.counts("q").value().in_flight
                    : 0,
                6u);
    }
  }
  EXPECT_GE(truncated, good.size());
  // The message shape: file, what and where, what was done, how much is left.
  fs::remove_all(copy);
  fs::create_directories(copy);
  std::ofstream(copy_file, std::ios::binary) << good.substr(0, good.size() - 10);
  ManualClock c(clock.now_ms());
  QueueEngine engine({}, c);
  wal::KeyRing keys;
  wal::RecoveryReport report;
  std::string error;
  ASSERT_TRUE(wal::recover(copy, engine, keys, {}, &report, &error));
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_TRUE(report.notes[0].starts_with("queue log shard-0/000001.wal: torn record at offset "))
      << report.notes[0];
  EXPECT_NE(report.notes[0].find("bytes present); truncated, 13 records recovered"),
            std::string::npos)
      << report.notes[0];
  EXPECT_EQ(full.empty(), false);
}

TEST_F(QueueDamagedLog, CorruptOlderSegmentRefusesUnlessToldToTruncate) {
  build();
  {
    auto s = open();  // a second segment after the first
    send(*s, "q", "later");
    s->sync();
  }
  const auto segments = wal::list_segments(dir.shard());
  ASSERT_EQ(segments.size(), 2u);
  const std::string first = wal::segment_path(dir.shard(), segments[0]);
  std::string bytes = read_all(first);
  bytes[bytes.size() - 5] ^= 1;
  std::ofstream(first, std::ios::binary) << bytes;
  std::string error;
  EXPECT_EQ(DurableShard::open(config(), clock, &error), nullptr);
  EXPECT_NE(error.find("queue log shard-0/000001.wal: corrupt record at offset"), std::string::npos)
      << error;
  EXPECT_NE(error.find("refusing to start"), std::string::npos) << error;
  auto c = config();
  c.recovery.truncate_corrupt = true;
  auto s = open(c);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->recovery().notes.size(), 1u);
  EXPECT_NE(s->recovery().notes[0].find("later segments discarded"), std::string::npos);
  // The delete at the end of the first segment and the message in the second are gone.
  EXPECT_EQ(s->engine().counts("q").value().visible, 0u);
  EXPECT_EQ(s->engine().counts("q").value().in_flight, 6u);
}

TEST_F(QueueDurable, EncryptedQueuesNeverWritePlaintext) {
  const std::string body = "TOP-SECRET-BODY-0123456789";
  const std::string value = "TOP-SECRET-ATTRIBUTE";
  {
    auto s = open();
    create(*s, "vault.fifo", {{"FifoQueue", "true"}, {"SluiceEncryptionKeyId", "k1"}});
    create(*s, "open");
    const MessageAttribute attrs[] = {{"a", "String", value}};
    send(*s, "vault.fifo", body,
         {.attributes = attrs, .group_id = "group-1", .deduplication_id = "SECRET-DEDUP"});
    send(*s, "open", "plain-visible");
    ASSERT_TRUE(s->compact());  // the snapshot too
    send(*s, "vault.fifo", body + "2", {.group_id = "group-1", .deduplication_id = "SECRET-2"});
    s->sync();
    const AttributeValue bad[] = {{"SluiceEncryptionKeyId", "nope"}};
    EXPECT_EQ(s->engine().set_attributes("open", bad).error().code,
              ErrorCode::kInvalidAttributeValue);
  }
  const std::string log = log_bytes(dir.shard());
  EXPECT_EQ(log.find("TOP-SECRET"), std::string::npos);
  EXPECT_EQ(log.find("SECRET-DEDUP"), std::string::npos);
  EXPECT_EQ(log.find("group-1"), std::string::npos);
  EXPECT_NE(log.find("plain-visible"), std::string::npos);  // the check can see plaintext

  auto s = open();
  const auto got = receive(*s, "vault.fifo");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, body);
  EXPECT_EQ(got[0].attributes.front().second, value);
  EXPECT_EQ(got[0].dedup, "SECRET-DEDUP");
  s.reset();

  // Without the key (or with another) the shard does not start, and the log is left alone.
  const uint64_t size = log_size(dir.shard());
  for (const auto& keys : {std::map<std::string, wal::Key, std::less<>>{},
                           std::map<std::string, wal::Key, std::less<>>{{"k1", key_of(2)}}}) {
    auto c = config();
    c.keys = keys;
    std::string error;
    EXPECT_EQ(DurableShard::open(c, clock, &error), nullptr);
    EXPECT_NE(error.find("refusing to start"), std::string::npos) << error;
    EXPECT_EQ(log_size(dir.shard()), size);
  }
}

TEST_F(QueueDurable, RecoveryTimeIsReported) {
  {
    auto c = config();
    auto s = open(c);
    create(*s, "q");
    const std::string body(256, 'r');
    const std::string ids[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    std::array<SendEntry, 10> batch;
    for (size_t i = 0; i < batch.size(); ++i) batch[i] = {.id = ids[i], .body = body};
    for (int i = 0; i < 10000; ++i) {
      s->engine().send_batch("q", batch);
      if (i % 100 == 0) s->poll();
    }
    s->sync();
  }
  auto s = open();
  EXPECT_EQ(s->engine().counts("q").value().visible, 100000u);
  std::printf("[          ] recovery: %s records, %s bytes in %.3f s\n",
              wal::with_commas(s->recovery().records).c_str(),
              wal::with_commas(s->recovery().bytes).c_str(), s->recovery().seconds);
}

}  // namespace
}  // namespace sluice::queue::testing
