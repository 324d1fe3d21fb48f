// AWS Signature Version 4 verification: parsing the two forms, the canonical request, the
// string to sign, the signing key and the checks around them, in AWS's order and wording.
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace sluice::api::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;  // a signing key is good for 7 days
constexpr std::string_view kMismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

using Key = std::array<uint8_t, 32>;

Key hmac(std::string_view key, std::string_view data) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::string_view as_view(const Key& k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

std::string hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void encode_into(std::string& out, std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
}

// %XX sequences decoded; anything else, '+' and a stray '%' included, kept as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = -1, lo = -1;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_value(s[i + 1])) >= 0 &&
        (lo = hex_value(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string uri_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  encode_into(out, s, false);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(name, value) for each non-empty '&'-separated parameter of a raw query.
template <typename F>
void for_each_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    f(param.substr(0, eq),
      eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1));
  }
}

// Civil date <-> days since 1970-01-01 (proleptic Gregorian).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string iso_basic(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  const int64_t y = yoe + era * 400 + (m <= 2);
  std::string out = std::to_string(y);
  auto two = [&out](int64_t v) {
    out.push_back(static_cast<char>('0' + v / 10));
    out.push_back(static_cast<char>('0' + v % 10));
  };
  two(m);
  two(d);
  out.push_back('T');
  two(secs / 3600);
  two(secs / 60 % 60);
  two(secs % 60);
  out.push_back('Z');
  return out;
}

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool valid_civil(int y, int mo, int d, int h, int mi, int s) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || s > 60)
    return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(mo == 2 && d == 29 && !leap);
}

// YYYYMMDDTHHMMSSZ.
std::optional<int64_t> parse_iso_basic(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z' || !digits(s, 0, 4, y) ||
      !digits(s, 4, 2, mo) || !digits(s, 6, 2, d) || !digits(s, 9, 2, h) || !digits(s, 11, 2, mi) ||
      !digits(s, 13, 2, sec) || !valid_civil(y, mo, d, h, mi, sec))
    return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

// RFC 1123 / RFC 5322 dates as clients send them in Date: "Sat, 21 Nov 2026 10:00:00 GMT" or,
// from Python's email.utils.formatdate (botocore), "... -0000"; the weekday is optional.
std::optional<int64_t> parse_http_date(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (const size_t comma = s.find(','); comma != std::string_view::npos) s = s.substr(comma + 1);
  s = trim(s);
  int d, y, h, mi, sec;
  size_t at = 0;
  const size_t day_len = s.size() > 1 && s[1] == ' ' ? 1 : 2;
  if (!digits(s, 0, day_len, d)) return std::nullopt;
  at = day_len;
  if (s.size() < at + 22 || s[at] != ' ' || s[at + 4] != ' ') return std::nullopt;
  const std::string_view month = s.substr(at + 1, 3);
  int mo = 0;
  for (int i = 0; i < 12; ++i)
    if (month == kMonths[i]) mo = i + 1;
  at += 5;
  if (mo == 0 || !digits(s, at, 4, y) || s[at + 4] != ' ' || !digits(s, at + 5, 2, h) ||
      s[at + 7] != ':' || !digits(s, at + 8, 2, mi) || s[at + 10] != ':' ||
      !digits(s, at + 11, 2, sec) || s[at + 13] != ' ' || !valid_civil(y, mo, d, h, mi, sec))
    return std::nullopt;
  const std::string_view zone = s.substr(at + 14);
  int64_t offset = 0;
  if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    int zh, zm;
    if (!digits(zone, 1, 2, zh) || !digits(zone, 3, 2, zm) || zm > 59) return std::nullopt;
    offset = (zone[0] == '+' ? 1 : -1) * (zh * 3600 + zm * 60);
  } else if (zone != "GMT" && zone != "UTC" && zone != "UT" && zone != "Z") {
    return std::nullopt;
  }
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
}

