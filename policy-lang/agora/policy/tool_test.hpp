#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace agora::policy {

/// Runs `agora policy test PATH...`: every `test` block in the given files
/// (or in the `.policy` files of a given folder), each on its own scenario
/// (`scenario.hpp`) built from its `given` steps:
///
/// * `given policy "FILE"` (relative to the test file; checked and compiled
///   with the `cluster.schema` next to it), `given cluster fixture "NAME"`,
///   `given agent "ID" {...}`, `given framework "ID" {...}`,
///   `given allocation {"ROLE-OR-FRAMEWORK": {cpus: .., mem: ..}, ...}`;
/// * `expect order roles|frameworks == [...]` (or `starts_with`),
///   `expect compile_error "CODE" for "SOURCE"` (SOURCE is checked and
///   compiled as the body of a policy), and `expect EXPR` over the test
///   functions `offer`, `offered`, `passes`, `score`, `locality`, `level`,
///   `best_agent`, `candidates`, `headroom` and `metric`.
///
/// docs/policy-testing.md describes every step and function. A failing step
/// ends its test with `FILE:LINE:COL: why` (the values compared, or what is
/// wrong with the step). Prints one line per test and `N passed, M failed`;
/// exit 0 when every test passed, 1 otherwise, 2 on bad usage (no PATH,
/// unknown flag, a PATH that does not exist).
int run_policy_test(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::policy
