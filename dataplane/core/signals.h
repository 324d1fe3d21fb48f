// Signals for the dataplane process. They are blocked in every thread (call block_signals()
// before EAL creates its threads) and taken synchronously by the main thread, so no work runs in
// a signal handler.
#pragma once

#include <chrono>

namespace sluice::dataplane {

enum class SignalEvent { kNone, kStop, kDumpStats, kReload };

void block_signals();

// Waits up to `timeout` for SIGINT/SIGTERM (kStop), SIGUSR1 (kDumpStats) or SIGHUP (kReload).
SignalEvent wait_for_signal(std::chrono::milliseconds timeout);

}  // namespace sluice::dataplane
