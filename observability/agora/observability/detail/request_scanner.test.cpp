#include "agora/observability/detail/request_scanner.hpp"

#include <string>

#include <gtest/gtest.h>

namespace agora::observability::detail {
namespace {

// Small limits keep the arithmetic readable: heads of at most 64 bytes,
// bodies of at most 10 bytes.
request_scanner scanner() { return request_scanner(64, 10); }

// Feeds `request` one byte at a time; returns the state after each byte
// but the last, which must all be `incomplete`, and then the final state.
request_state trickle(request_scanner& s, const std::string& request) {
  std::string data;
  for (std::size_t i = 0; i + 1 < request.size(); ++i) {
    data += request[i];
    auto state = s.scan(data);
    if (state != request_state::incomplete) {
      ADD_FAILURE() << "not incomplete after " << data.size() << " bytes";
      return state;
    }
  }
  return s.scan(request);
}

TEST(request_scanner, a_head_is_complete_at_its_empty_line_even_when_trickled) {
  auto s = scanner();
  EXPECT_EQ(trickle(s, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), request_state::complete);
  EXPECT_EQ(s.head_size(), 33u);
  EXPECT_FALSE(s.expects_continue());
  auto bare = scanner();
  EXPECT_EQ(trickle(bare, "GET / HTTP/1.0\n\n"), request_state::complete);
}

TEST(request_scanner, a_content_length_body_completes_the_request) {
  auto s = scanner();
  // A 35-byte head and a 5-byte body.
  EXPECT_EQ(trickle(s, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            request_state::complete);
  auto empty = scanner();
  EXPECT_EQ(empty.scan("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), request_state::complete);
}

TEST(request_scanner, expect_100_continue_is_reported_when_a_body_is_due) {
  auto s = scanner();
  EXPECT_EQ(s.scan("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"),
            request_state::incomplete);
  EXPECT_TRUE(s.expects_continue());
  auto no_body = scanner();
  EXPECT_EQ(no_body.scan("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"),
            request_state::complete);
  EXPECT_FALSE(no_body.expects_continue());
  auto other = scanner();
  EXPECT_EQ(other.scan("PUT /x HTTP/1.1\r\nExpect: magic\r\nContent-Length: 3\r\n\r\n"),
            request_state::pass_through);
}

TEST(request_scanner, a_chunked_body_ends_after_its_last_chunk_and_trailer) {
  auto s = scanner();
  EXPECT_EQ(trickle(s,
                    "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n"),
            request_state::complete);
}

TEST(request_scanner, a_chunked_body_over_the_limit_is_too_large) {
  auto s = scanner();
  // 6 + 6 = 12 decoded bytes > 10.
  EXPECT_EQ(s.scan("POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "6\r\nabcdef\r\n6\r\n"),
            request_state::too_large);
}

TEST(request_scanner, framing_it_does_not_judge_passes_through) {
  auto s = scanner;
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nContent-Length: 11\r\n\r\n"),
            request_state::pass_through);  // The server answers 413 at once.
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            request_state::pass_through);
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            request_state::pass_through);
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            request_state::pass_through);
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            request_state::pass_through);
  EXPECT_EQ(s().scan(std::string("GET /\0", 6)), request_state::pass_through);
  EXPECT_EQ(s().scan("GET / HTTP/1.1\r\n x: folded\r\n\r\n"), request_state::pass_through);
  EXPECT_EQ(s().scan("POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            request_state::pass_through);
  // No empty line within 64 bytes.
  EXPECT_EQ(s().scan("GET /" + std::string(70, 'a')), request_state::pass_through);
}

TEST(request_scanner, a_post_without_length_waits_for_the_end_of_input) {
  auto s = scanner();
  const std::string head = "POST /e HTTP/1.0\r\n\r\n";
  EXPECT_EQ(s.scan(head + "0123456789"), request_state::incomplete);
  EXPECT_EQ(s.scan(head + "0123456789x"), request_state::too_large);
}

TEST(request_scanner, a_finished_scan_keeps_its_answer) {
  auto s = scanner();
  EXPECT_EQ(s.scan("GET / HTTP/1.1\r\n\r\n"), request_state::complete);
  EXPECT_EQ(s.scan("GET / HTTP/1.1\r\n\r\nextra"), request_state::complete);
}

}  // namespace
}  // namespace agora::observability::detail
