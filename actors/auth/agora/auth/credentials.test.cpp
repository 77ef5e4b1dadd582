#include "agora/auth/credentials.hpp"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "agora/test/support.hpp"

namespace agora::auth {
namespace {

std::string write(const test::temp_dir& dir, const std::string& name, const std::string& text,
                  mode_t mode = 0600) {
  auto path = dir.file(name);
  std::ofstream{path} << text;
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(credentials, loads_the_mesos_shaped_file) {
  test::temp_dir dir;
  auto path = write(dir, "creds.json",
                    R"({"credentials": [{"principal": "ops", "secret": "s1"},
                                        {"principal": "agent", "secret": "s2"}]})");
  credential_store store;
  std::string error;
  ASSERT_TRUE(credential_store::load(path, store, error)) << error;
  EXPECT_EQ(store.size(), 2u);
  ASSERT_NE(store.secret("ops"), nullptr);
  EXPECT_EQ(*store.secret("ops"), "s1");
  EXPECT_EQ(*store.secret("agent"), "s2");
  EXPECT_EQ(store.secret("nobody"), nullptr);
}

TEST(credentials, a_file_others_may_read_is_refused) {
  test::temp_dir dir;
  auto path =
      write(dir, "creds.json", R"({"credentials": [{"principal": "p", "secret": "s"}]})", 0644);
  credential_store store;
  std::string error;
  EXPECT_FALSE(credential_store::load(path, store, error));
  EXPECT_NE(error.find("other users may read or write it (mode 0644)"), std::string::npos) << error;
  ::chmod(path.c_str(), 0640);
  EXPECT_FALSE(credential_store::load(path, store, error));
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(credential_store::load(path, store, error)) << error;
}

TEST(credentials, bad_files_are_refused_without_quoting_secrets) {
  test::temp_dir dir;
  struct bad {
    const char* text;
    const char* why;
  };
  const bad cases[] = {
      {R"({"credentials": [{"principal": "p", "secret": "TOPSECRET"})", "not valid JSON"},
      {R"({"creds": []})", "expected {\"credentials\""},
      {R"({"credentials": []})", "lists no credentials"},
      {R"({"credentials": [{"principal": "p"}]})", "credentials[0]: needs a string"},
      {R"({"credentials": [{"principal": "", "secret": "TOPSECRET"}]})", "must not be empty"},
      {R"({"credentials": [{"principal": "p", "secret": "TOPSECRET"},
                           {"principal": "p", "secret": "TOPSECRET"}]})",
       "principal 'p' is listed twice"},
      {R"({"credentials": [{"principal": "a\nb", "secret": "TOPSECRET"}]})", "control character"},
  };
  for (const auto& c : cases) {
    auto path = write(dir, "bad.json", c.text);
    credential_store store;
    std::string error;
    EXPECT_FALSE(credential_store::load(path, store, error)) << c.text;
    EXPECT_NE(error.find(c.why), std::string::npos) << error;
    EXPECT_EQ(error.find("TOPSECRET"), std::string::npos) << error;
  }
  credential_store store;
  std::string error;
  EXPECT_FALSE(credential_store::load(dir.file("missing.json"), store, error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
  EXPECT_FALSE(credential_store::load(dir.path(), store, error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST(credentials, secret_files_drop_one_trailing_newline_and_must_be_private) {
  test::temp_dir dir;
  std::string secret;
  std::string error;
  ASSERT_TRUE(read_secret_file(write(dir, "s", "abc\n"), secret, error)) << error;
  EXPECT_EQ(secret, "abc");
  ASSERT_TRUE(read_secret_file(write(dir, "s2", "a b\n\n"), secret, error)) << error;
  EXPECT_EQ(secret, "a b\n");
  EXPECT_FALSE(read_secret_file(write(dir, "s3", "\n"), secret, error));
  EXPECT_NE(error.find("is empty"), std::string::npos) << error;
  EXPECT_FALSE(read_secret_file(write(dir, "s4", "abc", 0604), secret, error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
}

}  // namespace
}  // namespace agora::auth
