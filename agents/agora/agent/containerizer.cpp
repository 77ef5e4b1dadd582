#include "agora/agent/containerizer.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace agora::agent {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

// What the child reports through the error pipe when it cannot exec.
struct child_failure {
  int stage;  // 1: chdir, 2: dup2, 3: exec, 4: switching the user
  int error;
};

// The identity a task runs as (`launch_request::user`).
struct os_identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// Looks `name` up in the user database (with its supplementary groups).
// Refuses, with the reason in `error`, a user that does not exist, and
// one the agent cannot become (it is not root).
bool resolve_user(const std::string& name, os_identity& out, std::string& error) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    error = "no user '" + name + "' on this agent" + (rc != 0 ? ": " + errno_text(rc) : "");
    return false;
  }
  out.uid = pw.pw_uid;
  out.gid = pw.pw_gid;
  int n = 64;
  for (int attempt = 0; attempt < 4; ++attempt) {
    out.groups.resize(static_cast<size_t>(n));
    int want = n;
    if (::getgrouplist(name.c_str(), out.gid, out.groups.data(), &want) >= 0) {
      out.groups.resize(static_cast<size_t>(want));
      break;
    }
    n = want > n ? want : n * 4;
  }
  if (::geteuid() != 0 && out.uid != ::geteuid()) {
    error = "the agent runs as uid " + std::to_string(::geteuid()) + " and cannot run tasks as '" +
            name + "' (--switch-user needs the agent to run as root)";
    return false;
  }
  return true;
}

// "UID:GID:G1,G2,..." for the shim's `--user`.
std::string identity_arg(const os_identity& id) {
  std::string out = std::to_string(id.uid) + ":" + std::to_string(id.gid) + ":";
  for (size_t i = 0; i < id.groups.size(); ++i)
    out += (i ? "," : "") + std::to_string(id.groups[i]);
  return out;
}

// Closes a file descriptor if open and marks it closed.
void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Builds `KEY=VALUE` strings: the agent's environment overlaid with `extra`.
std::vector<std::string> make_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string kv = *p;
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Starts `path` with posix_spawn in a new process group, in `dir`, with
// stdin from `in_fd`, stdout to `out_fd`, stderr to `err_fd`, default signal
// dispositions, the signal mask `mask` and no other inherited descriptor.
// Returns 0 or an errno value.
int spawn_without_fork(const std::string& path, char* const argv[], char* const envp[],
                       const std::string& dir, int in_fd, int out_fd, int err_fd,
                       const sigset_t& mask, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv, envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

}  // namespace

bool valid_path_component(const std::string& id, std::string& error) {
  if (id.empty()) {
    error = "id is empty";
    return false;
  }
  if (id == "." || id == ".." || id.find('/') != std::string::npos ||
      id.find('\0') != std::string::npos) {
    error = "id '" + id + "' is not a valid path component";
    return false;
  }
  return true;
}

std::string signal_name(int signal) {
  if (const char* abbrev = sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return "SIG" + std::to_string(signal);
}

uint64_t process_start_time(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return 0;
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so
  // count fields after the last ')'. The start time is field 22; the state
  // is field 3, the first after the ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest{line.substr(close + 1)};
  std::string field;
  for (int i = 3; i < 22; ++i)
    if (!(rest >> field)) return 0;
  uint64_t start = 0;
  return rest >> start ? start : 0;
}

std::string boot_id() {
  std::ifstream in{"/proc/sys/kernel/random/boot_id"};
  std::string id;
  std::getline(in, id);
  return id;
}

exit_status read_exit_file(const std::string& path) {
  exit_status st;
  st.known = false;
  std::ifstream in{path};
  std::string kind;
  int value = -1;
  if (!(in >> kind >> value) || value < 0 || value > 255) return st;
  if (kind == "exit") {
    st.code = value;
  } else if (kind == "signal" && value > 0) {
    st.signaled = true;
    st.signal = value;
  } else {
    return st;
  }
  st.known = true;
  return st;
}

containerizer::containerizer(std::string work_dir, std::shared_ptr<isolator> iso, std::string shim)
    : work_dir_(std::move(work_dir)), isolator_(std::move(iso)), shim_(std::move(shim)) {}

containerizer::~containerizer() {
  std::vector<std::pair<pid_t, launch_request>> left;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [pid, req] : running_) left.emplace_back(pid, req);
  }
  auto& r = reaper::instance();
  for (const auto& [pid, req] : left) {
    r.kill(pid, std::chrono::milliseconds{0});
    r.forget(pid);
    // The exit callback no longer runs: release the isolation here.
    if (isolator_) isolator_->cleanup(req);
  }
}

