#include "request_parser.h"

#include <algorithm>
#include <cstring>

namespace sluice::http {
namespace {

// RFC 9110 tchar.
constexpr bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

// A field value's bytes: VCHAR, obs-text, SP and HTAB.
constexpr bool is_field_char(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

// A request-target's bytes: visible ASCII only.
constexpr bool is_target_char(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

bool all_tchar(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(c); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive).
bool list_has(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    const char lower = static_cast<char>(a[i] | 0x20);
    if ((lower < 'a' || lower > 'z') && a[i] != b[i]) return false;
  }
  return true;
}

const Header* Request::find(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i)
    if (iequals(headers[i].name, name)) return &headers[i];
  return nullptr;
}

void RequestParser::reset() {
  phase_ = Phase::kHead;
  scanned_ = head_start_ = head_size_ = pos_ = 0;
  content_length_ = chunk_left_ = 0;
  trailer_bytes_ = consumed_ = 0;
  header_count_ = 0;
  body_span_ = {};
  decoded_.clear();
  request_.header_count = 0;
  request_.body = {};
  error_ = {};
}

RequestParser::Status RequestParser::fail(uint16_t status, std::string_view reason) {
  error_ = {status, reason};
  return Status::kError;
}

RequestParser::Status RequestParser::parse(std::string_view b) {
  if (phase_ == Phase::kHead) {
    const Status s = find_head_end(b);
    if (s != Status::kComplete) return s;
    if (parse_head(b) == Status::kError) return Status::kError;
  }
  if (phase_ == Phase::kBody) {
    if (b.size() - head_size_ < content_length_) return Status::kIncomplete;
    body_span_ = {static_cast<uint32_t>(head_size_), static_cast<uint32_t>(content_length_)};
    consumed_ = head_size_ + content_length_;
    phase_ = Phase::kDone;
  } else if (phase_ != Phase::kDone) {
    const Status s = parse_chunked(b);
    if (s != Status::kComplete) return s;
  }
  materialize(b);
  return Status::kComplete;
}

// Finds the empty line that ends the head, refusing bare CR and bare LF on the way, and the head
// growing past its limit. Empty lines before the request line are skipped (RFC 9112 section 2.2),
// a few at most.
RequestParser::Status RequestParser::find_head_end(std::string_view b) {
  if (scanned_ == head_start_) {
    while (b.size() >= head_start_ + 2 && b[head_start_] == '\r' && b[head_start_ + 1] == '\n') {
      if (head_start_ >= 8) return fail(400, "too many empty lines before the request line");
      head_start_ += 2;
      scanned_ = head_start_;
    }
  }
  const size_t limit = std::min(b.size(), limits_.max_head_bytes);
  size_t i = scanned_;
  for (; i < limit; ++i) {
    const char c = b[i];
    if (c == '\r') {
      if (i + 1 >= b.size()) break;  // wait for the next byte
      if (b[i + 1] != '\n') return fail(400, "bare CR in the request head");
      ++i;
      if (i >= head_start_ + 3 && b[i - 3] == '\r' && b[i - 2] == '\n') {
        head_size_ = i + 1;
        return Status::kComplete;
      }
    } else if (c == '\n') {
      return fail(400, "bare LF in the request head");
    }
  }
  scanned_ = i;
  if (b.size() >= limits_.max_head_bytes) return fail(431, "request head too large");
  return Status::kIncomplete;
}

RequestParser::Status RequestParser::parse_head(std::string_view b) {
  size_t start = head_start_;
  size_t end = b.find("\r\n", start);
  if (end == start) return fail(400, "empty request line");
  if (parse_request_line(b.substr(start, end - start)) == Status::kError) return Status::kError;
  method_.at += static_cast<uint32_t>(start);
  target_.at += static_cast<uint32_t>(start);
  header_count_ = 0;
  for (start = end + 2; start < head_size_ - 2; start = end + 2) {
    end = b.find("\r\n", start);
    if (parse_header_line(b, start, end) == Status::kError) return Status::kError;
  }
  return decide_framing(b);
}

RequestParser::Status RequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!all_tchar(method)) return fail(400, "malformed method");
  if (target.size() > limits_.max_target_bytes) return fail(414, "request-target too long");
  if (target.empty() ||
      !std::all_of(target.begin(), target.end(), [](char c) { return is_target_char(c); }))
    return fail(400, "malformed request-target");
  const bool origin = target.front() == '/';
  const bool absolute = target.starts_with("http://") || target.starts_with("https://");
  const bool asterisk = target == "*" && method == "OPTIONS";
  const bool authority = method == "CONNECT" && !origin && !absolute;
  if (!origin && !absolute && !asterisk && !authority) return fail(400, "malformed request-target");
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  if (version == "HTTP/1.1") {
    request_.version = Version::kHttp11;
  } else if (version == "HTTP/1.0") {
    request_.version = Version::kHttp10;
  } else {
    return fail(505, "HTTP version not supported");
  }
  method_ = {0, static_cast<uint32_t>(method.size())};
  target_ = {static_cast<uint32_t>(sp1 + 1), static_cast<uint32_t>(target.size())};
  return Status::kComplete;
}

