#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "agora/observability/http_message.hpp"
#include "agora/observability/json.hpp"

namespace agora::observability {

/// An embedded HTTP/1.1 server (civetweb underneath) for daemons' `/state`,
/// `/metrics`, `/health` and operator endpoints.
///
/// A front thread of our own accepts every connection and holds it until
/// its whole request has arrived; only then is the request relayed to
/// civetweb on a private loopback port. Clients that trickle their request
/// therefore cost a socket, not a worker, and cannot stall `/health`: each
/// has `options::request_timeout` to send its whole request (then 408),
/// and each client address may hold `options::max_connections_per_client`
/// connections (beyond that: 429 and close).
///
/// Requests are served by a fixed pool of civetweb worker threads, so
/// handlers run concurrently on those threads: a handler must be thread-safe
/// and must not block for long (read a snapshot, never wait on an actor or a
/// lock held for long). Errors are JSON bodies: an unknown path gives 404, a
/// known path with another method 405 (with `Allow`), a body over
/// `max_body_size` 413, and a handler that throws 500; the server never
/// crashes on a handler's exception. Every response carries `Content-Length`
/// and `Connection: close` (no keep-alive). civetweb writes nothing to
/// stdout; its error messages go to stderr.
class http_server {
 public:
  /// A request handler; see the class comment on threading.
  using handler = std::function<http_response(const http_request&)>;

  /// The largest accepted request body, in bytes (1 MiB).
  static constexpr std::size_t max_body_size = 1024 * 1024;

  /// How the server is sized and what it tolerates from clients.
  struct options {
    /// Worker threads running handlers (the master uses 4, an agent 2).
    int threads = 4;
    /// The bound on receiving a whole request, head and body, counted from
    /// the connection's accept: a client still sending after it gets 408
    /// and is disconnected, however steadily it trickles.
    std::chrono::milliseconds request_timeout{10000};
    /// Connections held at once from all clients; more are answered 503
    /// and closed at once.
    int max_connections = 256;
    /// Connections held at once from one client address; more are answered
    /// 429 and closed at once.
    int max_connections_per_client = 16;
    /// HTTPS with this certificate (PEM chain) and key (PEM) when set; plain
    /// HTTP is then refused on the port (400). Clients are not asked for a
    /// certificate: browsers, `curl` and Prometheus read these endpoints.
    std::string tls_cert_file;
    std::string tls_key_file;
  };

  /// Starts listening on `host:port` (`host` an IPv4/IPv6 address or a name
  /// resolving to one; port 0 picks a free port) with `threads` workers and
  /// the other `options` at their defaults. Returns nullptr and sets
  /// `error` (naming the address) when it cannot bind or start.
  static std::unique_ptr<http_server> start(const std::string& host, uint16_t port,
                                            std::string& error, int threads = 4);

  /// Starts listening on `host:port` as above, with `opts`.
  static std::unique_ptr<http_server> start(const std::string& host, uint16_t port,
                                            std::string& error, const options& opts);

  /// Stops listening, waits for running handlers and joins the workers.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Routes `method path` to `h`, replacing an earlier route for the same
  /// pair. `path` is exact, or a prefix when it ends with `*` (e.g.
  /// `/files/*`; `*` alone matches every path). An exact route wins over
  /// prefixes, and a longer prefix over a shorter one. Routes may be added
  /// at any time, from any thread.
  void route(const std::string& method, const std::string& path, handler h);

  /// Runs before every handler of a matched route, with the route as
  /// registered (e.g. `/files/*`): returns a response to send instead of
  /// calling the handler (401, 403), or nothing to go on. It may set
  /// `req.principal` for the handler. Used for HTTP authentication and
  /// authorization; it runs on the worker threads, like handlers.
  using guard =
      std::function<std::optional<http_response>(http_request& req, const std::string& route)>;
  void set_guard(guard g);

  /// Returns the server's request metrics: `agora_http_requests_total{handler,
  /// method, code}`, `agora_http_request_duration_seconds{handler}` (the
  /// route as registered, e.g. `/state` or `/files/*`; "unmatched" for 404s)
  /// and `agora_http_refused_total{code}`.
  std::vector<prometheus::MetricFamily> collect_metrics() const;

  /// Returns the bound port (the real one when started with port 0).
  uint16_t port() const;

  /// Returns the address the server listens on, as `host:port`.
  std::string address() const;

  /// The opaque implementation (civetweb context and route table); public
  /// only so civetweb's C callbacks can reach it.
  struct impl;

 private:
  explicit http_server(std::unique_ptr<impl> state);

  std::unique_ptr<impl> impl_;
};

}  // namespace agora::observability
