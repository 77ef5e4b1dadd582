#include "agora/observability/http_message.hpp"

#include <gtest/gtest.h>

#include "agora/observability/json.hpp"

namespace agora::observability {
namespace {

TEST(json_escape, escapes_quotes_backslashes_and_control_characters) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b"), "a\\\"b");
  EXPECT_EQ(json_escape("a\\b"), "a\\\\b");
  EXPECT_EQ(json_escape("l1\nl2\r\t\b\f"), "l1\\nl2\\r\\t\\b\\f");
  EXPECT_EQ(json_escape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(json_escape(std::string("nul\0x", 5)), "nul\\u0000x");
  // UTF-8 passes through unchanged.
  EXPECT_EQ(json_escape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(json_quote("say \"hi\""), "\"say \\\"hi\\\"\"");
}

TEST(url_decode, decodes_percent_escapes_and_plus) {
  EXPECT_EQ(url_decode("a%20b+c"), "a b c");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
  EXPECT_EQ(url_decode("%2Fx%2fy"), "/x/y");
  // Malformed escapes are kept as they are.
  EXPECT_EQ(url_decode("100%"), "100%");
  EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
}

TEST(http_request, param_returns_decoded_values_or_fallback) {
  http_request req;
  req.query = "a=1&b=hello%20world&c=x+y&flag&empty=&a=2&na%6De=v";
  EXPECT_EQ(req.param("a"), "1");  // The first occurrence wins.
  EXPECT_EQ(req.param("b"), "hello world");
  EXPECT_EQ(req.param("c"), "x y");
  EXPECT_EQ(req.param("flag", "fb"), "");
  EXPECT_EQ(req.param("empty", "fb"), "");
  EXPECT_EQ(req.param("name"), "v");  // Names are decoded too.
  EXPECT_EQ(req.param("missing", "fallback"), "fallback");
  EXPECT_EQ(req.param("missing"), "");
  EXPECT_TRUE(req.has_param("flag"));
  EXPECT_FALSE(req.has_param("missing"));
}

TEST(http_request, param_on_empty_or_odd_queries) {
  http_request req;
  EXPECT_EQ(req.param("a", "z"), "z");
  req.query = "&&a=1&&";
  EXPECT_EQ(req.param("a"), "1");
  req.query = "a=b=c";
  EXPECT_EQ(req.param("a"), "b=c");
}

TEST(http_response, factories_set_status_type_and_body) {
  auto j = http_response::json("{\"x\": 1}", 201);
  EXPECT_EQ(j.status, 201);
  EXPECT_EQ(j.content_type, "application/json");
  EXPECT_EQ(j.body, "{\"x\": 1}");

  auto t = http_response::text("up 1\n");
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(t.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(t.body, "up 1\n");

  auto e = http_response::error(404, "no \"such\" path\n");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.content_type, "application/json");
  EXPECT_EQ(e.body, "{\"error\": \"no \\\"such\\\" path\\n\", \"status\": 404}");
}

}  // namespace
}  // namespace agora::observability
