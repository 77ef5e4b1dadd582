#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/master/master_state.hpp"

namespace agora::master {

/// Holds the latest snapshot of the master's state. The master actor
/// replaces it after changes (throttled); HTTP threads render `/state` from
/// it without ever touching the master's mailbox or thread, so heavy
/// polling never slows scheduling.
class snapshot_store {
 public:
  /// Replaces the snapshot.
  void set(std::shared_ptr<const state_snapshot> snapshot);
  /// Returns the latest snapshot (an empty one before the first).
  std::shared_ptr<const state_snapshot> snapshot() const;
  /// Returns the whole `/state` document of the latest snapshot, rendered
  /// once per snapshot by the first reader that asks (`{}` before the
  /// first snapshot).
  std::shared_ptr<const std::string> get() const;
  /// Returns agent `id`'s HTTP address as of the latest snapshot ("" when
  /// the agent is unknown or serves no HTTP).
  std::string agent_address(const std::string& id) const;
  /// Returns framework `id`'s principal as of the latest snapshot; sets
  /// `known` to false (and returns "") for a framework not active there.
  std::string framework_principal(const std::string& id, bool& known) const;

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<const state_snapshot> snapshot_;
  /// One rendering at a time; the last one, for its snapshot's version.
  mutable std::mutex render_mtx_;
  mutable uint64_t rendered_version_ = 0;
  mutable std::shared_ptr<const std::string> rendered_ = std::make_shared<const std::string>("{}");
};

/// Spawns the master actor (which spawns its allocator and one proxy per
/// framework). Agents talk to it with `register_agent`, `reregister_agent`,
/// `status_update`; frameworks with `subscribe`, `accept`, `decline`,
/// `revive`, `suppress`, `kill_task`, `acknowledge`, `reconcile`, `teardown`
/// (protocol/messages.hpp). It publishes its state to `snapshots`.
caf::actor spawn_master(caf::actor_system& sys, const master_config& cfg,
                        std::shared_ptr<snapshot_store> snapshots);

/// Renders the master's state as the JSON served on `/state`.
std::string render_state_json(const master_state& st);

}  // namespace agora::master
