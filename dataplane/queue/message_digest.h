// The digests SQS defines over messages: MD5 of the body and of the message attributes (which
// clients verify on send and receive) and SHA-256 of the body (content-based deduplication).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "queue_types.h"

namespace sluice::queue {

using Md5 = std::array<uint8_t, 16>;
using Sha256 = std::array<uint8_t, 32>;

Md5 md5_of_body(std::string_view body);
// REFERENCE.md, "Message MD5s": names sorted, each of name, type and value length-prefixed.
Md5 md5_of_attributes(std::span<const MessageAttribute> attributes);
Sha256 sha256_of(std::string_view data);

std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace sluice::queue
