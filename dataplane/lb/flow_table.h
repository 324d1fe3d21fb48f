// The per-core connection (flow) table of the L4 balancer.
//
// One FlowTable per worker core, never shared: nothing here is atomic or locked. Capacity is fixed
// at construction, the only place that allocates; lookup, insert, touch, remove and expire_some
// never allocate, throw or log.
//
// Layout. A power-of-two array of 576-byte buckets, 64-byte aligned. The first cache line of a
// bucket is its header: eight 16-bit signatures (the high half of the flow hash), each slot's
// last-seen time and state, and bitmasks of used and paired slots. The eight 64-byte entries
// follow, one cache line each. A hit therefore costs two cache lines (header, entry), and every
// decision the table makes on its own (expiry, LRU victim, cuckoo moves) reads only headers.
// Memory per slot: 576 / 8 = 72 bytes; per tracked flow 72 / load factor (about 75 bytes at 95%).
//
// Why two candidate buckets with cuckoo moves, and not one bucket with eviction: bucket loads
// are Poisson-like, so with a single bucket per key the first bucket overflows (and LRU eviction
// of live flows starts) at about 16% of the capacity (simulated, 2^17 buckets of 8); two choices
// without moves overflow at about 72%. With moves the 1M-slot table holds 98% of its capacity
// before the first eviction (see the fill test), so the same memory tracks ~1.35 times the flows
// of a no-move design, and per-flow memory stays near the 72-byte slot cost. The alternate bucket
// is derived from the signature (alt = bucket XOR mix(sig), an involution, as in DPDK's rte_hash
// and MemC3), so an entry moves to its other bucket without its key being re-hashed. A new entry
// goes to the less loaded candidate; when both are full the insert reclaims an expired entry of
// the two, then searches for a chain of moves breadth-first over bucket headers (bounded, children
// prefetched a level ahead; shallower once the table is 99% full), and otherwise evicts the least
// recently seen entry of the 16 candidates: an insert never fails.
//
// Consequences the caller must respect:
//  * insert() may move entries between their two buckets and may evict; a FlowEntry pointer or
//    index obtained before an insert() is invalid after it (the entry it returns is valid). The
//    burst pattern is: lookup_bulk, act on every hit (touch, rewrite), then insert for the misses
//    (looking a key up again if the same new flow appears twice in a burst). Peer links are kept
//    right by the table across moves. insert_pair() creates both entries of a full-NAT flow and
//    links them without the first one moving under the second insert.
//  * lookup_bulk() prefetches, for writing, the entry line an insert would fill for each miss:
//    a new flow's insert then finds it in cache.
//  * The state and last-seen time that drive expiry and eviction are mirrored in the bucket
//    header: change FlowEntry::state through touch() (set it, then touch) or touch_tcp().
//  * A full-NAT pair (forward and reply, linked through `peer`) lives and dies together: it is
//    expired only when both entries are idle past their timeouts, and removing, evicting or
//    expiring either entry frees both.
//  * Times are uint32_t milliseconds that wrap (about 49.7 days); ages are modular differences.
//    An entry is live while now_ms - last_seen_ms < timeout(state), expired from age == timeout.
//    (An entry left unswept for over 2^31 ms would look young again: run expire_some steadily.)
//    Lookups treat an expired entry as a miss but leave reclaiming it to insert and expire_some,
//    so lookups never change the table.
#pragma once

#include <rte_prefetch.h>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#else
#include <rte_hash_crc.h>
#endif
#include <emmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "packet_parse.h"