Result fail(Error e, std::string message) {
  Result r;
  r.error = e;
  r.status = e == Error::kIncompleteSignature ? 400 : 403;
  r.message = std::move(message);
  return r;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
         c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
         c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

// Lowercase header names separated by ';', none repeated; nullopt when malformed.
std::optional<std::vector<std::string_view>> parse_signed_headers(std::string_view list) {
  std::vector<std::string_view> names;
  while (true) {
    const size_t semi = list.find(';');
    const std::string_view name = list.substr(0, semi);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return std::nullopt;
    if (std::find(names.begin(), names.end(), name) != names.end()) return std::nullopt;
    names.push_back(name);
    if (semi == std::string_view::npos) break;
    list = list.substr(semi + 1);
  }
  return names;
}

// The parts of a credential: AKID/YYYYMMDD/REGION/SERVICE/aws4_request.
struct Scope {
  std::string_view access_key_id, date, region, service, terminator;
};

std::optional<Scope> parse_credential(std::string_view c) {
  std::string_view parts[5];
  for (int i = 0; i < 5; ++i) {
    const size_t slash = c.find('/');
    if ((slash == std::string_view::npos) != (i == 4)) return std::nullopt;
    parts[i] = c.substr(0, slash);
    if (parts[i].empty()) return std::nullopt;
    if (i < 4) c = c.substr(slash + 1);
  }
  return Scope{parts[0], parts[1], parts[2], parts[3], parts[4]};
}

// Everything the two forms have in common once parsed.
struct Claim {
  std::string credential;  // decoded
  Scope scope;
  std::string signed_headers;
  std::string signature;
  std::string date_text;  // as sent
  int64_t date = 0;       // Unix seconds
  std::string iso_date;   // the request time as it goes into the string to sign
  int64_t expires = 0;    // presigned only
  bool has_payload_hash = false;
  std::string payload_hash;  // X-Amz-Content-Sha256 as sent (header or query)
};

struct QueryAuth {
  std::optional<std::string> algorithm, credential, date, expires, signed_headers, signature, token,
      content_sha256;
  bool duplicate = false;
  bool any() const { return algorithm || credential || signature; }
};

QueryAuth scan_query(std::string_view query) {
  QueryAuth q;
  for_each_param(query, [&](std::string_view raw_name, std::string_view raw_value) {
    if (raw_name.size() < 6) return;
    const std::string name = percent_decode(raw_name);
    std::optional<std::string>* slot = nullptr;
    if (name == "X-Amz-Algorithm")
      slot = &q.algorithm;
    else if (name == "X-Amz-Credential")
      slot = &q.credential;
    else if (name == "X-Amz-Date")
      slot = &q.date;
    else if (name == "X-Amz-Expires")
      slot = &q.expires;
    else if (name == "X-Amz-SignedHeaders")
      slot = &q.signed_headers;
    else if (name == "X-Amz-Signature")
      slot = &q.signature;
    else if (name == "X-Amz-Security-Token")
      slot = &q.token;
    else if (name == "X-Amz-Content-Sha256")
      slot = &q.content_sha256;
    if (slot == nullptr) return;
    if (*slot) q.duplicate = true;
    *slot = percent_decode(raw_value);
  });
  return q;
}

std::optional<Result> parse_authorization(std::string_view header, Claim& claim) {
  const std::string echo = "Authorization=" + std::string(header);
  const size_t space = header.find_first_of(" \t");
  const std::string_view algorithm = header.substr(0, space);
  if (algorithm != kAlgorithm)
    return fail(Error::kIncompleteSignature,
                "Unsupported AWS 'algorithm': '" + std::string(algorithm) + "'. " + echo);
  std::string_view rest =
      space == std::string_view::npos ? std::string_view{} : header.substr(space);
  std::optional<std::string_view> credential, signed_headers, signature;
  while (!(rest = trim(rest)).empty()) {
    const size_t comma = rest.find(',');
    const std::string_view pair = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos)
      return fail(
          Error::kIncompleteSignature,
          "'" + std::string(pair) +
              "' not a valid key=value pair (missing equal-sign) in Authorization header: '" +
              std::string(header) + "'.");
    const std::string_view key = pair.substr(0, eq);
    std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (slot == nullptr || *slot)
      return fail(Error::kIncompleteSignature,
                  "'" + std::string(pair) +
                      "' not a valid key=value pair in Authorization header: '" +
                      std::string(header) + "'.");
    *slot = pair.substr(eq + 1);
  }
  std::string missing;
  if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!missing.empty()) return fail(Error::kIncompleteSignature, missing + echo);
  claim.credential = std::string(*credential);
  claim.signed_headers = std::string(*signed_headers);
  claim.signature = std::string(*signature);
  return std::nullopt;
}

