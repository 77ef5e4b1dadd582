// `agora fleet` against a real `agora-master` process: simulated agents
// register over the real protocol, run simulated tasks for real frameworks
// (`agora execute`, in-test drivers), refuse commands from peers that are
// not their master, and leave the master when the fleet process dies.

#include <signal.h>

#include <map>
#include <set>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "ha_fixture.hpp"

namespace agora::test {
namespace {

using protocol::task_state;

/// Returns how many agents of `/state` are active, and their hostnames.
size_t count_active(const rapidjson::Document& s, std::set<std::string>* hostnames = nullptr) {
  size_t n = 0;
  for (const auto& a : s["agents"].GetArray()) {
    if (!a["active"].GetBool()) continue;
    ++n;
    if (hostnames) hostnames->insert(a["hostname"].GetString());
  }
  return n;
}

/// A running `agora fleet` process against the cluster's master.
struct fleet_process {
  child_process proc;

  fleet_process(const cluster& c, int agents, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"fleet", "--master=" + c.master_address(),
                                     "--agents=" + std::to_string(agents), "--status-interval=1s",
                                     // The cluster's master pings every 250 ms.
                                     "--status-retry-interval=1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!proc.start(binary_path("agora"), args)) throw std::runtime_error("cannot start the fleet");
  }
};

/// Waits until the master lists `n` active agents.
bool wait_active(const cluster& c, size_t n, std::chrono::milliseconds timeout) {
  return c.wait_state([n](const rapidjson::Document& s) { return count_active(s) >= n; }, timeout);
}

/// Returns the parsed figures a fleet's directory actor answers.
rapidjson::Document fleet_figures(caf::scoped_actor& self, const caf::actor& directory) {
  rapidjson::Document d;
  self->request(directory, 5s, protocol::state_atom::value)
      .receive([&](const std::string& json) { d.Parse(json.c_str()); },
               [&](const caf::error&) { d.Parse("{}"); });
  return d;
}

int64_t figure(const rapidjson::Document& d, const char* key) {
  return d.IsObject() && d.HasMember(key) ? d[key].GetInt64() : -1;
}

TEST(fleet, agents_register_on_racks_and_run_simulated_tasks) {
  cluster c;
  fleet_process fleet{c, 200, {"--racks=4"}};
  ASSERT_TRUE(wait_active(c, 200, 20s)) << fleet.proc.describe();
  // 200 agents, fleet-00001..fleet-00200, 50 on each of r1..r4, each with
  // the default resources.
  auto s = c.state();
  std::set<std::string> hostnames;
  EXPECT_EQ(count_active(s, &hostnames), 200u);
  EXPECT_EQ(hostnames.count("fleet-00001"), 1u);
  EXPECT_EQ(hostnames.count("fleet-00200"), 1u);
  std::map<std::string, int> per_rack;
  for (const auto& a : s["agents"].GetArray()) ++per_rack[a["attributes"]["rack"].GetString()];
  EXPECT_EQ(per_rack, (std::map<std::string, int>{{"r1", 50}, {"r2", 50}, {"r3", 50}, {"r4", 50}}));
  EXPECT_EQ(s["agents"][0]["resources"]["cpus"].GetDouble(), 8.0);

  // `sleep 1` runs for a second on a simulated agent, then finishes.
  child_process sleeper;
  ASSERT_TRUE(sleeper.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                   "--command=sleep 1", "--timeout=20s"}));
  auto code = sleeper.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << sleeper.stdout_text() << sleeper.stderr_text();
  EXPECT_EQ(*code, 0) << sleeper.stdout_text() << sleeper.stderr_text();
  auto out = sleeper.stdout_text();
  EXPECT_NE(out.find("(fleet-"), std::string::npos) << out;
  EXPECT_NE(out.find("TASK_STARTING"), std::string::npos) << out;
  EXPECT_NE(out.find("TASK_RUNNING"), std::string::npos) << out;
  EXPECT_NE(out.find("TASK_FINISHED"), std::string::npos) << out;

  // `exit 3` fails at once with status 3, as a real task would.
  child_process failer;
  ASSERT_TRUE(failer.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                  "--command=exit 3", "--timeout=20s"}));
  code = failer.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << failer.stdout_text() << failer.stderr_text();
  EXPECT_EQ(*code, 3) << failer.stdout_text() << failer.stderr_text();
  EXPECT_NE(failer.stdout_text().find("TASK_FAILED: exited with status 3"), std::string::npos)
      << failer.stdout_text();
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& st) {
    for (const auto& t : st["completed_tasks"].GetArray())
      if (std::string(t["state"].GetString()) == "TASK_FAILED" && t["exit_code"].GetInt() == 3)
        return true;
    return false;
  }));
  // The status line counts what happened.
  EXPECT_TRUE(fleet.proc.wait_for_output("1 finished, 1 failed", 5s)) << fleet.proc.describe();
}

