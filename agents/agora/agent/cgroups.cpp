#include "agora/agent/cgroups.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace agora::agent::cgroups {

namespace fs = std::filesystem;

namespace {

/// The controllers a task's limits need.
const std::vector<std::string> required = {"cpu", "memory", "pids"};

/// Splits `text` at `sep`, dropping empty parts.
std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in{text};
  while (std::getline(in, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

/// Undoes the octal escapes of /proc/self/mounts (`\040` for a space).
std::string unescape_mount(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal = s[i] == '\\' && i + 3 < s.size();
    for (size_t k = 1; octal && k <= 3; ++k)
      octal = i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7';
    if (!octal) {
      out += s[i];
      continue;
    }
    out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
    i += 3;
  }
  return out;
}

/// Returns a 64-bit FNV-1a hash of `s` in hex.
std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// Returns a fresh container name (`c-` and 16 hex digits).
std::string new_container_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[19];
  std::snprintf(buf, sizeof(buf), "c-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

/// Creates `dir` (and parents); returns false and sets `error` on failure.
bool make_dir(const std::string& dir, std::string& error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    error = "cannot create cgroup " + dir + ": " + ec.message();
    return false;
  }
  return true;
}

/// Returns the pids listed in a `cgroup.procs` file.
std::vector<pid_t> pids_in(const std::string& procs_file) {
  std::vector<pid_t> out;
  std::ifstream in{procs_file};
  long v = 0;
  while (in >> v) out.push_back(static_cast<pid_t>(v));
  return out;
}

/// Returns the direct child cgroups of `dir`.
std::vector<std::string> children_of(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().filename().string());
  return out;
}

/// Returns the controllers enabled for the children of the v2 cgroup `dir`.
std::set<std::string> enabled_v2(const std::string& dir) {
  std::set<std::string> on;
  if (auto text = read_file(dir + "/cgroup.subtree_control"))
    for (const auto& c : split(*text, ' ')) on.insert(c);
  return on;
}

/// Enables `wanted` for the children of the v2 cgroup `dir` (those not
/// enabled yet); returns the ones that are enabled afterwards.
std::set<std::string> enable_v2(const std::string& dir, const std::vector<std::string>& wanted) {
  auto on = enabled_v2(dir);
  std::string ignored;
  bool wrote = false;
  for (const auto& c : wanted)
    if (on.count(c) == 0)
      wrote = write_file(dir + "/cgroup.subtree_control", "+" + c, ignored) || wrote;
  return wrote ? enabled_v2(dir) : on;
}

/// Returns the required controllers that `have` lacks.
template <class Container>
std::vector<std::string> lacking(const Container& have) {
  std::vector<std::string> out;
  for (const auto& c : required)
    if (have.count(c) == 0) out.push_back(c);
  return out;
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : sep) + x;
  return out;
}

}  // namespace

const char* to_string(version v) {
  switch (v) {
    case version::v1:
      return "v1";
    case version::v2:
      return "v2";
    default:
      return "none";
  }
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool write_file(const std::string& path, const std::string& value, std::string& error) {
  // Control files take one write(2) each: no buffering layer.
  // As `echo value > path` does (control files ignore the truncation).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    error = path + ": cannot write '" + value + "': " + std::strerror(n < 0 ? e : EIO);
    return false;
  }
  return true;
}

std::optional<int64_t> keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    auto parts = split(line, ' ');
    if (parts.size() == 2 && parts[0] == key) {
      char* end = nullptr;
      long long v = std::strtoll(parts[1].c_str(), &end, 10);
      if (end && *end == '\0') return static_cast<int64_t>(v);
    }
  }
  return std::nullopt;
}

