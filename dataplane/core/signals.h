// Signals for the dataplane process. They are blocked in every thread (call block_signals()
// before EAL creates its threads) and taken synchronously by the main thread through a signalfd
// that its management loop polls beside its other file descriptors, so no work runs in a signal
// handler.
#pragma once

namespace sluice::dataplane {

// What arrived since the last look: SIGINT/SIGTERM (stop), SIGUSR1 (dump_stats), SIGHUP (reload).
struct SignalEvents {
  bool stop = false;
  bool dump_stats = false;
  bool reload = false;
};

void block_signals();

// The handled signals as a non-blocking file descriptor. Only meaningful once block_signals() has
// run.
class SignalFd {
 public:
  SignalFd();  // throws std::system_error
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  // Takes every pending signal.
  SignalEvents take();

 private:
  int fd_ = -1;
};

}  // namespace sluice::dataplane
