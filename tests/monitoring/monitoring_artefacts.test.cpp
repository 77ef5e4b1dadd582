// Checks of the monitoring artefacts: every Grafana dashboard is a valid
// dashboard model, every query (dashboards and Prometheus rules) selects
// only metrics of the contract or series the rules record, every alert has
// firing and silent promtool unit tests, and docs/monitoring.md describes
// every metric and alert.

#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include <unistd.h>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "agora/test/child_process.hpp"
#include "agora/test/monitoring_files.hpp"
#include "agora/test/promql.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

std::string dashboards_dir() { return source_path("observability/grafana/dashboards"); }
std::string rules_path() { return source_path("observability/prometheus/agora-rules.yml"); }
std::string alert_tests_path() {
  return source_path("observability/prometheus/tests/alerts_test.yml");
}
std::string contract_path() { return source_path("observability/prometheus/metric-contract.txt"); }

// Returns every series name a query may select: the contract's, the
// recorded ones of agora-rules.yml.
std::set<std::string> allowed_names() {
  auto names = contract_series_names(metric_contract(contract_path()));
  std::set<std::string> allowed(names.begin(), names.end());
  for (auto& rule : prometheus_rules(rules_path()))
    if (rule.kind == "record") allowed.insert(rule.name);
  return allowed;
}

bool is_int(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsInt();
}

int get_int(const rapidjson::Value& v, const char* name) {
  return is_int(v, name) ? v[name].GetInt() : -1;
}