layout detect(const std::string& mounts) {
  layout out;
  std::string v2;
  std::map<std::string, std::string> v1;
  std::istringstream in{mounts};
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, ' ');
    if (f.size() < 4) continue;
    std::string where = unescape_mount(f[1]);
    if (f[2] == "cgroup2") {
      if (v2.empty()) v2 = where;
    } else if (f[2] == "cgroup") {
      for (const auto& opt : split(f[3], ','))
        if (opt == "cpu" || opt == "cpuacct" || opt == "memory" || opt == "pids" ||
            opt == "freezer")
          v1.emplace(opt, where);
    }
  }
  if (!v2.empty()) {
    std::set<std::string> available;
    if (auto text = read_file(v2 + "/cgroup.controllers"))
      for (const auto& c : split(*text, ' ')) available.insert(c);
    auto missing = lacking(available);
    if (missing.empty()) {
      auto off = lacking(enable_v2(v2, required));
      if (off.empty()) {
        out.ver = version::v2;
        out.v2_mount = v2;
        out.notes.push_back("cgroups v2 at " + v2 + " with cpu, memory and pids");
        return out;
      }
      out.notes.push_back("cgroups v2 at " + v2 + ": cannot enable " + join(off, ", ") + " in " +
                          v2 + "/cgroup.subtree_control");
    } else {
      out.notes.push_back("cgroups v2 at " + v2 + " lacks the " + join(missing, ", ") +
                          " controller" + (missing.size() > 1 ? "s" : "") +
                          (v1.empty() ? "" : " (bound to v1 hierarchies)"));
    }
  }
  auto missing = lacking(v1);
  if (missing.empty()) {
    out.ver = version::v1;
    out.v1_mounts = v1;
    std::vector<std::string> have;
    for (const auto& [c, where] : v1) have.push_back(c);
    out.notes.push_back("cgroups v1 with " + join(have, ", ") + " under " +
                        fs::path(v1.at("memory")).parent_path().string());
    return out;
  }
  if (!v1.empty())
    out.notes.push_back("cgroups v1 lacks the " + join(missing, ", ") + " controller" +
                        (missing.size() > 1 ? "s" : ""));
  if (v1.empty() && v2.empty()) out.notes.push_back("no cgroup filesystem is mounted");
  return out;
}

layout detect_system() {
  auto mounts = read_file("/proc/self/mounts");
  if (!mounts) {
    layout l;
    l.notes.push_back("cannot read /proc/self/mounts");
    return l;
  }
  return detect(*mounts);
}

// -- the isolator -------------------------------------------------------------------

std::string agent_cgroup(const options& opts, const std::string& work_dir) {
  std::error_code ec;
  auto abs = fs::absolute(work_dir, ec).lexically_normal().string();
  return opts.root + "/a-" + hash_hex(abs);
}

isolator::isolator(layout l, options opts, std::string agent_dir)
    : layout_(std::move(l)), opts_(std::move(opts)), agent_dir_(std::move(agent_dir)) {}

isolator::~isolator() {
  // The agent stops: its directory goes when no task is left in it (and the
  // root when no other agent uses it).
  for (const auto& [c, mount] : hierarchies()) {
    ::rmdir(dir_in(mount, "").c_str());
    ::rmdir((mount + "/" + opts_.root).c_str());
  }
}

std::vector<std::pair<std::string, std::string>> isolator::hierarchies() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (layout_.ver == version::v2) {
    out.emplace_back("", layout_.v2_mount);
    return out;
  }
  for (const auto& [c, where] : layout_.v1_mounts) {
    // One entry per hierarchy (co-mounted controllers share it).
    bool seen = false;
    for (const auto& [c2, w2] : out) seen = seen || w2 == where;
    if (!seen) out.emplace_back(c, where);
  }
  return out;
}

std::string isolator::dir_in(const std::string& mount, const std::string& container) const {
  return mount + "/" + agent_dir_ + (container.empty() ? "" : "/" + container);
}

std::vector<std::string> isolator::agent_dirs() const {
  std::vector<std::string> out;
  for (const auto& [c, mount] : hierarchies()) out.push_back(dir_in(mount, ""));
  return out;
}

std::shared_ptr<isolator> isolator::create(const layout& l, options opts,
                                           const std::string& work_dir, std::string& error) {
  if (l.ver == version::none) {
    error = "no usable cgroup hierarchy" +
            (l.notes.empty() ? std::string{} : ": " + join(l.notes, "; "));
    return nullptr;
  }
  std::string agent_dir = agent_cgroup(opts, work_dir);
  auto iso = std::shared_ptr<isolator>(new isolator(l, std::move(opts), agent_dir));
  for (const auto& [c, mount] : iso->hierarchies()) {
    if (!make_dir(iso->dir_in(mount, ""), error)) return nullptr;
    if (l.ver == version::v2) {
      // Each level, down to the agent's own, passes the controllers on to
      // the tasks' cgroups.
      std::vector<std::string> levels = {mount};
      for (const auto& part : split(agent_dir, '/')) levels.push_back(levels.back() + "/" + part);
      for (const auto& level : levels)
        if (!lacking(enable_v2(level, required)).empty()) {
          error = "cannot enable cpu, memory and pids in " + level + "/cgroup.subtree_control";
          return nullptr;
        }
    }
  }
  return iso;
}