namespace sluice::lb {

// ---------------------------------------------------------------------------------------------
// Hashing

namespace detail {

inline uint32_t crc32_u64(uint32_t crc, uint64_t v) {
#if defined(__SSE4_2__)
  return static_cast<uint32_t>(_mm_crc32_u64(crc, v));
#else
  return rte_hash_crc_8byte(v, crc);
#endif
}

inline uint32_t crc_key(const FlowKey& key, uint32_t seed, uint64_t last_word_mask) {
  uint64_t w[5];
  static_assert(sizeof(w) == sizeof(FlowKey));
  std::memcpy(w, &key, sizeof(w));
  uint32_t h = seed;
  h = crc32_u64(h, w[0]);
  h = crc32_u64(h, w[1]);
  h = crc32_u64(h, w[2]);
  h = crc32_u64(h, w[3]);
  return crc32_u64(h, w[4] & last_word_mask);
}

}  // namespace detail

// MurmurHash3's 32-bit finaliser: a bijection that spreads structured inputs (CRC of keys that
// differ only in a counting field, sequential test keys) over all 32 bits.
inline constexpr uint32_t mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

// CRC32-C (SSE4.2) of the 40 key bytes. The table takes its bucket from the low bits and the
// signature from the high 16 bits. CRC is linear, so the seed does not stop crafted collisions; a
// targeted collision set can only contend for its own two buckets.
inline uint32_t flow_hash(const FlowKey& key, uint32_t seed) {
  return detail::crc_key(key, seed, ~uint64_t{0});
}

// The same hash with the source port taken as zero: every connection of one client address to
// one service hashes alike.
inline uint32_t flow_hash_no_src_port(const FlowKey& key, uint32_t seed) {
  static_assert(offsetof(FlowKey, src_port) == 32 && sizeof(FlowKey::src_port) == 2);
  // Little-endian: the source port is the low 16 bits of the fifth word.
  return detail::crc_key(key, seed, ~uint64_t{0xffff});
}

// ---------------------------------------------------------------------------------------------
// Entries and states

inline constexpr uint32_t kNoPeer = UINT32_MAX;

enum FlowState : uint8_t {
  kTcpSyn = 0,      // only SYNs seen (a fresh entry starts here)
  kTcpEstablished,  // an ACK without SYN seen
  kTcpClosing,      // FIN or RST seen
  kUdp,
  kOther,
  kFlowStateCount,
};

// TCP header flag bits, as in PacketMeta::tcp_flags.
enum : uint8_t {
  kTcpFlagFin = 0x01,
  kTcpFlagSyn = 0x02,
  kTcpFlagRst = 0x04,
  kTcpFlagPsh = 0x08,
  kTcpFlagAck = 0x10,
};

struct FlowTimeouts {
  uint32_t tcp_syn_ms = 5000;
  uint32_t tcp_established_ms = 350000;
  uint32_t tcp_closing_ms = 10000;
  uint32_t udp_ms = 120000;
  uint32_t other_ms = 60000;
};

struct alignas(64) FlowEntry {
  FlowKey key;
  uint32_t peer = kNoPeer;  // index of the other entry of a full-NAT pair
  uint32_t last_seen_ms = 0;
  uint32_t ids = 0;            // the service's id (low 12 bits) and the backend's (high 20)
  uint16_t nat_port = 0;       // full-NAT source port
  uint8_t state = kTcpSyn;     // FlowState
  uint8_t nat_addr = 0;        // index of the full-NAT source address
  uint8_t client_port = 0;     // port the client's packets arrive on
  uint8_t client_mac[6] = {};  // next hop towards the client: the source MAC of its packets
  uint8_t flags = 0;

  static constexpr uint32_t kServiceBits = 12;
  static constexpr uint32_t kMaxServices = 1u << kServiceBits;
  static constexpr uint32_t kMaxBackends = (1u << (32 - kServiceBits)) - 1;

  uint16_t service() const { return static_cast<uint16_t>(ids & (kMaxServices - 1)); }
  uint32_t backend() const { return ids >> kServiceBits; }
  void set_ids(uint16_t service_id, uint32_t backend_id) {
    ids = service_id | backend_id << kServiceBits;
  }
};
static_assert(sizeof(FlowEntry) == 64);

struct FlowPair {
  FlowEntry* first;
  FlowEntry* second;
};

// ---------------------------------------------------------------------------------------------

class FlowTable {
 public:
  static constexpr uint32_t kBucketEntries = 8;
  static constexpr uint16_t kBulkChunk = 32;
  // Cuckoo search budget in bucket headers: two roots, their 16 children and 128 grandchildren;
  // only the roots and children once the table is 99% full (free slots are then too rare for a
  // deeper search to pay: it would mostly fail, at the cost of ~150 header reads per insert).
  static constexpr uint32_t kMaxSearchNodes = 146;
  static constexpr uint32_t kShallowSearchNodes = 18;

  // `capacity` is rounded up to a power-of-two number of 8-entry buckets (at least one).
  explicit FlowTable(uint32_t capacity, const FlowTimeouts& timeouts = {});
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // The live entry for `key`, or nullptr. `hash` must be the one the entry was inserted with.
  FlowEntry* lookup(const FlowKey& key, uint32_t hash, uint32_t now_ms) noexcept {
    const uint32_t p = hash & mask_;
    const uint16_t sig = sig_of(hash);
    const uint32_t a = alt_of(p, sig);
    rte_prefetch0(&buckets_[a]);
    if (FlowEntry* e = find_in(p, match(buckets_[p], sig), key, now_ms)) return e;
    return a == p ? nullptr : find_in(a, match(buckets_[a], sig), key, now_ms);
  }

