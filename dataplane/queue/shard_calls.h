// Ready-made ShardCalls for the common queue operations. Each owns its inputs and outputs, and
// reuses their storage when the submitting core sends it again, so a core can keep a few calls
// and cycle them without allocating.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "queue_engine.h"
#include "shard_set.h"

namespace sluice::queue {

class CreateQueueCall final : public ShardCall {
 public:
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::optional<Error> error;

  void run(QueueEngine& engine, const Completion& completion) override;
};

class SendBatchCall final : public ShardCall {
 public:
  std::string queue;
  std::vector<std::string> bodies;  // entry ids are the indexes
  std::optional<Error> error;
  std::vector<SendResult> sent;
  size_t failed = 0;

  void run(QueueEngine& engine, const Completion& completion) override;

 private:
  std::vector<std::string> ids_;
  std::vector<SendEntry> entries_;
};

// A receive, answered when it has messages or its wait ends.
class ReceiveCall final : public ShardCall, public ReceiveSink {
 public:
  struct Message {
    MessageId id;
    ReceiptHandle receipt_handle;
    std::string body;
    uint32_t receive_count = 0;
  };

  std::string queue;
  uint32_t max_messages = 10;
  uint32_t wait_time_s = 0;
  std::optional<Error> error;
  std::vector<Message> messages;  // the first `count` are this answer's
  size_t count = 0;

  void run(QueueEngine& engine, const Completion& completion) override;
  void on_receive(const ReceiveOutcome& outcome) override;

 private:
  Completion completion_;
};

class DeleteBatchCall final : public ShardCall {
 public:
  std::string queue;
  std::vector<ReceiptHandle> handles;
  std::optional<Error> error;
  size_t failed = 0;

  void run(QueueEngine& engine, const Completion& completion) override;

 private:
  std::vector<std::string> ids_;
  std::vector<DeleteEntry> entries_;
};

}  // namespace sluice::queue