bool isolator::recover(const launch_request& req, const std::string& id, std::string& error) {
  // Only a name this isolator makes (`c-` and 16 hex digits), so a damaged
  // checkpoint cannot point it at another directory.
  bool valid = id.size() == 18 && id.compare(0, 2, "c-") == 0 &&
               id.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
  if (!valid) {
    error = "'" + id + "' is not a task cgroup name";
    return false;
  }
  bool found = false;
  for (const auto& [c, mount] : hierarchies()) {
    std::error_code ec;
    found = found || std::filesystem::is_directory(dir_in(mount, id), ec);
  }
  if (!found) {
    error = "the cgroup " + id + " is gone";
    return false;
  }
  container c;
  c.name = id;
  c.limits = req.limits;
  if (c.limits.max_pids == 0) c.limits.max_pids = opts_.max_pids;
  if (c.limits.mem_bytes > 0) c.limits.mem_bytes = std::max(c.limits.mem_bytes, min_memory);
  std::lock_guard<std::mutex> guard{mtx_};
  containers_[{req.framework_id, req.task_id}] = c;
  return true;
}

std::string isolator::container_id(const std::string& framework_id,
                                   const std::string& task_id) const {
  auto c = find(framework_id, task_id);
  return c ? c->name : std::string{};
}

std::vector<std::string> isolator::remove_unknown() {
  // Tasks a previous run of this agent left behind that no checkpoint
  // names (it ran without recovery, or was told to clean up): nobody would
  // ever end them.
  std::set<std::string> known;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [key, c] : containers_) known.insert(c.name);
  }
  std::set<std::string> stale;
  for (const auto& [c, mount] : hierarchies())
    for (const auto& name : children_of(dir_in(mount, "")))
      if (known.count(name) == 0) stale.insert(name);
  std::vector<std::string> removed;
  for (const auto& name : stale) {
    destroy(name);
    removed.push_back("removed cgroup " + name + " left by a previous run of this agent");
  }
  return removed;
}

bool isolator::prepare(const launch_request& req, const std::string&, std::string& error) {
  container c;
  c.name = new_container_name();
  c.limits = req.limits;
  if (c.limits.max_pids == 0) c.limits.max_pids = opts_.max_pids;
  // As Mesos: no task is limited below what a shell and its libraries need.
  if (c.limits.mem_bytes > 0) c.limits.mem_bytes = std::max(c.limits.mem_bytes, min_memory);
  const bool v2 = layout_.ver == version::v2;
  auto fail = [&](const std::string& why) {
    error = why;
    destroy(c.name);
    return false;
  };
  for (const auto& [unused, mount] : hierarchies()) {
    std::string dir = dir_in(mount, c.name);
    if (!make_dir(dir, error)) return fail(error);
    bool cpu = controls("cpu", mount);
    bool memory = controls("memory", mount);
    bool pids = controls("pids", mount);
    if (cpu && c.limits.cpus_milli > 0) {
      if (v2) {
        int64_t weight = std::clamp<int64_t>(c.limits.cpus_milli / 10, 1, 10000);
        if (!write_file(dir + "/cpu.weight", std::to_string(weight), error)) return fail(error);
      } else {
        int64_t shares = std::max<int64_t>(2, c.limits.cpus_milli * 1024 / 1000);
        if (!write_file(dir + "/cpu.shares", std::to_string(shares), error)) return fail(error);
      }
      if (opts_.enable_cfs) {
        int64_t period = opts_.cfs_period.count();
        int64_t quota = std::max<int64_t>(1000, c.limits.cpus_milli * period / 1000);
        if (v2) {
          if (!write_file(dir + "/cpu.max", std::to_string(quota) + " " + std::to_string(period),
                          error))
            return fail(error);
        } else if (!write_file(dir + "/cpu.cfs_period_us", std::to_string(period), error) ||
                   !write_file(dir + "/cpu.cfs_quota_us", std::to_string(quota), error)) {
          return fail(error);
        }
      }
    }
    if (memory && c.limits.mem_bytes > 0) {
      if (!write_file(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"),
                      std::to_string(c.limits.mem_bytes), error))
        return fail(error);
      if (v2) {
        // No swapping past the limit either (absent without swap accounting).
        std::string ignored;
        if (fs::exists(dir + "/memory.swap.max"))
          write_file(dir + "/memory.swap.max", "0", ignored);
      }
    }
    if (pids && c.limits.max_pids > 0 &&
        !write_file(dir + "/pids.max", std::to_string(c.limits.max_pids), error))
      return fail(error);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  containers_[{req.framework_id, req.task_id}] = std::move(c);
  return true;
}

namespace {

/// The cgroups (v1 hierarchy mount -> directory) the calling thread was in
/// before `enter` moved it; empty when it is where it belongs.
thread_local std::vector<std::string> home_dirs;

/// Returns the calling thread's v1 cgroup directory in each of `mounts`
/// (controller -> mount), from /proc/thread-self/cgroup.
std::map<std::string, std::string> thread_cgroups(
    const std::map<std::string, std::string>& mounts) {
  std::map<std::string, std::string> out;  // mount -> directory
  std::ifstream in{"/proc/thread-self/cgroup"};
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    auto path = line.substr(second + 1);
    for (const auto& ctl : split(line.substr(first + 1, second - first - 1), ',')) {
      auto it = mounts.find(ctl);
      if (it != mounts.end()) out[it->second] = it->second + (path == "/" ? "" : path);
    }
  }
  return out;
}

}  // namespace