TEST(fleet, killed_tasks_end_killed_and_free_their_resources) {
  cluster c;
  fleet_process fleet{c, 2, {"--agent-resources=cpus:1;mem:1GiB"}};
  ASSERT_TRUE(wait_active(c, 2, 10s)) << fleet.proc.describe();
  framework_system fs;
  protocol::framework_info info;
  info.name = "fleet-killer";
  info.roles = {"dev"};
  test_framework fw{fs.sys(), c.master_address(), info};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  // Half of an agent for 1000 s, killed after it runs.
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("long", "sleep 1000", 0.5)}, {0}});
  ASSERT_TRUE(fw.wait_status("long", task_state::running));
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& a : s["agents"].GetArray())
      if (a["used_resources"]["cpus"].GetDouble() == 0.5) return true;
    return false;
  }));
  fw.send(protocol::kill_task{"", "long", ""});
  auto killed = fw.wait_status("long", task_state::killed);
  ASSERT_TRUE(killed.has_value());
  EXPECT_NE(killed->message.find("killed on request"), std::string::npos) << killed->message;
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& a : s["agents"].GetArray())
      if (a["used_resources"]["cpus"].GetDouble() != 0) return false;
    return true;
  }));
}

TEST(fleet, agents_refuse_commands_from_a_peer_that_is_not_their_master) {
  cluster c;
  auto port = free_port();
  fleet_process fleet{c, 3, {"--actor-port=" + std::to_string(port)}};
  ASSERT_TRUE(wait_active(c, 3, 10s)) << fleet.proc.describe();
  framework_system fs;
  auto directory = fs.sys().middleman().remote_actor("127.0.0.1", port);
  ASSERT_TRUE(directory) << fs.sys().render(directory.error());
  caf::scoped_actor self{fs.sys()};
  caf::actor agent;
  self->request(*directory, 5s, caf::get_atom::value, std::string("fleet-00002"))
      .receive([&](caf::actor& a) { agent = std::move(a); },
               [&](const caf::error& err) { FAIL() << fs.sys().render(err); });
  ASSERT_TRUE(agent);
  // A run_task, a kill and a shutdown from the test process, stamped with
  // an epoch far newer than the master's: the agent obeys none of them.
  protocol::run_task rt;
  rt.framework.id = "intruder";
  rt.task = make_task("intruded", "sleep 100");
  rt.epoch = int64_t{1} << 40;
  self->send(agent, rt);
  self->send(agent, protocol::kill_task{"intruder", "intruded", "", rt.epoch});
  self->send(agent, protocol::shutdown_framework{"intruder", rt.epoch});
  // It still answers pings (any peer may probe), but only the master's
  // count as the master's.
  bool pong = false;
  self->request(agent, 5s, protocol::ping_atom::value, rt.epoch)
      .receive([&](protocol::pong_atom) { pong = true; }, [&](const caf::error&) {});
  EXPECT_TRUE(pong);
  ASSERT_TRUE(wait_until(
      [&] { return figure(fleet_figures(self, *directory), "foreign_commands") >= 4; }, 10s))
      << fleet.proc.describe();
  auto figures = fleet_figures(self, *directory);
  EXPECT_EQ(figure(figures, "launched"), 0);
  EXPECT_EQ(figure(figures, "running"), 0);
  EXPECT_EQ(figure(figures, "registered"), 3);
  // The master never heard of the task.
  auto s = c.state();
  EXPECT_EQ(s["frameworks"].Size(), 0u);
  EXPECT_EQ(s["completed_tasks"].Size(), 0u);
  // An unknown hostname is an error, not a crash.
  bool refused = false;
  self->request(*directory, 5s, caf::get_atom::value, std::string("fleet-00009"))
      .receive([&](caf::actor&) {}, [&](const caf::error&) { refused = true; });
  EXPECT_TRUE(refused);
}

