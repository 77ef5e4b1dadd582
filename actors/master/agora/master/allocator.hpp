#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agora/policy/allocation_core.hpp"
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

/// Returns the policy the master runs when none is given: the example
/// `policy-lang/examples/weighted_drf.policy`, embedded into the binary at
/// build time from that file.
const policy::runnable_policy& default_policy();
/// Returns the embedded default policy's source text.
const std::string& default_policy_source();

/// Converts protocol resources (ports aside) to the core's amounts.
policy::amounts to_amounts(const resources& r);
/// Converts the core's amounts to protocol resources (no ports).
resources to_resources(const policy::amounts& a);

/// What the allocator needs to know of a framework beyond its id and roles.
struct framework_demand {
  std::string user;
  std::map<std::string, std::string> labels;
  resources min_request;  ///< Its smallest task.
  resources demand;       ///< Most it wants to hold (empty: unbounded).
};

/// The master's resource pool: protocol resources in, offers out, with the
/// compiled policy deciding through `policy::allocation_core` (the same
/// engine `agora policy test` and the simulator run). This adapter adds
/// only what the core does not model: port ranges, which go with the first
/// offer made on an agent while free.
///
/// Not thread-safe: owned by the allocator actor (or a test).
class allocator {
 public:
  /// Runs `policy` (default: `default_policy()`).
  explicit allocator(policy::runnable_policy policy = default_policy());

  /// Swaps the policy between cycles (allocations and timers carry over).
  void set_policy(policy::runnable_policy policy) { core_.set_policy(std::move(policy)); }
  /// Returns the running policy.
  const policy::runnable_policy& policy() const { return core_.policy(); }

  // -- agents ----------------------------------------------------------------

  /// Adds (or replaces) an agent with `total` resources of which `used` are
  /// in use by `used_by` (framework id -> role -> resources), as after an
  /// agent re-registration.
  void add_agent(const std::string& agent_id, const resources& total,
                 const std::map<std::string, std::map<std::string, resources>>& used_by = {},
                 const std::string& hostname = {},
                 const std::map<std::string, std::string>& attributes = {});
  /// Removes an agent and every allocation on it.
  void remove_agent(const std::string& agent_id);
  /// Stops (false) or resumes (true) offering an agent's resources.
  void set_agent_active(const std::string& agent_id, bool active);

  // -- frameworks ------------------------------------------------------------

  /// Adds (or updates, on re-subscription) a framework that may receive
  /// offers for `roles` (empty: the role `*`).
  void add_framework(const std::string& framework_id, const std::vector<std::string>& roles,
                     const framework_demand& demand = {});
  /// Removes a framework from ordering; what it holds stays allocated
  /// until recovered.
  void remove_framework(const std::string& framework_id);
  /// Stops (false) or resumes (true) offers to a framework.
  void set_framework_active(const std::string& framework_id, bool active);
  /// Clears the framework's decline filters and un-suppresses `roles` (all
  /// when empty).
  void revive(const std::string& framework_id, const std::vector<std::string>& roles);
  /// Stops offers to the framework for `roles` (all when empty).
  void suppress(const std::string& framework_id, const std::vector<std::string>& roles);

  // -- resources -------------------------------------------------------------

  /// Returns resources allocated to `framework_id` in `role` on `agent_id` to
  /// the pool (at most what it holds there). With `refuse` > 0, the
  /// framework is not offered resources contained in `res` on that agent
  /// until `now + refuse` (a decline filter).
  void recover(const std::string& framework_id, const std::string& role,
               const std::string& agent_id, const resources& res,
               std::chrono::milliseconds refuse = std::chrono::milliseconds{0},
               clock_type::time_point now = clock_type::now());
  /// Overrides the weight of a role (`--weights`); weights must be positive.
  void set_weight(const std::string& role, double weight);

  // -- allocation ------------------------------------------------------------

  /// Runs one allocation cycle and returns the offers to make. Every
  /// decision is already accounted as allocated.
  std::vector<offer_decision> allocate(clock_type::time_point now = clock_type::now());
  /// Runs a cycle over `agents` only (an event-triggered cycle).
  std::vector<offer_decision> allocate(clock_type::time_point now,
                                       const std::vector<std::string>& agents);

  // -- introspection ---------------------------------------------------------

  /// Returns the sum of all agents' totals (no ports).
  resources cluster_total() const { return to_resources(core_.cluster_total()); }
  /// Returns the free resources of an agent, ports included (zero if unknown).
  resources agent_free(const std::string& agent_id) const;
  /// Returns the resources allocated to a role and its descendants (no ports).
  resources role_allocation(const std::string& role) const;
  /// Returns the resources allocated to a framework (all roles, no ports).
  resources framework_allocation(const std::string& framework_id) const;
  /// Returns the weighted dominant share of a role (share / weight), for display.
  double role_share(const std::string& role) const;
  /// Returns the roles in the order they would be served now.
  std::vector<std::string> role_order() { return core_.role_order(); }
  /// Returns the weight of a role.
  double weight(const std::string& role) const { return core_.weight(role); }
  /// Returns all roles the allocator knows.
  std::vector<std::string> roles() const { return core_.roles(); }
  /// Returns the number of active decline filters (for /state and tests).
  size_t filter_count(clock_type::time_point now = clock_type::now()) const {
    return core_.filter_count(now);
  }
  /// Checks the accounting (see `allocation_core::check_invariants`) and
  /// the ports; returns what is wrong or an empty string.
  std::string check_invariants() const;
  /// Returns the core (tests, introspection).
  policy::allocation_core& core() { return core_; }

 private:
  struct agent_ports {
    resources total;  ///< Ports only.
    resources free;   ///< Ports only.
  };
  std::vector<offer_decision> with_ports(std::vector<policy::core_offer> offers);

  policy::allocation_core core_;
  std::unordered_map<std::string, agent_ports> ports_;
};

}  // namespace agora::master
