// AWS Signature Version 4 verification for the SQS/SNS API: the Authorization header form and
// the presigned-query form, the canonical request exactly as AWS and botocore build it for
// services other than S3, the signing-key chain (cached per key, date, region and service), and
// the errors AWS answers with. See docs/sigv4.md.
//
// A Verifier is not thread-safe: each service core keeps its own.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http_types.h"

namespace sluice::api::sigv4 {

// The refusals, named as AWS names them (error_code gives the wire name).
enum class Error : uint8_t {
  kNone,
  kMissingAuthenticationToken,  // neither an Authorization header nor X-Amz-* query parameters
  kIncompleteSignature,         // malformed Authorization header or query parameters
  kInvalidClientTokenId,        // unknown access key id
  kSignatureDoesNotMatch,       // wrong signature, scope or time (expired / not yet current)
};

std::string_view error_code(Error e);

struct Result {
  Error error = Error::kNone;
  uint16_t status = 200;  // 400 for IncompleteSignature, 403 for the others
  std::string message;    // AWS's wording where AWS has one

  // Known once the credential has been parsed (also on most refusals, for logs).
  std::string access_key_id, region, service;
  std::string security_token;  // X-Amz-Security-Token as sent; empty when none
  bool presigned = false;

  // What the server computed, on SignatureDoesNotMatch from a signature comparison: for logs,
  // where a client author can compare them with the client's own.
  std::string canonical_request, string_to_sign;

  bool ok() const { return error == Error::kNone; }
};

struct Options {
  // The secret key of an access key id, or nullopt when unknown.
  std::function<std::optional<std::string>(std::string_view access_key_id)> secret_for;
  // Unix seconds; the system clock when empty.
  std::function<int64_t()> now;
  // Services a credential may be scoped to (e.g. "sqs", "sns"); empty accepts any.
  std::vector<std::string> services;
  int64_t max_skew_seconds = 15 * 60;
  size_t key_cache_entries = 64;
};

class Verifier {
 public:
  explicit Verifier(Options options);

  Result verify(const http::Request& request);

 private:
  struct CachedKey {
    std::string secret;
    std::array<uint8_t, 32> key;
  };

  // The signing key from the cache (when derived from the same secret) or derived afresh; a key
  // derived afresh is remembered only once a signature made with it has been accepted, so that
  // failed requests cannot churn the cache.
  const CachedKey* cached(const std::string& slot, const std::string& secret) const;
  void remember(std::string slot, std::string secret, const std::array<uint8_t, 32>& key);

  Options options_;
  std::unordered_map<std::string, CachedKey> keys_;
};

// The pieces of the canonical request, exposed for tests.

// The path with dot segments and repeated slashes removed, each byte other than an unreserved
// character or '/' percent-encoded (so an already-encoded path is encoded a second time, as AWS
// requires for every service but S3). An empty path is "/".
std::string canonical_uri(std::string_view path);

// Parameters decoded and re-encoded per RFC 3986, sorted by name then value; "a" becomes "a=".
// With drop_signature, X-Amz-Signature is left out (the presigned form).
std::string canonical_query(std::string_view query, bool drop_signature);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
std::array<uint8_t, 32> derive_signing_key(std::string_view secret, std::string_view date,
                                           std::string_view region, std::string_view service);

std::string hex_sha256(std::string_view data);

}  // namespace sluice::api::sigv4
