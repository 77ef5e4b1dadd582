#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agora/policy/checker.hpp"
#include "agora/policy/compiler.hpp"
#include "agora/policy/eval_input.hpp"
#include "agora/policy/schema.hpp"

/// What the allocation runtime reads from a policy's declarations beyond its
/// bytecode (roles, guarantees mode, locality levels), and loading a policy
/// into something the runtime can run.
namespace agora::policy {

/// One role of the tree, as a policy's `roles { ... }` declares it.
struct role_spec {
  std::string path;  ///< `prod/web`.
  double weight = 1;
  std::optional<res_vec> guarantee;  ///< Resources not named are 0.
  std::optional<res_vec> limit;      ///< Resources not named are unlimited (infinity).
  bool preemptible = false;
};

/// One locality level, as declared.
struct level_spec {
  std::string name;
  bool skips = false;  ///< Its `wait` counts skipped opportunities, not time.
};

/// A metric the policy declares (POLICY-LANGUAGE.md section 9).
struct metric_spec {
  enum class kind { counter, gauge, histogram } what = kind::gauge;
  std::string name;  ///< `agora_policy_...`.
  std::string help;
  std::vector<std::string> labels;
  std::vector<double> buckets;  ///< Histograms, in base units.
  bool every_cycle = true;      ///< Else updated `on` an event.
  std::string event;            ///< `offer`, `decline`, ... for event metrics.
};

/// The declarations of a checked policy: the roles it declares (its
/// imports' first, then its own; parents before children), the `default`
/// body used for roles that are not declared, the guarantees mode and the
/// locality levels (most local first).
struct policy_outline {
  std::vector<role_spec> roles;
  role_spec fallback;  ///< `default { ... }`, or weight 1 without quotas.
  /// `guarantees hold_headroom;`: unmet guarantees are kept free (Mesos
  /// before 1.9). Default `best_effort`: guarantees only order roles.
  bool hold_headroom = false;
  std::vector<level_spec> levels;
  std::vector<metric_spec> metrics;

  /// Returns the declaration of role `path` (the last one: the policy's own
  /// after its imports'), or `fallback` for a role the policy does not declare.
  const role_spec& spec_for(const std::string& path) const;

  /// Reads `checked` (which must be `ok()`); `resources` names the resource
  /// ids (`resource_names`).
  static policy_outline from(const check_result& checked,
                             const std::vector<std::string>& resources);
};

/// A policy loaded from text or a file: checked, compiled and outlined.
struct policy_load {
  std::shared_ptr<const program> prog;  ///< Null on errors.
  policy_outline outline;
  std::vector<diagnostic> diagnostics;  ///< Schema, checker and compiler diagnostics.
  std::string error;                    ///< A file could not be read.
  std::string source_text;              ///< The policy's own text.

  /// Returns true if the policy compiled.
  bool ok() const { return prog != nullptr; }
  /// Returns the error diagnostics rendered with their source lines
  /// (`file:line:col: error[E0302]: ...`), and `error` if set.
  std::string render_errors() const;
};

/// Loads, checks and compiles the policy file `path` against `schema_path`
/// (or `cluster.schema` next to the policy when empty and present).
policy_load load_policy_file(const std::string& path, const std::string& schema_path = {});

/// Checks and compiles policy `text` named `name` (for diagnostics) against
/// the schema text `schema_text` (none when empty). Imports are resolved
/// relative to `name`'s folder.
policy_load load_policy_text(const std::string& name, const std::string& text,
                             const std::string& schema_text = {});

}  // namespace agora::policy
