#include "agora/test/promql.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace agora::test {

namespace {

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}

bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Returns the index after the string literal that starts at `i` (a `"`,
// `'` or backquote), or `s.size()` when it is not closed.
std::size_t skip_string(const std::string& s, std::size_t i) {
  char quote = s[i];
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\' && quote != '`') {
      ++i;
    } else if (s[i] == quote) {
      return i + 1;
    }
  }
  return s.size();
}

// Returns the index after the bracketed group that opens at `i` (strings
// inside skipped, nesting counted), or `s.size()` when it is not closed.
std::size_t skip_group(const std::string& s, std::size_t i) {
  const char open = s[i];
  const char close = open == '(' ? ')' : open == '{' ? '}' : ']';
  int depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(s, i);
      continue;
    }
    if (c == open) ++depth;
    if (c == close && --depth == 0) return i + 1;
    ++i;
  }
  return s.size();
}

std::size_t skip_space(const std::string& s, std::size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
  return i;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const std::set<std::string>& aggregations() {
  static const std::set<std::string> names = {
      "sum",   "min",  "max",          "avg",     "group",    "stddev", "stdvar",
      "count", "topk", "count_values", "bottomk", "quantile", "limitk", "limit_ratio"};
  return names;
}

const std::set<std::string>& grouping_modifiers() {
  static const std::set<std::string> names = {"by",       "without",    "on",
                                              "ignoring", "group_left", "group_right"};
  return names;
}

const std::set<std::string>& keywords() {
  static const std::set<std::string> names = {"and", "or", "unless", "bool", "atan2", "inf", "nan"};
  return names;
}

// Grafana's built-in variables and the durations they stand for in tests.
const std::map<std::string, std::string>& builtins() {
  static const std::map<std::string, std::string> values = {
      {"__rate_interval", "1m"}, {"__interval", "15s"},     {"__range", "1h"},
      {"__range_s", "3600"},     {"__range_ms", "3600000"}, {"__interval_ms", "15000"}};
  return values;
}

// One template variable reference found at `begin`, `length` characters.
struct reference {
  std::size_t begin;
  std::size_t length;
  std::string name;
};

// Returns the template variable references in `text`, left to right.
std::vector<reference> references(const std::string& text) {
  std::vector<reference> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      auto close = text.find('}', i + 2);
      if (close == std::string::npos) break;
      std::string inner = text.substr(i + 2, close - i - 2);
      out.push_back({i, close + 1 - i, inner.substr(0, inner.find(':'))});
      i = close + 1;
    } else if (text[i] == '$' && i + 1 < text.size() && word_char(text[i + 1]) &&
               std::isdigit(static_cast<unsigned char>(text[i + 1])) == 0) {
      // `$1` is a regex group in `label_replace`, not a variable.
      std::size_t j = i + 1;
      while (j < text.size() && word_char(text[j])) ++j;
      out.push_back({i, j - i, text.substr(i + 1, j - i - 1)});
      i = j;
    } else if (text.compare(i, 2, "[[") == 0) {
      auto close = text.find("]]", i + 2);
      if (close == std::string::npos) break;
      std::string inner = text.substr(i + 2, close - i - 2);
      bool name = !inner.empty() && std::all_of(inner.begin(), inner.end(),
                                                [](char c) { return word_char(c) || c == ':'; });
      if (name) out.push_back({i, close + 2 - i, inner.substr(0, inner.find(':'))});
      i = name ? close + 2 : i + 1;
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> promql_metric_names(const std::string& expr) {
  std::vector<std::string> names;
  const std::string& s = expr;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '#') {
      auto eol = s.find('\n', i);
      i = eol == std::string::npos ? s.size() : eol + 1;
    } else if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(s, i);
    } else if (c == '{' || c == '[') {
      i = skip_group(s, i);
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      // A number: 1, 0.5, 1e-3, 0x1f (and durations such as 5m).
      while (i < s.size() && (word_char(s[i]) || s[i] == '.')) {
        bool exponent = (s[i] == 'e' || s[i] == 'E') && i + 1 < s.size() &&
                        (s[i + 1] == '+' || s[i + 1] == '-');
        i += exponent ? 2 : 1;
      }
    } else if (ident_start(c)) {
      std::size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      std::string word = s.substr(i, j - i);
      std::string key = lower(word);
      std::size_t next = skip_space(s, j);
      i = j;
      if (grouping_modifiers().count(key) > 0) {
        if (next < s.size() && s[next] == '(') i = skip_group(s, next);
      } else if (key == "offset") {
        i = skip_space(s, j);
        if (i < s.size() && s[i] == '-') ++i;
        while (i < s.size() && word_char(s[i])) ++i;
      } else if (keywords().count(key) > 0 || aggregations().count(key) > 0) {
        // Not a metric.
      } else if (next < s.size() && s[next] == '(') {
        // A function call.
      } else if (std::find(names.begin(), names.end(), word) == names.end()) {
        names.push_back(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

std::vector<std::string> template_variables(const std::string& text) {
  std::vector<std::string> names;
  for (auto& ref : references(text))
    if (std::find(names.begin(), names.end(), ref.name) == names.end()) names.push_back(ref.name);
  return names;
}

std::string substitute_variables(const std::string& text,
                                 const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t at = 0;
  for (auto& ref : references(text)) {
    out.append(text, at, ref.begin - at);
    auto given = values.find(ref.name);
    auto builtin = builtins().find(ref.name);
    if (given != values.end()) {
      out += given->second;
    } else if (builtin != builtins().end()) {
      out += builtin->second;
    } else {
      out += ".*";
    }
    at = ref.begin + ref.length;
  }
  out.append(text, at, std::string::npos);
  return out;
}

}  // namespace agora::test
