#include "response_parser.h"

#include <algorithm>
#include <cstring>

namespace sluice::http {
namespace {

// A chunk-size line (size and extensions) longer than this is refused.
constexpr size_t kMaxChunkLine = 1024;

// RFC 9110 tchar.
constexpr bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A field value's (and a reason phrase's) bytes: VCHAR, obs-text, SP and HTAB.
constexpr bool is_field_char(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_tchar(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(c); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each comma-separated element of `value`, trimmed; stops at the first
// false f returns and returns false then.
template <typename F>
bool each_element(std::string_view value, F f) {
  for (;;) {
    const size_t comma = value.find(',');
    if (!f(trim(value.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

}  // namespace

const Header* Response::find(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i)
    if (iequals(headers[i].name, name)) return &headers[i];
  return nullptr;
}

void ResponseParser::reset(bool head_request) {
  head_request_ = head_request;
  head_parsed_ = failed_ = false;
  scanned_ = head_size_ = 0;
  body_ = Body::kNone;
  length_left_ = chunk_left_ = 0;
  line_bytes_ = trailer_bytes_ = 0;
  reason_ = {};
  header_count_ = 0;
  Response& r = response_;  // field by field: the header array is left to be overwritten
  r.version = Version::kHttp11;
  r.status = 0;
  r.reason = {};
  r.header_count = 0;
  r.keep_alive = true;
  r.chunked = r.has_content_length = r.until_close = r.no_body = r.upgrade = false;
  r.content_length = 0;
  error_ = {};
}

ResponseParser::Status ResponseParser::fail(std::string_view reason) {
  error_ = {502, reason};
  failed_ = true;
  body_ = Body::kError;
  return Status::kError;
}

size_t ResponseParser::body_fail(std::string_view reason) {
  fail(reason);
  return kBodyError;
}

ResponseParser::Status ResponseParser::parse_head(std::string_view b) {
  if (failed_) return Status::kError;
  if (head_parsed_) {
    if (b.size() < head_size_) return fail("buffer shorter than the parsed response head");
    materialize(b);
    return Status::kHead;
  }
  const Status s = find_head_end(b);
  if (s != Status::kHead) return s;
  size_t end = b.find("\r\n");
  if (parse_status_line(b.substr(0, end)) == Status::kError) return Status::kError;
  header_count_ = 0;
  for (size_t start = end + 2; start < head_size_ - 2; start = end + 2) {
    end = b.find("\r\n", start);
    if (parse_header_line(b, start, end) == Status::kError) return Status::kError;
  }
  if (decide_framing(b) == Status::kError) return Status::kError;
  head_parsed_ = true;
  materialize(b);
  return Status::kHead;
}

// Finds the empty line that ends the head, refusing bare CR and bare LF on the way, a first line
// that cannot be a status line, and the head growing past its limit.
ResponseParser::Status ResponseParser::find_head_end(std::string_view b) {
  constexpr std::string_view kPrefix = "HTTP/";
  for (size_t i = scanned_; i < std::min(b.size(), kPrefix.size()); ++i)
    if (b[i] != kPrefix[i]) return fail("malformed status line");
  const size_t limit = std::min(b.size(), limits_.max_head_bytes);
  size_t i = scanned_;
  for (; i < limit; ++i) {
    const char c = b[i];
    if (c == '\r') {
      if (i + 1 >= b.size()) break;  // wait for the next byte
      if (b[i + 1] != '\n') return fail("bare CR in the response head");
      ++i;
      if (i >= 3 && b[i - 3] == '\r' && b[i - 2] == '\n') {
        head_size_ = i + 1;
        if (head_size_ > limits_.max_head_bytes) return fail("response head too large");
        return Status::kHead;
      }
    } else if (c == '\n') {
      return fail("bare LF in the response head");
    }
  }
  scanned_ = i;
  if (b.size() >= limits_.max_head_bytes) return fail("response head too large");
  return Status::kIncomplete;
}

// HTTP-version SP 3DIGIT SP reason-phrase; a status line ending right after the code (no space,
// no reason) is accepted too, since nothing can be misread from it.
ResponseParser::Status ResponseParser::parse_status_line(std::string_view line) {
  if (line.size() < 12 || line[8] != ' ') return fail("malformed status line");
  const std::string_view version = line.substr(0, 8);
  if (version[6] != '.' || !is_digit(version[5]) || !is_digit(version[7]))
    return fail("malformed HTTP version in the status line");
  if (version == "HTTP/1.1") {
    response_.version = Version::kHttp11;
  } else if (version == "HTTP/1.0") {
    response_.version = Version::kHttp10;
  } else {
    return fail("unsupported HTTP version in the status line");
  }
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > 12 && line[12] != ' '))
    return fail("malformed status code");
  const uint16_t code =
      static_cast<uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (code < 100 || code > 599) return fail("status code outside 100-599");
  response_.status = code;
  if (line.size() > 13) {
    const std::string_view reason = line.substr(13);
    if (!std::all_of(reason.begin(), reason.end(), [](char c) { return is_field_char(c); }))
      return fail("control character in the reason phrase");
    reason_ = {13, static_cast<uint32_t>(reason.size())};
  }
  return Status::kHead;
}

ResponseParser::Status ResponseParser::parse_header_line(std::string_view b, size_t start,
                                                         size_t end) {
  const std::string_view line = b.substr(start, end - start);
  if (line.front() == ' ' || line.front() == '\t')
    return fail("obsolete line folding in a response header");
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail("malformed response header line");
  const std::string_view name = line.substr(0, colon);
  if (!all_tchar(name))
    return fail("malformed response header name (whitespace before the colon?)");
  const std::string_view raw = line.substr(colon + 1);
  if (!std::all_of(raw.begin(), raw.end(), [](char c) { return is_field_char(c); }))
    return fail("control character in a response header value");
  if (header_count_ >= std::min(limits_.max_headers, kMaxHeaders))
    return fail("too many response header fields");
  const std::string_view value = trim(raw);
  names_[header_count_] = {static_cast<uint32_t>(start), static_cast<uint32_t>(name.size())};
  values_[header_count_] = {static_cast<uint32_t>(value.data() - b.data()),
                            static_cast<uint32_t>(value.size())};
  ++header_count_;
  return Status::kHead;
}

ResponseParser::Status ResponseParser::decide_framing(std::string_view b) {
  auto view = [&](Span s) { return b.substr(s.at, s.len); };
  Response& r = response_;
  bool has_encoding = false, chunked_seen = false, last_chunked = false;
  bool conn_close = false, conn_keep_alive = false;
  std::string_view bad;  // why a header was refused
  for (size_t i = 0; i < header_count_ && bad.empty(); ++i) {
    const std::string_view name = view(names_[i]), value = view(values_[i]);
    if (iequals(name, "content-length")) {
      each_element(value, [&](std::string_view e) {
        uint64_t n = 0;
        if (e.empty() || e.size() > 19 || !std::all_of(e.begin(), e.end(), is_digit)) {
          bad = "malformed Content-Length";
          return false;
        }
        for (char c : e) n = n * 10 + static_cast<uint64_t>(c - '0');
        if (r.has_content_length && n != r.content_length) {
          bad = "differing Content-Length values";
          return false;
        }
        r.has_content_length = true;
        r.content_length = n;
        return true;
      });
    } else if (iequals(name, "transfer-encoding")) {
      bool any = false;
      each_element(value, [&](std::string_view e) {
        if (e.empty()) return true;
        const size_t semi = e.find(';');
        const std::string_view coding = trim(e.substr(0, semi));
        if (!all_tchar(coding)) {
          bad = "malformed Transfer-Encoding";
          return false;
        }
        last_chunked = iequals(coding, "chunked");
        if (last_chunked && (chunked_seen || semi != std::string_view::npos)) {
          bad = chunked_seen ? "chunked applied twice" : "parameters on the chunked coding";
          return false;
        }
        chunked_seen = chunked_seen || last_chunked;
        any = true;
        return true;
      });
      if (!any && bad.empty()) bad = "empty Transfer-Encoding";
      has_encoding = true;
    } else if (iequals(name, "connection")) {
      each_element(value, [&](std::string_view e) {
        conn_close = conn_close || iequals(e, "close");
        conn_keep_alive = conn_keep_alive || iequals(e, "keep-alive");
        return true;
      });
    }
  }
  if (!bad.empty()) return fail(bad);
  if (has_encoding && r.has_content_length)
    return fail("both Content-Length and Transfer-Encoding in a response");
  if (chunked_seen && !last_chunked) return fail("chunked is not the final transfer coding");
  const bool http11 = r.version == Version::kHttp11;
  if (has_encoding && !http11) return fail("Transfer-Encoding in an HTTP/1.0 response");
  r.keep_alive = !conn_close && (http11 || conn_keep_alive);
  r.upgrade = r.status == 101;
  if (r.upgrade) r.keep_alive = false;
  r.no_body = r.status < 200 || r.status == 204 || r.status == 304 || head_request_;
  if (r.no_body) {
    body_ = Body::kDone;
  } else if (has_encoding && last_chunked) {
    r.chunked = true;
    body_ = Body::kChunkSize;
  } else if (r.has_content_length && !has_encoding) {
    length_left_ = r.content_length;
    body_ = length_left_ == 0 ? Body::kDone : Body::kLength;
  } else {
    r.until_close = true;
    r.keep_alive = false;
    body_ = Body::kUntilClose;
  }
  return Status::kHead;
}

void ResponseParser::materialize(std::string_view b) {
  auto view = [&](Span s) { return b.substr(s.at, s.len); };
  response_.reason = view(reason_);
  response_.header_count = header_count_;
  for (size_t i = 0; i < header_count_; ++i)
    response_.headers[i] = {view(names_[i]), view(values_[i])};
}

size_t ResponseParser::consume_body(std::string_view data) {
  switch (body_) {
    case Body::kError:
      return kBodyError;
    case Body::kNone:
      return body_fail("response body fed before its head was parsed");
    case Body::kDone:
      return 0;
    case Body::kLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(length_left_, data.size()));
      length_left_ -= n;
      if (length_left_ == 0) body_ = Body::kDone;
      return n;
    }
    case Body::kUntilClose:
      return data.size();
    default:
      return consume_chunked(data);
  }
}

// Follows the chunked framing byte by byte (chunk data in runs), keeping only the state needed to
// resume with the next piece, and stops right after the empty line that ends the trailers.
size_t ResponseParser::consume_chunked(std::string_view data) {
  size_t i = 0;
  while (i < data.size()) {
    const char c = data[i];
    if (body_ == Body::kChunkSize || body_ == Body::kChunkSizeWs || body_ == Body::kChunkExt) {
      if (++line_bytes_ > kMaxChunkLine) return body_fail("chunk-size line too long");
    } else if (body_ >= Body::kTrailerStart && body_ <= Body::kTrailerLf &&
               !(body_ == Body::kTrailerStart && c == '\r')) {
      if (++trailer_bytes_ > limits_.max_trailer_bytes)
        return body_fail("trailer section too large");
    }
    if (c == '\n' && body_ != Body::kChunkSizeLf && body_ != Body::kChunkDataLf &&
        body_ != Body::kTrailerLf && body_ != Body::kFinalLf && body_ != Body::kChunkData)
      return body_fail("bare LF in chunked framing");
    switch (body_) {
      case Body::kChunkSize: {
        const int h = hex_value(c);
        if (h >= 0) {
          if (chunk_left_ > (UINT64_MAX >> 4)) return body_fail("chunk size too large");
          chunk_left_ = chunk_left_ * 16 + static_cast<uint64_t>(h);
        } else if (line_bytes_ == 1) {
          return body_fail("malformed chunk size");
        } else if (c == ';') {
          body_ = Body::kChunkExt;
        } else if (c == ' ' || c == '\t') {
          body_ = Body::kChunkSizeWs;
        } else if (c == '\r') {
          body_ = Body::kChunkSizeLf;
        } else {
          return body_fail("malformed chunk size");
        }
        break;
      }
      case Body::kChunkSizeWs:
        if (c == ';') {
          body_ = Body::kChunkExt;
        } else if (c != ' ' && c != '\t') {
          return body_fail("malformed chunk extension");
        }
        break;
      case Body::kChunkExt:
        if (c == '\r') {
          body_ = Body::kChunkSizeLf;
        } else if (!is_field_char(c)) {
          return body_fail("control character in a chunk extension");
        }
        break;
      case Body::kChunkSizeLf:
        if (c != '\n') return body_fail("bare CR in a chunk-size line");
        line_bytes_ = 0;
        body_ = chunk_left_ == 0 ? Body::kTrailerStart : Body::kChunkData;
        break;
      case Body::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, data.size() - i));
        chunk_left_ -= n;
        i += n;
        if (chunk_left_ == 0) body_ = Body::kChunkDataCr;
        continue;
      }
      case Body::kChunkDataCr:
        if (c != '\r') return body_fail("chunk data longer than its size");
        body_ = Body::kChunkDataLf;
        break;
      case Body::kChunkDataLf:
        if (c != '\n') return body_fail("bare CR after chunk data");
        body_ = Body::kChunkSize;
        break;
      case Body::kTrailerStart:
        if (c == '\r') {
          body_ = Body::kFinalLf;
        } else if (c == ' ' || c == '\t') {
          return body_fail("obsolete line folding in a trailer field");
        } else if (is_tchar(c)) {
          body_ = Body::kTrailerName;
        } else {
          return body_fail("malformed trailer field name");
        }
        break;
      case Body::kTrailerName:
        if (c == ':') {
          body_ = Body::kTrailerValue;
        } else if (!is_tchar(c)) {
          return body_fail("malformed trailer field name (whitespace before the colon?)");
        }
        break;
      case Body::kTrailerValue:
        if (c == '\r') {
          body_ = Body::kTrailerLf;
        } else if (!is_field_char(c)) {
          return body_fail("control character in a trailer field");
        }
        break;
      case Body::kTrailerLf:
        if (c != '\n') return body_fail("bare CR in a trailer field");
        body_ = Body::kTrailerStart;
        break;
      case Body::kFinalLf:
        if (c != '\n') return body_fail("bare CR ending the trailer section");
        body_ = Body::kDone;
        return i + 1;
      default:
        return body_fail("chunked framing in an unexpected state");
    }
    ++i;
  }
  return i;
}

}  // namespace sluice::http
