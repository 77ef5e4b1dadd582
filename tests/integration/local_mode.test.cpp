// `agora local` (what `make run` starts): a master and agents in one process,
// the demo framework, and frameworks from other processes against it.

#include <signal.h>

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
  ASSERT_TRUE(local.start(binary_path("agora"),
                          {"local", "--agents=3", "--racks=2", "--demo",
                           "--port=" + std::to_string(http),
                           "--actor-port=" + std::to_string(actors),
                           "--work-dir=" + dir.path() + "/work",
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
  for (const auto& a : get_state(http)["agents"].GetArray())
    racks.insert(a["attributes"]["rack"].GetString());
  EXPECT_EQ(racks, (std::set<std::string>{"r1", "r2"}));
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
  ASSERT_TRUE(three.start(binary_path("agora"),
                          {"execute", master, "--command=exit 3", "--timeout=30s"}));
  EXPECT_EQ(three.wait_exit(40s), 3) << three.describe();

  // Ctrl-C: every task process is killed, the process exits 0.
  std::vector<pid_t> task_pids;
  ASSERT_TRUE(wait_until([&] {
    task_pids.clear();
    std::istringstream in{read_file(pids)};
    for (pid_t p; in >> p;) task_pids.push_back(p);
    return !task_pids.empty();
  }, 10s));
  ASSERT_TRUE(local.signal(SIGINT));
  EXPECT_EQ(local.wait_exit(30s), 0) << local.describe();
  for (pid_t p : task_pids) EXPECT_FALSE(process_alive(p)) << "task process " << p << " survived";
}

}  // namespace
}  // namespace agora::test
