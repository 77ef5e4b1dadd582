#include "agora/test/promql.hpp"

#include <gtest/gtest.h>

#include "agora/test/monitoring_files.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {
namespace {

using names = std::vector<std::string>;

TEST(promql_metric_names, finds_selectors_and_skips_functions_and_keywords) {
  EXPECT_EQ(promql_metric_names("up"), names{"up"});
  EXPECT_EQ(promql_metric_names("agora:tasks_failed:rate5m > 0.2"),
            names{"agora:tasks_failed:rate5m"});
  EXPECT_EQ(
      promql_metric_names(
          "histogram_quantile(0.99, sum by (job, instance, le) "
          "(rate(agora_allocator_cycle_duration_seconds_bucket{job=\"agora-master\"}[5m])))"
          " > on (job, instance) agora_allocator_interval_seconds"),
      (names{"agora_allocator_cycle_duration_seconds_bucket", "agora_allocator_interval_seconds"}));
  // Aggregations with the modifier first or last, `without`, `topk`'s
  // parameter, `bool`, `group_left` with labels, `offset`, numbers.
  EXPECT_EQ(promql_metric_names("sum without (instance) (a) + sum(b) by (role) / "
                                "topk(10, c) * on (x) group_left (y, z) d == bool 1e-3"),
            (names{"a", "b", "c", "d"}));
  EXPECT_EQ(promql_metric_names("e unless e offset 10m and f or g offset -5m"),
            (names{"e", "f", "g"}));
  // Strings, label values that look like names, comments and Inf.
  EXPECT_EQ(
      promql_metric_names("label_replace(h{state=~\"TASK_FAILED|TASK_LOST\"} > Inf, \"resource\", "
                          "\"cpus\", \"\", \"\") # not_a_metric\n or NaN"),
      names{"h"});
  // Subqueries and `@`.
  EXPECT_EQ(promql_metric_names("max_over_time(deriv(i[5m:30s])[1h:]) @ end()"), names{"i"});
  EXPECT_TRUE(promql_metric_names("vector(0) + time()").empty());
}

TEST(template_variables, finds_every_form) {
  EXPECT_EQ(template_variables("a{role=~\"$role\",instance=~\"${agent:regex}\"}[$__rate_interval] "
                               "[[handler]] $role"),
            (names{"role", "agent", "__rate_interval", "handler"}));
  // `$1` is a `label_replace` group, not a variable.
  EXPECT_TRUE(template_variables("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")").empty());
}

TEST(substitute_variables, uses_given_values_then_defaults) {
  EXPECT_EQ(substitute_variables("rate(x{role=~\"$role\"}[$__rate_interval])"),
            "rate(x{role=~\".*\"}[1m])");
  EXPECT_EQ(substitute_variables("x{instance=~\"${agent}\"}[$__range]", {{"agent", "a1:5051"}}),
            "x{instance=~\"a1:5051\"}[1h]");
  EXPECT_EQ(substitute_variables("x[[role]]y", {{"role", "web"}}), "xweby");
  EXPECT_EQ(substitute_variables("no variables"), "no variables");
}

TEST(prometheus_rules, reads_single_line_and_block_expressions) {
  temp_dir dir;
  auto path = dir.write("rules.yml",
                        "groups:\n"
                        "  - name: g\n"
                        "    rules:\n"
                        "      - record: agora:a:sum\n"
                        "        expr: sum(a)\n"
                        "      - alert: B\n"
                        "        # a comment\n"
                        "        expr: |\n"
                        "          b\n"
                        "          > 1\n"
                        "        for: 1m\n"
                        "      - record: agora:c:max\n"
                        "        expr: 'max(c{x=\"y\"})'\n");
  auto rules = prometheus_rules(path);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].kind, "record");
  EXPECT_EQ(rules[0].name, "agora:a:sum");
  EXPECT_EQ(rules[0].expr, "sum(a)");
  EXPECT_EQ(rules[0].line, 5);
  EXPECT_EQ(rules[1].kind, "alert");
  EXPECT_EQ(rules[1].name, "B");
  EXPECT_EQ(rules[1].expr, "b\n> 1");
  EXPECT_EQ(rules[2].expr, "max(c{x=\"y\"})");
}

TEST(metric_contract, reads_entries_and_reports_malformed_lines) {
  temp_dir dir;
  auto path = dir.write("contract.txt",
                        "# comment\n"
                        "a_total | counter | master | x, y | As\n"
                        "\n"
                        "b_seconds | histogram | agent | - | Bs\n"
                        "broken | gauge\n");
  std::string error;
  auto contract = metric_contract(path, &error);
  ASSERT_EQ(contract.size(), 2u);
  EXPECT_EQ(contract[0].name, "a_total");
  EXPECT_EQ(contract[0].labels, "x, y");
  EXPECT_EQ(contract[1].type, "histogram");
  EXPECT_EQ(error, "line 5: not 5 fields; ");
  EXPECT_EQ(contract_series_names(contract), (names{"a_total", "b_seconds", "b_seconds_bucket",
                                                    "b_seconds_sum", "b_seconds_count"}));
}

TEST(dashboard_queries, reads_targets_and_variable_selectors) {
  temp_dir dir;
  dir.write("b.json",
            R"json({"uid": "b", "panels": [
                  {"id": 3, "title": "T", "targets": [
                    {"refId": "A", "expr": "rate(x{role=~\"$role\"}[$__rate_interval])"},
                    {"refId": "B", "expr": ""}]},
                  {"id": 4, "title": "Text"}],
                "templating": {"list": [
                  {"name": "datasource", "type": "datasource", "query": "prometheus"},
                  {"name": "role", "type": "query",
                   "query": {"query": "label_values(y{job=\"a,b\"}, role)"}}]}})json");
  dir.write("a.json", "not json");
  std::string error;
  auto queries = dashboard_queries(dir.path(), {{"role", "web"}}, &error);
  EXPECT_EQ(error, "a.json: not a JSON object; ");
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].file, "b.json");
  EXPECT_EQ(queries[0].dashboard_uid, "b");
  EXPECT_EQ(queries[0].panel_id, 3);
  EXPECT_EQ(queries[0].ref_id, "A");
  EXPECT_EQ(queries[0].expr, "rate(x{role=~\"web\"}[1m])");
  EXPECT_EQ(queries[1].panel_title, "variable role");
  EXPECT_EQ(queries[1].expr, "y{job=\"a,b\"}");
}

}  // namespace
}  // namespace agora::test
