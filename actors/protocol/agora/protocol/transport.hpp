#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman_actor.hpp>

#include "agora/protocol/tls.hpp"

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
  /// With TLS: a connection that has not delivered its first message (the
  /// peer's half of the handshake, after TLS's own) within this time is
  /// closed. A TLS peer needs milliseconds; plain TCP to a TLS port sends
  /// nothing a TLS server can answer, and without this would hold its
  /// socket for as long as it stays connected.
  std::chrono::milliseconds handshake_timeout{10000};
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

/// Loads the transport as above, over TLS when `tls.enabled()`: then every
/// actor connection that the functions below open or accept speaks TLS
/// with CAF's OpenSSL module (loaded here too), both sides showing a
/// certificate signed by `tls.ca_file` (mutual TLS), and keeps to
/// `limits` like a plain one. `tls` must have passed `check_tls_options`.
void load_transport(caf::actor_system_config& cfg, const tls_options& tls,
                    const transport_limits& limits = {});

/// Returns true if `sys` runs the transport over TLS.
bool tls_enabled(caf::actor_system& sys);

/// Returns the actor that opens, publishes and unpublishes this process's
/// actor connections: over TLS when the transport was loaded with TLS,
/// else CAF's middleman actor. It answers `connect_atom`, `publish_atom`
/// and `unpublish_atom` as the middleman actor does; ask it, not
/// `sys.middleman().actor_handle()`, so that a process speaks TLS on every
/// connection or on none.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Publishes `whom`, whose interface is `sigs`, on `addr:port` (port 0:
/// any free port) through `connector(sys)`; returns the bound port. Blocks
/// until it is bound.
caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::strong_actor_ptr& whom,
                                std::set<std::string> sigs, uint16_t port, const std::string& addr);

/// As above, for any actor handle (as `sys.middleman().publish`).
template <class Handle>
caf::expected<uint16_t> publish(caf::actor_system& sys, const Handle& whom, uint16_t port,
                                const std::string& addr) {
  return publish(sys, caf::actor_cast<caf::strong_actor_ptr>(whom), sys.message_types(whom), port,
                 addr);
}

/// Stops publishing `whom` on `port` (its open connections stay). Blocks.
void unpublish(caf::actor_system& sys, const caf::actor_addr& whom, uint16_t port);

/// Connects to the actor published at `host:port` through
/// `connector(sys)`. Blocks (tests, tools); actors send `connect_atom` to
/// `connector(sys)` instead.
caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const std::string& host,
                                       uint16_t port);

/// A failed connection to a peer, as a person reads it.
struct connect_failure {
  /// What went wrong, e.g. "TLS handshake failed: certificate verify
  /// failed" or CAF's rendering of the error.
  std::string message;
  /// True if the TLS handshake itself failed on a reason OpenSSL names (a
  /// certificate that one side does not accept, a peer that does not
  /// speak TLS): trying again with the same files fails the same way.
  bool tls_refused = false;
};

/// Explains `err`, the answer of `connector(sys)` to a connection request
/// for `host:port`, with what the TLS layer saw of that connection.
connect_failure explain_connect_error(caf::actor_system& sys, const std::string& host,
                                      uint16_t port, const caf::error& err);

/// Returns how many TLS connections the transport closed in their
/// handshake (refused certificates, plain TCP, silence past
/// `handshake_timeout`); 0 without TLS.
std::uint64_t tls_handshake_failures(caf::actor_system& sys);

/// Returns how many connections the transport closed for announcing a
/// message above its limits or sending a message it refuses (0 when `sys`
/// runs without the transport).
std::uint64_t refused_connections(caf::actor_system& sys);

}  // namespace agora::protocol