TEST(fleet, killed_fleet_leaves_its_agents_disconnected_at_the_master) {
  cluster c;
  fleet_process fleet{c, 200, {"--racks=4"}};
  ASSERT_TRUE(wait_active(c, 200, 20s)) << fleet.proc.describe();
  ASSERT_TRUE(fleet.proc.kill_group(SIGKILL));
  ASSERT_TRUE(fleet.proc.wait_exit(5s).has_value());
  // One connection dropped: every agent on it is disconnected, then (after
  // the missed pings) unreachable; none stays active.
  EXPECT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) {
        return s["agents"].Size() == 200 && count_active(s) == 0;
      },
      10s));
}

TEST(fleet, agents_reregister_with_their_ids_after_a_master_restart) {
  cluster c;
  fleet_process fleet{c, 50, {"--racks=2", "--register-rate=1000/s"}};
  ASSERT_TRUE(wait_active(c, 50, 15s)) << fleet.proc.describe();
  std::set<std::string> ids;
  {
    auto state = c.state();  // alive while its array is walked
    for (const auto& a : state["agents"].GetArray()) ids.insert(a["id"].GetString());
  }
  c.restart_master();
  // The fleet reconnects and every agent re-registers under its old id.
  ASSERT_TRUE(wait_active(c, 50, 15s)) << fleet.proc.describe();
  std::set<std::string> again;
  {
    auto state = c.state();  // alive while its array is walked
    for (const auto& a : state["agents"].GetArray()) again.insert(a["id"].GetString());
  }
  EXPECT_EQ(again, ids);
  EXPECT_TRUE(fleet.proc.wait_for_output("all agents registered again", 10s))
      << fleet.proc.describe();
}

TEST(fleet, agents_follow_the_leader_through_zookeeper_with_their_tasks) {
  if (!zookeeper_server::available()) GTEST_SKIP() << "ZooKeeper is not installed";
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  child_process fleet;
  ASSERT_TRUE(
      fleet.start(binary_path("agora"), {"fleet", "--master=" + c.url(), "--agents=50", "--racks=5",
                                         "--status-interval=1s", "--status-retry-interval=1s"}));
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) { return count_active(s) == 50; }))
      << fleet.describe();
  std::set<std::string> ids;
  {
    auto state = c.state();  // alive while its array is walked
    for (const auto& a : state["agents"].GetArray()) ids.insert(a["id"].GetString());
  }
  int64_t epoch0 = c.state()["election"]["epoch"].GetInt64();
  framework_system fs;
  protocol::framework_info info;
  info.name = "fleet-ha";
  info.roles = {"*"};
  info.failover_timeout_ms = 60000;
  test_framework fw{fs.sys(), c.url(), info};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t1", "sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("t1", task_state::running));
  // kill -9 the leader: the fleet's one ZooKeeper session sees the standby
  // take over at a higher epoch, and every agent re-registers with its id,
  // the agent running t1 with t1.
  c.masters()[0].proc->kill_group(SIGKILL);
  c.masters()[0].proc->wait_exit(5s);
  ASSERT_EQ(c.wait_leader(30s), 1);
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) {
        if (count_active(s) != 50) return false;
        for (const auto& f : s["frameworks"].GetArray())
          for (const auto& t : f["tasks"].GetArray())
            if (std::string(t["id"].GetString()) == "t1")
              return std::string(t["state"].GetString()) == "TASK_RUNNING";
        return false;
      },
      30s))
      << fleet.describe();
  EXPECT_GT(c.state()["election"]["epoch"].GetInt64(), epoch0);
  std::set<std::string> again;
  {
    auto state = c.state();  // alive while its array is walked
    for (const auto& a : state["agents"].GetArray()) again.insert(a["id"].GetString());
  }
  EXPECT_EQ(again, ids);
  // (Not the fleet's "all agents registered again" line: its status ticks
  // sample the registered count and can miss a dip shorter than a tick.)
}

