#include "wal_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace sluice::queue::wal {

namespace {

constexpr uint64_t kWriteTag = 1;
constexpr uint64_t kSyncTag = 2;

}  // namespace

bool write_fully(int fd, const uint8_t* data, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::vector<uint64_t> list_segments(const std::string& directory) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t digits = name.size() - 4;
    if (name.size() < 5 || !name.ends_with(".wal") || digits > 18 ||
        !std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(digits),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.push_back(std::stoull(name.substr(0, digits)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string segment_path(std::string_view directory, uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%06llu.wal", static_cast<unsigned long long>(number));
  return std::string(directory) + "/" + name;
}

bool sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = fsync(fd) == 0;
  close(fd);
  return ok;
}

WalWriter::WalWriter(std::string directory, uint64_t next_lsn)
    : directory_(std::move(directory)),
      fill_(size_t{1} << 20),
      sending_(size_t{1} << 20),
      next_lsn_(next_lsn),
      written_lsn_(next_lsn - 1),
      durable_lsn_(next_lsn - 1) {}

std::unique_ptr<WalWriter> WalWriter::create(const std::string& directory, uint64_t segment,
                                             uint64_t next_lsn, uint64_t now_ms,
                                             const SegmentHeader& header, bool use_io_uring,
                                             std::string* error) {
  std::unique_ptr<WalWriter> w(new WalWriter(directory, next_lsn));
  w->backend_ = "pwrite/fdatasync (io_uring turned off)";
  if (use_io_uring) {
    const int rc = io_uring_queue_init(8, &w->ring_, 0);
    if (rc < 0) {
      w->backend_ =
          std::string("pwrite/fdatasync (io_uring unavailable: ") + std::strerror(-rc) + ")";
    } else {
      io_uring_probe* probe = io_uring_get_probe_ring(&w->ring_);
      const bool ok = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
                      io_uring_opcode_supported(probe, IORING_OP_FSYNC);
      if (probe != nullptr) io_uring_free_probe(probe);
      if (ok) {
        w->uring_ = true;
        w->backend_ = "io_uring";
      } else {
        io_uring_queue_exit(&w->ring_);
        w->backend_ = "pwrite/fdatasync (io_uring lacks write or fsync)";
      }
    }
  }
  if (!w->open_segment(segment, now_ms, header)) {
    *error = w->failure_;
    return nullptr;
  }
  return w;
}

WalWriter::~WalWriter() {
  if (uring_) {
    while (inflight_.writing || inflight_.syncing) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring_, &cqe) < 0) break;
      (cqe->user_data == kWriteTag ? inflight_.writing : inflight_.syncing) = false;
      io_uring_cqe_seen(&ring_, cqe);
    }
    io_uring_queue_exit(&ring_);
  }
  if (fd_ >= 0) close(fd_);
}

void WalWriter::fail(std::string_view what, int error) {
  if (!failure_.empty()) return;
  failure_ = "queue log " + segment_path(directory_, segment_) + ": " + std::string(what) +
             " failed: " + std::strerror(error);
}

bool WalWriter::open_segment(uint64_t segment, uint64_t now_ms, const SegmentHeader& header) {
  const std::string path = segment_path(directory_, segment);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    failure_ = "queue log " + path + ": create failed: " + std::strerror(errno);
    return false;
  }
  RecordBuffer b;
  SegmentHeader h = header;
  h.segment = segment;
  encode_header(b, written_lsn_ + 1, now_ms, h);
  if (!write_fully(fd, b.data(), b.size(), 0) || fdatasync(fd) != 0 ||
      (fd_ >= 0 && fdatasync(fd_) != 0) || !sync_directory(directory_)) {
    failure_ = "queue log " + path + ": starting the segment failed: " + std::strerror(errno);
    close(fd);
    return false;
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  segment_ = segment;
  offset_ = b.size();
  durable_lsn_ = written_lsn_;
  return true;
}

bool WalWriter::roll(uint64_t now_ms, const SegmentHeader& header) {
  return !busy() && open_segment(segment_ + 1, now_ms, header);
}

void WalWriter::adopt(uint64_t segment, int fd, uint64_t size, uint64_t last_lsn) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  segment_ = segment;
  offset_ = size;
  next_lsn_ = last_lsn + 1;
  written_lsn_ = durable_lsn_ = last_lsn;
}

