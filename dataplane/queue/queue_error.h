// Typed errors of the queue engine: each carries the SQS error it stands for, so that the API
// layer can answer in either wire protocol without a table of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice::queue {

enum class ErrorCode : uint8_t {
  kInvalidParameterValue,
  kMissingParameter,
  kInvalidAttributeName,
  kInvalidAttributeValue,
  kInvalidMessageContents,
  kQueueDoesNotExist,
  kQueueAlreadyExists,
  kQueueDeletedRecently,
  kPurgeQueueInProgress,
  kReceiptHandleIsInvalid,
  kMessageNotInflight,
  kTooManyEntriesInBatchRequest,
  kEmptyBatchRequest,
  kBatchEntryIdsNotDistinct,
  kInvalidBatchEntryId,
  kBatchRequestTooLong,
  kOverLimit,
  kRequestThrottled,
  kResourceNotFound,
  kUnsupportedOperation,
};

// How an error code appears on the wire.
struct ErrorInfo {
  std::string_view name;        // the shape name: AWS JSON `__type` is "com.amazonaws.sqs#" + name
  std::string_view query_code;  // the query protocol's <Code> and `x-amzn-query-error`
  uint16_t http_status;
  bool sender_fault;  // <Type>Sender</Type> rather than Receiver
};

const ErrorInfo& error_info(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  std::string_view name() const { return error_info(code).name; }
  std::string_view query_code() const { return error_info(code).query_code; }
};

// A value or the error that prevented it.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an error, for operations that return nothing else.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace sluice::queue
