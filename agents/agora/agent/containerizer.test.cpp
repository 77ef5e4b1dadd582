#include "agora/agent/containerizer.hpp"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "agora/agent/cgroups.hpp"

using namespace agora::agent;
using namespace std::chrono_literals;

namespace {

// A fresh work directory per test, removed afterwards.
class containerizer_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    work_dir_ = (std::filesystem::temp_directory_path() /
                 ("agora-containerizer-" + std::to_string(::getpid()) + "-" + name))
                    .string();
    std::filesystem::remove_all(work_dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
  std::string work_dir_;
};

// Collects exit statuses reported on the reaper thread.
struct exits {
  std::mutex mtx;
  std::condition_variable cv;
  std::map<pid_t, std::vector<exit_status>> by_pid;
  size_t count = 0;

  exit_callback callback() {
    return [this](const exit_status& st) {
      std::lock_guard<std::mutex> guard{mtx};
      by_pid[st.pid].push_back(st);
      ++count;
      cv.notify_all();
    };
  }

  // Waits (bounded) until `n` exits were reported.
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return count >= n; });
  }

  exit_status of(pid_t pid) {
    std::lock_guard<std::mutex> guard{mtx};
    return by_pid.at(pid).front();
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

launch_request make_request(std::string task_id, std::string command) {
  launch_request req;
  req.framework_id = "fw-1";
  req.task_id = std::move(task_id);
  req.command = std::move(command);
  return req;
}

// Returns true if `pid` is gone or a zombie (dead, waiting for its parent).
bool process_dead(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() &&
         (line[close_paren + 2] == 'Z' || line[close_paren + 2] == 'X');
}

// Polls `pred` every 10 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_F(containerizer_test, echo_output_lands_in_the_sandbox) {
  containerizer c{work_dir_};
  exits ex;
  auto req = make_request("t1", "echo hello; echo oops >&2; echo \"$AGORA_TASK_ID $FOO\"");
  req.environment["FOO"] = "bar";
  auto r = c.launch(req, ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.sandbox, work_dir_ + "/frameworks/fw-1/tasks/t1");
  ASSERT_TRUE(ex.wait_for(1));
  auto st = ex.of(r.pid);
  EXPECT_FALSE(st.signaled);
  EXPECT_EQ(st.code, 0);
  EXPECT_FALSE(st.kill_requested);
  EXPECT_EQ(read_file(r.sandbox + "/stdout"), "hello\nt1 bar\n");
  EXPECT_EQ(read_file(r.sandbox + "/stderr"), "oops\n");
  EXPECT_EQ(c.running(), 0u);
}

TEST_F(containerizer_test, runs_in_the_sandbox_in_its_own_process_group) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1",
                                 "pwd; echo $AGORA_SANDBOX; ps -o pgid= -p $$ 2>/dev/null || "
                                 "cut -d' ' -f5 /proc/$$/stat"),
                    ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  std::istringstream out{read_file(r.sandbox + "/stdout")};
  std::string cwd, sandbox, pgid;
  out >> cwd >> sandbox >> pgid;
  EXPECT_EQ(cwd, r.sandbox);
  EXPECT_EQ(sandbox, r.sandbox);
  EXPECT_EQ(pgid, std::to_string(r.pid));
}

TEST_F(containerizer_test, exit_code_is_reported) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1", "exit 3"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  auto st = ex.of(r.pid);
  EXPECT_FALSE(st.signaled);
  EXPECT_EQ(st.code, 3);
}

TEST_F(containerizer_test, signal_is_reported) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1", "kill -SEGV $$"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  auto st = ex.of(r.pid);
  EXPECT_TRUE(st.signaled);
  EXPECT_EQ(st.signal, SIGSEGV);
  EXPECT_FALSE(st.kill_requested);
  EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
}

