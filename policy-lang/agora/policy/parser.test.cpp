#include "agora/policy/parser.hpp"

#include <gtest/gtest.h>

namespace agora::policy {
namespace {

parse_result parse_text(const std::string& text) { return parse(source_file("t.policy", text)); }

TEST(parser, parses_a_small_policy) {
  auto r = parse_text(
      "policy \"drf\" version 1;\nuse std.fairness;\n"
      "order roles by dominant_share(role) asc, role.name asc;\n"
      "filter fits: fits(framework.min_request, agent.free);\n");
  ASSERT_TRUE(r.file) << render_all(r.diagnostics);
  EXPECT_TRUE(r.diagnostics.empty());
  EXPECT_EQ(r.file->name, "drf");
  EXPECT_EQ(r.file->version, 1);
  ASSERT_EQ(r.file->uses.size(), 1u);
  EXPECT_EQ(r.file->uses[0].module, "std.fairness");
  ASSERT_EQ(r.file->decls.size(), 2u);
  auto* order = std::get_if<ast::order_decl>(&r.file->decls[0].node);
  ASSERT_NE(order, nullptr);
  EXPECT_FALSE(order->frameworks);
  ASSERT_EQ(order->keys.size(), 2u);
  EXPECT_EQ(order->keys[0].key->kind, ast::expr_kind::name);
  EXPECT_TRUE(order->keys[0].key->has_args);
}

TEST(parser, literals_carry_base_units) {
  auto r = parse_text(
      "policy \"p\" version 1;\nlet a = 512MiB + 1.5GiB;\nlet b = 30s;\n"
      "let c = 5%;\n");
  ASSERT_TRUE(r.file) << render_all(r.diagnostics);
  auto& a = std::get<ast::let_decl>(r.file->decls[0].node);
  ASSERT_EQ(a.value->kind, ast::expr_kind::binary);
  EXPECT_EQ(a.value->children[0]->value, 512.0 * 1024 * 1024);
  EXPECT_EQ(a.value->children[0]->unit, "MiB");
  EXPECT_EQ(a.value->children[1]->value, 1.5 * 1024 * 1024 * 1024);
  EXPECT_EQ(std::get<ast::let_decl>(r.file->decls[1].node).value->value, 30.0);
  EXPECT_DOUBLE_EQ(std::get<ast::let_decl>(r.file->decls[2].node).value->value, 0.05);
}

TEST(parser, precedence_and_ranges) {
  // `a + b * c` groups as `a + (b * c)`; ranges cover the source text.
  std::string text = "policy \"p\" version 1;\nlet x = a + b * c;\n";
  auto r = parse_text(text);
  ASSERT_TRUE(r.file);
  auto& v = std::get<ast::let_decl>(r.file->decls[0].node).value;
  EXPECT_EQ(v->bop, ast::binary_op::add);
  EXPECT_EQ(v->children[1]->bop, ast::binary_op::mul);
  EXPECT_EQ(text.substr(v->range.begin, v->range.end - v->range.begin), "a + b * c");
}

TEST(parser, aggregates_with_where_and_body) {
  auto r =
      parse_text("policy \"p\" version 1;\nlet g = max(r in roles where r.active : r.weight);\n");
  ASSERT_TRUE(r.file) << render_all(r.diagnostics);
  auto& v = std::get<ast::let_decl>(r.file->decls[0].node).value;
  EXPECT_EQ(v->kind, ast::expr_kind::aggregate);
  EXPECT_EQ(v->agg, ast::aggregate_kind::max);
  EXPECT_EQ(v->name, "r");
  EXPECT_NE(v->where_, nullptr);
  EXPECT_NE(v->body_, nullptr);
}

TEST(parser, syntax_error_names_the_token) {
  auto r = parse_text("policy \"p\" version 1;\nfilter f: agent.free.cpus > ;\n");
  EXPECT_FALSE(r.file);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].code, "E0101");
  EXPECT_EQ(r.diagnostics[0].message, "syntax error near ';'");
  EXPECT_EQ(r.diagnostics[0].begin.line, 2u);
  EXPECT_EQ(r.diagnostics[0].begin.column, 29u);
}

TEST(parser, invalid_characters_are_reported) {
  auto r = parse_text("policy \"p\" version 1;\nlet x = 1 # 2;\n");
  EXPECT_FALSE(r.file);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].code, "E0105");
}

TEST(parser, invalid_utf8_is_reported) {
  auto r = parse_text("policy \"p\" version 1;\nlet x = \"\xff\";\n");
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0105");
}

TEST(parser, comments_are_kept_for_the_formatter) {
  auto r = parse_text("// head\npolicy \"p\" version 1; /* b */\n");
  ASSERT_TRUE(r.file);
  ASSERT_EQ(r.file->comments.size(), 2u);
  EXPECT_EQ(r.file->comments[0].text, "// head");
  EXPECT_TRUE(r.file->comments[1].block);
}

