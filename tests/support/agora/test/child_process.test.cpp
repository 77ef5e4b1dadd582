#include "agora/test/child_process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include <gtest/gtest.h>

#include "agora/test/temp_dir.hpp"
#include "agora/test/wait.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

// Reads the whitespace-separated pids a script wrote to `path`.
std::vector<pid_t> read_pids(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

TEST(child_process, captures_stdout_stderr_and_exit_code) {
  child_process p;
  std::string error;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "echo out; echo err >&2; echo more; exit 3"}, {}, &error))
      << error;
  EXPECT_GT(p.pid(), 0);
  EXPECT_EQ(p.wait_exit(10s), 3);
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.exit_status(), 3);
  EXPECT_EQ(p.stdout_text(), "out\nmore\n");
  EXPECT_EQ(p.stderr_text(), "err\n");
  EXPECT_EQ(read_file(p.stdout_path()), "out\nmore\n");
}

TEST(child_process, passes_arguments_verbatim_and_searches_path) {
  child_process p;
  ASSERT_TRUE(p.start("printf", {"[%s]", "a", "b c", "", "$HOME"}));
  EXPECT_EQ(p.wait_exit(10s), 0);
  EXPECT_EQ(p.stdout_text(), "[a][b c][][$HOME]");
}

TEST(child_process, adds_environment_variables_and_keeps_the_rest) {
  setenv("AGORA_TEST_INHERITED", "kept", 1);
  setenv("AGORA_TEST_OVERRIDDEN", "old", 1);
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh",
                      {"-c", "echo $AGORA_TEST_INHERITED $AGORA_TEST_OVERRIDDEN $AGORA_TEST_NEW"},
                      {{"AGORA_TEST_OVERRIDDEN", "new"}, {"AGORA_TEST_NEW", "x y"}}));
  EXPECT_EQ(p.wait_exit(10s), 0);
  EXPECT_EQ(p.stdout_text(), "kept new x y\n");
  unsetenv("AGORA_TEST_INHERITED");
  unsetenv("AGORA_TEST_OVERRIDDEN");
}

TEST(child_process, reports_signals_as_128_plus_signal) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "kill -KILL $$"}));
  EXPECT_EQ(p.wait_exit(10s), 128 + SIGKILL);
}

TEST(child_process, missing_binary_fails_to_start_with_the_reason) {
  child_process p;
  std::string error;
  EXPECT_FALSE(p.start("/nonexistent/agora-nothing", {}, {}, &error));
  EXPECT_EQ(error, "cannot execute /nonexistent/agora-nothing: No such file or directory");
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(p.start("agora-no-such-binary-on-path", {}, {}, &error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(child_process, runs_in_its_own_process_group_with_clean_state) {
  // The parent ignores SIGPIPE (as any process running civetweb does) and
  // holds a descriptor without O_CLOEXEC: neither may reach the child.
  auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  int leaked = dup2(open("/dev/null", O_RDONLY), 200);
  ASSERT_EQ(leaked, 200);
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c",
                                  "cut -d' ' -f5 /proc/$$/stat; grep SigIgn /proc/$$/status; "
                                  "ls /proc/$$/fd; cat; echo stdin-done"}));
  EXPECT_EQ(p.wait_exit(10s), 0) << p.describe();
  close(200);
  std::signal(SIGPIPE, old_pipe);
  auto out = p.stdout_text();
  EXPECT_EQ(out.substr(0, out.find('\n')), std::to_string(p.pid())) << out;
  // No standard signal (1-31) is ignored. Signals 32 and 33 are reserved by
  // glibc, which will not reset them; some launchers hand them down ignored.
  auto ign = out.find("SigIgn:\t");
  ASSERT_NE(ign, std::string::npos) << out;
  auto mask = std::stoull(out.substr(ign + 8, 16), nullptr, 16);
  EXPECT_EQ(mask & 0x7fffffffULL, 0u) << out;
  EXPECT_EQ(out.find("\n200\n"), std::string::npos) << out;
  // stdin is /dev/null, so `cat` ends at once.
  EXPECT_NE(out.find("stdin-done"), std::string::npos) << out;
}