std::string get_string(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// True if `ds` points at the dashboard's `datasource` variable.
bool uses_datasource_variable(const rapidjson::Value& panel_or_target) {
  auto it = panel_or_target.FindMember("datasource");
  if (it == panel_or_target.MemberEnd()) return false;
  if (it->value.IsString()) return std::string(it->value.GetString()) == "${datasource}";
  return get_string(it->value, "uid") == "${datasource}" &&
         get_string(it->value, "type") == "prometheus";
}

struct parsed_dashboard {
  std::string file;
  rapidjson::Document doc;
};

std::vector<std::unique_ptr<parsed_dashboard>> load_dashboards() {
  std::vector<std::unique_ptr<parsed_dashboard>> out;
  for (auto& path : dashboard_files(dashboards_dir())) {
    auto d = std::make_unique<parsed_dashboard>();
    d->file = std::filesystem::path(path).filename().string();
    d->doc.Parse(read_file(path).c_str());
    out.push_back(std::move(d));
  }
  return out;
}

TEST(dashboards, the_six_dashboards_exist) {
  std::set<std::string> files;
  for (auto& path : dashboard_files(dashboards_dir()))
    files.insert(std::filesystem::path(path).filename().string());
  for (const char* name : {"agora-overview.json", "agora-roles.json", "agora-agents.json",
                           "agora-tasks.json", "agora-policy.json", "agora-master.json"})
    EXPECT_EQ(files.count(name), 1u) << name << " is missing in " << dashboards_dir();
  EXPECT_TRUE(std::filesystem::exists(
      source_path("observability/grafana/provisioning/dashboards/agora.yml")));
  EXPECT_TRUE(std::filesystem::exists(
      source_path("observability/grafana/provisioning/datasources/prometheus.yml")));
}

TEST(dashboards, every_file_is_a_valid_dashboard_model) {
  auto dashboards = load_dashboards();
  ASSERT_FALSE(dashboards.empty());
  std::map<std::string, std::string> uids;  // uid -> file
  for (auto& d : dashboards) {
    SCOPED_TRACE(d->file);
    ASSERT_FALSE(d->doc.HasParseError()) << "offset " << d->doc.GetErrorOffset();
    ASSERT_TRUE(d->doc.IsObject());
    auto& doc = d->doc;
    EXPECT_FALSE(get_string(doc, "title").empty());
    std::string uid = get_string(doc, "uid");
    EXPECT_FALSE(uid.empty());
    EXPECT_LE(uid.size(), 40u) << "Grafana uids have at most 40 characters";
    auto [at, fresh] = uids.emplace(uid, d->file);
    EXPECT_TRUE(fresh) << "uid " << uid << " is also used by " << at->second;
    EXPECT_GE(get_int(doc, "schemaVersion"), 36);

    // Template variables: a Prometheus data source variable, names unique.
    std::set<std::string> variables;
    ASSERT_TRUE(doc.HasMember("templating") && doc["templating"].HasMember("list") &&
                doc["templating"]["list"].IsArray());
    bool datasource = false;
    for (auto& var : doc["templating"]["list"].GetArray()) {
      std::string name = get_string(var, "name");
      EXPECT_FALSE(name.empty());
      EXPECT_TRUE(variables.insert(name).second) << "variable " << name << " defined twice";
      if (name == "datasource") {
        datasource =
            get_string(var, "type") == "datasource" && get_string(var, "query") == "prometheus";
      } else if (get_string(var, "type") == "query") {
        EXPECT_TRUE(uses_datasource_variable(var)) << "variable " << name;
      }
    }
    EXPECT_TRUE(datasource) << "no `datasource` variable of type datasource (prometheus)";

    // Panels: id, type, title, gridPos, datasource, targets with an expr.
    ASSERT_TRUE(doc.HasMember("panels") && doc["panels"].IsArray());
    ASSERT_FALSE(doc["panels"].Empty());
    std::set<int> ids;
    struct box {
      int x, y, w, h;
      std::string title;
    };
    std::vector<box> boxes;
    for (auto& panel : doc["panels"].GetArray()) {
      std::string title = get_string(panel, "title");
      SCOPED_TRACE("panel \"" + title + "\"");
      ASSERT_TRUE(panel.IsObject());
      EXPECT_FALSE(title.empty());
      ASSERT_TRUE(is_int(panel, "id"));
      EXPECT_TRUE(ids.insert(get_int(panel, "id")).second) << "panel id used twice";
      EXPECT_FALSE(get_string(panel, "type").empty());
      ASSERT_TRUE(panel.HasMember("gridPos") && panel["gridPos"].IsObject());
      auto& grid = panel["gridPos"];
      for (const char* key : {"x", "y", "w", "h"}) EXPECT_TRUE(is_int(grid, key)) << key;
      box b{get_int(grid, "x"), get_int(grid, "y"), get_int(grid, "w"), get_int(grid, "h"), title};
      EXPECT_GE(b.x, 0);
      EXPECT_GE(b.y, 0);
      EXPECT_GT(b.w, 0);
      EXPECT_GT(b.h, 0);
      EXPECT_LE(b.x + b.w, 24) << "wider than Grafana's 24 columns";
      for (auto& other : boxes)
        EXPECT_FALSE(b.x < other.x + other.w && other.x < b.x + b.w && b.y < other.y + other.h &&
                     other.y < b.y + b.h)
            << "overlaps panel \"" << other.title << "\"";
      boxes.push_back(b);
      EXPECT_TRUE(uses_datasource_variable(panel)) << "datasource is not ${datasource}";
      ASSERT_TRUE(panel.HasMember("targets") && panel["targets"].IsArray());
      EXPECT_FALSE(panel["targets"].Empty());
      std::set<std::string> refs;
      for (auto& t : panel["targets"].GetArray()) {
        EXPECT_FALSE(get_string(t, "expr").empty());
        std::string ref = get_string(t, "refId");
        EXPECT_FALSE(ref.empty());
        EXPECT_TRUE(refs.insert(ref).second) << "refId " << ref << " used twice";
        if (t.HasMember("datasource")) {
          EXPECT_TRUE(uses_datasource_variable(t));
        }
      }
    }
  }
}

TEST(dashboards, every_variable_used_is_defined_and_matched_as_a_regex) {
  auto dashboards = load_dashboards();
  std::map<std::string, std::set<std::string>> defined;  // file -> variables
  for (auto& d : dashboards) {
    ASSERT_TRUE(d->doc.IsObject()) << d->file;
    for (auto& var : d->doc["templating"]["list"].GetArray())
      defined[d->file].insert(get_string(var, "name"));
  }
  auto queries = dashboard_queries(dashboards_dir());
  ASSERT_FALSE(queries.empty());
  for (auto& q : queries) {
    for (auto& name : template_variables(q.raw_expr)) {
      if (name.compare(0, 2, "__") == 0) continue;  // Grafana's own
      EXPECT_EQ(defined[q.file].count(name), 1u)
          << "$" << name << " is not a variable of " << q.file << ": " << q.describe();
      // "All" is `.*`, and several values are `a|b`: only `=~`/`!~` match them.
      std::regex equality("[^=!~]=\\s*\"\\$\\{?" + name + "\\b|!=\\s*\"\\$\\{?" + name + "\\b");
      EXPECT_FALSE(std::regex_search(q.raw_expr, equality))
          << "$" << name << " in an equality matcher: " << q.describe();
    }
    EXPECT_EQ(q.expr.find('$'), std::string::npos) << "left unsubstituted: " << q.expr;
  }
}

TEST(dashboards, queries_select_only_contract_metrics_and_recorded_series) {
  auto allowed = allowed_names();
  auto queries = dashboard_queries(dashboards_dir());
  ASSERT_FALSE(queries.empty());
  for (auto& q : queries) {
    auto names = promql_metric_names(q.expr);
    EXPECT_FALSE(names.empty()) << "selects no metric: " << q.describe();
    for (auto& name : names)
      EXPECT_EQ(allowed.count(name), 1u)
          << name << " is neither in the metric contract nor recorded: " << q.describe();
  }
}

TEST(dashboards, queries_are_valid_promql) {
  if (access("/usr/bin/promtool", X_OK) != 0)
    GTEST_SKIP() << "/usr/bin/promtool is missing (apt-get install prometheus)";
  // promtool parses every expression of a rule file: one recording rule
  // per query (with variables substituted).
  auto queries = dashboard_queries(dashboards_dir());
  ASSERT_FALSE(queries.empty());
  std::ostringstream rules;
  rules << "groups:\n  - name: dashboard-queries\n    rules:\n";
  for (std::size_t i = 0; i < queries.size(); ++i) {
    std::string expr = queries[i].expr;
    std::string indented;
    for (char c : expr) indented += c == '\n' ? std::string("\n          ") : std::string(1, c);
    rules << "      - record: dashboard:query_" << i << ":check\n"
          << "        expr: |\n          " << indented << "\n";
  }
  temp_dir dir;
  auto path = dir.write("queries.yml", rules.str());
  child_process promtool;
  std::string error;
  ASSERT_TRUE(promtool.start("/usr/bin/promtool", {"check", "rules", path}, {}, &error)) << error;
  auto status = promtool.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << promtool.describe();
  EXPECT_EQ(*status, 0) << promtool.stdout_text() << promtool.stderr_text();
}

TEST(rules, expressions_select_only_contract_metrics_and_recorded_series) {
  auto allowed = allowed_names();
  auto rules = prometheus_rules(rules_path());
  ASSERT_GT(rules.size(), 10u);
  std::set<std::string> recorded;
  for (auto& rule : rules) {
    SCOPED_TRACE(rule.kind + " " + rule.name + " (line " + std::to_string(rule.line) + ")");
    EXPECT_FALSE(rule.expr.empty());
    for (auto& name : promql_metric_names(rule.expr))
      EXPECT_EQ(allowed.count(name), 1u) << name << " is neither in the contract nor recorded";
    if (rule.kind != "record") continue;
    EXPECT_TRUE(recorded.insert(rule.name).second) << "recorded twice";
    // level:metric:operations with the level `agora`.
    EXPECT_TRUE(std::regex_match(rule.name, std::regex("agora:[a-z0-9_]+:[a-z0-9_]+")))
        << "not agora:<metric>:<operations>";
  }
}

TEST(rules, the_requested_alerts_exist) {
  std::set<std::string> alerts;
  for (auto& rule : prometheus_rules(rules_path()))
    if (rule.kind == "alert") alerts.insert(rule.name);
  for (const char* name :
       {"AgoraNoLeader", "AgoraLeaderFlapping", "AgoraAgentsUnreachable", "AgoraTasksFailing",
        "AgoraRoleBelowGuarantee", "AgoraAllocationCycleSlow", "AgoraStatusUpdatesUnacknowledged",
        "AgoraPolicyReloadFailed", "AgoraPolicyEvalErrors"})
    EXPECT_EQ(alerts.count(name), 1u) << name;
}

TEST(rules, every_alert_has_firing_and_silent_unit_tests) {
  // In alerts_test.yml each `alertname: X` line is followed by
  // `exp_alerts: []` (silent) or `exp_alerts:` with a list (firing).
  std::ifstream in(alert_tests_path());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty()) << alert_tests_path();
  std::map<std::string, std::pair<int, int>> cases;  // alert -> (firing, silent)
  std::regex alertname("^\\s*alertname:\\s*(\\S+)\\s*$");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(lines[i], m, alertname)) continue;
    std::string next = lines[i + 1];
    next.erase(0, next.find_first_not_of(' '));
    if (next.rfind("exp_alerts: []", 0) == 0) {
      ++cases[m[1]].second;
    } else if (next.rfind("exp_alerts:", 0) == 0) {
      ++cases[m[1]].first;
    }
  }
  for (auto& rule : prometheus_rules(rules_path())) {
    if (rule.kind != "alert") continue;
    EXPECT_GE(cases[rule.name].first, 1) << rule.name << " has no firing case";
    EXPECT_GE(cases[rule.name].second, 1) << rule.name << " has no silent case";
  }
}

