#include "agora/protocol/roles.hpp"

namespace agora::protocol {

std::string role_error(const std::string& role) {
  if (role.empty()) return "role name is empty";
  if (role == "*") return {};
  if (role.size() > max_role_length)
    return "role name is longer than " + std::to_string(max_role_length) + " characters";
  size_t start = 0;
  while (start <= role.size()) {
    auto slash = role.find('/', start);
    auto end = slash == std::string::npos ? role.size() : slash;
    std::string part = role.substr(start, end - start);
    if (part.empty())
      return "role '" + role + "' has an empty component (leading, trailing or double '/')";
    if (part == "." || part == "..") return "role '" + role + "' has a component '" + part + "'";
    if (part[0] == '-') return "role '" + role + "' has a component starting with '-'";
    for (unsigned char c : part) {
      if (c <= 0x20 || c == 0x7f)
        return "role '" + role + "' contains whitespace or a control character";
      if (c == '\\' || c == '*') return "role '" + role + "' contains '" + char(c) + "'";
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return {};
}

}  // namespace agora::protocol
