#include "lb_job.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <cstring>

#include "encap.h"
#include "icmp_error.h"
#include "rewrite.h"

namespace sluice::lb {

using dataplane::kBurstSize;
using dataplane::PortCounters;
using dataplane::WorkerCounters;

namespace {

constexpr uint32_t kFlowHashSeed = 0x5eed5eed;
constexpr uint32_t kExpireBucketsPerPass = 4;
constexpr uint32_t kNeighborRequestIntervalMs = 1000;
constexpr unsigned kNatPortAttempts = 16;
constexpr uint32_t kPeerRefreshMs = 1000;
constexpr uint8_t kFlowCounted = 0x01;  // FlowEntry::flags: a forward entry in the active counts

FlowTimeouts flow_timeouts(const Timeouts& t) {
  FlowTimeouts f;
  f.tcp_syn_ms = t.tcp_syn_s * 1000;
  f.tcp_established_ms = t.tcp_established_s * 1000;
  f.tcp_closing_ms = t.tcp_closing_s * 1000;
  f.udp_ms = t.udp_s * 1000;
  return f;
}

// The appliance's own address of `family` on the link that reaches `peer`.
const IpAddress* own_address_towards(const LbPort& port, const IpAddress& peer) {
  for (const auto& p : port.addresses) {
    if (p.contains(peer)) return &p.address;
  }
  return nullptr;
}

void record_state(FlowTable& flows, FlowEntry* e, const PacketMeta& meta, uint32_t now_ms) {
  if (meta.key.proto == kProtoTcp) {
    flows.touch_tcp(e, meta.tcp_flags, now_ms);
  } else {
    e->state = meta.key.proto == kProtoUdp ? kUdp : kOther;
    flows.touch(e, now_ms);
  }
}

}  // namespace

LbJob::LbJob(dataplane::SnapshotPublisher<LbRuntime>& snapshots,
             const std::vector<dataplane::EgressQueue>& egress, const LbJobOptions& options)
    : snapshots_(snapshots),
      rt_(snapshots.current()),
      egress_(egress),
      options_(options),
      flows_(options.flow_table_size, flow_timeouts(rt_->timeouts())),
      tsc_per_ms_(rte_get_tsc_hz() / 1000),
      staged_(rt_->ports().size()),
      service_counters_(kMaxServiceIds),
      backend_counters_(rt_->max_backends()) {
  snapshots_.online(options.worker_index);
  flows_.set_free_hook(&LbJob::flow_freed, this);
  const unsigned nat_ports = options.last_nat_port + 1u - options.first_nat_port;
  nat_port_count_ = static_cast<uint16_t>(std::max(1u, nat_ports / options.worker_count));
  nat_port_base_ =
      static_cast<uint16_t>(options.first_nat_port + options.worker_index * nat_port_count_);
}

LbJob::~LbJob() {
  snapshots_.offline(options_.worker_index);
}

uint32_t LbJob::poll(WorkerCounters& counters) {
  rt_ = snapshots_.current();
  now_ms_ = static_cast<uint32_t>(rte_rdtsc() / tsc_per_ms_);
  uint32_t received = 0;
  const auto& ports = rt_->ports();
  for (uint16_t p = 0; p < ports.size(); ++p) {
    rte_mbuf* pkts[kBurstSize];
    const uint16_t n = rte_eth_rx_burst(ports[p].id, options_.queue, pkts, kBurstSize);
    if (n == 0) continue;
    process(p, pkts, n, counters);
    received += n;
  }
  if (options_.exception.from_kernel != nullptr) received += transmit_from_kernel(counters);
  flows_.expire_some(now_ms_, kExpireBucketsPerPass);
  core_.active_flows.set(flows_.active());
  snapshots_.quiescent(options_.worker_index);
  return received;
}

void LbJob::drop(rte_mbuf* m, PortCounters& c, DropReason reason) {
  c.drop(reason);
  rte_pktmbuf_free(m);
}

bool LbJob::to_kernel(uint16_t pi, rte_mbuf* m) {
  if (!options_.exception.enabled()) return false;
  const uint8_t* dst_mac = rte_pktmbuf_mtod(m, const uint8_t*);
  if ((dst_mac[0] & 1) == 0 && std::memcmp(dst_mac, rt_->ports()[pi].mac.data(), 6) != 0) {
    return false;  // unicast to another host: the port is promiscuous, the kernel's TAP is not
  }
  m->port = pi;
  to_kernel_[to_kernel_n_++] = m;
  return true;
}

void LbJob::flush_to_kernel(PortCounters& in) {
  const uint16_t n = to_kernel_n_;
  to_kernel_n_ = 0;
  const uint16_t sent = options_.exception.send(to_kernel_, n);
  core_.to_kernel.add(sent);
  if (sent < n) [[unlikely]] {
    rte_pktmbuf_free_bulk(to_kernel_ + sent, n - sent);
    in.drop(DropReason::kExceptionFull, n - sent);
    core_.exception_drops.add(n - sent);
  }
}

uint16_t LbJob::transmit_from_kernel(WorkerCounters& counters) {
  rte_mbuf* pkts[kBurstSize];
  const uint16_t n = options_.exception.receive(pkts, kBurstSize);
  if (n == 0) return 0;
  uint16_t staged = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (pkts[i]->port < staged_.size()) [[likely]] {
      stage(pkts[i]->port, pkts[i]);
      ++staged;
    } else {
      rte_pktmbuf_free(pkts[i]);
      core_.exception_drops.inc();
    }
  }
  core_.from_kernel.add(staged);
  flush(counters);
  return n;
}

