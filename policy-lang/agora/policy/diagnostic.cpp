#include "agora/policy/diagnostic.hpp"

#include <algorithm>

namespace agora::policy {

const std::vector<code_info>& all_codes() {
  static const std::vector<code_info> codes = {
      {"E0101", "syntax error"},
      {"E0102", "input too large"},
      {"E0103", "nesting too deep"},
      {"E0104", "too many errors"},
      {"E0105", "invalid character or encoding"},
      {"E0106", "unknown unit"},
      {"E0107", "construct not supported yet"},
      {"E0108", "wrong kind of file"},
      {"E0201", "unknown identifier"},
      {"E0202", "unknown field, attribute, label or metric"},
      {"E0203", "unknown resource"},
      {"E0204", "unknown function or method"},
      {"E0205", "duplicate declaration"},
      {"E0206", "import cycle"},
      {"E0207", "unknown standard module"},
      {"E0208", "imported file cannot be read"},
      {"E0209", "unknown option, mode or event"},
      {"E0210", "import outside the policy's folder or not a regular file"},
      {"E0301", "type mismatch"},
      {"E0302", "unit mismatch"},
      {"E0303", "optional value used without `??` or `has()`"},
      {"E0304", "score is not a ratio"},
      {"E0305", "byte or duration literal without a unit"},
      {"E0306", "wrong number of arguments"},
      {"E0307", "weight must be positive"},
      {"E0308", "percentage above 100%"},
      {"E0309", "value must be a constant"},
      {"E0401", "recursive definition"},
      {"E0402", "aggregate over an unbounded collection"},
      {"E0403", "estimated cost above budget"},
      {"E0407", "definitions expand too much when inlined"},
      {"E0501", "data not available in this phase"},
      {"E0502", "`for` outside `preempt`"},
      {"E0601", "children's guarantees exceed the parent's"},
      {"E0602", "guarantee above limit"},
      {"E0603", "ports in a guarantee or limit"},
      {"E0604", "unknown resource in a quota"},
      {"E0605", "last locality level is conditional"},
      {"E0701", "invalid metric name"},
      {"E0702", "counter without `_total`"},
      {"E0703", "metric unit suffix mismatch"},
      {"E0704", "label without a bounded domain"},
      {"E0706", "invalid histogram buckets"},
      {"E0707", "invalid or duplicate label name"},
      {"E0708", "metric name collides with a built-in metric"},
      {"E0709", "label has no value where the metric is sampled"},
      {"W0801", "non-deterministic order"},
      {"W0802", "constant filter"},
      {"W0803", "unused definition"},
      {"W0804", "score with weight 0"},
      {"W0805", "decimal byte unit"},
      {"W0806", "high-cardinality label"},
  };
  return codes;
}

severity severity_of(std::string_view code) {
  return !code.empty() && code[0] == 'W' ? severity::warning : severity::error;
}

diagnostic make_diagnostic(const source_file& file, std::string_view code, source_range range,
                           std::string message, std::string help) {
  diagnostic d;
  d.code = std::string(code);
  d.severity = severity_of(code);
  d.file = file.name();
  d.range = range;
  d.begin = file.location(range.begin);
  d.end = file.location(std::max(range.end, range.begin));
  d.line_text = std::string(file.line_text(d.begin.line));
  d.message = std::move(message);
  d.help = std::move(help);
  return d;
}

diagnostic make_file_diagnostic(const std::string& file, std::string_view code, std::string message,
                                std::string help) {
  diagnostic d;
  d.code = std::string(code);
  d.severity = severity_of(code);
  d.file = file;
  d.message = std::move(message);
  d.help = std::move(help);
  return d;
}

std::string render(const diagnostic& d) {
  std::string out = d.file + ":" + std::to_string(d.begin.line) + ":" +
                    std::to_string(d.begin.column) + ": " +
                    (d.severity == severity::error ? "error" : "warning") + "[" + d.code +
                    "]: " + d.message + "\n";
  std::string number = std::to_string(d.begin.line);
  std::string pad(number.size() + 1, ' ');
  bool has_source = !(d.range.begin == 0 && d.range.end == 0 && d.line_text.empty());
  if (has_source) {
    // Long lines (e.g. minified input) are cut so output stays readable.
    constexpr size_t max_shown = 160;
    std::string line = d.line_text;
    size_t col = d.begin.column - 1;
    size_t shift = 0;
    if (line.size() > max_shown) {
      shift = col > 40 ? col - 40 : 0;
      line = line.substr(shift, max_shown);
    }
    for (auto& c : line)
      if (c == '\t') c = ' ';
    size_t width = 1;
    if (d.end.line == d.begin.line && d.end.column > d.begin.column)
      width = d.end.column - d.begin.column;
    else if (d.end.line != d.begin.line && d.line_text.size() > col)
      width = d.line_text.size() - col;
    size_t start = std::min(col - std::min(col, shift), line.size());
    width = std::max<size_t>(1, std::min(width, line.size() > start ? line.size() - start : 1));
    // Columns count bytes; the underline counts characters, so it stays
    // aligned under non-ASCII text.
    auto chars = [&](size_t from, size_t count) {
      size_t n = 0;
      for (size_t i = from; i < std::min(line.size(), from + count); ++i)
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++n;
      return n;
    };
    size_t start_chars = chars(0, start);
    size_t width_chars = std::max<size_t>(1, chars(start, width));
    out += pad + "|\n";
    out += number + " | " + line + "\n";
    out +=
        pad + "| " + std::string(start_chars, ' ') + "^" + std::string(width_chars - 1, '~') + "\n";
  }
  if (!d.help.empty()) out += pad + "= help: " + d.help + "\n";
  return out;
}

std::string render_all(const std::vector<diagnostic>& diagnostics) {
  std::string out;
  for (auto& d : diagnostics) out += render(d) + "\n";
  return out;
}

bool has_errors(const std::vector<diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const diagnostic& d) { return d.severity == severity::error; });
}

