#include "agora/agent/sandbox_files.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <filesystem>

#include <cstdio>
#include <fstream>

#include "agora/observability/json.hpp"

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

/// A path inside the sandboxes, resolved, or why it is refused.
struct resolved {
  int status = 200;
  std::string error;
  fs::path path;  ///< Canonical.
  fs::path base;  ///< The work directory, canonical.
};

resolved resolve(const std::string& work_dir, const std::string& path) {
  resolved r;
  auto refuse = [&r](int status, std::string error) {
    r.status = status;
    r.error = std::move(error);
    return r;
  };
  if (path.empty()) return refuse(400, "missing 'path'");
  std::error_code ec;
  auto base = fs::absolute(work_dir, ec);
  fs::path p = path;
  if (p.is_relative()) p = base / p;
  // Outside the sandboxes by its name alone: refused alike whether it
  // exists or not, so the answer tells nothing about the host's files.
  auto outside = "'" + path + "' is outside the sandboxes";
  if (!is_within(p.lexically_normal(), (base / "frameworks").lexically_normal()))
    return refuse(403, outside);
  auto root = fs::weakly_canonical(base / "frameworks", ec);
  if (ec) return refuse(404, "no sandboxes");
  r.path = fs::canonical(p, ec);
  if (ec) return refuse(404, "no such file: " + path);
  if (!is_within(r.path, root)) return refuse(403, outside);  // a link out of the sandbox
  r.base = root.parent_path();
  return r;
}

file_chunk chunk_fail(const resolved& r) { return fail(r.status, r.error); }

}  // namespace

file_chunk read_sandbox_file(const std::string& work_dir, const std::string& path, int64_t offset,
                             int64_t length) {
  auto r = resolve(work_dir, path);
  if (r.status != 200) return chunk_fail(r);
  std::error_code ec;
  const auto& file = r.path;
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

file_chunk download_sandbox_file(const std::string& work_dir, const std::string& path) {
  auto r = resolve(work_dir, path);
  if (r.status != 200) return chunk_fail(r);
  std::error_code ec;
  if (!fs::is_regular_file(r.path, ec)) return fail(400, "'" + path + "' is not a regular file");
  auto size = static_cast<int64_t>(fs::file_size(r.path, ec));
  if (ec) return fail(404, "no such file: " + path);
  if (size > max_download)
    return fail(413, "'" + path + "' has " + std::to_string(size) +
                         " bytes, more than a download's " + std::to_string(max_download) +
                         ": read it in parts with /files/read");
  file_chunk c;
  std::ifstream in{r.path, std::ios::binary};
  c.data.resize(static_cast<size_t>(size));
  in.read(c.data.data(), size);
  c.data.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return c;
}

dir_listing browse_sandbox_dir(const std::string& work_dir, const std::string& path) {
  dir_listing out;
  auto r = resolve(work_dir, path);
  if (r.status != 200) {
    out.status = r.status;
    out.error = r.error;
    return out;
  }
  std::error_code ec;
  if (!fs::is_directory(r.path, ec)) {
    out.status = 400;
    out.error = "'" + path + "' is not a directory";
    return out;
  }
  out.path = fs::relative(r.path, r.base, ec).generic_string();
  for (fs::directory_iterator it{r.path, ec}, end; !ec && it != end; it.increment(ec)) {
    dir_entry e;
    e.name = it->path().filename().string();
    e.path = (fs::path(out.path) / e.name).generic_string();
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0) {
      e.dir = S_ISDIR(st.st_mode);
      if (S_ISREG(st.st_mode)) e.size = static_cast<int64_t>(st.st_size);
      e.mtime =
          static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
    }
    out.entries.push_back(std::move(e));
  }
  std::sort(out.entries.begin(), out.entries.end(),
            [](const dir_entry& a, const dir_entry& b) { return a.name < b.name; });
  return out;
}

std::string to_json(const dir_listing& listing) {
  std::string out = "{\"path\":" + observability::json_quote(listing.path) + ",\"entries\":[";
  bool first = true;
  for (const auto& e : listing.entries) {
    if (!first) out += ",";
    first = false;
    char num[64];
    std::snprintf(num, sizeof num, "%.3f", e.mtime);
    out += "{\"name\":" + observability::json_quote(e.name) +
           ",\"path\":" + observability::json_quote(e.path) +
           ",\"dir\":" + (e.dir ? "true" : "false") + ",\"size\":" + std::to_string(e.size) +
           ",\"mtime\":" + num + "}";
  }
  return out + "]}";
}

}  // namespace agora::agent
