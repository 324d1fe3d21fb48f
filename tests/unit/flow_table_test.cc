#include "flow_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <unordered_map>
#include <vector>

namespace sluice::lb {
namespace {

constexpr uint32_t kSeed = 0x5eed1234;

// Distinct keys for distinct i: 24 bits in the source address, 8 in the source port.
FlowKey seq_key_of(uint32_t i, uint8_t proto = kProtoTcp) {
  FlowKey k;
  const uint8_t src[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
  const uint8_t dst[4] = {192, 0, 2, 10};
  k.src = IpAddress::from_v4(src);
  k.dst = IpAddress::from_v4(dst);
  k.src_port = static_cast<uint16_t>(1024 + (i >> 24));
  k.dst_port = 443;
  k.proto = proto;
  k.family = kFamilyV4;
  return k;
}

// Distinct, random-looking keys: CRC is linear, so sequential keys would flatter the table.
FlowKey key_of(uint32_t i) {
  return seq_key_of(mix32(i));
}
uint32_t hash_of(uint32_t i) {
  return flow_hash(key_of(i), kSeed);
}

TEST(FlowTable, Layout) {
  EXPECT_EQ(sizeof(FlowEntry), 64u);
  EXPECT_EQ(FlowTable::kBytesPerSlot, 72u);
  FlowTable t(1000);
  EXPECT_EQ(t.capacity(), 1024u);
  EXPECT_EQ(t.buckets(), 128u);
  EXPECT_EQ(t.memory_bytes(), 128u * 576u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.at(0)) % 64, 0u);
  FlowTable tiny(1);
  EXPECT_EQ(tiny.capacity(), 8u);
  for (uint32_t i = 0; i < t.capacity(); ++i) ASSERT_EQ(t.index_of(t.at(i)), i);
}

// A flow entry holds a 12-bit service id and a 20-bit backend id in one word.
TEST(FlowTable, EntryIdsUseTheirWholeRanges) {
  FlowEntry e;
  e.set_ids(FlowEntry::kMaxServices - 1, FlowEntry::kMaxBackends);
  EXPECT_EQ(e.service(), 4095u);
  EXPECT_EQ(e.backend(), 1048575u);
  e.set_ids(0, 1);
  EXPECT_EQ(e.service(), 0u);
  EXPECT_EQ(e.backend(), 1u);
  e.set_ids(4095, 0);
  EXPECT_EQ(e.service(), 4095u);
  EXPECT_EQ(e.backend(), 0u);
}

TEST(FlowTable, InsertLookupRemove) {
  FlowTable t(1024);
  for (uint32_t i = 0; i < 500; ++i) {
    FlowEntry* e = t.insert(key_of(i), hash_of(i), 100);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->key, key_of(i));
    EXPECT_EQ(e->peer, kNoPeer);
    EXPECT_EQ(e->last_seen_ms, 100u);
    EXPECT_EQ(e->state, kTcpSyn);
    EXPECT_EQ(e->backend(), 0u);
    EXPECT_EQ(e->service(), 0u);
    EXPECT_EQ(e->nat_port, 0u);
    EXPECT_EQ(e->flags, 0u);
    // Valid until the next insert, which may move it (with its fields).
    e->set_ids(static_cast<uint16_t>(i * 9 % FlowEntry::kMaxServices), i * 2000);
  }
  EXPECT_EQ(t.active(), 500u);
  EXPECT_EQ(t.inserts(), 500u);
  for (uint32_t i = 0; i < 500; ++i) {
    FlowEntry* e = t.lookup(key_of(i), hash_of(i), 200);
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->backend(), i * 2000);
    EXPECT_EQ(e->service(), i * 9 % FlowEntry::kMaxServices);
    EXPECT_EQ(t.at(t.index_of(e)), e);
  }
  EXPECT_EQ(t.lookup(key_of(999), hash_of(999), 200), nullptr);
  // Same key, wrong hash: not found (the hash decides the buckets).
  EXPECT_EQ(t.lookup(key_of(1), hash_of(2), 200), nullptr);

