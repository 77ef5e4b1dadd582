#pragma once

// One simulated agent of `agora fleet`: a CAF actor that speaks the real
// agent protocol to the master (register, re-register with its id, pongs,
// run/kill/shutdown/acknowledge/reconcile, status updates with uuids and
// retries) but runs no process: a task is a deadline on a timer.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "agora/protocol/messages.hpp"
#include "agora/protocol/resources.hpp"

namespace agora::main::fleet {

/// `(fmaster_atom, caf::actor master, std::string address, int64_t epoch)`:
/// the fleet's connection actor hands an agent the master to register with
/// (after a connection, a reconnection or a leader change). Obeyed only
/// from an actor of the agent's own process.
using fmaster_atom = caf::atom_constant<caf::atom("fmaster")>;

/// `(flost_atom)`: the connection to the master is gone; wait for the next
/// `fmaster_atom`. Obeyed only from an actor of the agent's own process.
using flost_atom = caf::atom_constant<caf::atom("flost")>;

/// A plain copy of `fleet_counters`, summed over a fleet's processes.
struct fleet_totals {
  int64_t agents = 0, registered = 0, registrations = 0, reregistrations = 0, register_failures = 0,
          running = 0, launched = 0, finished = 0, failed = 0, killed = 0, rejected = 0,
          updates_sent = 0, updates_acked = 0, updates_retried = 0, updates_pending = 0, pings = 0,
          foreign_commands = 0, stale_epoch_commands = 0, connected = 0, connections = 0,
          heap_kib = 0;
};

/// Figures of one fleet process, updated by its agents and read by the
/// status line. Lock-free atomics only, so the block may live in memory
/// shared with a parent process (`--processes`).
struct fleet_counters {
  std::atomic<int64_t> agents{0};         ///< Agents spawned.
  std::atomic<int64_t> registered{0};     ///< Agents registered now.
  std::atomic<int64_t> registrations{0};  ///< Successful first registrations.
  std::atomic<int64_t> reregistrations{0};
  std::atomic<int64_t> register_failures{0};  ///< Refused or timed-out attempts.
  std::atomic<int64_t> running{0};            ///< Tasks running now.
  std::atomic<int64_t> launched{0};           ///< Tasks started (TASK_STARTING sent).
  std::atomic<int64_t> finished{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> killed{0};
  std::atomic<int64_t> rejected{0};      ///< TASK_ERROR, TASK_DROPPED and TASK_LOST answers.
  std::atomic<int64_t> updates_sent{0};  ///< Including retries.
  std::atomic<int64_t> updates_acked{0};
  std::atomic<int64_t> updates_retried{0};
  std::atomic<int64_t> updates_pending{0};  ///< Queued, not acknowledged yet.
  std::atomic<int64_t> pings{0};
  std::atomic<int64_t> foreign_commands{0};  ///< From a peer that is not the master.
  std::atomic<int64_t> stale_epoch_commands{0};
  std::atomic<int64_t> connected{0};    ///< 1 while the process has a master connection.
  std::atomic<int64_t> connections{0};  ///< Connections made (1 + reconnections).
  /// The process's heap in use (malloc'd and not freed), sampled about once
  /// a second; unlike the resident size it falls when memory is freed.
  std::atomic<int64_t> heap_kib{0};

  /// Adds these figures to `t`.
  void add_to(fleet_totals& t) const;
};

static_assert(std::atomic<int64_t>::is_always_lock_free,
              "fleet counters are shared between processes");

/// How long simulated tasks run whose command names no duration: a
/// constant (`2s`), `uniform:A:B` or `exp:MEAN` (exponential).
struct duration_dist {
  enum class kind : uint8_t { constant, uniform, exponential };
  kind k = kind::constant;
  std::chrono::milliseconds a{5000};  ///< The constant, the lower bound or the mean.
  std::chrono::milliseconds b{0};     ///< The upper bound (uniform).

  /// Parses `2s`, `500ms`, `uniform:1s:5s`, `exp:30s`; false and `error` otherwise.
  static bool parse(const std::string& text, duration_dist& out, std::string& error);
  /// Returns a duration drawn with `u`, a uniform number in [0, 1).
  std::chrono::milliseconds draw(double u) const;
  /// Returns the text form accepted by `parse`.
  std::string to_string() const;
};

/// What a simulated task does, read from its command.
struct task_plan {
  /// True: it ends after `duration` with `exit_code`; the duration comes
  /// from the command (`sleep X`) or is zero (`exit N`, `true`, `false`).
  /// False: any other command, which lasts a `--task-duration` draw and
  /// finishes with 0.
  bool from_command = false;
  std::chrono::milliseconds duration{0};
  int32_t exit_code = 0;
};

/// Reads a command the way the fleet simulates it: `sleep X` (seconds,
/// fractions and the suffixes s, m, h, d as GNU sleep) finishes after X;
/// `exit N` (0..255) ends at once with status N; `true` as `exit 0`,
/// `false` as `exit 1`; anything else is not `from_command`.
task_plan plan_task(const std::string& command);

/// Returns the hostname of agent `index` (0-based): `PREFIX-00001`, ...
/// (at least five digits).
std::string fleet_hostname(const std::string& prefix, int64_t index);

/// What every agent of a fleet process shares; read-only once agents run.
struct fleet_agent_config {
  std::string hostname_prefix = "fleet";
  protocol::resources resources;
  /// Attributes every agent has (`--attributes`), before `rack`/`zone`.
  protocol::attribute_map attributes;
  int64_t racks = 1;  ///< `rack:rN`, N = index % racks + 1.
  int64_t zones = 0;  ///< >0: `zone:zM`, M = (rack - 1) % zones + 1.
  duration_dist task_duration;
  std::chrono::milliseconds status_retry_interval{10000};
  std::chrono::milliseconds status_retry_max{600000};
  std::chrono::milliseconds register_timeout{30000};
  std::chrono::milliseconds backoff_min{200};
  std::chrono::milliseconds backoff_max{10000};
  /// Re-register when the master has not pinged for this many ping
  /// intervals (as `agora-agent`); 0: never.
  int max_missed_pings = 6;
  /// Authenticate as `principal` with `secret` before registering (both
  /// set: `--principal`, `--secret-file`), as `agora-agent` does.
  std::string principal;
  std::string secret;
  uint64_t seed = 0;
  fleet_counters* counters = nullptr;  ///< Never null once agents run.
  /// Diagnostic lines (rate-limited by the caller); may be empty.
  std::function<void(const std::string&)> log;

  /// Returns the attributes of agent `index`.
  protocol::attribute_map attributes_of(int64_t index) const;
};

/// Spawns simulated agent `index` (0-based over the whole fleet). It waits
/// for `fmaster_atom` before it registers.
caf::actor spawn_fleet_agent(caf::actor_system& sys, std::shared_ptr<const fleet_agent_config> cfg,
                             int64_t index);

}  // namespace agora::main::fleet
