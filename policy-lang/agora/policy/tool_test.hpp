#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace agora::policy {

/// Runs `agora policy test PATH...`: every `test` block in the given files
/// (or in the `.policy` files of a given folder). Supported so far:
/// `expect compile_error "CODE" for "SOURCE"` (SOURCE is checked and
/// compiled as the body of a policy, with the `cluster.schema` next to the
/// test file when present; the expectation holds when a diagnostic has
/// CODE). Tests using other `given`/`expect` steps (fixtures, allocations,
/// `expect order`, `expect offer`) are reported as not run, with the step
/// that is not supported yet. Prints one line per test and
/// `N passed, M failed, K not run`; exit 0 only when every test passed,
/// 1 otherwise, 2 on bad usage (no PATH, unknown flag, a PATH that does not
/// exist).
int run_policy_test(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::policy