std::optional<Result> parse_presigned(const QueryAuth& q, Claim& claim) {
  if (q.duplicate)
    return fail(Error::kIncompleteSignature,
                "AWS query-string parameters must appear once each. Re-examine the query-string "
                "parameters.");
  if (!q.algorithm || !q.credential || !q.signature || !q.date || !q.signed_headers || !q.expires)
    return fail(Error::kIncompleteSignature,
                "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
                "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'. "
                "Re-examine the query-string parameters.");
  if (*q.algorithm != kAlgorithm)
    return fail(Error::kIncompleteSignature, "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'.");
  const std::string& e = *q.expires;
  if (e.empty() || e.size() > 7 ||
      !std::all_of(e.begin(), e.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoll(e) < 1 || std::stoll(e) > kMaxPresignSeconds)
    return fail(
        Error::kIncompleteSignature,
        "X-Amz-Expires must be a number of seconds from 1 to 604800 (a week), not '" + e + "'.");
  claim.expires = std::stoll(e);
  claim.credential = *q.credential;
  claim.signed_headers = *q.signed_headers;
  claim.signature = *q.signature;
  claim.date_text = *q.date;
  if (q.content_sha256) {
    claim.has_payload_hash = true;
    claim.payload_hash = *q.content_sha256;
  }
  return std::nullopt;
}

// Values of every header of that name, in order, each with runs of spaces collapsed, joined by
// commas; nullopt when the request has none.
std::optional<std::string> canonical_header_value(const http::Request& r, std::string_view name) {
  std::optional<std::string> out;
  for (size_t i = 0; i < r.header_count; ++i) {
    if (!http::iequals(r.headers[i].name, name)) continue;
    if (out)
      out->push_back(',');
    else
      out.emplace();
    bool space = false;
    for (char c : trim(r.headers[i].value)) {
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      if (space) out->push_back(' ');
      space = false;
      out->push_back(c);
    }
  }
  return out;
}

std::string_view header_value(const http::Request& r, std::string_view name) {
  const http::Header* h = r.find(name);
  return h != nullptr ? h->value : std::string_view{};
}

}  // namespace

std::string_view error_code(Error e) {
  switch (e) {
    case Error::kNone:
      return "";
    case Error::kMissingAuthenticationToken:
      return "MissingAuthenticationToken";
    case Error::kIncompleteSignature:
      return "IncompleteSignature";
    case Error::kInvalidClientTokenId:
      return "InvalidClientTokenId";
    case Error::kSignatureDoesNotMatch:
      return "SignatureDoesNotMatch";
  }
  return "";
}

std::string canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  for (std::string_view rest = path; !rest.empty();) {
    const size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(seg);
  }
  std::string out;
  out.reserve(path.size() + 8);
  if (path.front() == '/') out.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    encode_into(out, segments[i], false);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

