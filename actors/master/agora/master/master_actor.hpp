#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/master/master_state.hpp"

namespace agora::master {

/// Holds the latest JSON rendering of the master's state. The master actor
/// replaces it after changes (throttled); HTTP threads read it without ever
/// touching the master's mailbox, so heavy polling never slows scheduling.
class snapshot_store {
 public:
  /// Replaces the snapshot.
  void set(std::string json);
  /// Returns the latest snapshot (`{}` before the first one).
  std::shared_ptr<const std::string> get() const;
  /// Replaces the agents' HTTP addresses (agent id -> `host:port`).
  void set_agent_addresses(std::map<std::string, std::string> addresses);
  /// Returns agent `id`'s HTTP address as of the latest snapshot ("" when
  /// the agent is unknown or serves no HTTP).
  std::string agent_address(const std::string& id) const;

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<const std::string> json_ = std::make_shared<const std::string>("{}");
  std::shared_ptr<const std::map<std::string, std::string>> addresses_ =
      std::make_shared<const std::map<std::string, std::string>>();
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