std::string containerizer::sandbox_path(const std::string& framework_id,
                                        const std::string& task_id) const {
  std::filesystem::path p = std::filesystem::absolute(work_dir_);
  p /= "frameworks";
  p /= framework_id;
  p /= "tasks";
  p /= task_id;
  return p.lexically_normal().string();
}

launch_result containerizer::launch(const launch_request& req, exit_callback on_exit) {
  launch_result result;
  auto fail = [&](std::string why) {
    result.ok = false;
    result.error = std::move(why);
    return result;
  };
  std::string err;
  if (!valid_path_component(req.framework_id, err)) return fail("framework " + err);
  if (!valid_path_component(req.task_id, err)) return fail("task " + err);
  if (req.command.empty()) return fail("command is empty");
  if (!req.exit_file.empty() && shim_.empty()) return fail("no shim to run the task under");
  if (req.switch_user && req.user.empty())
    return fail(
        "the framework names no user to run the task as (the agent runs with "
        "--switch-user)");
  os_identity identity;
  const bool switching = !req.user.empty();
  if (switching && !resolve_user(req.user, identity, err)) return fail(err);
  result.sandbox = sandbox_path(req.framework_id, req.task_id);
  std::error_code ec;
  std::filesystem::create_directories(result.sandbox, ec);
  if (ec) return fail("cannot create sandbox " + result.sandbox + ": " + ec.message());
  // The task's own directory is its user's; the directories above it stay
  // the agent's.
  if (switching && ::chown(result.sandbox.c_str(), identity.uid, identity.gid) != 0)
    return fail("cannot give sandbox " + result.sandbox + " to user '" + req.user +
                "': " + errno_text(errno));
  if (isolator_ && !isolator_->prepare(req, result.sandbox, err)) {
    ++isolator_errors_;
    return fail("isolation failed: " + err);
  }
  auto fail_cleanup = [&](std::string why) {
    if (isolator_) isolator_->cleanup(req);
    return fail(std::move(why));
  };

  // Everything the child needs is prepared before `fork`: between `fork` and
  // `exec` the child only calls async-signal-safe functions.
  auto env_strings = make_environment([&] {
    auto env = req.environment;
    env["AGORA_SANDBOX"] = result.sandbox;
    env["AGORA_TASK_ID"] = req.task_id;
    env["AGORA_FRAMEWORK_ID"] = req.framework_id;
    return env;
  }());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  // `/bin/sh -c command`, or the shim running that and recording its exit.
  std::string sh = "/bin/sh", dash_c = "-c", command = req.command, arg0 = "sh";
  std::string shim_arg0 = "agora-shim", exit_file = req.exit_file;
  std::string user_flag = "--user", user_arg = identity_arg(identity);
  std::vector<char*> argv_shell = {arg0.data(), dash_c.data(), command.data(), nullptr};
  // The shim stays the agent's user (it writes the exit file beside the
  // agent's checkpoints) and switches its child, the task.
  std::vector<char*> argv_shim = {shim_arg0.data(), exit_file.data(), sh.data(),
                                  dash_c.data(),    command.data(),   nullptr};
  if (switching) argv_shim.insert(argv_shim.begin() + 1, {user_flag.data(), user_arg.data()});
  const bool shimmed = !req.exit_file.empty();
  // The shim starts with the termination signals blocked (see shim_main.cpp),
  // so a kill at any moment of its start reaches the task; a shell starts
  // with none blocked.
  sigset_t start_mask;
  sigemptyset(&start_mask);
  if (shimmed)
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&start_mask, s);
  const std::string program = shimmed ? shim_ : sh;
  char* const* argv = shimmed ? argv_shim.data() : argv_shell.data();
  if (shimmed) ::unlink(req.exit_file.c_str());  // a relaunched task id's old status
  std::string out_path = result.sandbox + "/stdout";
  std::string err_path = result.sandbox + "/stderr";

  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int go[2] = {-1, -1};
  int report[2] = {-1, -1};
  auto close_all = [&] {
    close_fd(out_fd), close_fd(err_fd), close_fd(null_fd);
    close_fd(go[0]), close_fd(go[1]), close_fd(report[0]), close_fd(report[1]);
  };
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    int e = errno;
    close_all();
    return fail_cleanup("cannot open sandbox output files: " + errno_text(e));
  }
  if (switching && (::fchown(out_fd, identity.uid, identity.gid) != 0 ||
                    ::fchown(err_fd, identity.uid, identity.gid) != 0)) {
    int e = errno;
    close_all();
    return fail_cleanup("cannot give the output files to user '" + req.user +
                        "': " + errno_text(e));
  }
  // A task that switches user without the shim needs a fork: posix_spawn
  // cannot change credentials between fork and exec.
  if ((!switching || shimmed) && (!isolator_ || isolator_->enter(req))) {
    // Nothing has to happen between fork and exec (no isolator, or this
    // thread stands in the container now, and the child starts there), so
    // use posix_spawn: glibc implements it with CLONE_VM | CLONE_VFORK, which
    // does not copy the agent's page tables (a fork of a large,
    // multi-threaded agent costs milliseconds) and reports a failed chdir or
    // exec as an error code.
    pid_t pid = -1;
    int rc = spawn_without_fork(program, argv, envp.data(), result.sandbox, null_fd, out_fd, err_fd,
                                start_mask, pid);
    std::string left_error;
    bool left = !isolator_ || isolator_->leave(left_error);
    close_all();
    if (rc != 0)
      return fail_cleanup("cannot start " + program + " in " + result.sandbox + ": " +
                          errno_text(rc));
    if (!left) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      int status;
      ::waitpid(pid, &status, 0);
      ++isolator_errors_;
      return fail_cleanup("isolation failed: " + left_error);
    }
    return watch(std::move(result), req, pid, std::move(on_exit));
  }

  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    int e = errno;
    close_all();
    return fail_cleanup("cannot create pipes: " + errno_text(e));
  }

  // Block signals around `fork` so no handler of the agent runs in the child;
  // the child restores default dispositions and an empty mask before exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s)
      if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
    auto report_failure = [&](int stage, int error) {
      child_failure f{stage, error};
      [[maybe_unused]] auto n = ::write(report[1], &f, sizeof(f));
      ::_exit(127);
    };
    ::close(go[1]);
    if (::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0)
      report_failure(2, errno);
    if (::chdir(result.sandbox.c_str()) != 0) report_failure(1, errno);
    // Wait until the agent has isolated this process (EOF: abort).
    char c = 0;
    ssize_t n;
    do {
      n = ::read(go[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(127);
    // Leak no descriptor of the agent (sockets, other sandboxes' files).
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (switching && !shimmed) {
      // Groups, then group, then user (after the user no other change is
      // allowed). Raw system calls: they change only this, the child's
      // one thread, and are safe between fork and exec, where glibc's
      // wrappers would signal the parent's other threads' copies.
      if (::syscall(SYS_setgroups, identity.groups.size(), identity.groups.data()) != 0 ||
          ::syscall(SYS_setgid, identity.gid) != 0 || ::syscall(SYS_setuid, identity.uid) != 0)
        report_failure(4, errno);
    }
    ::sigprocmask(SIG_SETMASK, &start_mask, nullptr);
    ::execve(program.c_str(), argv, envp.data());
    report_failure(3, errno);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    close_all();
    return fail_cleanup("fork failed: " + errno_text(fork_errno));
  }
  // Also set the group here, so it exists before anyone signals it.
  ::setpgid(pid, pid);
  close_fd(out_fd), close_fd(err_fd), close_fd(null_fd), close_fd(go[0]), close_fd(report[1]);
  auto abort_child = [&](std::string why) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    close_all();
    return fail_cleanup(std::move(why));
  };
  if (isolator_ && !isolator_->isolate(req, pid, err)) {
    ++isolator_errors_;
    return abort_child("isolation failed: " + err);
  }
  {
    char c = 'x';
    if (::write(go[1], &c, 1) != 1)
      return abort_child("cannot start the child: " + errno_text(errno));
  }
  close_fd(go[1]);
  // The report pipe closes on a successful exec (it is close-on-exec), or
  // carries the child's failure.
  child_failure f{0, 0};
  ssize_t got;
  do {
    got = ::read(report[0], &f, sizeof(f));
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    std::string why = f.stage == 1   ? "cannot enter sandbox " + result.sandbox
                      : f.stage == 2 ? std::string("cannot redirect output")
                      : f.stage == 4 ? "cannot switch to user '" + req.user + "'"
                                     : "cannot execute " + program;
    return abort_child(why + ": " + errno_text(f.error));
  }
  close_fd(report[0]);
  return watch(std::move(result), req, pid, std::move(on_exit));
}

