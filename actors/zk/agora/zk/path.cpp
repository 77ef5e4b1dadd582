#include "agora/zk/path.hpp"

#include <cstdint>
#include <cstdio>

namespace agora::zk {

namespace {

error path_error(std::string_view path, const std::string& what) {
  return make_error(errc::invalid_argument,
                    "invalid znode path '" + std::string(path) + "': " + what);
}

std::string hex_code_point(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// Decodes one UTF-8 sequence at `s[i]`; returns its length (0 when the
// sequence is malformed, overlong or a surrogate) and sets `cp`.
std::size_t decode_utf8(std::string_view s, std::size_t i, uint32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  std::size_t len = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF) return 0;
  // Surrogates (U+D800-U+DFFF) are not valid UTF-8 at all; report them with
  // the forbidden range below by returning the length anyway.
  return len;
}

bool forbidden_code_point(uint32_t cp) {
  // The ranges ZooKeeper's server rejects (PathUtils.validatePath).
  return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xD800 && cp <= 0xF8FF) ||
         (cp >= 0xFFF0 && cp <= 0xFFFF);
}

}  // namespace

result<void> check_path(std::string_view path) {
  if (path.empty()) return path_error(path, "the path is empty");
  if (path.front() != '/') return path_error(path, "the path must start with '/'");
  if (path.size() == 1) return {};
  if (path.back() == '/') return path_error(path, "the path must not end with '/'");
  std::size_t start = 1;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string_view component = path.substr(start, i - start);
    if (component.empty())
      return path_error(path, "empty path component at offset " + std::to_string(start));
    if (component == "." || component == "..")
      return path_error(path, "relative component '" + std::string(component) + "' at offset " +
                                  std::to_string(start));
    start = i + 1;
  }
  for (std::size_t i = 0; i < path.size();) {
    uint32_t cp = 0;
    std::size_t len = decode_utf8(path, i, cp);
    if (len == 0) return path_error(path, "invalid UTF-8 at offset " + std::to_string(i));
    if (forbidden_code_point(cp))
      return path_error(path, "character " + hex_code_point(cp) + " at offset " +
                                  std::to_string(i) + " is not allowed by ZooKeeper");
    i += len;
  }
  return {};
}

std::string join_path(std::string_view parent, std::string_view child) {
  std::string out(parent);
  if (out.empty() || out.back() != '/') out += '/';
  out += child;
  return out;
}

std::string_view base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view parent_path(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos || path == "/") return {};
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace agora::zk
