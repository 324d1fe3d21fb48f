// One SQS endpoint (the queues section's endpoint and credentials) over a kept-alive HTTP
// connection, AWS JSON 1.0, each request signed with SigV4 when an access key is configured.
// Used by the queue declarer and the depth monitor, each from its own thread.
#pragma once

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "control_config.h"

namespace sluice::controlplane {

class SqsClient {
 public:
  using Json = nlohmann::ordered_json;

  struct Reply {
    bool answered = false;  // false: no HTTP answer (error holds why)
    int status = 0;
    Json body;
    // The SQS error code (QueueAlreadyExists, ...) and, with the message, the error's text.
    std::string code, error;

    bool ok() const { return answered && status == 200; }
  };

  // `config` must outlive the client.
  SqsClient(const QueuesConfig& config, std::chrono::milliseconds timeout);

  // Calls the action ("CreateQueue") with its parameters. A 200 answer that is not a JSON
  // object is not ok() (status 0).
  Reply call(const std::string& action, const Json& params);

 private:
  const QueuesConfig& config_;
  httplib::Client http_;
};

}  // namespace sluice::controlplane
