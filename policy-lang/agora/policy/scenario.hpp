#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agora/policy/allocation_core.hpp"
#include "agora/policy/bytecode.hpp"
#include "agora/policy/eval_input.hpp"
#include "agora/policy/policy_outline.hpp"
#include "agora/policy/vm.hpp"

/// Small explicit clusters for `agora policy test`: a fixture builder over
/// the allocation core (allocation_core.hpp), the engine the master runs.
/// Nothing here decides anything the core does not decide.
namespace agora::policy {

/// A framework of a scenario: its view plus the path of its role.
struct scenario_framework {
  framework_view view;  ///< `view.role` is ignored; `role` names it.
  std::string role;     ///< Role path.
  /// The locality level the framework is pinned to, or empty to derive it
  /// from `view.waiting` and the levels' waits (delay scheduling).
  std::string level;
};

/// What a test (or the simulator) gives: agents (with `used` held by tasks
/// outside the test), frameworks, and allocations held by roles beyond what
/// their frameworks hold (on agents outside the test).
struct cluster_spec {
  std::vector<agent_view> agents;
  std::vector<scenario_framework> frameworks;
  std::map<std::string, res_vec> role_allocation;
};

/// The outcome for one (framework, agent) pair.
struct pair_decision {
  bool accepted = false;    ///< Every filter holds.
  std::string rejected_by;  ///< First failing filter (`fits`), or empty.
  std::string level;        ///< The most local level the agent matches, or empty.
  bool level_ok = true;     ///< The framework's level allows this agent.
  double score = 0;         ///< Weighted sum of the scores.
  res_vec offer{};  ///< Agent's free resources clipped to the role's headroom; 0 if not offered.
  /// Accepted, level allowed, and the clipped offer is allocatable and
  /// still holds the framework's `min_request`.
  bool offered = false;
  std::map<std::string, rule_value> rules;  ///< Every filter and score by name (`fits`).
};

/// A compiled policy over one cluster state, evaluated by an
/// `allocation_core` that holds exactly the given agents, frameworks and
/// allocations. Queries do not change the state (no offers are made).
class scenario {
 public:
  scenario(std::shared_ptr<const program> prog, const policy_outline& outline,
           cluster_spec cluster);
  scenario(const scenario&) = delete;
  scenario& operator=(const scenario&) = delete;

  /// Returns the evaluated input (roles by index, frameworks, agents).
  const eval_input& input() { return core_.view(); }
  /// Returns the index of the role with path `path`, or -1.
  int role_index(const std::string& path) const { return core_.role_index(path); }
  /// Returns the index of framework `id` in the given order, or -1.
  int framework_index(const std::string& id) const;
  /// Returns the index of agent `id` in the given order, or -1.
  int agent_index(const std::string& id) const;

  /// Returns the roles frameworks are served from, in offer order (see
  /// `allocation_core::role_order`).
  std::vector<std::string> role_order() { return core_.role_order(); }
  /// Returns every framework in offer order.
  std::vector<std::string> framework_order() { return core_.framework_order(); }
  /// Decides the pair as an allocation cycle would.
  pair_decision decide(size_t framework, size_t agent);
  /// Returns the agents offered to `framework`, best score first.
  std::vector<std::string> candidates(size_t framework) {
    return core_.candidates(framework_ids_[framework]);
  }
  /// Returns what role `role` may still be allocated along its path
  /// (infinity where no limit applies).
  res_vec headroom(size_t role);
  /// Returns the level name `framework` is at (empty without locality).
  std::string level(size_t framework) { return core_.level(framework_ids_[framework]); }
  /// Returns the value of the `every cycle` metric `name` (for role `role`
  /// when the metric reads `role`). Null with `error` set otherwise.
  std::optional<rule_value> metric(const std::string& name, const std::string& role,
                                   std::string& error);
  /// Returns the names of the policy's locality levels, most local first.
  const std::vector<std::string>& levels() const { return level_names_; }
  /// Returns the core (to run cycles over the fixture).
  allocation_core& core() { return core_; }

 private:
  std::shared_ptr<const program> prog_;
  allocation_core core_;
  std::vector<std::string> framework_ids_, agent_ids_, level_names_;
};

/// Builds the agents of a named cluster fixture: `R_racks_N_agents` (R and
/// N digits or `one` ... `twelve`), N agents `a1`..`aN` with 32 cpus,
/// 128 GiB of memory and 1 TiB of disk each, spread round robin over racks
/// `r1`..`rR`, two racks per zone (`z1` holds r1 and r2). Returns false if
/// `name` is not a fixture name.
bool cluster_fixture(const std::string& name, std::vector<agent_view>& agents);

}  // namespace agora::policy
