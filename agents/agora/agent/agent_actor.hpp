#pragma once

// The agent's interface: its configuration, the internal message types it
// sends itself (announce them with `announce`), and `spawn_agent`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/agent/cgroups.hpp"
#include "agora/auth/acls.hpp"
#include "agora/auth/credentials.hpp"
#include "agora/protocol/messages.hpp"
#include "agora/protocol/resources.hpp"

namespace agora::agent {

/// Request `(stop_atom)`: kill every task (with the grace period), reply
/// `stop_atom` once every task has exited (after sending their terminal
/// updates), then quit. Used on SIGINT/SIGTERM.
using stop_atom = caf::atom_constant<caf::atom("agentstop")>;

/// Request `(leave_atom)`: stop the agent but leave its tasks running, for
/// the next agent process to recover (`agent_config::checkpoint`); reply
/// `leave_atom`, then quit. Used on SIGINT/SIGTERM with `--recover
/// reconnect`.
using leave_atom = caf::atom_constant<caf::atom("agentleave")>;

/// How to run one agent.
struct agent_config {
  /// The master's actor address, used when `spawn_agent` gets no handle
  /// and `master` is empty.
  std::string master_host = "127.0.0.1";
  uint16_t master_port = 5055;
  /// `--master`: `HOST:PORT`, or `zk://HOST:PORT[,...]/PATH` to follow the
  /// leading master through ZooKeeper (reconnecting and re-registering with
  /// the same id on every change). Empty: `master_host:master_port`.
  std::string master;
  /// Authenticate to the master as `principal` with `secret` (both set:
  /// `--principal`, `--secret-file`) before registering.
  std::string principal;
  std::string secret;
  /// Run each task as its framework's `user` (`--switch-user`); false:
  /// every task runs as the agent's own user.
  bool switch_user = false;
  /// HTTP: who may authenticate (`--credentials`), whether every request
  /// but `/health` must (`--authenticate-http`), and the authorization
  /// rules (`--acls`: `read_endpoints`, `access_sandboxes`); null and
  /// false: open, as without the flags.
  std::shared_ptr<const auth::credential_store> credentials;
  bool authenticate_http = false;
  std::shared_ptr<const auth::acls> acls;
  /// After a leader change, the agent waits a random time up to this before
  /// it connects, so that thousands of agents do not arrive at once.
  std::chrono::milliseconds leader_change_jitter{500};
  /// Reported to the master; empty means `gethostname()`.
  std::string hostname;
  /// The agent's total resources (must not be empty: the master refuses it).
  protocol::resources resources;
  protocol::attribute_map attributes;
  /// Sandboxes live under `<work_dir>/frameworks/<framework_id>/tasks/<task_id>/`.
  std::string work_dir = "/tmp/agora/agent";
  /// SIGTERM-to-SIGKILL grace period of a kill.
  std::chrono::milliseconds kill_grace{3000};
  /// `--isolation`: `cgroups` (a cgroup per task with cpu, memory and pids
  /// limits; the agent does not start without them), `posix` (process
  /// groups, no limits) or `auto` (cgroups where usable, else posix with a
  /// warning).
  std::string isolation = "auto";
  /// Checkpoint under `<work_dir>/meta` and run every task under the shim,
  /// so that tasks outlive the agent process and the next one recovers
  /// them (see checkpoint.hpp). `agora-agent` does; in-process agents
  /// (`agora local`, tests) need not.
  bool checkpoint = false;
  /// `--recover`, with `checkpoint`: `reconnect` (re-attach to the tasks a
  /// previous agent process left and re-register with its id; a checkpoint
  /// that cannot be read stops the agent) or `cleanup` (kill them, forget
  /// the checkpoint, start afresh).
  std::string recover = "reconnect";
  /// The path of `agora-shim` (needed with `checkpoint`).
  std::string shim;
  /// The cgroup isolator's settings (`--cgroups-root`, ...).
  cgroups::options cgroups;
  /// An unacknowledged status update is re-sent after this long, then after
  /// twice as long each time, up to `status_retry_max` (as Mesos: 10 s and
  /// 10 min).
  std::chrono::milliseconds status_retry_interval{10000};
  std::chrono::milliseconds status_retry_max{600000};
  /// Timeout of one (re)registration or connection attempt.
  std::chrono::milliseconds register_timeout{5000};
  /// Reconnection and re-registration back off from `backoff_min`,
  /// doubling up to `backoff_max`.
  std::chrono::milliseconds backoff_min{200};
  std::chrono::milliseconds backoff_max{10000};
  /// Re-register when the master has not pinged for this many of its ping
  /// intervals (it stops pinging an agent it marked unreachable); 0: never.
  int max_missed_pings = 6;
  /// The HTTP endpoint (`/health`, `/state`, `/files/read`); port 0 picks
  /// a free port.
  bool http_enabled = true;
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 5051;
  /// HTTPS with this certificate and key (`--tls-cert`, `--tls-key`) when
  /// set; plain HTTP otherwise.
  std::string http_tls_cert;
  std::string http_tls_key;
  /// `/metrics` also shows each running task's usage with a `task` label
  /// (`--per-task-metrics`); without it, usage is summed by framework and
  /// role, so the number of series does not grow with the tasks.
  bool per_task_metrics = false;
  /// How many finished tasks `/state` keeps.
  size_t completed_tasks_kept = 100;
  /// `--gc-delay`: how long the sandbox of a finished task is kept.
  std::chrono::milliseconds gc_delay{std::chrono::hours{24 * 7}};
  /// `--gc-disk-threshold`: when the work directory's disk is fuller than
  /// this fraction, finished tasks' sandboxes go early, oldest first.
  double gc_disk_threshold = 0.9;
  /// `--disk-watch-interval`: how often the disk is checked.
  std::chrono::milliseconds disk_watch_interval{60000};
  /// Called on the agent's thread after each (re)registration, with the
  /// agent id and the master's address (`host:port`, or `local`).
  std::function<void(const std::string& agent_id, const std::string& master)> on_registered;
  /// Called once when the HTTP endpoint listens, with its `host:port`.
  std::function<void(const std::string& address)> on_http_started;
  /// Diagnostic lines (one per call, without newline); default: stderr with
  /// the prefix `agora-agent: `.
  std::function<void(const std::string& line)> log;
};

/// An exit reported by the reaper thread to the agent (internal message).
struct task_exited {
  std::string framework_id;
  std::string task_id;
  int32_t pid = -1;
  bool signaled = false;
  int32_t code = -1;
  int32_t signal = 0;
  bool kill_requested = false;
  /// Set when an isolator's limit ended the task (see `exit_status`).
  std::string limitation_reason{};
  std::string limitation_message{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_exited& x) {
  return f(caf::meta::type_name("agora.agent.task_exited"), x.framework_id, x.task_id, x.pid,
           x.signaled, x.code, x.signal, x.kill_requested, x.limitation_reason,
           x.limitation_message);
}

/// Announces the agent's internal message types. Processes running agents
/// call it next to `agora::protocol::announce(cfg)`.
void announce(caf::actor_system_config& cfg);

/// Spawns an agent in `sys`. With a valid `master` handle (same process, as
/// in `agora local`) the agent registers with it directly; otherwise it
/// connects to `cfg.master_host:cfg.master_port` through the middleman
/// (asynchronously) and reconnects when the master goes away. Several agents
/// may run in one process (give each its own `work_dir` and HTTP port, port 0
/// or `http_enabled = false`). The agent answers `(state_atom)` requests with
/// its state JSON (as served on `/state`) and `(ping_atom)` with `pong_atom`.
/// Returns an invalid handle (after logging why) when the HTTP endpoint
/// cannot listen. Processes using it must load the middleman for remote
/// masters and call `announce` (and `protocol::announce`).
caf::actor spawn_agent(caf::actor_system& sys, const agent_config& cfg,
                       caf::actor master = caf::actor{});

}  // namespace agora::agent
