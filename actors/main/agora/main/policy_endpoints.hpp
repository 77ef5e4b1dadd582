#pragma once

#include <memory>
#include <string>

#include <caf/actor_system.hpp>

#include "agora/master/policy_control.hpp"
#include "agora/observability/http_server.hpp"

namespace agora::main {

/// Where applied policies are resolved: their imports in `policy_dir` (the
/// folder of the master's `--policy`, or the working directory), checked
/// against `schema_text` unless the request brings a schema.
struct policy_environment {
  std::string policy_dir;
  std::string schema_text;
};

/// Routes the operator endpoints of hot reload on `http`:
/// - `GET /policy`: the active policy (name, version, hash, revision, source,
///   load time), the previous one, a shadow candidate with its divergence,
///   the last failed apply with its diagnostics, reload counts.
/// - `POST /policy` with `{"source": TEXT, "name": FILE, "schema": TEXT,
///   "force": BOOL, "shadow_seconds": N}`: compiles the policy on the HTTP
///   thread (off the allocator's mailbox), then asks the allocator to swap
///   it in between cycles. 200 applied, 202 shadowing, 400 malformed
///   request, 409 refused (limits below use without force), 422 does not
///   check (with `file:line:col` diagnostics), 503 allocator not answering.
/// - `POST /policy/rollback`: cancels a shadow, or restores the previous
///   policy (409 when there is none).
/// - `GET /policy/explain?framework=ID[&agent=ID]`: why the framework is
///   (not) offered resources (404 for an unknown framework or agent).
/// The running policy stays whenever a request fails.
/// Wraps a route's handler (e.g. to redirect a standby master's requests to
/// the leader).
using route_wrapper =
    std::function<observability::http_server::handler(observability::http_server::handler)>;

void add_policy_routes(observability::http_server& http, caf::actor_system& sys,
                       std::shared_ptr<master::policy_control> control, policy_environment env,
                       const route_wrapper& wrap = {});

}  // namespace agora::main
