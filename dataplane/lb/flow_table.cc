#include "flow_table.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace sluice::lb {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

// All of the table's memory comes from here (a later version may take it from
// rte_zmalloc_socket on the worker's NUMA node). Tables of 2 MiB and more are 2 MiB aligned and
// offered to transparent huge pages, so that random lookups do not pay a page walk each.
FlowTable::FlowTable(uint32_t capacity, const FlowTimeouts& timeouts) {
  constexpr uint32_t kMaxBuckets = uint32_t{1} << 28;  // indexes stay below kNoPeer
  uint32_t nbuckets = (capacity + kBucketEntries - 1) / kBucketEntries;
  if (capacity > kMaxBuckets * kBucketEntries) nbuckets = kMaxBuckets;
  nbuckets = round_up_pow2(nbuckets == 0 ? 1 : nbuckets);
  const size_t bytes = size_t{nbuckets} * sizeof(Bucket);
  const size_t align = bytes >= kHugePage ? kHugePage : alignof(Bucket);
  const size_t rounded = (bytes + align - 1) / align * align;
  void* mem = std::aligned_alloc(align, rounded);
  if (mem == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(mem, rounded, MADV_HUGEPAGE);
#endif
  std::memset(mem, 0, rounded);  // also faults every page in now, not on the packet path
  buckets_.reset(static_cast<Bucket*>(mem));
  mask_ = nbuckets - 1;
  set_timeouts(timeouts);
}

FlowTable::~FlowTable() = default;

void FlowTable::Free::operator()(Bucket* p) const noexcept {
  std::free(p);
}

void FlowTable::set_timeouts(const FlowTimeouts& t) noexcept {
  timeouts_ = t;
  timeout_by_state_[kTcpSyn] = t.tcp_syn_ms;
  timeout_by_state_[kTcpEstablished] = t.tcp_established_ms;
  timeout_by_state_[kTcpClosing] = t.tcp_closing_ms;
  timeout_by_state_[kUdp] = t.udp_ms;
  timeout_by_state_[kOther] = t.other_ms;
}

void FlowTable::clear() noexcept {
  for (uint32_t b = 0; b <= mask_; ++b) {
    buckets_[b].used = 0;
    buckets_[b].paired = 0;
  }
  active_ = 0;
  cursor_ = 0;
  pinned_ = kNoPeer;
  inserts_ = evictions_ = expirations_ = moves_ = 0;
}

FlowPair FlowTable::insert_pair(const FlowKey& first, uint32_t first_hash, const FlowKey& second,
                                uint32_t second_hash, uint32_t now_ms) noexcept {
  const uint32_t first_idx = index_of(insert(first, first_hash, now_ms));
  pinned_ = first_idx;
  FlowEntry* b = insert(second, second_hash, now_ms);
  pinned_ = kNoPeer;
  FlowEntry* a = at(first_idx);
  link(a, b);
  return {a, b};
}

void FlowTable::link(FlowEntry* a, FlowEntry* b) noexcept {
  const uint32_t ia = index_of(a), ib = index_of(b);
  if (ia == ib) return;
  a->peer = ib;
  b->peer = ia;
  Bucket& ba = buckets_[ia / kBucketEntries];
  Bucket& bb = buckets_[ib / kBucketEntries];
  ba.paired = static_cast<uint8_t>(ba.paired | (1u << (ia % kBucketEntries)));
  bb.paired = static_cast<uint8_t>(bb.paired | (1u << (ib % kBucketEntries)));
}

void FlowTable::free_slot(uint32_t idx) noexcept {
  Bucket& b = buckets_[idx / kBucketEntries];
  if (free_hook_ != nullptr) free_hook_(free_context_, b.entry[idx % kBucketEntries]);
  const uint8_t bit = static_cast<uint8_t>(1u << (idx % kBucketEntries));
  b.used = static_cast<uint8_t>(b.used & ~bit);
  b.paired = static_cast<uint8_t>(b.paired & ~bit);
  --active_;
}

uint32_t FlowTable::free_pair(uint32_t idx) noexcept {
  const Bucket& b = buckets_[idx / kBucketEntries];
  const uint32_t s = idx % kBucketEntries;
  if (!(b.used & (1u << s))) return 0;
  const uint32_t peer = (b.paired & (1u << s)) ? b.entry[s].peer : kNoPeer;
  free_slot(idx);
  if (peer == kNoPeer || peer == idx || peer > capacity() - 1) return 1;
  const Bucket& pb = buckets_[peer / kBucketEntries];
  const uint32_t ps = peer % kBucketEntries;
  if (!(pb.used & (1u << ps)) || pb.entry[ps].peer != idx) return 1;
  free_slot(peer);
  return 2;
}

void FlowTable::move(uint32_t from, uint32_t to) noexcept {
  Bucket& src = buckets_[from / kBucketEntries];
  Bucket& dst = buckets_[to / kBucketEntries];
  const uint32_t fs = from % kBucketEntries, ts = to % kBucketEntries;
  dst.entry[ts] = src.entry[fs];
  dst.sig[ts] = src.sig[fs];
  dst.last_seen[ts] = src.last_seen[fs];
  dst.state[ts] = src.state[fs];
  dst.used = static_cast<uint8_t>(dst.used | (1u << ts));
  const bool paired = src.paired & (1u << fs);
  if (paired) {
    dst.paired = static_cast<uint8_t>(dst.paired | (1u << ts));
    at(dst.entry[ts].peer)->peer = to;
  } else {
    dst.paired = static_cast<uint8_t>(dst.paired & ~(1u << ts));
  }
  src.used = static_cast<uint8_t>(src.used & ~(1u << fs));
  src.paired = static_cast<uint8_t>(src.paired & ~(1u << fs));
  ++moves_;
}

// Breadth-first search from the two full candidate buckets for a bucket with a free slot, each
// edge being "the entry in slot s moves to its other bucket". Children's headers are prefetched
// when their parent is expanded, so a level costs about one memory latency. The path is replayed
// from its free end; each move is re-checked (a bucket may appear twice on a path), and a failed
// check stops the replay with the table consistent, every move done so far being legal.
uint32_t FlowTable::cuckoo_search(uint32_t p, uint32_t a, uint32_t max_nodes) noexcept {
  struct Node {
    uint32_t bucket;
    int16_t parent;  // node whose entry moves here; -1 for a root
    uint8_t slot;    // that entry's slot in the parent's bucket
  };
  Node q[kMaxSearchNodes];
  uint32_t head = 0, tail = 0;
  q[tail++] = {p, -1, 0};
  if (a != p) q[tail++] = {a, -1, 0};
  const uint32_t roots = tail;

  for (; head < tail; ++head) {
    const Node n = q[head];
    const Bucket& b = buckets_[n.bucket];
    if (head >= roots && b.used != kFull) {
      // Replay: move the parent's entry into this bucket, then the grandparent's into the slot
      // just vacated, and so on up to the root.
      uint32_t node = head;
      while (q[node].parent >= 0) {
        const Node& child = q[node];
        const uint32_t parent = static_cast<uint32_t>(child.parent);
        const uint32_t from = q[parent].bucket * kBucketEntries + child.slot;
        const Bucket& src = buckets_[q[parent].bucket];
        const Bucket& dst = buckets_[child.bucket];
        if (dst.used == kFull || !(src.used & (1u << child.slot)) || from == pinned_ ||
            alt_of(q[parent].bucket, src.sig[child.slot]) != child.bucket) {
          return kNoPeer;
        }
        move(from, child.bucket * kBucketEntries + first_free(dst));
        node = parent;
      }
      const Bucket& root = buckets_[q[node].bucket];
      if (root.used == kFull) return kNoPeer;
      return q[node].bucket * kBucketEntries + first_free(root);
    }
    if (tail + kBucketEntries > max_nodes) continue;  // too deep: only check the queue
    for (uint32_t s = 0; s < kBucketEntries; ++s) {
      if (n.bucket * kBucketEntries + s == pinned_) continue;
      const uint32_t next = alt_of(n.bucket, b.sig[s]);
      if (next == n.bucket) continue;
      rte_prefetch0(&buckets_[next]);
      q[tail++] = {next, static_cast<int16_t>(head), static_cast<uint8_t>(s)};
    }
  }
  return kNoPeer;
}

uint32_t FlowTable::make_room(uint32_t p, uint32_t a, uint32_t now_ms) noexcept {
  const uint32_t cand[2] = {p, a};
  const uint32_t ncand = a == p ? 1 : 2;

  // An expired entry of either candidate (header reads, plus a peer header for paired ones).
  for (uint32_t c = 0; c < ncand; ++c) {
    for (uint32_t s = 0; s < kBucketEntries; ++s) {
      const uint32_t idx = cand[c] * kBucketEntries + s;
      if (idx != pinned_ && slot_expired(cand[c], s, now_ms)) {
        expirations_ += free_pair(idx);
        return idx;
      }
    }
  }

  // A search can only succeed where some slot is free.
  const uint32_t free = capacity() - active_;
  if (free != 0) {
    const uint32_t idx =
        cuckoo_search(p, a, free > capacity() / 100 ? kMaxSearchNodes : kShallowSearchNodes);
    if (idx != kNoPeer) return idx;
  }

  // Evict the least recently seen entry of the two buckets.
  uint32_t victim = kNoPeer, oldest = 0;
  for (uint32_t c = 0; c < ncand; ++c) {
    const Bucket& b = buckets_[cand[c]];
    if (b.used != kFull) return cand[c] * kBucketEntries + first_free(b);  // a failed replay
    for (uint32_t s = 0; s < kBucketEntries; ++s) {
      const uint32_t i = cand[c] * kBucketEntries + s;
      const uint32_t age = now_ms - b.last_seen[s];
      if (i != pinned_ && (victim == kNoPeer || age > oldest)) {
        victim = i;
        oldest = age;
      }
    }
  }
  free_pair(victim);
  ++evictions_;
  return victim;
}

uint32_t FlowTable::expire_some(uint32_t now_ms, uint32_t max_buckets) noexcept {
  constexpr uint32_t kAhead = 4;
  if (max_buckets > mask_ + 1) max_buckets = mask_ + 1;
  uint32_t freed = 0;
  for (uint32_t k = 0; k < max_buckets; ++k) {
    const uint32_t bucket = cursor_;
    cursor_ = (cursor_ + 1) & mask_;
    rte_prefetch0(&buckets_[(bucket + kAhead) & mask_]);
    const Bucket& b = buckets_[bucket];
    for (uint32_t s = 0; s < kBucketEntries; ++s) {
      if ((b.used & (1u << s)) && slot_expired(bucket, s, now_ms)) {
        freed += free_pair(bucket * kBucketEntries + s);
      }
    }
  }
  expirations_ += freed;
  return freed;
}

}  // namespace sluice::lb