TEST_F(containerizer_test, kill_escalates_to_sigkill_after_the_grace_period) {
  containerizer c{work_dir_};
  exits ex;
  // The shell and its `sleep` ignore SIGTERM: only the SIGKILL after the
  // grace period (200 ms) ends them; bound: grace + 5 s.
  auto r = c.launch(make_request("t1", "trap '' TERM; echo ready; sleep 1000"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(eventually([&] { return read_file(r.sandbox + "/stdout") == "ready\n"; }));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.kill(r.pid, 200ms));
  ASSERT_TRUE(ex.wait_for(1, 5200ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 190ms);  // SIGTERM alone did not end it
  auto st = ex.of(r.pid);
  EXPECT_TRUE(st.signaled);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_TRUE(st.kill_requested);
  EXPECT_FALSE(c.kill(r.pid, 200ms));  // already gone
}

TEST_F(containerizer_test, kill_with_sigterm_ends_a_cooperative_task_early) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1", "sleep 1000"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.kill(r.pid, 10s));
  ASSERT_TRUE(ex.wait_for(1, 5s));  // well before the 10 s grace
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto st = ex.of(r.pid);
  EXPECT_TRUE(st.signaled);
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_TRUE(st.kill_requested);
}

TEST_F(containerizer_test, background_grandchild_is_gone_after_kill) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1", "sleep 1000 & echo $! > child.pid; wait"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  std::string pid_text;
  ASSERT_TRUE(eventually([&] {
    pid_text = read_file(r.sandbox + "/child.pid");
    return !pid_text.empty() && pid_text.back() == '\n';
  }));
  pid_t child = std::stoi(pid_text);
  ASSERT_FALSE(process_dead(child));
  ASSERT_TRUE(c.kill(r.pid, 200ms));
  ASSERT_TRUE(ex.wait_for(1, 5s));
  EXPECT_TRUE(eventually([&] { return process_dead(child); }, 5s));
}

TEST_F(containerizer_test, orphan_is_killed_when_the_shell_exits) {
  containerizer c{work_dir_};
  exits ex;
  // The shell exits at once, leaving `sleep` behind in its process group.
  auto r = c.launch(make_request("t1", "sleep 1000 & echo $! > child.pid"), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  EXPECT_EQ(ex.of(r.pid).code, 0);
  pid_t child = std::stoi(read_file(r.sandbox + "/child.pid"));
  EXPECT_TRUE(eventually([&] { return process_dead(child); }, 5s));
}

TEST_F(containerizer_test, many_concurrent_tasks_are_each_reported_once) {
  containerizer c{work_dir_};
  exits ex;
  constexpr int n = 200;
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    auto r = c.launch(make_request("t" + std::to_string(i), i % 2 == 0 ? "true" : "exit 1"),
                      ex.callback());
    ASSERT_TRUE(r.ok) << r.error;
    pids.push_back(r.pid);
  }
  ASSERT_TRUE(ex.wait_for(n, 60s));
  // Give a duplicate report a chance to show up: wait for a 201st (bounded).
  EXPECT_FALSE(ex.wait_for(n + 1, 200ms));
  std::lock_guard<std::mutex> guard{ex.mtx};
  EXPECT_EQ(ex.count, size_t{n});
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(ex.by_pid[pids[i]].size(), 1u);
    EXPECT_EQ(ex.by_pid[pids[i]][0].code, i % 2 == 0 ? 0 : 1);
  }
}

TEST_F(containerizer_test, concurrent_containerizers_in_one_process) {
  // Two agents in one process share the reaper; launches race on threads.
  containerizer a{work_dir_ + "/a"};
  containerizer b{work_dir_ + "/b"};
  exits ex;
  std::atomic<int> failures{0};
  auto run = [&](containerizer& c) {
    for (int i = 0; i < 50; ++i)
      if (!c.launch(make_request("t" + std::to_string(i), "exit 0"), ex.callback()).ok) ++failures;
  };
  std::thread ta{run, std::ref(a)};
  std::thread tb{run, std::ref(b)};
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(ex.wait_for(100, 60s));
}

TEST_F(containerizer_test, invalid_ids_fail_to_launch) {
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("../escape", "true"), ex.callback());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not a valid path component"), std::string::npos) << r.error;
  auto empty = c.launch(make_request("t1", ""), ex.callback());
  EXPECT_FALSE(empty.ok);
}

