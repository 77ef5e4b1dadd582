#pragma once

// Messages between the master's own actors (master, allocator, framework
// proxies). They never leave the master process, but they are inspectable
// like every message, so they print in logs and tests.

#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/master/allocator.hpp"
#include "agora/master/policy_control.hpp"
#include "agora/protocol/messages.hpp"

namespace agora::master {

// -- master -> allocator -------------------------------------------------------

struct alloc_add_agent {
  std::string agent_id;
  resources total;
  /// framework id -> role -> resources in use (after re-registration).
  std::map<std::string, std::map<std::string, resources>> used_by;
  std::string hostname;
  std::map<std::string, std::string> attributes;
};
struct alloc_remove_agent {
  std::string agent_id;
};
struct alloc_agent_active {
  std::string agent_id;
  bool active = true;
};
/// Adds a framework, or updates it on re-subscription (roles, demand).
struct alloc_add_framework {
  std::string framework_id;
  std::vector<std::string> roles;
  std::string user;
  std::map<std::string, std::string> labels;
  resources min_request;
  resources demand;
};
struct alloc_remove_framework {
  std::string framework_id;
};
struct alloc_framework_active {
  std::string framework_id;
  bool active = true;
};
struct alloc_recover {
  std::string framework_id;
  std::string role;
  std::string agent_id;
  resources res;
  int64_t refuse_ms = 0;
};

/// A task launched or ended, for the policy's `on launch` / `on finish`
/// metrics.
struct alloc_task_event {
  std::string event;  ///< `launch` or `finish`.
  std::string framework_id;
  std::string role;
  std::string agent_id;
  resources res;
  int64_t runtime_ms = 0;  ///< `finish`: how long the task ran.
};

// -- allocator -> master -------------------------------------------------------

struct role_stat {
  std::string role;
  double weight = 1.0;
  double share = 0.0;  ///< Weighted dominant share.
  resources allocated;
  double dominant_share = 0.0;      ///< Unweighted.
  uint64_t frameworks_wanting = 0;  ///< Of the role and its descendants.
  bool has_guarantee = false, has_limit = false;
  resources guarantee;
  resources limit;  ///< Parts the limit leaves unlimited are -1.
};

/// The policy a cycle ran.
struct policy_stat {
  std::string name;
  int64_t version = 0;
  std::string hash;
  int64_t revision = 0;
  std::string source_name;
};

/// The result of one allocation cycle, plus the role statistics after it.
struct alloc_offers {
  std::vector<offer_decision> decisions;
  std::vector<role_stat> roles;
  int64_t cycle_ns = 0;  ///< How long the cycle took.
  policy_stat policy;
};

// -- master <-> framework proxy -------------------------------------------------

/// Proxy -> master: the connection of scheduler instance `scheduler` is
/// gone. The master ignores it if another instance subscribed meanwhile.
struct framework_disconnected {
  std::string framework_id;
  caf::actor_addr scheduler;
};
/// Proxy -> master: the failover timeout passed without a re-subscription.
struct framework_failover_expired {
  std::string framework_id;
};
/// Master -> proxy: the framework re-subscribed from `scheduler`.
struct framework_reconnected {
  caf::actor scheduler;
};
/// Master -> proxy: the framework was removed; tell the scheduler `why`
/// (a fatal error, stamped by the master) and quit.
struct framework_removed {
  protocol::framework_error why;
};

// -- master timers ---------------------------------------------------------------

/// Sweeps every agent: counts unanswered pings, sends the next ones.
struct ping_sweep {};
/// Agents of the registry that did not re-register in time after this
/// master was elected become unreachable.
struct reregistration_deadline {};

// -- runtime -> master -------------------------------------------------------------

/// A standby master now leads, at `epoch`, with the registry it claimed.
struct become_leader {
  /// `master_config::election_token`: only the runtime that spawned the
  /// master knows it, so no peer can make a standby lead.
  uint64_t token = 0;
  int64_t epoch = 0;
  /// This master's info as published in ZooKeeper (JSON).
  std::string leader_json;
  /// The registry as claimed (JSON, see registry.hpp).
  std::string registry_json;
  /// Persists the master's changes to the registry.
  caf::actor registrar;
  /// The registry's policy, compiled (null: none, or it does not check on
  /// this master). Local only: not inspected below.
  std::shared_ptr<const policy_revision> policy = nullptr;
};
struct offer_expired {
  std::string offer_id;
};
struct publish_state {};

// -- operator endpoints (HTTP threads) -> master -------------------------------

/// `POST /frameworks/ID/teardown`: remove the framework and kill its tasks,
/// as if it had torn itself down. `requested_by` names who asked (for the
/// log and the framework's error). Reply: `operator_reply`.
struct operator_teardown {
  std::string framework_id;
  std::string requested_by;
  /// The HTTP principal ("": anonymous), for `--acls`.
  std::string principal;
};
/// `POST /frameworks/FID/tasks/TID/kill`: kill one task through its agent;
/// the framework hears `TASK_KILLED` as for its own kill. Reply:
/// `operator_reply`.
struct operator_kill {
  std::string framework_id;
  std::string task_id;
  std::string requested_by;
  /// The HTTP principal ("": anonymous), for `--acls`.
  std::string principal;
};
/// The master's answer to an operator request: an HTTP status and a JSON
/// body.
struct operator_reply {
  int status = 200;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, offer_decision& x) {
  return f(caf::meta::type_name("offer_decision"), x.framework_id, x.agent_id, x.role, x.res);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_add_agent& x) {
  return f(caf::meta::type_name("alloc_add_agent"), x.agent_id, x.total, x.used_by, x.hostname,
           x.attributes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_remove_agent& x) {
  return f(caf::meta::type_name("alloc_remove_agent"), x.agent_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_agent_active& x) {
  return f(caf::meta::type_name("alloc_agent_active"), x.agent_id, x.active);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_add_framework& x) {
  return f(caf::meta::type_name("alloc_add_framework"), x.framework_id, x.roles, x.user, x.labels,
           x.min_request, x.demand);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_remove_framework& x) {
  return f(caf::meta::type_name("alloc_remove_framework"), x.framework_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_framework_active& x) {
  return f(caf::meta::type_name("alloc_framework_active"), x.framework_id, x.active);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_recover& x) {
  return f(caf::meta::type_name("alloc_recover"), x.framework_id, x.role, x.agent_id, x.res,
           x.refuse_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_task_event& x) {
  return f(caf::meta::type_name("alloc_task_event"), x.event, x.framework_id, x.role, x.agent_id,
           x.res, x.runtime_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, role_stat& x) {
  return f(caf::meta::type_name("role_stat"), x.role, x.weight, x.share, x.allocated,
           x.dominant_share, x.frameworks_wanting, x.has_guarantee, x.has_limit, x.guarantee,
           x.limit);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policy_stat& x) {
  return f(caf::meta::type_name("policy_stat"), x.name, x.version, x.hash, x.revision,
           x.source_name);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alloc_offers& x) {
  return f(caf::meta::type_name("alloc_offers"), x.decisions, x.roles, x.cycle_ns, x.policy);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_disconnected& x) {
  return f(caf::meta::type_name("framework_disconnected"), x.framework_id, x.scheduler);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_failover_expired& x) {
  return f(caf::meta::type_name("framework_failover_expired"), x.framework_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_reconnected& x) {
  return f(caf::meta::type_name("framework_reconnected"), x.scheduler);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, framework_removed& x) {
  return f(caf::meta::type_name("framework_removed"), x.why);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ping_sweep&) {
  return f(caf::meta::type_name("ping_sweep"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reregistration_deadline&) {
  return f(caf::meta::type_name("reregistration_deadline"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, become_leader& x) {
  return f(caf::meta::type_name("become_leader"), x.token, x.epoch, x.leader_json, x.registry_json,
           x.registrar);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, offer_expired& x) {
  return f(caf::meta::type_name("offer_expired"), x.offer_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_teardown& x) {
  return f(caf::meta::type_name("operator_teardown"), x.framework_id, x.requested_by, x.principal);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_kill& x) {
  return f(caf::meta::type_name("operator_kill"), x.framework_id, x.task_id, x.requested_by,
           x.principal);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, operator_reply& x) {
  return f(caf::meta::type_name("operator_reply"), x.status, x.body);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_state&) {
  return f(caf::meta::type_name("publish_state"));
}

}  // namespace agora::master
