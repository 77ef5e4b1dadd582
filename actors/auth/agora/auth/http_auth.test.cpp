#include "agora/auth/http_auth.hpp"

#include <gtest/gtest.h>

namespace agora::auth {
namespace {

credential_store store() {
  credential_store s;
  s.add("ops", "s3cret");
  s.add("batch", "other");
  return s;
}

TEST(http_auth, no_header_is_anonymous) {
  auto id = authenticate_http(store(), "");
  EXPECT_TRUE(id.ok);
  EXPECT_EQ(id.principal, "");
}

TEST(http_auth, basic_credentials_name_the_principal) {
  // base64("ops:s3cret") = b3BzOnMzY3JldA==
  auto id = authenticate_http(store(), "Basic b3BzOnMzY3JldA==");
  EXPECT_TRUE(id.ok) << id.error;
  EXPECT_EQ(id.principal, "ops");
  EXPECT_TRUE(authenticate_http(store(), "basic   b3BzOnMzY3JldA== ").ok);
  // base64("ops:s3creT"), base64("nobody:s3cret"), not base64, no colon.
  for (const char* bad : {"Basic b3BzOnMzY3JlVA==", "Basic bm9ib2R5OnMzY3JldA==", "Basic !!!!",
                          "Basic b3Bz", "Basic "}) {
    auto x = authenticate_http(store(), bad);
    EXPECT_FALSE(x.ok) << bad;
    EXPECT_EQ(x.principal, "");
    EXPECT_EQ(x.error.find("s3cret"), std::string::npos);
  }
}

TEST(http_auth, basic_authorization_round_trips) {
  EXPECT_EQ(basic_authorization("ops", "s3cret"), "Basic b3BzOnMzY3JldA==");
  auto id = authenticate_http(store(), basic_authorization("batch", "other"));
  EXPECT_TRUE(id.ok);
  EXPECT_EQ(id.principal, "batch");
}

TEST(http_auth, bearer_tokens_are_secrets) {
  auto id = authenticate_http(store(), "Bearer other");
  EXPECT_TRUE(id.ok);
  EXPECT_EQ(id.principal, "batch");
  EXPECT_FALSE(authenticate_http(store(), "Bearer othe").ok);
  EXPECT_FALSE(authenticate_http(store(), "Bearer ops").ok);
}

TEST(http_auth, other_schemes_are_refused) {
  auto id = authenticate_http(store(), "Digest username=\"ops\"");
  EXPECT_FALSE(id.ok);
  EXPECT_NE(id.error.find("Basic or Bearer"), std::string::npos);
}

TEST(http_auth, check_http_authenticates_then_authorizes_reads) {
  http_access open;
  EXPECT_EQ(check_http(open, "", "/state").status, 0);
  // A header with nothing to check it against is refused, not ignored.
  EXPECT_EQ(check_http(open, "Bearer x", "/state").status, 401);
  http_access access;
  access.credentials = std::make_shared<credential_store>(store());
  EXPECT_EQ(check_http(access, "", "/state").status, 0);
  access.required = true;
  auto missing = check_http(access, "", "/state");
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(missing.error.find("--authenticate-http"), std::string::npos);
  EXPECT_EQ(check_http(access, "Bearer wrong", "/state").status, 401);
  auto rules = std::make_shared<acls>();
  std::string error;
  ASSERT_TRUE(acls::parse(R"({"read_endpoints": [
      {"principals": {"values": ["batch"]}, "endpoints": {"values": ["/metrics"]}},
      {"principals": {"values": ["batch"]}, "endpoints": {"type": "NONE"}}]})",
                          "acls.json", *rules, error))
      << error;
  access.rules = rules;
  auto ops = check_http(access, "Bearer s3cret", "/state");
  EXPECT_EQ(ops.status, 0);
  EXPECT_EQ(ops.principal, "ops");
  EXPECT_EQ(check_http(access, "Bearer other", "/metrics").status, 0);
  auto refused = check_http(access, "Bearer other", "/state");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.error, "principal 'batch' may not read_endpoints '/state' (--acls)");
  // No endpoint named: authentication only.
  EXPECT_EQ(check_http(access, "Bearer other", "").status, 0);
}

TEST(http_auth, sandbox_paths_name_their_framework) {
  EXPECT_EQ(sandbox_framework("/var/agora/frameworks/F1/tasks/t1/stdout"), "F1");
  EXPECT_EQ(sandbox_framework("frameworks/F2/tasks/t"), "F2");
  EXPECT_EQ(sandbox_framework("frameworks/F2"), "F2");
  // A `frameworks` directory inside a sandbox does not make it another's.
  EXPECT_EQ(sandbox_framework("/x/frameworks/F1/tasks/t/frameworks/F3/tasks/u"), "F1");
  EXPECT_EQ(sandbox_framework("frameworks/"), "");
  EXPECT_EQ(sandbox_framework("frameworks/.."), "");
  EXPECT_EQ(sandbox_framework("/etc/passwd"), "");
  EXPECT_EQ(sandbox_framework("frameworks/F1/tasks/t/../../../F2/tasks/u/stdout"), "F2");
  EXPECT_EQ(sandbox_framework("/frameworks/MINE/../../w/frameworks/F9/x"), "F9");
  // Under a known root, only the first segment below it counts.
  EXPECT_EQ(
      sandbox_framework("/srv/frameworks/a/frameworks/F4/tasks/t", "/srv/frameworks/a/frameworks"),
      "F4");
  EXPECT_EQ(sandbox_framework("/srv/frameworks/a/frameworks/F4", "/srv/frameworks/a/frameworks/"),
            "F4");
  EXPECT_EQ(sandbox_framework("/srv/other/frameworks/F4/x", "/srv/frameworks/a/frameworks"), "");
  EXPECT_EQ(sandbox_framework("/srv/frameworks/a/frameworksX/F4", "/srv/frameworks/a/frameworks"),
            "");
}

}  // namespace
}  // namespace agora::auth
