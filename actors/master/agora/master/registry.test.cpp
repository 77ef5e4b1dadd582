#include "agora/master/registry.hpp"

#include <gtest/gtest.h>

namespace agora::master {
namespace {

TEST(registry, round_trips_through_json) {
  registry r;
  r.leader_epoch = 7;
  r.agents["S1"] = {"h1", registry::agent_state::admitted, ""};
  r.agents["S2"] = {"h2", registry::agent_state::unreachable, "agents"};
  r.remove_framework("F1");
  r.remove_framework("F1");  // once only
  r.remove_framework("F2");
  registry back;
  std::string error;
  ASSERT_TRUE(registry::from_json(r.to_json(), back, error)) << error;
  EXPECT_EQ(back.leader_epoch, 7);
  ASSERT_EQ(back.agents.size(), 2u);
  EXPECT_EQ(back.agents["S1"].hostname, "h1");
  EXPECT_EQ(back.agents["S2"].state, registry::agent_state::unreachable);
  // The principal an agent authenticated as, kept for the next leader
  // (none written when there is none).
  EXPECT_EQ(back.agents["S2"].principal, "agents");
  EXPECT_EQ(back.agents["S1"].principal, "");
  EXPECT_EQ(r.to_json().find("\"principal\":\"\""), std::string::npos);
  EXPECT_EQ(back.removed_frameworks, (std::vector<std::string>{"F1", "F2"}));
}

TEST(registry, refuses_documents_it_does_not_understand) {
  registry r;
  std::string error;
  EXPECT_FALSE(registry::from_json("not json", r, error));
  EXPECT_FALSE(registry::from_json(R"({"format": 2})", r, error));
  EXPECT_NE(error.find("format"), std::string::npos) << error;
  EXPECT_FALSE(registry::from_json(R"({"format": 1, "agents": []})", r, error));
  EXPECT_NE(error.find("agents"), std::string::npos) << error;
}

TEST(registry, keeps_the_active_policy_with_its_text_and_revision) {
  registry r;
  std::string error;
  registry back;
  ASSERT_TRUE(registry::from_json(r.to_json(), back, error)) << error;
  EXPECT_FALSE(back.policy);  // none until an operator changes it
  std::string text = "policy \"p\" version 1;\n// \"quotes\", a NUL-free \u00e9 and \\ \n";
  r.policy = registry::policy_record{"p.policy", text, "schema text", 4, 1700000000000};
  ASSERT_TRUE(registry::from_json(r.to_json(), back, error)) << error;
  ASSERT_TRUE(back.policy);
  EXPECT_EQ(back.policy->name, "p.policy");
  EXPECT_EQ(back.policy->source, text);
  EXPECT_EQ(back.policy->schema, "schema text");
  EXPECT_EQ(back.policy->revision, 4);
  EXPECT_EQ(back.policy->loaded_at_ms, 1700000000000);
  EXPECT_FALSE(registry::from_json(R"({"format": 1, "policy": {"name": "p"}})", back, error));
  EXPECT_NE(error.find("policy"), std::string::npos) << error;
}

TEST(registry, keeps_a_bounded_list_of_removed_frameworks) {
  registry r;
  for (size_t i = 0; i < registry::max_removed_frameworks + 5; ++i)
    r.remove_framework("F" + std::to_string(i));
  EXPECT_EQ(r.removed_frameworks.size(), registry::max_removed_frameworks);
  EXPECT_EQ(r.removed_frameworks.front(), "F5");
}

}  // namespace
}  // namespace agora::master