  // Starts fetching both candidate bucket headers of `hash`, for a lookup a little later.
  void prefetch(uint32_t hash) const noexcept {
    const uint32_t p = hash & mask_;
    rte_prefetch0(&buckets_[p]);
    rte_prefetch0(&buckets_[alt_of(p, sig_of(hash))]);
  }

  // out[i] = lookup(*keys[i], hashes[i], now_ms), in three passes per 32 keys: prefetch both
  // candidate headers of every key, match signatures and prefetch the matching entries, compare.
  void lookup_bulk(const FlowKey* const* keys, const uint32_t* hashes, uint16_t n, uint32_t now_ms,
                   FlowEntry** out) noexcept {
    for (uint16_t base = 0; base < n; base += kBulkChunk) {
      const uint16_t m = static_cast<uint16_t>(n - base < kBulkChunk ? n - base : kBulkChunk);
      lookup_chunk(keys + base, hashes + base, m, now_ms, out + base);
    }
  }

  // A fresh entry for `key` (which must not be live in the table): key set, last_seen_ms =
  // now_ms, state kTcpSyn, peer kNoPeer, everything else zero. Never fails; see the header comment
  // for what it may move or evict.
  FlowEntry* insert(const FlowKey& key, uint32_t hash, uint32_t now_ms) noexcept {
    const uint32_t p = hash & mask_;
    const uint16_t sig = sig_of(hash);
    const uint32_t a = alt_of(p, sig);
    rte_prefetch0(&buckets_[a]);
    uint32_t idx;
    const uint32_t up = buckets_[p].used, ua = buckets_[a].used;
    if ((up & ua) != kFull) {
      const uint32_t b = __builtin_popcount(up) <= __builtin_popcount(ua) ? p : a;
      idx = b * kBucketEntries + first_free(buckets_[b]);
    } else {
      idx = make_room(p, a, now_ms);
    }
    return fill(idx, key, sig, now_ms);
  }

  // Both entries of a full-NAT flow, linked to each other.
  FlowPair insert_pair(const FlowKey& first, uint32_t first_hash, const FlowKey& second,
                       uint32_t second_hash, uint32_t now_ms) noexcept;

  // Links two unpaired entries as a pair.
  void link(FlowEntry* a, FlowEntry* b) noexcept;

  // Frees `e` and its peer.
  void remove(FlowEntry* e) noexcept { free_pair(index_of(e)); }

  // Records activity now; also publishes e->state to the header (expiry uses it).
  void touch(FlowEntry* e, uint32_t now_ms) noexcept {
    const uint32_t idx = index_of(e);
    Bucket& b = buckets_[idx / kBucketEntries];
    const uint32_t s = idx % kBucketEntries;
    e->last_seen_ms = now_ms;
    b.last_seen[s] = now_ms;
    b.state[s] = e->state < kFlowStateCount ? e->state : static_cast<uint8_t>(kOther);
  }

  // e->state = next_tcp_state(e->state, tcp_flags); touch(e, now_ms).
  void touch_tcp(FlowEntry* e, uint8_t tcp_flags, uint32_t now_ms) noexcept {
    e->state = next_tcp_state(e->state, tcp_flags);
    touch(e, now_ms);
  }

  // SYN (without ACK) keeps kTcpSyn; any ACK without SYN establishes; FIN or RST closes. A closing
  // flow stays closing except that a new SYN (port reuse) restarts it. SYN+ACK and flagless
  // segments change nothing; non-TCP states are returned unchanged.
  static constexpr uint8_t next_tcp_state(uint8_t state, uint8_t tcp_flags) {
    if (state > kTcpClosing) return state;
    if (tcp_flags & (kTcpFlagFin | kTcpFlagRst)) return kTcpClosing;
    const bool syn = tcp_flags & kTcpFlagSyn, ack = tcp_flags & kTcpFlagAck;
    if (state == kTcpClosing) return syn && !ack ? kTcpSyn : kTcpClosing;
    if (ack && !syn) return kTcpEstablished;
    return state;
  }

  // Whether `e` (a used entry) would count as a miss now.
  bool expired(const FlowEntry* e, uint32_t now_ms) const noexcept {
    const uint32_t idx = index_of(e);
    return slot_expired(idx / kBucketEntries, idx % kBucketEntries, now_ms);
  }

  // Sweeps the next `max_buckets` buckets (round robin), freeing expired entries (and their
  // peers). Work is bounded by max_buckets headers plus one peer header per stale paired entry.
  // Returns the number of entries freed.
  uint32_t expire_some(uint32_t now_ms, uint32_t max_buckets) noexcept;

  // Frees every entry and zeroes the statistics (without calling the free hook).
  void clear() noexcept;

