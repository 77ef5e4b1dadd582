// `--assert` expressions: syntax, figures, labels, windows and outcomes.

#include "agora/main/sim_assert.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace agora::main::sim {
namespace {

assertion parsed(const std::string& text) {
  assertion a;
  std::string error;
  EXPECT_TRUE(parse_assertion(text, a, error)) << text << ": " << error;
  return a;
}

std::string error_of(const std::string& text) {
  assertion a;
  std::string error;
  EXPECT_FALSE(parse_assertion(text, a, error)) << text;
  return error;
}

TEST(sim_assert, parses_the_forms_of_the_design) {
  auto a = parsed("limit_violation_seconds == 0");
  EXPECT_EQ(a.figure, "limit_violation_seconds");
  EXPECT_EQ(a.op, compare_op::eq);
  EXPECT_EQ(a.number, 0);
  EXPECT_EQ(a.after, 0);
  EXPECT_TRUE(a.role.empty());

  a = parsed(R"(guarantee_miss_seconds{role="prod/web"} < 60)");
  EXPECT_EQ(a.figure, "guarantee_miss_seconds");
  EXPECT_EQ(a.role, "prod/web");
  EXPECT_EQ(a.op, compare_op::lt);
  EXPECT_EQ(a.number, 60);

  a = parsed("max_share_gap < 0.1 after 30min");
  EXPECT_EQ(a.number, 0.1);
  EXPECT_EQ(a.after, 30 * 60 * 1000);

  a = parsed(R"(  limit_use_ratio { role = "dev" } >= 1e-1   after 90s  )");
  EXPECT_EQ(a.role, "dev");
  EXPECT_EQ(a.op, compare_op::ge);
  EXPECT_EQ(a.number, 0.1);
  EXPECT_EQ(a.after, 90000);
  EXPECT_EQ(a.text, R"(  limit_use_ratio { role = "dev" } >= 1e-1   after 90s  )");

  EXPECT_EQ(parsed("tasks_lost!=3").op, compare_op::ne);
  EXPECT_EQ(parsed("tasks_lost<=3").op, compare_op::le);
  EXPECT_EQ(parsed("tasks_lost>3").op, compare_op::gt);
  EXPECT_EQ(parsed("p99_queue_wait_seconds < 412").figure, "p99_queue_wait_seconds");
}

TEST(sim_assert, bad_syntax_and_unknown_names_are_named) {
  EXPECT_EQ(error_of("cpu_utilization > 0.5").substr(0, 44),
            "unknown figure 'cpu_utilization' (known: cpu");
  EXPECT_EQ(error_of(""), "expected a figure name first (e.g. limit_violation_seconds)");
  EXPECT_EQ(error_of("max_share_gap 0.1"),
            "expected a comparison (==, !=, <, <=, >, >=) after max_share_gap");
  EXPECT_EQ(error_of("max_share_gap < abc"), "expected a number after the comparison, not 'abc'");
  EXPECT_EQ(error_of("max_share_gap <"), "expected a number after the comparison");
  EXPECT_EQ(error_of("max_share_gap < inf"), "expected a number after the comparison, not 'inf'");
  EXPECT_EQ(error_of("max_share_gap < 0.1 before 5min"),
            "unexpected 'before 5min' (only 'after DURATION' may follow)");
  EXPECT_EQ(error_of("max_share_gap < 0.1 after"), "after: missing duration (e.g. after 10min)");
  EXPECT_EQ(error_of("max_share_gap < 0.1 after 10"),
            "after: '10' is not a duration (write e.g. 500ms, 1s, 2min)");
  EXPECT_EQ(error_of("max_share_gap < 0.1 after 10min x"), "unexpected 'x' at the end");
  EXPECT_EQ(error_of(R"(max_share_gap{role="prod"} < 0.1)"),
            "max_share_gap takes no role (only guarantee_miss_seconds, limit_violation_seconds "
            "and limit_use_ratio do)");
  EXPECT_EQ(error_of(R"(guarantee_miss_seconds{team="x"} < 1)"),
            "expected {role=\"NAME\"} after guarantee_miss_seconds");
  EXPECT_EQ(error_of(R"(guarantee_miss_seconds{role=x} < 1)"),
            "expected a quoted role name in {role=\"NAME\"}");
  EXPECT_EQ(error_of(R"(guarantee_miss_seconds{role="x} < 1)"), "unterminated role name");
  EXPECT_EQ(error_of(R"(guarantee_miss_seconds{role=""} < 1)"), "the role name is empty");
}

TEST(sim_assert, values_come_from_the_figures) {
  figures f;
  f.limit_violation_seconds = 0;
  f.guarantee_miss_seconds = 12;
  f.guarantee_miss_by_role = {{"prod/web", 12}, {"prod", 0}};
  f.limit_use_by_role = {{"dev", 1.0}, {"research", 0.5}};
  f.util_seconds = 10;
  f.cpu_util_sum = 8;  // 0.8 on average
  double v = 0;
  std::string error;
  ASSERT_TRUE(figure_value(parsed("cpu_utilisation > 0.5"), f, v, error));
  EXPECT_DOUBLE_EQ(v, 0.8);
  ASSERT_TRUE(figure_value(parsed(R"(guarantee_miss_seconds{role="prod/web"} < 60)"), f, v, error));
  EXPECT_EQ(v, 12);
  ASSERT_TRUE(figure_value(parsed("limit_use_ratio <= 1"), f, v, error));
  EXPECT_EQ(v, 1.0);  // The largest over roles.
  EXPECT_FALSE(figure_value(parsed(R"(guarantee_miss_seconds{role="dev"} < 60)"), f, v, error));
  EXPECT_EQ(error, "role 'dev' has no guarantee in the policy (roles with one: prod, prod/web)");
  // No locality offers: the ratio is undefined, and no comparison holds.
  ASSERT_TRUE(figure_value(parsed("rack_local_ratio > 0.5"), f, v, error));
  EXPECT_TRUE(std::isnan(v));
  EXPECT_FALSE(holds(parsed("rack_local_ratio > 0.5"), v));
  EXPECT_FALSE(holds(parsed("rack_local_ratio != 0.5"), v));
  EXPECT_EQ(format_value(v), "n/a");
}

TEST(sim_assert, comparisons) {
  EXPECT_TRUE(holds(parsed("tasks_lost == 0"), 0));
  EXPECT_FALSE(holds(parsed("tasks_lost == 0"), 1));
  EXPECT_TRUE(holds(parsed("tasks_lost != 0"), 1));
  EXPECT_TRUE(holds(parsed("max_share_gap < 0.1"), 0.0999));
  EXPECT_FALSE(holds(parsed("max_share_gap < 0.1"), 0.1));
  EXPECT_TRUE(holds(parsed("max_share_gap <= 0.1"), 0.1));
  EXPECT_TRUE(holds(parsed("cpu_utilisation > 0.5"), 0.51));
  EXPECT_FALSE(holds(parsed("cpu_utilisation >= 0.5"), 0.49));
  EXPECT_EQ(format_value(0.00604167123), "0.00604167");
  EXPECT_EQ(format_value(412), "412");
}

}  // namespace
}  // namespace agora::main::sim