RequestParser::Status RequestParser::parse_header_line(std::string_view b, size_t start,
                                                       size_t end) {
  const std::string_view line = b.substr(start, end - start);
  if (line.front() == ' ' || line.front() == '\t')
    return fail(400, "obsolete line folding in a header");
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header line");
  const std::string_view name = line.substr(0, colon);
  if (!all_tchar(name)) return fail(400, "malformed header name (whitespace before the colon?)");
  const std::string_view raw = line.substr(colon + 1);
  if (!std::all_of(raw.begin(), raw.end(), [](char c) { return is_field_char(c); }))
    return fail(400, "control character in a header value");
  if (header_count_ >= std::min(limits_.max_headers, kMaxHeaders))
    return fail(431, "too many header fields");
  const std::string_view value = trim(raw);
  names_[header_count_] = {static_cast<uint32_t>(start), static_cast<uint32_t>(name.size())};
  values_[header_count_] = {static_cast<uint32_t>(value.data() - b.data()),
                            static_cast<uint32_t>(value.size())};
  ++header_count_;
  return Status::kComplete;
}

RequestParser::Status RequestParser::decide_framing(std::string_view b) {
  auto view = [&](Span s) { return b.substr(s.at, s.len); };
  int hosts = 0, lengths = 0, encodings = 0;
  std::string_view length, encoding, connection, expect;
  bool has_upgrade = false;
  for (size_t i = 0; i < header_count_; ++i) {
    const std::string_view name = view(names_[i]), value = view(values_[i]);
    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "content-length")) {
      ++lengths;
      length = value;
    } else if (iequals(name, "transfer-encoding")) {
      ++encodings;
      encoding = value;
    } else if (iequals(name, "connection")) {
      connection = value;
    } else if (iequals(name, "expect")) {
      expect = value;
    } else if (iequals(name, "upgrade")) {
      has_upgrade = true;
    }
  }
  const bool http11 = request_.version == Version::kHttp11;
  if (hosts > 1 || (http11 && hosts == 0)) return fail(400, "a request needs exactly one Host");
  if (encodings > 0 && lengths > 0) return fail(400, "both Content-Length and Transfer-Encoding");
  if (lengths > 1) return fail(400, "repeated Content-Length");
  if (encodings > 1) return fail(400, "repeated Transfer-Encoding");
  request_.keep_alive =
      http11 ? !list_has(connection, "close") : list_has(connection, "keep-alive");
  request_.upgrade = has_upgrade && list_has(connection, "upgrade");
  request_.expect_continue = false;
  if (!expect.empty()) {
    if (!iequals(expect, "100-continue")) return fail(417, "unsupported expectation");
    request_.expect_continue = http11;
  }
  request_.chunked = false;
  if (encodings == 1) {
    if (!http11) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!iequals(encoding, "chunked")) return fail(501, "transfer coding not implemented");
    request_.chunked = true;
    pos_ = head_size_;
    phase_ = Phase::kChunkSize;
    return Status::kComplete;
  }
  content_length_ = 0;
  if (lengths == 1) {
    if (length.empty() || length.size() > 19) return fail(400, "malformed Content-Length");
    for (char c : length) {
      if (c < '0' || c > '9') return fail(400, "malformed Content-Length");
      content_length_ = content_length_ * 10 + static_cast<uint64_t>(c - '0');
    }
    if (content_length_ > limits_.max_body_bytes) return fail(413, "request body too large");
  }
  phase_ = Phase::kBody;
  return Status::kComplete;
}

