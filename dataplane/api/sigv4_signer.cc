#include "sigv4_signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cctype>
#include <ctime>
#include <map>

#include "sigv4.h"

namespace sluice::api::sigv4 {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Outer whitespace trimmed, inner runs of spaces and tabs collapsed to one space.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

}  // namespace

std::string amz_date(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[17];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string sigv4_authorization(const RequestToSign& r, const SigningCredentials& key) {
  // Values of one name are joined by ',' in the order they are sent; names sorted.
  std::map<std::string, std::string> headers;
  std::string date;
  for (const auto& [name, value] : r.headers) {
    const std::string lowered = lower(name);
    std::string& joined = headers[lowered];
    if (!joined.empty()) joined += ',';
    joined += canonical_value(value);
    if (lowered == "x-amz-date") date = value;
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  namespace v4 = api::sigv4;
  const std::string canonical_request =
      r.method + "\n" + v4::canonical_uri(r.path) + "\n" + v4::canonical_query(r.query, false) +
      "\n" + canonical_headers + "\n" + signed_headers + "\n" + v4::hex_sha256(r.body);
  const std::string day = date.substr(0, 8);
  const std::string scope = day + "/" + key.region + "/" + key.service + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + v4::hex_sha256(canonical_request);
  const std::array<uint8_t, 32> signing_key =
      v4::derive_signing_key(key.secret_access_key, day, key.region, key.service);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), signing_key.data(), static_cast<int>(signing_key.size()),
       reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), mac,
       &mac_size);
  return "AWS4-HMAC-SHA256 Credential=" + key.access_key_id + "/" + scope +
         ", SignedHeaders=" + signed_headers + ", Signature=" + hex(mac, mac_size);
}

}  // namespace sluice::api::sigv4
