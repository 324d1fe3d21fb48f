// The strict HTTP/1.1 response parser the proxy relays targets' responses with: the heads it
// accepts and the framing it decides on, every head and chunked framing it refuses, bodies
// relayed as they arrive in any split, pipelined responses back to back, interim and upgrade
// responses, and the limits.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "response_parser.h"

namespace sluice::http {
namespace {

using Status = ResponseParser::Status;
using namespace std::string_literals;

// One response as a proxy relays it: its head, the body bytes the parser said belong to it.
struct Relayed {
  uint16_t status = 0;
  std::string reason;
  std::string head;
  std::string body;
  bool done = false;  // body_done() when it ended (or when the input ran out)
  bool keep_alive = false, chunked = false, until_close = false, no_body = false;
  bool operator==(const Relayed&) const = default;
};

struct Relay {
  std::vector<Relayed> responses;
  std::string leftover;  // bytes of an unfinished head when the input ran out
  bool error = false;
  std::string error_reason;
  bool operator==(const Relay&) const = default;
};

// Feeds `stream` to a parser in pieces of the sizes given (cycled; empty: whole) the way the
// proxy does: the head from a buffer that grows until it is whole, then each piece's body bytes
// through consume_body, and what is left over to the next response's head.
Relay relay(const std::string& stream, const std::vector<size_t>& pieces, bool head_request,
            const Limits& limits = {}) {
  Relay out;
  ResponseParser p(limits);
  p.reset(head_request);
  std::string buffer;  // the current head so far
  bool in_body = false;
  Relayed cur;
  auto finish = [&] {
    cur.done = p.body_done();
    out.responses.push_back(cur);
    cur = {};
    in_body = false;
    p.reset(head_request);
  };
  size_t at = 0;
  for (size_t k = 0; at < stream.size(); ++k) {
    const size_t n =
        pieces.empty() ? stream.size() : std::min(pieces[k % pieces.size()], stream.size() - at);
    std::string data = stream.substr(at, n);
    at += n;
    while (!data.empty()) {
      if (!in_body) {
        buffer += data;
        data.clear();
        const Status s = p.parse_head(buffer);
        if (s == Status::kError) {
          out.error = true;
          out.error_reason = std::string(p.error().reason);
          EXPECT_EQ(p.error().status, 502);
          return out;
        }
        if (s == Status::kIncomplete) break;
        const Response& r = p.response();
        cur.status = r.status;
        cur.reason = std::string(r.reason);
        cur.keep_alive = r.keep_alive;
        cur.chunked = r.chunked;
        cur.until_close = r.until_close;
        cur.no_body = r.no_body;
        cur.head = buffer.substr(0, p.head_size());
        data = buffer.substr(p.head_size());
        buffer.clear();
        in_body = true;
        if (p.body_done()) {
          finish();
          continue;
        }
      }
      const size_t used = p.consume_body(data);
      if (used == ResponseParser::kBodyError) {
        out.error = true;
        out.error_reason = std::string(p.error().reason);
        EXPECT_EQ(p.error().status, 502);
        return out;
      }
      EXPECT_LE(used, data.size());
      cur.body += data.substr(0, used);
      data.erase(0, used);
      if (p.body_done()) finish();
    }
  }
  if (in_body) {
    cur.done = p.body_done();
    out.responses.push_back(cur);
  }
  out.leftover = buffer;
  return out;
}

std::vector<size_t> ones() {
  return {1};
}

// ---------------------------------------------------------------------------------------------
// Heads and the framing decided from them.

struct ValidHead {
  const char* name;
  std::string head;
  bool head_request;
  uint16_t status;
  Version version;
  bool keep_alive, chunked, has_content_length;
  uint64_t content_length;
  bool until_close, no_body, upgrade, body_done;
};

TEST(HttpResponseParser, ValidHeadsAndTheirFraming) {
  constexpr auto k10 = Version::kHttp10;
  constexpr auto k11 = Version::kHttp11;
  const ValidHead cases[] = {
      // name, head, HEAD?, status, version, keep_alive, chunked, has_cl, cl, until_close,
      // no_body, upgrade, body_done
      {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, 200, k11, true,
       false, true, 5, false, false, false, false},
      {"no length: until close", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", false, 200, k11, false,
       false, false, 0, true, false, false, false},
      {"zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, k11, true, false,
       true, 0, false, false, false, true},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 200, k11, true,
       true, false, 0, false, false, false, false},
      {"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", false,
       200, k11, true, true, false, 0, false, false, false, false},
      {"codings over two fields",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", false,
       200, k11, true, true, false, 0, false, false, false, false},
      {"final coding not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, 200,
       k11, false, false, false, 0, true, false, false, false},
      {"connection close", "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\n",
       false, 200, k11, false, false, true, 2, false, false, false, false},
      {"close among tokens",
       "HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 2\r\n\r\n", false, 200, k11,
       false, false, true, 2, false, false, false, false},
      {"http/1.0 keep-alive",
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false, 200, k10,
       true, false, true, 1, false, false, false, false},
      {"http/1.0 default close", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, 200, k10,
       false, false, true, 1, false, false, false, false},
      {"http/1.0 until close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false, 200, k10,
       false, false, false, 0, true, false, false, false},
      {"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
       false, 200, k11, true, false, true, 7, false, false, false, false},
      {"same length in a list", "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", false, 200, k11,
       true, false, true, 7, false, false, false, false},
      {"204 ignores its length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false,
       204, k11, true, false, true, 10, false, true, false, true},
      {"304 with the entity's length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
       false, 304, k11, true, false, true, 1234, false, true, false, true},
      {"304 without length", "HTTP/1.1 304 Not Modified\r\n\r\n", false, 304, k11, true, false,
       false, 0, false, true, false, true},
      {"HEAD with a length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true, 200, k11,
       true, false, true, 1000, false, true, false, true},
      {"HEAD with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, 200, k11,
       true, false, false, 0, false, true, false, true},
      {"HEAD without length", "HTTP/1.1 200 OK\r\n\r\n", true, 200, k11, true, false, false, 0,
       false, true, false, true},
      {"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", false, 100, k11, true, false, false, 0,
       false, true, false, true},
      {"103 early hints", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", false,
       103, k11, true, false, false, 0, false, true, false, true},
      {"101 upgrade",
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       false, 101, k11, false, false, false, 0, false, true, true, true},
      {"empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, 200, k11, true, false,
       true, 0, false, false, false, true},
      {"no reason, no space", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, 200, k11, true,
       false, true, 0, false, false, false, true},
      {"lowest status", "HTTP/1.1 100 x\r\n\r\n", false, 100, k11, true, false, false, 0, false,
       true, false, true},
      {"highest status", "HTTP/1.1 599 Whatever\r\nContent-Length: 0\r\n\r\n", false, 599, k11,
       true, false, true, 0, false, false, false, true},
      {"empty header value", "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", false, 200,
       k11, true, false, true, 0, false, false, false, true},
      {"empty list elements in TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n",
       false, 200, k11, true, true, false, 0, false, false, false, false},
  };
  for (const ValidHead& c : cases) {
    SCOPED_TRACE(c.name);
    ResponseParser p;
    p.reset(c.head_request);
    ASSERT_EQ(p.parse_head(c.head), Status::kHead) << p.error().reason;
    const Response& r = p.response();
    EXPECT_EQ(p.head_size(), c.head.size());
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.version, c.version);
    EXPECT_EQ(r.keep_alive, c.keep_alive);
    EXPECT_EQ(r.chunked, c.chunked);
    EXPECT_EQ(r.has_content_length, c.has_content_length);
    EXPECT_EQ(r.content_length, c.content_length);
    EXPECT_EQ(r.until_close, c.until_close);
    EXPECT_EQ(r.no_body, c.no_body);
    EXPECT_EQ(r.upgrade, c.upgrade);
    EXPECT_EQ(p.body_done(), c.body_done);
    // The same head fed a byte at a time decides the same.
    ResponseParser q;
    q.reset(c.head_request);
    std::string grown;
    for (size_t i = 0; i + 1 < c.head.size(); ++i) {
      grown += c.head[i];
      ASSERT_EQ(q.parse_head(grown), Status::kIncomplete) << "at byte " << i;
    }
    grown += c.head.back();
    ASSERT_EQ(q.parse_head(grown), Status::kHead);
    EXPECT_EQ(q.response().keep_alive, c.keep_alive);
    EXPECT_EQ(q.response().chunked, c.chunked);
    EXPECT_EQ(q.response().content_length, c.content_length);
    EXPECT_EQ(q.head_size(), c.head.size());
  }
}

