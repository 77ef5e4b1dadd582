#pragma once

#include <cstdint>
#include <string>

namespace agora::zk {

/// The leader of an election group (`<root>/leader`), as contenders and
/// detectors report it.
struct leader_info {
  /// The leader's znode name, e.g. `"member_0000000007"`.
  std::string member;
  /// The leader's data: the JSON the leading contender joined with (the
  /// master's info).
  std::string data;
  /// The leader's sequence number: it only grows from one leader to the
  /// next as long as the group's parent znode is not recreated, so it
  /// serves as the leadership epoch.
  int64_t epoch = -1;

  /// Returns true if both name the same member with the same data.
  friend bool operator==(const leader_info& a, const leader_info& b) {
    return a.member == b.member && a.data == b.data && a.epoch == b.epoch;
  }

  /// Returns `!(a == b)`.
  friend bool operator!=(const leader_info& a, const leader_info& b) { return !(a == b); }
};

}  // namespace agora::zk
