// Crash test of the durable queue shard: a child process runs a DurableShard under send, receive
// and delete load and reports each send and delete on a pipe only once its acknowledgement is
// released (its records are on disk), and each delete it is about to try before trying it. The
// parent kills it with SIGKILL at a random moment, reads the log back as it is, and checks that
// every acknowledged send is there unless a delete of it was tried (a delete may be durable
// before its acknowledgement is out), and that no acknowledged delete came back. Then the next
// child recovers the same directory (repairing what the kill left) and carries on, many times over.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "durable_shard.h"
#include "queue_durable_util.h"

namespace sluice::queue::testing {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kRecord = 1 + 16;  // 'S', 'T' (tried) or 'D', then the message id
constexpr std::string_view kQueue = "crash";

// Reports a send or delete batch on the pipe once it is durable; one write, so a kill never
// leaves half a report.
class Report final : public DurableAck {
 public:
  Report(int fd, char kind) : fd_(fd), kind_(kind) {}
  void add(const MessageId& id) {
    bytes_.push_back(static_cast<uint8_t>(kind_));
    bytes_.insert(bytes_.end(), id.bytes.begin(), id.bytes.end());
  }
  bool empty() const { return bytes_.empty(); }
  void on_durable() override {
    if (write(fd_, bytes_.data(), bytes_.size()) != static_cast<ssize_t>(bytes_.size())) _exit(3);
    done = true;
  }
  bool done = false;

