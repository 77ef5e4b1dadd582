#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <sys/types.h>

#include <vector>

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
  /// Non-empty: the task runs under the containerizer's shim, which writes
  /// the task's exit status to this file, so that an agent that is not the
  /// task's parent (one started after a crash) still learns it. The file's
  /// directory must exist.
  std::string exit_file{};
  /// The OS user the task runs as (the agent's `--switch-user`): its uid,
  /// primary gid and supplementary groups are set before exec, and the
  /// sandbox is handed to it. Empty: the agent's own user.
  std::string user{};
  /// The agent runs with `--switch-user`: a task without a `user` is
  /// refused rather than run as the agent's own user (root, usually).
  bool switch_user = false;
};

/// The outcome of `containerizer::launch`.
struct launch_result {
  bool ok = false;
  std::string error;    ///< Why the launch failed, when `!ok`.
  pid_t pid = -1;       ///< The first process (shim or shell); the group id.
  std::string sandbox;  ///< Absolute sandbox directory.
  /// When `pid` started (see `process_start_time`), to recognise it later.
  uint64_t start_time = 0;
};

/// A task a previous agent process launched, to re-attach to.
struct recovered_container {
  launch_request request;  ///< As launched (with its `exit_file`).
  pid_t pid = -1;
  uint64_t start_time = 0;   ///< From the launch; 0: unknown (never adopted)
  std::string container_id;  ///< The isolator's `container_id` then.
};

/// What `containerizer::recover` found.
struct recovery_result {
  /// True: the task's process still runs and is watched again; its exit
  /// callback runs when it ends. False: it ended while no agent watched
  /// (`status` says how, if `status.known`).
  bool running = false;
  exit_status status;
};

/// Returns the start time of process `pid` (field 22 of /proc/PID/stat,
/// clock ticks after boot), or 0 when there is no such process. With
/// `boot_id`, it tells a process from a later one that reuses its pid.
uint64_t process_start_time(pid_t pid);

/// Returns this boot's id (/proc/sys/kernel/random/boot_id; empty if
/// unknown): processes of an earlier boot are gone.
std::string boot_id();

/// Reads an exit status the shim wrote (`exit N` or `signal N`); the
/// result's `known` is false when the file is missing or malformed.
exit_status read_exit_file(const std::string& path);

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

  /// Re-attaches to the container of a task a previous agent process
  /// launched (its cgroups, for example), given what `container_id` said
  /// then. Returns false and sets `error` if it cannot.
  virtual bool recover(const launch_request& req, const std::string& id, std::string& error) {
    (void)req, (void)id, (void)error;
    return true;
  }

  /// Returns what identifies a running task's container, to be checkpointed
  /// and handed to `recover` after an agent restart (empty: nothing).
  virtual std::string container_id(const std::string& framework_id,
                                   const std::string& task_id) const {
    (void)framework_id, (void)task_id;
    return {};
  }

  /// Destroys every container this isolator has that `recover` did not
  /// re-attach: what a previous agent process left and nobody will watch.
  /// Returns what it removed, one line each.
  virtual std::vector<std::string> remove_unknown() { return {}; }

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
  /// `shim`: the path of `agora-shim`, needed for launches with an
  /// `exit_file`.
  explicit containerizer(std::string work_dir, std::shared_ptr<isolator> iso = nullptr,
                         std::string shim = {});

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

  /// Re-attaches to a task a previous agent process launched under the
  /// shim: if `c.pid` still runs and started at `c.start_time` in this boot
  /// (a reused pid is never adopted), it is watched again (through a pidfd:
  /// it is not a child of this process) and `on_exit` runs when it ends,
  /// with the status its shim recorded; else the status it recorded is
  /// returned and `on_exit` never runs. `same_boot` false: every process of
  /// the checkpoint is gone.
  recovery_result recover(const recovered_container& c, bool same_boot, exit_callback on_exit);

  /// Stops watching every running container without killing it (the agent
  /// stops, and the next agent process recovers them): no exit callback
  /// runs after this returns, and the destructor leaves them running.
  void release_all();

  /// Kills the container of `pid`: SIGTERM to its group now, SIGKILL after
  /// `grace`. Returns false if `pid` is not a running container.
  bool kill(pid_t pid, std::chrono::milliseconds grace);

  /// Returns the sandbox directory of a task (without creating it).
  std::string sandbox_path(const std::string& framework_id, const std::string& task_id) const;

  /// Returns the isolator's id of a running task's container (empty:
  /// none), to checkpoint for `recover`.
  std::string container_id(const std::string& framework_id, const std::string& task_id) const {
    return isolator_ ? isolator_->container_id(framework_id, task_id) : std::string{};
  }

  /// Returns the number of containers still running.
  size_t running() const;

  /// Returns a running task's resource use as its isolator measures it
  /// (nullopt without an isolator that measures).
  std::optional<container_usage> usage(const std::string& framework_id,
                                       const std::string& task_id) const;

  /// Returns the isolator (null: none).
  const std::shared_ptr<isolator>& isolation() const { return isolator_; }
  /// Returns how many isolation steps failed so far (prepare, isolate,
  /// leave, recover).
  uint64_t isolator_errors() const { return isolator_errors_.load(std::memory_order_relaxed); }

  /// Returns the work directory.
  const std::string& work_dir() const { return work_dir_; }

 private:
  /// Registers a started container with the reaper; returns `result` as ok.
  launch_result watch(launch_result result, const launch_request& req, pid_t pid,
                      exit_callback on_exit);
  /// Returns the reaper's callback for container `pid`: it forgets the
  /// container, completes its status, releases its isolation and calls
  /// `on_exit`.
  exit_callback on_container_exit(pid_t pid, exit_callback on_exit);

  std::string work_dir_;
  std::shared_ptr<isolator> isolator_;
  std::atomic<uint64_t> isolator_errors_{0};
  std::string shim_;
  mutable std::mutex mtx_;
  std::map<pid_t, launch_request> running_;
};

/// Returns false and sets `error` unless `id` is usable as one path
/// component (non-empty, no `/`, not `.` or `..`, no NUL).
bool valid_path_component(const std::string& id, std::string& error);

/// Returns the name of a signal, e.g. `SIGSEGV` (or `SIG<n>` when unknown).
std::string signal_name(int signal);

}  // namespace agora::agent
