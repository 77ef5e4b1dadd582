// Tests of the `agora-agent` binary: flags, the lines it prints, HTTP,
// registration with a (fake) remote master and a clean exit on SIGTERM.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include "agora/agent/test_http.hpp"

#include "agora/agent/agent_actor.hpp"
#include "agora/protocol/announce.hpp"

extern char** environ;

using namespace std::chrono_literals;
using namespace agora::protocol;

namespace {

// A child process with its stdout and stderr captured through pipes.
class process {
 public:
  explicit process(std::vector<std::string> args) {
    int out[2], err[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    started_ = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }

  ~process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }

  bool started() const { return started_; }
  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  // Reads output until stdout (or, with `in_stderr`, stderr) contains
  // `text` (true) or `timeout` passes.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = 10s,
                       bool in_stderr = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((in_stderr ? err_ : out_).find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return false;
    }
    return true;
  }

  // Waits (bounded) for the exit; returns the exit status or -1.
  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      auto r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        while (read_some(0)) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      read_some(20);
    }
  }

 private:
  // Polls both pipes up to `timeout_ms`; returns false on timeout or EOF.
  bool read_some(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) <= 0) return false;
    bool got = false;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
        got = true;
      }
    }
    return got;
  }

  pid_t pid_ = -1;
  bool started_ = false;
  bool exited_ = false;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
};

using agora::agent::testing::http_get;

// Returns the port of the first `prefix127.0.0.1:PORT` in `text`, or 0.
uint16_t port_after(const std::string& text, const std::string& prefix) {
  auto pos = text.find(prefix);
  if (pos == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(text.substr(pos + prefix.size())));
}

class agent_main_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    work_dir_ = (std::filesystem::temp_directory_path() /
                 ("agora-agent-main-" + std::to_string(::getpid()) + "-" + name))
                    .string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
  std::string work_dir_;
  std::string binary_ = AGORA_AGENT_BINARY;
};

}  // namespace

TEST_F(agent_main_test, missing_master_is_a_usage_error) {
  process p{{binary_, "--work-dir=" + work_dir_}};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(), 2);
  EXPECT_NE(p.err().find("--master"), std::string::npos) << p.err();
}

TEST_F(agent_main_test, bad_resources_name_the_flag) {
  process p{{binary_, "--master=127.0.0.1:5055", "--resources=cpus:abc"}};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(), 2);
  EXPECT_NE(p.err().find("--resources"), std::string::npos) << p.err();
}

TEST_F(agent_main_test, bad_attributes_name_the_flag) {
  process p{{binary_, "--master=127.0.0.1:5055", "--attributes=rack"}};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(), 2);
  EXPECT_NE(p.err().find("--attributes"), std::string::npos) << p.err();
}

TEST_F(agent_main_test, bad_isolation_flags_name_the_flag) {
  for (auto [flag, value] :
       {std::pair{"--isolation", "docker"}, std::pair{"--cgroups-root", "../escape"},
        std::pair{"--cgroups-root", "/abs"}, std::pair{"--max-task-pids", "-1"},
        std::pair{"--gc-disk-threshold", "1.5"}, std::pair{"--gc-delay", "-1s"},
        std::pair{"--disk-watch-interval", "0ms"}, std::pair{"--recover", "later"},
        std::pair{"--resources", "cpus:1;mem:1GiB;disk:100TiB"}}) {
    process p{{binary_, "--master=127.0.0.1:5055", std::string(flag) + "=" + value}};
    ASSERT_TRUE(p.started());
    EXPECT_EQ(p.wait_exit(), 2) << flag;
    EXPECT_NE(p.err().find(flag), std::string::npos) << p.err();
  }
}