TEST(child_process, working_directory_can_be_set) {
  temp_dir dir;
  child_process p;
  p.set_working_dir(dir.path());
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "pwd -P"}));
  EXPECT_EQ(p.wait_exit(10s), 0);
  EXPECT_EQ(p.stdout_text(), dir.path() + "\n");
}

TEST(child_process, wait_exit_times_out_on_a_running_process) {
  child_process p;
  ASSERT_TRUE(p.start("sleep", {"1000"}));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(p.wait_exit(200ms), std::nullopt);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 5s);
  EXPECT_TRUE(p.running());
  EXPECT_TRUE(process_alive(p.pid()));
  EXPECT_EQ(p.terminate(5s), 128 + SIGTERM);
  EXPECT_FALSE(process_alive(p.pid()));
}

TEST(child_process, signal_reaches_the_process) {
  child_process p;
  ASSERT_TRUE(p.start("sleep", {"1000"}));
  EXPECT_TRUE(p.signal(SIGUSR1));
  EXPECT_EQ(p.wait_exit(10s), 128 + SIGUSR1);
  EXPECT_FALSE(p.signal(SIGUSR1));  // Already reaped.
}

TEST(child_process, terminate_kills_the_process_group_including_grandchildren) {
  temp_dir dir;
  auto pids = dir.file("pids");
  child_process p;
  ASSERT_TRUE(
      p.start("/bin/sh", {"-c", "sleep 1000 & echo $! > " + pids + "; sleep 1000 & echo $! >> " +
                                    pids + "; echo ready; wait"}));
  ASSERT_TRUE(p.wait_for_output("ready", 10s)) << p.describe();
  auto grandchildren = read_pids(pids);
  ASSERT_EQ(grandchildren.size(), 2u);
  for (pid_t g : grandchildren) EXPECT_TRUE(process_alive(g)) << g;
  EXPECT_EQ(process_group_members(p.pid()).size(), 3u);
  EXPECT_EQ(process_descendants(p.pid()).size(), 2u);

  EXPECT_EQ(p.terminate(5s), 128 + SIGTERM);  // sh dies of SIGTERM at once.
  // `terminate` returns only once the whole group is gone.
  for (pid_t g : grandchildren) EXPECT_FALSE(process_alive(g)) << g;
  EXPECT_FALSE(process_alive(p.pid()));
  EXPECT_TRUE(process_group_members(p.pid()).empty());
}

TEST(child_process, kill_group_signals_every_member) {
  temp_dir dir;
  auto pids = dir.file("pids");
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "sleep 1000 & echo $! > " + pids + "; echo ready; wait"}));
  ASSERT_TRUE(p.wait_for_output("ready", 10s)) << p.describe();
  auto grandchildren = read_pids(pids);
  ASSERT_EQ(grandchildren.size(), 1u);
  EXPECT_TRUE(p.kill_group(SIGKILL));
  EXPECT_EQ(p.wait_exit(10s), 128 + SIGKILL);
  EXPECT_TRUE(wait_until([&] { return !process_alive(grandchildren[0]); }, 10s));
}