void LbJob::flush(WorkerCounters& counters) {
  for (uint16_t p = 0; p < staged_.size(); ++p) {
    Staged& s = staged_[p];
    if (s.n == 0) continue;
    dataplane::transmit_burst(egress_[p], s.pkts, s.n, counters.ports[egress_[p].port]);
    s.n = 0;
  }
}

void LbJob::process(uint16_t pi, rte_mbuf** pkts, uint16_t n, WorkerCounters& c) {
  rx_port_id_ = rt_->ports()[pi].id;
  rx_port_index_ = pi;
  PortCounters& in = c.ports[rx_port_id_];
  parse_burst(pkts, n, meta_);
  lb_n_ = reply_n_ = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const PacketMeta& meta = meta_[i];
    bytes += m->pkt_len;
    burst_[i] = m;
    switch (meta.kind) {
      case PacketKind::kDrop:
        drop(m, in, meta.drop);
        continue;
      case PacketKind::kArp:
        handle_arp(pi, m, meta, c);
        continue;
      case PacketKind::kOther:
        if (!to_kernel(pi, m)) drop(m, in, DropReason::kNotForUs);
        continue;
      case PacketKind::kIp:
        break;
    }
    if ((meta.key.proto == kProtoTcp || meta.key.proto == kProtoUdp) && !meta.later_fragment) {
      const uint16_t s = rt_->service_table().find(meta.key.dst, meta.key.proto, meta.key.dst_port);
      // The flow's buckets start loading now, while the rest of the burst is classified.
      if (s != ServiceTable::kNone) {
        service_of_[i] = s;
        hash_of_[i] = flow_hash(meta.key, kFlowHashSeed);
        flows_.prefetch(hash_of_[i]);
        lb_idx_[lb_n_++] = i;
        continue;
      }
      if (rt_->nat_address_index(meta.key.dst) >= 0) {
        hash_of_[i] = flow_hash(meta.key, kFlowHashSeed);
        flows_.prefetch(hash_of_[i]);
        reply_idx_[reply_n_++] = i;
        continue;
      }
    }
    if (handle_icmp(pi, m, meta, c)) continue;
    if (!(kernel_may_want(meta.key.dst) && to_kernel(pi, m))) drop(m, in, DropReason::kNotForUs);
  }
  in.rx_packets.add(n);
  in.rx_bytes.add(bytes);
  if (lb_n_ != 0) forward_services(pi, c);
  if (reply_n_ != 0) forward_replies(c);
  flush(c);
  if (to_kernel_n_ != 0) flush_to_kernel(in);
}