  for (uint32_t i = 0; i < 500; i += 2) t.remove(t.lookup(key_of(i), hash_of(i), 200));
  EXPECT_EQ(t.active(), 250u);
  for (uint32_t i = 0; i < 500; ++i) {
    EXPECT_EQ(t.lookup(key_of(i), hash_of(i), 300) != nullptr, i % 2 == 1) << i;
  }
  EXPECT_EQ(t.evictions(), 0u);
}

TEST(FlowTable, BulkLookupEqualsScalar) {
  FlowTimeouts to;
  to.tcp_syn_ms = 1000;
  FlowTable t(4096, to);
  std::mt19937 rng(7);
  for (uint32_t i = 0; i < 3500; ++i) {
    // Inserted at various times: some are expired when looked up at 5000.
    FlowEntry* e = t.insert(key_of(i), hash_of(i), rng() % 5000);
    if (i % 3 == 0) {
      e->state = kTcpEstablished;
      t.touch(e, e->last_seen_ms);
    }
  }
  std::vector<FlowKey> keys;
  std::vector<uint32_t> hashes;
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint32_t k = rng() % 5000;  // ~70% inserted
    keys.push_back(key_of(k));
    hashes.push_back(hash_of(k));
  }
  std::vector<const FlowKey*> ptrs;
  for (const FlowKey& k : keys) ptrs.push_back(&k);

  size_t hits = 0, misses = 0;
  for (uint16_t burst : {1, 7, 32, 33, 64, 200}) {
    for (size_t base = 0; base + burst <= keys.size(); base += burst) {
      std::vector<FlowEntry*> out(burst, reinterpret_cast<FlowEntry*>(uintptr_t{1}));
      t.lookup_bulk(ptrs.data() + base, hashes.data() + base, burst, 5000, out.data());
      for (uint16_t i = 0; i < burst; ++i) {
        FlowEntry* want = t.lookup(keys[base + i], hashes[base + i], 5000);
        ASSERT_EQ(out[i], want) << "burst " << burst << " key " << base + i;
        (want ? hits : misses)++;
      }
    }
  }
  EXPECT_GT(hits, 1000u);
  EXPECT_GT(misses, 1000u);
}

TEST(FlowTable, ExpiryPerStateExactBoundaries) {
  FlowTimeouts to;
  to.tcp_syn_ms = 5000;
  to.tcp_established_ms = 350000;
  to.tcp_closing_ms = 10000;
  to.udp_ms = 120000;
  to.other_ms = 60000;
  const struct {
    uint8_t state;
    uint32_t timeout;
  } cases[] = {{kTcpSyn, 5000},      {kTcpEstablished, 350000},
               {kTcpClosing, 10000}, {kUdp, 120000},
               {kOther, 60000},      {200, 60000}};  // out-of-range states time out like kOther
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.state));
    FlowTable t(64, to);
    EXPECT_EQ(t.timeout_ms(c.state), c.timeout);
    const uint32_t t0 = 1000;
    FlowEntry* e = t.insert(key_of(1), hash_of(1), t0 - 10);
    e->state = c.state;
    t.touch(e, t0);
    EXPECT_EQ(e->last_seen_ms, t0);
    EXPECT_EQ(t.lookup(key_of(1), hash_of(1), t0 + c.timeout - 1), e);
    EXPECT_FALSE(t.expired(e, t0 + c.timeout - 1));
    EXPECT_EQ(t.lookup(key_of(1), hash_of(1), t0 + c.timeout), nullptr);
    EXPECT_TRUE(t.expired(e, t0 + c.timeout));
    // A miss does not reclaim: the sweep does, exactly at the boundary.
    EXPECT_EQ(t.active(), 1u);
    EXPECT_EQ(t.expire_some(t0 + c.timeout - 1, t.buckets()), 0u);
    EXPECT_EQ(t.active(), 1u);
    EXPECT_EQ(t.expire_some(t0 + c.timeout, t.buckets()), 1u);
    EXPECT_EQ(t.active(), 0u);
    EXPECT_EQ(t.expirations(), 1u);
  }
}

TEST(FlowTable, FreshEntryUsesSynTimeoutUntilStateChanges) {
  FlowTable t(64);
  FlowEntry* e = t.insert(key_of(1), hash_of(1), 0);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 4999), e);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 5000), nullptr);
  t.touch_tcp(e, kTcpFlagAck, 4000);  // established at 4000: live until 354000
  EXPECT_EQ(e->state, kTcpEstablished);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 353999), e);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 354000), nullptr);
  t.touch_tcp(e, kTcpFlagFin | kTcpFlagAck, 10000);
  EXPECT_EQ(e->state, kTcpClosing);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 19999), e);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 20000), nullptr);
}

