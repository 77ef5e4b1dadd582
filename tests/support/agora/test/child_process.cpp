#include "agora/test/child_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "agora/test/wait.hpp"

extern char** environ;

namespace agora::test {

namespace {

// What `/proc/<pid>/stat` says about a process.
struct proc_stat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

bool read_stat(pid_t pid, proc_stat& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  // The command name is in parentheses and may contain spaces or ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  out.pid = pid;
  return static_cast<bool>(rest >> out.state >> out.ppid >> out.pgrp);
}

bool is_dead_state(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

std::vector<proc_stat> all_processes() {
  std::vector<proc_stat> result;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return result;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    proc_stat st;
    if (read_stat(static_cast<pid_t>(pid), st)) result.push_back(st);
  }
  closedir(dir);
  return result;
}

// Returns the last `max_lines` lines of `text`.
std::string tail(const std::string& text, int max_lines) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < max_lines && pos != std::string::npos && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  proc_stat st;
  if (!read_stat(pid, st)) return false;
  return !is_dead_state(st.state);
}

std::vector<pid_t> process_group_members(pid_t pgid) {
  std::vector<pid_t> result;
  if (pgid <= 0) return result;
  for (auto& st : all_processes())
    if (st.pgrp == pgid && !is_dead_state(st.state)) result.push_back(st.pid);
  return result;
}

std::vector<pid_t> process_descendants(pid_t pid) {
  std::vector<pid_t> result;
  if (pid <= 0) return result;
  auto procs = all_processes();
  std::vector<pid_t> frontier{pid};
  std::set<pid_t> seen{pid};
  while (!frontier.empty()) {
    pid_t parent = frontier.back();
    frontier.pop_back();
    for (auto& st : procs) {
      if (st.ppid != parent || !seen.insert(st.pid).second) continue;
      frontier.push_back(st.pid);
      if (!is_dead_state(st.state)) result.push_back(st.pid);
    }
  }
  return result;
}

child_process::child_process() = default;

child_process::~child_process() { terminate(); }

bool child_process::start(const std::string& binary, const std::vector<std::string>& args,
                          const environment& env, std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (pid_ > 0 && !status_)
    return fail("a process is already running (pid " + std::to_string(pid_) + ")");

  // Everything the child needs is prepared before `fork`: between `fork` and
  // `exec` only async-signal-safe calls are allowed (the test is threaded).
  try {
    dir_ = std::make_unique<temp_dir>("agora-child");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  pid_ = -1;
  status_.reset();
  seen_descendants_.clear();
  cleaned_up_ = false;
  command_ = binary;
  for (auto& arg : args) command_ += " " + arg;

  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (auto& [key, value] : env) merged[key] = value;
  std::vector<std::string> env_storage;
  for (auto& [key, value] : merged) env_storage.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out = ::open(stdout_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(stderr_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2] = {-1, -1};  // The child writes its exec errno here.
  auto close_all = [&] {
    for (int fd : {out, err, null, report[0], report[1]})
      if (fd >= 0) ::close(fd);
  };
  if (out < 0 || err < 0 || null < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    std::string why = std::strerror(errno);
    close_all();
    return fail("cannot set up output capture in " + dir_->path() + ": " + why);
  }
  const char* cwd = working_dir_.empty() ? nullptr : working_dir_.c_str();
  bool search_path = binary.find('/') == std::string::npos;

  pid_t pid = ::fork();
  if (pid < 0) {
    std::string why = std::strerror(errno);
    close_all();
    return fail("fork failed: " + why);
  }
  if (pid == 0) {
    // Child: own process group, standard streams, clean signal state.
    ::setpgid(0, 0);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int report_fd = report[1];
    if (report_fd != 3) {
      ::dup2(report_fd, 3);
      report_fd = 3;
    }
    ::fcntl(report_fd, F_SETFD, FD_CLOEXEC);
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
#endif
    {
      long max_fd = ::sysconf(_SC_OPEN_MAX);
      for (long fd = 4; fd < max_fd && fd < 65536; ++fd) ::close(static_cast<int>(fd));
    }
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int code = 0;
    if (cwd != nullptr && ::chdir(cwd) != 0) {
      code = errno;
    } else {
      if (search_path)
        ::execvpe(argv[0], argv.data(), envp.data());
      else
        ::execve(argv[0], argv.data(), envp.data());
      code = errno;
    }
    [[maybe_unused]] auto n = ::write(report_fd, &code, sizeof(code));
    ::_exit(127);
  }

  // Parent. Set the group here too, so it exists before we return.
  ::setpgid(pid, pid);
  ::close(report[1]);
  report[1] = -1;
  int code = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &code, sizeof(code));
  } while (n < 0 && errno == EINTR);
  close_all();
  pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof(code))) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    record(st);
    return fail("cannot execute " + binary +
                (cwd != nullptr ? " in " + working_dir_ : std::string()) + ": " +
                std::strerror(code));
  }
  return true;
}

