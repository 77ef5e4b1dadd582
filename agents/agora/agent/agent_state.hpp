#pragma once

#include "agora/discovery/master_follower.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>

#include "agora/agent/agent_actor.hpp"
#include "agora/agent/agent_metrics.hpp"
#include "agora/agent/checkpoint.hpp"
#include "agora/agent/containerizer.hpp"
#include "agora/agent/sandbox_gc.hpp"
#include "agora/agent/status_updates.hpp"
#include "agora/protocol/messages.hpp"

namespace agora::observability {
class http_server;
}

namespace agora::agent {

/// One task the agent knows: running, or recently completed.
struct task_record {
  protocol::framework_info framework;
  protocol::task_info info;
  std::string role;              ///< The role of the offer it was launched from.
  protocol::task_status status;  ///< The latest update.
  pid_t pid = -1;
  uint64_t start_time = 0;  ///< Of `pid` (see process_start_time).
  std::string sandbox;
  std::string container_id;  ///< The isolator's, for recovery.
  bool kill_requested = false;
};

/// The terminal state, reason and message of a task that exited.
struct exit_outcome {
  protocol::task_state state = protocol::task_state::failed;
  std::string reason;
  std::string message;
  int32_t exit_code = -1;
};

/// Returns how a task that exited is reported: exit 0 -> TASK_FINISHED;
/// non-zero -> TASK_FAILED `exited with status N`; a signal -> TASK_FAILED
/// `killed by signal N (SIGX)`; any exit after a kill request -> TASK_KILLED.
exit_outcome describe_exit(const task_exited& e);

/// The latest state JSON, shared between the agent (writer) and HTTP
/// threads (readers). Readers never wait on the actor.
class state_snapshot {
 public:
  state_snapshot();
  /// Replaces the JSON.
  void publish(std::string json);
  /// Returns the latest JSON (never null).
  std::shared_ptr<const std::string> get() const;
  /// Replaces what is known of frameworks' principals (framework id ->
  /// principal), for authorization of sandbox reads on HTTP threads.
  void publish_principals(std::map<std::string, std::string> principals);
  /// Returns the principal of framework `id`; `known` false when the agent
  /// knows no task of it.
  std::string principal(const std::string& id, bool& known) const;

 private:
  mutable std::mutex mtx_;
  std::shared_ptr<const std::string> json_;
  std::shared_ptr<const std::map<std::string, std::string>> principals_;
};

/// Everything the agent actor owns. The behaviour (agent_actor.cpp) stays
/// thin; the bookkeeping below is plain C++.
struct agent_state {
  static inline const char* name = "agora.agent";

  agent_config config;
  std::string hostname;
  std::unique_ptr<containerizer> containers;
  std::shared_ptr<state_snapshot> snapshot = std::make_shared<state_snapshot>();
  /// The agent's metrics, shared with its `/metrics` route.
  std::shared_ptr<agent_metrics> metrics = std::make_shared<agent_metrics>();
  std::shared_ptr<observability::http_server> http;
  std::string http_address;

  // -- the master ---------------------------------------------------------
  caf::actor master;
  bool local_master = false;  ///< Given a handle: no reconnection.
  /// Follows the leading master (`agent_config::master`); null otherwise.
  std::shared_ptr<discovery::master_follower> follower;
  /// The leader epoch of the master followed (-1: unknown).
  int64_t master_epoch = -1;
  /// Commands from actors other than the master, dropped.
  uint64_t foreign_commands = 0;
  /// Commands from the master stamped with an epoch older than the leader
  /// followed, dropped.
  uint64_t stale_epoch_commands = 0;
  std::string master_address;
  /// How tasks are isolated, as JSON (`{"mode":"cgroups","version":"v1",...}`).
  std::string isolation_json = "{\"mode\":\"posix\"}";
  std::string agent_id;
  bool registered = false;
  uint64_t generation = 0;  ///< Bumped per connection, to drop stale replies.
  std::chrono::milliseconds backoff{0};
  std::chrono::milliseconds ping_interval{0};  ///< From `agent_registered`.
  std::chrono::steady_clock::time_point last_ping;

