#pragma once

#include <map>
#include <string>
#include <vector>

/// Small, dependency-free helpers for reading PromQL in tests: which metric
/// names an expression selects, and Grafana's template variables in it.
/// They lex PromQL (strings, label matchers, ranges, comments, keywords);
/// they do not check its grammar (`promtool check rules` does).

namespace agora::test {

/// Returns the metric names an expression selects, in order of first
/// appearance, each once: identifiers that are not functions (followed by
/// `(`), aggregations (`sum`, `topk`, ...), operators (`and`, `or`,
/// `unless`, `bool`, `atan2`), grouping modifiers with their label lists
/// (`by (...)`, `on (...)`, `group_left (...)`, ...), `offset` durations,
/// `inf` or `nan`. Label matchers, strings, range and subquery brackets and
/// comments are skipped. Selecting by `{__name__=...}` is not recognised.
std::vector<std::string> promql_metric_names(const std::string& expr);

/// Returns the names of the Grafana template variables used in `text`
/// (`$name`, `${name}`, `${name:format}`, `[[name]]`), in order of first
/// appearance, each once; Grafana's own (`__rate_interval`, ...) included.
std::vector<std::string> template_variables(const std::string& text);

/// Returns `text` with every template variable replaced: by `values[name]`
/// when given, else Grafana's built-ins by fixed durations
/// (`$__rate_interval` 1m, `$__interval` 15s, `$__range` 1h, `$__range_s`
/// 3600) and any other variable by `.*` (the value of "All" in a regex
/// matcher, so `role=~"$role"` matches every role).
std::string substitute_variables(const std::string& text,
                                 const std::map<std::string, std::string>& values = {});

}  // namespace agora::test
