#pragma once

#include <map>
#include <string>
#include <vector>

/// Readers of the monitoring artefacts in the source tree (Grafana
/// dashboards, Prometheus rules, the metric contract), for tests that check
/// them and for integration tests that run their queries through a real
/// Prometheus (see `prometheus_server`).

namespace agora::test {

/// Returns the path of `relative` in the source tree: under the environment
/// variable `AGORA_SOURCE_DIR` when set, else under the source directory
/// compiled in (CMake's `PROJECT_SOURCE_DIR`).
std::string source_path(const std::string& relative);

/// Returns the `*.json` files in `dir`, full paths, sorted; none if `dir`
/// cannot be read.
std::vector<std::string> dashboard_files(const std::string& dir);

/// One PromQL query of a dashboard: a panel's target, or a template
/// variable's `label_values(<selector>, label)` selector.
struct dashboard_query {
  /// The dashboard's file name, e.g. `agora-overview.json`.
  std::string file;
  /// The dashboard's `uid`.
  std::string dashboard_uid;
  /// The panel's `id`; 0 for a template variable.
  int panel_id = 0;
  /// The panel's title, or `variable <name>`.
  std::string panel_title;
  /// The target's `refId` ("" for a variable).
  std::string ref_id;
  /// The query as written in the dashboard.
  std::string raw_expr;
  /// The query with template variables substituted (`substitute_variables`
  /// with `values`), ready for `/api/v1/query`.
  std::string expr;

  /// Returns `file#panel_id "title" refId: expr`, for failure messages.
  std::string describe() const;
};

/// Returns every query of every dashboard in `dir` (see `dashboard_files`):
/// each panel's targets with an `expr`, then the selectors of the template
/// variables of type `query` written as `label_values(selector, label)`.
/// Variables are replaced by `values[name]` when given, else as
/// `substitute_variables` does (`.*` for `$role`, `1m` for
/// `$__rate_interval`, ...). Files that do not parse are skipped and named
/// in `error` (when given).
std::vector<dashboard_query> dashboard_queries(
    const std::string& dir, const std::map<std::string, std::string>& values = {},
    std::string* error = nullptr);

/// One rule of a Prometheus rule file.
struct prometheus_rule {
  /// `record` or `alert`.
  std::string kind;
  /// The recorded series' name or the alert's name.
  std::string name;
  /// The PromQL expression (a `|` block joined with newlines).
  std::string expr;
  /// The line of `expr:` (1-based).
  int line = 0;
};

/// Returns the rules of the rule file at `path`, read line by line rather
/// than by a YAML parser: `record:` or `alert:` starts a rule, and `expr:`
/// is a single line (optionally quoted) or a `|`/`>` block indented deeper
/// than the key. Returns none if the file cannot be read.
std::vector<prometheus_rule> prometheus_rules(const std::string& path);

/// One metric of the metric contract.
struct contract_metric {
  std::string name;
  /// `counter`, `gauge` or `histogram`.
  std::string type;
  /// `master`, `agent`, `both` or `prometheus`.
  std::string exposed_by;
  /// The labels as written (`-` for none).
  std::string labels;
  std::string meaning;
};

/// Returns the metrics of the contract file at `path`
/// (observability/prometheus/metric-contract.txt): one per line,
/// `name | type | exposed by | labels | meaning`, `#` comments. Lines
/// that do not have five fields (or an unreadable file) are named in
/// `error` (when given; "" when all is well).
std::vector<contract_metric> metric_contract(const std::string& path, std::string* error = nullptr);

/// Returns the series names `contract` allows a query to select: each
/// metric's name, and for a histogram also `<name>_bucket`, `_sum` and
/// `_count`.
std::vector<std::string> contract_series_names(const std::vector<contract_metric>& contract);

}  // namespace agora::test
