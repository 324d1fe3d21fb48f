// Helpers for the queue engine's tests: an engine on a manual clock, and a receive sink that
// keeps copies of what it was given.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clock.h"
#include "queue_engine.h"

namespace sluice::queue::testing {

struct Got {
  std::string id;
  std::string handle;
  std::string body;
  uint32_t receive_count = 0;
  uint64_t sent_ms = 0;
  uint64_t first_receive_ms = 0;
  uint64_t sequence = 0;
  std::string group;
  std::string dedup;
  std::string sender;
  std::string dead_letter_source;
  std::vector<std::pair<std::string, std::string>> attributes;  // name, value
};

class Collector final : public ReceiveSink {
 public:
  void on_receive(const ReceiveOutcome& outcome) override {
    ++calls;
    if (outcome.error != nullptr) error = *outcome.error;
    for (const ReceivedMessage& m : outcome.messages) {
      Got g{.id = m.message_id.to_string(),
            .handle = std::string(m.receipt_handle.view()),
            .body = std::string(m.body),
            .receive_count = m.receive_count,
            .sent_ms = m.sent_timestamp_ms,
            .first_receive_ms = m.first_receive_timestamp_ms,
            .sequence = m.sequence_number,
            .group = std::string(m.group_id),
            .dedup = std::string(m.deduplication_id),
            .sender = std::string(m.sender_id),
            .dead_letter_source = std::string(m.dead_letter_source_arn)};
      for (const MessageAttribute& a : m.attributes) {
        g.attributes.emplace_back(std::string(a.name), std::string(a.value));
      }
      got.push_back(std::move(g));
    }
  }

  int calls = 0;
  std::optional<Error> error;
  std::vector<Got> got;
};

class QueueTest : public ::testing::Test {
 protected:
  explicit QueueTest(EngineConfig config = {}) : engine(std::move(config), clock) {}

  void create(std::string_view name, std::initializer_list<AttributeValue> attributes = {}) {
    const std::vector<AttributeValue> a(attributes);
    auto r = engine.create_queue({.name = name, .attributes = a});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  Error create_error(std::string_view name, std::initializer_list<AttributeValue> attributes) {
    const std::vector<AttributeValue> a(attributes);
    auto r = engine.create_queue({.name = name, .attributes = a});
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
  }

  SendResult send(std::string_view queue, std::string_view body, SendEntry entry = {}) {
    entry.body = body;
    auto r = engine.send(queue, entry);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : SendResult{};
  }

  Error send_error(std::string_view queue, SendEntry entry) {
    auto r = engine.send(queue, entry);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
  }

  std::vector<Got> receive(std::string_view queue, uint32_t max = 10,
                           std::optional<uint32_t> visibility = std::nullopt) {
    Collector c;
    engine.receive(
        {.queue = queue, .max_messages = max, .visibility_timeout_s = visibility, .wait_time_s = 0},
        c);
    EXPECT_EQ(c.calls, 1);
    EXPECT_FALSE(c.error.has_value()) << c.error->message;
    return c.got;
  }

  Error receive_error(const ReceiveRequest& request) {
    Collector c;
    engine.receive(request, c);
    EXPECT_EQ(c.calls, 1);
    EXPECT_TRUE(c.error.has_value());
    return c.error.value_or(Error{});
  }

  QueueCounts counts(std::string_view queue) { return engine.counts(queue).value(); }

  void advance_s(double seconds) {
    clock.advance(static_cast<uint64_t>(seconds * 1000));
    engine.run_timers();
  }

  std::string attribute(std::string_view queue, std::string_view name) {
    const std::string_view names[] = {name};
    auto r = engine.get_attributes(queue, names);
    EXPECT_TRUE(r.ok());
    for (const auto& [n, v] : r.value()) {
      if (n == name) return v;
    }
    return {};
  }

  ManualClock clock;  // before the engine, which reads it
  QueueEngine engine;
};

}  // namespace sluice::queue::testing
