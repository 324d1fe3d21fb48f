// The queue log's record format: CRC32C, every record kind through encode and decode, and a
// torn or corrupt record detected at every byte without reading past the buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "wal_record.h"

namespace sluice::queue::wal {
namespace {

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

QueueImage sample_queue() {
  QueueImage q;
  q.id = 7;
  q.name = "orders.fifo";
  q.settings.fifo = true;
  q.settings.visibility_timeout_s = 45;
  q.settings.content_based_deduplication = true;
  q.settings.deduplication_scope = DeduplicationScope::kMessageGroup;
  q.settings.redrive_policy = RedrivePolicy{"arn:aws:sqs:us-east-1:000000000000:dlq.fifo", 3};
  q.settings.redrive_allow_policy =
      RedriveAllowPolicy{RedrivePermission::kByQueue, {"arn:aws:sqs:us-east-1:000000000000:a"}};
  q.settings.policy = "{\n \"Version\": \"2012-10-17\"\n}";
  q.settings.durability = {DurabilityMode::kInterval, 250};
  q.settings.encryption_key_id = "k1";
  q.tags = {{"team", "payments"}, {"env", ""}};
  q.created_ms = 1;
  q.modified_ms = 2;
  q.last_purge_ms = 3;
  q.purged = true;
  q.next_sequence = 99;
  q.dead_lettered_in = 4;
  q.move_tasks.push_back(MoveTaskInfo{.task_handle = "0123456789abcdef:orders.fifo",
                                      .status = MoveTaskStatus::kFailed,
                                      .source_arn = "arn:src",
                                      .max_messages_per_second = 5,
                                      .approximate_messages_moved = 6,
                                      .approximate_messages_to_move = 7,
                                      .started_timestamp_ms = 8,
                                      .failure_reason = "why"});
  q.move_running = false;
  q.move_destination = "dest";
  q.next_task = 12;
  return q;
}

// A buffer of one record of each kind.
RecordBuffer sample_log() {
  RecordBuffer b;
  encode_header(b, 1, 100, {.segment = 3, .snapshot = true, .state = {9, 8, 7, 6}});
  encode_queue(b, 1, 101, sample_queue());
  const std::string contents =
      "hello"
      "ATTR"
      "me"
      ""
      "d1"
      "g1";
  MessageImage m{.queue_id = 7,
                 .slot = 12,
                 .sent_ms = 5,
                 .enqueued_ms = 6,
                 .sequence = 1,
                 .deadline_ms = 77,
                 .receive_count = 2,
                 .state = 3,
                 .flags = kMessageAccepted,
                 .body_len = 5,
                 .attributes_len = 4,
                 .sender_len = 2,
                 .dedup_len = 2,
                 .group_len = 2,
                 .dead_letter_source = "arn:x"};
  m.id.bytes[0] = 0xab;
  begin_message(b, 2, 0, 102, m, contents.size());
  b.put(contents.data(), contents.size());
  b.end();
  encode_ref(b, RecordType::kMessageDelivered, 3, 103,
             {.queue_id = 7,
              .slot = 12,
              .receipt = 44,
              .deadline_ms = 55,
              .receive_count = 3,
              .first_receive_ms = 66});
  encode_ref(b, RecordType::kMessageReleased, 4, 104,
             {.queue_id = 7, .slot = 12, .reason = static_cast<uint8_t>(ReleaseReason::kExpired)});
  encode_queue_event(b, RecordType::kQueuePurged, 5, 105, 7, "orders.fifo");
  begin_dedup(b, 6, 0, 106, {.queue_id = 7, .expires_ms = 9, .sequence = 1}, 3);
  b.put("key", 3);
  b.end();
  encode_snapshot_end(b, 7, 107);
  return b;
}

// Decodes every record; the offsets where each starts, or stops at the first bad one.
std::vector<size_t> starts(std::span<const uint8_t> bytes, FrameStatus* last) {
  std::vector<size_t> out;
  size_t offset = 0;
  for (;;) {
    const FrameResult r = decode_frame(bytes, offset);
    *last = r.status;
    if (r.status != FrameStatus::kOk) return out;
    Entry e;
    EXPECT_TRUE(decode_entry(r.frame, &e)) << "record at " << offset;
    out.push_back(offset);
    offset += r.frame.size;
  }
}

TEST(QueueWalRecord, Crc32cKnownValue) {
  EXPECT_EQ(crc32c(0, bytes_of("123456789").data(), 9), 0xe3069283u);
  const std::string long_input(1000, 'x');
  // Split anywhere, the running CRC is the same as in one call over the whole.
  const uint32_t whole = crc32c(0, bytes_of(long_input).data(), long_input.size());
  EXPECT_EQ(
      crc32c(crc32c(0, bytes_of(long_input).data(), 333), bytes_of(long_input).data() + 333, 667),
      whole);
}

TEST(QueueWalRecord, EveryKindRoundTrips) {
  const RecordBuffer b = sample_log();
  const std::span<const uint8_t> bytes(b.data(), b.size());
  std::vector<Entry> entries;
  for (size_t offset = 0;;) {
    const FrameResult r = decode_frame(bytes, offset);
    if (r.status == FrameStatus::kEnd) break;
    ASSERT_EQ(r.status, FrameStatus::kOk) << r.reason;
    entries.emplace_back();
    ASSERT_TRUE(decode_entry(r.frame, &entries.back()));
    offset += r.frame.size;
  }
  ASSERT_EQ(entries.size(), 8u);
  EXPECT_EQ(entries[0].header.segment, 3u);
  EXPECT_TRUE(entries[0].header.snapshot);
  EXPECT_EQ(entries[0].header.state.next_queue_id, 6u);
  const QueueImage q = sample_queue();
  EXPECT_EQ(entries[1].queue.settings, q.settings);
  EXPECT_EQ(entries[1].queue.tags, q.tags);
  EXPECT_EQ(entries[1].queue.name, q.name);
  EXPECT_EQ(entries[1].queue.move_tasks.front().failure_reason, "why");
  EXPECT_EQ(entries[1].queue.next_task, 12u);
  EXPECT_EQ(entries[1].at_ms, 101u);
  const MessageImage& m = entries[2].message;
  EXPECT_EQ(m.slot, 12u);
  EXPECT_EQ(m.id.bytes[0], 0xab);
  EXPECT_EQ(m.deadline_ms, 77u);
  EXPECT_EQ(m.dead_letter_source, "arn:x");
  EXPECT_EQ(std::string(m.contents.begin(), m.contents.end()), "helloATTRmed1g1");
  EXPECT_EQ(entries[3].ref.receipt, 44u);
  EXPECT_EQ(entries[3].ref.first_receive_ms, 66u);
  EXPECT_EQ(entries[4].ref.reason, static_cast<uint8_t>(ReleaseReason::kExpired));
  EXPECT_EQ(entries[5].name, "orders.fifo");
  EXPECT_EQ(std::string(entries[6].dedup.key.begin(), entries[6].dedup.key.end()), "key");
  EXPECT_EQ(entries[7].type, RecordType::kSnapshotEnd);
  EXPECT_EQ(entries[7].lsn, 7u);
}

TEST(QueueWalRecord, CutAnywhereIsTornAfterTheLastWholeRecord) {
  const RecordBuffer b = sample_log();
  FrameStatus last{};
  const std::vector<size_t> all = starts({b.data(), b.size()}, &last);
  ASSERT_EQ(last, FrameStatus::kEnd);
  std::vector<size_t> ends(all.begin() + 1, all.end());
  ends.push_back(b.size());
  for (size_t cut = 0; cut < b.size(); ++cut) {
    // A copy of exactly `cut` bytes, so that a read past it is a sanitizer error.
    std::vector<uint8_t> part(b.data(), b.data() + cut);
    const std::vector<size_t> got = starts(part, &last);
    const auto whole = static_cast<size_t>(
        std::count_if(ends.begin(), ends.end(), [cut](size_t end) { return end <= cut; }));
    const bool at_boundary = cut == 0 || std::find(ends.begin(), ends.end(), cut) != ends.end();
    EXPECT_EQ(got.size(), whole) << "cut at " << cut;
    EXPECT_EQ(last, at_boundary ? FrameStatus::kEnd : FrameStatus::kTorn) << "cut at " << cut;
  }
}

TEST(QueueWalRecord, AnyChangedByteIsCaught) {
  const RecordBuffer b = sample_log();
  FrameStatus last{};
  const std::vector<size_t> all = starts({b.data(), b.size()}, &last);
  for (size_t at = 0; at < b.size(); ++at) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::vector<uint8_t> bad(b.data(), b.data() + b.size());
      bad[at] ^= flip;
      const std::vector<size_t> got = starts(bad, &last);
      const size_t hit =
          static_cast<size_t>(std::upper_bound(all.begin(), all.end(), at) - all.begin() - 1);
      EXPECT_EQ(got.size(), hit) << "byte " << at;
      EXPECT_NE(last, FrameStatus::kEnd) << "byte " << at;
    }
  }
}

