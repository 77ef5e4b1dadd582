#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <sys/types.h>

#include "agora/agent/reaper.hpp"

namespace agora::agent {

/// Resource limits of one container, for isolators. Zero means unlimited.
struct container_limits {
  int64_t cpus_milli = 0;
  int64_t mem_bytes = 0;
  int64_t disk_bytes = 0;
  int64_t max_pids = 0;
};

/// Why an isolator's limit ended a container (Mesos' `REASON_CONTAINER_*`).
struct container_limitation {
  std::string reason;   ///< e.g. `REASON_CONTAINER_LIMITATION_MEMORY`
  std::string message;  ///< names the limit
};

/// Resource use of a running container, as its isolator measures it.
struct container_usage {
  double cpu_seconds = 0;         ///< user + system cpu time so far
  int64_t mem_bytes = 0;          ///< memory charged now
  int64_t mem_peak_bytes = 0;     ///< highest charge seen (0: unknown)
  int64_t pids = 0;               ///< processes and threads now
  int64_t oom_kills = 0;          ///< processes the OOM killer took
  int64_t throttled_periods = 0;  ///< CFS periods the cpu cap held it back
  container_limits limits;        ///< what it is limited to
};

/// What to launch: one task as `/bin/sh -c command`.
struct launch_request {
  std::string framework_id;
  std::string task_id;
  std::string command;
  std::map<std::string, std::string> environment;  ///< Added to the agent's.
  container_limits limits;
};

/// The outcome of `containerizer::launch`.
struct launch_result {
  bool ok = false;
  std::string error;    ///< Why the launch failed, when `!ok`.
  pid_t pid = -1;       ///< The shell; also the process group id.
  std::string sandbox;  ///< Absolute sandbox directory.
};

/// A seam for isolation (cgroups, rlimits, namespaces). Hooks run in the
/// agent process; `isolate` runs after the child was forked but before it
/// may exec, so placing it into a cgroup covers every process it starts.
class isolator {
 public:
  virtual ~isolator() = default;

  /// Prepares resources for a container (e.g. creates its cgroup). Returns
  /// false and sets `error` to refuse the launch.
  virtual bool prepare(const launch_request& req, const std::string& sandbox, std::string& error) {
    (void)req, (void)sandbox, (void)error;
    return true;
  }

  /// Moves the calling thread into the container prepared for `req`, so
  /// that a process spawned now starts inside it (no fork of the agent
  /// needed; see `leave`). Returns false when the isolator cannot do that
  /// (nothing moved): then the child is forked and `isolate`d instead.
  virtual bool enter(const launch_request& req) {
    (void)req;
    return false;
  }

  /// Moves the calling thread back after `enter`. Returns false (and sets
  /// `error`) if it could not: the launch is then aborted.
  virtual bool leave(std::string& error) {
    (void)error;
    return true;
  }

  /// Isolates the forked, still waiting child `pid`. Returns false and sets
  /// `error` to abort the launch (the child is killed and reaped).
  virtual bool isolate(const launch_request& req, pid_t pid, std::string& error) {
    (void)req, (void)pid, (void)error;
    return true;
  }

  /// Releases what `prepare` created, after the container's first process
  /// is gone (or the launch failed), killing what is left of it.
  virtual void cleanup(const launch_request& req) { (void)req; }

  /// Returns the limit that ended the container, if one did; called after
  /// its first process exited, before `cleanup`.
  virtual std::optional<container_limitation> limitation(const launch_request& req) {
    (void)req;
    return std::nullopt;
  }

  /// Returns the resource use of a running task's container (nullopt:
  /// unknown, or the isolator does not measure).
  virtual std::optional<container_usage> usage(const std::string& framework_id,
                                               const std::string& task_id) {
    (void)framework_id, (void)task_id;
    return std::nullopt;
  }
};

/// Launches tasks as processes, each in its own process group and sandbox
/// directory `<work_dir>/frameworks/<framework_id>/tasks/<task_id>/`, with
/// `stdout` and `stderr` files there; reports exits through the process-wide
/// `reaper` (never blocking the caller for an exit) and kills with a grace
/// period (SIGTERM to the group, SIGKILL to the group after the grace).
///
/// CAF-free, so it can be tested and reused without actors. Thread-safe.
class containerizer {
 public:
  /// `work_dir` is created when needed; `iso` may be null (no isolation).
  explicit containerizer(std::string work_dir, std::shared_ptr<isolator> iso = nullptr);

  /// Kills (SIGKILL, no grace) every process still running that this
  /// instance launched and drops their callbacks.
  ~containerizer();

  containerizer(const containerizer&) = delete;
  containerizer& operator=(const containerizer&) = delete;

  /// Launches `req`. The child's environment is the agent's, then
  /// `req.environment`, then `AGORA_SANDBOX`, `AGORA_TASK_ID` and
  /// `AGORA_FRAMEWORK_ID`. On success `on_exit` runs exactly once, on the
  /// reaper thread, after the process group is gone; on failure it never runs.
  /// Returns after the child has exec'ed `/bin/sh` (or failed to).
  launch_result launch(const launch_request& req, exit_callback on_exit);

  /// Kills the container of `pid`: SIGTERM to its group now, SIGKILL after
  /// `grace`. Returns false if `pid` is not a running container.
  bool kill(pid_t pid, std::chrono::milliseconds grace);

  /// Returns the sandbox directory of a task (without creating it).
  std::string sandbox_path(const std::string& framework_id, const std::string& task_id) const;

  /// Returns the number of containers still running.
  size_t running() const;

  /// Returns a running task's resource use as its isolator measures it
  /// (nullopt without an isolator that measures).
  std::optional<container_usage> usage(const std::string& framework_id,
                                       const std::string& task_id) const;

  /// Returns the isolator (null: none).
  const std::shared_ptr<isolator>& isolation() const { return isolator_; }

  /// Returns the work directory.
  const std::string& work_dir() const { return work_dir_; }

 private:
  /// Registers a started container with the reaper; returns `result` as ok.
  launch_result watch(launch_result result, const launch_request& req, pid_t pid,
                      exit_callback on_exit);

  std::string work_dir_;
  std::shared_ptr<isolator> isolator_;
  mutable std::mutex mtx_;
  std::map<pid_t, launch_request> running_;
};

/// Returns false and sets `error` unless `id` is usable as one path
/// component (non-empty, no `/`, not `.` or `..`, no NUL).
bool valid_path_component(const std::string& id, std::string& error);

/// Returns the name of a signal, e.g. `SIGSEGV` (or `SIG<n>` when unknown).
std::string signal_name(int signal);

}  // namespace agora::agent