  // Called with each entry the table frees (removed, expired or evicted; not moved), before its
  // slot can be reused. Lets the owner keep per-flow accounting exact.
  using FreeHook = void (*)(void* context, const FlowEntry& entry);
  void set_free_hook(FreeHook hook, void* context) noexcept {
    free_hook_ = hook;
    free_context_ = context;
  }

  uint32_t index_of(const FlowEntry* e) const noexcept {
    const size_t off = static_cast<size_t>(reinterpret_cast<const char*>(e) -
                                           reinterpret_cast<const char*>(buckets_.get()));
    const size_t bucket = off / sizeof(Bucket);
    const size_t slot = (off - bucket * sizeof(Bucket)) / sizeof(FlowEntry) - 1;
    return static_cast<uint32_t>(bucket * kBucketEntries + slot);
  }
  FlowEntry* at(uint32_t index) noexcept {
    return &buckets_[index / kBucketEntries].entry[index % kBucketEntries];
  }
  const FlowEntry* at(uint32_t index) const noexcept {
    return &buckets_[index / kBucketEntries].entry[index % kBucketEntries];
  }

  uint32_t active() const noexcept { return active_; }
  uint32_t capacity() const noexcept { return (mask_ + 1) * kBucketEntries; }
  uint32_t buckets() const noexcept { return mask_ + 1; }
  uint64_t evictions() const noexcept { return evictions_; }  // inserts that evicted a live flow
  uint64_t inserts() const noexcept { return inserts_; }
  uint64_t expirations() const noexcept { return expirations_; }  // entries freed as expired
  uint64_t moves() const noexcept { return moves_; }              // cuckoo relocations

  const FlowTimeouts& timeouts() const noexcept { return timeouts_; }
  void set_timeouts(const FlowTimeouts& t) noexcept;
  uint32_t timeout_ms(uint8_t state) const noexcept {
    return timeout_by_state_[state < kFlowStateCount ? state : uint8_t{kOther}];
  }

  // Bytes of table memory per slot (bucket header included), and in all.
  static constexpr size_t kBytesPerSlot = 576 / kBucketEntries;
  size_t memory_bytes() const noexcept { return size_t{buckets()} * sizeof(Bucket); }

 private:
  static constexpr uint8_t kFull = 0xff;

  struct alignas(64) Bucket {
    uint16_t sig[kBucketEntries];
    uint32_t last_seen[kBucketEntries];
    uint8_t state[kBucketEntries];
    uint8_t used;    // bit s: slot s holds an entry
    uint8_t paired;  // bit s: slot s's entry has a peer
    uint8_t pad[6];
    FlowEntry entry[kBucketEntries];
  };
  static_assert(sizeof(Bucket) == 576 && offsetof(Bucket, entry) == 64);
  static_assert(kBytesPerSlot * kBucketEntries == sizeof(Bucket));

  struct Free {
    void operator()(Bucket* p) const noexcept;
  };

  static uint16_t sig_of(uint32_t hash) { return static_cast<uint16_t>(hash >> 16); }

  // The other candidate bucket: an involution in `bucket` for a given signature, never equal to
  // `bucket` unless the table has a single bucket.
  uint32_t alt_of(uint32_t bucket, uint16_t sig) const {
    uint32_t off = (uint32_t{sig} + 1) * 0x9e3779b1u;
    off = (off ^ (off >> 15)) & mask_;
    off += off == 0;
    return (bucket ^ off) & mask_;
  }

