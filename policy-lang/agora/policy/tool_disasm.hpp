#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "agora/policy/checker.hpp"
#include "agora/policy/compiler.hpp"
#include "agora/policy/schema.hpp"

namespace agora::policy {

/// A policy file loaded, checked and compiled (heap-allocated so pointers
/// into `checked` stay valid, e.g. for an `oracle`).
struct loaded_policy {
  std::optional<source_file> source;
  std::optional<policy::schema> schema;  ///< `schema_path`, or cluster.schema next to the file.
  check_result checked;
  compile_result compiled;
  std::vector<diagnostic> diagnostics;  ///< Schema, checker and compiler diagnostics.
  std::string error;                    ///< Set when a file cannot be read.
};

/// Loads `path` (and `schema_path`, or `cluster.schema` in its folder when
/// empty and present), checks and compiles it. Never throws.
std::unique_ptr<loaded_policy> load_policy(const std::string& path,
                                           const std::string& schema_path = {});

/// Runs `agora policy disasm FILE [--schema S]`: prints the bytecode listing
/// with the program hash; exit 0, 1 on errors (diagnostics printed), 2 on
/// bad usage.
int run_policy_disasm(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace agora::policy
