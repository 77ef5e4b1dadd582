#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

/// A small blocking HTTP/1.1 client for the CLI (operator endpoints) and
/// tests: one request per connection, bounded by a timeout.

namespace agora::observability {

/// The outcome of an HTTP request made with `http_call`.
struct http_result {
  /// The status code (0 when no response was received).
  int status = 0;
  /// The response body (de-chunked if the server used chunked encoding).
  std::string body;
  /// True if a complete response was received (whatever its status).
  bool ok = false;
  /// Why `ok` is false (connection refused, timeout, malformed response).
  std::string error;
  /// The response headers, names in lower case.
  std::map<std::string, std::string> headers;
};

/// Sends `method path` with `body` to `host:port` (HTTP/1.1, `Connection:
/// close`; over TLS after `use_https`) and reads the response until the
/// server closes or `Content-Length` bytes arrived, all within `timeout`
/// (the TLS handshake included). Never throws; failures are reported in
/// the result.
/// `headers` are added to the request (a name or value holding CR or LF is
/// dropped).
http_result http_call(const std::string& method, const std::string& host, uint16_t port,
                      const std::string& path, const std::string& body = "",
                      std::chrono::milliseconds timeout = std::chrono::seconds(5),
                      const std::string& content_type = "application/json",
                      const std::map<std::string, std::string>& headers = {});

/// Makes every later request of this process (`http_call` and the helpers
/// below) use HTTPS: the server's certificate must verify against
/// `ca_file` (whatever names it holds: the CA decides who belongs to the
/// cluster), and `cert_file` with `key_file` is shown to a server that asks.
/// Returns "" or why the files cannot be used. Daemons and the CLI call it
/// at start with their `--tls-*` files; a process speaks HTTPS to every
/// server or to none.
std::string use_https(const std::string& cert_file, const std::string& key_file,
                      const std::string& ca_file);

/// Makes later requests plain HTTP again (tests).
void use_plain_http();

/// Returns true if requests use HTTPS (`use_https`).
bool https_enabled();

/// Returns the result of `GET path` (see `http_call`).
http_result http_get(const std::string& host, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Returns the result of `POST path` with `body` (see `http_call`).
http_result http_post(const std::string& host, uint16_t port, const std::string& path,
                      const std::string& body,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5),
                      const std::string& content_type = "application/json");

}  // namespace agora::observability
