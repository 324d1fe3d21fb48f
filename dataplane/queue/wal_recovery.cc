#include "wal_recovery.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "wal_writer.h"

namespace sluice::queue::wal {

namespace {

namespace fs = std::filesystem;

struct Segment {
  uint64_t number = 0;
  std::string path;
};

std::vector<Segment> segments_in(const std::string& directory) {
  std::vector<Segment> out;
  for (uint64_t n : list_segments(directory)) out.push_back({n, segment_path(directory, n)});
  return out;
}

bool read_file(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  out->resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  return static_cast<bool>(
      in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(out->size())));
}

// "shard-0/000003.wal": the segment and the directory it is in.
std::string display(const std::string& path) {
  const fs::path p(path);
  return (p.parent_path().filename() / p.filename()).string();
}

// Where and why replay of a segment stopped before its end. A torn or corrupt frame is what a
// crash or a bad disk leaves; a well-formed record that cannot be applied (`fatal`) is not, so
// nothing is cut for it without truncate_corrupt.
struct Stop {
  size_t offset = 0;
  std::string what;
  bool fatal = false;
};

Stop bad_frame(size_t offset, const FrameResult& r) {
  std::string what =
      (r.status == FrameStatus::kTorn ? "torn record at offset " : "corrupt record at offset ") +
      with_commas(offset) + " (";
  if (r.status == FrameStatus::kTorn && r.present >= kFrameHeader &&
      r.reason == "record cut short") {
    what += "length " + with_commas(r.length) + ", " + with_commas(r.present - kFrameHeader) +
            " bytes present";
  } else {
    what += r.reason;
  }
  return {offset, what + ")"};
}

Stop bad_record(size_t offset, std::string_view why) {
  return {offset, "bad record at offset " + with_commas(offset) + " (" + std::string(why) + ")",
          true};
}

// The offset just past the kSnapshotEnd of a snapshot segment, or nullopt when it has none.
std::optional<size_t> snapshot_end(std::span<const uint8_t> bytes) {
  size_t offset = 0;
  for (;;) {
    const FrameResult r = decode_frame(bytes, offset);
    if (r.status != FrameStatus::kOk) return std::nullopt;
    offset += r.frame.size;
    if (r.frame.type == RecordType::kSnapshotEnd) return offset;
  }
}

bool is_snapshot_segment(std::span<const uint8_t> bytes) {
  const FrameResult r = decode_frame(bytes, 0);
  Entry e;
  return r.status == FrameStatus::kOk && r.frame.type == RecordType::kSegmentHeader &&
         decode_entry(r.frame, &e) && e.header.snapshot;
}

class Replayer {
 public:
  Replayer(QueueEngine& engine, KeyRing& keys, RecoveryReport& report)
      : engine_(engine), keys_(keys), report_(report) {}

  // Applies the records of one segment; where it had to stop, if it did.
  std::optional<Stop> segment(const Segment& s, std::span<const uint8_t> bytes, bool first) {
    size_t offset = 0;
    for (;;) {
      const FrameResult r = decode_frame(bytes, offset);
      if (r.status == FrameStatus::kEnd) return std::nullopt;
      if (r.status != FrameStatus::kOk) return bad_frame(offset, r);
      if (!decode_entry(r.frame, &entry_)) return bad_record(offset, "does not decode");
      if (offset == 0) {
        if (entry_.type != RecordType::kSegmentHeader) return bad_record(0, "no segment header");
        if (entry_.header.segment != s.number) return bad_record(0, "header of another segment");
        const bool starts_log = entry_.header.snapshot || entry_.lsn == 1;
        if (first ? !starts_log : entry_.lsn != report_.last_lsn + 1) {
          return bad_record(0, "segment starts at LSN " + with_commas(entry_.lsn) +
                                   ": the segments before it are missing");
        }
        report_.last_lsn = entry_.lsn - 1;
      } else if (entry_.type == RecordType::kSegmentHeader) {
        return bad_record(offset, "segment header inside the segment");
      } else if (entry_.lsn != report_.last_lsn + 1) {
        return bad_record(offset, "LSN " + with_commas(entry_.lsn) + " where " +
                                      with_commas(report_.last_lsn + 1) + " was expected");
      }
      if (Status st = engine_.restore(entry_, keys_); !st) {
        return bad_record(offset, st.error().message);
      }
      if (offset > 0) {
        report_.last_lsn = entry_.lsn;
        ++report_.records;
      }
      offset += r.frame.size;
    }
  }