void LbJob::handle_arp(uint16_t pi, rte_mbuf* m, const PacketMeta& meta, WorkerCounters& c) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const ArpView arp = read_arp(frame, meta);
  if (Neighbor* nb = rt_->find_neighbor(arp.sender_ip)) nb->learn(arp.sender_mac);
  if (!rt_->owns(arp.target_ip)) {
    drop(m, c.ports[rt_->ports()[pi].id], DropReason::kNotForUs);
    return;
  }
  if (arp.op != 1) {
    // A reply: learned above, and the kernel's too if it holds the address (it may have asked).
    if (!(rt_->is_port_address(arp.target_ip) && to_kernel(pi, m))) rte_pktmbuf_free(m);
    return;
  }
  make_arp_reply(frame, meta, rt_->ports()[pi].mac);
  core_.arp_replies.inc();
  stage(pi, m);
}

bool LbJob::handle_icmp(uint16_t pi, rte_mbuf* m, const PacketMeta& meta, WorkerCounters& c) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (is_packet_too_big(meta) && rt_->owns(meta.key.dst))
    return steer_packet_too_big(pi, m, meta, c);
  // Pings of a port's own address are the kernel's to answer when it has the exception path.
  if (is_echo_request(meta) && rt_->owns(meta.key.dst) &&
      !(options_.exception.enabled() && rt_->is_port_address(meta.key.dst))) {
    make_echo_reply(frame, meta);
    core_.echo_replies.inc();
    stage(pi, m);
    return true;
  }
  if (meta.key.proto != kProtoIcmp6) return false;
  if (auto ns = read_neighbor_solicit(frame, meta)) {
    if (ns->link_address) {
      if (Neighbor* nb = rt_->find_neighbor(meta.key.src)) nb->learn(*ns->link_address);
    }
    if (!rt_->owns(ns->target) || m->nb_segs != 1) return false;
    const uint32_t size = neighbor_advert_size(meta);
    if (size > static_cast<uint32_t>(m->buf_len - m->data_off)) return false;
    m->data_len = static_cast<uint16_t>(size);
    m->pkt_len = size;
    make_neighbor_advert(frame, meta, ns->target, rt_->ports()[pi].mac);
    core_.nd_adverts.inc();
    stage(pi, m);
    return true;
  }
  if (auto na = read_neighbor_advert(frame, meta)) {
    Neighbor* nb = rt_->find_neighbor(na->first);
    if (nb != nullptr) nb->learn(na->second);
    // The kernel may have solicited it too.
    if (kernel_may_want(meta.key.dst) && to_kernel(pi, m)) return true;
    if (nb != nullptr) {
      rte_pktmbuf_free(m);
      return true;
    }
  }
  return false;
}

bool LbJob::steer_packet_too_big(uint16_t pi, rte_mbuf* m, const PacketMeta& meta,
                                 WorkerCounters& c) {
  const auto flow = quoted_client_flow(rte_pktmbuf_mtod(m, const uint8_t*), meta);
  if (!flow) return false;
  const uint16_t si = rt_->service_table().find(flow->dst, flow->proto, flow->dst_port);
  if (si == ServiceTable::kNone) return false;
  const ServiceRuntime& s = rt_->services()[si];
  // Under full-NAT the client never saw the backend's packets: the balancer sent them, and the
  // kernel's path MTU handling does not apply to them. Only DSR and tunnel backends are told.
  if (s.mode == ForwardingMode::kNat) return false;
  const uint32_t hash = mix32(s.hash_source_port ? flow_hash(*flow, kFlowHashSeed)
                                                 : flow_hash_no_src_port(*flow, kFlowHashSeed));
  uint16_t backend = s.maglev->lookup(hash);
  if (FlowEntry* e = flows_.lookup(*flow, flow_hash(*flow, kFlowHashSeed), now_ms_)) {
    const LbRuntime::BackendRef ref = rt_->backend_by_id(e->backend());
    if (ref.service == si) backend = ref.backend;
  }
  if (backend == MaglevTable::kNoBackend || backend >= s.backends.size()) {
    drop(m, c.ports[rt_->ports()[pi].id], DropReason::kNoBackend);
    return true;
  }
  core_.packet_too_big.inc();
  send_to_backend(s, backend, m, meta, hash, nullptr, c);
  return true;
}

