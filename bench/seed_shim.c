// LD_PRELOAD shim for the forwarder benchmarks: net_ring ports made by `--vdev net_ringN` are
// loopbacks (what is sent on one is received on it), so frames put into two such ports circulate
// forever through a two-port forwarder. Nothing else generates traffic; this shim wraps
// rte_eth_dev_start and, once a net_ring port has started, sends SLUICE_SEED_FRAMES (default 256)
// valid 64-byte IPv4/UDP frames into it, taken from the process's packet mempool. Any forwarder
// binary linked against the shared DPDK libraries can be measured unmodified.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kFrameLen = 64, kMaxSeed = 4096, kDefaultSeed = 256 };

static void find_packet_pool(struct rte_mempool* mp, void* arg) {
  struct rte_mempool** found = arg;
  // A pktmbuf pool carries rte_pktmbuf_pool_private; other pools (rings' or drivers') do not.
  if (*found == NULL && mp->private_data_size >= sizeof(struct rte_pktmbuf_pool_private) &&
      rte_pktmbuf_data_room_size(mp) >= RTE_PKTMBUF_HEADROOM + kFrameLen) {
    *found = mp;
  }
}

static unsigned seed_count(void) {
  const char* s = getenv("SLUICE_SEED_FRAMES");
  if (s == NULL || *s == '\0') return kDefaultSeed;
  char* end = NULL;
  unsigned long n = strtoul(s, &end, 10);
  if (*end != '\0' || n > kMaxSeed) {
    fprintf(stderr, "sluice-seed: SLUICE_SEED_FRAMES=%s: expected 0-%d\n", s, kMaxSeed);
    exit(2);
  }
  return (unsigned)n;
}

static void fill_frame(struct rte_mbuf* m, uint16_t port_id, unsigned i) {
  char* p = rte_pktmbuf_append(m, kFrameLen);
  if (p == NULL) {
    fprintf(stderr, "sluice-seed: mbuf has no room for a %d-byte frame\n", kFrameLen);
    exit(2);
  }
  memset(p, 0, kFrameLen);
  struct rte_ether_hdr* eth = (struct rte_ether_hdr*)p;
  const struct rte_ether_addr dst = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
  const struct rte_ether_addr src = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  rte_ether_addr_copy(&dst, &eth->dst_addr);
  rte_ether_addr_copy(&src, &eth->src_addr);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

  struct rte_ipv4_hdr* ip = (struct rte_ipv4_hdr*)(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(kFrameLen - RTE_ETHER_HDR_LEN);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(198, 18, 0, 1) + port_id);
  ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(198, 19, 0, 1));
  ip->hdr_checksum = rte_ipv4_cksum(ip);

  struct rte_udp_hdr* udp = (struct rte_udp_hdr*)(ip + 1);
  udp->src_port = rte_cpu_to_be_16((uint16_t)(1024 + i));
  udp->dst_port = rte_cpu_to_be_16(9);
  udp->dgram_len = rte_cpu_to_be_16(kFrameLen - RTE_ETHER_HDR_LEN - sizeof(*ip));
}

static void seed_port(uint16_t port_id) {
  struct rte_eth_dev_info info;
  if (rte_eth_dev_info_get(port_id, &info) != 0) return;
  if (strcmp(info.driver_name, "net_ring") != 0) {
    fprintf(stderr, "sluice-seed: port %u: %s is not net_ring, nothing seeded; tsc_hz %lu\n",
            port_id, info.driver_name, (unsigned long)rte_get_tsc_hz());
    return;
  }
  const unsigned n = seed_count();
  struct rte_mempool* pool = NULL;
  rte_mempool_walk(find_packet_pool, &pool);
  if (pool == NULL) {
    fprintf(stderr, "sluice-seed: port %u: no packet mempool found\n", port_id);
    exit(2);
  }
  struct rte_mbuf* pkts[kMaxSeed];
  if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0) {
    fprintf(stderr, "sluice-seed: port %u: cannot allocate %u mbufs from %s\n", port_id, n,
            pool->name);
    exit(2);
  }
  for (unsigned i = 0; i < n; ++i) fill_frame(pkts[i], port_id, i);
  unsigned sent = 0;
  while (sent < n) {
    const uint16_t chunk = (uint16_t)(n - sent > UINT16_MAX ? UINT16_MAX : n - sent);
    const uint16_t k = rte_eth_tx_burst(port_id, 0, pkts + sent, chunk);
    if (k == 0) break;
    sent += k;
  }
  if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  fprintf(stderr, "sluice-seed: port %u: seeded %u of %u frames of %d bytes from %s; tsc_hz %lu\n",
          port_id, sent, n, kFrameLen, pool->name, (unsigned long)rte_get_tsc_hz());
}

int rte_eth_dev_start(uint16_t port_id) {
  static int (*real_start)(uint16_t);
  if (real_start == NULL) {
    real_start = (int (*)(uint16_t))dlsym(RTLD_NEXT, "rte_eth_dev_start");
    if (real_start == NULL) {
      fprintf(stderr, "sluice-seed: rte_eth_dev_start not found: %s\n", dlerror());
      exit(2);
    }
  }
  const int rc = real_start(port_id);
  if (rc == 0) seed_port(port_id);
  return rc;
}
