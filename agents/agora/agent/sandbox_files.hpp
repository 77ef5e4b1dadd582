#pragma once

#include <cstdint>
#include <string>

namespace agora::agent {

/// The largest chunk `read_sandbox_file` returns (1 MiB).
constexpr int64_t max_file_chunk = int64_t{1} << 20;

/// A part of a sandbox file, or why it cannot be read.
struct file_chunk {
  int status = 200;    ///< HTTP status: 200, or 400/403/404 with `error`.
  std::string error;   ///< Set when `status != 200`.
  std::string data;    ///< The bytes read.
  int64_t offset = 0;  ///< Where `data` starts (the file size for offset -1).
};

/// Returns up to `length` bytes (all up to `max_file_chunk` when negative)
/// from `offset` of the file `path` (absolute, or relative to `work_dir`),
/// as served on the agent's `/files/read` (as Mesos' endpoint: offset -1
/// returns no data and the file size as `offset`). Only regular files inside
/// `<work_dir>/frameworks/` are served; symbolic links are resolved first,
/// so a link in a sandbox cannot reach outside it (403). CAF-free and
/// thread-safe: it only reads the file system.
file_chunk read_sandbox_file(const std::string& work_dir, const std::string& path, int64_t offset,
                             int64_t length);

}  // namespace agora::agent
