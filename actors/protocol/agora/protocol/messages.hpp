#pragma once

// The wire protocol between agents, masters and frameworks. Every message is
// a plain struct with an `inspect()` overload, so CAF can print it and send
// it to actors on other nodes. `announce()` (announce.hpp) registers all of
// them; every process calls it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/protocol/resources.hpp"

namespace agora::protocol {

using attribute_map = std::map<std::string, std::string>;

/// Parses attributes written `NAME:VALUE;NAME:VALUE` (`--attributes` of
/// agents and of the fleet; empty items are skipped). Returns false and
/// sets `error` naming the bad item otherwise.
bool parse_attributes(const std::string& text, attribute_map& out, std::string& error);

// -- atoms (payload-less verbs, at most 10 characters) ------------------------

/// `(ping_atom, int64_t epoch)`: the master's liveness probe of an agent,
/// answered with `pong_atom`; a bare `(ping_atom)` is a local probe.
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using allocate_atom = caf::atom_constant<caf::atom("allocate")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using teardown_atom = caf::atom_constant<caf::atom("teardown")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

// -- task states --------------------------------------------------------------

/// The life cycle of a task (as in Mesos). Terminal states: finished, failed,
/// killed, lost, unreachable (non-terminal for partition-aware frameworks in
/// Mesos; terminal here until agent recovery lands), dropped, error.
enum class task_state : uint8_t {
  staging,      ///< Accepted by the master, sent to the agent.
  starting,     ///< The agent is launching the process.
  running,      ///< The process runs.
  killing,      ///< A kill was requested; SIGTERM sent, grace period runs.
  finished,     ///< Exited with status 0.
  failed,       ///< Exited non-zero or by a signal (see the message).
  killed,       ///< Killed on request.
  lost,         ///< The agent was lost; the framework is not partition-aware.
  unreachable,  ///< The agent is unreachable; the framework is partition-aware.
  dropped,      ///< Never launched: unknown, expired or used offer.
  error,        ///< Never launched: the task description is invalid.
};

/// Returns the Mesos-style name, e.g. `TASK_RUNNING`.
std::string to_string(task_state x);

/// Parses `TASK_RUNNING` (or `running`); returns false when unknown.
bool from_string(const std::string& text, task_state& out);

/// Returns true for states after which a task never changes again.
/// `TASK_UNREACHABLE` is not terminal: the task returns if its agent does.
bool is_terminal(task_state x);

/// Returns true if a task whose latest known state is `from` may move to
/// `to`: forward along staging, starting, running, killing, terminal; any
/// live task may become unreachable, and an unreachable one may run again or
/// end. A late retry of an older update (e.g. STARTING after RUNNING) or any
/// change after a terminal state is not a valid transition.
bool is_valid_transition(task_state from, task_state to);

/// Fencing between masters: returns true if a message stamped with leader
/// epoch `epoch` may be obeyed by a peer that follows the leader of epoch
/// `followed` (-1 for either: a standalone master). A message from an older
/// leader than the one followed is refused; a standalone master's (-1) only
/// by a peer that follows no elected leader.
constexpr bool from_epoch(int64_t epoch, int64_t followed) { return epoch >= followed; }

// -- shared value types -------------------------------------------------------

/// What an agent is: sent when it registers.
struct agent_info {
  std::string id;  ///< Empty on first registration; set by the master.
  std::string hostname;
  resources total;
  attribute_map attributes;  ///< e.g. `rack` -> `r1`, `zone` -> `z1`
  std::string http_address;  ///< `host:port` of the agent's HTTP endpoint.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_info& x) {
  return f(caf::meta::type_name("agent_info"), x.id, x.hostname, x.total, x.attributes,
           x.http_address);
}

/// What a framework is: sent when it subscribes.
struct framework_info {
  std::string id;  ///< Empty on first subscription; set on re-subscription.
  std::string name;
  std::vector<std::string> roles;  ///< Empty means the role `*`.
  std::string principal;
  std::string user;
  int64_t failover_timeout_ms = 0;        ///< How long tasks survive a disconnection.
  std::vector<std::string> capabilities;  ///< e.g. `PARTITION_AWARE`.
  /// Labels the allocation policy reads (`framework.labels.*`), e.g.
  /// `data_racks` -> `r1,r2` for rack_local.policy.
  std::map<std::string, std::string> labels;
  /// The framework's smallest task (`framework.min_request`): agents that
  /// cannot hold it are not offered (with a `fits` filter in the policy).
  resources min_request;
  /// The most the framework wants to hold; empty: as much as it is offered.
  resources demand;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_info& x) {
  return f(caf::meta::type_name("framework_info"), x.id, x.name, x.roles, x.principal, x.user,
           x.failover_timeout_ms, x.capabilities, x.labels, x.min_request, x.demand);
}

/// Returns true if the framework declared `PARTITION_AWARE` (its tasks
/// become `TASK_UNREACHABLE`, not `TASK_LOST`, when their agent is cut off).
bool partition_aware(const framework_info& x);

/// Returns true if the framework declared `TASK_KILLING_STATE` (it is sent
/// `TASK_KILLING` when a kill of one of its tasks starts).
bool task_killing_state(const framework_info& x);

/// The longest failover timeout a framework may ask for (3650 days).
constexpr int64_t max_failover_timeout_ms = int64_t{3650} * 24 * 3600 * 1000;

/// The longest kill grace period a task may ask for (`task_info::kill_grace_ms`).
constexpr int64_t max_kill_grace_ms = 3600 * 1000;

/// One task to launch.
struct task_info {
  std::string id;
  std::string name;
  std::string command;  ///< Run with `/bin/sh -c`.
  resources res;
  std::map<std::string, std::string> environment;
  /// Its kill policy: the SIGTERM-to-SIGKILL grace period when it is
  /// killed, in milliseconds (0 to `max_kill_grace_ms`); -1: the agent's
  /// `--kill-grace`.
  int64_t kill_grace_ms = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_info& x) {
  return f(caf::meta::type_name("task_info"), x.id, x.name, x.command, x.res, x.environment,
           x.kill_grace_ms);
}

/// The state of one task at one moment.
struct task_status {
  std::string task_id;
  std::string framework_id;
  std::string agent_id;
  task_state state = task_state::staging;
  std::string reason;   ///< Machine-readable, e.g. `REASON_COMMAND_EXECUTOR_FAILED`.
  std::string message;  ///< Human-readable detail, e.g. `exited with status 3`.
  std::string uuid;     ///< Set when the update needs an acknowledgement.
  int64_t timestamp_ns = 0;
  int32_t exit_code = -1;  ///< Exit status for finished/failed tasks, else -1.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_status& x) {
  return f(caf::meta::type_name("task_status"), x.task_id, x.framework_id, x.agent_id, x.state,
           x.reason, x.message, x.uuid, x.timestamp_ns, x.exit_code);
}

/// Resources of one agent offered to one framework.
struct offer {
  std::string id;
  std::string framework_id;
  std::string agent_id;
  std::string hostname;
  std::string role;
  resources res;
  attribute_map attributes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, offer& x) {
  return f(caf::meta::type_name("offer"), x.id, x.framework_id, x.agent_id, x.hostname, x.role,
           x.res, x.attributes);
}

/// Decline filters: do not re-offer these resources to this framework for
/// `refuse_ms` milliseconds (Mesos `Filters.refuse_seconds`, default 5 s).
struct filters {
  int64_t refuse_ms = 5000;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, filters& x) {
  return f(caf::meta::type_name("filters"), x.refuse_ms);
}

/// A task an agent runs, as reported when it re-registers: everything a
/// master that restarted needs to adopt the task (and its framework).
struct running_task {
  framework_info framework;
  task_info task;
  /// The oldest update the framework has not acknowledged (the next it
  /// will get), else the latest.
  task_status status;
  std::string role;
  /// The newest state the agent recorded (see `status_update`); terminal
  /// for a task that ended with updates still unacknowledged (the master
  /// keeps relaying them, holding no resources for it). `staging`: as
  /// `status`.
  task_state latest_state = task_state::staging;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, running_task& x) {
  return f(caf::meta::type_name("running_task"), x.framework, x.task, x.status, x.role,
           x.latest_state);
}

// -- authentication (client <-> master; agora/auth/challenge.hpp) -------------

/// Client -> master, a request: start authenticating as `principal` in
/// `role` (`framework` or `agent`). Replied to with `auth_challenge`.
struct auth_start {
  std::string principal;
  std::string role;
};

/// Master -> client: prove the secret on this nonce.
struct auth_challenge {
  std::string nonce;  ///< 64 hex digits, fresh for every `auth_start`.
};

/// Client -> master, a request: `proof` is `auth::proof(secret, role,
/// principal, nonce)`. Replied to with `auth_done`, or an error naming the
/// principal (never the secret).
struct auth_proof {
  std::string principal;
  std::string role;
  std::string nonce;
  std::string proof;
};

/// Master -> client: the sending actor is now known as `principal` (until
/// its connection drops).
struct auth_done {
  std::string principal;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_start& x) {
  return f(caf::meta::type_name("auth_start"), x.principal, x.role);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_challenge& x) {
  return f(caf::meta::type_name("auth_challenge"), x.nonce);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_proof& x) {
  return f(caf::meta::type_name("auth_proof"), x.principal, x.role, x.nonce, x.proof);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_done& x) {
  return f(caf::meta::type_name("auth_done"), x.principal);
}

// -- agent <-> master ---------------------------------------------------------

/// Agent -> master. Replied to with `agent_registered`.
struct register_agent {
  agent_info info;
};

/// Agent -> master after a master failover or a lost connection: the agent
/// keeps its id and reports the tasks it still runs.
struct reregister_agent {
  agent_info info;
  std::vector<task_status> tasks;
  std::vector<running_task> running;  ///< The same tasks, in full.
};

/// Master -> agent: the id the agent keeps for its lifetime.
struct agent_registered {
  std::string agent_id;
  int64_t ping_interval_ms = 0;
  /// The leader epoch of the master that answered (-1: standalone). An
  /// agent ignores an answer from an epoch older than the leader it follows.
  int64_t epoch = -1;
};

/// Master -> agent: launch one task for a framework.
struct run_task {
  framework_info framework;
  task_info task;
  std::string role;  ///< The role whose offer the task was launched from.
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Master -> agent: kill every task of a framework (failover timeout expired
/// or the framework tore down).
struct shutdown_framework {
  std::string framework_id;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Agent -> master -> framework: a task changed state.
struct status_update {
  task_status status;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
  /// From an agent: the newest state it has recorded for the task, which
  /// is newer than `status` while `status` waits for its acknowledgement
  /// (as Mesos' `latest_state`). The master accounts the task by it (a
  /// task that ended frees its resources at once) and still relays the
  /// updates in order. `staging` (never an agent's): the same as `status`.
  task_state latest_state = task_state::staging;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, register_agent& x) {
  return f(caf::meta::type_name("register_agent"), x.info);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reregister_agent& x) {
  return f(caf::meta::type_name("reregister_agent"), x.info, x.tasks, x.running);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_registered& x) {
  return f(caf::meta::type_name("agent_registered"), x.agent_id, x.ping_interval_ms, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_task& x) {
  return f(caf::meta::type_name("run_task"), x.framework, x.task, x.role, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_framework& x) {
  return f(caf::meta::type_name("shutdown_framework"), x.framework_id, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_update& x) {
  return f(caf::meta::type_name("status_update"), x.status, x.epoch, x.latest_state);
}

// -- framework <-> master -----------------------------------------------------

/// Framework -> master. Replied to with `subscribed`. Re-sending it with the
/// framework id set (after a disconnection) re-attaches the framework.
struct subscribe {
  framework_info info;
};

/// Master -> framework.
struct subscribed {
  std::string framework_id;
  int64_t heartbeat_interval_ms = 0;
  /// The leader epoch of the master that answered (-1: standalone).
  int64_t epoch = -1;
};

/// Master -> framework: new offers.
struct offers_msg {
  std::vector<offer> offers;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Master -> framework: an offer is no longer valid.
struct rescind_offer {
  std::string offer_id;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Framework -> master: use offers. Resources of the offers that the launched
/// tasks do not use return to the pool, filtered by `filter`.
struct accept {
  std::string framework_id;
  std::vector<std::string> offer_ids;
  std::vector<task_info> launch;  ///< The launch operation's tasks.
  filters filter{0};
};

/// Framework -> master: refuse offers for a while.
struct decline {
  std::string framework_id;
  std::vector<std::string> offer_ids;
  filters filter;
};

/// Framework -> master: clear decline filters and resume offers.
struct revive {
  std::string framework_id;
  std::vector<std::string> roles;  ///< Empty means all the framework's roles.
};

/// Framework -> master: stop sending offers until `revive`.
struct suppress {
  std::string framework_id;
  std::vector<std::string> roles;
};

/// Framework -> master -> agent: kill a task.
struct kill_task {
  std::string framework_id;
  std::string task_id;
  std::string agent_id;  ///< Filled by the master when forwarding.
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Framework -> master -> agent: the framework has seen the update `uuid`.
struct acknowledge {
  std::string framework_id;
  std::string agent_id;
  std::string task_id;
  std::string uuid;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Framework -> master: ask for the latest state of tasks; an empty list asks
/// for all of the framework's tasks (implicit reconciliation).
struct reconcile {
  std::string framework_id;
  std::vector<std::string> task_ids;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Framework -> master: the framework is done; kill its tasks and forget it.
struct teardown {
  std::string framework_id;
};

/// Master -> framework: periodic proof of life.
struct heartbeat {
  int64_t timestamp_ns = 0;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

/// Master -> framework: the master refused a request (e.g. subscribe with
/// an unknown framework id); `fatal` means the framework must stop.
struct framework_error {
  std::string message;
  bool fatal = false;
  /// The sending master's leader epoch (-1: standalone), stamped by the
  /// master on everything it sends or relays; see `from_epoch`.
  int64_t epoch = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe& x) {
  return f(caf::meta::type_name("subscribe"), x.info);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribed& x) {
  return f(caf::meta::type_name("subscribed"), x.framework_id, x.heartbeat_interval_ms, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, offers_msg& x) {
  return f(caf::meta::type_name("offers_msg"), x.offers, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rescind_offer& x) {
  return f(caf::meta::type_name("rescind_offer"), x.offer_id, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, accept& x) {
  return f(caf::meta::type_name("accept"), x.framework_id, x.offer_ids, x.launch, x.filter);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, decline& x) {
  return f(caf::meta::type_name("decline"), x.framework_id, x.offer_ids, x.filter);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, revive& x) {
  return f(caf::meta::type_name("revive"), x.framework_id, x.roles);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, suppress& x) {
  return f(caf::meta::type_name("suppress"), x.framework_id, x.roles);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kill_task& x) {
  return f(caf::meta::type_name("kill_task"), x.framework_id, x.task_id, x.agent_id, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, acknowledge& x) {
  return f(caf::meta::type_name("acknowledge"), x.framework_id, x.agent_id, x.task_id, x.uuid,
           x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconcile& x) {
  return f(caf::meta::type_name("reconcile"), x.framework_id, x.task_ids, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, teardown& x) {
  return f(caf::meta::type_name("teardown"), x.framework_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat& x) {
  return f(caf::meta::type_name("heartbeat"), x.timestamp_ns, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_error& x) {
  return f(caf::meta::type_name("framework_error"), x.message, x.fatal, x.epoch);
}

}  // namespace agora::protocol
