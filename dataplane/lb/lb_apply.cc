#include "lb_apply.h"

#include <chrono>
#include <exception>
#include <memory>

#include "lb_config.h"

namespace sluice::lb {
namespace {

uint64_t ns_since(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}

}  // namespace

PublishTimes publish_lb_config(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
                               const LbConfig& next, const std::vector<LbPort>& ports) {
  PublishTimes times;
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<LbRuntime> runtime;
  snapshots.read([&](const LbRuntime& current) {
    runtime = std::make_unique<LbRuntime>(next, ports, &current);
  });
  times.build_ns = ns_since(start);
  const auto swap = std::chrono::steady_clock::now();
  snapshots.publish(std::move(runtime));
  times.publish_ns = ns_since(swap);
  return times;
}

control::SnapshotResult apply_snapshot(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
                                       const LbConfig& base, const std::vector<LbPort>& ports,
                                       const control::ApplySnapshot& snapshot) {
  control::SnapshotResult result{.generation = snapshot.generation};
  LbConfig next = base;
  next.services = snapshot.services;
  if (!snapshot.nat_addresses.empty()) next.nat_addresses = snapshot.nat_addresses;
  if (!snapshot.tunnel_sources.empty()) next.tunnel_sources = snapshot.tunnel_sources;
  try {
    validate_lb_config(next);
    const PublishTimes times = publish_lb_config(snapshots, next, ports);
    result.ok = true;
    result.build_ns = times.build_ns;
    result.publish_ns = times.publish_ns;
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace sluice::lb
