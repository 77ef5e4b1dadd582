#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "agora/observability/detail/tls.hpp"

namespace agora::observability::detail {

/// The limits `http_front` enforces; see `http_server::options`.
struct front_limits {
  /// The bound on receiving a whole request (head and body), from accept.
  std::chrono::milliseconds request_timeout{10000};
  /// Connections held at once, from all clients.
  int max_connections = 256;
  /// Connections held at once from one client address.
  int max_connections_per_client = 16;
  /// The largest request head and body the front waits for.
  std::size_t max_head = 16 * 1024;
  std::size_t max_body = 1024 * 1024;
  /// Called on the front's thread with the status of each response the
  /// front gives itself (408, 413, 429, 503), to count them; may be empty.
  std::function<void(int status)> on_refused;
};

/// A single thread in front of civetweb that accepts every connection,
/// holds it until its request is complete, and only then relays it to
/// civetweb on a loopback port.
///
/// civetweb serves each connection on one of a few worker threads from
/// accept to close, and bounds a request body only per read: a handful of
/// clients trickling bytes held every worker and `/health` timed out. Here
/// a waiting client costs a socket and a buffer in one `poll` loop, not a
/// thread; civetweb's workers only ever see requests whose bytes have all
/// arrived (or that it refuses at once, see `request_scanner`), and the
/// front reads each response eagerly, so a client that reads slowly does
/// not hold a worker either. The front enforces:
/// - a whole-request deadline from accept (408, then close);
/// - a per-client-address and a total connection limit (429 / 503 and an
///   immediate close for connections beyond them);
/// - 413 for a chunked body that decodes past the body limit;
/// - `100 Continue` itself, so a client waiting for it sends its body to
///   the front rather than to a worker.
/// Responses keep flowing while the client makes progress; a client that
/// stops reading for `request_timeout` is dropped. Each client connection
/// gets its own connection to civetweb, which serves one request per
/// connection (no keep-alive): where the front and civetweb disagree on
/// the end of a request, no second request can be smuggled behind it.
///
/// With `tls`, the front terminates HTTPS: each connection's TLS handshake
/// and records run in the same loop (the handshake within the request
/// deadline), and civetweb behind it sees plain requests on loopback as
/// before. Here, not in civetweb's own TLS support, because the front is
/// what holds the client's socket: civetweb only ever has the loopback
/// leg. Plain HTTP on an HTTPS port is answered 400 in plain text; a
/// connection refused at a limit (429, 503) is closed without an answer.
class http_front {
 public:
  /// Starts relaying connections accepted on `listener` (a listening,
  /// non-blocking socket the front now owns) to `backend`, over HTTPS when
  /// `tls` is set. Returns nullptr and sets `error` when the thread or its
  /// wake-up descriptor cannot be created (the listener is then closed).
  static std::unique_ptr<http_front> start(int listener, const sockaddr_storage& backend,
                                           const front_limits& limits, ssl_context tls,
                                           std::string& error);

  /// Stops the thread, then closes every connection and the listener.
  ~http_front();

  http_front(const http_front&) = delete;
  http_front& operator=(const http_front&) = delete;

  struct impl;

 private:
  explicit http_front(std::unique_ptr<impl> state);

  std::unique_ptr<impl> impl_;
};

/// Returns a listening, non-blocking TCP socket bound to `addr`, or -1 with
/// `error` set to the system's reason (e.g. "Address already in use").
int open_listener(const sockaddr_storage& addr, std::string& error);

}  // namespace agora::observability::detail
