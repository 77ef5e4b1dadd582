#include "agora/zk/zk_url.hpp"

#include <gtest/gtest.h>

#include "agora/zk/path.hpp"

namespace agora::zk {
namespace {

// Returns the parse error's message ("" when the URL parses).
std::string error_of(std::string_view text) {
  auto parsed = zk_url::parse(text);
  if (parsed) return "";
  EXPECT_EQ(parsed.code(), errc::invalid_argument) << parsed.err().message;
  return parsed.err().message;
}

TEST(zk_url, parses_one_server) {
  auto url = zk_url::parse("zk://127.0.0.1:2181/agora");
  ASSERT_TRUE(url.ok()) << url.err().message;
  EXPECT_EQ(url.value().connect_string, "127.0.0.1:2181");
  EXPECT_EQ(url.value().root, "/agora");
  ASSERT_EQ(url.value().servers.size(), 1u);
  EXPECT_EQ(url.value().servers[0].host, "127.0.0.1");
  EXPECT_EQ(url.value().servers[0].port, 2181);
  EXPECT_EQ(url.value().to_string(), "zk://127.0.0.1:2181/agora");
}

TEST(zk_url, parses_an_ensemble_and_a_deep_root) {
  auto url = zk_url::parse("zk://zk1.example.com:2181,zk2:2182,[::1]:2183/agora/prod-1/x_y");
  ASSERT_TRUE(url.ok()) << url.err().message;
  EXPECT_EQ(url.value().connect_string, "zk1.example.com:2181,zk2:2182,[::1]:2183");
  EXPECT_EQ(url.value().root, "/agora/prod-1/x_y");
  ASSERT_EQ(url.value().servers.size(), 3u);
  EXPECT_EQ(url.value().servers[2].host, "[::1]");
  EXPECT_EQ(url.value().servers[2].port, 2183);
  EXPECT_EQ(url.value().servers[1].port, 2182);
}

TEST(zk_url, accepts_ports_at_the_range_ends_and_utf8_paths) {
  EXPECT_TRUE(zk_url::parse("zk://h:1/a").ok());
  EXPECT_TRUE(zk_url::parse("zk://h:65535/a").ok());
  EXPECT_TRUE(zk_url::parse("zk://h:2181/clusters/\xC3\xA9t\xC3\xA9").ok());  // "été"
  EXPECT_TRUE(zk_url::parse("zk://h:2181/a/.hidden/..x").ok());
}

TEST(zk_url, rejects_a_missing_or_wrong_scheme) {
  EXPECT_NE(error_of("127.0.0.1:2181/agora").find("must start with zk://"), std::string::npos);
  EXPECT_NE(error_of("http://h:1/agora").find("must start with zk://"), std::string::npos);
  EXPECT_NE(error_of("zk:/h:1/agora").find("must start with zk://"), std::string::npos);
  EXPECT_NE(error_of("").find("must start with zk://"), std::string::npos);
}

TEST(zk_url, rejects_empty_hosts) {
  EXPECT_NE(error_of("zk:///agora").find("empty host list"), std::string::npos);
  EXPECT_NE(error_of("zk://").find("empty host list"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1,,h:2/agora").find("empty entry"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1,/agora").find("empty entry"), std::string::npos);
  EXPECT_NE(error_of("zk://:2181/agora").find("empty host"), std::string::npos);
  EXPECT_NE(error_of("zk://[]:2181/agora").find("empty IPv6"), std::string::npos);
}

TEST(zk_url, rejects_bad_ports) {
  EXPECT_NE(error_of("zk://h/agora").find("missing port for host 'h'"), std::string::npos);
  EXPECT_NE(error_of("zk://h:/agora").find("missing port"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1,h2/agora").find("missing port for host 'h2'"), std::string::npos);
  EXPECT_NE(error_of("zk://h:abc/agora").find("not a number"), std::string::npos);
  EXPECT_NE(error_of("zk://h:-1/agora").find("not a number"), std::string::npos);
  EXPECT_NE(error_of("zk://h:+1/agora").find("not a number"), std::string::npos);
  EXPECT_NE(error_of("zk://h:0/agora").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("zk://h:65536/agora").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("zk://h:99999999999999999999/agora").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("zk://::1:2181/agora").find("IPv6"), std::string::npos);
  EXPECT_NE(error_of("zk://[::1]/agora").find("missing port"), std::string::npos);
  EXPECT_NE(error_of("zk://[::1/agora").find("unterminated"), std::string::npos);
}

TEST(zk_url, rejects_bad_hosts_and_credentials) {
  EXPECT_NE(error_of("zk://h st:1/agora").find("invalid character ' '"), std::string::npos);
  EXPECT_NE(error_of("zk://user:secret@h:1/agora").find("credentials"), std::string::npos);
}

TEST(zk_url, rejects_missing_and_empty_paths) {
  EXPECT_NE(error_of("zk://h:1").find("missing path"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1,h:2").find("missing path"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/").find("empty path"), std::string::npos);
}

TEST(zk_url, rejects_bad_paths) {
  EXPECT_NE(error_of("zk://h:1/agora/").find("must not end with '/'"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1//agora").find("empty path component"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a//b").find("empty path component at offset 3"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a/./b").find("relative component '.'"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a/..").find("relative component '..'"), std::string::npos);
  EXPECT_NE(error_of(std::string_view("zk://h:1/a\0b", 12)).find("U+0000"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\tb").find("U+0009"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\x7F").find("U+007F"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\xC2\x85").find("U+0085"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\xEE\x80\x80").find("U+E000"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\xEF\xBF\xBE").find("U+FFFE"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\xFF").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/a\xC0\xAF").find("invalid UTF-8"), std::string::npos);  // overlong
  EXPECT_NE(error_of("zk://h:1/zookeeper").find("reserved"), std::string::npos);
  EXPECT_NE(error_of("zk://h:1/zookeeper/quota").find("reserved"), std::string::npos);
  EXPECT_TRUE(zk_url::parse("zk://h:1/zookeeperish").ok());
}

TEST(zk_url, errors_name_the_url) {
  EXPECT_NE(error_of("zk://h:0/agora").find("'zk://h:0/agora'"), std::string::npos);
}

TEST(zk_path, helpers) {
  EXPECT_TRUE(check_path("/").ok());
  EXPECT_TRUE(check_path("/a/b").ok());
  EXPECT_FALSE(check_path("").ok());
  EXPECT_FALSE(check_path("a").ok());
  EXPECT_EQ(join_path("/", "a"), "/a");
  EXPECT_EQ(join_path("/a", "b"), "/a/b");
  EXPECT_EQ(base_name("/a/leader/member_0000000001"), "member_0000000001");
  EXPECT_EQ(parent_path("/a/b"), "/a");
  EXPECT_EQ(parent_path("/a"), "/");
  EXPECT_EQ(parent_path("/"), "");
}

}  // namespace
}  // namespace agora::zk
