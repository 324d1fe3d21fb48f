#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

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

SignalFd::SignalFd() {
  const sigset_t set = handled_signals();
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
}

SignalFd::~SignalFd() {
  close(fd_);
}

SignalEvents SignalFd::take() {
  SignalEvents ev;
  signalfd_siginfo info;
  while (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    ev.stop = ev.stop || info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM;
    ev.dump_stats = ev.dump_stats || info.ssi_signo == SIGUSR1;
    ev.reload = ev.reload || info.ssi_signo == SIGHUP;
  }
  return ev;
}

}  // namespace sluice::dataplane
