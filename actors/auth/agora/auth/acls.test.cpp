#include "agora/auth/acls.hpp"

#include <gtest/gtest.h>

namespace agora::auth {
namespace {

using action = acls::action;

acls parsed(const std::string& text) {
  acls a;
  std::string error;
  EXPECT_TRUE(acls::parse(text, "acls.json", a, error)) << error;
  return a;
}

TEST(acls, without_rules_the_default_decides) {
  EXPECT_TRUE(parsed("{}").allowed(action::register_frameworks, "ops", "prod"));
  EXPECT_FALSE(
      parsed(R"({"permissive": false})").allowed(action::register_frameworks, "ops", "prod"));
}

TEST(acls, the_first_rule_whose_principals_match_and_whose_objects_decide_wins) {
  auto a = parsed(R"({"permissive": false,
    "register_frameworks": [
      {"principals": {"values": ["ops"]}, "roles": {"values": ["prod"]}},
      {"principals": {"values": ["ops", "batch"]}, "roles": {"values": ["dev"]}},
      {"principals": {"values": ["intern"]}, "roles": {"type": "NONE"}},
      {"principals": {"type": "ANY"}, "roles": {"values": ["scratch"]}}]})");
  EXPECT_TRUE(a.allowed(action::register_frameworks, "ops", "prod"));
  EXPECT_TRUE(a.allowed(action::register_frameworks, "ops", "dev"));  // passes to rule 2
  EXPECT_FALSE(a.allowed(action::register_frameworks, "batch", "prod"));
  EXPECT_TRUE(a.allowed(action::register_frameworks, "batch", "dev"));
  // NONE denies before the ANY rule that would allow.
  EXPECT_FALSE(a.allowed(action::register_frameworks, "intern", "scratch"));
  EXPECT_TRUE(a.allowed(action::register_frameworks, "someone", "scratch"));
  // An anonymous client matches only ANY.
  EXPECT_TRUE(a.allowed(action::register_frameworks, "", "scratch"));
  EXPECT_FALSE(a.allowed(action::register_frameworks, "", "prod"));
  // Other actions have no rules: permissive (false) decides.
  EXPECT_FALSE(a.allowed(action::teardown_frameworks, "ops", "ops"));
}

TEST(acls, a_permissive_file_with_a_none_rule_denies_only_that) {
  auto a = parsed(R"({"teardown_frameworks": [
      {"principals": {"values": ["batch"]}, "framework_principals": {"type": "NONE"}}],
    "update_policies": [{"principals": {"type": "ANY"}}]})");
  EXPECT_FALSE(a.allowed(action::teardown_frameworks, "batch", "ops"));
  EXPECT_TRUE(a.allowed(action::teardown_frameworks, "ops", "batch"));
  EXPECT_TRUE(a.allowed(action::update_policies, "", ""));
}

TEST(acls, running_as_root_needs_a_rule_that_allows_it) {
  auto permissive = parsed("{}");
  EXPECT_TRUE(permissive.allowed(action::run_tasks, "ops", "nobody"));
  EXPECT_FALSE(permissive.allowed(action::run_tasks, "ops", "root"));
  auto a = parsed(R"({"run_tasks": [
      {"principals": {"values": ["ops"]}, "users": {"values": ["root"]}},
      {"principals": {"values": ["batch"]}, "users": {"type": "ANY"}}]})");
  EXPECT_TRUE(a.allowed(action::run_tasks, "ops", "root"));
  EXPECT_TRUE(a.allowed(action::run_tasks, "batch", "root"));  // ANY allows it too
  EXPECT_FALSE(a.allowed(action::run_tasks, "other", "root"));
  EXPECT_FALSE(a.allowed(action::run_tasks, "", "root"));
  EXPECT_TRUE(a.allowed(action::run_tasks, "other", "nobody"));
}

TEST(acls, bad_files_name_the_action_and_rule) {
  struct bad {
    const char* text;
    const char* error;
  };
  const bad cases[] = {
      {"[", "not valid JSON"},
      {"[]", "expected a JSON object"},
      {R"({"permissive": 1})", "\"permissive\" must be true or false"},
      {R"({"register_framework": []})", "unknown action \"register_framework\""},
      {R"({"kill_tasks": {}})", "\"kill_tasks\" must be an array of rules"},
      {R"({"kill_tasks": [{}]})", "kill_tasks[0]: a rule needs \"principals\""},
      {R"({"kill_tasks": [{"principals": {"type": "ALL"}}]})",
       "kill_tasks[0].principals: \"type\" must be \"ANY\" or \"NONE\""},
      {R"({"kill_tasks": [{"principals": {"values": ["a"], "type": "ANY"}}]})",
       "needs exactly one of"},
      {R"({"kill_tasks": [{"principals": {"values": [1]}}]})", "array of strings"},
      {R"({"kill_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}]})",
       "kill_tasks[0]: unknown field \"roles\" (its objects are \"framework_principals\")"},
      {R"({"update_policies": [{"principals": {"type": "ANY"}, "x": {"type": "ANY"}}]})",
       "(this action has no objects)"},
  };
  for (const auto& c : cases) {
    acls a;
    std::string error;
    EXPECT_FALSE(acls::parse(c.text, "acls.json", a, error)) << c.text;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.text << " -> " << error;
    EXPECT_EQ(error.rfind("acls.json: ", 0), 0u) << error;
  }
}

TEST(acls, refusals_name_the_principal_and_the_action) {
  EXPECT_EQ(denied(action::register_frameworks, "ops", "prod"),
            "principal 'ops' may not register_frameworks 'prod' (--acls)");
  EXPECT_EQ(denied(action::update_policies, ""),
            "an anonymous client may not update_policies (--acls)");
}

}  // namespace
}  // namespace agora::auth
