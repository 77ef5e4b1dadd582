#pragma once

#include <optional>
#include <vector>

#include "agora/policy/ast.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/source.hpp"

namespace agora::policy {

/// Limits that keep parsing bounded on hostile input (cel-cpp style).
struct parse_options {
  size_t max_bytes = 256 * 1024;   ///< Larger input: E0102, nothing parsed.
  int max_nesting = 64;            ///< Deeper brackets/conditionals: E0103.
  int max_errors = 20;             ///< After this many errors: E0104, stop.
  uint32_t max_expr_height = 256;  ///< Taller expression trees: E0103.
};

/// The result of parsing: the AST when the file is syntactically valid
/// (no E01xx error), and the diagnostics found so far.
struct parse_result {
  std::optional<ast::file> file;
  std::vector<diagnostic> diagnostics;
};

/// Parses a policy, schema or test file. Never throws and never prints;
/// every problem becomes a diagnostic. An empty or comment-only file parses
/// as an empty test file.
parse_result parse(const source_file& source, const parse_options& options = {});

/// Returns the decoded value of a string literal's source spelling
/// (`"a\"b"` gives `a"b`).
std::string decode_string(const std::string& spelling);

}  // namespace agora::policy
