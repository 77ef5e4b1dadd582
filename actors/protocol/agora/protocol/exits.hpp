#pragma once

#include <functional>
#include <utility>

#include <caf/scheduled_actor.hpp>
#include <caf/system_messages.hpp>

namespace agora::protocol {

/// Makes `self` ignore exit messages from other processes: CAF delivers an
/// exit message from any peer that can reach the actor's port, and by
/// default a non-normal reason ends the actor. `refused` runs for each one
/// ignored (to count and log it); an exit message from this process (a
/// linked actor ending, a local shutdown) ends the actor as before. A `kill`
/// reason cannot be trapped: the transport (transport.hpp) refuses exit
/// messages from peers before they reach an actor, this handler is the
/// second line for processes without it.
inline void ignore_remote_exits(caf::scheduled_actor* self, std::function<void()> refused) {
  self->set_exit_handler(
      [self, refused = std::move(refused)](caf::scheduled_actor*, caf::exit_msg& m) {
        if (m.source && m.source.node() != self->node()) {
          if (refused) refused();
          return;
        }
        if (m.reason) self->quit(std::move(m.reason));
      });
}

}  // namespace agora::protocol