TEST(QueueWalRecord, ZerosAfterTheLastRecordAreATornTail) {
  RecordBuffer b = sample_log();
  const size_t end = b.size();
  std::memset(b.reserve(4096), 0, 4096);
  b.advance(4096);
  FrameStatus last{};
  EXPECT_EQ(starts({b.data(), b.size()}, &last).size(), 8u);
  EXPECT_EQ(last, FrameStatus::kTorn);
  EXPECT_EQ(decode_frame({b.data(), b.size()}, end).reason, "zeros where a record should start");
}

TEST(QueueWalRecord, PayloadThatDoesNotParseIsRejected) {
  RecordBuffer b;
  b.begin(RecordType::kMessageReleased, 0, 1);
  b.put_u64(1);
  b.put_u32(7);  // the slot and the rest are missing
  b.end();
  const FrameResult r = decode_frame({b.data(), b.size()}, 0);
  ASSERT_EQ(r.status, FrameStatus::kOk);
  Entry e;
  EXPECT_FALSE(decode_entry(r.frame, &e));
  RecordBuffer flags;
  flags.begin(RecordType::kQueuePurged, kFlagEncrypted, 1);
  flags.put_u64(1);
  flags.put_u32(1);
  flags.put_str("q");
  flags.end();
  EXPECT_FALSE(decode_entry(decode_frame({flags.data(), flags.size()}, 0).frame, &e));
}

}  // namespace
}  // namespace sluice::queue::wal
