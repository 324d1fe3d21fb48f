// The strict HTTP/1.1 request parser: what it accepts, how it frames bodies and pipelined
// requests, incremental input, and every ambiguity it refuses with the status to answer.
#include <gtest/gtest.h>

#include <string>

#include "request_parser.h"
#include "response_writer.h"

namespace sluice::http {
namespace {

using Status = RequestParser::Status;

// Parses `text` fed whole; returns the status.
Status parse_all(RequestParser& p, const std::string& text) {
  return p.parse(text);
}

struct Refusal {
  const char* name;
  std::string request;
  uint16_t status;
};

TEST(HttpParser, SimpleGet) {
  RequestParser p;
  const std::string r =
      "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  t  \r\n\r\n";
  ASSERT_EQ(p.parse(r), Status::kComplete);
  const Request& q = p.request();
  EXPECT_EQ(q.method, "GET");
  EXPECT_EQ(q.target, "/a/b?x=1&y=2");
  EXPECT_EQ(q.path, "/a/b");
  EXPECT_EQ(q.query, "x=1&y=2");
  EXPECT_EQ(q.host, "example.com");
  ASSERT_NE(q.find("user-agent"), nullptr);
  EXPECT_EQ(q.find("USER-AGENT")->value, "t");
  EXPECT_TRUE(q.keep_alive);
  EXPECT_TRUE(q.body.empty());
  EXPECT_EQ(p.consumed(), r.size());
}

TEST(HttpParser, ContentLengthBodyAndPipelining) {
  RequestParser p;
  const std::string first = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  const std::string second = "GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  std::string both = first + second;
  ASSERT_EQ(p.parse(both), Status::kComplete);
  EXPECT_EQ(p.request().body, "hello");
  EXPECT_EQ(p.consumed(), first.size());
  const std::string rest = both.substr(p.consumed());
  p.reset();
  ASSERT_EQ(p.parse(rest), Status::kComplete);
  EXPECT_EQ(p.request().path, "/next");
  EXPECT_FALSE(p.request().keep_alive);
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailers) {
  RequestParser p;
  const std::string r =
      "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\nGET";
  ASSERT_EQ(p.parse(r), Status::kComplete);
  EXPECT_TRUE(p.request().chunked);
  EXPECT_EQ(p.request().body, "hello world");
  EXPECT_EQ(r.substr(p.consumed()), "GET");
}

TEST(HttpParser, ByteAtATimeGivesTheSameRequest) {
  const std::string r =
      "\r\nPUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
      "a\r\n0123456789\r\n0\r\n\r\n";
  RequestParser p;
  std::string buffer;
  bool saw_head = false;
  for (size_t i = 0; i < r.size(); ++i) {
    buffer += r[i];
    const Status s = p.parse(buffer);
    if (i + 1 < r.size()) {
      ASSERT_EQ(s, Status::kIncomplete) << i;
      if (p.head_complete() && !saw_head) {
        saw_head = true;
        // The head alone tells the caller to send 100 Continue.
        EXPECT_EQ(buffer.substr(buffer.size() - 4), "\r\n\r\n");
      }
    } else {
      ASSERT_EQ(s, Status::kComplete);
    }
  }
  EXPECT_TRUE(saw_head);
  EXPECT_TRUE(p.request().expect_continue);
  EXPECT_EQ(p.request().body, "0123456789");
  EXPECT_EQ(p.consumed(), r.size());
}

TEST(HttpParser, ConnectionSemanticsAndForms) {
  RequestParser p;
  ASSERT_EQ(p.parse("GET / HTTP/1.0\r\n\r\n"), Status::kComplete);
  EXPECT_FALSE(p.request().keep_alive) << "HTTP/1.0 closes by default";
  p.reset();
  ASSERT_EQ(p.parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), Status::kComplete);
  EXPECT_TRUE(p.request().keep_alive);
  p.reset();
  ASSERT_EQ(p.parse("GET http://h:8080/p?q HTTP/1.1\r\nHost: h:8080\r\n\r\n"), Status::kComplete);
  EXPECT_EQ(p.request().path, "/p");
  EXPECT_EQ(p.request().query, "q");
  p.reset();
  ASSERT_EQ(p.parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), Status::kComplete);
  p.reset();
  ASSERT_EQ(p.parse("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n"),
            Status::kComplete);
  EXPECT_TRUE(p.request().upgrade);
}

constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";

TEST(HttpParser, RefusesAmbiguityWithTheRightStatus) {
  const std::string long_target(9000, 'a');
  std::string many_headers = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 101; ++i) many_headers += "X-" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const Refusal cases[] = {
      {"CL and TE",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"TE and CL",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"double CL",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
      {"CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400},
      {"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc", 400},
      {"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400},
      {"CL huge", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
       400},
      {"body too large", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"double TE",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400},
      {"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400},
      {"bare LF in a header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400},
      {"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
      {"NUL in a value", std::string(kNulInValue, sizeof kNulInValue - 1), 400},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"bad version", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400},
      {"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"relative target", "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"long target", "GET /" + long_target + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
      {"too many headers", many_headers, 431},
      {"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(17000, 'a') + "\r\n\r\n",
       431},
      {"expectation", "GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417},
      {"chunk longer than its size",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
       400},
      {"chunk size not hex",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk size overflow",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
       400},
      {"chunked too large",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413},
      {"bad trailer",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
       400},
      {"many empty lines", "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
  };
  for (const Refusal& c : cases) {
    RequestParser p;
    EXPECT_EQ(parse_all(p, c.request), Status::kError) << c.name;
    EXPECT_EQ(p.error().status, c.status) << c.name << ": " << p.error().reason;
    EXPECT_FALSE(p.error().reason.empty()) << c.name;
  }
}

TEST(HttpParser, IncompleteUntilTheWholeBody) {
  RequestParser p;
  std::string r = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234";
  EXPECT_EQ(p.parse(r), Status::kIncomplete);
  EXPECT_TRUE(p.head_complete());
  r += "56789";
  EXPECT_EQ(p.parse(r), Status::kComplete);
  EXPECT_EQ(p.request().body, "0123456789");
}

TEST(HttpResponse, WritesStatusHeadersLengthAndClose) {
  std::string out;
  write_response(out, 200, {{"Content-Type", "text/xml"}}, "<a/>", true);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\n<a/>");
  out.clear();
  write_error(out, {431, "too many header fields"});
  EXPECT_EQ(out,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
            "Content-Length: 23\r\nConnection: close\r\n\r\ntoo many header fields\n");
}

}  // namespace
}  // namespace sluice::http
