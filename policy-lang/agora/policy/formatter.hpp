#pragma once

#include <string>

#include "agora/policy/ast.hpp"
#include "agora/policy/source.hpp"

namespace agora::policy {

/// Options for `format`.
struct format_options {
  size_t max_width = 100;  ///< Longer rules are broken at `||`/`&&`, keys, entries.
};

/// Returns the canonical text of `file` (parsed from `source`): two-space
/// indentation, one statement per line, normalized spacing and string
/// escapes, the user's parentheses kept, comments kept (leading comments on
/// their own lines, trailing comments after their statement) and single
/// blank lines kept between top-level items. Formatting the result again
/// returns it unchanged.
std::string format(const ast::file& file, const source_file& source,
                   const format_options& options = {});

/// Returns the canonical spelling of an expression (one line).
std::string format_expr(const ast::expr& e);

/// Returns `value` as a string literal with `"` and `\` escaped.
std::string quote_string(const std::string& value);

}  // namespace agora::policy
