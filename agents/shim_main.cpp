// agora-shim: the first process of every task an `agora-agent` launches.
//
//   agora-shim [--user UID:GID:GROUP,...] EXIT_FILE PROGRAM [ARG...]
//
// It runs PROGRAM as its child and waits for it, so that the task does not
// depend on the agent: when the agent dies (a crash, an upgrade, SIGKILL),
// the shim and its task carry on, and the agent that starts next re-attaches
// to the shim (see containerizer::recover). Only a process's parent can learn
// its exit status, and the new agent is not the task's parent: so the shim
// writes the status to EXIT_FILE (atomically: a temporary file, fsync,
// rename; no fsync: the file must survive the agent, not the host, whose
// reboot ends the task anyway) for whichever agent is alive then, and then
// ends the same way its
// child did (the same exit code, or the same signal), so that an agent that
// is still the shim's parent sees the task's own status.
//
// The shim is the leader of the task's process group (the agent spawns it
// so). It blocks the termination signals a kill sends to the whole group
// (SIGTERM, SIGINT, SIGHUP, SIGQUIT), so that it outlives its child and
// records how the child ended; the child gets default dispositions. SIGKILL
// ends both, and then the agent reports the kill from the shim's own status.
//
// With `--user` (the agent's `--switch-user`), the child takes those
// supplementary groups, group and user before it executes PROGRAM; the
// shim itself stays the agent's user, to write EXIT_FILE.
//
// Deliberately tiny and free of every library but libc (no C++ library
// either): it is exec'ed once per task, so its start-up cost is part of
// every launch.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr int termination_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

// Writes `text` to `path` atomically. Returns false (errno set) on failure.
bool write_atomically(const char* path, const char* text) {
  char tmp[4096];
  if (std::snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= static_cast<int>(sizeof(tmp))) {
    errno = ENAMETOOLONG;
    return false;
  }
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t len = std::strlen(text);
  bool ok = ::write(fd, text, len) == static_cast<ssize_t>(len);
  ok = ::close(fd) == 0 && ok;
  return ok && ::rename(tmp, path) == 0;
}

void die(const char* what) {
  std::fprintf(stderr, "agora-shim: %s: %s\n", what, std::strerror(errno));
  std::exit(127);
}

// Parses "UID:GID:G1,G2,..." (at most 1024 groups). Returns false on a bad
// form.
bool parse_identity(const char* text, uid_t& uid, gid_t& gid, gid_t* groups, size_t& n) {
  char* end = nullptr;
  errno = 0;
  unsigned long u = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != ':') return false;
  const char* p = end + 1;
  unsigned long g = std::strtoul(p, &end, 10);
  if (errno != 0 || end == p || *end != ':') return false;
  uid = static_cast<uid_t>(u);
  gid = static_cast<gid_t>(g);
  n = 0;
  p = end + 1;
  while (*p != '\0') {
    if (n == 1024) return false;
    unsigned long x = std::strtoul(p, &end, 10);
    if (errno != 0 || end == p || (*end != ',' && *end != '\0')) return false;
    groups[n++] = static_cast<gid_t>(x);
    p = *end == ',' ? end + 1 : end;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  static gid_t groups[1024];
  size_t ngroups = 0;
  if (argc >= 3 && std::strcmp(argv[1], "--user") == 0) {
    if (!parse_identity(argv[2], uid, gid, groups, ngroups)) {
      std::fprintf(stderr, "agora-shim: --user: '%s' is not UID:GID:GROUP,...\n", argv[2]);
      return 2;
    }
    switch_user = true;
    argv += 2;
    argc -= 2;
  }
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: agora-shim [--user UID:GID:GROUP,...] EXIT_FILE PROGRAM [ARG...]\n");
    return 2;
  }
  const char* exit_file = argv[1];
  // Termination signals stay blocked in the shim for its whole life (the
  // agent spawns it with them blocked already, so none is lost or ends it
  // early): a blocked signal neither ends the shim nor interrupts its wait.
  // The child unblocks them, with default dispositions, only after the
  // fork, so a kill that arrives at any moment reaches the task: a signal
  // sent to the group after the fork is pending in the child until it
  // unblocks, and one sent before the fork, pending in the shim, is passed on.
  sigset_t term;
  sigemptyset(&term);
  for (int s : termination_signals) sigaddset(&term, s);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);

  pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s : termination_signals) ::sigaction(s, &dfl, nullptr);
    ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
    if (switch_user &&
        (::setgroups(ngroups, groups) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) {
      std::fprintf(stderr, "agora-shim: cannot switch to uid %u: %s\n", static_cast<unsigned>(uid),
                   std::strerror(errno));
      ::_exit(127);
    }
    ::execvp(argv[2], argv + 2);
    std::fprintf(stderr, "agora-shim: cannot execute %s: %s\n", argv[2], std::strerror(errno));
    ::_exit(127);
  }
  sigset_t pending;
  if (::sigpending(&pending) == 0)
    for (int s : termination_signals)
      if (sigismember(&pending, s)) ::kill(child, s);

  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");

  char text[32];
  std::snprintf(text, sizeof(text), WIFSIGNALED(status) ? "signal %d\n" : "exit %d\n",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  if (!write_atomically(exit_file, text))
    std::fprintf(stderr, "agora-shim: cannot record the exit status in %s: %s\n", exit_file,
                 std::strerror(errno));

  if (WIFSIGNALED(status)) {
    // End by the same signal, without a core dump of the shim itself.
    int sig = WTERMSIG(status);
    struct rlimit no_core {};
    ::setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::raise(sig);
    // A signal that does not terminate by default (e.g. SIGCHLD cannot end
    // the child, but be safe): report it as the shell would.
    return 128 + sig;
  }
  return WEXITSTATUS(status);
}
