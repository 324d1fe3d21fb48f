// SQS requests at work on the shard that owns their queue: an ActionCall carries one decoded
// request from the core that parsed it to the owner's QueueEngine (over ShardSet's rings), runs
// it there and comes back with the encoded reply. Requests that span every shard (ListQueues,
// ListDeadLetterSourceQueues) go out as one list part per shard, merged by the sending core.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue_engine.h"
#include "shard_set.h"
#include "sqs_codec.h"

namespace sluice::api::sqs {

// What a request's reply depends on besides the request itself.
struct CallContext {
  Protocol protocol = Protocol::kJson;
  std::string request_id;
  std::string url_prefix;  // "http://HOST/ACCOUNT/": a queue's URL is this and its name
  std::string sender_id;   // SenderId of sent messages: the access key, or the account
};

// The queue whose shard runs `request` (the dead-letter queue for the requests that span every
// shard, whose owner checks that it exists).
std::string owning_queue(const Request& request);
// ListQueues and ListDeadLetterSourceQueues: one list part per shard.
bool spans_shards(Action action);

// The queue a URL names on this endpoint, or the error to answer when it names another
// account's queue.
std::optional<ApiError> check_account(const Request& request, std::string_view account_id);

class ActionCall final : public queue::ShardCall, public queue::ReceiveSink {
 public:
  enum class Part : uint8_t {
    kWhole,              // the whole request: `reply` is the answer
    kQueueNames,         // this shard's queues matching a ListQueues request
    kDeadLetterSources,  // this shard's queues whose dead-letter queue is the request's
    kCancelReceive,      // ends `cancelled`'s long poll unanswered (its client went away)
  };

  Request request{};
  CallContext context;
  Part part = Part::kWhole;
  bool list_owner = false;  // kDeadLetterSources: this shard owns the dead-letter queue

  Reply reply;                      // kWhole
  std::vector<std::string> names;   // list parts, sorted
  std::optional<ApiError> error;    // list parts
  void* waiter = nullptr;           // the sending core's record of the exchange
  ActionCall* cancelled = nullptr;  // kCancelReceive: the receive it ends

  void run(queue::QueueEngine& engine, const queue::Completion& completion) override;
  void on_receive(const queue::ReceiveOutcome& outcome) override;

 private:
  void run_part(queue::QueueEngine& engine);
  Reply run_whole(queue::QueueEngine& engine);

  queue::Completion completion_;
  uint64_t wait_id_ = 0;  // a receive that waits (long poll), for kCancelReceive
};

// The merged answer of the list parts of one ListQueues or ListDeadLetterSourceQueues request:
// names sorted, one page of them, and the last name as the next page's token.
Reply merge_list_parts(const Request& request, const CallContext& context,
                       std::span<ActionCall* const> parts);

}  // namespace sluice::api::sqs
