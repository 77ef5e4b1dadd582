#include "agora/agent/sandbox_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace agora::agent {

namespace fs = std::filesystem;

namespace {

file_chunk fail(int status, std::string error) {
  file_chunk c;
  c.status = status;
  c.error = std::move(error);
  return c;
}

// Returns true if `p` is `root` or below it (both canonical).
bool is_within(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

}  // namespace

file_chunk read_sandbox_file(const std::string& work_dir, const std::string& path, int64_t offset,
                             int64_t length) {
  if (path.empty()) return fail(400, "missing 'path'");
  std::error_code ec;
  auto base = fs::absolute(work_dir, ec);
  fs::path p = path;
  if (p.is_relative()) p = base / p;
  // Outside the sandboxes by its name alone: refused alike whether it
  // exists or not, so the answer tells nothing about the host's files.
  auto outside = fail(403, "'" + path + "' is outside the sandboxes");
  if (!is_within(p.lexically_normal(), (base / "frameworks").lexically_normal())) return outside;
  auto root = fs::weakly_canonical(base / "frameworks", ec);
  if (ec) return fail(404, "no sandboxes");
  auto file = fs::canonical(p, ec);
  if (ec) return fail(404, "no such file: " + path);
  if (!is_within(file, root)) return outside;  // a link out of the sandbox
  if (!fs::is_regular_file(file, ec)) return fail(400, "'" + path + "' is not a regular file");
  auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec) return fail(404, "no such file: " + path);
  file_chunk c;
  if (offset < 0) {
    c.offset = size;
    return c;
  }
  c.offset = std::min(offset, size);
  auto want = length < 0 ? max_file_chunk : std::min(length, max_file_chunk);
  want = std::min(want, size - c.offset);
  if (want <= 0) return c;
  std::ifstream in{file, std::ios::binary};
  in.seekg(c.offset);
  c.data.resize(static_cast<size_t>(want));
  in.read(c.data.data(), want);
  c.data.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return c;
}

}  // namespace agora::agent
