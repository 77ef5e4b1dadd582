#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "agora/protocol/resources.hpp"

namespace agora::master {

/// Records what happens on a master as the JSON-lines trace `agora policy
/// sim --trace` replays (docs/policy-sim.md): agents joining and leaving,
/// frameworks subscribing and leaving, and each finished task as a request
/// of one task at its launch time with the duration it ran. Lines go to a
/// writer actor of its own (detached: file I/O never blocks the master).
/// Tasks that have not ended when recording stops are not in the trace.
/// Times are milliseconds since the recorder started.
class trace_recorder {
 public:
  /// Starts writing to `path` (truncated). Returns false and sets `error`
  /// if it cannot be opened.
  bool open(caf::actor_system& sys, const std::string& path, std::string& error);
  /// Stops the writer (flushing what was written).
  ~trace_recorder();

  /// Returns milliseconds since `open`.
  int64_t now_ms() const;

  void agent_added(const std::string& id, const protocol::resources& total,
                   const std::map<std::string, std::string>& attributes);
  void agent_removed(const std::string& id);
  void framework_added(const std::string& id, const std::string& role,
                       const std::map<std::string, std::string>& labels);
  void framework_removed(const std::string& id);
  /// A task of `framework` that used `res` ran from `launched_ms` until now.
  void task_ended(const std::string& framework, const protocol::resources& res,
                  int64_t launched_ms);

 private:
  void write(std::string line);

  caf::actor writer_;
  int64_t start_ns_ = 0;
  std::set<std::string> agents_, frameworks_;  ///< Present in the trace now.
};

}  // namespace agora::master
