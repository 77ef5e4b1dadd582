#include "agora/policy/formatter.hpp"

#include <gtest/gtest.h>

#include "agora/policy/checker.hpp"
#include "agora/policy/parser.hpp"

namespace agora::policy {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

std::string fmt(const std::string& name, const std::string& text) {
  source_file source(name, text);
  auto parsed = parse(source);
  EXPECT_TRUE(parsed.file) << render_all(parsed.diagnostics);
  if (!parsed.file) return {};
  return format(*parsed.file, source);
}

std::vector<std::string> codes(const check_result& r) {
  std::vector<std::string> out;
  for (auto& d : r.diagnostics) out.push_back(d.code);
  return out;
}

TEST(formatter, examples_round_trip_and_recheck_clean) {
  std::string error;
  auto schema_file = source_file::load(examples + "/cluster.schema", error);
  ASSERT_TRUE(schema_file) << error;
  auto s = load_schema(*schema_file);
  ASSERT_TRUE(s.value);
  for (auto name : {"drf.policy", "weighted_drf.policy", "quotas.policy", "rack_local.policy",
                    "binpack.policy", "spread.policy", "gpu_isolation.policy",
                    "observability.policy", "drf_test.policy", "weighted_drf_test.policy",
                    "quotas_test.policy", "rack_local_test.policy", "binpack_test.policy",
                    "spread_test.policy", "gpu_isolation_test.policy", "observability_test.policy",
                    "cluster.schema"}) {
    auto file = source_file::load(examples + "/" + name, error);
    ASSERT_TRUE(file) << error;
    auto once = fmt(name, file->text());
    auto twice = fmt(name, once);
    EXPECT_EQ(once, twice) << name << ": formatting is not idempotent";
    // The examples are kept in canonical form.
    EXPECT_EQ(once, file->text()) << name << " is not formatted (agora-policy fmt --write)";
    // The formatted text checks exactly like the original (clean).
    auto before = check_policy(*file, &*s.value);
    auto after = check_policy(source_file(file->name(), once), &*s.value);
    EXPECT_TRUE(after.ok()) << name << "\n" << render_all(after.diagnostics);
    EXPECT_EQ(codes(before), codes(after)) << name;
  }
}

TEST(formatter, normalizes_spacing_and_keeps_parentheses) {
  auto out = fmt("t.policy",
                 "policy   \"t\"   version 1 ;\nlet   x=(a+b)*c  ;\nlet y = a+b*c;\n"
                 "filter f :x>1&&!y ;\n");
  EXPECT_EQ(out,
            "policy \"t\" version 1;\n"
            "let x = (a + b) * c;\n"
            "let y = a + b * c;\n"
            "filter f: x > 1 && !y;\n");
}

TEST(formatter, keeps_comments_and_single_blank_lines) {
  std::string text =
      "// head\npolicy \"t\" version 1;  // trailing\n\n\n// about f\nfilter f: true;\n"
      "roles {\n  role \"a\" { weight 1; }  // a\n  default { weight 1; }\n}\n";
  auto out = fmt("t.policy", text);
  EXPECT_EQ(out,
            "// head\npolicy \"t\" version 1;  // trailing\n\n// about f\nfilter f: true;\n"
            "roles {\n  role \"a\" { weight 1; }  // a\n  default { weight 1; }\n}\n");
  EXPECT_EQ(fmt("t.policy", out), out);
}

TEST(formatter, breaks_long_rules_and_nested_roles) {
  std::string text =
      "policy \"t\" version 1;\n"
      "roles { role \"p\" { weight 2; role \"c\" { weight 1; } } }\n"
      "order roles by role.below_guarantee desc, dominant_share(role) / role.weight asc, "
      "max(role.allocated / cluster.total) asc, role.name asc;\n";
  auto out = fmt("t.policy", text);
  EXPECT_EQ(out,
            "policy \"t\" version 1;\n"
            "roles {\n"
            "  role \"p\" {\n"
            "    weight 2;\n"
            "    role \"c\" { weight 1; }\n"
            "  }\n"
            "}\n"
            "order roles by\n"
            "  role.below_guarantee desc,\n"
            "  dominant_share(role) / role.weight asc,\n"
            "  max(role.allocated / cluster.total) asc,\n"
            "  role.name asc;\n");
  EXPECT_EQ(fmt("t.policy", out), out);
}

TEST(formatter, strings_are_reescaped) {
  auto out = fmt("t.policy", "policy \"a\\\"b\" version 1;\nlet s = \"x\\\\y\";\n");
  EXPECT_EQ(out, "policy \"a\\\"b\" version 1;\nlet s = \"x\\\\y\";\n");
}

TEST(formatter, every_parsable_golden_is_idempotent) {
  // Goldens cover every construct that has a diagnostic; formatting must not
  // change what they mean (same diagnostics codes) and must be stable.
  for (auto name : {"E0601_children_exceed_parent.policy", "E0605_last_level_conditional.policy",
                    "E0706_buckets.policy", "E0402_unbounded_aggregate.policy",
                    "W0804_zero_weight_score.policy"}) {
    std::string error;
    auto file = source_file::load(std::string(AGORA_POLICY_GOLDEN_DIR) + "/" + name, error);
    ASSERT_TRUE(file) << error;
    auto once = fmt(name, file->text());
    EXPECT_EQ(fmt(name, once), once) << name;
    auto before = check_policy(*file);
    auto after = check_policy(source_file(file->name(), once));
    EXPECT_EQ(codes(before), codes(after)) << name;
  }
}

}  // namespace
}  // namespace agora::policy