void WalWriter::committed(const Durability& durability, uint64_t at_ms) {
  ++next_lsn_;
  switch (durability.mode) {
    case DurabilityMode::kFsync:
      batch_needs_sync_ = true;
      break;
    case DurabilityMode::kInterval:
      sync_due_ms_ = std::min(sync_due_ms_, at_ms + durability.interval_ms);
      break;
    case DurabilityMode::kNone:
      break;
  }
}

void WalWriter::flush(uint64_t now_ms) {
  if (!failure_.empty() || inflight_.active) return;
  const bool due = sync_due_ms_ <= now_ms;
  if (fill_.empty() && !(due && written_lsn_ > durable_lsn_)) return;
  const bool with_sync = batch_needs_sync_ || due;
  sending_.swap(fill_);
  fill_.clear();
  batch_needs_sync_ = false;
  if (with_sync) sync_due_ms_ = UINT64_MAX;
  inflight_ = InFlight{.active = true, .want_sync = with_sync, .last_lsn = next_lsn_ - 1};
  if (uring_) {
    submit();
  } else {
    write_now();
  }
}

// Submits what is left of the batch: the rest of its bytes, then (linked) its sync.
void WalWriter::submit() {
  const size_t left = sending_.size() - inflight_.done;
  if (left > 0) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_write(sqe, fd_, sending_.data() + inflight_.done, static_cast<unsigned>(left),
                        offset_ + inflight_.done);
    sqe->user_data = kWriteTag;
    if (inflight_.want_sync) sqe->flags |= IOSQE_IO_LINK;
    inflight_.writing = true;
  }
  if (inflight_.want_sync) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
    sqe->user_data = kSyncTag;
    inflight_.syncing = true;
  }
  const int rc = io_uring_submit(&ring_);
  if (rc < 0) {
    inflight_.writing = inflight_.syncing = false;
    fail("io_uring submit", -rc);
  }
}

void WalWriter::write_now() {
  if (!write_fully(fd_, sending_.data() + inflight_.done, sending_.size() - inflight_.done,
                   offset_ + inflight_.done)) {
    return fail("write", errno);
  }
  inflight_.done = sending_.size();
  if (inflight_.want_sync) {
    if (fdatasync(fd_) != 0) return fail("fdatasync", errno);
    inflight_.synced = true;
  }
  finish();
}

void WalWriter::finish() {
  offset_ += sending_.size();
  stats_.bytes += sending_.size();
  ++stats_.batches;
  written_lsn_ = inflight_.last_lsn;
  if (inflight_.want_sync) {
    durable_lsn_ = inflight_.last_lsn;
    ++stats_.syncs;
  }
  sending_.clear();
  inflight_ = InFlight{};
}

bool WalWriter::poll() {
  if (!uring_ || !inflight_.active || !failure_.empty()) return false;
  io_uring_cqe* cqe = nullptr;
  while ((inflight_.writing || inflight_.syncing) && io_uring_peek_cqe(&ring_, &cqe) == 0) {
    const uint64_t tag = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (tag == kWriteTag) {
      inflight_.writing = false;
      if (res < 0) {
        fail("write", -res);
      } else {
        inflight_.done += static_cast<size_t>(res);
      }
    } else {
      inflight_.syncing = false;
      if (res == 0) {
        inflight_.synced = true;
      } else if (res != -ECANCELED) {
        fail("fdatasync", -res);
      }
    }
  }
  if (inflight_.writing || inflight_.syncing || !failure_.empty()) return false;
  if (inflight_.done < sending_.size() || (inflight_.want_sync && !inflight_.synced)) {
    submit();  // a short write (its linked sync was cancelled): the rest
    return false;
  }
  finish();
  return true;
}

bool WalWriter::sync(uint64_t now_ms) {
  while (failure_.empty()) {
    poll();
    if (inflight_.active) {
      io_uring_cqe* cqe = nullptr;
      io_uring_wait_cqe(&ring_, &cqe);
      continue;
    }
    if (durable_lsn_ == appended_lsn() && fill_.empty()) return true;
    batch_needs_sync_ = true;
    sync_due_ms_ = 0;
    flush(now_ms);
  }
  return false;
}

}  // namespace sluice::queue::wal