size_t edit_distance(std::string_view a, std::string_view b) {
  return edit_distance(a, b, std::max(a.size(), b.size()));
}

size_t edit_distance(std::string_view a, std::string_view b, size_t max) {
  // Optimal string alignment: insertions, deletions, substitutions and
  // transpositions of adjacent characters (`rakc` -> `rack` is 1) cost 1.
  // Three rolling rows: the one before the previous is needed for
  // transpositions. The distance is at least the difference in length, and
  // a cell more than `max` off the diagonal is more than `max`: only the
  // band `|i - j| <= max` is computed; cells beyond it read as `max + 1`.
  size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > max) return max + 1;
  const size_t over = max + 1;
  std::vector<size_t> before(m + 1, over), previous(m + 1, over), current(m + 1, over);
  for (size_t j = 0; j <= std::min(m, max); ++j) previous[j] = j;
  size_t previous_min = 0;
  for (size_t i = 1; i <= n; ++i) {
    size_t lo = i > max ? i - max : 1;
    size_t hi = std::min(m, i + max);
    current[lo - 1] = lo == 1 ? std::min(i, over) : over;
    size_t row_min = current[lo - 1];
    for (size_t j = lo; j <= hi; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t d = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d = std::min(d, before[j - 2] + 1);
      current[j] = std::min(d, over);
      row_min = std::min(row_min, current[j]);
    }
    if (hi < m) current[hi + 1] = over;  // The next row reads one past the band.
    // A row is at least the smaller of the row before and the one before
    // that plus one (a transposition): two rows past `max` end the search.
    if (row_min > max && previous_min > max) return over;
    previous_min = row_min;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[m], over);
}

std::string closest_name(std::string_view name, const std::vector<std::string>& candidates) {
  if (name.size() > max_suggested_name) return {};
  std::string best;
  // Suggestions are at most a third of the name's length away.
  size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
  for (auto& c : candidates) {
    if (c.size() > max_suggested_name) continue;
    // The distance is at least the difference in length: skip hopeless ones.
    size_t diff = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (diff >= best_distance) continue;
    size_t distance = edit_distance(name, c, best_distance - 1);
    if (distance < best_distance) {
      best_distance = distance;
      best = c;
    }
  }
  return best;
}

}  // namespace agora::policy
