#include "agora/agent/sandbox_gc.hpp"

#include <filesystem>

#include <sys/stat.h>
#include <sys/statvfs.h>

namespace agora::agent {

namespace fs = std::filesystem;

sandbox_gc::sandbox_gc() : sandbox_gc(options{}) {}

sandbox_gc::sandbox_gc(options opts) : opts_(opts) {}

void sandbox_gc::schedule(const std::string& path, clock::time_point ended) {
  waiting_.emplace(ended, path);
}

std::vector<std::string> sandbox_gc::collect(
    clock::time_point now, double disk_used, int64_t disk_bytes,
    const std::function<int64_t(const std::string&)>& measure) {
  std::vector<std::string> out;
  double used = disk_used;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    bool old = it->first + opts_.delay <= now;
    bool full = used > opts_.disk_threshold;
    if (!old && !full) break;  // the rest are younger, and the disk has room
    if (full && disk_bytes > 0)
      used -= static_cast<double>(measure(it->second)) / static_cast<double>(disk_bytes);
    out.push_back(it->second);
    it = waiting_.erase(it);
  }
  return out;
}

std::optional<sandbox_gc::clock::time_point> sandbox_gc::next_due() const {
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first + opts_.delay;
}

int64_t disk_usage(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  auto add = [&](const fs::path& p) {
    struct stat sb;
    if (::lstat(p.c_str(), &sb) == 0) total += static_cast<int64_t>(sb.st_blocks) * 512;
  };
  if (!fs::exists(dir, ec)) return 0;
  add(dir);
  for (fs::recursive_directory_iterator it{dir, fs::directory_options::skip_permission_denied, ec},
       end;
       !ec && it != end; it.increment(ec))
    add(it->path());
  return total;
}

bool disk_fill(const std::string& path, double& used, int64_t& bytes) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) != 0 || sv.f_blocks == 0) return false;
  bytes = static_cast<int64_t>(sv.f_blocks) * static_cast<int64_t>(sv.f_frsize);
  // As `df`: blocks in use over all blocks.
  used = static_cast<double>(sv.f_blocks - sv.f_bfree) / static_cast<double>(sv.f_blocks);
  return true;
}

}  // namespace agora::agent