TEST(parser, schema_and_test_files) {
  auto s = parse_text(
      "schema \"c\" version 4;\nresources { gpus: count; }\n"
      "agent.attributes { rack: string; gpu_model: string?; }\n"
      "limits { agents 50000; }\n");
  ASSERT_TRUE(s.file) << render_all(s.diagnostics);
  EXPECT_EQ(s.file->kind, ast::file_kind::schema);
  ASSERT_EQ(s.file->sections.size(), 3u);
  EXPECT_EQ(s.file->sections[1].name, "agent.attributes");
  EXPECT_TRUE(s.file->sections[1].fields[1].field_type.optional);
  EXPECT_EQ(s.file->sections[2].limits[0].second, 50000);

  auto t = parse_text(
      "test \"x\" { given policy \"q.policy\"; "
      "expect order roles == [\"a\", \"b\"]; "
      "expect compile_error \"E0305\" for \"filter f: 1;\"; }\n");
  ASSERT_TRUE(t.file) << render_all(t.diagnostics);
  EXPECT_EQ(t.file->kind, ast::file_kind::test);
}

TEST(parser, input_size_limit) {
  std::string big(10u << 20, ' ');
  auto r = parse_text(big);
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0102");
}

TEST(parser, nesting_limit_on_brackets) {
  // 10,000 nested parentheses: rejected before parsing, so no deep recursion.
  std::string text = "policy \"p\" version 1;\nlet x = " + std::string(10000, '(') + "1" +
                     std::string(10000, ')') + ";\n";
  auto r = parse_text(text);
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0103");
  EXPECT_EQ(r.diagnostics[0].begin.column, 9u + 64u);  // The 65th parenthesis.
}

TEST(parser, nesting_limit_allows_64_levels) {
  std::string text = "policy \"p\" version 1;\nlet x = " + std::string(63, '(') + "1" +
                     std::string(63, ')') + ";\n";
  auto r = parse_text(text);
  EXPECT_TRUE(r.file) << render_all(r.diagnostics);
}

TEST(parser, long_operator_chains_are_limited_without_recursion) {
  std::string chain = "1";
  for (int i = 0; i < 20000; ++i) chain += "+1";
  auto r = parse_text("policy \"p\" version 1;\nlet x = " + chain + ";\n");
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "E0103");
  auto bangs = parse_text("policy \"p\" version 1;\nlet x = " + std::string(50000, '!') + "a;\n");
  EXPECT_FALSE(bangs.file);
  ASSERT_EQ(bangs.diagnostics.size(), 1u);
  EXPECT_EQ(bangs.diagnostics[0].code, "E0103");
}

TEST(parser, error_recovery_is_bounded) {
  std::string text = "policy \"p\" version 1;\n";
  for (int i = 0; i < 100; ++i) text += "filter : ;\n";
  auto r = parse_text(text);
  EXPECT_FALSE(r.file);
  ASSERT_EQ(r.diagnostics.size(), 21u);
  EXPECT_EQ(r.diagnostics.back().code, "E0104");
}

}  // namespace
}  // namespace agora::policy

namespace agora::policy {
namespace {

TEST(parser, every_example_parses) {
  for (auto name : {"drf.policy", "weighted_drf.policy", "quotas.policy", "rack_local.policy",
                    "binpack.policy", "spread.policy", "gpu_isolation.policy",
                    "observability.policy", "quotas_test.policy", "cluster.schema"}) {
    std::string error;
    auto file = source_file::load(std::string(AGORA_POLICY_EXAMPLES_DIR) + "/" + name, error);
    ASSERT_TRUE(file) << error;
    auto r = parse(*file);
    EXPECT_TRUE(r.file) << render_all(r.diagnostics);
    EXPECT_TRUE(r.diagnostics.empty()) << name;
  }
}

}  // namespace
}  // namespace agora::policy

#include <iostream>
#include <sstream>

namespace agora::policy {
namespace {

TEST(parser, antlr_prints_nothing) {
  // ANTLR's default console listener is removed: errors only become diagnostics.
  std::ostringstream captured_err, captured_out;
  auto* old_err = std::cerr.rdbuf(captured_err.rdbuf());
  auto* old_out = std::cout.rdbuf(captured_out.rdbuf());
  auto r = parse(source_file("t.policy", "policy version ; filter # : ) ( \"open\n"));
  std::cerr.rdbuf(old_err);
  std::cout.rdbuf(old_out);
  EXPECT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(captured_err.str(), "");
  EXPECT_EQ(captured_out.str(), "");
}

}  // namespace
}  // namespace agora::policy

namespace agora::policy {
namespace {

TEST(parser, long_tokens_are_shortened_in_messages) {
  auto r =
      parse(source_file("t.policy", "policy \"p\" version 1;\nfilter " + std::string(5000, 'x') +
                                        " " + std::string(5000, 'y') + ";\n"));
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].code, "E0101");
  EXPECT_LT(r.diagnostics[0].message.size(), 80u);
  EXPECT_LT(render(r.diagnostics[0]).size(), 1000u);  // Long lines are cut too.
}

}  // namespace
}  // namespace agora::policy
