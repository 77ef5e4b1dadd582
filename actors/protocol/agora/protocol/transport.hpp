#pragma once

#include <cstddef>
#include <cstdint>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

namespace agora::protocol {

/// Bounds on what a peer can make this process allocate by announcing a
/// message on an actor connection.
///
/// CAF 0.17 reads a message's 32-byte header, then sizes one read buffer to
/// the payload length the header announces (up to 4 GiB) and fills it with
/// zeros before a byte of the payload arrives, and before any handshake.
/// With the transport loaded, every connection of the process reads large
/// payloads in chunks instead, so memory grows only with the bytes a peer
/// really sends, and a connection announcing a size above these limits is
/// closed (logged and counted).
struct transport_limits {
  /// Largest first message on a connection: the BASP handshake, which holds
  /// a node id, application ids and the published actor's interface.
  std::size_t handshake_bytes = 64 * 1024;
  /// Largest later message. The biggest legitimate ones are an agent's
  /// re-registration with its tasks and a batch of offers; both stay far
  /// below this at the scales Agora targets.
  std::size_t message_bytes = std::size_t{256} << 20;
  /// Payloads above this size are read in chunks of this size.
  std::size_t read_chunk_bytes = 64 * 1024;
};

/// Loads CAF's middleman into `cfg` with the guarded transport as its
/// network backend (in place of `cfg.load<caf::io::middleman>()`). Every
/// connection of the process, accepted or opened, through `publish`,
/// `remote_actor` or the middleman actor, then keeps to `limits`, and is
/// closed if the peer sends
/// - a routed message: BASP's routed messages name their source node in the
///   payload, which would let a peer speak as any other node's actor (as the
///   master to an agent). Agora's processes always connect directly to the
///   peers they talk to;
/// - a message that only CAF's runtime makes on the receiver's own node:
///   an exit (with reason `kill` it ends any actor, trapped or not), a down
///   message (it would tell the master that an agent's connection dropped),
///   a timeout, stream control, or a link request (the peer's own actor
///   would then send the exit when it dies).
void load_transport(caf::actor_system_config& cfg, const transport_limits& limits = {});

/// Returns how many connections the transport closed for announcing a
/// message above its limits or sending a message it refuses (0 when `sys`
/// runs without the transport).
std::uint64_t refused_connections(caf::actor_system& sys);

}  // namespace agora::protocol