TEST(FlowTable, TcpStateTransitions) {
  constexpr uint8_t S = kTcpFlagSyn, A = kTcpFlagAck, F = kTcpFlagFin, R = kTcpFlagRst,
                    P = kTcpFlagPsh;
  const struct {
    uint8_t from, flags, to;
  } cases[] = {
      {kTcpSyn, S, kTcpSyn},                      // SYN, retransmitted SYN
      {kTcpSyn, S | A, kTcpSyn},                  // SYN-ACK does not establish
      {kTcpSyn, A, kTcpEstablished},              // handshake's final ACK
      {kTcpSyn, A | P, kTcpEstablished},          // data
      {kTcpSyn, 0, kTcpSyn},                      // flagless
      {kTcpSyn, R, kTcpClosing},                  // refused
      {kTcpSyn, S | F, kTcpClosing},              // nonsense SYN+FIN still closes
      {kTcpEstablished, A, kTcpEstablished},      //
      {kTcpEstablished, S, kTcpEstablished},      // stray SYN does not shorten the timeout
      {kTcpEstablished, S | A, kTcpEstablished},  //
      {kTcpEstablished, F | A, kTcpClosing},      //
      {kTcpEstablished, R, kTcpClosing},          //
      {kTcpEstablished, R | A, kTcpClosing},      //
      {kTcpClosing, A, kTcpClosing},              // last ACK keeps it closing
      {kTcpClosing, F | A, kTcpClosing},          //
      {kTcpClosing, S, kTcpSyn},                  // port reuse: a new connection
      {kTcpClosing, S | A, kTcpClosing},          //
      {kUdp, A, kUdp},                            // not TCP states: unchanged
      {kOther, F, kOther},                        //
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FlowTable::next_tcp_state(c.from, c.flags), c.to)
        << "from " << int{c.from} << " flags " << int{c.flags};
  }
  static_assert(FlowTable::next_tcp_state(kTcpSyn, kTcpFlagAck) == kTcpEstablished);
}

TEST(FlowTable, FullTableEvictsLeastRecentlySeen) {
  // Two buckets: every key has both as candidates, so the table's LRU is the global one.
  FlowTable t(16);
  ASSERT_EQ(t.capacity(), 16u);
  for (uint32_t i = 0; i < 16; ++i) {
    FlowEntry* e = t.insert(key_of(i), hash_of(i), 1000 + i);
    ASSERT_NE(e, nullptr);
    e->state = kTcpEstablished;
    t.touch(e, 1000 + i);
  }
  EXPECT_EQ(t.active(), 16u);
  EXPECT_EQ(t.evictions(), 0u);
  // Refresh the oldest few: key 3 becomes the least recently seen.
  for (uint32_t i = 0; i < 3; ++i) t.touch(t.lookup(key_of(i), hash_of(i), 2000), 2000);
  FlowEntry* e = t.insert(key_of(100), hash_of(100), 2001);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.active(), 16u);
  EXPECT_EQ(t.lookup(key_of(3), hash_of(3), 2001), nullptr);
  for (uint32_t i = 0; i < 16; ++i) {
    if (i != 3) {
      EXPECT_NE(t.lookup(key_of(i), hash_of(i), 2001), nullptr) << i;
    }
  }
  EXPECT_EQ(t.lookup(key_of(100), hash_of(100), 2001), e);

  // Next victims in order of last-seen time: 4, 5, 6, ...
  for (uint32_t i = 4; i < 10; ++i) {
    t.touch(t.insert(key_of(100 + i), hash_of(100 + i), 3000), 3000);
    EXPECT_EQ(t.lookup(key_of(i), hash_of(i), 3000), nullptr) << i;
    EXPECT_NE(t.lookup(key_of(i + 1), hash_of(i + 1), 3000), nullptr) << i;
  }

  // Never fails: a long run of inserts into the full table.
  for (uint32_t i = 0; i < 10000; ++i) {
    FlowEntry* n = t.insert(key_of(1000 + i), hash_of(1000 + i), 4000 + i);
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->key, key_of(1000 + i));
    ASSERT_EQ(t.lookup(key_of(1000 + i), hash_of(1000 + i), 4000 + i), n);
    ASSERT_EQ(t.active(), 16u);
  }
  // The 16 most recent inserts are what remains.
  for (uint32_t i = 10000 - 16; i < 10000; ++i) {
    EXPECT_NE(t.lookup(key_of(1000 + i), hash_of(1000 + i), 14000), nullptr) << i;
  }
}

