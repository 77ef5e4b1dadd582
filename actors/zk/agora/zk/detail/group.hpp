#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agora/zk/error.hpp"
#include "agora/zk/leader_info.hpp"
#include "agora/zk/session.hpp"

/// Reading an election group: shared by `leader_election` and
/// `leader_detector`. Private to the module.

namespace agora::zk::detail {

/// The prefix of a member's znode name; the C client appends a 10-digit
/// sequence number.
constexpr std::string_view member_prefix = "member_";

/// Returns the sequence number of a member name (`member_0000000012` → 12),
/// nullopt for a name that is not a member's.
std::optional<int64_t> member_sequence(std::string_view name);

/// A group as read at one moment.
struct group_snapshot {
  /// The members' names, lowest sequence first (vanished ones left out).
  std::vector<std::string> members;
  /// The lowest member whose data could be read: the leader.
  std::optional<leader_info> leader;
  /// The session owning the leader's node (its `ephemeral_owner`).
  int64_t leader_owner = 0;
};

/// Reads the group under `dir` and arms a watch that calls `on_change` at
/// its next change: a children watch when `dir` exists, an exists watch
/// when it does not (then the group is empty). A member that vanishes
/// between the listing and the read of its data is left out (the armed
/// watch fires for its removal). Blocking: not for the event thread.
result<group_snapshot> read_group(session& s, const std::string& dir,
                                  const std::function<void()>& on_change);

}  // namespace agora::zk::detail