TEST(contract, is_well_formed_and_documented_in_monitoring_md) {
  std::string error;
  auto contract = metric_contract(contract_path(), &error);
  EXPECT_EQ(error, "");
  ASSERT_GT(contract.size(), 50u);
  std::string doc = read_file(source_path("docs/monitoring.md"));
  ASSERT_FALSE(doc.empty()) << "docs/monitoring.md is missing";
  std::set<std::string> names;
  for (auto& m : contract) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name << " listed twice";
    EXPECT_TRUE(m.type == "counter" || m.type == "gauge" || m.type == "histogram") << m.name;
    EXPECT_TRUE(m.exposed_by == "master" || m.exposed_by == "agent" || m.exposed_by == "both" ||
                m.exposed_by == "prometheus")
        << m.name;
    // Counters end in `_total`, by the Prometheus naming conventions.
    EXPECT_EQ(m.type == "counter",
              m.name.size() > 6 && m.name.compare(m.name.size() - 6, 6, "_total") == 0)
        << m.name;
    EXPECT_NE(doc.find("`" + m.name + "`"), std::string::npos)
        << m.name << " is not described in docs/monitoring.md";
  }
  for (auto& rule : prometheus_rules(rules_path())) {
    if (rule.kind != "alert") continue;
    EXPECT_NE(doc.find(rule.name), std::string::npos)
        << "alert " << rule.name << " is not described in docs/monitoring.md";
  }
}

}  // namespace
}  // namespace agora::test
