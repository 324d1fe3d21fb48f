// Signs HTTP requests with AWS Signature Version 4 in the Authorization-header form, as botocore
// does for SQS: for the control plane's calls to the SQS API and for tests. The canonical request
// is built from the same pieces the verifier uses (sigv4.h: the canonical path and query, the
// payload hash, the signing-key chain); docs/sigv4.md describes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api::sigv4 {

struct SigningCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
  std::string service = "sqs";
};

struct RequestToSign {
  std::string method;
  std::string path;   // as sent, without the query
  std::string query;  // as sent, without the '?'
  // Every header to sign, Host and X-Amz-Date included, with the values the request carries.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// "20150830T123600Z" for a Unix time (UTC).
std::string amz_date(int64_t unix_seconds);

// The Authorization header's value for `request`, whose X-Amz-Date header gives the time.
std::string sigv4_authorization(const RequestToSign& request, const SigningCredentials& key);

}  // namespace sluice::api::sigv4
