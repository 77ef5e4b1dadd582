#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/cli/flags.hpp"
#include "agora/master/master_actor.hpp"
#include "agora/observability/http_server.hpp"
#include "agora/protocol/tls.hpp"

namespace agora::zk {
class session;
class leader_election;
struct zk_url;
}  // namespace agora::zk

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
  /// `--zk`: contend for leadership in this ZooKeeper group (empty:
  /// standalone, leading at once).
  std::string zk;
  /// `--zk-session-timeout`.
  std::chrono::milliseconds zk_session_timeout{10000};
  /// `--quorum-size`: how many masters (this one included) must be in the
  /// election group for the elected one to lead, and for a leader to keep
  /// acting (offers and launches); a leader below it pauses until masters
  /// return.
  int64_t quorum_size = 1;
  /// `--authenticate-http`: every HTTP request but `/health` authenticates
  /// (Basic or Bearer, against `--credentials`).
  bool authenticate_http = false;
  /// `--tls-cert`, `--tls-key`, `--tls-ca`: TLS on the actor port (the
  /// actor system must be loaded with the same; see
  /// `protocol::load_transport`).
  protocol::tls_options tls;
  /// Called (from any thread) when a leading master must stop acting at once
  /// (lost its ZooKeeper session, its leadership or its registry). Default:
  /// log and exit the process with status 1 so a supervisor restarts it.
  std::function<void(const std::string& why)> on_fatal;
};

/// What a master knows of the election, shared with its HTTP threads.
struct election_status;

/// Registers the master's flags (`--port`, `--actor-port`, `--ip`,
/// `--allocation-interval`, `--offer-timeout`, `--agent-ping-timeout`,
/// `--max-agent-ping-timeouts`, `--weights`, ...) on `f`.
void add_master_flags(cli::flags& f, master_options& opts);

/// Returns the first problem with the flags in `opts` as `--flag: why` (""
/// when none), for callers to report before starting (exit status 2).
/// `contends`: masters elect a leader (`--zk`, or `agora local --masters N`).
std::string check_master_flags(const master_options& opts, bool contends);

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
  /// Returns true while this master leads (always when standalone).
  bool leading() const;
  uint16_t http_port() const { return http_->port(); }
  uint16_t actor_port() const { return actor_port_; }

 private:
  class contender_loop;

  caf::actor master_;
  std::shared_ptr<master::snapshot_store> snapshots_;
  std::unique_ptr<observability::http_server> http_;
  uint16_t actor_port_ = 0;
  std::shared_ptr<election_status> election_;
  // ZooKeeper: the election, the lease and the registry claim (null when
  // standalone).
  std::unique_ptr<contender_loop> contender_;
};

}  // namespace agora::main
