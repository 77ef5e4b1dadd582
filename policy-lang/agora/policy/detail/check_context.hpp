#pragma once

// Private to the checker: shared state of one `check_policy` run and the
// expression checker. Not part of the library's API.

#include <array>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agora/policy/ast.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/schema.hpp"
#include "agora/policy/source.hpp"

namespace agora::policy::detail {

/// A `let` or `fn` visible by name (from the main file or an import).
struct let_entry {
  ast::let_decl* decl = nullptr;
  const source_file* file = nullptr;
  bool main_file = false;
  enum class state { unchecked, checking, done } status = state::unchecked;
  type result;                         ///< For parameterless lets.
  policy::stage st = stage::constant;  ///< For parameterless lets.
  int uses = 0;
  /// For a checked parameterless let: the levels its value adds below a use
  /// once every definition in it is inlined (what the compiler, the cost
  /// model and the oracle recurse through), and the definitions nested in
  /// it, itself included. Every later use is bounded with these.
  size_t inlined_height = 0;
  size_t levels = 0;
  // The cost model's memo (checker.cpp): the units of the value's own nodes
  // (without the lets it reads, which are computed once each), and the lets
  // it reads directly.
  bool costed = false;
  std::array<double, 7> own_cost{};
  std::vector<size_t> reads;
  size_t cost_mark = 0;  ///< The last rule whose cost counted this let.
};

/// What a rule may read: the highest stage allowed and its name for messages.
struct rule_scope {
  std::string rule;  ///< E.g. "`order roles`".
  policy::stage allowed = stage::pair;
  std::string event;       ///< For `on EVENT` metrics.
  std::string phase_help;  ///< Why the phase forbids more.
};

/// A variable bound by an aggregate or a parameter.
struct local {
  std::string name;
  type ty;
  policy::stage st = stage::constant;
  ast::name_ref ref = ast::name_ref::bound;
  double cardinality = -1;  ///< For a parameter: its argument's known size.
};

/// State shared by all checks of one run.
struct check_state {
  /// `let`s and `fn` calls nested in each other (E0103 beyond): each level
  /// costs the checker, the compiler and the oracle a few stack frames.
  static constexpr size_t max_definition_depth = 64;
  /// Levels of an expression once its lets and calls are inlined (E0103
  /// beyond): the depth of every recursion over checked expressions.
  static constexpr size_t max_inlined_height = 1024;

  const policy::schema* schema = nullptr;
  std::map<std::string, int64_t> limits;
  std::set<std::string> modules;  ///< `use`d std modules.
  std::vector<let_entry> lets;
  std::map<std::string, size_t> let_index;
  std::vector<diagnostic> diagnostics;
  std::vector<size_t> expanding;  ///< Lets being checked (recursion detection).
  size_t instantiations = 0;      ///< Generic calls checked so far (E0407 budget).
  size_t inlined_nodes = 0;       ///< Nodes copied into calls so far (E0407 budget).
  bool blowup_reported = false;
  size_t depth = 0;        ///< Nodes on the path being checked, definitions inlined.
  size_t peak_depth = 0;   ///< Deepest `depth` reached, memoized lets included.
  size_t peak_levels = 0;  ///< Most definitions nested (`expanding.size()`), likewise.
  bool too_deep_reported = false;
  size_t cost_rules = 0;  ///< Rules costed so far (marks lets counted per rule).
  /// Lets the cost model may still follow rule by rule; past that, a rule
  /// is charged every let once (an upper bound), so sharing cannot make the
  /// estimate quadratic.
  size_t cost_let_visits_left = 2000000;
  size_t suggestions_left = 500;  ///< "Did you mean" searches left (bounds work).

  /// Returns the closest candidate to `name`, or empty; after many searches
  /// returns empty, so hostile input cannot make suggestions quadratic.
  std::string closest(std::string_view name, const std::vector<std::string>& candidates) {
    if (suggestions_left == 0) return {};
    --suggestions_left;
    return closest_name(name, candidates);
  }

  void report(const source_file& file, std::string_view code, source_range range,
              std::string message, std::string help = {}) {
    diagnostics.push_back(make_diagnostic(file, code, range, std::move(message), std::move(help)));
  }
};

/// Types and stages expressions, resolving names against the domain, the
/// schema, std modules and `let`/`fn` definitions. Annotates nodes in place.
class expr_checker {
 public:
  expr_checker(check_state& state, const source_file& file) : state_(state), file_(file) {}

  /// Checks `e` in `scope` and returns its type (also stored in `e.ty`).
  type check(ast::expr& e, const rule_scope& scope);

  /// Checks a parameterless `let` (memoized) and returns its type.
  type check_let(let_entry& entry, source_range use);

  /// Checks the definition of a generic `fn`/`let`, with parameters typed by
  /// their annotations (or as unknown), so mistakes in functions nobody
  /// calls are reported too and the definition itself is annotated.
  void check_generic_body(let_entry& entry);

  /// Returns true if `e` is a number literal without a unit (maybe negated).
  static bool is_plain_number(const ast::expr& e);

  /// Returns the statically known size of collection `e`, or -1.
  double cardinality(const ast::expr& e) const;

 private:
  type visit(ast::expr& e);
  type name(ast::expr& e);
  type member(ast::expr& e);
  type call(ast::expr& e);
  type call_let(ast::expr& e, let_entry& entry);
  type method(ast::expr& e, const type& object);
  type binary(ast::expr& e);
  type aggregate(ast::expr& e);
  type literal(ast::expr& e);
  /// Unifies operands of `+`, `-`, comparisons and branches; reports E0302/E0305.
  type unify(ast::expr& l, ast::expr& r, const type& lt, const type& rt, ast::expr& at,
             const std::string& verb);
  bool require_non_optional(ast::expr& e);
  /// Returns true if inlining `name` here, adding `levels` definitions and
  /// `height` levels below the current node, stays within
  /// `max_definition_depth` and `max_inlined_height`; reports E0103 (once
  /// per run) otherwise.
  bool within_limits(source_range use, const std::string& name, size_t levels, size_t height);
  /// Records what `cond` proves present (`has(x)`), for narrowing; with
  /// `negated`, what it proves when false (`!has(x) || ...`).
  void collect_guards(const ast::expr& cond, bool negated);
  void check_phase(ast::expr& e, policy::stage st, const std::string& what);
  type resource_type(const std::string& name, bool ratios) const;
  std::vector<std::string> resource_names() const;
  bool is_resource(const std::string& name) const;
  void report(std::string_view code, source_range range, std::string message,
              std::string help = {}) {
    state_.report(file_, code, range, std::move(message), std::move(help));
  }

  check_state& state_;
  const source_file& file_;
  const rule_scope* scope_ = nullptr;
  std::vector<local> locals_;
  std::vector<std::string> narrowed_;  ///< Canonical texts proven present by `has()`.
};

}  // namespace agora::policy::detail
