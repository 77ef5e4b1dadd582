#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace agora::master {

/// What a new leading master must know and cannot learn from re-registering
/// agents and re-subscribing frameworks. Persisted as one JSON document in
/// ZooKeeper (`<root>/registry`) by the registrar, written by compare-and-set.
struct registry {
  enum class agent_state : uint8_t {
    admitted,     ///< Registered with some leader.
    unreachable,  ///< Declared unreachable: its tasks were reported lost.
  };
  struct agent {
    std::string hostname;
    agent_state state = agent_state::admitted;
  };
  /// Agent id -> what is known of it.
  std::map<std::string, agent> agents;
  /// Frameworks that must not come back (torn down or timed out), oldest
  /// first, at most `max_removed_frameworks`.
  std::vector<std::string> removed_frameworks;
  /// The epoch of the leader that wrote the document last.
  int64_t leader_epoch = -1;

  /// Most removed framework ids kept (the oldest are dropped first).
  static constexpr size_t max_removed_frameworks = 10000;

  /// Adds a removed framework id, dropping the oldest beyond the limit.
  void remove_framework(const std::string& id);

  /// Returns the document as JSON.
  std::string to_json() const;

  /// Parses `json` into `out`; returns false and sets `error` when it is
  /// not a registry document.
  static bool from_json(const std::string& json, registry& out, std::string& error);
};

}  // namespace agora::master
