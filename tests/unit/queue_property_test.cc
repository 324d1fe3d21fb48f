// Random operation sequences (fixed seeds) against a reference model of the semantics.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "queue_test_util.h"

namespace sluice::queue::testing {
namespace {

// What the model knows of one message.
struct Model {
  std::string body;
  std::string group;
  uint64_t sequence = 0;
  uint64_t enqueued_ms = 0;
  uint64_t visible_at = 0;
  uint32_t receive_count = 0;
  std::string handle;  // the latest delivery's
  bool gone = false;
};

class QueueProperty : public QueueTest, public ::testing::WithParamInterface<uint64_t> {
 protected:
  static constexpr uint64_t kRetentionMs = 120'000;

  bool alive(const Model& m) const {
    return !m.gone && clock.now_ms() < m.enqueued_ms + kRetentionMs;
  }
  bool visible(const Model& m) const { return alive(m) && clock.now_ms() >= m.visible_at; }
  bool in_flight(const Model& m) const { return alive(m) && !visible(m) && m.receive_count > 0; }

  void check_counts(std::string_view queue) {
    QueueCounts expected;
    for (const auto& [id, m] : model) {
      if (visible(m)) ++expected.visible;
      if (in_flight(m)) ++expected.in_flight;
      if (alive(m) && !visible(m) && m.receive_count == 0) ++expected.delayed;
    }
    const QueueCounts c = counts(queue);
    ASSERT_EQ(c.visible, expected.visible);
    ASSERT_EQ(c.in_flight, expected.in_flight);
    ASSERT_EQ(c.delayed, expected.delayed);
  }

  // A handle the engine gave out at some point, or a message's latest.
  std::string some_handle(std::mt19937_64& rng) {
    if (handles.empty()) return {};
    return handles[rng() % handles.size()];
  }

  void record_delivery(const Got& g, uint32_t visibility_s) {
    Model& m = model.at(g.id);
    ASSERT_TRUE(visible(m)) << g.id;
    ASSERT_EQ(g.body, m.body);
    ASSERT_EQ(g.receive_count, m.receive_count + 1);
    m.receive_count = g.receive_count;
    m.visible_at = clock.now_ms() + uint64_t{visibility_s} * 1000;
    m.handle = g.handle;
    handles.push_back(g.handle);
  }

  // Deletes or changes visibility with a random (possibly stale) handle and checks the outcome.
  void handle_op(std::string_view queue, std::mt19937_64& rng) {
    const std::string h = some_handle(rng);
    if (h.empty()) return;
    Model* owner = nullptr;
    for (auto& [id, m] : model) {
      if (m.handle == h) owner = &m;
    }
    const bool current = owner != nullptr && alive(*owner);
    if (rng() % 2 == 0) {
      ASSERT_TRUE(engine.delete_message(queue, h).ok());
      if (current) owner->gone = true;
      return;
    }
    const auto t = static_cast<uint32_t>(rng() % 6);
    const Status s = engine.change_visibility(queue, h, t);
    if (current && in_flight(*owner)) {
      ASSERT_TRUE(s.ok()) << s.error().message;
      owner->visible_at = clock.now_ms() + uint64_t{t} * 1000;
    } else {
      ASSERT_FALSE(s.ok());
      ASSERT_EQ(s.error().code, ErrorCode::kMessageNotInflight);
    }
  }

  std::map<std::string, Model> model;
  std::vector<std::string> handles;
};

TEST_P(QueueProperty, StandardQueueMatchesTheModel) {
  std::mt19937_64 rng(GetParam());
  create("q", {{"MessageRetentionPeriod", "120"}});
  for (int step = 0; step < 1500; ++step) {
    switch (rng() % 6) {
      case 0:
      case 1: {
        const std::string body = "m" + std::to_string(step);
        const auto delay = static_cast<uint32_t>(rng() % 3);
        const SendResult r = send("q", body, {.delay_s = delay});
        model[r.message_id.to_string()] = {.body = body,
                                           .enqueued_ms = clock.now_ms(),
                                           .visible_at = clock.now_ms() + delay * 1000ull};
        break;
      }
      case 2: {
        const auto max = static_cast<uint32_t>(1 + rng() % 10);
        const auto visibility = static_cast<uint32_t>(rng() % 6);
        size_t available = 0;
        for (const auto& [id, m] : model) available += visible(m) ? 1 : 0;
        const auto got = receive("q", max, visibility);
        ASSERT_EQ(got.size(), std::min<size_t>(max, available));
        for (const Got& g : got) record_delivery(g, visibility);
        break;
      }
      case 3:
        handle_op("q", rng);
        break;
      case 4:
        clock.advance(rng() % 3000);
        break;
      default:
        check_counts("q");
    }
    if (HasFatalFailure()) return;
  }
  check_counts("q");
}

TEST_P(QueueProperty, FifoQueueKeepsGroupOrderAndBlocking) {
  std::mt19937_64 rng(GetParam());
  create("f.fifo", {{"FifoQueue", "true"}, {"MessageRetentionPeriod", "120"}});
  uint64_t last_sequence = 0;
  for (int step = 0; step < 1500; ++step) {
    switch (rng() % 5) {
      case 0:
      case 1: {
        const std::string body = "m" + std::to_string(step);
        const std::string group = "g" + std::to_string(rng() % 4);
        const SendResult r = send("f.fifo", body, {.group_id = group, .deduplication_id = body});
        ASSERT_GT(r.sequence_number, last_sequence);
        last_sequence = r.sequence_number;
        model[r.message_id.to_string()] = {.body = body,
                                           .group = group,
                                           .sequence = r.sequence_number,
                                           .enqueued_ms = clock.now_ms(),
                                           .visible_at = clock.now_ms()};
        break;
      }
      case 2: {
        // Per group: its alive messages in order, and whether one is in flight.
        std::map<std::string, std::vector<const Model*>> groups;
        std::map<std::string, bool> blocked;
        for (const auto& [id, m] : model) {
          if (!alive(m)) continue;
          groups[m.group].push_back(&m);
          if (in_flight(m)) blocked[m.group] = true;
        }
        size_t available = 0;
        for (auto& [g, list] : groups) {
          std::sort(list.begin(), list.end(),
                    [](const Model* a, const Model* b) { return a->sequence < b->sequence; });
          if (!blocked[g]) available += list.size();
        }
        const auto max = static_cast<uint32_t>(1 + rng() % 10);
        const auto visibility = static_cast<uint32_t>(rng() % 6);
        const auto got = receive("f.fifo", max, visibility);
        ASSERT_EQ(got.size(), std::min<size_t>(max, available));
        std::map<std::string, size_t> taken;
        for (const Got& g : got) {
          const Model& m = model.at(g.id);
          ASSERT_FALSE(blocked[m.group]) << m.group;
          // The oldest messages of the group, in order.
          ASSERT_EQ(groups[m.group][taken[m.group]++], &m);
        }
        for (const Got& g : got) record_delivery(g, visibility);
        break;
      }
      case 3:
        handle_op("f.fifo", rng);
        break;
      default:
        clock.advance(rng() % 3000);
    }
    if (HasFatalFailure()) return;
  }
  check_counts("f.fifo");
}

INSTANTIATE_TEST_SUITE_P(Seeds, QueueProperty, ::testing::Values(1, 2, 3, 4, 5));

}  // namespace
}  // namespace sluice::queue::testing
