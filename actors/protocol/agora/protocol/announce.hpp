#pragma once

#include <caf/actor_system_config.hpp>

namespace agora::protocol {

/// Announces every protocol message type and the protocol's error category
/// to `cfg`. Every Agora process (master, agent, framework, tools) calls this
/// before creating its actor system, so a type added here works across nodes.
void announce(caf::actor_system_config& cfg);

}  // namespace agora::protocol