// Decodes as much of a chunked body as has arrived, resuming where the last call stopped.
RequestParser::Status RequestParser::parse_chunked(std::string_view b) {
  for (;;) {
    switch (phase_) {
      case Phase::kChunkSize: {
        const size_t eol = b.find("\r\n", pos_);
        if (eol == std::string_view::npos) {
          if (b.size() - pos_ > 1024) return fail(400, "chunk size line too long");
          if (b.find('\n', pos_) != std::string_view::npos) return fail(400, "bare LF in a chunk");
          return Status::kIncomplete;
        }
        const std::string_view line = b.substr(pos_, eol - pos_);
        size_t i = 0;
        uint64_t size = 0;
        for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
          if (i >= 15) return fail(400, "chunk size too large");
          size = size * 16 + static_cast<uint64_t>(hex_value(line[i]));
        }
        if (i == 0) return fail(400, "malformed chunk size");
        // Extensions (";name[=value]") are allowed and ignored, but must not hide line breaks.
        const std::string_view ext = line.substr(i);
        if (!ext.empty() && ext.front() != ';' && ext.front() != ' ' && ext.front() != '\t')
          return fail(400, "malformed chunk size");
        if (!std::all_of(ext.begin(), ext.end(), [](char c) { return is_field_char(c); }))
          return fail(400, "control character in a chunk extension");
        if (decoded_.size() + size > limits_.max_body_bytes)
          return fail(413, "request body too large");
        pos_ = eol + 2;
        chunk_left_ = size;
        phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
        break;
      }
      case Phase::kChunkData: {
        const size_t n = std::min<uint64_t>(chunk_left_, b.size() - pos_);
        decoded_.append(b.data() + pos_, n);
        pos_ += n;
        chunk_left_ -= n;
        if (chunk_left_ != 0) return Status::kIncomplete;
        phase_ = Phase::kChunkDataEnd;
        break;
      }
      case Phase::kChunkDataEnd:
        if (b.size() - pos_ < 2) return Status::kIncomplete;
        if (b[pos_] != '\r' || b[pos_ + 1] != '\n')
          return fail(400, "chunk data longer than its size");
        pos_ += 2;
        phase_ = Phase::kChunkSize;
        break;
      case Phase::kTrailer: {
        const size_t eol = b.find("\r\n", pos_);
        if (eol == std::string_view::npos) {
          if (b.find('\n', pos_) != std::string_view::npos) return fail(400, "bare LF in trailers");
          if (b.size() - pos_ + trailer_bytes_ > limits_.max_trailer_bytes)
            return fail(431, "trailer section too large");
          return Status::kIncomplete;
        }
        const std::string_view line = b.substr(pos_, eol - pos_);
        pos_ = eol + 2;
        if (line.empty()) {
          consumed_ = pos_;
          phase_ = Phase::kDone;
          return Status::kComplete;
        }
        trailer_bytes_ += line.size() + 2;
        if (trailer_bytes_ > limits_.max_trailer_bytes)
          return fail(431, "trailer section too large");
        // Trailer fields are checked like header fields and otherwise ignored.
        const size_t colon = line.find(':');
        if (line.find('\r') != std::string_view::npos || colon == std::string_view::npos ||
            !all_tchar(line.substr(0, colon)) ||
            !std::all_of(line.begin() + static_cast<long>(colon) + 1, line.end(),
                         [](char c) { return is_field_char(c); }))
          return fail(400, "malformed trailer field");
        break;
      }
      default:
        return Status::kComplete;
    }
  }
}

void RequestParser::materialize(std::string_view b) {
  auto view = [&](Span s) { return b.substr(s.at, s.len); };
  request_.method = view(method_);
  request_.target = view(target_);
  std::string_view path = request_.target;
  if (path.starts_with("http://") || path.starts_with("https://")) {
    const size_t slash = path.find('/', path.find("//") + 2);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  const size_t q = path.find('?');
  request_.path = path.substr(0, q);
  request_.query = q == std::string_view::npos ? std::string_view() : path.substr(q + 1);
  request_.header_count = header_count_;
  request_.host = {};
  for (size_t i = 0; i < header_count_; ++i) {
    request_.headers[i] = {view(names_[i]), view(values_[i])};
    if (iequals(request_.headers[i].name, "host")) request_.host = request_.headers[i].value;
  }
  request_.body = request_.chunked ? std::string_view(decoded_) : view(body_span_);
}

}  // namespace sluice::http