TEST(FlowTable, ExpiredEntriesAreReclaimedBeforeEvicting) {
  FlowTable t(16);
  for (uint32_t i = 0; i < 16; ++i) {
    FlowEntry* e = t.insert(key_of(i), hash_of(i), 0);
    e->state = i == 5 ? kTcpClosing : kTcpEstablished;
    t.touch(e, 1000 + i);  // key 0 is the LRU, key 5 expires at 11005
  }
  t.insert(key_of(100), hash_of(100), 11005);
  EXPECT_EQ(t.evictions(), 0u);
  EXPECT_EQ(t.expirations(), 1u);
  EXPECT_EQ(t.active(), 16u);
  EXPECT_NE(t.lookup(key_of(0), hash_of(0), 11005), nullptr);
  EXPECT_EQ(t.lookup(key_of(5), hash_of(5), 11005), nullptr);
}

TEST(FlowTable, TinyTableWithOneBucket) {
  FlowTable t(8);
  for (uint32_t i = 0; i < 100; ++i) {
    ASSERT_NE(t.insert(key_of(i), hash_of(i), i), nullptr);
    ASSERT_NE(t.lookup(key_of(i), hash_of(i), i), nullptr);
  }
  EXPECT_EQ(t.active(), 8u);
  EXPECT_EQ(t.evictions(), 92u);
}

bool linked(FlowTable& t, FlowEntry* a, FlowEntry* b) {
  return a->peer == t.index_of(b) && b->peer == t.index_of(a);
}

TEST(FlowTable, PairRemovedTogether) {
  FlowTable t(1024);
  auto [fwd, rev] = t.insert_pair(key_of(1), hash_of(1), key_of(2), hash_of(2), 0);
  ASSERT_NE(fwd, nullptr);
  ASSERT_NE(rev, nullptr);
  EXPECT_TRUE(linked(t, fwd, rev));
  EXPECT_EQ(fwd->key, key_of(1));
  EXPECT_EQ(rev->key, key_of(2));
  FlowEntry* other = t.insert(key_of(3), hash_of(3), 0);
  EXPECT_EQ(other->peer, kNoPeer);
  EXPECT_EQ(t.active(), 3u);

  t.remove(rev);
  EXPECT_EQ(t.active(), 1u);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 0), nullptr);
  EXPECT_EQ(t.lookup(key_of(2), hash_of(2), 0), nullptr);
  EXPECT_NE(t.lookup(key_of(3), hash_of(3), 0), nullptr);

  // link() on two plain entries.
  FlowEntry* a = t.insert(key_of(10), hash_of(10), 0);
  FlowEntry* b = t.insert(key_of(11), hash_of(11), 0);
  t.link(a, b);
  EXPECT_TRUE(linked(t, a, b));
  t.remove(a);
  EXPECT_EQ(t.active(), 1u);
  EXPECT_EQ(t.lookup(key_of(11), hash_of(11), 0), nullptr);
}

TEST(FlowTable, PairExpiresOnlyWhenBothSidesAreIdle) {
  FlowTable t(1024);
  auto [fwd, rev] = t.insert_pair(key_of(1), hash_of(1), key_of(2), hash_of(2), 0);
  fwd->state = rev->state = kUdp;
  t.touch(fwd, 0);
  t.touch(rev, 0);
  // One-way traffic: only the forward entry sees packets.
  for (uint32_t now = 0; now <= 200000; now += 10000) t.touch(fwd, now);
  EXPECT_EQ(t.expire_some(200000, t.buckets()), 0u);
  EXPECT_EQ(t.lookup(key_of(2), hash_of(2), 200000), rev);  // idle itself, kept by its peer
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 200000), fwd);
  EXPECT_EQ(t.expire_some(200000 + 119999, t.buckets()), 0u);
  EXPECT_EQ(t.expire_some(200000 + 120000, t.buckets()), 2u);
  EXPECT_EQ(t.active(), 0u);
}