launch_result containerizer::watch(launch_result result, const launch_request& req, pid_t pid,
                                   exit_callback on_exit) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    running_[pid] = req;
  }
  reaper::instance().watch(pid, on_container_exit(pid, std::move(on_exit)));
  result.ok = true;
  result.pid = pid;
  result.start_time = process_start_time(pid);
  return result;
}

exit_callback containerizer::on_container_exit(pid_t pid, exit_callback on_exit) {
  return [this, pid, cb = std::move(on_exit)](const exit_status& st) {
    launch_request done;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto it = running_.find(pid);
      if (it != running_.end()) {
        done = std::move(it->second);
        running_.erase(it);
      }
    }
    exit_status out = st;
    // Not this process's child (adopted after an agent restart): the shim
    // recorded how the task ended.
    if (!out.known && !done.exit_file.empty()) {
      auto recorded = read_exit_file(done.exit_file);
      recorded.pid = st.pid;
      recorded.kill_requested = st.kill_requested;
      out = recorded;
    }
    if (isolator_) {
      if (auto lim = isolator_->limitation(done)) {
        out.limitation_reason = lim->reason;
        out.limitation_message = lim->message;
      }
      // Whatever the first process left (setsid'ed or double-forked
      // children) dies with the container.
      isolator_->cleanup(done);
    }
    if (cb) cb(out);
  };
}

