#pragma once

#include <string>

namespace agora::protocol {

/// Longest role name accepted.
inline constexpr size_t max_role_length = 255;

/// Returns why `role` is not a valid role name, or "" when it is.
///
/// The rules follow Mesos: `*` is the default role; any other name is one or
/// more `/`-separated components (a hierarchy, e.g. `eng/backend`), each
/// non-empty, neither `.` nor `..`, not starting with `-`, and free of
/// whitespace, control characters, `\` and `*`. At most `max_role_length`
/// characters.
std::string role_error(const std::string& role);

}  // namespace agora::protocol
