#pragma once

// Linux control groups for task isolation: finding the controllers this
// machine really offers (cgroups v2, else v1), and an isolator that gives
// each task its own cgroup with cpu, memory and pids limits, kills it as a
// whole, reports its usage and tells when the kernel's OOM killer hit it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agora/agent/containerizer.hpp"

namespace agora::agent::cgroups {

enum class version { none, v1, v2 };

/// Returns "v1", "v2" or "none".
const char* to_string(version v);

/// Where this machine's cgroup controllers are.
struct layout {
  version ver = version::none;
  /// v2: the unified hierarchy's mount point.
  std::string v2_mount;
  /// v1: controller (`cpu`, `cpuacct`, `memory`, `pids`, `freezer`) ->
  /// mount point of its hierarchy.
  std::map<std::string, std::string> v1_mounts;
  /// What was found and why a hierarchy was not chosen (one line each), for
  /// the agent's start-up message.
  std::vector<std::string> notes;
};

/// Finds the usable cgroup hierarchy from `mounts` (the text of
/// `/proc/self/mounts`): v2 when its mount offers the cpu, memory and pids
/// controllers and they are (or can be) enabled in its
/// `cgroup.subtree_control`; else v1 when cpu, memory and pids each have a
/// mounted hierarchy; else none. Only reads, except for enabling v2
/// controllers. Tests pass a mount table that points into a temp directory.
layout detect(const std::string& mounts);

/// Reads `/proc/self/mounts` and calls `detect`.
layout detect_system();

/// How the isolator limits tasks.
struct options {
  /// `--cgroups-root`: the cgroup (in each hierarchy) under which agents
  /// put their tasks' cgroups.
  std::string root = "agora";
  /// `--cgroups-enable-cfs`: cap cpu time at the task's cpus (CFS quota =
  /// cpus x period), not only weight it.
  bool enable_cfs = false;
  std::chrono::microseconds cfs_period{100000};
  /// `--max-task-pids`: the most processes and threads one task may have
  /// (0: no limit).
  int64_t max_pids = 4096;
};

/// The lowest memory limit a task gets (Mesos' `MIN_MEMORY`): a task that
/// asks for less is limited at this.
constexpr int64_t min_memory = int64_t{32} << 20;

/// Returns the cgroup (relative to each hierarchy) under which the agent
/// with work directory `work_dir` puts its tasks: `<root>/a-<hash>`.
std::string agent_cgroup(const options& opts, const std::string& work_dir);

/// The cgroup isolator: each task gets the cgroup
/// `<hierarchy>/<root>/<agent_dir>/<container>` (in every v1 hierarchy it
/// uses, or once in v2), with
/// - cpu: weight from the task's cpus (v1 `cpu.shares` = 1024 per cpu, v2
///   `cpu.weight` = 100 per cpu), and with `enable_cfs` a hard cap;
/// - memory: a hard limit at the task's mem, at least `min_memory` (OOM kill
///   beyond it);
/// - pids: `max_pids`.
/// The task's first process joins the cgroup before it execs, so every
/// process it starts is inside. When the task's first process exits, or on
/// `destroy`, everything left in the cgroup is killed (freezing it first, or
/// `cgroup.kill`), so `setsid()` and double forks do not escape; then the
/// cgroup is removed. Thread-safe.
class isolator final : public agent::isolator {
 public:
  /// Returns an isolator for the agent whose work directory is `work_dir`
  /// (its tasks' cgroups go under `<root>/a-<hash of work_dir>`, so agents
  /// sharing a machine never touch each other's tasks). Creates the root
  /// cgroups; what a previous run of the same agent left there stays until
  /// `recover` re-attached what the agent recovers and `remove_unknown`
  /// removed the rest.
  /// Returns null and sets `error` when the layout is `none` or the
  /// cgroups cannot be created (e.g. not root).
  static std::shared_ptr<isolator> create(const layout& l, options opts,
                                          const std::string& work_dir, std::string& error);
  ~isolator() override;

  bool prepare(const launch_request& req, const std::string& sandbox, std::string& error) override;
  bool enter(const launch_request& req) override;
  bool leave(std::string& error) override;
  bool isolate(const launch_request& req, pid_t pid, std::string& error) override;
  void cleanup(const launch_request& req) override;
  bool recover(const launch_request& req, const std::string& id, std::string& error) override;
  std::string container_id(const std::string& framework_id,
                           const std::string& task_id) const override;
  std::vector<std::string> remove_unknown() override;
  std::optional<container_limitation> limitation(const launch_request& req) override;
  std::optional<container_usage> usage(const std::string& framework_id,
                                       const std::string& task_id) override;

  /// Returns the cgroup directories of a task (one per hierarchy; empty
  /// when it has none).
  std::vector<std::string> paths(const std::string& framework_id, const std::string& task_id) const;

  /// Kills every process in a task's cgroup and waits (bounded) until it is
  /// empty. Returns false if processes remain.
  bool kill_all(const std::string& framework_id, const std::string& task_id);

  /// Returns the (framework id, task id) of every task with a cgroup.
  std::vector<std::pair<std::string, std::string>> tasks() const;

  version ver() const { return layout_.ver; }
  /// The agent's directory in each hierarchy (`<mount>/<root>/a-<hash>`).
  std::vector<std::string> agent_dirs() const;

 private:
  struct container {
    std::string name;  ///< The cgroup's name under the agent's directory.
    container_limits limits;
  };
  isolator(layout l, options opts, std::string agent_dir);

  /// The hierarchies this isolator writes in: (controller, mount) pairs;
  /// one entry ("", mount) for v2.
  std::vector<std::pair<std::string, std::string>> hierarchies() const;
  std::string dir_in(const std::string& mount, const std::string& container) const;
  /// Returns true if the hierarchy at `mount` has `controller` (always
  /// with v2).
  bool controls(const std::string& controller, const std::string& mount) const;
  /// Kills every process of the cgroup `name` and waits (bounded) until it
  /// is empty; false if processes remain.
  bool kill_members(const std::string& name);
  /// Kills and removes the cgroup `name` (every hierarchy).
  bool destroy(const std::string& name);
  std::optional<container> find(const std::string& framework_id, const std::string& task_id) const;

  layout layout_;
  options opts_;
  std::string agent_dir_;  ///< `<root>/a-<hash>`, relative to each mount
  mutable std::mutex mtx_;
  std::map<std::pair<std::string, std::string>, container> containers_;
  /// v1: launches move the launching thread into the task's cgroups and
  /// spawn without forking; off after a failed move back.
  std::atomic<bool> thread_moves_{true};
};

/// Returns the text of `path` without a trailing newline; nullopt when it
/// cannot be read.
std::optional<std::string> read_file(const std::string& path);

/// Writes `value` to the control file `path`; returns false and sets
/// `error` ("path: reason") on failure.
bool write_file(const std::string& path, const std::string& value, std::string& error);

/// Returns the value of `key` in a flat keyed file (`key value` lines, as
/// `memory.events` or `cpu.stat`); nullopt when absent.
std::optional<int64_t> keyed_value(const std::string& text, const std::string& key);

}  // namespace agora::agent::cgroups
