#include "agora/protocol/roles.hpp"

#include <gtest/gtest.h>

namespace agora::protocol {
namespace {

TEST(roles, accepts_plain_hierarchical_and_default_roles) {
  for (const char* ok : {"*", "prod", "eng/backend", "a.b", "team-1", "x_y", "eng/backend/batch"})
    EXPECT_EQ(role_error(ok), "") << ok;
  EXPECT_EQ(role_error(std::string(max_role_length, 'r')), "");
}

TEST(roles, refuses_what_only_the_first_character_check_let_through) {
  // The old check looked at the first character only: each of these passed.
  for (const char* bad : {"prod role", "prod\tx", "prod/", "eng//backend", "eng/../root", "a/./b",
                          "eng/-x", "a\\b", "a*", "*/x", "a\nb"})
    EXPECT_NE(role_error(bad), "") << bad;
  for (const char* bad : {"", ".", "..", "-x", "/x", " x"}) EXPECT_NE(role_error(bad), "") << bad;
  EXPECT_NE(role_error(std::string(max_role_length + 1, 'r')), "");
  EXPECT_NE(role_error(std::string("a\0b", 3)), "");
}

TEST(roles, errors_name_the_role) {
  EXPECT_EQ(role_error("eng//x"),
            "role 'eng//x' has an empty component (leading, trailing or double '/')");
  EXPECT_EQ(role_error("a b"), "role 'a b' contains whitespace or a control character");
}

}  // namespace
}  // namespace agora::protocol
