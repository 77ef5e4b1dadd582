#pragma once

#include <memory>
#include <vector>

#include "agora/policy/bytecode.hpp"
#include "agora/policy/checker.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/schema.hpp"

namespace agora::policy {

/// The output of `compile`: a program when there are no errors.
struct compile_result {
  std::shared_ptr<const program> prog;  ///< Null on errors.
  std::vector<diagnostic> diagnostics;  ///< E09xx: what the compiler cannot lower.

  /// Returns true if a program was produced.
  bool ok() const { return prog != nullptr; }
};

/// Lowers a checked policy (`checked.ok()`) to bytecode: every order key,
/// filter, score, `every cycle` metric and locality condition (guard, each
/// level's `when` and `wait`) becomes a rule whose value is computed by the
/// chunk of its stage. Subexpressions are hoisted to the smallest stage
/// covering their inputs, constant-folded and shared (CSE); aggregates over
/// `roles`/`frameworks`/`agents` become one ITER loop each. `source` is the
/// main file (for diagnostics); `schema` gives custom resources (ids from 4
/// on). List literals of at most 7 string literals and resource literals
/// with constant amounts become vector constants (LOADV). Constructs not
/// lowered yet are reported as E0901 with their range: other list literals,
/// `in` other than a string in a list of strings, nested aggregates,
/// aggregates over `role.frameworks`/`agent.tasks`/`framework.pending`,
/// indexing, string concatenation and ordering, `contains`, resource
/// literals with computed amounts, `offer` fields other than `res` and
/// `locality`, `task` fields other than `res` and `runtime`. `on EVENT`
/// metrics compile to the event chunk (their rules numbered after all
/// others); `on preempt` ones are skipped (no preemption yet), and an event
/// metric that reads role, framework or agent values is E0901. E0902: more than 256 registers of
/// a kind.
/// Never throws.
compile_result compile(const check_result& checked, const source_file& source,
                       const schema* schema = nullptr);

/// Returns the resource names by id for `schema` (built-ins, then custom).
std::vector<std::string> resource_names(const schema* schema);

}  // namespace agora::policy