  // Bit s set when slot s is used and carries `sig`.
  static uint32_t match(const Bucket& b, uint16_t sig) {
    const __m128i sigs = _mm_load_si128(reinterpret_cast<const __m128i*>(b.sig));
    const __m128i eq = _mm_cmpeq_epi16(sigs, _mm_set1_epi16(static_cast<short>(sig)));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()))) &
           b.used;
  }

  static uint32_t first_free(const Bucket& b) {
    return static_cast<uint32_t>(__builtin_ctz(~uint32_t{b.used}));
  }

  static bool keys_equal(const FlowKey& x, const FlowKey& y) {
    uint64_t a[5], b[5];
    std::memcpy(a, &x, sizeof(a));
    std::memcpy(b, &y, sizeof(b));
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
  }

  bool slot_stale(const Bucket& b, uint32_t s, uint32_t now_ms) const {
    return now_ms - b.last_seen[s] >= timeout_by_state_[b.state[s]];
  }
  // Stale, and so is its peer if it has one.
  bool slot_expired(uint32_t bucket, uint32_t s, uint32_t now_ms) const {
    const Bucket& b = buckets_[bucket];
    if (!slot_stale(b, s, now_ms)) return false;
    if (!(b.paired & (1u << s))) return true;
    const uint32_t peer = b.entry[s].peer;
    return slot_stale(buckets_[peer / kBucketEntries], peer % kBucketEntries, now_ms);
  }

  FlowEntry* find_in(uint32_t bucket, uint32_t candidates, const FlowKey& key,
                     uint32_t now_ms) noexcept {
    Bucket& b = buckets_[bucket];
    for (; candidates != 0; candidates &= candidates - 1) {
      const uint32_t s = static_cast<uint32_t>(__builtin_ctz(candidates));
      if (keys_equal(b.entry[s].key, key) && !slot_expired(bucket, s, now_ms)) return &b.entry[s];
    }
    return nullptr;
  }

  void lookup_chunk(const FlowKey* const* keys, const uint32_t* hashes, uint16_t n, uint32_t now_ms,
                    FlowEntry** out) noexcept {
    uint32_t prim[kBulkChunk], alt[kBulkChunk];
    uint8_t prim_match[kBulkChunk], alt_match[kBulkChunk];
    for (uint16_t i = 0; i < n; ++i) {
      prim[i] = hashes[i] & mask_;
      alt[i] = alt_of(prim[i], sig_of(hashes[i]));
      rte_prefetch0(&buckets_[prim[i]]);
      rte_prefetch0(&buckets_[alt[i]]);
    }
    for (uint16_t i = 0; i < n; ++i) {
      const uint16_t sig = sig_of(hashes[i]);
      const uint32_t mp = match(buckets_[prim[i]], sig);
      const uint32_t ma = alt[i] == prim[i] ? 0 : match(buckets_[alt[i]], sig);
      prim_match[i] = static_cast<uint8_t>(mp);
      alt_match[i] = static_cast<uint8_t>(ma);
      if (mp) rte_prefetch0(&buckets_[prim[i]].entry[__builtin_ctz(mp)]);
      if (ma) rte_prefetch0(&buckets_[alt[i]].entry[__builtin_ctz(ma)]);
    }
    for (uint16_t i = 0; i < n; ++i) {
      FlowEntry* e = find_in(prim[i], prim_match[i], *keys[i], now_ms);
      if (e == nullptr) e = find_in(alt[i], alt_match[i], *keys[i], now_ms);
      out[i] = e;
      // A miss is usually followed by an insert: start fetching, for writing, the entry line it
      // will most likely fill.
      if (e == nullptr) {
        const Bucket& b = buckets_[buckets_[prim[i]].used != kFull ? prim[i] : alt[i]];
        if (b.used != kFull) __builtin_prefetch(&b.entry[first_free(b)], 1, 3);
      }
    }
  }

  FlowEntry* fill(uint32_t idx, const FlowKey& key, uint16_t sig, uint32_t now_ms) noexcept {
    Bucket& b = buckets_[idx / kBucketEntries];
    const uint32_t s = idx % kBucketEntries;
    b.sig[s] = sig;
    b.last_seen[s] = now_ms;
    b.state[s] = kTcpSyn;
    b.used = static_cast<uint8_t>(b.used | (1u << s));
    b.paired = static_cast<uint8_t>(b.paired & ~(1u << s));
    FlowEntry* e = &b.entry[s];
    std::memset(static_cast<void*>(e), 0, sizeof(FlowEntry));
    e->key = key;
    e->peer = kNoPeer;
    e->last_seen_ms = now_ms;
    ++active_;
    ++inserts_;
    return e;
  }

  // Slow path of insert(), both candidates full: a free slot index in `p` or `a`.
  uint32_t make_room(uint32_t p, uint32_t a, uint32_t now_ms) noexcept;
  uint32_t cuckoo_search(uint32_t p, uint32_t a, uint32_t max_nodes) noexcept;
  void move(uint32_t from, uint32_t to) noexcept;
  void free_slot(uint32_t idx) noexcept;

  FreeHook free_hook_ = nullptr;
  void* free_context_ = nullptr;
  uint32_t free_pair(uint32_t idx) noexcept;  // entries freed (1 or 2)

  std::unique_ptr<Bucket[], Free> buckets_;
  uint32_t mask_ = 0;
  uint32_t active_ = 0;
  uint32_t cursor_ = 0;        // next bucket for expire_some
  uint32_t pinned_ = kNoPeer;  // an entry insert() must neither move nor evict
  uint32_t timeout_by_state_[kFlowStateCount] = {};
  FlowTimeouts timeouts_;
  uint64_t inserts_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expirations_ = 0;
  uint64_t moves_ = 0;
};

}  // namespace sluice::lb
