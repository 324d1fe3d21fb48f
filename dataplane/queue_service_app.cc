#include "queue_service_app.h"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>

#include "sqs_server.h"

namespace sluice::dataplane {

int run_queue_service(const api::ApiConfig& api, const api::QueuesConfig& queues) {
  // Blocked before any thread starts, so that every thread inherits the mask and the signals
  // wait for this one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::QueueService service(api, queues);
  service.start();
  fmt::print(
      "sluice-dataplane: SQS API listening on http://{}:{} ({}, authentication {}, {} "
      "shard{}, {})\n",
      api.address.find(':') != std::string::npos ? "[" + api.address + "]" : api.address,
      service.port(), api.region, api.authentication ? "on" : "off", service.shard_count(),
      service.shard_count() == 1 ? "" : "s",
      queues.directory.empty() ? "in memory" : "durable in " + queues.directory);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  fmt::print("sluice-dataplane: {} received, stopping\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  service.stop();
  return 0;
}

}  // namespace sluice::dataplane