TEST(fleet, processes_split_the_agents_each_with_its_own_connection) {
  cluster c;
  fleet_process fleet{c, 90, {"--processes=3", "--hostname-prefix=multi"}};
  ASSERT_TRUE(wait_active(c, 90, 15s)) << fleet.proc.describe();
  std::set<std::string> hostnames;
  EXPECT_EQ(count_active(c.state(), &hostnames), 90u);
  EXPECT_EQ(hostnames.count("multi-00001"), 1u);
  EXPECT_EQ(hostnames.count("multi-00090"), 1u);
  EXPECT_EQ(hostnames.size(), 90u);
  EXPECT_TRUE(fleet.proc.wait_for_output("agents 90/90 registered", 5s)) << fleet.proc.describe();
  // SIGTERM stops the parent and its children.
  auto children = process_descendants(fleet.proc.pid());
  EXPECT_EQ(children.size(), 3u);
  ASSERT_TRUE(fleet.proc.signal(SIGTERM));
  auto code = fleet.proc.wait_exit(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << fleet.proc.describe();
  EXPECT_TRUE(wait_until(
      [&] {
        for (auto p : children)
          if (process_alive(p)) return false;
        return true;
      },
      5s));
}

TEST(fleet, a_process_that_dies_stops_the_fleet_with_an_error) {
  cluster c;
  fleet_process fleet{c, 20, {"--processes=2"}};
  ASSERT_TRUE(wait_active(c, 20, 10s)) << fleet.proc.describe();
  auto children = process_descendants(fleet.proc.pid());
  ASSERT_EQ(children.size(), 2u);
  ::kill(children[0], SIGKILL);
  auto code = fleet.proc.wait_exit(15s);
  ASSERT_TRUE(code.has_value()) << fleet.proc.describe();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(fleet.proc.stderr_text().find("was killed by signal 9; stopping"), std::string::npos)
      << fleet.proc.describe();
  EXPECT_TRUE(wait_until([&] { return !process_alive(children[1]); }, 5s));
}

TEST(fleet, two_thousand_agents_register_within_bounded_time) {
  cluster c;
  fleet_process fleet{c, 2000, {"--racks=20"}};
  ASSERT_TRUE(wait_active(c, 2000, 30s)) << fleet.proc.describe();
  EXPECT_TRUE(fleet.proc.wait_for_output("all agents registered in", 5s)) << fleet.proc.describe();
}

TEST(fleet, agents_authenticate_to_a_master_that_requires_it) {
  temp_dir dir;
  auto creds = dir.write("credentials.json",
                         R"({"credentials": [{"principal": "agents", "secret": "fleet-s3cret"}]})");
  auto secret = dir.write("agents.secret", "fleet-s3cret\n");
  ::chmod(creds.c_str(), 0600);
  ::chmod(secret.c_str(), 0600);
  cluster c{{"--credentials=" + creds, "--authenticate-agents"}};
  fleet_process fleet{c, 50, {"--principal=agents", "--secret-file=" + secret}};
  ASSERT_TRUE(wait_active(c, 50, 20s)) << fleet.proc.describe();
  EXPECT_GE(c.state()["counters"]["authentications"]["success"].GetUint64(), 50u);
  // Without the secret none registers: each is refused as unauthenticated.
  fleet_process anonymous{c, 10, {"--hostname-prefix=anon"}};
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["authentications"]["missing"].GetUint64() >= 10;
  })) << anonymous.proc.describe();
  EXPECT_EQ(count_active(c.state()), 50u);
}

TEST(fleet, bad_flags_name_the_flag_and_exit_2) {
  struct bad_case {
    std::vector<std::string> args;
    const char* mentions;
  };
  std::vector<bad_case> cases = {
      {{"fleet", "--agents=0"}, "--agents"},
      {{"fleet", "--agents=10", "--racks=11"}, "--racks"},
      {{"fleet", "--task-duration=uniform:3s:1s"}, "--task-duration"},
      {{"fleet", "--register-rate=fast"}, "--register-rate"},
      {{"fleet", "--agent-resources=mem:512"}, "--agent-resources"},
      {{"fleet", "--master=nowhere"}, "--master"},
      {{"fleet", "--processes=0"}, "--processes"},
      {{"fleet", "--no-such-flag"}, "--no-such-flag"},
  };
  for (const auto& bc : cases) {
    child_process p;
    ASSERT_TRUE(p.start(binary_path("agora"), bc.args));
    auto code = p.wait_exit(10s);
    ASSERT_TRUE(code.has_value()) << bc.args.back();
    EXPECT_EQ(*code, 2) << bc.args.back();
    EXPECT_NE(p.stderr_text().find(bc.mentions), std::string::npos)
        << bc.args.back() << ": " << p.stderr_text();
  }
  child_process help;
  ASSERT_TRUE(help.start(binary_path("agora"), {"fleet", "--help"}));
  ASSERT_EQ(help.wait_exit(10s), 0);
  for (const char* flag : {"--agents", "--racks", "--agent-resources", "--task-duration",
                           "--hostname-prefix", "--register-rate", "--processes", "--quiet"})
    EXPECT_NE(help.stdout_text().find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace agora::test