TEST_F(containerizer_test, isolator_hooks_run_around_the_launch) {
  struct recording_isolator : isolator {
    std::atomic<int> prepared{0}, isolated{0}, cleaned{0};
    bool prepare(const launch_request&, const std::string&, std::string&) override {
      ++prepared;
      return true;
    }
    bool isolate(const launch_request& req, pid_t, std::string& error) override {
      ++isolated;
      if (req.task_id == "refused") {
        error = "no cgroup for you";
        return false;
      }
      return true;
    }
    void cleanup(const launch_request&) override { ++cleaned; }
  };
  auto iso = std::make_shared<recording_isolator>();
  containerizer c{work_dir_, iso};
  exits ex;
  auto ok = c.launch(make_request("t1", "true"), ex.callback());
  ASSERT_TRUE(ok.ok) << ok.error;
  ASSERT_TRUE(ex.wait_for(1));
  auto refused = c.launch(make_request("refused", "touch ran"), ex.callback());
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error, "isolation failed: no cgroup for you");
  EXPECT_FALSE(std::filesystem::exists(refused.sandbox + "/ran"));
  EXPECT_TRUE(eventually([&] { return iso->cleaned.load() == 2; }));
  EXPECT_EQ(iso->prepared.load(), 2);
  EXPECT_EQ(iso->isolated.load(), 2);
}

TEST_F(containerizer_test, sandbox_that_cannot_be_created_fails_the_launch) {
  // The work directory is a regular file, so no sandbox can be created in it.
  std::filesystem::create_directories(std::filesystem::path(work_dir_).parent_path());
  std::ofstream{work_dir_} << "not a directory";
  containerizer c{work_dir_};
  exits ex;
  auto r = c.launch(make_request("t1", "true"), ex.callback());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot create sandbox"), std::string::npos) << r.error;
  EXPECT_EQ(c.running(), 0u);
  std::filesystem::remove(work_dir_);
}

// -- real cgroups -------------------------------------------------------------------
// These need a usable cgroup hierarchy (v2 with cpu, memory and pids, or v1)
// and the right to create cgroups (root); they skip, saying why, without.

namespace {

// A containerizer with the cgroup isolator, under a cgroup root of its own
// (removed afterwards), so tests running at once never meet.
class cgroups_test : public containerizer_test {
 protected:
  void SetUp() override {
    containerizer_test::SetUp();
    auto found = cgroups::detect_system();
    if (found.ver == cgroups::version::none) {
      std::string why;
      for (const auto& n : found.notes) why += n + "; ";
      GTEST_SKIP() << "no usable cgroup hierarchy here: " << why;
    }
    opts_.root = "agora-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string error;
    iso_ = cgroups::isolator::create(found, opts_, work_dir_, error);
    if (!iso_) GTEST_SKIP() << "cannot create cgroups here (root needed?): " << error;
  }
  void TearDown() override {
    if (iso_) {
      auto dirs = iso_->agent_dirs();
      iso_.reset();
      for (const auto& d : dirs) {
        ::rmdir(d.c_str());
        ::rmdir(std::filesystem::path(d).parent_path().c_str());
      }
    }
    containerizer_test::TearDown();
  }
  cgroups::options opts_;
  std::shared_ptr<cgroups::isolator> iso_;
};

launch_request limited(std::string task_id, std::string command, int64_t cpus_milli,
                       int64_t mem_bytes) {
  auto req = make_request(std::move(task_id), std::move(command));
  req.limits.cpus_milli = cpus_milli;
  req.limits.mem_bytes = mem_bytes;
  return req;
}

}  // namespace

