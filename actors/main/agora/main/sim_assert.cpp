#include "agora/main/sim_assert.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace agora::main::sim {

namespace {

bool is_name_char(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; }

void skip_space(const std::string& s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

/// Reads the value of a per-role map: false with `error` if the role is
/// not measured there.
bool per_role(const std::map<std::string, double>& m, const assertion& a, const char* what,
              double& value, std::string& error) {
  auto it = m.find(a.role);
  if (it == m.end()) {
    std::string known;
    for (auto& [role, v] : m) known += (known.empty() ? "" : ", ") + role;
    error = "role '" + a.role + "' has no " + what +
            " in the policy (roles with one: " + (known.empty() ? "none" : known) + ")";
    return false;
  }
  value = it->second;
  return true;
}

}  // namespace

const std::vector<std::string>& figure_names() {
  static const std::vector<std::string> names = {"cpu_utilisation",
                                                 "guarantee_miss_seconds",
                                                 "limit_use_ratio",
                                                 "limit_violation_seconds",
                                                 "max_share_gap",
                                                 "mem_utilisation",
                                                 "offers",
                                                 "p50_queue_wait_seconds",
                                                 "p99_queue_wait_seconds",
                                                 "rack_local_ratio",
                                                 "tasks_finished",
                                                 "tasks_killed",
                                                 "tasks_launched",
                                                 "tasks_lost"};
  return names;
}

bool figure_takes_role(const std::string& name) {
  return name == "guarantee_miss_seconds" || name == "limit_violation_seconds" ||
         name == "limit_use_ratio";
}

bool parse_assertion(const std::string& text, assertion& out, std::string& error) {
  out = assertion{};
  out.text = text;
  size_t i = 0;
  skip_space(text, i);
  size_t start = i;
  while (i < text.size() && is_name_char(text[i])) ++i;
  out.figure = text.substr(start, i - start);
  if (out.figure.empty()) {
    error = "expected a figure name first (e.g. limit_violation_seconds)";
    return false;
  }
  auto& names = figure_names();
  if (std::find(names.begin(), names.end(), out.figure) == names.end()) {
    std::string known;
    for (auto& n : names) known += (known.empty() ? "" : ", ") + n;
    error = "unknown figure '" + out.figure + "' (known: " + known + ")";
    return false;
  }
  skip_space(text, i);
  if (i < text.size() && text[i] == '{') {
    // {role="x"}
    ++i;
    skip_space(text, i);
    size_t key_start = i;
    while (i < text.size() && is_name_char(text[i])) ++i;
    std::string key = text.substr(key_start, i - key_start);
    skip_space(text, i);
    if (key != "role" || i >= text.size() || text[i] != '=') {
      error = "expected {role=\"NAME\"} after " + out.figure;
      return false;
    }
    ++i;
    skip_space(text, i);
    if (i >= text.size() || text[i] != '"') {
      error = "expected a quoted role name in {role=\"NAME\"}";
      return false;
    }
    size_t close = text.find('"', i + 1);
    if (close == std::string::npos) {
      error = "unterminated role name";
      return false;
    }
    out.role = text.substr(i + 1, close - i - 1);
    i = close + 1;
    skip_space(text, i);
    if (i >= text.size() || text[i] != '}') {
      error = "expected '}' after the role name";
      return false;
    }
    ++i;
    if (out.role.empty()) {
      error = "the role name is empty";
      return false;
    }
    if (!figure_takes_role(out.figure)) {
      error = out.figure +
              " takes no role (only guarantee_miss_seconds, limit_violation_seconds and "
              "limit_use_ratio do)";
      return false;
    }
    skip_space(text, i);
  }
  static const std::pair<const char*, compare_op> ops[] = {
      {"==", compare_op::eq}, {"!=", compare_op::ne}, {"<=", compare_op::le},
      {">=", compare_op::ge}, {"<", compare_op::lt},  {">", compare_op::gt}};
  bool found = false;
  for (auto& [spelling, op] : ops) {
    std::string s = spelling;
    if (text.compare(i, s.size(), s) == 0) {
      out.op = op;
      i += s.size();
      found = true;
      break;
    }
  }
  if (!found) {
    error = "expected a comparison (==, !=, <, <=, >, >=) after " + out.figure;
    return false;
  }
  skip_space(text, i);
  size_t num_start = i;
  while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string number = text.substr(num_start, i - num_start);
  char* end = nullptr;
  errno = 0;
  double v = number.empty() ? 0 : std::strtod(number.c_str(), &end);
  if (number.empty() || errno != 0 || *end != '\0' || !std::isfinite(v)) {
    error = "expected a number after the comparison" +
            (number.empty() ? std::string() : ", not '" + number + "'");
    return false;
  }
  out.number = v;
  skip_space(text, i);
  if (i < text.size()) {
    size_t word_start = i;
    while (i < text.size() && is_name_char(text[i])) ++i;
    if (text.substr(word_start, i - word_start) != "after") {
      error = "unexpected '" + text.substr(word_start) + "' (only 'after DURATION' may follow)";
      return false;
    }
    skip_space(text, i);
    size_t d_start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::string duration = text.substr(d_start, i - d_start);
    std::string why;
    if (duration.empty() || !parse_time(duration, out.after, why)) {
      error = "after: " + (duration.empty() ? "missing duration (e.g. after 10min)" : why);
      return false;
    }
    skip_space(text, i);
    if (i < text.size()) {
      error = "unexpected '" + text.substr(i) + "' at the end";
      return false;
    }
  }
  return true;
}

bool figure_value(const assertion& a, const figures& f, double& value, std::string& error) {
  const auto& n = a.figure;
  if (n == "limit_violation_seconds")
    return a.role.empty() ? (value = f.limit_violation_seconds, true)
                          : per_role(f.limit_violation_by_role, a, "limit", value, error);
  if (n == "limit_use_ratio") {
    if (a.role.empty()) {
      value = 0;
      for (auto& [role, v] : f.limit_use_by_role) value = std::max(value, v);
      return true;
    }
    return per_role(f.limit_use_by_role, a, "limit", value, error);
  }
  if (n == "guarantee_miss_seconds")
    return a.role.empty() ? (value = f.guarantee_miss_seconds, true)
                          : per_role(f.guarantee_miss_by_role, a, "guarantee", value, error);
  if (n == "cpu_utilisation")
    value = f.cpu_utilisation();
  else if (n == "mem_utilisation")
    value = f.mem_utilisation();
  else if (n == "max_share_gap")
    value = f.max_share_gap;
  else if (n == "rack_local_ratio")
    value = f.rack_local_ratio();
  else if (n == "p50_queue_wait_seconds")
    value = f.p50_queue_wait_seconds;
  else if (n == "p99_queue_wait_seconds")
    value = f.p99_queue_wait_seconds;
  else if (n == "offers")
    value = static_cast<double>(f.offers);
  else if (n == "tasks_launched")
    value = static_cast<double>(f.tasks_launched);
  else if (n == "tasks_finished")
    value = static_cast<double>(f.tasks_finished);
  else if (n == "tasks_lost")
    value = static_cast<double>(f.tasks_lost);
  else if (n == "tasks_killed")
    value = static_cast<double>(f.tasks_killed);
  else {
    error = "unknown figure '" + n + "'";
    return false;
  }
  return true;
}

bool holds(const assertion& a, double value) {
  if (std::isnan(value)) return false;
  switch (a.op) {
    case compare_op::eq:
      return value == a.number;
    case compare_op::ne:
      return value != a.number;
    case compare_op::lt:
      return value < a.number;
    case compare_op::le:
      return value <= a.number;
    case compare_op::gt:
      return value > a.number;
    case compare_op::ge:
      return value >= a.number;
  }
  return false;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

}  // namespace agora::main::sim
