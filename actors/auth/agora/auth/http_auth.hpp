#pragma once

#include <memory>
#include <string>

#include "agora/auth/acls.hpp"
#include "agora/auth/credentials.hpp"

namespace agora::auth {

/// Who sent an HTTP request, from its `Authorization` header.
struct http_identity {
  /// False when the header is present and does not authenticate.
  bool ok = true;
  /// The authenticated principal; "" for a request without the header.
  std::string principal;
  /// Why `ok` is false (never quoting the header or a secret).
  std::string error;
};

/// Authenticates an `Authorization` header against `store`:
/// - `Basic base64(principal:secret)` (RFC 7617; use it over HTTPS only);
/// - `Bearer SECRET`: the secret of one of the principals, which the
///   request is then known as.
/// Secrets are compared in constant time; every principal's secret is
/// compared for a bearer token, so the time does not tell which one.
http_identity authenticate_http(const credential_store& store, const std::string& authorization);

/// Returns the `Authorization` header value for HTTP Basic credentials
/// (`Basic base64(principal:secret)`); send it over HTTPS only.
std::string basic_authorization(const std::string& principal, const std::string& secret);

/// What a daemon's HTTP endpoints require (`--credentials`,
/// `--authenticate-http`, `--acls`).
struct http_access {
  /// Who may authenticate; null: nobody (a header is then refused).
  std::shared_ptr<const credential_store> credentials;
  /// Every request but the exempt ones must authenticate.
  bool required = false;
  /// Authorization; null: everything allowed.
  std::shared_ptr<const acls> rules;

  /// Returns true when requests need checking at all.
  bool active() const { return credentials || rules; }
};

/// The answer for one request: `status` 0 to go on (with `principal` set),
/// else 401 or 403 with `error`.
struct http_verdict {
  int status = 0;
  std::string error;
  std::string principal;
};

/// Authenticates a request's `Authorization` header (401 when it is wrong,
/// or missing where `required`), then, when `read_endpoint` is not empty,
/// checks `read_endpoints` on it (403).
http_verdict check_http(const http_access& access, const std::string& authorization,
                        const std::string& read_endpoint);

/// Returns the framework id in a sandbox path: with `root` (the agent's
/// resolved `WORK_DIR/frameworks`), the first segment under it ("" for a
/// path outside); without, the segment after the first `frameworks`
/// (absolute paths or ones relative to the work directory). Paths are
/// normalized lexically first.
std::string sandbox_framework(const std::string& path, const std::string& root = "");

}  // namespace agora::auth
