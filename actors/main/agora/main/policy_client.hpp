#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace agora::main {

/// Returns true for the `agora policy` verbs that talk to a running master
/// (`apply`, `status`, `rollback`, `explain`).
bool is_remote_policy_verb(const std::string& verb);

/// Runs `agora policy apply|status|rollback|explain ...` (`args[0]` is the verb)
/// against the master's HTTP operator endpoints (`--master HOST:PORT`, the
/// master's HTTP address). Exit status: 0 done, 1 refused or unreachable
/// (diagnostics printed; the running policy stays), 2 bad usage.
int run_policy_remote(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::main
