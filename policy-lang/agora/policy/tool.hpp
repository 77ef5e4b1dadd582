#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace agora::policy {

/// Runs `agora policy VERB ...`; `args` start after `policy` (e.g.
/// `{"check", "quotas.policy", "--schema", "cluster.schema"}`).
///
/// * `check FILE [--schema S] [--no-costs]`: prints diagnostics and a cost
///   report. Without `--schema`, a `cluster.schema` in the policy's folder is
///   used when present. Exit 0 when there are no errors, 1 otherwise.
/// * `fmt FILE [--write | --check]`: prints the canonical formatting; with
///   `--write` rewrites FILE in place; with `--check` exits 1 if FILE is not
///   formatted. Exit 1 on syntax errors, and when the formatted text would
///   be larger than the parser's input limit (FILE is left untouched).
///
/// Bad usage (unknown verb or flag, missing file) prints a message naming the
/// problem to `err` and returns 2. Never throws.
int run_policy_tool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::policy
