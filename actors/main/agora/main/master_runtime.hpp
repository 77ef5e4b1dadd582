#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/cli/flags.hpp"
#include "agora/master/master_actor.hpp"
#include "agora/observability/http_server.hpp"

namespace agora::main {

/// Command-line settings of a master process (`agora-master`, `agora local`).
struct master_options {
  master::master_config config;
  std::string ip = "127.0.0.1";
  uint16_t http_port = 5050;
  uint16_t actor_port = 5055;
  /// `--policy`: the allocation policy file (empty: the embedded default).
  std::string policy_path;
  /// `--schema`: the cluster schema to check it against (empty:
  /// `cluster.schema` next to the policy, when present).
  std::string schema_path;
  /// `--record-trace`: write a trace for `agora policy sim` (empty: none).
  std::string record_trace;
};

/// Registers the master's flags (`--port`, `--actor-port`, `--ip`,
/// `--allocation-interval`, `--offer-timeout`, `--agent-ping-timeout`,
/// `--max-agent-ping-timeouts`, `--weights`, ...) on `f`.
void add_master_flags(cli::flags& f, master_options& opts);

/// A running master: the master actor, published on the actor port, and its
/// HTTP endpoint (`/state`, `/health`, `/`).
class master_runtime {
 public:
  /// Starts a master in `sys` (which must have the middleman loaded).
  /// Returns nullptr and sets `error` when the policy does not check (with
  /// its `file:line:col` diagnostics) or a port is taken (naming the port).
  static std::unique_ptr<master_runtime> start(caf::actor_system& sys, master_options opts,
                                               std::string& error);
  ~master_runtime();

  const caf::actor& actor() const { return master_; }
  uint16_t http_port() const { return http_->port(); }
  uint16_t actor_port() const { return actor_port_; }

 private:
  caf::actor master_;
  std::shared_ptr<master::snapshot_store> snapshots_;
  std::unique_ptr<observability::http_server> http_;
  uint16_t actor_port_ = 0;
};

}  // namespace agora::main
