#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agora/policy/ast.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/parser.hpp"
#include "agora/policy/schema.hpp"
#include "agora/policy/source.hpp"

namespace agora::policy {

/// Static cost of one rule: units per instance of its stage and an estimate
/// per allocation cycle, using the schema's cardinality limits.
struct rule_cost {
  std::string rule;  ///< E.g. `filter fits`, `order roles`.
  std::string file;
  source_range range;
  policy::stage stage = stage::constant;  ///< Highest stage of the rule.
  double pair_units = 0;                  ///< Units evaluated per (framework, agent) pair.
  bool per_event = false;  ///< An `on EVENT` metric: costs are per event, not per cycle.
  double event_units = 0;  ///< Units per event, for `per_event` rules.
  double cycle_units = 0;  ///< Estimated units per cycle, all stages together.
  /// Units per instance of each stage, indexed by `stage` (what hoisting
  /// leaves to compute once per cycle, role, framework, agent, pair, event).
  std::array<double, 7> units_by_stage{};
};

/// One file that was imported (directly or not), checked and annotated.
struct checked_file {
  std::string path;
  std::shared_ptr<const source_file> source;
  ast::file ast;
};

/// The output of `check_policy`: the annotated AST (every expression carries
/// its type, unit and stage), the imported files, diagnostics and costs.
/// A compiler may consume `ast` when `ok()`.
struct check_result {
  std::optional<ast::file> ast;           ///< Set when the main file parsed.
  std::vector<checked_file> imports;      ///< Imported files, in load order.
  std::vector<diagnostic> diagnostics;    ///< Sorted by file and position.
  std::vector<rule_cost> costs;           ///< Per rule, in declaration order.
  std::map<std::string, int64_t> limits;  ///< Limits used for costs.
  bool limits_from_schema = false;

  /// Returns true if there are no errors (warnings allowed).
  bool ok() const { return ast.has_value() && !has_errors(diagnostics); }
};

/// Options for `check_policy`.
struct check_options {
  const policy::schema* schema = nullptr;  ///< Null: built-in domain only.
  parse_options parse;
  double pair_budget = 500;  ///< E0403 above this many units per pair.
  bool load_imports = true;  ///< Resolve `import` relative to the file.
};

/// Parses and checks `source`: names (E02xx), types and units (E03xx), cost
/// (E04xx), phases (E05xx), entitlements (E06xx), metrics (E07xx) and lints
/// (W08xx). Never throws. Schema and test files are parsed and validated.
check_result check_policy(const source_file& source, const check_options& options);

/// Same as `check_policy(source, {schema})`.
check_result check_policy(const source_file& source, const policy::schema* schema = nullptr);

/// Renders the cost report printed by `agora policy check`.
std::string render_costs(const check_result& result);

}  // namespace agora::policy
