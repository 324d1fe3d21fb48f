// sluice-dataplane running the SQS API (`job: queues`) on a free loopback port, for end-to-end
// tests that talk to it over TCP. No namespaces and no root needed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "topology.h"

namespace sluice::e2e {

struct SqsServerOptions {
  bool authentication = false;
  std::optional<size_t> max_request_bytes;  // api.max_request_bytes; the server's default if unset
  std::optional<uint32_t> request_timeout_s;  // api.request_timeout_s, likewise
  std::optional<uint32_t> idle_timeout_s;     // api.idle_timeout_s, likewise
  std::chrono::milliseconds start_timeout = std::chrono::seconds(30);
};

class SqsServer {
 public:
  static constexpr const char* kAccountId = "000000000000";
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kAccessKeyId = "AKIDSLUICETEST";
  static constexpr const char* kSecretAccessKey = "sluice-test-secret";

  // Writes the configuration to a fresh temporary directory, starts $SLUICE_DATAPLANE (else the
  // binary built with the tests) and returns once it prints its listening line. Throws with the
  // server's output when it does not.
  explicit SqsServer(const SqsServerOptions& options = {});
  ~SqsServer();
  SqsServer(const SqsServer&) = delete;
  SqsServer& operator=(const SqsServer&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT", the Host header clients send and the authority of queue URLs.
  std::string authority() const;
  std::string queue_url(const std::string& name) const;
  Process& process() { return process_; }

 private:
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  Process process_;
};

}  // namespace sluice::e2e
