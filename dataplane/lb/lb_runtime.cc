#include "lb_runtime.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "config.h"
#include "thread_affinity.h"

namespace sluice::lb {
namespace {

std::vector<ServiceTable::Key> service_keys(const LbConfig& config) {
  std::vector<ServiceTable::Key> keys;
  for (const auto& s : config.services) keys.push_back({s.vip, s.protocol, s.port});
  return keys;
}

uint64_t backend_key(const BackendConfig& b) {
  // Maglev needs a stable identity per backend: its address and port.
  uint64_t h = std::hash<std::string_view>{}(std::string_view(
      reinterpret_cast<const char*>(b.address.bytes.data()), b.address.bytes.size()));
  return h ^ (uint64_t{b.port} * 0x9e3779b97f4a7c15ull);
}

uint64_t address_hash(const IpAddress& a, uint64_t extra = 0) {
  uint64_t lo, hi;
  std::memcpy(&lo, a.bytes.data(), 8);
  std::memcpy(&hi, a.bytes.data() + 8, 8);
  uint64_t h = (lo ^ extra) * 0x9e3779b97f4a7c15ull ^ hi;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

struct AddressHash {
  size_t operator()(const IpAddress& a) const noexcept { return address_hash(a); }
};

// A backend's identity within its service.
struct Endpoint {
  IpAddress address;
  uint16_t port;
  bool operator==(const Endpoint&) const = default;
};
struct EndpointHash {
  size_t operator()(const Endpoint& e) const noexcept { return address_hash(e.address, e.port); }
};

// Whether `old` (may be null) has a Maglev table for exactly `next`'s backends at `size`.
bool same_maglev_input(const ServiceRuntime* old, const ServiceConfig& next, uint32_t size) {
  if (old == nullptr || old->maglev->size() != size ||
      old->backends.size() != next.backends.size()) {
    return false;
  }
  for (size_t i = 0; i < next.backends.size(); ++i) {
    const BackendRuntime& o = old->backends[i];
    const BackendConfig& n = next.backends[i];
    if (o.address != n.address || o.port != n.port || o.weight != n.weight) return false;
  }
  return true;
}

std::shared_ptr<const MaglevTable> build_maglev(const ServiceConfig& sc, size_t si, uint32_t size) {
  std::vector<MaglevBackend> backends;
  backends.reserve(sc.backends.size());
  for (const BackendConfig& b : sc.backends) backends.push_back({backend_key(b), b.weight});
  try {
    return std::make_shared<const MaglevTable>(MaglevTable::build(backends, size));
  } catch (const std::invalid_argument& e) {
    throw ConfigError("services[" + std::to_string(si) + "]: " + e.what());
  }
}

// Builds the tables of the services that have none, on up to config.build_threads threads (the
// caller being one): the builds are independent, and a large configuration is mostly them.
void build_missing_tables(const LbConfig& config, std::vector<ServiceRuntime>& services) {
  std::vector<size_t> todo;
  for (size_t si = 0; si < services.size(); ++si) {
    if (services[si].maglev == nullptr) todo.push_back(si);
  }
  std::vector<std::exception_ptr> errors(todo.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < todo.size();) {
      const size_t si = todo[k];
      try {
        services[si].maglev = build_maglev(config.services[si], si, config.maglev_table_size);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    }
  };
  const size_t threads = std::min<size_t>(config.build_threads, todo.size());
  std::vector<std::thread> helpers;
  try {
    for (size_t t = 1; t < threads; ++t) {
      helpers.emplace_back([&] {
        run_on_cpus(config.build_cpus);
        work();
      });
    }
  } catch (const std::system_error&) {
    // No more threads to be had: the ones started and the caller do the work.
  }
  work();
  for (auto& h : helpers) h.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

std::string backend_where(size_t si, size_t bi) {
  return "services[" + std::to_string(si) + "].backends[" + std::to_string(bi) + "]";
}

}  // namespace

LbRuntime::LbRuntime(const LbConfig& config, std::vector<LbPort> ports, const LbRuntime* previous)
    : table_(service_keys(config)),
      ports_(std::move(ports)),
      nat_addresses_(config.nat_addresses),
      tunnel_sources_(config.tunnel_sources),
      timeouts_(config.timeouts),
      max_backends_(config.max_backends) {
  size_t total = 0;
  for (const auto& s : config.services) total += s.backends.size();
  // Next hops: one neighbour per distinct backend address.
  std::vector<std::pair<IpAddress, uint16_t>> hops;
  std::unordered_map<IpAddress, uint32_t, AddressHash> hop_index;
  hop_index.reserve(total);
  // The next hop towards `a`: `a` itself when it is on a port's link, else the gateway of its
  // family (which must be on a link).
  auto on_link = [&](const IpAddress& a) -> int {
    for (uint16_t p = 0; p < ports_.size(); ++p) {
      for (const auto& prefix : ports_[p].addresses) {
        if (prefix.contains(a)) return p;
      }
    }
    return -1;
  };
  auto hop_of = [&](const IpAddress& a, size_t si, size_t bi) -> uint32_t {
    IpAddress next = a;
    int port = on_link(a);
    if (port < 0) {
      for (const auto& g : config.gateways) {
        if (g.is_v4() == a.is_v4()) next = g;
      }
      port = next == a ? -1 : on_link(next);
      if (port < 0) {
        throw ConfigError(
            backend_where(si, bi) + ": " + format_ip_address(a) +
            " is on none of the ports' links and no lb.gateways entry of its family is on one");
      }
    }
    const auto [it, added] = hop_index.try_emplace(next, static_cast<uint32_t>(hops.size()));
    if (added) hops.emplace_back(next, static_cast<uint16_t>(port));
    return it->second;
  };

  // The service of the same name in the configuration being replaced, if any.
  std::vector<const ServiceRuntime*> old_of(config.services.size(), nullptr);
  if (previous != nullptr) {
    std::unordered_map<std::string_view, const ServiceRuntime*> by_name;
    by_name.reserve(previous->services_.size());
    for (const auto& s : previous->services_) by_name.emplace(s.name, &s);
    for (size_t si = 0; si < config.services.size(); ++si) {
      if (auto it = by_name.find(config.services[si].name); it != by_name.end())
        old_of[si] = it->second;
    }
  }

  services_.reserve(config.services.size());
  for (size_t si = 0; si < config.services.size(); ++si) {
    const ServiceConfig& sc = config.services[si];
    int nat_address = -1;
    for (size_t i = 0; i < nat_addresses_.size() && nat_address < 0; ++i) {
      if (nat_addresses_[i].is_v4() == sc.vip.is_v4()) nat_address = static_cast<int>(i);
    }
    std::vector<BackendRuntime> backends;
    backends.reserve(sc.backends.size());
    for (size_t bi = 0; bi < sc.backends.size(); ++bi) {
      const BackendConfig& b = sc.backends[bi];
      backends.push_back({kNoBackendId, b.address, b.port, b.weight, hop_of(b.address, si, bi)});
    }
    std::shared_ptr<const MaglevTable> maglev;
    if (same_maglev_input(old_of[si], sc, config.maglev_table_size)) maglev = old_of[si]->maglev;
    services_.push_back({kNoId, sc.name, sc.vip, sc.protocol, sc.port, sc.mode, sc.tunnel,
                         sc.gue_port, sc.hash_source_port, sc.track_udp_flows, nat_address,
                         std::move(maglev), std::move(backends)});
  }
  build_missing_tables(config, services_);

  assign_ids(old_of, previous);

  neighbor_count_ = static_cast<uint32_t>(hops.size());
  neighbors_ = std::make_unique<Neighbor[]>(hops.size());
  neighbor_index_.reserve(hops.size());
  for (uint32_t i = 0; i < hops.size(); ++i) {
    neighbors_[i].address = hops[i].first;
    neighbors_[i].port_index = hops[i].second;
    if (previous != nullptr) {
      // Keep what was learned: a configuration change must not make known backends unreachable.
      if (const Neighbor* old = previous->find_neighbor(hops[i].first)) {
        neighbors_[i].mac.store(old->mac.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
      }
    }
    neighbor_index_.emplace_back(hops[i].first, i);
  }
  std::sort(neighbor_index_.begin(), neighbor_index_.end());

  for (const auto& p : ports_) {
    for (const auto& prefix : p.addresses) port_addresses_.push_back(prefix.address);
  }
  std::sort(port_addresses_.begin(), port_addresses_.end());
  owned_ = port_addresses_;
  for (const auto& s : services_) owned_.push_back(s.vip);
  owned_.insert(owned_.end(), nat_addresses_.begin(), nat_addresses_.end());
  std::sort(owned_.begin(), owned_.end());
  owned_.erase(std::unique(owned_.begin(), owned_.end()), owned_.end());
}

void LbRuntime::assign_ids(const std::vector<const ServiceRuntime*>& old_of,
                           const LbRuntime* previous) {
  if (services_.size() > kMaxServiceIds) throw ConfigError("services: at most 4096 services");
  // Services: the id of the service of the same name before, else the lowest id unused now and
  // before (so that a removed service's stale flows never meet a new service at once).
  std::vector<bool> taken(kMaxServiceIds, false);
  if (previous != nullptr) {
    for (const auto& s : previous->services_) taken[s.id] = true;
  }
  uint16_t next_service = 0;
  for (size_t si = 0; si < services_.size(); ++si) {
    ServiceRuntime& s = services_[si];
    if (old_of[si] != nullptr) {
      s.id = old_of[si]->id;
      continue;
    }
    while (taken[next_service]) ++next_service;
    s.id = next_service;
    taken[next_service] = true;
  }
  // Backends: the same (address, port) in the same service keeps its id; new ones take ids in
  // turn from where the previous configuration stopped, skipping ids in use.
  max_backends_ = previous != nullptr ? previous->max_backends_ : max_backends_;
  std::vector<bool> in_use(max_backends_, false);
  next_backend_id_ = previous != nullptr ? previous->next_backend_id_ : 0;
  std::unordered_map<Endpoint, uint32_t, EndpointHash> old_ids;
  for (size_t si = 0; si < services_.size(); ++si) {
    const ServiceRuntime* old = old_of[si];
    if (old == nullptr) continue;
    auto& backends = services_[si].backends;
    old_ids.clear();
    for (size_t bi = 0; bi < backends.size(); ++bi) {
      BackendRuntime& b = backends[bi];
      // Usually the same backend sits at the same place; otherwise look it up by endpoint.
      if (bi < old->backends.size() && old->backends[bi].address == b.address &&
          old->backends[bi].port == b.port) {
        b.id = old->backends[bi].id;
      } else {
        if (old_ids.empty()) {
          for (const auto& ob : old->backends)
            old_ids.emplace(Endpoint{ob.address, ob.port}, ob.id);
        }
        if (auto it = old_ids.find({b.address, b.port}); it != old_ids.end()) b.id = it->second;
      }
      if (b.id != kNoBackendId) in_use[b.id] = true;
    }
  }
  size_t total = 0;
  for (auto& s : services_) total += s.backends.size();
  if (total > max_backends_) {
    throw ConfigError("services: at most " + std::to_string(max_backends_) +
                      " backends in all (lb.max_backends)");
  }
  backend_by_id_.assign(max_backends_, BackendRef{});
  for (uint16_t si = 0; si < services_.size(); ++si) {
    for (uint16_t bi = 0; bi < services_[si].backends.size(); ++bi) {
      BackendRuntime& b = services_[si].backends[bi];
      if (b.id == kNoBackendId) {
        while (in_use[next_backend_id_]) next_backend_id_ = (next_backend_id_ + 1) % max_backends_;
        b.id = next_backend_id_;
        in_use[b.id] = true;
        next_backend_id_ = (next_backend_id_ + 1) % max_backends_;
      }
      backend_by_id_[b.id] = {si, bi};
    }
  }
}

Neighbor* LbRuntime::find_neighbor(const IpAddress& a) {
  auto it = std::lower_bound(neighbor_index_.begin(), neighbor_index_.end(), a,
                             [](const auto& entry, const IpAddress& x) { return entry.first < x; });
  return it != neighbor_index_.end() && it->first == a ? &neighbors_[it->second] : nullptr;
}

bool LbRuntime::owns(const IpAddress& a) const {
  return std::binary_search(owned_.begin(), owned_.end(), a);
}

bool LbRuntime::is_port_address(const IpAddress& a) const {
  return std::binary_search(port_addresses_.begin(), port_addresses_.end(), a);
}

int LbRuntime::nat_address_index(const IpAddress& a) const {
  for (size_t i = 0; i < nat_addresses_.size(); ++i) {
    if (nat_addresses_[i] == a) return static_cast<int>(i);
  }
  return -1;
}

int LbRuntime::port_index(uint16_t port_id) const {
  for (size_t i = 0; i < ports_.size(); ++i) {
    if (ports_[i].id == port_id) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sluice::lb
