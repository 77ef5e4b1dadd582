#pragma once

// What an agent writes under `<work_dir>/meta` so that the next agent
// process on the host can take over its tasks (`--recover reconnect`):
//
//   meta/agent.ckpt                                  agent_checkpoint
//   meta/tasks/<framework>/<task>/task.ckpt          task_checkpoint
//   meta/tasks/<framework>/<task>/exit               written by agora-shim
//
// Every file is replaced atomically (a temporary file, fsync, rename), so a
// crash leaves the old version or the new one, never a torn file. A file is
// a small header (magic, format version, payload size, FNV-1a checksum of
// the payload) and the payload in CAF's binary encoding of the structs
// below: a file from another format version is refused as incompatible, a
// damaged one as corrupt, each with the file's name.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "agora/protocol/messages.hpp"

namespace agora::agent {

/// The format of the checkpoint files. Bump it whenever a checkpointed type
/// (the structs below or the protocol types they hold) changes its fields:
/// `checkpoint.layout_is_pinned` fails until this is done.
constexpr uint32_t checkpoint_version = 1;

/// The agent itself.
struct agent_checkpoint {
  std::string agent_id;
  std::string master;         ///< The master it was registered with (address).
  int64_t master_epoch = -1;  ///< The leader epoch it followed.
  std::string boot_id;        ///< The host's boot when the agent ran.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_checkpoint& x) {
  return f(caf::meta::type_name("agora.agent.agent_checkpoint"), x.agent_id, x.master,
           x.master_epoch, x.boot_id);
}

/// One task, from its launch until it is terminal and its last status
/// update was acknowledged.
struct task_checkpoint {
  protocol::framework_info framework;
  protocol::task_info info;
  std::string role;
  protocol::task_status status;  ///< The latest.
  int32_t pid = -1;              ///< The shim's (the group's) pid; -1: none.
  uint64_t start_time = 0;       ///< The shim's start time (see process_start_time).
  std::string sandbox;
  std::string container_id;  ///< The isolator's (e.g. the cgroup's name).
  bool kill_requested = false;
  bool terminal = false;  ///< Ended; kept only for `pending`.
  /// Status updates not acknowledged yet, oldest first.
  std::vector<protocol::task_status> pending;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_checkpoint& x) {
  return f(caf::meta::type_name("agora.agent.task_checkpoint"), x.framework, x.info, x.role,
           x.status, x.pid, x.start_time, x.sandbox, x.container_id, x.kill_requested, x.terminal,
           x.pending);
}

/// Everything a previous agent process left.
struct recovered_state {
  std::optional<agent_checkpoint> agent;  ///< nullopt: no checkpoint (first start)
  std::vector<task_checkpoint> tasks;
};

/// Encodes `payload` bytes as a checkpoint file (header + payload).
std::string encode_checkpoint(const std::string& payload);

/// Decodes a checkpoint file's bytes into its payload. Returns false and
/// sets `error` ("incompatible ..." or "corrupt ...") otherwise.
bool decode_checkpoint(const std::string& file, std::string& payload, std::string& error);

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync
/// (unless `sync` is false), rename. Returns false and sets `error`
/// ("path: reason") on failure.
bool write_atomically(const std::string& path, const std::string& bytes, std::string& error,
                      bool sync = true);

/// The checkpoint files of one agent work directory. Not thread-safe (the
/// agent actor owns it).
class checkpoint_store {
 public:
  explicit checkpoint_store(std::string work_dir);

  /// `<work_dir>/meta`.
  const std::string& dir() const { return dir_; }

  /// The directory of a task's files (see the file comment).
  std::string task_dir(const std::string& framework_id, const std::string& task_id) const;

  /// Where `agora-shim` records a task's exit status.
  std::string exit_file(const std::string& framework_id, const std::string& task_id) const;

  /// Writes the agent's checkpoint. False and `error` on failure.
  bool save(const agent_checkpoint& a, std::string& error);

  /// Writes a task's checkpoint (creating its directory). False and `error`
  /// on failure. The rename is atomic for any crash of the agent; the fsync
  /// before it, which only a crash of the host needs, is done when the task
  /// has ended (`terminal`): its exit status must outlive a power loss, while
  /// a task that was running when the host went down is gone anyway (the
  /// next start reports it so).
  bool save(const task_checkpoint& t, std::string& error);

  /// Creates a task's directory (for the shim's exit file) before launch.
  bool prepare(const std::string& framework_id, const std::string& task_id, std::string& error);

  /// Removes a task's files (and its framework's directory with the last).
  void remove(const std::string& framework_id, const std::string& task_id);

  /// Reads everything. Returns false and sets `error` (naming the file)
  /// when a file is corrupt or of another format version; a task directory
  /// without `task.ckpt` (the agent died between creating it and writing
  /// it, before the launch) is skipped. With `skip_damaged`, damaged files
  /// are skipped instead (and named in `error`), for `--recover cleanup`,
  /// which must find as many of the old tasks as it can.
  bool load(recovered_state& out, std::string& error, bool skip_damaged = false) const;

  /// Removes every checkpoint (`--recover cleanup`). False and `error` if
  /// that fails.
  bool wipe(std::string& error);

  /// Takes `meta/agent.lock` (an exclusive `flock`, held until the returned
  /// descriptor is closed), so that no two agent processes use one work
  /// directory and adopt the same tasks. Returns -1 and sets `error`
  /// (naming the pid that holds it) when another process holds it.
  int lock(std::string& error);

 private:
  std::string dir_;
};

}  // namespace agora::agent
