#include "signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace sluice::dataplane {
namespace {

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void block_signals() {
  sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalEvent wait_for_signal(std::chrono::milliseconds timeout) {
  sigset_t set = handled_signals();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000) * 1000000L;
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig == SIGINT || sig == SIGTERM) return SignalEvent::kStop;
  if (sig == SIGUSR1) return SignalEvent::kDumpStats;
  if (sig == SIGHUP) return SignalEvent::kReload;
  return SignalEvent::kNone;
}

}  // namespace sluice::dataplane
