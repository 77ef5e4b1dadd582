#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

/// The largest file `download_sandbox_file` returns whole (64 MiB); larger
/// ones are read in chunks with `read_sandbox_file`.
constexpr int64_t max_download = int64_t{64} << 20;

/// One entry of a sandbox directory.
struct dir_entry {
  std::string name;
  std::string path;  ///< Relative to the work directory, for the next request.
  bool dir = false;
  int64_t size = 0;  ///< Bytes (0 for directories).
  double mtime = 0;  ///< Last modification, Unix seconds.
};

/// A sandbox directory's entries, or why it cannot be listed.
struct dir_listing {
  int status = 200;  ///< HTTP status: 200, or 400/403/404 with `error`.
  std::string error;
  std::string path;                ///< The directory, relative to the work directory.
  std::vector<dir_entry> entries;  ///< Sorted by name.
};

/// Returns the entries of the directory `path` (as for `read_sandbox_file`:
/// absolute or relative to `work_dir`, only inside `<work_dir>/frameworks/`,
/// links resolved first), as served on the agent's `/files/browse`.
dir_listing browse_sandbox_dir(const std::string& work_dir, const std::string& path);

/// Returns the whole file `path` (same rules) as `data` of a chunk at offset
/// 0, as served on `/files/download`; 413 when it is larger than
/// `max_download`.
file_chunk download_sandbox_file(const std::string& work_dir, const std::string& path);

/// Returns `listing` as JSON: `{"path": ..., "entries": [{"name", "path",
/// "dir", "size", "mtime"}, ...]}`.
std::string to_json(const dir_listing& listing);

}  // namespace agora::agent
