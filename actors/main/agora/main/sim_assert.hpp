#pragma once

#include <string>
#include <vector>

#include "agora/main/sim_engine.hpp"

/// `agora policy sim --assert EXPR`: checks on the figures of a simulation,
/// `NAME [{role="R"}] OP NUMBER [after DURATION]` (docs/policy-sim.md).
namespace agora::main::sim {

/// A comparison of an assertion.
enum class compare_op { eq, ne, lt, le, gt, ge };

/// One parsed assertion.
struct assertion {
  std::string text;    ///< As written.
  std::string figure;  ///< A name of `figure_names()`.
  std::string role;    ///< The `{role="..."}` label; empty: none.
  compare_op op = compare_op::eq;
  double number = 0;
  millis after = 0;  ///< The figure is computed over cycles at or after this time.
};

/// Returns the figure names assertions accept, sorted.
const std::vector<std::string>& figure_names();

/// Returns true if figure `name` accepts a `{role="..."}` label (figures
/// kept per role with a limit or a guarantee).
bool figure_takes_role(const std::string& name);

/// Parses `text`. False with `error` (naming the problem, not the
/// assertion) on bad syntax, an unknown figure or a label it does not take.
bool parse_assertion(const std::string& text, assertion& out, std::string& error);

/// Returns the value of `a`'s figure in `f` (the window starting at
/// `a.after`): NaN when undefined (no locality offers, no tasks); false with
/// `error` when the role has no limit or guarantee to measure.
bool figure_value(const assertion& a, const figures& f, double& value, std::string& error);

/// Returns true if `value` satisfies `a` (never for NaN).
bool holds(const assertion& a, double value);

/// Returns `value` for messages: up to 6 significant digits, `n/a` for NaN.
std::string format_value(double value);

}  // namespace agora::main::sim
