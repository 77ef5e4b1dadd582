#include "agora/policy/schema.hpp"

#include <gtest/gtest.h>

namespace agora::policy {
namespace {

schema_result load(const std::string& body) {
  return load_schema(source_file("s.schema", "schema \"s\" version 2;\n" + body));
}

std::vector<std::string> codes(const schema_result& r) {
  std::vector<std::string> out;
  for (auto& d : r.diagnostics) out.push_back(d.code);
  return out;
}

TEST(schema, loads_every_section) {
  auto r = load(
      "resources { fpga: count; gpus: count; }\n"
      "agent.attributes { rack: string; ssd: bool; gpu_model: string?; }\n"
      "agent.metrics { cpu_pressure: ratio max_age 30s; }\n"
      "framework.labels { team: string?; }\n"
      "limits { agents 500; roles 20; }\n");
  ASSERT_TRUE(r.value) << render_all(r.diagnostics);
  auto& s = *r.value;
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.version, 2);
  ASSERT_EQ(s.resources.size(), 1u);  // `gpus` is built in.
  EXPECT_EQ(s.resources[0].name, "fpga");
  ASSERT_EQ(s.agent_attributes.size(), 3u);
  EXPECT_TRUE(s.agent_attributes[2].field_type.optional);
  ASSERT_EQ(s.agent_metrics.size(), 1u);
  EXPECT_TRUE(s.agent_metrics[0].field_type.optional);  // Stale metrics read as absent.
  EXPECT_EQ(s.agent_metrics[0].max_age_seconds, 30);
  EXPECT_EQ(s.limits.at("agents"), 500);
  EXPECT_EQ(s.limits.count("frameworks"), 0u);
}

TEST(schema, reports_mistakes) {
  EXPECT_EQ(codes(load("agent.atributes { rack: string; }")), std::vector<std::string>{"E0209"});
  auto type = load("agent.attributes { rack: strng; }");
  EXPECT_EQ(codes(type), std::vector<std::string>{"E0201"});
  EXPECT_EQ(type.diagnostics[0].help, "did you mean `string`?");
  EXPECT_EQ(codes(load("agent.attributes { rack: string; rack: string; }")),
            std::vector<std::string>{"E0205"});
  EXPECT_EQ(codes(load("resources { cpus: cores; }")), std::vector<std::string>{"E0205"});
  EXPECT_EQ(codes(load("resources { fpga: string; }")), std::vector<std::string>{"E0301"});
  EXPECT_EQ(codes(load("agent.metrics { p: ratio max_age 30; }")),
            std::vector<std::string>{"E0305"});
  EXPECT_EQ(codes(load("limits { agent 5; }")), std::vector<std::string>{"E0209"});
  EXPECT_FALSE(load("limits { agent 5; }").value);
}

TEST(schema, a_policy_is_not_a_schema) {
  auto r = load_schema(source_file("p.policy", "policy \"p\" version 1;\n"));
  EXPECT_FALSE(r.value);
  EXPECT_EQ(codes(r), std::vector<std::string>{"E0108"});
}

}  // namespace
}  // namespace agora::policy