bool isolator::enter(const launch_request& req) {
  // v2 moves whole processes only (a thread cannot stand in another cgroup).
  if (layout_.ver != version::v1 || !thread_moves_) return false;
  auto c = find(req.framework_id, req.task_id);
  if (!c) return false;
  auto homes = thread_cgroups(layout_.v1_mounts);
  std::string tid = std::to_string(::gettid());
  std::string error;
  home_dirs.clear();
  for (const auto& [ctl, mount] : hierarchies()) {
    auto home = homes.find(mount);
    if (home == homes.end() || !write_file(dir_in(mount, c->name) + "/tasks", tid, error)) {
      // Undo what moved; the launch forks instead.
      std::string ignored;
      if (!leave(ignored)) thread_moves_ = false;
      return false;
    }
    home_dirs.push_back(home->second);
  }
  return true;
}

bool isolator::leave(std::string& error) {
  std::string tid = std::to_string(::gettid());
  bool ok = true;
  for (const auto& dir : home_dirs)
    if (!write_file(dir + "/tasks", tid, error)) ok = false;
  home_dirs.clear();
  if (!ok) {
    thread_moves_ = false;  // never again: fork and isolate from now on
    error = "cannot move the launching thread back out of the task's cgroup: " + error;
  }
  return ok;
}

bool isolator::isolate(const launch_request& req, pid_t pid, std::string& error) {
  auto c = find(req.framework_id, req.task_id);
  if (!c) {
    error = "no cgroup prepared for task " + req.task_id;
    return false;
  }
  for (const auto& [ctl, mount] : hierarchies())
    if (!write_file(dir_in(mount, c->name) + "/cgroup.procs", std::to_string(pid), error))
      return false;
  return true;
}

std::optional<isolator::container> isolator::find(const std::string& framework_id,
                                                  const std::string& task_id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = containers_.find({framework_id, task_id});
  if (it == containers_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> isolator::tasks() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, c] : containers_) out.push_back(key);
  return out;
}

std::vector<std::string> isolator::paths(const std::string& framework_id,
                                         const std::string& task_id) const {
  std::vector<std::string> out;
  if (auto c = find(framework_id, task_id))
    for (const auto& [ctl, mount] : hierarchies()) out.push_back(dir_in(mount, c->name));
  return out;
}

bool isolator::controls(const std::string& controller, const std::string& mount) const {
  if (layout_.ver == version::v2) return true;
  auto it = layout_.v1_mounts.find(controller);
  return it != layout_.v1_mounts.end() && it->second == mount;
}

