#include "agora/agent/reaper.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace agora::agent {

namespace {

using clock_type = std::chrono::steady_clock;

// `pidfd_open(2)` through `syscall`: glibc 2.36's <sys/pidfd.h> lacks C
// linkage for C++. Returns -1 (then the process is polled) where unsupported.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Returns true if the process of `pidfd` has ended (its pidfd is readable).
bool pidfd_exited(int pidfd) {
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

// How often processes without a `pidfd` are polled.
constexpr int poll_interval_ms = 10;

struct entry {
  int pidfd = -1;
  bool in_epoll = false;  // else polled every `poll_interval_ms`
  bool adopted = false;   // maybe not a child: its status may be unknown
  exit_callback on_exit;
  bool kill_requested = false;
  std::optional<clock_type::time_point> kill_at;
};

}  // namespace

struct reaper::impl {
  // Lock order: `callback_mtx` before `mtx`.
  std::mutex callback_mtx;
  mutable std::mutex mtx;
  std::unordered_map<pid_t, entry> entries;
  // The entries not in epoll (polled every `poll_interval_ms`), and the
  // pending SIGKILLs by time: each loop touches only these, not every entry,
  // so an agent with thousands of tasks pays per event, not per task.
  std::unordered_set<pid_t> polled;
  std::set<std::pair<clock_type::time_point, pid_t>> deadlines;
  int epfd = -1;
  int evfd = -1;
  std::once_flag started;

  void start() {
    std::call_once(started, [this] {
      epfd = epoll_create1(EPOLL_CLOEXEC);
      evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = UINT64_MAX;  // marks the wake-up event
      epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev);
      std::thread([this] { run(); }).detach();
    });
  }

  // Watches the pidfd of a new entry in epoll, or polls the entry when that
  // is not possible. Holds `mtx`.
  void add_locked(pid_t pid, entry& e) {
    e.in_epoll = false;
    if (e.pidfd >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<uint64_t>(pid);
      e.in_epoll = epoll_ctl(epfd, EPOLL_CTL_ADD, e.pidfd, &ev) == 0;
    }
    if (!e.in_epoll) polled.insert(pid);
  }

  // Stops watching the entry of `pid` (its pidfd, its poll, its deadline).
  // Holds `mtx`.
  void unwatch_locked(pid_t pid, entry& e) {
    if (e.in_epoll) epoll_ctl(epfd, EPOLL_CTL_DEL, e.pidfd, nullptr);
    polled.erase(pid);
    if (e.pidfd >= 0) ::close(e.pidfd);
    e.pidfd = -1;
    e.in_epoll = false;
    if (e.kill_at) deadlines.erase({*e.kill_at, pid});
    e.kill_at.reset();
  }

