// What the proxy's cores run with: a validated configuration with every listener's rules compiled
// into its Hyperscan database. Built off the data path (at start-up, or when the control plane
// pushes a configuration) and published whole: a core takes the new one between two loop passes,
// and requests already routed finish with the one they were routed by.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proxy_types.h"
#include "rule_matcher.h"

namespace sluice::proxy {

struct ProxyRuntime {
  ProxyConfig config;
  std::vector<std::unique_ptr<RuleMatcher>> matchers;   // one per listener
  std::unordered_map<std::string, size_t> group_index;  // target group name -> index
  // "address:port" ("[v6]:port") of each target, per group, made once rather than per request;
  // and all of them, for a quick "is this target still configured".
  std::vector<std::vector<std::string>> target_keys;
  std::unordered_set<std::string> all_target_keys;
  uint64_t generation = 0;
};

// Compiles `config` (already validated); throws std::invalid_argument naming the rule whose
// pattern Hyperscan refuses.
std::shared_ptr<const ProxyRuntime> build_runtime(ProxyConfig config, uint64_t generation);

// The runtime in force. Cores poll generation() each pass (one relaxed load) and take the runtime
// under the lock only when it changed.
class RuntimeSlot {
 public:
  void publish(std::shared_ptr<const ProxyRuntime> runtime) {
    std::lock_guard lock(mutex_);
    current_ = std::move(runtime);
    generation_.store(current_->generation, std::memory_order_release);
  }
  std::shared_ptr<const ProxyRuntime> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ProxyRuntime> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace sluice::proxy