TEST(FlowTable, EvictingOneSideOfAPairFreesBoth) {
  FlowTable t(16);
  // Keys 0 and 1 are a pair, both the oldest.
  auto [fwd, rev] = t.insert_pair(key_of(0), hash_of(0), key_of(1), hash_of(1), 0);
  (void)fwd;
  (void)rev;
  for (uint32_t i = 2; i < 16; ++i) t.insert(key_of(i), hash_of(i), i);
  ASSERT_EQ(t.active(), 16u);
  t.insert(key_of(100), hash_of(100), 100);
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.active(), 15u);
  EXPECT_EQ(t.lookup(key_of(0), hash_of(0), 100), nullptr);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), 100), nullptr);
}

TEST(FlowTable, InsertPairInFullTableKeepsBothSides) {
  FlowTable t(16);
  for (uint32_t round = 0; round < 200; ++round) {
    const uint32_t now = 1000 + round;
    const uint32_t k = 1000 + 2 * round;
    auto [a, b] = t.insert_pair(key_of(k), hash_of(k), key_of(k + 1), hash_of(k + 1), now);
    ASSERT_TRUE(linked(t, a, b));
    ASSERT_EQ(t.lookup(key_of(k), hash_of(k), now), a);
    ASSERT_EQ(t.lookup(key_of(k + 1), hash_of(k + 1), now), b);
    ASSERT_LE(t.active(), 16u);
  }
}

// Random inserts, removals and pairs against a reference map, in a table kept near 90% full so
// that inserts keep moving entries between buckets: every link and every key must survive.
TEST(FlowTable, ModelCheckWithMovesAndPairs) {
  FlowTable t(4096);
  std::mt19937 rng(42);
  std::unordered_map<uint32_t, uint32_t> peer_of;  // live key -> peer key or UINT32_MAX
  std::vector<uint32_t> live;
  uint32_t next = 0;
  const uint32_t target = t.capacity() * 93 / 100;
  for (uint32_t step = 0; step < 200000; ++step) {
    const uint32_t now = step;
    if (live.size() < target && rng() % 3 != 0) {
      if (rng() % 2) {
        const uint32_t k = next++;
        t.insert(key_of(k), hash_of(k), now)->state = kTcpEstablished;
        t.touch(t.lookup(key_of(k), hash_of(k), now), now);
        peer_of[k] = UINT32_MAX;
        live.push_back(k);
      } else {
        const uint32_t k = next;
        next += 2;
        auto [a, b] = t.insert_pair(key_of(k), hash_of(k), key_of(k + 1), hash_of(k + 1), now);
        a->state = b->state = kTcpEstablished;
        t.touch(a, now);
        t.touch(b, now);
        peer_of[k] = k + 1;
        peer_of[k + 1] = k;
        live.push_back(k);
        live.push_back(k + 1);
      }
    } else if (!live.empty()) {
      const size_t at = rng() % live.size();
      const uint32_t k = live[at];
      FlowEntry* e = t.lookup(key_of(k), hash_of(k), now);
      ASSERT_NE(e, nullptr) << k;
      const uint32_t p = peer_of[k];
      t.remove(e);
      peer_of.erase(k);
      live[at] = live.back();
      live.pop_back();
      if (p != UINT32_MAX) {
        peer_of.erase(p);
        live.erase(std::find(live.begin(), live.end(), p));
      }
    }
    ASSERT_EQ(t.evictions(), 0u) << "step " << step;
    ASSERT_EQ(t.active(), live.size());
  }
  EXPECT_GT(t.moves(), 1000u);
  for (uint32_t k : live) {
    FlowEntry* e = t.lookup(key_of(k), hash_of(k), 200000);
    ASSERT_NE(e, nullptr);
    const uint32_t p = peer_of[k];
    if (p == UINT32_MAX) {
      EXPECT_EQ(e->peer, kNoPeer);
    } else {
      ASSERT_NE(e->peer, kNoPeer);
      EXPECT_EQ(t.at(e->peer)->key, key_of(p));
      EXPECT_EQ(t.at(e->peer)->peer, t.index_of(e));
    }
  }
}