TEST_F(agent_main_test, a_cgroup_root_it_cannot_create_is_an_error_or_a_warning) {
  // `cgroup.procs` is a file in every hierarchy's root: no cgroup can be
  // made under it, as when the agent lacks the rights to its root.
  if (agora::agent::cgroups::detect_system().ver == agora::agent::cgroups::version::none)
    GTEST_SKIP() << "no usable cgroup hierarchy on this machine";
  auto args = [&](const char* isolation) {
    return std::vector<std::string>{binary_,
                                    "--master=127.0.0.1:1",
                                    "--work-dir=" + work_dir_,
                                    "--port=0",
                                    "--actor-port=0",
                                    "--resources=cpus:1;mem:1GiB",
                                    "--cgroups-root=cgroup.procs",
                                    std::string("--isolation=") + isolation};
  };
  // Demanded: the agent does not start, and says why.
  process strict{args("cgroups")};
  ASSERT_TRUE(strict.started());
  EXPECT_EQ(strict.wait_exit(), 1);
  EXPECT_NE(strict.err().find("--isolation cgroups: cannot isolate tasks with cgroups"),
            std::string::npos)
      << strict.err();
  EXPECT_NE(strict.err().find("cgroup.procs"), std::string::npos) << strict.err();
  // Preferred: it starts without limits, with one clear warning.
  process lenient{args("auto")};
  ASSERT_TRUE(lenient.started());
  ASSERT_TRUE(lenient.wait_for_output("agora-agent: http on 127.0.0.1:")) << lenient.err();
  EXPECT_NE(lenient.err().find("warning: cgroups are not usable"), std::string::npos)
      << lenient.err();
  ::kill(lenient.pid(), SIGTERM);
  EXPECT_EQ(lenient.wait_exit(), 0);
}

TEST_F(agent_main_test, a_second_agent_on_the_same_work_directory_is_refused) {
  // Two agents adopting the same tasks would each supervise and report them.
  auto args = std::vector<std::string>{
      binary_,          "--master=127.0.0.1:1",    "--port=0",
      "--actor-port=0", "--work-dir=" + work_dir_, "--resources=cpus:1;mem:1GiB"};
  process first{args};
  ASSERT_TRUE(first.started());
  ASSERT_TRUE(first.wait_for_output("agora-agent: http on 127.0.0.1:")) << first.err();
  process second{args};
  ASSERT_TRUE(second.started());
  EXPECT_EQ(second.wait_exit(), 1);
  EXPECT_NE(second.err().find("another agent process (pid " + std::to_string(first.pid()) +
                              ") uses this work directory"),
            std::string::npos)
      << second.err();
  ::kill(first.pid(), SIGTERM);
  EXPECT_EQ(first.wait_exit(), 0);
}