void child_process::record(int wait_status) {
  if (WIFEXITED(wait_status))
    status_ = WEXITSTATUS(wait_status);
  else if (WIFSIGNALED(wait_status))
    status_ = 128 + WTERMSIG(wait_status);
  else
    status_ = -1;
}

bool child_process::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    record(st);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    // Reaped elsewhere (e.g. a SIGCHLD handler in the test): status unknown.
    status_ = -1;
    return false;
  }
  return true;
}

bool child_process::signal(int sig) {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, sig) == 0;
}

bool child_process::kill_group(int sig) {
  if (pid_ <= 0) return false;
  return ::kill(-pid_, sig) == 0;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (!running()) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = open_pidfd(pid_);
  if (fd >= 0) {
    // Sleep on the pidfd until the process exits or the deadline passes.
    for (;;) {
      // Rounded up, so the wait never ends before the deadline.
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0 && std::chrono::steady_clock::now() < deadline) continue;
      break;
    }
    ::close(fd);
    if (!running()) return status_;
    return std::nullopt;
  }
  wait_until([&] { return !running(); }, timeout, std::chrono::milliseconds(5));
  return status_;
}

std::optional<int> child_process::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return std::nullopt;
  if (cleaned_up_) return status_;
  auto remember = [&](const std::vector<pid_t>& pids) {
    for (pid_t p : pids)
      if (std::find(seen_descendants_.begin(), seen_descendants_.end(), p) ==
          seen_descendants_.end())
        seen_descendants_.push_back(p);
  };
  if (running()) {
    // Descendants are found through their parent: look before the process
    // exits and they are re-parented.
    remember(process_descendants(pid_));
    signal(SIGTERM);
    if (!wait_exit(grace)) {
      remember(process_descendants(pid_));
      kill_group(SIGKILL);
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(10));
    }
  }
  // Leftovers: members of the group, and descendants that left it.
  kill_group(SIGKILL);
  for (pid_t p : seen_descendants_)
    if (process_alive(p)) ::kill(p, SIGKILL);
  cleaned_up_ = wait_until(
      [&] {
        if (!process_group_members(pid_).empty()) return false;
        for (pid_t p : seen_descendants_)
          if (process_alive(p)) return false;
        return true;
      },
      std::chrono::seconds(5), std::chrono::milliseconds(5));
  if (!status_) wait_exit(std::chrono::seconds(5));
  return status_;
}

std::string child_process::stdout_text() const {
  return dir_ ? read_file(stdout_path()) : std::string();
}

std::string child_process::stderr_text() const {
  return dir_ ? read_file(stderr_path()) : std::string();
}

bool child_process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  auto found = [&] {
    return stdout_text().find(text) != std::string::npos ||
           stderr_text().find(text) != std::string::npos;
  };
  bool exited = false;
  bool ok = wait_until(
      [&] {
        if (found()) return true;
        if (!running()) {
          exited = true;
          return true;
        }
        return false;
      },
      timeout, std::chrono::milliseconds(10));
  // After an exit, the output is complete: one last look decides.
  return ok && (!exited || found());
}

std::string child_process::stdout_path() const {
  return dir_ ? dir_->file("stdout.log") : std::string();
}

std::string child_process::stderr_path() const {
  return dir_ ? dir_->file("stderr.log") : std::string();
}

std::string child_process::describe() const {
  std::ostringstream out;
  out << "process '" << command_ << "'";
  if (pid_ > 0) out << " (pid " << pid_ << ")";
  if (status_)
    out << " exited with status " << *status_;
  else if (pid_ > 0)
    out << " running";
  else
    out << " not started";
  out << "\n--- stdout (tail) ---\n" << tail(stdout_text(), 30);
  out << "\n--- stderr (tail) ---\n" << tail(stderr_text(), 30) << "\n";
  return out.str();
}

}  // namespace agora::test