recovery_result containerizer::recover(const recovered_container& c, bool same_boot,
                                       exit_callback on_exit) {
  recovery_result r;
  r.status.pid = c.pid;
  // Open the pidfd first, then check the start time: while the pidfd's
  // process lives its pid cannot be reused, so a matching start time read
  // after the pidfd was opened proves the pidfd is the task's.
  int pidfd = -1;
  if (same_boot && c.pid > 0 && c.start_time != 0) {
#ifdef SYS_pidfd_open
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0));
#endif
  }
  std::string err;
  bool attached =
      isolator_ && !c.container_id.empty() && isolator_->recover(c.request, c.container_id, err);
  if (isolator_ && !c.container_id.empty() && !attached) ++isolator_errors_;
  if (pidfd >= 0 && process_start_time(c.pid) == c.start_time) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      running_[c.pid] = c.request;
    }
    reaper::instance().adopt(c.pid, pidfd, on_container_exit(c.pid, std::move(on_exit)));
    r.running = true;
    return r;
  }
  if (pidfd >= 0) ::close(pidfd);
  r.status = read_exit_file(c.request.exit_file);
  r.status.pid = c.pid;
  if (attached) {
    if (auto lim = isolator_->limitation(c.request)) {
      r.status.limitation_reason = lim->reason;
      r.status.limitation_message = lim->message;
    }
    isolator_->cleanup(c.request);  // whatever the task left behind
  }
  return r;
}

void containerizer::release_all() {
  std::vector<pid_t> pids;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [pid, req] : running_) pids.push_back(pid);
    running_.clear();
  }
  for (auto pid : pids) reaper::instance().forget(pid);
}

bool containerizer::kill(pid_t pid, std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (running_.count(pid) == 0) return false;
  }
  return reaper::instance().kill(pid, grace);
}

std::optional<container_usage> containerizer::usage(const std::string& framework_id,
                                                    const std::string& task_id) const {
  return isolator_ ? isolator_->usage(framework_id, task_id) : std::nullopt;
}

size_t containerizer::running() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return running_.size();
}

}  // namespace agora::agent