 private:
  int fd_;
  char kind_;
  std::vector<uint8_t> bytes_;
};

class IdSink final : public ReceiveSink {
 public:
  void on_receive(const ReceiveOutcome& outcome) override {
    messages.clear();
    for (const ReceivedMessage& m : outcome.messages)
      messages.emplace_back(m.message_id, m.receipt_handle);
  }
  std::vector<std::pair<MessageId, ReceiptHandle>> messages;
};

[[noreturn]] void run_child(const std::string& directory, int fd, uint64_t seed) {
  SystemClock clock;
  std::string error;
  auto shard = DurableShard::open(
      {.directory = directory, .segment_bytes = 256 << 10, .compact_min_bytes = 1 << 20}, clock,
      &error);
  if (shard == nullptr) {
    std::fprintf(stderr, "child: %s\n", error.c_str());
    _exit(2);
  }
  QueueEngine& engine = shard->engine();
  if (!engine.create_queue({.name = kQueue}).ok()) _exit(2);
  std::mt19937_64 rng(seed);
  const std::string body(200, 'c');
  const std::string ids[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  std::array<SendEntry, 10> sends;
  for (size_t i = 0; i < sends.size(); ++i) sends[i] = {.id = ids[i], .body = body};
  std::array<DeleteEntry, 10> deletes;
  std::deque<std::unique_ptr<Report>> reports;
  IdSink sink;
  for (;;) {
    if (engine.counts(kQueue).value().visible < 5000 && reports.size() < 64) {
      auto r = engine.send_batch(kQueue, sends);
      auto report = std::make_unique<Report>(fd, 'S');
      if (r.ok()) {
        for (const BatchEntryOutcome& o : r->view()) {
          if (!o.error) report->add(o.sent.message_id);
        }
      }
      shard->when_durable(shard->ack_lsn(kQueue), *report);
      reports.push_back(std::move(report));
    }
    engine.receive({.queue = kQueue,
                    .max_messages = 10,
                    .visibility_timeout_s = static_cast<uint32_t>(1 + rng() % 3),
                    .wait_time_s = 0},
                   sink);
    size_t n = 0;
    std::vector<MessageId> chosen;
    for (const auto& [id, handle] : sink.messages) {
      if (rng() % 10 == 0) continue;  // left to come back when its visibility ends
      deletes[n] = {.id = ids[n], .receipt_handle = handle.view()};
      chosen.push_back(id);
      ++n;
    }
    if (n > 0) {
      Report tried(fd, 'T');
      for (const MessageId& id : chosen) tried.add(id);
      tried.on_durable();
      auto r = engine.delete_batch(kQueue, std::span(deletes).first(n));
      auto report = std::make_unique<Report>(fd, 'D');
      for (size_t i = 0; r.ok() && i < n; ++i) {
        if (!r->entries[i].error) report->add(chosen[i]);
      }
      shard->when_durable(shard->ack_lsn(kQueue), *report);
      reports.push_back(std::move(report));
    }
    shard->poll();
    while (!reports.empty() && reports.front()->done) reports.pop_front();
    if (!shard->failure().empty()) _exit(4);
  }
}

TEST(QueueCrash, KilledAtRandomPointsLosesNoAcknowledgedChange) {
  TempDir dir;
  std::set<std::string> sent;
  std::set<std::string> tried;
  std::set<std::string> deleted;
  std::mt19937_64 rng(20261201);
  const auto start = Steady::now();
  int iterations = 0;
  int repaired = 0;
  uint64_t most_present = 0;
  for (; iterations < 30 || (iterations < 80 && Steady::now() - start < std::chrono::seconds(25));
       ++iterations) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      run_child(dir.shard(), fds[1], rng());
    }
    close(fds[1]);
    // Usually under load (after the first acknowledgement); sometimes during recovery.
    const bool early = iterations % 5 == 4;
    const auto delay = std::chrono::milliseconds(early ? rng() % 30 : 5 + rng() % 150);
    std::string received;
    auto kill_at = Steady::now() + (early ? delay : std::chrono::seconds(10));
    char buffer[4096];
    while (Steady::now() < kill_at) {
      pollfd p{.fd = fds[0], .events = POLLIN};
      poll(&p, 1, 1);
      if ((p.revents & (POLLIN | POLLHUP)) == 0) continue;
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;  // the child is gone
      if (received.empty() && !early) kill_at = Steady::now() + delay;
      received.append(buffer, static_cast<size_t>(n));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with " << WEXITSTATUS(status);
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) {
      received.append(buffer, static_cast<size_t>(n));
    }
    close(fds[0]);
    ASSERT_EQ(received.size() % kRecord, 0u);
    for (size_t at = 0; at < received.size(); at += kRecord) {
      MessageId id;
      std::memcpy(id.bytes.data(), received.data() + at + 1, id.bytes.size());
      const char kind = received[at];
      (kind == 'S' ? sent : kind == 'T' ? tried : deleted).insert(id.to_string());
    }

    // The log as the kill left it, read back with a clock two hours on: everything visible.
    ManualClock clock(SystemClock().now_ms() + 7'200'000);
    QueueEngine engine({}, clock);
    wal::KeyRing keys;
    if (!read_back(dir.shard(), engine, keys).notes.empty()) ++repaired;
    std::set<std::string> present;
    for (const Got& g : receive_all(engine, kQueue)) present.insert(g.id);
    most_present = std::max<uint64_t>(most_present, present.size());
    size_t lost = 0;
    size_t resurrected = 0;
    for (const std::string& id : sent) lost += !tried.contains(id) && !present.contains(id);
    for (const std::string& id : deleted) resurrected += present.contains(id);
    ASSERT_EQ(lost, 0u) << "iteration " << iterations << ": acknowledged sends missing";
    ASSERT_EQ(resurrected, 0u) << "iteration " << iterations << ": deleted messages back";
  }
  EXPECT_GT(sent.size(), 1000u);
  EXPECT_GT(deleted.size(), 1000u);
  std::printf(
      "[          ] %d kills in %.1f s: %zu acknowledged sends, %zu acknowledged deletes, "
      "%d logs with a torn or unfinished tail, at most %llu messages present\n",
      iterations, std::chrono::duration<double>(Steady::now() - start).count(), sent.size(),
      deleted.size(), repaired, static_cast<unsigned long long>(most_present));
}

}  // namespace
}  // namespace sluice::queue::testing
