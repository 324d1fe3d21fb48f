// Reading and writing the settable queue attributes (CreateQueue, SetQueueAttributes,
// GetQueueAttributes) with SQS's names, ranges and errors, and the pieces they need: queue names,
// queue ARNs and the two redrive policies' JSON.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "queue_error.h"
#include "queue_types.h"

namespace sluice::queue {

// 1 to 80 characters of [A-Za-z0-9_-]; a FIFO queue's name ends in ".fifo" (counted).
Status validate_queue_name(std::string_view name, bool fifo);
bool has_fifo_suffix(std::string_view name);

enum class AttributeUse : uint8_t { kCreate, kSet };

// `base` with `attributes` applied in order, or the first attribute's error. FifoQueue is
// accepted on create only; FIFO-only attributes on a standard queue are unknown names.
Result<QueueSettings> apply_attributes(QueueSettings base,
                                       std::span<const AttributeValue> attributes,
                                       AttributeUse use);

// The value GetQueueAttributes reports for a settable attribute, or nullopt for other names.
// FIFO-only attributes have no value on a standard queue; unset policies are empty.
std::optional<std::string> setting_value(const QueueSettings& settings, std::string_view name);

// The queue name in an ARN of the form arn:PARTITION:sqs:REGION:ACCOUNT:NAME, or empty.
std::string_view queue_name_of_arn(std::string_view arn);

std::string redrive_policy_json(const RedrivePolicy& policy);
std::string redrive_allow_policy_json(const RedriveAllowPolicy& policy);

}  // namespace sluice::queue