  // Returns a fresh entry for `pid`, replacing one a released container
  // left (the same process adopted again). Holds `mtx`.
  entry& fresh_locked(pid_t pid) {
    auto it = entries.find(pid);
    if (it != entries.end()) {
      unwatch_locked(pid, it->second);
      it->second = entry{};
      return it->second;
    }
    return entries[pid];
  }

  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(evfd, &one, sizeof(one));
  }

  // Returns the epoll timeout in milliseconds (-1: none). Holds `mtx`.
  int timeout_locked(clock_type::time_point now) const {
    int timeout = polled.empty() ? -1 : poll_interval_ms;
    if (!deadlines.empty()) {
      auto ms =
          std::chrono::ceil<std::chrono::milliseconds>(deadlines.begin()->first - now).count();
      int t = static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
      timeout = timeout < 0 ? t : std::min(timeout, t);
    }
    return timeout;
  }

  // Reaps `pid` if it has exited; returns its status then. Holds `mtx`.
  std::optional<std::pair<exit_callback, exit_status>> try_reap_locked(pid_t pid) {
    auto it = entries.find(pid);
    if (it == entries.end()) return std::nullopt;
    siginfo_t si{};
    bool child = true;
    if (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno != ECHILD) return std::nullopt;
      // Not (or no longer) our child. An adopted process is only reported
      // when its pidfd says it ended; anything else was reaped by someone
      // else: report it as lost (signal 0).
      child = false;
      if (it->second.adopted && !pidfd_exited(it->second.pidfd)) return std::nullopt;
    } else if (si.si_pid != pid) {
      return std::nullopt;  // still running
    }
    // A child leader is a zombie, so its pid (the group id) cannot be reused
    // yet: kill whatever is left of the group before reaping the leader. An
    // adopted leader was reaped by its parent (init) already; while any
    // member of its group lives, the kernel does not hand out the group's
    // id again, so the signal still reaches only that group.
    ::kill(-pid, SIGKILL);
    exit_status st;
    st.pid = pid;
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) {
      if (WIFEXITED(status)) {
        st.code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        st.signaled = true;
        st.signal = WTERMSIG(status);
      }
    } else {
      st.signaled = true;
      st.signal = 0;
      st.known = !it->second.adopted && child;
    }
    st.kill_requested = it->second.kill_requested;
    unwatch_locked(pid, it->second);
    auto cb = std::move(it->second.on_exit);
    entries.erase(it);
    return std::make_pair(std::move(cb), st);
  }

  void run() {
    std::vector<epoll_event> events(64);
    for (;;) {
      int timeout;
      {
        std::lock_guard<std::mutex> guard{mtx};
        timeout = timeout_locked(clock_type::now());
      }
      int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout);
      std::vector<pid_t> candidates;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == UINT64_MAX) {
          uint64_t value;
          [[maybe_unused]] auto r = ::read(evfd, &value, sizeof(value));
        } else {
          candidates.push_back(static_cast<pid_t>(events[i].data.u64));
        }
      }
      std::lock_guard<std::mutex> cb_guard{callback_mtx};
      std::vector<std::pair<exit_callback, exit_status>> done;
      {
        std::lock_guard<std::mutex> guard{mtx};
        auto now = clock_type::now();
        while (!deadlines.empty() && deadlines.begin()->first <= now) {
          pid_t pid = deadlines.begin()->second;
          deadlines.erase(deadlines.begin());
          ::kill(-pid, SIGKILL);
          if (auto it = entries.find(pid); it != entries.end()) it->second.kill_at.reset();
        }
        candidates.insert(candidates.end(), polled.begin(), polled.end());
        for (auto pid : candidates)
          if (auto r = try_reap_locked(pid)) done.push_back(std::move(*r));
      }
      // Callbacks run without `mtx` (they may call `kill` or `watch`) but
      // under `callback_mtx`, so `forget` can wait for them.
      for (auto& [cb, st] : done)
        if (cb) cb(st);
    }
  }
};

reaper::reaper() : impl_(new impl) {}

reaper& reaper::instance() {
  static reaper* instance = new reaper;  // never destroyed: its thread runs forever
  return *instance;
}

void reaper::watch(pid_t pid, exit_callback on_exit) {
  impl_->start();
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto& e = impl_->fresh_locked(pid);
    e.on_exit = std::move(on_exit);
    e.pidfd = open_pidfd(pid);
    impl_->add_locked(pid, e);
  }
  impl_->wake();
}

void reaper::adopt(pid_t pid, int pidfd, exit_callback on_exit) {
  impl_->start();
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto& e = impl_->fresh_locked(pid);
    e.on_exit = std::move(on_exit);
    e.adopted = true;
    e.pidfd = pidfd;
    impl_->add_locked(pid, e);
  }
  impl_->wake();
}

bool reaper::kill(pid_t pid, std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto it = impl_->entries.find(pid);
    if (it == impl_->entries.end()) return false;
    auto& e = it->second;
    e.kill_requested = true;
    if (grace.count() <= 0) {
      ::kill(-pid, SIGKILL);
    } else {
      ::kill(-pid, SIGTERM);
      // A stopped process only sees SIGTERM once continued.
      ::kill(-pid, SIGCONT);
      auto at = clock_type::now() + grace;
      if (!e.kill_at || at < *e.kill_at) {
        if (e.kill_at) impl_->deadlines.erase({*e.kill_at, pid});
        e.kill_at = at;
        impl_->deadlines.insert({at, pid});
      }
    }
  }
  impl_->wake();
  return true;
}

void reaper::forget(pid_t pid) {
  std::lock_guard<std::mutex> cb_guard{impl_->callback_mtx};
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto it = impl_->entries.find(pid);
  if (it != impl_->entries.end()) it->second.on_exit = nullptr;
}

size_t reaper::size() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->entries.size();
}

}  // namespace agora::agent