 private:
  QueueEngine& engine_;
  KeyRing& keys_;
  RecoveryReport& report_;
  Entry entry_;
};

bool sync_file(const std::string& path, std::optional<uint64_t> truncate_to) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = !truncate_to || ftruncate(fd, static_cast<off_t>(*truncate_to)) == 0;
  ok = fdatasync(fd) == 0 && ok;
  close(fd);
  return ok;
}

}  // namespace

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<size_t>(i), ",");
  }
  return digits;
}

bool recover(const std::string& directory, QueueEngine& engine, KeyRing& keys,
             const RecoveryOptions& options, RecoveryReport* report, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  *report = RecoveryReport{};
  std::vector<Segment> segments = segments_in(directory);
  if (!segments.empty()) report->next_segment = segments.back().number + 1;
  auto remove = [&](const Segment& s) {
    if (options.repair) fs::remove(s.path);
  };

  // Replay starts at the newest complete snapshot; an unfinished one (compaction cut short) is
  // dropped, and the segments a complete one supersedes are removed.
  size_t start = 0;
  std::vector<uint8_t> bytes;
  bool have_bytes = false;
  for (size_t i = segments.size(); i-- > 0;) {
    if (!read_file(segments[i].path, &bytes)) {
      *error = "queue log " + display(segments[i].path) + ": cannot read: " + std::strerror(errno);
      return false;
    }
    if (!is_snapshot_segment(bytes)) continue;
    if (const auto end = snapshot_end(bytes)) {
      start = i;
      have_bytes = true;
      report->snapshot_bytes = *end;
      break;
    }
    if (i + 1 != segments.size()) {
      *error = "queue log " + display(segments[i].path) +
               ": an unfinished snapshot before the last segment; refusing to start";
      return false;
    }
    report->notes.push_back("queue log " + display(segments[i].path) +
                            ": unfinished snapshot (compaction cut short); removed");
    remove(segments[i]);
    segments.pop_back();
  }
  for (size_t i = 0; i < start; ++i) remove(segments[i]);
  segments.erase(segments.begin(), segments.begin() + static_cast<std::ptrdiff_t>(start));

  Replayer replay(engine, keys, *report);
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    if ((i > 0 || !have_bytes) && !read_file(s.path, &bytes)) {
      *error = "queue log " + display(s.path) + ": cannot read: " + std::strerror(errno);
      return false;
    }
    const std::optional<Stop> stop = replay.segment(s, bytes, i == 0);
    ++report->segments;
    if (!stop) {
      report->bytes += bytes.size();
      continue;
    }
    const bool last = i + 1 == segments.size();
    const std::string where = "queue log " + display(s.path) + ": " + stop->what;
    if ((stop->fatal || !last) && !options.truncate_corrupt) {
      *error = where + ", with " + std::to_string(segments.size() - i - 1) +
               " later segment(s) after it; refusing to start, as acknowledged records could be "
               "lost (restore the file or the key, or set truncate_corrupt to cut the log there)";
      return false;
    }
    std::string note = where + (stop->offset == 0 ? "; segment removed, " : "; truncated, ");
    if (!last) note += "later segments discarded, ";
    report->notes.push_back(note + with_commas(report->records) + " records recovered");
    report->bytes += stop->offset;
    if (options.repair) {
      if (stop->offset == 0) {
        fs::remove(s.path);
      } else {
        sync_file(s.path, stop->offset);
      }
      for (size_t j = i + 1; j < segments.size(); ++j) fs::remove(segments[j].path);
      sync_directory(directory);
    }
    segments.resize(i + (stop->offset == 0 ? 0 : 1));
    break;
  }
  if (options.repair && !segments.empty()) {
    // Records read back from the page cache are made durable before new ones follow them.
    sync_file(segments.back().path, std::nullopt);
    sync_directory(directory);
  }
  engine.finish_restore();
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return true;
}

}  // namespace sluice::queue::wal