std::string canonical_query(std::string_view query, bool drop_signature) {
  std::vector<std::pair<std::string, std::string>> params;
  for_each_param(query, [&](std::string_view name, std::string_view value) {
    std::string decoded = percent_decode(name);
    if (drop_signature && decoded == "X-Amz-Signature") return;
    params.emplace_back(uri_encode(decoded), uri_encode(percent_decode(value)));
  });
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

Key derive_signing_key(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  const std::string first = "AWS4" + std::string(secret);
  const Key k_date = hmac(first, date);
  const Key k_region = hmac(as_view(k_date), region);
  const Key k_service = hmac(as_view(k_region), service);
  return hmac(as_view(k_service), kTerminator);
}

std::string hex_sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

Verifier::Verifier(Options options) : options_(std::move(options)) {
  if (!options_.now) {
    options_.now = [] {
      return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    };
  }
}

const Verifier::CachedKey* Verifier::cached(const std::string& slot,
                                            const std::string& secret) const {
  const auto it = keys_.find(slot);
  return it != keys_.end() && it->second.secret == secret ? &it->second : nullptr;
}

void Verifier::remember(std::string slot, std::string secret, const Key& key) {
  if (options_.key_cache_entries == 0) return;
  if (keys_.size() >= options_.key_cache_entries && keys_.find(slot) == keys_.end())
    keys_.erase(keys_.begin());
  keys_[std::move(slot)] = CachedKey{std::move(secret), key};
}

Result Verifier::verify(const http::Request& request) {
  size_t authorizations = 0;
  std::string_view authorization;
  for (size_t i = 0; i < request.header_count; ++i) {
    if (http::iequals(request.headers[i].name, "authorization")) {
      ++authorizations;
      authorization = request.headers[i].value;
    }
  }
  const QueryAuth query = scan_query(request.query);
  if (authorizations == 0 && !query.any())
    return fail(Error::kMissingAuthenticationToken, "Request is missing Authentication Token");
  if (authorizations > 1)
    return fail(Error::kIncompleteSignature, "Only one Authorization header is allowed.");
  if (authorizations == 1 && query.any())
    return fail(Error::kIncompleteSignature,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified");

  const bool presigned = authorizations == 0;
  Claim claim;
  if (auto refused =
          presigned ? parse_presigned(query, claim) : parse_authorization(authorization, claim))
    return std::move(*refused);

  const std::optional<Scope> scope = parse_credential(claim.credential);
  if (!scope || scope->date.size() != 8)
    return fail(Error::kIncompleteSignature,
                "Incorrect Credential format: expected "
                "'ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request', got '" +
                    claim.credential + "'.");
  if (scope->terminator != kTerminator)
    return fail(Error::kIncompleteSignature,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                    std::string(scope->terminator) + "'.");
  const std::optional<std::vector<std::string_view>> names =
      parse_signed_headers(claim.signed_headers);
  if (!names)
    return fail(Error::kIncompleteSignature,
                "SignedHeaders must be lowercase header names separated by ';', each once: '" +
                    claim.signed_headers + "'.");
  if (std::find(names->begin(), names->end(), "host") == names->end())
    return fail(Error::kIncompleteSignature,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

  if (!presigned) {
    if (const http::Header* h = request.find("x-amz-date")) {
      claim.date_text = std::string(h->value);
    } else if (const http::Header* d = request.find("date")) {
      claim.date_text = std::string(d->value);
      const std::optional<int64_t> t = parse_http_date(d->value);
      if (!t)
        return fail(Error::kIncompleteSignature,
                    "Date header must be an RFC 1123 date. Got '" + claim.date_text + "'.");
      claim.date = *t;
      claim.iso_date = iso_basic(*t);
    } else {
      return fail(Error::kIncompleteSignature,
                  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                  "header. Authorization=" +
                      std::string(authorization));
    }
    if (const http::Header* h = request.find("x-amz-content-sha256")) {
      claim.has_payload_hash = true;
      claim.payload_hash = std::string(h->value);
    }
  }
  if (claim.iso_date.empty()) {
    const std::optional<int64_t> t = parse_iso_basic(claim.date_text);
    if (!t)
      return fail(Error::kIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" +
                                                   claim.date_text +
                                                   "'. See http://en.wikipedia.org/wiki/ISO_8601");
    claim.date = *t;
    claim.iso_date = claim.date_text;
  }

  Result result;
  result.access_key_id = std::string(scope->access_key_id);
  result.region = std::string(scope->region);
  result.service = std::string(scope->service);
  result.presigned = presigned;
  result.security_token = presigned ? query.token.value_or("")
                                    : std::string(header_value(request, "x-amz-security-token"));
  auto refuse = [&](Error e, std::string message) {
    Result r = fail(e, std::move(message));
    r.access_key_id = std::move(result.access_key_id);
    r.region = std::move(result.region);
    r.service = std::move(result.service);
    r.security_token = std::move(result.security_token);
    r.presigned = presigned;
    return r;
  };

  const std::optional<std::string> secret =
      options_.secret_for ? options_.secret_for(scope->access_key_id) : std::nullopt;
  if (!secret)
    return refuse(Error::kInvalidClientTokenId,
                  "The security token included in the request is invalid.");
  if (!options_.services.empty() && std::find(options_.services.begin(), options_.services.end(),
                                              scope->service) == options_.services.end())
    return refuse(
        Error::kSignatureDoesNotMatch,
        "Credential should be scoped to correct service: '" + options_.services.front() + "'. ");
  const std::string_view day = std::string_view(claim.iso_date).substr(0, 8);
  if (scope->date != day)
    return refuse(Error::kSignatureDoesNotMatch,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                  "from HTTP: '" +
                      std::string(scope->date) + "' != '" + std::string(day) + "', from '" +
                      claim.iso_date + "'.");

  const int64_t now = options_.now();
  const int64_t skew = options_.max_skew_seconds;
  const std::string skew_text = std::to_string(skew / 60) + " min.)";
  if (claim.date - now > skew)
    return refuse(Error::kSignatureDoesNotMatch,
                  "Signature not yet current: " + claim.iso_date + " is still later than " +
                      iso_basic(now + skew) + " (" + iso_basic(now) + " + " + skew_text);
  if (!presigned && now - claim.date > skew)
    return refuse(Error::kSignatureDoesNotMatch,
                  "Signature expired: " + claim.iso_date + " is now earlier than " +
                      iso_basic(now - skew) + " (" + iso_basic(now) + " - " + skew_text);
  if (presigned && now - claim.date > claim.expires)
    return refuse(Error::kSignatureDoesNotMatch,
                  "Signature expired: " + claim.iso_date + " is now earlier than " +
                      iso_basic(now - claim.expires) + " (" + iso_basic(now) + " - " +
                      std::to_string(claim.expires) + " sec.)");

  // The canonical request up to the payload hash.
  std::string head;
  head.reserve(512 + request.path.size() + request.query.size());
  head.append(request.method).push_back('\n');
  head.append(canonical_uri(request.path)).push_back('\n');
  head.append(canonical_query(request.query, presigned)).push_back('\n');
  for (std::string_view name : *names) {
    const std::optional<std::string> value = canonical_header_value(request, name);
    if (!value) return refuse(Error::kSignatureDoesNotMatch, std::string(kMismatch));
    head.append(name).push_back(':');
    head.append(*value).push_back('\n');
  }
  head.push_back('\n');
  head.append(claim.signed_headers).push_back('\n');

  // Payload hashes to try: the one the client declared if it is UNSIGNED-PAYLOAD, otherwise the
  // body's; a presigned request without a declared hash may have been signed either way (botocore
  // hashes the body, S3-style presigners send UNSIGNED-PAYLOAD).
  std::string hashes[2];
  size_t n_hashes = 0;
  if (claim.has_payload_hash && claim.payload_hash == kUnsignedPayload) {
    hashes[n_hashes++] = std::string(kUnsignedPayload);
  } else {
    hashes[n_hashes++] = hex_sha256(request.body);
    if (presigned && !claim.has_payload_hash) hashes[n_hashes++] = std::string(kUnsignedPayload);
  }

  const std::string scope_text = std::string(scope->date) + "/" + std::string(scope->region) + "/" +
                                 std::string(scope->service) + "/" + std::string(kTerminator);
  std::string slot = claim.credential;
  const CachedKey* hit = cached(slot, *secret);
  const Key key = hit != nullptr
                      ? hit->key
                      : derive_signing_key(*secret, scope->date, scope->region, scope->service);

  std::string canonical, to_sign;
  for (size_t i = 0; i < n_hashes; ++i) {
    canonical = head + hashes[i];
    to_sign = std::string(kAlgorithm) + "\n" + claim.iso_date + "\n" + scope_text + "\n" +
              hex_sha256(canonical);
    const Key mac = hmac(as_view(key), to_sign);
    const std::string expected = hex(mac.data(), mac.size());
    if (claim.signature.size() == expected.size() &&
        CRYPTO_memcmp(claim.signature.data(), expected.data(), expected.size()) == 0) {
      if (hit == nullptr) remember(std::move(slot), *secret, key);
      return result;
    }
  }
  Result r = refuse(Error::kSignatureDoesNotMatch, std::string(kMismatch));
  r.canonical_request = std::move(canonical);
  r.string_to_sign = std::move(to_sign);
  return r;
}

}  // namespace sluice::api::sigv4
