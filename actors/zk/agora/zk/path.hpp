#pragma once

#include <string>
#include <string_view>

#include "agora/zk/error.hpp"

/// Znode path helpers: ZooKeeper's path rules checked in one place (for
/// URLs, the session's operations and the recipes built on them).

namespace agora::zk {

/// Returns success if `path` is a valid absolute znode path by ZooKeeper's
/// rules (those of the server's `PathUtils.validatePath`): it starts with
/// `/`, does not end with `/` (unless it is `/`), has no empty, `.` or `..`
/// component, is valid UTF-8 and has none of the code points ZooKeeper
/// forbids (U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF).
/// Otherwise returns `errc::invalid_argument` with a message naming the
/// problem and its byte offset.
result<void> check_path(std::string_view path);

/// Returns `parent + "/" + child` (no doubled slash when `parent` is `/`).
std::string join_path(std::string_view parent, std::string_view child);

/// Returns the last component of `path` (`"member_0000000001"` for
/// `"/a/leader/member_0000000001"`); `path` itself if it has no `/`.
std::string_view base_name(std::string_view path);

/// Returns the parent of `path` (`"/a"` for `"/a/b"`, `"/"` for `"/a"`,
/// `""` for `"/"` or a path without `/`).
std::string_view parent_path(std::string_view path);

}  // namespace agora::zk
