#pragma once

#include <cstdint>
#include <map>
#include <optional>
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
    /// The principal it authenticated as ("": none): only that principal
    /// may re-register the id with a later leader.
    std::string principal;
  };
  /// Agent id -> what is known of it.
  std::map<std::string, agent> agents;
  /// Frameworks that must not come back (torn down or timed out), oldest
  /// first, at most `max_removed_frameworks`.
  std::vector<std::string> removed_frameworks;
  /// The epoch of the leader that wrote the document last.
  int64_t leader_epoch = -1;
  /// The allocation policy an operator made active at run time (apply,
  /// rollback, end of a shadow period): a new leader runs it instead of its
  /// `--policy` file. None until the first such change.
  struct policy_record {
    std::string name;    ///< The policy's file name.
    std::string source;  ///< Its text.
    std::string schema;  ///< The cluster schema it was checked against ("": none).
    int64_t revision = 0;
    int64_t loaded_at_ms = 0;  ///< Unix time it became active.
  };
  std::optional<policy_record> policy;

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