TEST(FlowTable, ExpireSomeIsBoundedAndKeepsActiveExact) {
  FlowTable t(1024);  // 128 buckets
  std::vector<uint32_t> stale;
  for (uint32_t i = 0; i < 800; ++i) {
    FlowEntry* e = t.insert(key_of(i), hash_of(i), 100000);
    e->state = kUdp;
    t.touch(e, i % 2 ? 0 : 100000);  // odd keys stale at 120000, even ones at 220000
  }
  ASSERT_EQ(t.active(), 800u);
  uint32_t freed = 0;
  for (int call = 0; call < 8; ++call) {
    // Count what the next 16 buckets hold that is stale: exactly what the call must free.
    uint32_t expect = 0;
    for (uint32_t b = call * 16u; b < call * 16u + 16; ++b) {
      for (uint32_t s = 0; s < 8; ++s) {
        const FlowEntry* e = t.at(b * 8 + s);
        const bool used = t.lookup(e->key, flow_hash(e->key, kSeed), 100000) == e;
        if (used && t.expired(e, 120000)) ++expect;
      }
    }
    const uint32_t n = t.expire_some(120000, 16);
    EXPECT_LE(n, 16u * 8u);
    EXPECT_EQ(n, expect) << "call " << call;
    freed += n;
    EXPECT_EQ(t.active(), 800u - freed);
  }
  EXPECT_EQ(freed, 400u);
  uint32_t found = 0;
  for (uint32_t i = 0; i < 800; ++i) found += t.lookup(key_of(i), hash_of(i), 120000) != nullptr;
  EXPECT_EQ(found, t.active());
  // Round robin: the cursor wrapped, the next full pass frees the rest.
  EXPECT_EQ(t.expire_some(220000, 1000000), 400u);
  EXPECT_EQ(t.active(), 0u);
  EXPECT_EQ(t.expire_some(220000, 0), 0u);
}

TEST(FlowTable, ClockWraparound) {
  FlowTable t(64);
  const uint32_t t0 = 0xffffffffu - 1000;
  FlowEntry* e = t.insert(key_of(1), hash_of(1), t0);
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), t0 + 4999), e);  // now wrapped to 3998
  EXPECT_EQ(t.lookup(key_of(1), hash_of(1), t0 + 5000), nullptr);
  EXPECT_EQ(t.expire_some(t0 + 4999, t.buckets()), 0u);
  EXPECT_EQ(t.expire_some(t0 + 5000, t.buckets()), 1u);

  // LRU across the wrap: entries seen just before the wrap are older than those after it.
  FlowTable small(16);
  for (uint32_t i = 0; i < 16; ++i) {
    FlowEntry* f = small.insert(key_of(i), hash_of(i), 0xfffffff0u + i);  // wraps at i = 16
    f->state = kTcpEstablished;
    small.touch(f, 0xfffffff0u + 2 * i);  // i >= 8 wrap past zero
  }
  small.insert(key_of(99), hash_of(99), 40);
  EXPECT_EQ(small.lookup(key_of(0), hash_of(0), 40), nullptr);  // seen at 0xfffffff0: oldest
  EXPECT_NE(small.lookup(key_of(15), hash_of(15), 40), nullptr);
}