TEST(child_process, terminate_escalates_to_sigkill_when_sigterm_is_ignored) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "trap '' TERM; echo ready; exec sleep 1000"}));
  ASSERT_TRUE(p.wait_for_output("ready", 10s));
  // `exec` replaces the shell; wait until the ignored SIGTERM is inherited by
  // `sleep` (the exec happened), so the grace period is really used.
  ASSERT_TRUE(wait_until(
      [&] { return read_file("/proc/" + std::to_string(p.pid()) + "/comm") == "sleep\n"; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(p.terminate(300ms), 128 + SIGKILL);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  EXPECT_FALSE(process_alive(p.pid()));
}

TEST(child_process, terminate_kills_descendants_that_left_the_group) {
  temp_dir dir;
  auto pids = dir.file("pids");
  child_process p;
  // `setsid` puts the sleeper in a new session (and group) of its own.
  ASSERT_TRUE(
      p.start("/bin/sh", {"-c", "setsid sleep 1000 & echo $! > " + pids + "; echo ready; wait"}));
  ASSERT_TRUE(p.wait_for_output("ready", 10s));
  auto escaped = read_pids(pids);
  ASSERT_EQ(escaped.size(), 1u);
  ASSERT_TRUE(wait_until([&] { return getsid(escaped[0]) == escaped[0]; }, 10s));
  EXPECT_TRUE(process_alive(escaped[0]));
  p.terminate(5s);
  EXPECT_FALSE(process_alive(escaped[0]));
}

TEST(child_process, destructor_terminates_and_reaps_everything) {
  temp_dir dir;
  auto pids = dir.file("pids");
  pid_t leader = -1;
  std::vector<pid_t> grandchildren;
  {
    child_process p;
    ASSERT_TRUE(
        p.start("/bin/sh", {"-c", "sleep 1000 & echo $! > " + pids + "; echo ready; wait"}));
    ASSERT_TRUE(p.wait_for_output("ready", 10s));
    leader = p.pid();
    grandchildren = read_pids(pids);
  }
  EXPECT_FALSE(process_alive(leader));
  // The leader was reaped, not left as a zombie: /proc no longer has it.
  EXPECT_NE(access(("/proc/" + std::to_string(leader)).c_str(), F_OK), 0);
  ASSERT_EQ(grandchildren.size(), 1u);
  EXPECT_FALSE(process_alive(grandchildren[0]));
}

TEST(child_process, wait_for_output_sees_late_output_on_either_stream) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c",
                                  "echo starting; read x < /dev/null; "
                                  "sh -c 'echo listening on 5050 >&2'; exec sleep 1000"}));
  EXPECT_TRUE(p.wait_for_output("listening on 5050", 10s)) << p.describe();
  EXPECT_TRUE(p.wait_for_output("starting", 1s));
  EXPECT_TRUE(p.running());
}

TEST(child_process, wait_for_output_gives_up_when_the_process_exits) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "echo something else; exit 1"}));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.wait_for_output("never printed", 30s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(p.exit_status(), 1);
}

TEST(child_process, wait_for_output_times_out) {
  child_process p;
  ASSERT_TRUE(p.start("sleep", {"1000"}));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.wait_for_output("never printed", 200ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST(child_process, can_be_restarted_after_exit) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "echo one"}));
  EXPECT_EQ(p.wait_exit(10s), 0);
  std::string error;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "echo two; exit 4"}, {}, &error)) << error;
  EXPECT_EQ(p.wait_exit(10s), 4);
  EXPECT_EQ(p.stdout_text(), "two\n");
}

TEST(child_process, refuses_a_second_start_while_running) {
  child_process p;
  ASSERT_TRUE(p.start("sleep", {"1000"}));
  std::string error;
  EXPECT_FALSE(p.start("sleep", {"1000"}, {}, &error));
  EXPECT_NE(error.find("already running"), std::string::npos) << error;
}

TEST(child_process, describe_names_command_state_and_output) {
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", "echo hello; echo oops >&2; exit 2"}));
  p.wait_exit(10s);
  auto text = p.describe();
  EXPECT_NE(text.find("/bin/sh -c"), std::string::npos) << text;
  EXPECT_NE(text.find("exited with status 2"), std::string::npos) << text;
  EXPECT_NE(text.find("hello"), std::string::npos) << text;
  EXPECT_NE(text.find("oops"), std::string::npos) << text;
}

TEST(process_alive, is_false_for_zombies_and_reaped_processes) {
  EXPECT_TRUE(process_alive(getpid()));
  EXPECT_FALSE(process_alive(-1));
  EXPECT_FALSE(process_alive(0));
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  // Not reaped yet: a zombie, which does not count as alive.
  EXPECT_TRUE(wait_until([&] { return !process_alive(child); }, 10s));
  EXPECT_EQ(kill(child, 0), 0);  // The zombie still exists.
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(process_alive(child));
}

}  // namespace
}  // namespace agora::test
