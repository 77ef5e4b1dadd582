#include "agora/policy/diagnostic.hpp"

#include <gtest/gtest.h>

#include <set>

namespace agora::policy {
namespace {

TEST(diagnostic, renders_location_source_underline_and_help) {
  source_file f("x.policy", "policy \"p\" version 1;\nfilter f: agent.free.mem > 4096;\n");
  auto d = make_diagnostic(f, "E0305", {49, 53}, "no unit", "write 4096MiB");
  EXPECT_EQ(d.severity, severity::error);
  EXPECT_EQ(render(d),
            "x.policy:2:28: error[E0305]: no unit\n"
            "  |\n"
            "2 | filter f: agent.free.mem > 4096;\n"
            "  |                            ^~~~\n"
            "  = help: write 4096MiB\n");
}

TEST(diagnostic, warnings_and_underlines_under_non_ascii_text) {
  // "é" is two bytes: the column counts bytes, the underline characters.
  source_file f("x.policy", "let s = \"é\" + x;\n");
  auto d = make_diagnostic(f, "W0803", {15, 16}, "m");
  EXPECT_EQ(d.begin.column, 16u);
  EXPECT_EQ(render(d),
            "x.policy:1:16: warning[W0803]: m\n"
            "  |\n"
            "1 | let s = \"é\" + x;\n"
            "  |               ^\n");
}

TEST(diagnostic, suggestions_use_edit_distance_with_transpositions) {
  EXPECT_EQ(edit_distance("rakc", "rack"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_name("agnet", {"agent", "role", "cluster"}), "agent");
  EXPECT_EQ(closest_name("xyz", {"agent", "role"}), "");
}

TEST(diagnostic, codes_are_unique_and_well_formed) {
  std::set<std::string> seen;
  for (auto& c : all_codes()) {
    EXPECT_TRUE(seen.insert(std::string(c.code)).second) << c.code;
    ASSERT_EQ(c.code.size(), 5u);
    EXPECT_TRUE(c.code[0] == 'E' || c.code[0] == 'W');
    EXPECT_EQ(severity_of(c.code), c.code[0] == 'W' ? severity::warning : severity::error);
  }
}

}  // namespace
}  // namespace agora::policy
