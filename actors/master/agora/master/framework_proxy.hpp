#pragma once

#include <chrono>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace agora::master {

/// Spawns the master-side proxy of one framework. It relays every message the
/// master sends it to the framework's scheduler actor (which may live on
/// another node), watches that connection, and when it drops tells the master
/// (`framework_disconnected`) and starts the failover timer: unless the
/// framework re-subscribes (`framework_reconnected`) within
/// `failover_timeout`, the master gets `framework_failover_expired`.
/// Messages for a disconnected scheduler are dropped (agents retry status
/// updates until acknowledged, and offers are rescinded on disconnection).
///
/// A framework the master learnt of from re-registering agents has no
/// scheduler yet (`scheduler` null): its timer starts at once and runs
/// `grace + failover_timeout`, so that its scheduler has time to find the
/// new master. The proxy ends with its master.
caf::actor spawn_framework_proxy(caf::actor_system& sys, const std::string& framework_id,
                                 const caf::actor& scheduler, const caf::actor& master,
                                 std::chrono::milliseconds failover_timeout,
                                 std::chrono::milliseconds grace = std::chrono::milliseconds{0});

}  // namespace agora::master
