#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agora/protocol/resources.hpp"

namespace agora::master {

using protocol::resources;
using clock_type = std::chrono::steady_clock;

/// One allocation decision: offer `res` on `agent_id` to `framework_id` in `role`.
struct offer_decision {
  std::string framework_id;
  std::string agent_id;
  std::string role;
  resources res;
};

/// The allocation policy seam: "who is served next". The built-in weighted
/// DRF sorter implements it now; the compiled policy language will implement
/// it later without changing the allocator.
class allocation_policy {
public:
  virtual ~allocation_policy() = default;

  /// Returns the sort key of a role (smaller is served first); `share` is the
  /// role's dominant share of the cluster, `weight` its configured weight.
  virtual double role_key(double share, double weight) const = 0;

  /// Returns the sort key of a framework within its role.
  virtual double framework_key(double share) const = 0;

  /// Returns the policy's name for `/state` and logs.
  virtual std::string name() const = 0;
};

/// Weighted Dominant Resource Fairness (Ghodsi et al., NSDI 2011) over roles,
/// then plain DRF over the frameworks of a role.
class weighted_drf_policy final : public allocation_policy {
public:
  double role_key(double share, double weight) const override {
    return weight > 0 ? share / weight : share;
  }
  double framework_key(double share) const override { return share; }
  std::string name() const override { return "weighted-drf (built-in)"; }
};

/// The resource pool and the allocation algorithm, with no messaging.
///
/// Tracks every agent's total and allocated resources (offered or used by
/// tasks: the allocator does not distinguish them, as in Mesos), every
/// framework's allocation per role, decline filters and suppression. An
/// allocation cycle walks the agents and offers each agent's free resources
/// to the first eligible framework in policy order (roles by weighted
/// dominant share, then frameworks by dominant share, ties by name), updating
/// shares after each offer (progressive filling). Shares are updated
/// incrementally on change, never recomputed from scratch.
///
/// Not thread-safe: owned by the allocator actor (or a test).
class allocator {
public:
  allocator();

  /// Replaces the ordering policy (default: weighted DRF).
  void set_policy(std::shared_ptr<const allocation_policy> policy);

  // -- agents ----------------------------------------------------------------

  /// Adds an agent with `total` resources of which `used` are already in use
  /// by the frameworks in `used_by` (framework id -> role -> resources), as
  /// after an agent re-registration.
  void add_agent(const std::string& agent_id, const resources& total,
                 const std::map<std::string, std::map<std::string, resources>>& used_by = {});

  /// Removes an agent and every allocation on it.
  void remove_agent(const std::string& agent_id);

  /// Stops (false) or resumes (true) offering an agent's resources.
  void set_agent_active(const std::string& agent_id, bool active);

  // -- frameworks ------------------------------------------------------------

  /// Adds a framework that may receive offers for `roles` (an empty list
  /// means the role `*`).
  void add_framework(const std::string& framework_id, const std::vector<std::string>& roles);

  /// Removes a framework from the sorters. Resources it still holds on agents
  /// stay allocated there until `recover` returns them.
  void remove_framework(const std::string& framework_id);

  /// Stops (false) or resumes (true) offers to a framework (disconnected
  /// frameworks are inactive).
  void set_framework_active(const std::string& framework_id, bool active);

  /// Clears the framework's decline filters and un-suppresses `roles` (all
  /// its roles when empty).
  void revive(const std::string& framework_id, const std::vector<std::string>& roles);

  /// Stops offers to the framework for `roles` (all its roles when empty).
  void suppress(const std::string& framework_id, const std::vector<std::string>& roles);

  // -- resources -------------------------------------------------------------

  /// Returns resources allocated to `framework_id` in `role` on `agent_id` to
  /// the pool. With `refuse` > 0, the framework will not be offered resources
  /// contained in `res` on that agent until `now + refuse` (a decline filter).
  void recover(const std::string& framework_id, const std::string& role,
               const std::string& agent_id, const resources& res,
               std::chrono::milliseconds refuse = std::chrono::milliseconds{0},
               clock_type::time_point now = clock_type::now());

  /// Sets the weight of a role (default 1). Weights must be positive.
  void set_weight(const std::string& role, double weight);

  // -- allocation ------------------------------------------------------------

  /// Runs one allocation cycle and returns the offers to make. Every
  /// decision is already accounted as allocated.
  std::vector<offer_decision> allocate(clock_type::time_point now = clock_type::now());

  // -- introspection ---------------------------------------------------------

  /// Returns the sum of all agents' totals.
  const resources& cluster_total() const { return total_; }
  /// Returns the free resources of an agent (zero if unknown).
  resources agent_free(const std::string& agent_id) const;
  /// Returns the resources allocated to a role (all frameworks, all agents).
  resources role_allocation(const std::string& role) const;
  /// Returns the resources allocated to a framework (all roles, all agents).
  resources framework_allocation(const std::string& framework_id) const;
  /// Returns the weighted dominant share of a role (share / weight).
  double role_share(const std::string& role) const;
  /// Returns the roles in the order they would be served now.
  std::vector<std::string> role_order() const;
  /// Returns the weight of a role.
  double weight(const std::string& role) const;
  /// Returns all roles with frameworks or allocations.
  std::vector<std::string> roles() const;
  /// Returns the number of active decline filters (for /state and tests).
  size_t filter_count(clock_type::time_point now = clock_type::now()) const;

private:
  struct filter {
    resources refused;
    clock_type::time_point until;
  };
  struct agent_entry {
    resources total;
    resources allocated;
    bool active = true;
  };
  struct framework_entry {
    std::vector<std::string> roles;
    std::set<std::string> suppressed_roles;
    bool active = true;
    /// Decline filters per agent.
    std::unordered_map<std::string, std::vector<filter>> filters;
  };
  struct role_entry {
    resources allocated;
    double weight = 1.0;
    /// Frameworks subscribed to this role.
    std::set<std::string> frameworks;
    /// Allocation of each framework in this role.
    std::map<std::string, resources> framework_allocated;
  };

  bool filtered(framework_entry& fw, const std::string& agent_id, const resources& free,
                clock_type::time_point now);
  void add_allocation(const std::string& framework_id, const std::string& role,
                      const resources& res);
  void remove_allocation(const std::string& framework_id, const std::string& role,
                         const resources& res);
  std::vector<std::string> sorted_roles() const;
  std::vector<std::string> sorted_frameworks(const role_entry& role) const;
  static bool allocatable(const resources& r);

  std::shared_ptr<const allocation_policy> policy_;
  resources total_;
  std::map<std::string, agent_entry> agents_;
  std::map<std::string, framework_entry> frameworks_;
  std::map<std::string, role_entry> roles_;
  std::map<std::string, double> weights_;
  /// Where the next cycle starts walking agents, so no agent is always last.
  size_t agent_cursor_ = 0;
};

}  // namespace agora::master