bool isolator::kill_members(const std::string& name) {
  const bool v2 = layout_.ver == version::v2;
  std::string dir;      // where the members are listed
  std::string freezer;  // v1: the freezer cgroup, if that hierarchy exists
  for (const auto& [ctl, mount] : hierarchies()) {
    auto d = dir_in(mount, name);
    if (!fs::exists(d)) continue;
    if (dir.empty()) dir = d;
    if (!v2 && controls("freezer", mount)) freezer = d;
  }
  if (dir.empty()) return true;
  std::string ignored;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  // v2 (Linux 5.14+): the kernel kills the whole cgroup at once.
  bool killed =
      v2 && fs::exists(dir + "/cgroup.kill") && write_file(dir + "/cgroup.kill", "1", ignored);
  std::string freeze_file = v2 ? dir + "/cgroup.freeze" : freezer + "/freezer.state";
  bool can_freeze = v2 || !freezer.empty();
  while (!killed) {
    // Frozen, no member can fork a new one between the read of the members
    // and their kill; SIGKILL reaches frozen processes once thawed.
    bool frozen = can_freeze && write_file(freeze_file, v2 ? "1" : "FROZEN", ignored);
    auto members = pids_in(dir + "/cgroup.procs");
    // Never the agent itself (one of its threads may stand in the cgroup
    // for a moment while it launches a task).
    members.erase(std::remove(members.begin(), members.end(), ::getpid()), members.end());
    for (pid_t p : members) ::kill(p, SIGKILL);
    if (frozen) write_file(freeze_file, v2 ? "0" : "THAWED", ignored);
    if (members.empty() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  // Killed processes leave the cgroup as they exit.
  auto others = [&] {
    auto left = pids_in(dir + "/cgroup.procs");
    return std::any_of(left.begin(), left.end(), [](pid_t p) { return p != ::getpid(); });
  };
  while (others()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

bool isolator::destroy(const std::string& name) {
  bool empty = kill_members(name);
  // Removal fails while dying processes are still charged: retry briefly.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
  bool removed = true;
  for (const auto& [ctl, mount] : hierarchies()) {
    auto dir = dir_in(mount, name);
    for (;;) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
        removed = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
  }
  return empty && removed;
}

bool isolator::kill_all(const std::string& framework_id, const std::string& task_id) {
  auto c = find(framework_id, task_id);
  return !c || kill_members(c->name);
}

std::optional<container_limitation> isolator::limitation(const launch_request& req) {
  auto c = find(req.framework_id, req.task_id);
  if (!c) return std::nullopt;
  const bool v2 = layout_.ver == version::v2;
  std::string mem_dir =
      v2 ? dir_in(layout_.v2_mount, c->name) : dir_in(layout_.v1_mounts.at("memory"), c->name);
  std::optional<int64_t> kills;
  if (auto text = read_file(mem_dir + (v2 ? "/memory.events" : "/memory.oom_control")))
    kills = keyed_value(*text, "oom_kill");
  if (!kills || *kills <= 0) return std::nullopt;
  container_limitation out;
  out.reason = "REASON_CONTAINER_LIMITATION_MEMORY";
  out.message = "memory limit of " + std::to_string(c->limits.mem_bytes >> 20) +
                " MiB reached: the kernel's OOM killer ended " + std::to_string(*kills) +
                " process" + (*kills == 1 ? "" : "es") + " of the task";
  return out;
}

std::optional<container_usage> isolator::usage(const std::string& framework_id,
                                               const std::string& task_id) {
  auto c = find(framework_id, task_id);
  if (!c) return std::nullopt;
  container_usage u;
  u.limits = c->limits;
  auto num = [](const std::optional<std::string>& text) -> int64_t {
    if (!text) return 0;
    char* end = nullptr;
    long long v = std::strtoll(text->c_str(), &end, 10);
    return end && end != text->c_str() ? static_cast<int64_t>(v) : 0;
  };
  if (layout_.ver == version::v2) {
    auto dir = dir_in(layout_.v2_mount, c->name);
    if (auto stat = read_file(dir + "/cpu.stat")) {
      u.cpu_seconds = static_cast<double>(keyed_value(*stat, "usage_usec").value_or(0)) / 1e6;
      u.throttled_periods = keyed_value(*stat, "nr_throttled").value_or(0);
    }
    u.mem_bytes = num(read_file(dir + "/memory.current"));
    u.mem_peak_bytes = num(read_file(dir + "/memory.peak"));
    u.pids = num(read_file(dir + "/pids.current"));
    if (auto ev = read_file(dir + "/memory.events"))
      u.oom_kills = keyed_value(*ev, "oom_kill").value_or(0);
    return u;
  }
  auto in = [&](const char* ctl) -> std::string {
    auto it = layout_.v1_mounts.find(ctl);
    return it == layout_.v1_mounts.end() ? std::string{} : dir_in(it->second, c->name);
  };
  if (auto acct = in("cpuacct"); !acct.empty())
    u.cpu_seconds = static_cast<double>(num(read_file(acct + "/cpuacct.usage"))) / 1e9;
  if (auto stat = read_file(in("cpu") + "/cpu.stat"))
    u.throttled_periods = keyed_value(*stat, "nr_throttled").value_or(0);
  auto mem = in("memory");
  u.mem_bytes = num(read_file(mem + "/memory.usage_in_bytes"));
  u.mem_peak_bytes = num(read_file(mem + "/memory.max_usage_in_bytes"));
  if (auto oom = read_file(mem + "/memory.oom_control"))
    u.oom_kills = keyed_value(*oom, "oom_kill").value_or(0);
  u.pids = num(read_file(in("pids") + "/pids.current"));
  return u;
}

void isolator::cleanup(const launch_request& req) {
  std::optional<container> c;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto it = containers_.find({req.framework_id, req.task_id});
    if (it == containers_.end()) return;
    c = it->second;
    containers_.erase(it);
  }
  destroy(c->name);
}

}  // namespace agora::agent::cgroups
