#include "agora/test/monitoring_files.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agora/test/promql.hpp"
#include "agora/test/temp_dir.hpp"

#ifndef AGORA_SOURCE_DIR
#define AGORA_SOURCE_DIR "."
#endif

namespace agora::test {

namespace {

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

std::size_t indentation(const std::string& line) {
  auto at = line.find_first_not_of(' ');
  return at == std::string::npos ? line.size() : at;
}

// Returns the string member `name` of `v`, or "".
std::string string_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// Returns the selector of `label_values(<selector>, label)`, or "" when
// `query` has another form (`label_values(label)`, `query_result(...)`).
std::string label_values_selector(const std::string& query) {
  std::string q = trim(query);
  const std::string head = "label_values(";
  if (q.compare(0, head.size(), head) != 0 || q.back() != ')') return {};
  std::string inner = q.substr(head.size(), q.size() - head.size() - 1);
  // The label is after the last comma outside braces and quotes.
  int depth = 0;
  bool quoted = false;
  std::size_t comma = std::string::npos;
  for (std::size_t i = 0; i < inner.size(); ++i) {
    char c = inner[i];
    if (c == '"' && (i == 0 || inner[i - 1] != '\\')) quoted = !quoted;
    if (quoted) continue;
    if (c == '{' || c == '(') ++depth;
    if (c == '}' || c == ')') --depth;
    if (c == ',' && depth == 0) comma = i;
  }
  return comma == std::string::npos ? std::string() : trim(inner.substr(0, comma));
}

// Returns a variable's query text: a string, or an object's `query`.
std::string variable_query(const rapidjson::Value& var) {
  auto it = var.FindMember("query");
  if (it == var.MemberEnd()) return {};
  if (it->value.IsString()) return it->value.GetString();
  return string_member(it->value, "query");
}

}  // namespace

std::string source_path(const std::string& relative) {
  const char* env = std::getenv("AGORA_SOURCE_DIR");
  std::string root = env != nullptr && *env != '\0' ? env : AGORA_SOURCE_DIR;
  return root + "/" + relative;
}

std::vector<std::string> dashboard_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json")
      files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string dashboard_query::describe() const {
  return file + "#" + std::to_string(panel_id) + " \"" + panel_title + "\" " + ref_id + ": " +
         raw_expr;
}

std::vector<dashboard_query> dashboard_queries(const std::string& dir,
                                               const std::map<std::string, std::string>& values,
                                               std::string* error) {
  std::vector<dashboard_query> out;
  std::string problems;
  for (auto& path : dashboard_files(dir)) {
    std::string file = std::filesystem::path(path).filename().string();
    rapidjson::Document doc;
    doc.Parse(read_file(path).c_str());
    if (doc.HasParseError() || !doc.IsObject()) {
      problems += file + ": not a JSON object; ";
      continue;
    }
    std::string uid = string_member(doc, "uid");
    auto add = [&](int id, std::string title, std::string ref, std::string raw) {
      dashboard_query q;
      q.file = file;
      q.dashboard_uid = uid;
      q.panel_id = id;
      q.panel_title = std::move(title);
      q.ref_id = std::move(ref);
      q.expr = substitute_variables(raw, values);
      q.raw_expr = std::move(raw);
      out.push_back(std::move(q));
    };
    auto panels = doc.FindMember("panels");
    if (panels != doc.MemberEnd() && panels->value.IsArray()) {
      for (auto& panel : panels->value.GetArray()) {
        if (!panel.IsObject()) continue;
        auto id = panel.FindMember("id");
        int panel_id = id != panel.MemberEnd() && id->value.IsInt() ? id->value.GetInt() : 0;
        auto targets = panel.FindMember("targets");
        if (targets == panel.MemberEnd() || !targets->value.IsArray()) continue;
        for (auto& t : targets->value.GetArray()) {
          std::string expr = string_member(t, "expr");
          if (!expr.empty())
            add(panel_id, string_member(panel, "title"), string_member(t, "refId"), expr);
        }
      }
    }
    auto templating = doc.FindMember("templating");
    if (templating != doc.MemberEnd() && templating->value.IsObject()) {
      auto list = templating->value.FindMember("list");
      if (list != templating->value.MemberEnd() && list->value.IsArray()) {
        for (auto& var : list->value.GetArray()) {
          if (string_member(var, "type") != "query") continue;
          std::string selector = label_values_selector(variable_query(var));
          if (!selector.empty()) add(0, "variable " + string_member(var, "name"), "", selector);
        }
      }
    }
  }
  if (error != nullptr) *error = problems;
  return out;
}

std::vector<prometheus_rule> prometheus_rules(const std::string& path) {
  std::vector<prometheus_rule> rules;
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string text = trim(lines[i]);
    if (text.compare(0, 2, "- ") == 0) text = trim(text.substr(2));
    for (const char* kind : {"record", "alert"}) {
      std::string key = std::string(kind) + ":";
      if (text.compare(0, key.size(), key) == 0) {
        rules.push_back({kind, trim(text.substr(key.size())), "", 0});
      }
    }
    if (text.compare(0, 5, "expr:") != 0 || rules.empty()) continue;
    auto& rule = rules.back();
    rule.line = static_cast<int>(i + 1);
    std::string value = trim(text.substr(5));
    if (value.empty() || value[0] == '|' || value[0] == '>') {
      // A block: the following lines indented deeper than `expr:`.
      bool folded = !value.empty() && value[0] == '>';
      std::size_t key_indent =
          indentation(lines[i]) + (trim(lines[i]).compare(0, 2, "- ") == 0 ? 2 : 0);
      std::string block;
      std::size_t j = i + 1;
      for (; j < lines.size(); ++j) {
        if (trim(lines[j]).empty()) {
          block += "\n";
          continue;
        }
        if (indentation(lines[j]) <= key_indent) break;
        if (!block.empty() && block.back() != '\n') block += folded ? " " : "\n";
        block += trim(lines[j]);
      }
      rule.expr = trim(block);
      i = j - 1;
    } else {
      if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0])
        value = value.substr(1, value.size() - 2);
      rule.expr = value;
    }
  }
  return rules;
}

std::vector<contract_metric> metric_contract(const std::string& path, std::string* error) {
  std::vector<contract_metric> out;
  std::string problems;
  std::ifstream in(path);
  if (!in) problems = "cannot read " + path + "; ";
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields;
    std::istringstream parts(text);
    for (std::string field; std::getline(parts, field, '|');) fields.push_back(trim(field));
    if (fields.size() != 5) {
      problems += "line " + std::to_string(number) + ": not 5 fields; ";
      continue;
    }
    out.push_back({fields[0], fields[1], fields[2], fields[3], fields[4]});
  }
  if (error != nullptr) *error = problems;
  return out;
}

std::vector<std::string> contract_series_names(const std::vector<contract_metric>& contract) {
  std::vector<std::string> names;
  for (auto& m : contract) {
    names.push_back(m.name);
    if (m.type == "histogram")
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.push_back(m.name + suffix);
  }
  return names;
}

}  // namespace agora::test