TEST_F(cgroups_test, a_task_over_its_memory_limit_is_oom_killed_and_its_neighbour_is_not) {
  containerizer c{work_dir_, iso_};
  exits ex;
  // `tail` keeps a line it has not seen the end of: /dev/zero never ends one.
  auto hog = c.launch(limited("hog", "tail /dev/zero", 100, 32 << 20), ex.callback());
  ASSERT_TRUE(hog.ok) << hog.error;
  auto calm = c.launch(limited("calm", "sleep 1; echo done", 100, 32 << 20), ex.callback());
  ASSERT_TRUE(calm.ok) << calm.error;
  ASSERT_TRUE(ex.wait_for(2, 30s));
  auto h = ex.of(hog.pid);
  EXPECT_EQ(h.limitation_reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  EXPECT_NE(h.limitation_message.find("memory limit of 32 MiB"), std::string::npos)
      << h.limitation_message;
  auto n = ex.of(calm.pid);
  EXPECT_EQ(n.code, 0);
  EXPECT_TRUE(n.limitation_reason.empty());
  EXPECT_EQ(read_file(calm.sandbox + "/stdout"), "done\n");
  EXPECT_TRUE(iso_->tasks().empty());  // both cgroups removed
}

TEST_F(cgroups_test, a_fork_bomb_is_held_by_the_pids_limit_and_fully_killed) {
  containerizer c{work_dir_, iso_};
  exits ex;
  // Each level leaves a `sleep` behind and forks two more levels (dash gives
  // up a shell whose fork fails; the sleeps stay). The task's own shell
  // forks once, first, then becomes a `sleep`: it must not be the one whose
  // fork fails, or the task would end before the test looks at it.
  auto req =
      limited("bomb", "b() { sleep 1000 & b & b & wait; }; b & exec sleep 1000", 100, 64 << 20);
  req.limits.max_pids = 40;
  auto bomb = c.launch(req, ex.callback());
  ASSERT_TRUE(bomb.ok) << bomb.error;
  // It hits its limit: the kernel refuses its forks (counted in
  // pids.events), and it never holds more than 40 processes.
  std::string events;
  for (const auto& p : iso_->paths("fw-1", "bomb"))
    if (std::filesystem::exists(p + "/pids.events")) events = p + "/pids.events";
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(eventually(
      [&] {
        auto u = iso_->usage("fw-1", "bomb");
        EXPECT_LE(u ? u->pids : 0, 40);
        return cgroups::keyed_value(read_file(events), "max").value_or(0) > 0;
      },
      20s))
      << read_file(events);
  EXPECT_GE(iso_->usage("fw-1", "bomb")->pids, 10);  // the sleeps it left
  // The machine still starts other tasks.
  auto other = c.launch(limited("other", "echo fine", 100, 32 << 20), ex.callback());
  ASSERT_TRUE(other.ok) << other.error;
  ASSERT_TRUE(ex.wait_for(1, 10s));
  EXPECT_EQ(ex.of(other.pid).code, 0);
  auto paths = iso_->paths("fw-1", "bomb");
  ASSERT_FALSE(paths.empty());
  ASSERT_TRUE(c.kill(bomb.pid, 100ms));
  ASSERT_TRUE(ex.wait_for(2, 20s));
  // Every process of it is gone: its cgroup could be removed.
  for (const auto& p : paths) EXPECT_FALSE(std::filesystem::exists(p)) << p;
}

TEST_F(cgroups_test, a_task_that_escapes_its_session_and_double_forks_is_fully_killed) {
  containerizer c{work_dir_, iso_};
  exits ex;
  // The escapee leaves the task's process group and session, and its
  // parent exits at once: only the cgroup still holds it.
  auto r = c.launch(limited("t1",
                            "setsid sh -c 'sleep 1000 & echo $! > escaped.pid' & "
                            "sleep 1000",
                            100, 32 << 20),
                    ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  std::string pid_text;
  ASSERT_TRUE(eventually([&] {
    pid_text = read_file(r.sandbox + "/escaped.pid");
    return !pid_text.empty() && pid_text.back() == '\n';
  }));
  pid_t escaped = std::stoi(pid_text);
  ASSERT_FALSE(process_dead(escaped));
  EXPECT_NE(::getpgid(escaped), r.pid);
  ASSERT_TRUE(c.kill(r.pid, 100ms));
  ASSERT_TRUE(ex.wait_for(1, 10s));
  EXPECT_TRUE(eventually([&] { return process_dead(escaped); }, 5s));
}

TEST_F(cgroups_test, a_cpu_hog_with_a_half_cpu_cap_uses_about_half_a_core) {
  opts_.enable_cfs = true;
  std::string error;
  iso_ = cgroups::isolator::create(cgroups::detect_system(), opts_, work_dir_, error);
  ASSERT_TRUE(iso_) << error;
  containerizer c{work_dir_, iso_};
  exits ex;
  auto r = c.launch(limited("hog", "while :; do :; done", 500, 32 << 20), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  auto usage = [&] { return iso_->usage("fw-1", "hog")->cpu_seconds; };
  ASSERT_TRUE(eventually([&] { return usage() > 0.05; }));  // spinning
  double before = usage();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);  // the measurement window itself
  double used = usage() - before;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cores = used / wall;
  // Uncapped, a spinning shell takes a whole core (this machine has 2).
  EXPECT_GT(cores, 0.3);
  EXPECT_LT(cores, 0.65) << "used " << used << " s of cpu in " << wall << " s";
  EXPECT_GT(iso_->usage("fw-1", "hog")->throttled_periods, 0);
  ASSERT_TRUE(c.kill(r.pid, 100ms));
  ASSERT_TRUE(ex.wait_for(1, 10s));
}

TEST_F(cgroups_test, a_task_starts_inside_its_cgroup_and_the_launching_thread_stays_home) {
  auto cgroups_of = [](const std::string& proc) { return read_file(proc + "/cgroup"); };
  auto before = cgroups_of("/proc/thread-self");
  containerizer c{work_dir_, iso_};
  exits ex;
  auto r = c.launch(limited("t1", "sleep 1000", 100, 32 << 20), ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(cgroups_of("/proc/thread-self"), before);
  auto paths = iso_->paths("fw-1", "t1");
  ASSERT_FALSE(paths.empty());
  auto task = cgroups_of("/proc/" + std::to_string(r.pid));
  auto name = std::filesystem::path(paths[0]).filename().string();
  // In every hierarchy the isolator uses: one line per hierarchy names it.
  size_t lines = 0;
  for (size_t at = task.find(name); at != std::string::npos; at = task.find(name, at + 1)) ++lines;
  EXPECT_GE(lines, paths.size() == 1 ? 1u : 3u) << task;
  ASSERT_TRUE(c.kill(r.pid, 100ms));
  ASSERT_TRUE(ex.wait_for(1, 10s));
  for (const auto& p : paths) EXPECT_FALSE(std::filesystem::exists(p)) << p;
}

// -- the shim and recovery ------------------------------------------------------

// Tasks under `agora-shim`, as `agora-agent` runs them: the shim records each
// exit status in a file, so a later agent process can re-attach.
class shim_test : public containerizer_test {
 protected:
  launch_request shimmed(std::string task_id, std::string command) {
    auto req = make_request(task_id, std::move(command));
    auto dir = work_dir_ + "/meta/" + task_id;
    std::filesystem::create_directories(dir);
    req.exit_file = dir + "/exit";
    return req;
  }
  const std::string shim_ = AGORA_SHIM_BINARY;
};

TEST_F(shim_test, the_shim_passes_on_exit_codes_signals_and_kills) {
  containerizer c{work_dir_, nullptr, shim_};
  exits ex;
  auto code = c.launch(shimmed("code", "exit 3"), ex.callback());
  auto segv = c.launch(shimmed("segv", "kill -SEGV $$"), ex.callback());
  auto term = c.launch(shimmed("term", "echo ready; sleep 1000"), ex.callback());
  ASSERT_TRUE(code.ok && segv.ok && term.ok) << code.error << segv.error << term.error;
  ASSERT_TRUE(eventually([&] { return read_file(term.sandbox + "/stdout") == "ready\n"; }));
  ASSERT_TRUE(c.kill(term.pid, 10s));
  ASSERT_TRUE(ex.wait_for(3));
  EXPECT_EQ(ex.of(code.pid).code, 3);
  EXPECT_FALSE(ex.of(code.pid).signaled);
  EXPECT_EQ(ex.of(segv.pid).signal, SIGSEGV);
  // SIGTERM reached the task, not the shim (it outlived the task to record it).
  EXPECT_EQ(ex.of(term.pid).signal, SIGTERM);
  EXPECT_TRUE(ex.of(term.pid).kill_requested);
  EXPECT_EQ(read_file(work_dir_ + "/meta/code/exit"), "exit 3\n");
  EXPECT_EQ(read_file(work_dir_ + "/meta/segv/exit"), "signal 11\n");
  EXPECT_EQ(read_file(work_dir_ + "/meta/term/exit"), "signal 15\n");
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/meta/code/exit.tmp"));
}

TEST_F(shim_test, a_released_task_runs_on_and_a_new_containerizer_re_attaches) {
  auto req = shimmed("t1", "echo ready; sleep 1000");
  launch_result r;
  {
    containerizer old{work_dir_, nullptr, shim_};
    exits ignored;
    r = old.launch(req, ignored.callback());
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_NE(r.start_time, 0u);
    old.release_all();
  }  // the old agent is gone, and did not kill its task
  ASSERT_FALSE(process_dead(r.pid));
  containerizer next{work_dir_, nullptr, shim_};
  exits ex;
  auto rec = next.recover({req, r.pid, r.start_time, ""}, true, ex.callback());
  ASSERT_TRUE(rec.running);
  EXPECT_EQ(next.running(), 1u);
  ASSERT_TRUE(next.kill(r.pid, 10s));
  ASSERT_TRUE(ex.wait_for(1));
  EXPECT_EQ(ex.of(r.pid).signal, SIGTERM);
  EXPECT_TRUE(ex.of(r.pid).kill_requested);
}

TEST_F(shim_test, a_task_that_ended_meanwhile_is_found_with_its_recorded_status) {
  auto req = shimmed("t1", "while [ ! -e go ]; do sleep 0.01; done; exit 7");
  containerizer old{work_dir_, nullptr, shim_};
  exits ignored;
  auto r = old.launch(req, ignored.callback());
  ASSERT_TRUE(r.ok) << r.error;
  old.release_all();
  std::ofstream{r.sandbox + "/go"};
  ASSERT_TRUE(eventually([&] { return !read_file(req.exit_file).empty(); }));
  ASSERT_TRUE(eventually([&] { return process_dead(r.pid); }));
  containerizer next{work_dir_, nullptr, shim_};
  exits ex;
  auto rec = next.recover({req, r.pid, r.start_time, ""}, true, ex.callback());
  EXPECT_FALSE(rec.running);
  ASSERT_TRUE(rec.status.known);
  EXPECT_FALSE(rec.status.signaled);
  EXPECT_EQ(rec.status.code, 7);
  EXPECT_EQ(ex.count, 0u);  // no callback for a task found ended
}

TEST_F(shim_test, a_pid_that_started_at_another_time_or_boot_is_never_adopted) {
  // A live process under the checkpointed pid, but not the task that had it.
  auto req = shimmed("t1", "sleep 1000");
  containerizer old{work_dir_, nullptr, shim_};
  exits ex;
  auto r = old.launch(req, ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  containerizer next{work_dir_, nullptr, shim_};
  exits none;
  auto reused = next.recover({req, r.pid, r.start_time + 1, ""}, true, none.callback());
  EXPECT_FALSE(reused.running);
  EXPECT_FALSE(reused.status.known);  // no status recorded: it never ended
  auto rebooted = next.recover({req, r.pid, r.start_time, ""}, false, none.callback());
  EXPECT_FALSE(rebooted.running);
  EXPECT_EQ(next.running(), 0u);
  ASSERT_TRUE(old.kill(r.pid, 0ms));
  ASSERT_TRUE(ex.wait_for(1));
  EXPECT_EQ(none.count, 0u);
}

TEST_F(shim_test, the_exit_file_is_read_strictly) {
  auto path = work_dir_ + "/exit";
  std::filesystem::create_directories(work_dir_);
  auto parse = [&](const std::string& text) {
    std::ofstream{path} << text;
    return read_exit_file(path);
  };
  EXPECT_EQ(parse("exit 0\n").code, 0);
  EXPECT_TRUE(parse("signal 9\n").signaled);
  EXPECT_FALSE(parse("").known);
  EXPECT_FALSE(parse("exit -1\n").known);
  EXPECT_FALSE(parse("exit 256\n").known);
  EXPECT_FALSE(parse("signal 0\n").known);
  EXPECT_FALSE(parse("crashed 3\n").known);
  EXPECT_FALSE(read_exit_file(work_dir_ + "/missing").known);
}

TEST_F(shim_test, a_kill_at_any_moment_of_the_start_reaches_the_task) {
  // A SIGTERM that arrived while the shim was forking its child used to be
  // lost (the child inherited the shim's ignored disposition), and only the
  // SIGKILL after the grace period ended the task. Kill at once, many times.
  containerizer c{work_dir_, nullptr, shim_};
  exits ex;
  std::vector<pid_t> pids;
  for (int i = 0; i < 40; ++i) {
    auto r = c.launch(shimmed("t" + std::to_string(i), "sleep 1000"), ex.callback());
    ASSERT_TRUE(r.ok) << r.error;
    // Kills from 0 to 2 ms after the launch returned: before, during and
    // after the shim's fork (the behaviour under test, not a wait).
    std::this_thread::sleep_for(std::chrono::microseconds{50 * i});
    ASSERT_TRUE(c.kill(r.pid, 60s));
    pids.push_back(r.pid);
  }
  ASSERT_TRUE(ex.wait_for(pids.size(), 10s));  // far below the 60 s grace
  for (auto pid : pids) {
    EXPECT_EQ(ex.of(pid).signal, SIGTERM) << pid;
    EXPECT_TRUE(ex.of(pid).kill_requested);
  }
}

// -- tasks as other users (--switch-user) ----------------------------------------

namespace {

/// Skips (returning true) where switching users cannot be tested: the tests
/// run as root, and Debian's `nobody` (uid 65534) exists.
bool cannot_switch_users() { return ::geteuid() != 0 || ::getpwnam("nobody") == nullptr; }

uid_t owner_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

}  // namespace

TEST_F(containerizer_test, a_task_runs_as_another_user_with_its_groups_in_a_sandbox_it_owns) {
  if (cannot_switch_users()) GTEST_SKIP() << "needs root and the user 'nobody'";
  const auto* nobody = ::getpwnam("nobody");
  uid_t uid = nobody->pw_uid;
  gid_t gid = nobody->pw_gid;
  containerizer c{work_dir_};
  exits ex;
  auto req = make_request("t1", "id -u; id -g; id -G; touch mine");
  req.user = "nobody";
  req.switch_user = true;
  auto r = c.launch(req, ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  EXPECT_EQ(ex.of(r.pid).code, 0) << read_file(r.sandbox + "/stderr");
  // No supplementary group of the agent (root's 0) is left.
  EXPECT_EQ(read_file(r.sandbox + "/stdout"),
            std::to_string(uid) + "\n" + std::to_string(gid) + "\n" + std::to_string(gid) + "\n");
  EXPECT_EQ(owner_of(r.sandbox), uid);
  EXPECT_EQ(owner_of(r.sandbox + "/stdout"), uid);
  EXPECT_EQ(owner_of(r.sandbox + "/mine"), uid);
  // The directories above the sandbox stay the agent's.
  EXPECT_EQ(owner_of(work_dir_ + "/frameworks/fw-1"), 0u);
}

TEST_F(shim_test, under_the_shim_the_task_switches_and_the_shim_records_its_exit) {
  if (cannot_switch_users()) GTEST_SKIP() << "needs root and the user 'nobody'";
  containerizer c{work_dir_, nullptr, shim_};
  exits ex;
  auto req = shimmed("t1", "id -u; exit 4");
  req.user = "nobody";
  req.switch_user = true;
  auto r = c.launch(req, ex.callback());
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(ex.wait_for(1));
  EXPECT_EQ(ex.of(r.pid).code, 4) << read_file(r.sandbox + "/stderr");
  EXPECT_EQ(read_file(r.sandbox + "/stdout"), std::to_string(::getpwnam("nobody")->pw_uid) + "\n");
  // The shim stayed root: it wrote the exit file beside the agent's own.
  EXPECT_EQ(read_file(req.exit_file), "exit 4\n");
  EXPECT_EQ(owner_of(req.exit_file), 0u);
}

TEST_F(containerizer_test, an_unknown_user_or_none_fails_the_launch) {
  containerizer c{work_dir_};
  exits ex;
  auto unknown = make_request("t1", "touch ran");
  unknown.user = "no-such-user-agora";
  unknown.switch_user = true;
  auto r = c.launch(unknown, ex.callback());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no user 'no-such-user-agora' on this agent"), std::string::npos)
      << r.error;
  auto none = make_request("t2", "touch ran");
  none.switch_user = true;
  r = c.launch(none, ex.callback());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("names no user"), std::string::npos) << r.error;
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/frameworks/fw-1/tasks/t1/ran"));
}
