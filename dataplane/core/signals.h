// Signals for the dataplane process. They are blocked in every thread (call block_signals()
// before EAL creates its threads) and taken synchronously by the main thread through a signalfd
// that its management loop polls beside its other file descriptors, so no work runs in a signal
// handler.
#pragma once

namespace sluice::dataplane {

enum class SignalEvent { kNone, kStop, kDumpStats };

void block_signals();

// SIGINT/SIGTERM (kStop) and SIGUSR1 (kDumpStats) as a non-blocking file descriptor. Only
// meaningful once block_signals() has run.
class SignalFd {
 public:
  SignalFd();  // throws std::system_error
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  // Takes every pending signal; kStop wins over kDumpStats. kNone when none was pending.
  SignalEvent take();

 private:
  int fd_ = -1;
};

}  // namespace sluice::dataplane