TEST(HttpResponseParser, HeadFieldsAreViewsIntoTheBuffer) {
  ResponseParser p;
  p.reset();
  std::string b =
      "HTTP/1.1 404 Not  Found\r\nServer:   nginx/1.25 \r\nX-Obs: caf\xc3\xa9\r\n"
      "Content-Length: 3\r\n\r\nabc";
  ASSERT_EQ(p.parse_head(b), Status::kHead);
  const Response& r = p.response();
  EXPECT_EQ(r.reason, "Not  Found");
  ASSERT_EQ(r.header_count, 3u);
  EXPECT_EQ(r.headers[0].name, "Server");
  EXPECT_EQ(r.headers[0].value, "nginx/1.25");
  ASSERT_NE(r.find("x-obs"), nullptr);
  EXPECT_EQ(r.find("X-OBS")->value, "caf\xc3\xa9");
  EXPECT_EQ(r.find("missing"), nullptr);
  EXPECT_GE(r.reason.data(), b.data());
  EXPECT_LT(r.reason.data(), b.data() + b.size());
  EXPECT_EQ(p.head_size(), b.size() - 3);
  // The buffer moved: asked again, the parser points into the new one.
  const std::string moved = b;
  b.assign(b.size(), 'x');
  ASSERT_EQ(p.parse_head(moved), Status::kHead);
  EXPECT_EQ(p.response().find("server")->value, "nginx/1.25");
  EXPECT_EQ(p.response().reason.data(), moved.data() + 13);
}

