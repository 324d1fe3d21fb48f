// Pinning the calling thread to CPUs (the service cores, build threads, benchmarks' threads).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <span>

namespace sluice {

// Runs the calling thread on `cpus` only; nothing happens when the list is empty. False when the
// kernel refuses (a CPU that is offline or outside the process's cpuset).
inline bool run_on_cpus(std::span<const unsigned> cpus) {
  if (cpus.empty()) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c : cpus) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

inline bool run_on_cpu(unsigned cpu) {
  return run_on_cpus(std::span<const unsigned>(&cpu, 1));
}

}  // namespace sluice
