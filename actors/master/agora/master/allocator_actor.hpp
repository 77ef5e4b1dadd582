#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/master/master_metrics.hpp"
#include "agora/master/policy_control.hpp"
#include "agora/policy/allocation_core.hpp"

namespace agora::master {

/// Settings of the allocator actor.
struct allocator_config {
  /// Time between periodic allocation cycles.
  std::chrono::milliseconds interval{1000};
  /// Role weight overrides (`--weights`); the policy's weights otherwise.
  std::map<std::string, double> weights;
  /// The policy to run; null: the embedded default (`default_policy()`).
  std::shared_ptr<const policy::runnable_policy> policy;
  /// Where `policy` came from and its text, for `GET /policy`.
  std::string policy_source;
  std::string policy_text;
  std::string policy_schema_text;
  /// A policy an operator made active before this master led (from the
  /// registry): it runs instead of `policy`, keeping its revision; null:
  /// none.
  std::shared_ptr<const policy_revision> restored;
  /// Shared with the operator endpoints (may be null in tests).
  std::shared_ptr<policy_control> control;
  /// Where cycle durations and the allocator's samples go (may be null).
  std::shared_ptr<master_metrics> metrics;
};

/// Spawns the allocator actor: it owns an `allocator` (allocator.hpp),
/// applies the master's `alloc_*`, `revive` and `suppress` messages to it, and
/// runs a cycle every `interval` and soon after any event that can create
/// offers (agent added, resources recovered, framework added, revived);
/// events arriving while a cycle is pending coalesce into that cycle. Each
/// cycle's result goes to `master` as `alloc_offers`.
///
/// Policies change between cycles: `install_policy` swaps the program (or
/// first shadows it: each cycle also runs a copy of the state under the
/// candidate and counts how many offers differ), `rollback_policy` cancels
/// a shadow or restores the previous policy. Both answer `policy_reply`.
caf::actor spawn_allocator(caf::actor_system& sys, const allocator_config& cfg,
                           const caf::actor& master);

}  // namespace agora::master