  // -- checkpointing and recovery ----------------------------------------------
  /// The checkpoint files (null: the agent does not checkpoint).
  std::unique_ptr<checkpoint_store> store;
  /// Holds `meta/agent.lock` while the agent lives (see checkpoint_store::lock).
  std::shared_ptr<void> work_dir_lock;
  /// This boot's id, checkpointed with the agent.
  std::string boot_id;
  /// Tasks whose checkpoint must be written before the next `outbox` send.
  std::set<std::pair<std::string, std::string>> dirty;
  /// Updates to send once `dirty` is written.
  std::vector<protocol::task_status> outbox;
  /// Nesting of scopes that defer the flush of `dirty` and `outbox`.
  int batch_depth = 0;
  uint64_t checkpoint_errors = 0;
  /// What the start-up recovery found (for `/state`).
  struct {
    bool done = false;   ///< A checkpoint was read.
    size_t running = 0;  ///< Tasks re-attached.
    size_t ended = 0;    ///< Tasks that ended while no agent watched.
    int64_t duration_us = 0;
  } recovery;

  // -- tasks and updates -----------------------------------------------------
  std::map<std::pair<std::string, std::string>, task_record> tasks;  ///< (framework, task)
  std::deque<task_record> completed;
  /// `completed`, each already rendered as JSON (completed tasks never
  /// change), so publishing a snapshot after each update stays cheap.
  std::deque<std::string> completed_json;
  /// Each running task rendered as JSON, so that publishing the state after
  /// every update re-renders only the tasks that changed (`dirty`), not all
  /// of an agent's thousands. Dropped when a task changes; filled by
  /// `to_json`.
  mutable std::map<std::pair<std::string, std::string>, std::string> task_json;
  /// Sandboxes of finished tasks waiting for removal.
  sandbox_gc gc;
  /// Removes sandboxes off the agent's thread (a detached actor).
  caf::actor gc_worker;
  /// Status updates not acknowledged yet: one ordered stream per task.
  status_update_manager updates;
  /// When the armed retry timer fires (nullopt: none armed).
  std::optional<std::chrono::steady_clock::time_point> retry_at;
  std::mt19937_64 rng{std::random_device{}()};
  bool stopping = false;
  /// A snapshot is due (`publish_soon`).
  bool publish_pending = false;
  std::vector<caf::response_promise> stop_promises;

  ~agent_state();

  /// Returns what `/metrics` shows of the agent now.
  std::shared_ptr<const agent_sample> sample() const;
  /// Returns the resources used by running tasks.
  protocol::resources used() const;

  /// Returns a fresh random 128-bit id as 32 hex digits.
  std::string make_uuid();

  /// Records a new status of `rec` (with a fresh uuid and timestamp) as its
  /// latest and returns it (to be queued with `updates`).
  protocol::task_status record_update(task_record& rec, protocol::task_state state,
                                      std::string reason, std::string message,
                                      int32_t exit_code = -1);

  /// Returns an update for a task the agent does not run.
  protocol::task_status record_orphan_update(const std::string& framework_id,
                                             const std::string& task_id, protocol::task_state state,
                                             std::string reason, std::string message);

  /// Moves a task from `tasks` to `completed` (bounded).
  void complete(std::map<std::pair<std::string, std::string>, task_record>::iterator it);
  void complete(task_record rec);

  /// Returns the latest statuses of the running tasks (for re-registration).
  std::vector<protocol::task_status> running_statuses() const;
  /// Returns the running tasks in full, for re-registration.
  std::vector<protocol::running_task> running_tasks() const;

  /// Returns the agent info sent on (re)registration.
  protocol::agent_info info() const;

  /// Returns the state JSON served on `/state`.
  std::string to_json() const;
};

}  // namespace agora::agent