TEST(HttpResponseParser, BufferThatReallocatesWhileTheHeadArrives) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n";
  ResponseParser p;
  p.reset();
  std::string buffer;
  Status s = Status::kIncomplete;
  for (size_t i = 0; i < head.size(); ++i) {
    buffer += head[i];
    buffer.shrink_to_fit();  // a new allocation each time, as far as the library lets it
    s = p.parse_head(buffer);
  }
  ASSERT_EQ(s, Status::kHead);
  EXPECT_EQ(p.response().find("content-type")->value, "text/plain");
  EXPECT_EQ(p.response().reason, "OK");
}

struct InvalidHead {
  const char* name;
  std::string head;
  bool head_request = false;
};

TEST(HttpResponseParser, RefusesMalformedHeadsWith502) {
  std::string many_headers = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 101; ++i) many_headers += "X-" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const std::string too_large =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(17 * 1024, 'a') + "\r\n\r\n";
  const InvalidHead cases[] = {
      {"bare LF in a header", "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n"},
      {"bare LF ending the head", "HTTP/1.1 200 OK\r\nA: b\n\n"},
      {"bare LF ending the status line", "HTTP/1.1 200 OK\nA: b\r\n\r\n"},
      {"bare CR in a header", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"},
      {"obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n"},
      {"obs-fold with a tab", "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n"},
      {"whitespace before the first header", "HTTP/1.1 200 OK\r\n A: b\r\n\r\n"},
      {"whitespace before a colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n"},
      {"empty header name", "HTTP/1.1 200 OK\r\n: b\r\n\r\n"},
      {"header without a colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"},
      {"control character in a value", "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n"s},
      {"DEL in a value", "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n"},
      {"control character in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
      {"status below 100", "HTTP/1.1 099 Low\r\n\r\n"},
      {"status above 599", "HTTP/1.1 600 High\r\n\r\n"},
      {"status 000", "HTTP/1.1 000 Zero\r\n\r\n"},
      {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
      {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
      {"status glued to reason", "HTTP/1.1 200OK\r\n\r\n"},
      {"letters in status", "HTTP/1.1 2x0 OK\r\n\r\n"},
      {"two spaces after version", "HTTP/1.1  200 OK\r\n\r\n"},
      {"no space after version", "HTTP/1.1200 OK\r\n\r\n"},
      {"lowercase protocol", "http/1.1 200 OK\r\n\r\n"},
      {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"},
      {"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"},
      {"malformed version", "HTTP/1x1 200 OK\r\n\r\n"},
      {"short version", "HTTP/1 200 OK\r\n\r\n"},
      {"status line only the version", "HTTP/1.1\r\n\r\n"},
      {"empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n"},
      {"not HTTP at all", "SSH-2.0-OpenSSH_9.0\r\n\r\n"},
      {"HTTP/0.9 style body", "<html></html>"},
      {"Transfer-Encoding with Content-Length",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
      {"Content-Length before Transfer-Encoding",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"TE and CL on a 204",
       "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"TE and CL answering HEAD",
       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", true},
      {"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
      {"differing lengths in a list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"},
      {"empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
      {"empty element in a length list", "HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n"},
      {"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"},
      {"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
      {"hex length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"},
      {"length with inner space", "HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\n"},
      {"length over 19 digits", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"},
      {"chunked not final", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
      {"chunked not final over two fields",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
      {"chunked with parameters", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"},
      {"malformed coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"},
      {"empty Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"},
      {"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"too many headers", many_headers},
      {"head too large", too_large},
  };
  for (const InvalidHead& c : cases) {
    SCOPED_TRACE(c.name);
    ResponseParser p;
    p.reset(c.head_request);
    ASSERT_EQ(p.parse_head(c.head), Status::kError);
    EXPECT_EQ(p.error().status, 502);
    EXPECT_FALSE(p.error().reason.empty());
    // Once refused, it stays refused; the body is refused too.
    EXPECT_EQ(p.parse_head(c.head), Status::kError);
    EXPECT_EQ(p.consume_body("x"), ResponseParser::kBodyError);
    // Fed a byte at a time it is refused for the same reason, never accepted on the way.
    const Relay bytes = relay(c.head, ones(), c.head_request);
    EXPECT_TRUE(bytes.error);
    EXPECT_EQ(bytes.error_reason, p.error().reason);
    EXPECT_TRUE(bytes.responses.empty());
  }
}

TEST(HttpResponseParser, RefusesGarbageBeforeTheHeadIsWhole) {
  ResponseParser p;
  p.reset();
  EXPECT_EQ(p.parse_head("HTT"), Status::kIncomplete);
  EXPECT_EQ(p.parse_head("HTTX"), Status::kError);
  p.reset();
  EXPECT_EQ(p.parse_head("HTTP/1.1 200 OK\r\nA: b\r"), Status::kIncomplete);
  EXPECT_EQ(p.parse_head("HTTP/1.1 200 OK\r\nA: b\rX"), Status::kError);
  EXPECT_EQ(p.error().reason, "bare CR in the response head");
}

TEST(HttpResponseParser, HeadAndHeaderLimits) {
  const std::string head = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n";
  Limits exact;
  exact.max_head_bytes = head.size();
  ResponseParser fits(exact);
  fits.reset();
  EXPECT_EQ(fits.parse_head(head + "HTTP/1.1 200 OK\r\n"), Status::kHead);
  Limits one_less = exact;
  one_less.max_head_bytes = head.size() - 1;
  ResponseParser over(one_less);
  over.reset();
  EXPECT_EQ(over.parse_head(head), Status::kError);
  EXPECT_EQ(over.error().reason, "response head too large");
  // A head over the limit is refused as soon as the limit is passed, not when it ends.
  ResponseParser early(one_less);
  early.reset();
  EXPECT_EQ(early.parse_head(head.substr(0, head.size() - 1)), Status::kError);

  Limits four;
  four.max_headers = 4;
  ResponseParser p4(four);
  p4.reset();
  EXPECT_EQ(p4.parse_head(head), Status::kHead);
  Limits three;
  three.max_headers = 3;
  ResponseParser p3(three);
  p3.reset();
  EXPECT_EQ(p3.parse_head(head), Status::kError);
  EXPECT_EQ(p3.error().reason, "too many response header fields");
}

// ---------------------------------------------------------------------------------------------
// Bodies.

TEST(HttpResponseParser, ContentLengthBodyStopsAtItsLength) {
  ResponseParser p;
  p.reset();
  const std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
  ASSERT_EQ(p.parse_head(b), Status::kHead);
  EXPECT_EQ(p.consume_body(std::string_view(b).substr(p.head_size())), 4u);
  EXPECT_FALSE(p.body_done());
  EXPECT_EQ(p.consume_body(""), 0u);
  EXPECT_EQ(p.consume_body("45678"), 5u);
  EXPECT_FALSE(p.body_done());
  EXPECT_EQ(p.consume_body("9HTTP/1.1 200 OK\r\n"), 1u);
  EXPECT_TRUE(p.body_done());
  EXPECT_EQ(p.consume_body("more"), 0u);
}

TEST(HttpResponseParser, ChunkedBodyIsRelayedAsIsWithExtensionsAndTrailers) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body =
      "5;name=value;quoted=\"a b\"\r\nhello\r\n"
      "1A \t; ext\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0000000000000000000000000003\r\nxyz\r\n"
      "0;last\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n";
  const std::string next = "HTTP/1.1 204 No Content\r\n\r\n";
  ResponseParser p;
  p.reset();
  const std::string all = head + body + next;
  ASSERT_EQ(p.parse_head(all), Status::kHead);
  EXPECT_TRUE(p.response().chunked);
  EXPECT_EQ(p.consume_body(std::string_view(all).substr(p.head_size())), body.size());
  EXPECT_TRUE(p.body_done());
  EXPECT_EQ(p.consume_body(next), 0u);

  const Relay whole = relay(all, {}, false);
  ASSERT_FALSE(whole.error) << whole.error_reason;
  ASSERT_EQ(whole.responses.size(), 2u);
  EXPECT_EQ(whole.responses[0].body, body);
  EXPECT_TRUE(whole.responses[0].done);
  EXPECT_EQ(whole.responses[1].status, 204);
  EXPECT_EQ(relay(all, ones(), false), whole);
}

TEST(HttpResponseParser, EmptyChunkedBody) {
  const Relay r =
      relay("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ones(), false);
  ASSERT_FALSE(r.error) << r.error_reason;
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].body, "0\r\n\r\n");
  EXPECT_TRUE(r.responses[0].done);
}

struct BadChunked {
  const char* name;
  std::string body;
};

TEST(HttpResponseParser, RefusesMalformedChunkedFraming) {
  const BadChunked cases[] = {
      {"no size", "\r\nhello\r\n0\r\n\r\n"},
      {"extension without a size", ";x\r\n"},
      {"non-hex size", "g\r\n"},
      {"signed size", "+5\r\nhello\r\n"},
      {"0x prefix", "0x5\r\nhello\r\n"},
      {"size overflowing 64 bits", "10000000000000000\r\n"},
      {"huge size overflowing 64 bits", "FFFFFFFFFFFFFFFFFFFFFFFF\r\n"},
      {"bare LF after the size", "5\nhello\r\n0\r\n\r\n"},
      {"bare CR after the size", "5\rhello\r\n0\r\n\r\n"},
      {"whitespace then no extension", "5 x\r\nhello\r\n"},
      {"trailing whitespace without extension", "5 \r\nhello\r\n"},
      {"control character in an extension", "5;a=\x01\r\nhello\r\n"},
      {"bare LF in an extension", "5;a\nb\r\nhello\r\n"},
      {"chunk-size line too long", "5;" + std::string(2000, 'a') + "\r\nhello\r\n"},
      {"leading zeros past the line limit", std::string(1100, '0') + "5\r\nhello\r\n"},
      {"data longer than its size", "5\r\nhelloX\r\n0\r\n\r\n"},
      {"LF right after data", "5\r\nhello\n0\r\n\r\n"},
      {"CR not followed by LF after data", "5\r\nhello\rX0\r\n\r\n"},
      {"trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n"},
      {"trailer starting with whitespace", "0\r\n A: b\r\n\r\n"},
      {"trailer whitespace before colon", "0\r\nA : b\r\n\r\n"},
      {"trailer without colon", "0\r\nNoColon\r\n\r\n"},
      {"trailer control character", "0\r\nA: b\x01\r\n\r\n"},
      {"trailer bare LF", "0\r\nA: b\n\r\n"},
      {"trailer bare CR", "0\r\nA: b\rc\r\n\r\n"},
      {"bare LF ending the trailers", "0\r\n\n"},
      {"bare CR ending the trailers", "0\r\n\rX"},
      {"trailer section too large", "0\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n"},
  };
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const BadChunked& c : cases) {
    SCOPED_TRACE(c.name);
    const Relay whole = relay(head + c.body, {}, false);
    EXPECT_TRUE(whole.error);
    EXPECT_FALSE(whole.error_reason.empty());
    const Relay bytes = relay(head + c.body, ones(), false);
    EXPECT_TRUE(bytes.error);
    EXPECT_EQ(bytes.error_reason, whole.error_reason);
  }
}

TEST(HttpResponseParser, LargestChunkSizeIsTrackedWithoutOverflow) {
  ResponseParser p;
  p.reset();
  ASSERT_EQ(p.parse_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Status::kHead);
  EXPECT_EQ(p.consume_body("FFFFFFFFFFFFFFFF\r\n"), 18u);
  EXPECT_EQ(p.consume_body(std::string(4096, 'x')), 4096u);
  EXPECT_FALSE(p.body_done());
}

TEST(HttpResponseParser, TrailerLimit) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string trailer = "A: " + std::string(20, 'b') + "\r\n";  // 25 bytes
  Limits fits;
  fits.max_trailer_bytes = trailer.size();
  const Relay ok = relay(head + "0\r\n" + trailer + "\r\n", ones(), false, fits);
  ASSERT_FALSE(ok.error) << ok.error_reason;
  EXPECT_TRUE(ok.responses.at(0).done);
  Limits tight;
  tight.max_trailer_bytes = trailer.size() - 1;
  const Relay over = relay(head + "0\r\n" + trailer + "\r\n", ones(), false, tight);
  EXPECT_TRUE(over.error);
  EXPECT_EQ(over.error_reason, "trailer section too large");
}

TEST(HttpResponseParser, UntilCloseTakesEverything) {
  ResponseParser p;
  p.reset();
  ASSERT_EQ(p.parse_head("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"), Status::kHead);
  EXPECT_TRUE(p.response().until_close);
  EXPECT_FALSE(p.response().keep_alive);
  EXPECT_FALSE(p.body_done());
  EXPECT_EQ(p.consume_body("HTTP/1.1 200 OK\r\n\r\n"), 19u);
  EXPECT_EQ(p.consume_body(std::string(100000, '\n')), 100000u);
  EXPECT_FALSE(p.body_done());
}

TEST(HttpResponseParser, HeadResponseWithContentLengthHasNoBody) {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  const std::string second = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const Relay r = relay(first + second, ones(), true);
  ASSERT_FALSE(r.error) << r.error_reason;
  ASSERT_EQ(r.responses.size(), 2u);
  for (const Relayed& x : r.responses) {
    EXPECT_TRUE(x.no_body);
    EXPECT_TRUE(x.body.empty());
    EXPECT_TRUE(x.done);
  }
  EXPECT_EQ(r.responses[0].head, first);
  EXPECT_EQ(r.responses[1].head, second);
}

TEST(HttpResponseParser, InterimContinueThenFinalResponse) {
  const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string final_head = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n";
  const std::string all = cont + final_head + "ok";
  ResponseParser p;
  p.reset();
  ASSERT_EQ(p.parse_head(all), Status::kHead);
  EXPECT_EQ(p.response().status, 100);
  EXPECT_TRUE(p.response().no_body);
  EXPECT_TRUE(p.body_done());
  EXPECT_EQ(p.head_size(), cont.size());
  EXPECT_EQ(p.consume_body(std::string_view(all).substr(p.head_size())), 0u);
  p.reset();
  const std::string_view rest = std::string_view(all).substr(cont.size());
  ASSERT_EQ(p.parse_head(rest), Status::kHead);
  EXPECT_EQ(p.response().status, 201);
  EXPECT_EQ(p.consume_body(rest.substr(p.head_size())), 2u);
  EXPECT_TRUE(p.body_done());

  const Relay r = relay(all, ones(), false);
  ASSERT_EQ(r.responses.size(), 2u);
  EXPECT_EQ(r.responses[0].status, 100);
  EXPECT_EQ(r.responses[1].status, 201);
  EXPECT_EQ(r.responses[1].body, "ok");
}

TEST(HttpResponseParser, SwitchingProtocolsLeavesTheRestToTheTunnel) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  const std::string frames = "\x81\x05hello";
  ResponseParser p;
  p.reset();
  ASSERT_EQ(p.parse_head(head + frames), Status::kHead);
  EXPECT_TRUE(p.response().upgrade);
  EXPECT_FALSE(p.response().keep_alive);
  EXPECT_TRUE(p.body_done());
  EXPECT_EQ(p.head_size(), head.size());
  EXPECT_EQ(p.consume_body(frames), 0u);
}

TEST(HttpResponseParser, BodyBeforeHeadIsRefused) {
  ResponseParser p;
  p.reset();
  EXPECT_EQ(p.consume_body("abc"), ResponseParser::kBodyError);
  EXPECT_EQ(p.error().status, 502);
}

// ---------------------------------------------------------------------------------------------
// Pipelined responses, split anywhere.

// Several responses back to back as a keep-alive target sends them, the last one delimited by
// the close.
std::string pipelined_stream() {
  return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
         "HTTP/1.1 100 Continue\r\n\r\n"
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n"
         "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
         "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n\r\n\r"
         "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nrest\r\n\r\nof it";
}

TEST(HttpResponseParser, PipelinedResponsesBackToBack) {
  const std::string s = pipelined_stream();
  const Relay r = relay(s, {}, false);
  ASSERT_FALSE(r.error) << r.error_reason;
  ASSERT_EQ(r.responses.size(), 8u);
  const uint16_t statuses[] = {200, 100, 200, 204, 304, 200, 200, 500};
  std::string rebuilt;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(r.responses[i].status, statuses[i]);
    EXPECT_EQ(r.responses[i].done, i != 7) << i;
    rebuilt += r.responses[i].head + r.responses[i].body;
  }
  EXPECT_EQ(rebuilt, s);  // every byte relayed exactly once, in order
  EXPECT_EQ(r.responses[0].body, "hello");
  EXPECT_TRUE(r.responses[2].chunked);
  EXPECT_EQ(r.responses[2].body, "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n");
  EXPECT_EQ(r.responses[6].body, "\r\n\r");
  EXPECT_TRUE(r.responses[7].until_close);
  EXPECT_EQ(r.responses[7].body, "rest\r\n\r\nof it");
  EXPECT_TRUE(r.leftover.empty());
}

TEST(HttpResponseParser, EverySplitGivesTheSameResult) {
  const std::string s = pipelined_stream();
  const Relay whole = relay(s, {}, false);
  EXPECT_EQ(relay(s, ones(), false), whole);
  // Every single cut point.
  for (size_t cut = 1; cut < s.size(); ++cut) {
    EXPECT_EQ(relay(s, {cut, s.size()}, false), whole) << "cut at " << cut;
  }
  // Random splits, seeded so that a failure repeats.
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    std::vector<size_t> pieces;
    for (int k = 0; k < 16; ++k) pieces.push_back(1 + rng() % 40);
    EXPECT_EQ(relay(s, pieces, false), whole) << "round " << round;
  }
}

TEST(HttpResponseParser, IncompleteBodyEndsUnfinished) {
  const std::string s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
  const Relay r = relay(s, ones(), false);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_FALSE(r.responses[0].done);
  EXPECT_EQ(r.responses[0].body, "5\r\nhel");
  const Relay head_only = relay("HTTP/1.1 200 OK\r\nContent-Le", ones(), false);
  EXPECT_TRUE(head_only.responses.empty());
  EXPECT_EQ(head_only.leftover, "HTTP/1.1 200 OK\r\nContent-Le");
}

}  // namespace
}  // namespace sluice::http
