#include "queue_error.h"

#include <array>

namespace sluice::queue {

namespace {

constexpr std::array<ErrorInfo, 20> kErrors = {{
    {"InvalidParameterValue", "InvalidParameterValue", 400, true},
    {"MissingParameter", "MissingParameter", 400, true},
    {"InvalidAttributeName", "InvalidAttributeName", 400, true},
    {"InvalidAttributeValue", "InvalidAttributeValue", 400, true},
    {"InvalidMessageContents", "InvalidMessageContents", 400, true},
    {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, true},
    {"QueueNameExists", "QueueAlreadyExists", 400, true},
    {"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, true},
    {"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true},
    {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400, true},
    {"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, true},
    {"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
     true},
    {"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, true},
    {"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true},
    {"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true},
    {"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, true},
    {"OverLimit", "OverLimit", 403, true},
    {"RequestThrottled", "RequestThrottled", 400, true},
    {"ResourceNotFoundException", "ResourceNotFoundException", 400, true},
    {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true},
}};

}  // namespace

const ErrorInfo& error_info(ErrorCode code) {
  return kErrors[static_cast<size_t>(code)];
}

}  // namespace sluice::queue
