#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

#include "agora/auth/acls.hpp"
#include "agora/auth/credentials.hpp"
#include "agora/master/bounded_id_set.hpp"
#include "agora/master/internal_messages.hpp"
#include "agora/master/leadership_lease.hpp"
#include "agora/master/master_metrics.hpp"
#include "agora/master/policy_control.hpp"
#include "agora/master/state_view.hpp"
#include "agora/master/trace_recorder.hpp"
#include "agora/policy/allocation_core.hpp"
#include "agora/protocol/messages.hpp"

namespace agora::master {

/// Settings of a master.
struct master_config {
  std::string hostname = "127.0.0.1";
  /// Principals and secrets (`--credentials`); null: authentication is
  /// refused (and cannot be required).
  std::shared_ptr<const auth::credential_store> credentials;
  /// Frameworks and agents must authenticate before they subscribe or
  /// register (`--authenticate-frameworks`, `--authenticate-agents`).
  bool authenticate_frameworks = false;
  bool authenticate_agents = false;
  /// Authorization rules (`--acls`); null: everything is allowed.
  std::shared_ptr<const auth::acls> acls;
  /// Address of the HTTP endpoint (for /state).
  std::string http_address;
  /// Address of the actor endpoint (for /state).
  std::string actor_address;
  std::chrono::milliseconds allocation_interval{1000};
  /// Offers not answered within this time are rescinded (0: never).
  std::chrono::milliseconds offer_timeout{0};
  std::chrono::milliseconds agent_ping_timeout{15000};
  int64_t max_agent_ping_timeouts = 5;
  std::chrono::milliseconds framework_heartbeat_interval{15000};
  /// How long a framework learnt from re-registering agents (after a master
  /// restart or failover) has to re-subscribe before its failover timeout
  /// starts.
  std::chrono::milliseconds framework_reregister_timeout{600000};
  /// Role weight overrides (`--weights`); the policy's weights otherwise.
  std::map<std::string, double> weights;
  /// The allocation policy; null: the embedded default weighted_drf.policy.
  std::shared_ptr<const policy::runnable_policy> policy;
  /// Where the policy came from (its file) and its text, for /state and `GET /policy`.
  std::string policy_source = "weighted_drf.policy (embedded default)";
  std::string policy_text;
  /// The cluster schema the policy was checked against ("": none).
  std::string policy_schema_text;
  /// Shared with the operator endpoints (`/policy`); may be null.
  std::shared_ptr<policy_control> control;
  /// Where `/metrics` reads from; may be null.
  std::shared_ptr<master_metrics> metrics;
  /// Records a trace for `agora policy sim` (`--record-trace`); may be null.
  std::shared_ptr<trace_recorder> trace;
  /// Completed tasks kept for /state.
  size_t max_completed_tasks = 1000;
  /// Ids of removed frameworks remembered (refused if they subscribe again).
  size_t max_removed_frameworks = 100000;
  /// Wait for `become_leader` before acting (a master contending in
  /// ZooKeeper); false: lead at once (standalone).
  bool standby = false;
  /// The secret `become_leader` must carry.
  uint64_t election_token = 0;
  /// With ZooKeeper: the leader acts (offers, launches) only while this is
  /// valid. Null: always.
  std::shared_ptr<const leadership_lease> lease;
  /// The ZooKeeper URL (for /state), empty when standalone.
  std::string zk_url;
  /// After an election, agents of the registry that do not re-register
  /// within this time are marked unreachable.
  std::chrono::milliseconds agent_reregister_timeout{600000};
  /// The largest fraction of the registry's agents a new leader marks
  /// unreachable at its re-registration deadline; beyond it, none is (an
  /// operator should look first).
  double recovery_agent_removal_limit = 1.0;
};

enum class agent_health : uint8_t {
  active,        ///< Registered and answering pings.
  disconnected,  ///< Connection lost; pings still decide.
  unreachable,   ///< Missed too many pings; tasks reported lost.
};

struct agent_record {
  protocol::agent_info info;
  caf::actor handle;
  /// The principal the agent authenticated as ("": none).
  std::string principal;
  agent_health health = agent_health::active;
  int64_t missed_pings = 0;
  /// A ping is out and not answered yet (counted as missed at the next sweep).
  bool awaiting_pong = false;
  int64_t registered_at_ns = 0;
  /// Keys of `master_state::tasks` running on this agent.
  std::set<std::pair<std::string, std::string>> tasks;
  /// Offers on this agent.
  std::set<std::string> offers;
  /// Tasks reported `TASK_LOST` to frameworks that are not partition-aware
  /// when the agent became unreachable: killed if the agent comes back.
  std::set<std::pair<std::string, std::string>> lost_tasks;
  /// Declared unreachable by an earlier leader (from the registry): every
  /// task of a framework that is not partition-aware was reported lost.
  bool lost_all_tasks = false;
};

struct framework_record {
  protocol::framework_info info;
  caf::actor proxy;
  /// The scheduler instance subscribed now (null while disconnected or
  /// before the first subscription of a framework recovered from agents).
  caf::actor scheduler;
  /// `info.principal` was proved (the scheduler authenticated): only an
  /// instance authenticated as the same principal may re-subscribe.
  bool principal_verified = false;
  bool connected = true;
  int64_t registered_at_ns = 0;
  int64_t disconnected_at_ns = 0;
  std::set<std::string> offers;
  std::set<std::string> tasks;  ///< Active task ids.
  bool partition_aware() const;
};

struct task_record {
  protocol::task_info info;
  std::string framework_id;
  std::string agent_id;
  std::string role;
  protocol::task_status status;  ///< Latest known status.
  /// The states the task went through, oldest first (at most
  /// `history_kept`; the oldest go first), for `/state` and the UI.
  struct state_change {
    int64_t timestamp_ns = 0;
    protocol::task_state state = protocol::task_state::staging;
    /// Its reason and message, when either is set: most changes have
    /// neither, and a task keeps several (32 bytes each, not 80).
    std::shared_ptr<const std::pair<std::string, std::string>> text;
    const std::string& reason() const { return text ? text->first : empty(); }
    const std::string& message() const { return text ? text->second : empty(); }
    static const std::string& empty() {
      static const std::string none;
      return none;
    }
  };
  std::vector<state_change> history;
  static constexpr size_t history_kept = 16;
  /// Makes `s` the latest status and records it in `history`.
  void set_status(const protocol::task_status& s) {
    status = s;
    if (history.size() == history_kept) history.erase(history.begin());
    state_change change{s.timestamp_ns, s.state, nullptr};
    if (!s.reason.empty() || !s.message.empty())
      change.text =
          std::make_shared<const std::pair<std::string, std::string>>(s.reason, s.message);
    history.push_back(std::move(change));
  }
  int64_t launched_ms = -1;  ///< When launched, on the trace's clock (-1: not traced).
  int64_t launched_ns = 0;   ///< When launched (0: adopted, launch time unknown).
  /// The agent's newest state of the task is terminal while its older
  /// updates still wait for the framework's acknowledgement: its resources
  /// went back to the allocator already (and are not counted as used).
  bool released = false;
};

/// A framework the master removed (torn down, or failed over too late),
/// kept for `/state` and the UI.
struct completed_framework {
  protocol::framework_info info;
  int64_t registered_at_ns = 0;
  int64_t removed_at_ns = 0;
  std::string reason;
};

struct offer_record {
  protocol::offer offer;
  int64_t created_ns = 0;
};

/// Everything the master owns. Only the master actor touches it.
struct master_state {
  master_config config;
  std::string master_id;
  int64_t start_time_ns = 0;
  /// Leading (standalone masters lead from the start), at `epoch` (-1: not
  /// elected through ZooKeeper), with this info published (JSON).
  bool leading = false;
  int64_t epoch = -1;
  std::string leader_json;
  /// Persists agents and removed frameworks (null when standalone).
  caf::actor registrar;
  /// Agents of the registry that have not re-registered since the election:
  /// id -> hostname.
  std::map<std::string, std::string> recovering_agents;
  /// Agent id -> the principal it authenticated as, from the registry (for
  /// agents that have not re-registered with this leader yet).
  std::map<std::string, std::string> registry_principals;
  uint64_t next_agent = 0;
  uint64_t next_framework = 0;
  uint64_t next_offer = 0;
  caf::actor allocator;
  std::map<std::string, agent_record> agents;
  std::map<std::string, framework_record> frameworks;
  /// (framework id, task id) -> task.
  std::map<std::pair<std::string, std::string>, task_record> tasks;
  std::map<std::string, offer_record> offers;
  std::deque<task_record> completed_tasks;
  /// (framework id, task id) -> uuid of the terminal update of each task in
  /// `completed_tasks`, to tell a retry of it from a stale older update.
  std::map<std::pair<std::string, std::string>, std::string> completed_index;
  /// Removed frameworks (torn down or failed over too late).
  bounded_id_set completed_frameworks{100000};
  /// The most recent of them (at most `completed_frameworks_kept`), with
  /// what `/state` shows of them.
  std::deque<completed_framework> completed_framework_records;
  static constexpr size_t completed_frameworks_kept = 100;
  /// Agent actor -> agent id, so a lost connection is found without a scan.
  std::map<caf::actor_addr, std::string> agent_by_actor;
  /// Authentication (master_auth.cpp): actors that proved a principal's
  /// secret (until their connection drops), challenges outstanding, and
  /// failed attempts by node (each failure doubles the node's wait).
  struct peer_principal {
    std::string principal;
    std::string role;
  };
  std::map<caf::actor_addr, peer_principal> authenticated;
  struct pending_challenge {
    std::string principal;
    std::string role;
    std::string nonce;
    int64_t expires_ns = 0;
  };
  std::map<caf::actor_addr, pending_challenge> challenges;
  struct auth_throttle {
    int64_t failures = 0;
    int64_t next_attempt_ns = 0;
  };
  std::map<caf::node_id, auth_throttle> auth_failures_by_node;
  /// Outcomes: success, failure, throttled, missing (a subscription or
  /// registration without the authentication this master requires).
  std::map<std::string, uint64_t> authentications;
  std::vector<role_stat> roles;
  policy_stat policy;  ///< The policy of the last cycle.
  bool publish_pending = false;
  /// What changed since the last publish, and the records of `/state` kept
  /// from earlier publishes (see state_view.hpp).
  state_changes changes;
  std::unique_ptr<state_view> view = std::make_unique<state_view>();
  /// Compare every incremental snapshot with one rendered from scratch and
  /// abort on a difference (`AGORA_VERIFY_STATE_VIEW=1`, set by tests).
  bool verify_view = false;
  void changed_agent(const std::string& id) { changes.agents.insert(id); }
  void changed_framework(const std::string& id) { changes.frameworks.insert(id); }
  void changed_task(const std::string& framework_id, const std::string& task_id) {
    changes.tasks.insert({framework_id, task_id});
  }
  void changed_offer(const std::string& id) { changes.offers.insert(id); }
  bool lease_lapsed_logged = false;
  /// Counters for /state and metrics.
  uint64_t tasks_launched = 0;
  uint64_t offers_made = 0;
  uint64_t offers_declined = 0;
  uint64_t offers_rescinded = 0;
  uint64_t invalid_requests = 0;
  /// Messages about a framework or agent from an actor that is not that
  /// framework's scheduler or that agent (`foreign_message`).
  uint64_t foreign_messages = 0;
  uint64_t status_updates = 0;
  uint64_t stale_status_updates = 0;
  /// Tasks ended, by terminal state (`TASK_FINISHED`, ...).
  std::map<std::string, uint64_t> tasks_ended;
  /// Offer decisions and accepts withheld while the lease had lapsed.
  uint64_t withheld_without_lease = 0;
  int64_t last_cycle_ns = 0;
  static inline const char* name = "agora.master";
};

}  // namespace agora::master
