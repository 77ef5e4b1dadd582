#include "agora/zk/detail/group.hpp"

#include <algorithm>
#include <utility>

#include "agora/zk/path.hpp"

namespace agora::zk::detail {

std::optional<int64_t> member_sequence(std::string_view name) {
  if (name.substr(0, member_prefix.size()) != member_prefix) return std::nullopt;
  std::string_view digits = name.substr(member_prefix.size());
  // ZooKeeper appends exactly 10 digits (a signed 32-bit counter, so a
  // wrapped counter shows as a negative number with a '-').
  if (digits.size() != 10) return std::nullopt;
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

result<group_snapshot> read_group(session& s, const std::string& dir,
                                  const std::function<void()>& on_change) {
  watch_callback watch = [on_change](const watch_event&) { on_change(); };
  // Bounded: only a directory created between two reads makes us list again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto children = s.get_children(dir, watch);
    if (!children) {
      if (children.code() != errc::no_node) return children.err();
      auto present = s.exists(dir, watch);
      if (!present) return present.err();
      if (present.value()) continue;  // Created meanwhile: list it.
      return group_snapshot{};
    }
    std::vector<std::pair<int64_t, std::string>> members;
    for (auto& name : children.value())
      if (auto seq = member_sequence(name)) members.emplace_back(*seq, std::move(name));
    std::sort(members.begin(), members.end());
    group_snapshot snapshot;
    for (auto& [seq, name] : members) {
      if (!snapshot.leader) {
        auto data = s.get(join_path(dir, name));
        if (!data) {
          // Gone since the listing (its removal fires the armed watch): the
          // next one leads, if it is still there.
          if (data.code() == errc::no_node) continue;
          return data.err();
        }
        snapshot.leader_owner = data.value().stat.ephemeral_owner;
        snapshot.leader = leader_info{name, std::move(data.value().data), seq};
      }
      snapshot.members.push_back(std::move(name));
    }
    return snapshot;
  }
  return make_error(errc::other, "the group " + dir + " changed too often to be read");
}

}  // namespace agora::zk::detail