void LbJob::count_new_flow(FlowEntry* e) {
  e->flags |= kFlowCounted;
  service_counters_[e->service()].active_flows.inc();
  backend_counters_[e->backend()].active_flows.inc();
}

void LbJob::flow_freed(void* job, const FlowEntry& e) {
  if (!(e.flags & kFlowCounted)) return;
  auto* self = static_cast<LbJob*>(job);
  // Single writer (this core): adding the two's complement of one is a decrement.
  self->service_counters_[e.service()].active_flows.add(~uint64_t{0});
  self->backend_counters_[e.backend()].active_flows.add(~uint64_t{0});
}

bool LbJob::admit_new_flow() {
  const uint32_t rate = options_.new_flows_per_second;
  if (rate == 0) return true;
  const uint64_t burst = std::max<uint64_t>(rate / 10, kBurstSize);
  const uint32_t elapsed = now_ms_ - tokens_at_ms_;
  if (elapsed != 0) {
    tokens_ = std::min<uint64_t>(burst, tokens_ + uint64_t{elapsed} * rate / 1000);
    tokens_at_ms_ = now_ms_;
  }
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

void LbJob::forward_services(uint16_t pi, WorkerCounters& c) {
  const FlowKey* keys[kBurstSize];
  uint32_t table_hash[kBurstSize], lookup_hash[kBurstSize];
  FlowEntry* found[kBurstSize];
  uint16_t tracked_of[kBurstSize];  // position in lb_idx_ of each tracked lookup
  uint16_t tracked = 0;
  bool done[kBurstSize] = {};

  for (uint16_t k = 0; k < lb_n_; ++k) {
    const PacketMeta& meta = meta_[lb_idx_[k]];
    const ServiceRuntime& s = rt_->services()[service_of_[lb_idx_[k]]];
    table_hash[k] = hash_of_[lb_idx_[k]];
    lookup_hash[k] =
        mix32(s.hash_source_port ? table_hash[k] : flow_hash_no_src_port(meta.key, kFlowHashSeed));
    if (meta.key.proto == kProtoUdp && !s.track_udp_flows) continue;
    keys[tracked] = &meta.key;
    found[tracked] = nullptr;
    tracked_of[tracked++] = k;
  }
  uint32_t hashes[kBurstSize];
  for (uint16_t t = 0; t < tracked; ++t) hashes[t] = table_hash[tracked_of[t]];
  flows_.lookup_bulk(keys, hashes, tracked, now_ms_, found);

  // Established flows first: an insert may move entries, which would invalidate `found`.
  for (uint16_t t = 0; t < tracked; ++t) {
    FlowEntry* e = found[t];
    const uint16_t k = tracked_of[t];
    const uint16_t i = lb_idx_[k];
    const ServiceRuntime& s = rt_->services()[service_of_[i]];
    if (e == nullptr) continue;
    // A flow whose backend left the configuration is picked again, as a new flow.
    const LbRuntime::BackendRef ref = rt_->backend_by_id(e->backend());
    if (ref.service != service_of_[i]) {
      flows_.remove(e);
      continue;
    }
    // A full-NAT pair expires when both entries are idle; the reply entry lies in another bucket,
    // so the forward direction refreshes it at most once a second rather than per packet.
    if (e->peer != kNoPeer && now_ms_ - e->last_seen_ms >= kPeerRefreshMs)
      flows_.touch(flows_.at(e->peer), now_ms_);
    record_state(flows_, e, meta_[i], now_ms_);
    send_to_backend(s, ref.backend, burst_[i], meta_[i], lookup_hash[k], e, c);
    done[k] = true;
  }

  // New flows (and stateless UDP).
  for (uint16_t k = 0; k < lb_n_; ++k) {
    if (done[k]) continue;
    const uint16_t i = lb_idx_[k];
    const uint16_t si = service_of_[i];
    const ServiceRuntime& s = rt_->services()[si];
    const PacketMeta& meta = meta_[i];
    rte_mbuf* m = burst_[i];
    const bool stateful = !(meta.key.proto == kProtoUdp && !s.track_udp_flows);
    // A flow may have been created by an earlier packet of this same burst.
    if (stateful) {
      if (FlowEntry* e = flows_.lookup(meta.key, table_hash[k], now_ms_)) {
        record_state(flows_, e, meta, now_ms_);
        send_to_backend(s, rt_->backend_by_id(e->backend()).backend, m, meta, lookup_hash[k], e, c);
        continue;
      }
    }
    const MaglevTable::Entry backend = s.maglev->lookup(lookup_hash[k]);
    if (backend == MaglevTable::kNoBackend) {
      drop(m, c.ports[rt_->ports()[pi].id], DropReason::kNoBackend);
      continue;
    }
    service_counters_[s.id].new_flows.inc();
    backend_counters_[s.backends[backend].id].new_flows.inc();
    const bool full = flows_.active() >= flows_.capacity() - flows_.capacity() / 16;
    if (s.mode != ForwardingMode::kNat && (!stateful || full || !admit_new_flow())) {
      // Stateless: Maglev alone keeps the flow on its backend while the backend set is stable.
      core_.stateless_flows.inc();
      send_to_backend(s, backend, m, meta, lookup_hash[k], nullptr, c);
      continue;
    }
    if (s.mode != ForwardingMode::kNat) {
      FlowEntry* e = flows_.insert(meta.key, table_hash[k], now_ms_);
      e->set_ids(s.id, s.backends[backend].id);
      count_new_flow(e);
      record_state(flows_, e, meta, now_ms_);
      send_to_backend(s, backend, m, meta, lookup_hash[k], e, c);
      continue;
    }
    // Full-NAT: the reply's key (backend -> our address and port) must be free; try a few ports
    // of this core's slice.
    const BackendRuntime& b = s.backends[backend];
    FlowKey reply;
    reply.src = b.address;
    reply.dst = rt_->nat_addresses()[static_cast<size_t>(s.nat_address)];
    reply.src_port = b.port ? b.port : meta.key.dst_port;
    reply.proto = meta.key.proto;
    reply.family = meta.key.family;
    uint32_t reply_hash = 0;
    bool free_port = false;
    for (unsigned attempt = 0; attempt < kNatPortAttempts && !free_port; ++attempt) {
      reply.dst_port = static_cast<uint16_t>(nat_port_base_ +
                                             (table_hash[k] + attempt * 7919u) % nat_port_count_);
      reply_hash = flow_hash(reply, kFlowHashSeed);
      free_port = flows_.lookup(reply, reply_hash, now_ms_) == nullptr;
    }
    if (!free_port) {
      drop(m, c.ports[rt_->ports()[pi].id], DropReason::kNatPortsExhausted);
      continue;
    }
    FlowPair pair = flows_.insert_pair(meta.key, table_hash[k], reply, reply_hash, now_ms_);
    FlowEntry* e = pair.first;
    e->set_ids(s.id, s.backends[backend].id);
    pair.second->ids = e->ids;
    count_new_flow(e);
    e->nat_port = reply.dst_port;
    e->nat_addr = static_cast<uint8_t>(s.nat_address);
    e->client_port = static_cast<uint8_t>(pi);
    std::memcpy(e->client_mac, rte_pktmbuf_mtod_offset(m, const uint8_t*, 6), 6);
    record_state(flows_, e, meta, now_ms_);
    pair.second->state = e->state;
    flows_.touch(pair.second, now_ms_);
    send_to_backend(s, backend, m, meta, lookup_hash[k], e, c);
  }
}

void LbJob::send_to_backend(const ServiceRuntime& s, uint16_t bi, rte_mbuf* m,
                            const PacketMeta& meta, uint32_t hash, const FlowEntry* e,
                            WorkerCounters& c) {
  const BackendRuntime& b = s.backends[bi];
  Neighbor& nb = rt_->neighbor(b.neighbor);
  const LbPort& out = rt_->ports()[nb.port_index];
  MacAddress next_hop;
  if (!nb.known(next_hop)) {
    request_neighbor(nb, m->pool);
    drop(m, c.ports[out.id], DropReason::kNeighborUnresolved);
    return;
  }
  service_counters_[s.id].packets.inc();
  service_counters_[s.id].bytes.add(m->pkt_len);
  TrafficCounters& bc = backend_counters_[b.id];
  bc.packets.inc();
  bc.bytes.add(m->pkt_len);
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  switch (s.mode) {
    case ForwardingMode::kNat:
      rewrite_addresses_and_ports(frame, meta, rt_->nat_addresses()[e->nat_addr], e->nat_port,
                                  b.address, b.port ? b.port : meta.key.dst_port);
      set_macs(frame, out.mac.data(), next_hop.data());
      break;
    case ForwardingMode::kDsr:
      set_macs(frame, out.mac.data(), next_hop.data());
      break;
    case ForwardingMode::kTunnel: {
      TunnelParams tunnel{out.mac,   next_hop, {},
                          b.address, hash,     egress_[nb.port_index].max_frame - 4};
      const bool v4 = b.address.is_v4();
      if (const IpAddress* base = rt_->tunnel_source_base(v4)) {
        tunnel.src = tunnel_source(*base, hash, v4 ? kFamilyV4 : kFamilyV6);
      } else {
        tunnel.src = *own_address_towards(out, b.address);
      }
      const bool ok = s.tunnel == TunnelType::kGue ? encap_gue(m, meta, tunnel, s.gue_port)
                                                   : encap_ipip(m, meta, tunnel);
      if (!ok) {
        drop(m, c.ports[out.id], DropReason::kTunnelTooBig);
        return;
      }
      break;
    }
  }
  stage(nb.port_index, m);
}

void LbJob::forward_replies(WorkerCounters& c) {
  const FlowKey* keys[kBurstSize];
  uint32_t hashes[kBurstSize];
  FlowEntry* found[kBurstSize];
  for (uint16_t k = 0; k < reply_n_; ++k) {
    keys[k] = &meta_[reply_idx_[k]].key;
    hashes[k] = hash_of_[reply_idx_[k]];
  }
  flows_.lookup_bulk(keys, hashes, reply_n_, now_ms_, found);
  for (uint16_t k = 0; k < reply_n_; ++k) {
    const uint16_t i = reply_idx_[k];
    rte_mbuf* m = burst_[i];
    const PacketMeta& meta = meta_[i];
    FlowEntry* r = found[k];
    if (r == nullptr || r->peer == kNoPeer) {
      // Not a flow of ours: the kernel's own traffic when it holds the address.
      if (!(rt_->is_port_address(meta.key.dst) && to_kernel(rx_port_index_, m))) {
        drop(m, c.ports[rx_port_id_], DropReason::kNoFlow);
      }
      continue;
    }
    FlowEntry* fwd = flows_.at(r->peer);
    record_state(flows_, fwd, meta, now_ms_);
    r->state = fwd->state;
    flows_.touch(r, now_ms_);
    const LbPort& out = rt_->ports()[fwd->client_port];
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    rewrite_addresses_and_ports(frame, meta, fwd->key.dst, fwd->key.dst_port, fwd->key.src,
                                fwd->key.src_port);
    set_macs(frame, out.mac.data(), fwd->client_mac);
    core_.nat_replies.inc();
    stage(fwd->client_port, m);
  }
}

void LbJob::request_neighbor(Neighbor& nb, rte_mempool* pool) {
  uint32_t last = nb.last_request_ms.load(std::memory_order_relaxed);
  if (last != 0 && now_ms_ - last < kNeighborRequestIntervalMs) return;
  // One core asks; the others see the new time.
  if (!nb.last_request_ms.compare_exchange_strong(last, now_ms_ | 1, std::memory_order_relaxed))
    return;
  const LbPort& port = rt_->ports()[nb.port_index];
  const IpAddress* ours = own_address_towards(port, nb.address);
  if (ours == nullptr) return;
  rte_mbuf* req = rte_pktmbuf_alloc(pool);
  if (req == nullptr) return;
  const uint32_t size = nb.address.is_v4() ? kArpRequestSize : kNeighborSolicitSize;
  uint8_t* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(req, static_cast<uint16_t>(size)));
  if (nb.address.is_v4()) {
    make_arp_request(frame, port.mac, *ours, nb.address);
  } else {
    make_neighbor_solicit(frame, port.mac, *ours, nb.address);
  }
  core_.neighbor_requests.inc();
  stage(nb.port_index, req);
}

}  // namespace sluice::lb
