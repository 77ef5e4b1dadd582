// `agora local` (what `make run` starts): a master and agents in one process,
// the demo framework, and frameworks from other processes against it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "agora/test/support.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

rapidjson::Document get_state(uint16_t port) {
  rapidjson::Document d;
  auto r = http_get("127.0.0.1", port, "/state", 2000ms);
  if (r.status != 200 || d.Parse(r.body.c_str()).HasParseError() || !d.IsObject())
    d.Parse("{\"agents\":[],\"frameworks\":[]}");
  return d;
}

TEST(local_mode, runs_demo_tasks_serves_execute_and_stops_cleanly) {
  temp_dir dir;
  uint16_t http = free_port();
  uint16_t actors = free_port();
  std::string pids = dir.path() + "/demo-pids";
  child_process local;
  ASSERT_TRUE(
      local.start(binary_path("agora"),
                  {"local", "--agents=3", "--racks=2", "--demo", "--port=" + std::to_string(http),
                   "--actor-port=" + std::to_string(actors), "--work-dir=" + dir.path() + "/work",
                   "--demo-command=echo $$ >> " + pids + "; exec sleep 30"}));
  // /state lists 3 agents on 2 racks and the demo framework with tasks.
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = get_state(http);
        if (s["agents"].Size() != 3 || s["frameworks"].Size() != 1) return false;
        return std::string(s["frameworks"][0]["name"].GetString()) == "agora-demo" &&
               s["frameworks"][0]["tasks"].Size() > 0;
      },
      20s))
      << local.describe();
  std::set<std::string> racks;
  auto state = get_state(http);  // alive while its array is walked
  for (const auto& a : state["agents"].GetArray())
    racks.insert(a["attributes"]["rack"].GetString());
  EXPECT_EQ(racks, (std::set<std::string>{"r1", "r2"}));
  // Every agent serves its sandboxes, read through the master as in a real
  // cluster.
  {
    const auto& task = state["frameworks"][0]["tasks"][0];
    auto path = std::string("/agents/") + task["agent_id"].GetString() +
                "/files/browse?path=frameworks/" + task["framework_id"].GetString() + "/tasks/" +
                task["id"].GetString();
    auto listing = http_get("127.0.0.1", http, path, 2000ms);
    EXPECT_EQ(listing.status, 200) << path << ": " << listing.body;
    EXPECT_NE(listing.body.find("\"name\":\"stdout\""), std::string::npos) << listing.body;
  }
  // The UI is served.
  auto ui = http_get("127.0.0.1", http, "/", 2000ms);
  EXPECT_EQ(ui.status, 200);
  EXPECT_NE(ui.body.find("<title>Agora</title>"), std::string::npos);

  // Frameworks in other processes use it like a standalone master.
  std::string master = "--master=127.0.0.1:" + std::to_string(actors);
  child_process hello;
  ASSERT_TRUE(hello.start(binary_path("agora"),
                          {"execute", master, "--command=echo hello", "--timeout=30s"}));
  EXPECT_EQ(hello.wait_exit(40s), 0) << hello.describe();
  EXPECT_NE(hello.stdout_text().find("TASK_FINISHED"), std::string::npos);
  child_process three;
  ASSERT_TRUE(
      three.start(binary_path("agora"), {"execute", master, "--command=exit 3", "--timeout=30s"}));
  EXPECT_EQ(three.wait_exit(40s), 3) << three.describe();

  // Ctrl-C: every task process is killed, the process exits 0.
  std::vector<pid_t> task_pids;
  ASSERT_TRUE(wait_until(
      [&] {
        task_pids.clear();
        std::istringstream in{read_file(pids)};
        for (pid_t p; in >> p;) task_pids.push_back(p);
        return !task_pids.empty();
      },
      10s));
  ASSERT_TRUE(local.signal(SIGINT));
  EXPECT_EQ(local.wait_exit(30s), 0) << local.describe();
  for (pid_t p : task_pids) EXPECT_FALSE(process_alive(p)) << "task process " << p << " survived";
}

/// Returns true if `port` .. `port + n - 1` can all be bound on 127.0.0.1 now.
bool ports_free(uint16_t port, int n) {
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port + i));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (!ok) return false;
  }
  return true;
}

/// Returns the first of `n` consecutive ports that are free now.
uint16_t free_ports(int n) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    uint16_t p = free_port();
    if (p < 60000 && ports_free(p, n)) return p;
  }
  return 0;
}

std::string health_role(uint16_t port) {
  auto r = http_get("127.0.0.1", port, "/health", 1000ms);
  rapidjson::Document d;
  if (r.status != 200 || d.Parse(r.body.c_str()).HasParseError() || !d.HasMember("role")) return {};
  return d["role"].GetString();
}

TEST(local_mode, three_masters_fail_over_and_the_killed_one_returns_as_standby) {
  if (!zookeeper_server::available()) GTEST_SKIP() << "ZooKeeper is not installed";
  temp_dir dir;
  uint16_t http = free_ports(3);
  uint16_t actors = free_ports(3);
  ASSERT_NE(http, 0);
  ASSERT_NE(actors, 0);
  child_process local;
  ASSERT_TRUE(
      local.start(binary_path("agora"),
                  {"local", "--masters=3", "--agents=2", "--demo", "--port=" + std::to_string(http),
                   "--actor-port=" + std::to_string(actors),
                   "--zk-port=" + std::to_string(free_port()), "--zk-session-timeout=2s",
                   "--work-dir=" + dir.path() + "/work", "--demo-command=sleep 30"}));
  auto leader = [&]() -> int {
    int found = -1;
    for (int i = 0; i < 3; ++i)
      if (health_role(static_cast<uint16_t>(http + i)) == "leader") found = i;
    return found;
  };
  ASSERT_TRUE(wait_until([&] { return leader() == 0; }, 60s)) << local.describe();
  ASSERT_TRUE(wait_until([&] { return get_state(http)["agents"].Size() == 2; }, 30s))
      << local.describe();
  // Find master 0's pid in the banner and kill it.
  pid_t pid = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        auto out = local.stdout_text();
        auto at = out.find("master 0: pid ");
        if (at == std::string::npos) return false;
        pid = static_cast<pid_t>(std::stol(out.substr(at + 14)));
        return true;
      },
      10s));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Another master leads; the agents and the demo framework follow it; the
  // killed master comes back as a standby.
  ASSERT_TRUE(wait_until([&] { return leader() > 0; }, 30s)) << local.describe();
  uint16_t now = static_cast<uint16_t>(http + leader());
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = get_state(now);
        size_t active = 0;
        for (const auto& a : s["agents"].GetArray()) active += a["active"].GetBool();
        return active == 2 && s["frameworks"].Size() == 1 && s["frameworks"][0]["active"].GetBool();
      },
      30s))
      << local.describe();
  EXPECT_TRUE(wait_until([&] { return health_role(http) == "standby"; }, 30s));
  // SIGTERM stops everything, ZooKeeper and masters included.
  ASSERT_TRUE(local.signal(SIGTERM));
  auto code = local.wait_exit(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(health_role(http + 1), "");
}

}  // namespace
}  // namespace agora::test
