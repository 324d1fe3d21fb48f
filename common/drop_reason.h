// Why the dataplane dropped a packet. Every drop is counted under one of these reasons, per port
// and per core; the names are what stats output and metrics show.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

enum class DropReason : uint8_t {
  kRunt,                 // shorter than an Ethernet header
  kOversize,             // longer than the egress port's largest frame
  kMultiSegUnsupported,  // chained mbuf on a port that cannot send chains
  kTxFull,               // egress queue had no room
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "runt",
    "oversize",
    "multiseg_unsupported",
    "tx_full",
};

constexpr std::string_view drop_reason_name(DropReason r) {
  return kDropReasonNames[static_cast<size_t>(r)];
}

}  // namespace sluice
