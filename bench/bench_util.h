// Small pieces every benchmark here uses: the thread's CPU time (so that time taken by other
// processes on a shared core does not count), that time as TSC cycles, and a fast PRNG.
#pragma once

#include <rte_cycles.h>

#include <cstdint>
#include <ctime>

namespace sluice::bench {

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// TSC cycles this thread ran since `start` (a thread_cpu_seconds() value).
inline double cycles_since(double start) {
  return (thread_cpu_seconds() - start) * static_cast<double>(rte_get_tsc_hz());
}

// xorshift64: deterministic, a few cycles per number.
struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 32);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((uint64_t{next()} * n) >> 32); }
};

}  // namespace sluice::bench
