#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agora/test/temp_dir.hpp"

namespace agora::test {

/// Returns true if process `pid` exists and is not a zombie (checked with
/// `kill(pid, 0)` and the state in `/proc/<pid>/stat`).
bool process_alive(pid_t pid);

/// Returns the live (non-zombie) processes whose process group is `pgid`.
std::vector<pid_t> process_group_members(pid_t pgid);

/// Returns the live descendants of `pid` (children, grandchildren, ...),
/// found through the parent ids in `/proc`.
std::vector<pid_t> process_descendants(pid_t pid);

/// A real child process for integration tests (a daemon, a framework, a
/// shell script), run in its own process group with stdout and stderr
/// captured to files in a private temporary directory.
///
/// The destructor terminates (SIGTERM, then SIGKILL of the whole group and of
/// every descendant seen) and reaps it, so a test never leaves orphans
/// behind, even when an assertion fails half-way. The child starts with
/// default signal dispositions, an empty signal mask, stdin from /dev/null
/// and no file descriptors but 0, 1 and 2.
///
/// Not thread-safe: use one object from one thread (the test's).
class child_process {
 public:
  /// Environment additions: each entry overrides or adds a variable.
  using environment = std::map<std::string, std::string>;

  /// Creates an object with no process; call `start`.
  child_process();

  /// Terminates and reaps the process (see `terminate`), then removes the
  /// output directory (unless `AGORA_KEEP_TEST_DIRS` is set).
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Starts `binary` (a path, or a name looked up in `PATH`) with `args`
  /// (without argv[0]) and the parent's environment plus `env`. Returns
  /// false and sets `error` when the process cannot be started (including
  /// exec failures such as a missing binary) or one is already running.
  bool start(const std::string& binary, const std::vector<std::string>& args = {},
             const environment& env = {}, std::string* error = nullptr);

  /// Sets the working directory of the next `start` (default: inherited).
  void set_working_dir(std::string dir) { working_dir_ = std::move(dir); }

  /// Returns the process id (and process group id), or -1 before `start`.
  pid_t pid() const { return pid_; }

  /// Returns true if the process was started and has not exited; reaps it
  /// without blocking when it has.
  bool running();

  /// Sends `sig` to the process only; returns false if that failed.
  bool signal(int sig);

  /// Sends `sig` to the whole process group; returns false if that failed.
  bool kill_group(int sig);

  /// Waits up to `timeout` for the process to exit and reaps it. Returns
  /// its exit code, or 128 + the signal number when a signal killed it;
  /// nullopt if it is still running at the deadline (or was never started).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// Returns the exit status (as `wait_exit`) once the process was reaped.
  std::optional<int> exit_status() const { return status_; }

  /// Sends SIGTERM, waits up to `grace` for an exit, then SIGKILLs the
  /// process group and every descendant seen, reaps, and waits (bounded)
  /// until none of them is alive. Returns the exit status as `wait_exit`
  /// (nullopt if never started). Safe to call more than once.
  std::optional<int> terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));

  /// Returns everything the process wrote to stdout so far.
  std::string stdout_text() const;

  /// Returns everything the process wrote to stderr so far.
  std::string stderr_text() const;

  /// Returns true as soon as stdout or stderr contains `text`; false after
  /// `timeout`, or earlier when the process exited without writing it.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);

  /// Returns the path of the file capturing stdout ("" before `start`).
  std::string stdout_path() const;

  /// Returns the path of the file capturing stderr ("" before `start`).
  std::string stderr_path() const;

  /// Returns a summary for failure messages: command, pid, state, and the
  /// last lines of stdout and stderr.
  std::string describe() const;

 private:
  // Records a `waitpid` status.
  void record(int wait_status);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string command_;
  std::string working_dir_;
  std::unique_ptr<temp_dir> dir_;
  // Descendants seen while the process ran; killed by `terminate`.
  std::vector<pid_t> seen_descendants_;
  // Set once `terminate` saw the group and descendants gone: later calls do
  // not signal again (the ids could have been reused by then).
  bool cleaned_up_ = false;
};

}  // namespace agora::test
