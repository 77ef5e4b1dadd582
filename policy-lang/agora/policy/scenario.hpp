#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agora/policy/bytecode.hpp"
#include "agora/policy/checker.hpp"
#include "agora/policy/eval_input.hpp"
#include "agora/policy/vm.hpp"

/// The allocation semantics a compiled policy is evaluated under
/// (POLICY-LANGUAGE.md section 2), over a small explicit cluster: the
/// hierarchical role order, the framework order, the per-pair decision
/// (filters, locality, scores) and limit clipping. CAF-free; used by
/// `agora policy test` and meant to be the reference the allocator's policy
/// adapter is tested against.
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

/// What a scenario needs from a policy's declarations beyond its bytecode:
/// the roles it declares (its imports' first, then its own; parents before
/// children), the `default` body used for roles that are not declared, and
/// the locality levels (levels without `when`/`wait` have no rule).
struct policy_outline {
  std::vector<role_spec> roles;
  role_spec fallback;  ///< `default { ... }`, or weight 1 without quotas.
  std::vector<level_spec> levels;

  /// Reads `checked` (which must be `ok()`); `resources` names the resource
  /// ids (`resource_names`).
  static policy_outline from(const check_result& checked,
                             const std::vector<std::string>& resources);
};

/// A framework of a scenario: its view plus the path of its role.
struct scenario_framework {
  framework_view view;  ///< `view.role` is filled in by `scenario`.
  std::string role;     ///< Role path.
  /// The locality level the framework is at, or empty to derive it from
  /// `view.waiting` and the levels' waits (delay scheduling).
  std::string level;
};

/// What a test (or the simulator) gives: agents, frameworks and the current
/// allocation per role path (beyond what the frameworks hold).
struct cluster_spec {
  std::vector<agent_view> agents;
  std::vector<scenario_framework> frameworks;
  std::map<std::string, res_vec> role_allocation;
};

/// The outcome for one (framework, agent) pair.
struct pair_decision {
  bool accepted = false;          ///< Every filter holds.
  std::string rejected_by;        ///< First failing filter (`fits`), or empty.
  std::string level;              ///< The most local level the agent matches, or empty.
  bool level_ok = true;           ///< The framework's level allows this agent.
  double score = 0;               ///< Weighted sum of the scores.
  res_vec offer{};  ///< Agent's free resources clipped to the role's headroom; 0 if not offered.
  /// Accepted, level allowed, and the clipped offer is not empty and still
  /// holds the framework's `min_request` (else the smallest task could not
  /// use it, and offering it would only cause a decline).
  bool offered = false;
  std::map<std::string, rule_value> rules;  ///< Every filter and score by name (`fits`).
};

/// A compiled policy evaluated over one cluster state (one allocation cycle,
/// without progressive filling: the state does not change between calls).
///
/// Roles: every declared role, plus every role a framework or the allocation
/// names (with the `default` body), plus their ancestors. A role's
/// `allocated` is its own plus its descendants'; `below_guarantee` is true
/// when some guaranteed resource is allocated below its guarantee; `active`
/// when the role or a descendant has a framework; `fair_share` is the
/// weighted share `weight / sum of active siblings' weights`, times the
/// parent's, for active roles (0 otherwise); `demand` is the sum of its
/// frameworks' `min_request`. The cluster's `total`/`free` sum the agents'.
class scenario {
 public:
  scenario(std::shared_ptr<const program> prog, const policy_outline& outline,
           cluster_spec cluster);
  scenario(const scenario&) = delete;
  scenario& operator=(const scenario&) = delete;

  /// Returns the evaluated input (roles by index, frameworks, agents).
  const eval_input& input() const { return in_; }
  /// Returns the index of the role with path `path`, or -1.
  int role_index(const std::string& path) const;
  /// Returns the index of framework `id`, or -1.
  int framework_index(const std::string& id) const;
  /// Returns the index of agent `id`, or -1.
  int agent_index(const std::string& id) const;

  /// Returns the roles that frameworks are served from, in offer order:
  /// siblings are sorted by the `order roles` keys within each parent
  /// (depth first), and a role that has both frameworks and children is
  /// served as a sibling of its children. Ties after the keys are broken by
  /// path. A key that errs or is absent sorts last.
  std::vector<std::string> role_order();
  /// Returns every framework in offer order: by role order, then by the
  /// `order frameworks` keys within each role, then by id.
  std::vector<std::string> framework_order();

  /// Decides the pair: filters (all evaluated), locality, scores and the
  /// offer clipped to `headroom` of the framework's role.
  pair_decision decide(size_t framework, size_t agent);
  /// Returns the agents offered to `framework`, best score first (ties by
  /// agent order).
  std::vector<std::string> candidates(size_t framework);
  /// Returns what role `role` may still be allocated: `limit - allocated`
  /// along the path to the root, per resource (infinity where no limit
  /// applies, never below 0).
  res_vec headroom(size_t role) const;
  /// Returns the level name framework `framework` is at (empty when the
  /// policy has no locality or the framework's guard is false).
  std::string level(size_t framework);
  /// Returns the value of the `every cycle` metric `name`: for a metric
  /// that reads `role`, the value for role `role` (which must be given);
  /// otherwise `role` must be empty. Null with `error` set otherwise.
  std::optional<rule_value> metric(const std::string& name, const std::string& role,
                                   std::string& error);
  /// Returns the names of the policy's locality levels, most local first.
  const std::vector<std::string>& levels() const { return level_names_; }

 private:
  using key = std::vector<rule_value>;
  using rule_kind = decltype(rule_info::what);
  size_t add_role(const std::string& path, const policy_outline& outline);
  stage_regs framework_regs(size_t framework);
  key read_keys(rule_kind kind) const;
  bool before(const key& a, const key& b, rule_kind kind) const;
  void order_siblings(int parent, std::vector<std::string>& out);
  int level_index(size_t framework);  // -1: no locality constraint.
  int loaded_level_index(size_t framework);  // The same, with its registers just prepared.
  int rule_named(rule_kind kind, const std::string& name) const;

  std::shared_ptr<const program> prog_;
  vm vm_;
  eval_input in_;
  std::vector<int> parent_;                    // Per role index.
  std::vector<std::vector<size_t>> children_;  // Per role index.
  std::vector<bool> has_frameworks_;           // Directly.
  std::vector<std::string> level_names_;
  std::vector<bool> level_skips_;
  std::vector<int> level_when_, level_wait_;  // Rule index per level, -1 if none.
  int guard_rule_ = -1;
  std::vector<std::string> fw_level_;  // Given level per framework.
};

/// Builds the agents of a named cluster fixture: `R_racks_N_agents` (R and
/// N digits or `one` ... `twelve`), N agents `a1`..`aN` with 32 cpus,
/// 128 GiB of memory and 1 TiB of disk each, spread round robin over racks
/// `r1`..`rR`, two racks per zone (`z1` holds r1 and r2). Returns false if
/// `name` is not a fixture name.
bool cluster_fixture(const std::string& name, std::vector<agent_view>& agents);

}  // namespace agora::policy
