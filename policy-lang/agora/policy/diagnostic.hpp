#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agora/policy/source.hpp"

namespace agora::policy {

/// How bad a diagnostic is: errors reject the policy, warnings do not.
enum class severity { error, warning };

/// One user-facing problem in a policy or schema file. Diagnostics are plain
/// data: they carry everything needed to render them (including the source
/// line), so they outlive the `source_file` they came from.
struct diagnostic {
  std::string code;  ///< Stable code, e.g. `E0305` or `W0801`.
  policy::severity severity = severity::error;
  std::string file;       ///< Display name of the file.
  source_range range;     ///< Byte range in the file.
  source_location begin;  ///< Line and column of `range.begin`.
  source_location end;    ///< Line and column of `range.end`.
  std::string line_text;  ///< Text of line `begin.line`.
  std::string message;    ///< One line, no trailing period.
  std::string help;       ///< Optional hint; empty when there is none.
};

/// A stable diagnostic code with its one-line title (documented in
/// docs/policy-errors.md).
struct code_info {
  std::string_view code;
  std::string_view title;
};

/// Returns every code the front end can emit, in order.
const std::vector<code_info>& all_codes();

/// Returns the severity of `code`: `W...` codes are warnings, others errors.
severity severity_of(std::string_view code);

/// Returns a diagnostic for `range` of `file` with `code`'s severity.
diagnostic make_diagnostic(const source_file& file, std::string_view code, source_range range,
                           std::string message, std::string help = {});

/// Returns a diagnostic that has no position (e.g. an unreadable file).
diagnostic make_file_diagnostic(const std::string& file, std::string_view code, std::string message,
                                std::string help = {});

/// Renders `d` as
/// ```
/// FILE:LINE:COL: error[CODE]: MESSAGE
///    |
/// 14 | the source line
///    |     ^~~~~
///    = help: HELP
/// ```
/// The first line's format is stable; golden tests depend on all of it.
std::string render(const diagnostic& d);

/// Renders every diagnostic in order, each followed by a newline.
std::string render_all(const std::vector<diagnostic>& diagnostics);

/// Returns true if any diagnostic is an error.
bool has_errors(const std::vector<diagnostic>& diagnostics);

/// Returns the edit distance between `a` and `b` (optimal string alignment:
/// insertions, deletions, substitutions and transpositions of adjacent
/// characters cost 1). Quadratic: see the bounded overload.
size_t edit_distance(std::string_view a, std::string_view b);

/// Returns the edit distance between `a` and `b` if it is at most `max`,
/// otherwise `max + 1`. Only the band of cells within `max` of the diagonal
/// is computed, and the work stops once every path exceeds `max`:
/// O(min(|a|, |b|) * max).
size_t edit_distance(std::string_view a, std::string_view b, size_t max);

/// Names longer than this get no "did you mean": nobody mistypes them, and
/// comparing them would be slow.
constexpr size_t max_suggested_name = 64;

/// Returns the candidate closest to `name` if it is close enough to be a
/// plausible misspelling (within a third of its length), or an empty string;
/// empty for names longer than `max_suggested_name`, and candidates longer
/// than that are skipped.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace agora::policy
