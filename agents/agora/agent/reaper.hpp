#pragma once

#include <sys/types.h>
#include <chrono>
#include <functional>
#include <string>

namespace agora::agent {

/// How a supervised process ended.
struct exit_status {
  pid_t pid = -1;
  bool signaled = false;        ///< Killed by a signal (see `signal`), else exited.
  int code = -1;                ///< Exit status when `!signaled`, else -1.
  int signal = 0;               ///< Terminating signal when `signaled`, else 0.
  bool kill_requested = false;  ///< `reaper::kill` was called for this process.
  /// Set by the containerizer when an isolator's limit ended the container
  /// (e.g. `REASON_CONTAINER_LIMITATION_MEMORY`), with a message naming it.
  std::string limitation_reason{};
  std::string limitation_message{};
  /// False when the exit status is not known (an adopted process that is
  /// not a child of this process): then `code` and `signal` mean nothing.
  bool known = true;
};

/// Called once per supervised process, on the reaper thread, after the
/// process has been reaped and its process group killed.
using exit_callback = std::function<void(const exit_status&)>;

/// The process-wide supervisor of child processes: one lazily started thread
/// that waits for the exits of the processes registered with `watch` (and
/// only those: other children of the process are left alone), kills the
/// process group of a leader that exits (so no orphan survives it), and runs
/// the kill grace periods of `kill`.
///
/// Why one per process: several agents may live in one process (`agora
/// local`), and exits are detected with `pidfd`s (falling back to polling
/// `waitid(WNOWAIT)`) instead of `waitpid(-1)`, so it never steals another
/// component's children. A child that exits before it is registered stays a
/// zombie until `watch` sees it, so no exit is lost.
class reaper {
 public:
  /// Returns the process-wide instance (never destroyed).
  static reaper& instance();

  /// Starts supervising `pid`, a child of this process and the leader of its
  /// own process group. `on_exit` runs exactly once, on the reaper thread; it
  /// must not call `forget` or block for long.
  void watch(pid_t pid, exit_callback on_exit);

  /// Starts supervising `pid`, a process that may not be a child of this
  /// process (one a previous agent process started), through `pidfd`, an
  /// open pidfd of it (taken over: the reaper closes it). When it exits,
  /// `on_exit` runs with `exit_status::known` false unless it was a child
  /// after all: only a parent learns how a process ended. Its process group
  /// is killed as with `watch`.
  void adopt(pid_t pid, int pidfd, exit_callback on_exit);

  /// Sends SIGTERM to the process group of `pid` now and SIGKILL after
  /// `grace` (at once when `grace` is zero). Returns false if `pid` is not
  /// supervised (already reaped).
  bool kill(pid_t pid, std::chrono::milliseconds grace);

  /// Drops the callback of `pid`: after this returns the callback is not
  /// running and never runs. The process is still reaped.
  void forget(pid_t pid);

  /// Returns the number of supervised processes.
  size_t size() const;

  reaper(const reaper&) = delete;
  reaper& operator=(const reaper&) = delete;

 private:
  reaper();
  struct impl;
  impl* impl_;
};

}  // namespace agora::agent