TEST(FlowTable, MillionEntryFillToCapacity) {
  FlowTable t(1u << 20);
  ASSERT_EQ(t.capacity(), 1u << 20);
  uint32_t i = 0;
  for (; t.evictions() == 0; ++i) {
    FlowEntry* e = t.insert(key_of(i), hash_of(i), 1);
    ASSERT_NE(e, nullptr);
    e->state = kTcpEstablished;
    t.touch(e, 1);
  }
  // The evicting insert replaced one flow: active() is what the table held when it was needed.
  const uint32_t held = t.active();
  const double load = static_cast<double>(held) / t.capacity();
  std::printf("[ load factor before the first eviction: %.4f (%u of %u), %llu moves ]\n", load,
              held, t.capacity(), static_cast<unsigned long long>(t.moves()));
  std::printf("[ memory: %zu bytes, %.1f bytes per flow at that load ]\n", t.memory_bytes(),
              static_cast<double>(t.memory_bytes()) / held);
  RecordProperty("load_factor_before_first_eviction", std::to_string(load));
  EXPECT_GE(load, 0.95);
  uint32_t found = 0;
  for (uint32_t k = 0; k < i; ++k) found += t.lookup(key_of(k), hash_of(k), 2) != nullptr;
  EXPECT_EQ(found, t.active());
  EXPECT_EQ(found, i - 1);

  // Keep going to twice the capacity: never fails, stays (almost) full.
  const uint32_t end = 2 * t.capacity();
  for (; i < end; ++i) ASSERT_NE(t.insert(key_of(i), hash_of(i), 2 + i / 1024), nullptr);
  EXPECT_GE(t.active(), t.capacity() * 99ull / 100);
  EXPECT_LE(t.active(), t.capacity());
  // The most recent inserts are all present.
  for (uint32_t k = end - 10000; k < end; ++k) {
    ASSERT_NE(t.lookup(key_of(k), hash_of(k), 2 + end / 1024), nullptr) << k;
  }
}

// Chi-square of the low and high 16 bits over 2^16 cells; 65535 degrees of freedom: mean
// 65535, standard deviation ~362.
void check_spread(const std::vector<uint32_t>& hashes, bool sequential) {
  constexpr uint32_t kCells = 1u << 16;
  for (int shift : {0, 16}) {
    std::vector<uint32_t> hist(kCells);
    for (uint32_t h : hashes) ++hist[(h >> shift) & (kCells - 1)];
    const double mean = static_cast<double>(hashes.size()) / kCells;
    double chi2 = 0;
    uint32_t mx = 0, mn = UINT32_MAX;
    for (uint32_t c : hist) {
      chi2 += (c - mean) * (c - mean) / mean;
      mx = std::max(mx, c);
      mn = std::min(mn, c);
    }
    SCOPED_TRACE(shift);
    EXPECT_LT(chi2, (kCells - 1) + 6 * 362.0);
    // CRC is linear: sequential keys spread perfectly evenly, random ones like random numbers.
    if (!sequential) {
      EXPECT_GT(chi2, (kCells - 1) - 6 * 362.0);
    }
    EXPECT_LT(mx, mean * 1.8);
    EXPECT_GT(mn, mean * 0.3);
  }
}

TEST(FlowHash, DistributionSanity) {
  constexpr uint32_t kKeys = 1u << 22;
  std::vector<uint32_t> hashes(kKeys);
  // Sequential client addresses, the worst case for a weak hash.
  for (uint32_t i = 0; i < kKeys; ++i) hashes[i] = flow_hash(seq_key_of(i), kSeed);
  check_spread(hashes, true);
  // Random IPv6 clients and ports to one service.
  std::mt19937_64 rng(3);
  for (uint32_t i = 0; i < kKeys; ++i) {
    FlowKey k = key_of(0);
    const uint64_t r[2] = {rng(), rng()};
    std::memcpy(k.src.bytes.data(), r, 16);
    k.family = kFamilyV6;
    k.src_port = static_cast<uint16_t>(rng());
    hashes[i] = flow_hash(k, kSeed);
  }
  check_spread(hashes, false);
}

TEST(FlowHash, VariantsAndSeed) {
  FlowKey a = key_of(77), b = a;
  b.src_port = static_cast<uint16_t>(a.src_port + 1);
  EXPECT_NE(flow_hash(a, kSeed), flow_hash(b, kSeed));
  EXPECT_EQ(flow_hash_no_src_port(a, kSeed), flow_hash_no_src_port(b, kSeed));
  EXPECT_NE(flow_hash_no_src_port(a, kSeed), flow_hash(a, kSeed));
  FlowKey c = a;
  c.dst_port = 80;
  EXPECT_NE(flow_hash_no_src_port(a, kSeed), flow_hash_no_src_port(c, kSeed));
  EXPECT_NE(flow_hash(a, 1), flow_hash(a, 2));
  FlowKey zero_port = a;
  zero_port.src_port = 0;
  EXPECT_EQ(flow_hash_no_src_port(a, kSeed), flow_hash(zero_port, kSeed));
}

}  // namespace
}  // namespace sluice::lb