TEST_F(agent_main_test, registers_with_a_remote_master_serves_http_and_stops_on_sigterm) {
  // A fake master in this process, published on a free loopback port.
  caf::actor_system_config cfg;
  announce(cfg);
  agora::agent::announce(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto observer = caf::actor_cast<caf::actor>(self);
  auto master = sys.spawn([observer](caf::event_based_actor* m) -> caf::behavior {
    return {
        [m, observer](register_agent& r) {
          m->send(observer, r);
          return agent_registered{"agent-7", 0};
        },
    };
  });
  auto port = sys.middleman().publish(master, 0, "127.0.0.1", true);
  ASSERT_TRUE(port);

  process p{{binary_, "--master=127.0.0.1:" + std::to_string(*port), "--port=0", "--actor-port=0",
             "--work-dir=" + work_dir_, "--hostname=h1",
             "--resources=cpus:2;mem:1GiB;ports:[31000-31009]", "--attributes=rack:r1;zone:z1"}};
  ASSERT_TRUE(p.started());
  ASSERT_TRUE(p.wait_for_output("agora-agent: http on 127.0.0.1:")) << p.out() << p.err();
  ASSERT_TRUE(p.wait_for_output(
      "agora-agent: registered with master 127.0.0.1:" + std::to_string(*port) + " as agent-7\n"))
      << p.out() << p.err();
  std::optional<agent_info> info;
  self->receive([&](register_agent& r) { info = r.info; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(info);
  auto http_port = port_after(p.out(), "http on 127.0.0.1:");
  ASSERT_NE(http_port, 0);
  EXPECT_EQ(info->hostname, "h1");
  EXPECT_EQ(info->total.to_string(), "cpus:2;mem:1GiB;ports:[31000-31009]");
  EXPECT_EQ(info->attributes, (attribute_map{{"rack", "r1"}, {"zone", "z1"}}));
  EXPECT_EQ(info->http_address, "127.0.0.1:" + std::to_string(http_port));
  auto health = http_get(http_port, "/health");
  EXPECT_NE(health.find("{\"status\":\"ok\"}"), std::string::npos) << health;
  auto state = http_get(http_port, "/state");
  EXPECT_NE(state.find("\"id\":\"agent-7\""), std::string::npos) << state;
  // A peer on the agent's actor port may not stop it (that left the process
  // running without HTTP or registration): refused, and nothing changes.
  ASSERT_TRUE(p.wait_for_output("agora-agent: actor on 127.0.0.1:")) << p.out();
  auto actor_port = port_after(p.out(), "actor on 127.0.0.1:");
  auto remote = sys.middleman().remote_actor("127.0.0.1", actor_port);
  ASSERT_TRUE(remote) << sys.render(remote.error());
  std::string refusal;
  self->request(*remote, 10s, agora::agent::stop_atom::value)
      .receive([&](agora::agent::stop_atom) { refusal = "stopped"; },
               [&](caf::error& e) { refusal = sys.render(e); });
  EXPECT_NE(refusal.find("not_allowed"), std::string::npos) << refusal;
  EXPECT_NE(http_get(http_port, "/health").find("{\"status\":\"ok\"}"), std::string::npos);
  state = http_get(http_port, "/state");
  EXPECT_NE(state.find("\"registered\":true"), std::string::npos) << state;
  // Nor may it end the actor with an exit message, not even with the
  // untrappable reason `kill`: the transport closes the connection of a
  // peer that sends one (a peer of its own node, not the master's, whose
  // connection stays up).
  caf::actor_system_config hostile_cfg;
  announce(hostile_cfg);
  agora::agent::announce(hostile_cfg);
  hostile_cfg.load<caf::io::middleman>();
  caf::actor_system hostile_sys{hostile_cfg};
  auto hostile_remote = hostile_sys.middleman().remote_actor("127.0.0.1", actor_port);
  ASSERT_TRUE(hostile_remote) << hostile_sys.render(hostile_remote.error());
  caf::scoped_actor hostile{hostile_sys};
  hostile->send_exit(*hostile_remote, caf::exit_reason::kill);
  EXPECT_TRUE(p.wait_for_output("it sent an exit, down, timeout or stream message", 10s, true))
      << p.err();
  bool alive = false;
  self->request(*remote, 10s, ping_atom::value)
      .receive([&](pong_atom) { alive = true; }, [&](caf::error&) {});
  EXPECT_TRUE(alive) << p.err();
  state = http_get(http_port, "/state");
  EXPECT_NE(state.find("\"registered\":true"), std::string::npos) << state;
  // SIGTERM stops it cleanly.
  ::kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.err();
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
}

TEST_F(agent_main_test, detects_resources_when_not_given) {
  process p{
      {binary_, "--master=127.0.0.1:1", "--port=0", "--actor-port=0", "--work-dir=" + work_dir_}};
  ASSERT_TRUE(p.started());
  ASSERT_TRUE(p.wait_for_output("agora-agent: http on 127.0.0.1:")) << p.err();
  auto response = http_get(port_after(p.out(), "http on 127.0.0.1:"), "/state");
  auto body = response.substr(std::min(response.size(), response.find("\r\n\r\n") + 4));
  rapidjson::Document d;
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << response;
  ASSERT_TRUE(d.IsObject() && d.HasMember("resources") && d.HasMember("registered")) << response;
  // nproc CPUs (at least 1), MemTotal - 1 GiB (at least half), the default
  // port range.
  const auto& r = d["resources"];
  EXPECT_GE(r["cpus"].GetDouble(), 1.0);
  EXPECT_GT(r["mem"].GetInt64(), 0);
  ASSERT_TRUE(r["ports"].IsArray());
  ASSERT_EQ(r["ports"].Size(), 1u);
  EXPECT_EQ(r["ports"][0]["begin"].GetUint(), 31000u);
  EXPECT_EQ(r["ports"][0]["end"].GetUint(), 32000u);
  EXPECT_FALSE(d["registered"].GetBool());
  ::kill(p.pid(), SIGINT);
  EXPECT_EQ(p.wait_exit(), 0) << p.err();
}
