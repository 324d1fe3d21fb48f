// The SQS limits and defaults the engine enforces (REFERENCE.md, "SQS limits and semantics").
#pragma once

#include <cstdint>

namespace sluice::queue::limits {

inline constexpr uint32_t kMinMessageSize = 1024;
inline constexpr uint32_t kMaxMessageSize = 1048576;
inline constexpr uint32_t kMinRetentionSeconds = 60;
inline constexpr uint32_t kDefaultRetentionSeconds = 345600;
inline constexpr uint32_t kMaxRetentionSeconds = 1209600;
inline constexpr uint32_t kDefaultVisibilitySeconds = 30;
inline constexpr uint32_t kMaxVisibilitySeconds = 43200;
inline constexpr uint32_t kMaxDelaySeconds = 900;
inline constexpr uint32_t kMaxWaitSeconds = 20;
inline constexpr uint32_t kMaxReceiveMessages = 10;
inline constexpr uint32_t kMaxBatchEntries = 10;
inline constexpr uint32_t kMaxBatchEntryIdLength = 80;
inline constexpr uint32_t kMaxMessageAttributes = 10;
inline constexpr uint32_t kMaxMessageAttributeNameLength = 256;
inline constexpr uint32_t kMaxQueueNameLength = 80;
inline constexpr uint32_t kMaxGroupIdLength = 128;
inline constexpr uint32_t kMaxDeduplicationIdLength = 128;
inline constexpr uint32_t kMaxReceiveCount = 1000;
inline constexpr uint32_t kMaxTagsPerQueue = 50;
inline constexpr uint32_t kMaxTagKeyLength = 128;
inline constexpr uint32_t kMaxTagValueLength = 256;
inline constexpr uint32_t kMaxSourceQueueArns = 10;
inline constexpr uint32_t kMaxMoveTaskRate = 500;
inline constexpr uint32_t kListedMoveTasks = 10;
inline constexpr uint64_t kDeduplicationWindowMs = 5 * 60 * 1000;
inline constexpr uint64_t kPurgeIntervalMs = 60 * 1000;
inline constexpr uint64_t kDeletedRecentlyMs = 60 * 1000;
inline constexpr uint32_t kStandardInflightLimit = 120000;
inline constexpr uint32_t kFifoInflightLimit = 120000;
inline constexpr uint32_t kMaxSyncIntervalMs = 60000;  // SluiceDurability=interval:N

}  // namespace sluice::queue::limits
