// Agent recovery end to end: a real master, a real `agora-agent` that is
// killed (SIGKILL) or stopped (SIGTERM) and started again on the same work
// directory, real task processes under `agora-shim`, and a framework in the
// test process that sees every status update.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

using protocol::task_state;

// The master declares an agent unreachable only after 10 s of silence, so
// the restarts below are recoveries, not an agent coming back from the dead.
const std::vector<std::string> patient_master = {"--agent-ping-timeout=500ms",
                                                 "--max-agent-ping-timeouts=20"};

protocol::framework_info framework(const std::string& name) {
  protocol::framework_info info;
  info.name = name;
  info.roles = {"*"};
  info.failover_timeout_ms = 60000;
  return info;
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  wait_until([&] { return (pid = static_cast<pid_t>(std::atoi(read_file(path).c_str()))) > 0; },
             5s);
  return pid;
}

// Launches `tasks` (id -> command) from one offer without waiting.
void launch_without_waiting(test_framework& fw, const std::map<std::string, std::string>& tasks) {
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  protocol::accept a;
  a.offer_ids = {offers[0].id};
  for (const auto& [id, command] : tasks) a.launch.push_back(make_task(id, command, 0.1, 32 << 20));
  fw.pending_offers().clear();
  fw.send(a);
}

// Launches `tasks` (id -> command) from one offer and waits until each runs.
void launch(test_framework& fw, const std::map<std::string, std::string>& tasks) {
  launch_without_waiting(fw, tasks);
  for (const auto& [id, command] : tasks)
    ASSERT_TRUE(fw.wait_status(id, task_state::running)) << id;
}

// The states the framework saw for `task_id`, in order, each uuid once
// (a re-sent update the framework already saw is not a second state).
std::vector<task_state> states_of(const test_framework& fw, const std::string& task_id) {
  std::vector<task_state> out;
  std::set<std::string> seen;
  for (const auto& s : fw.statuses())
    if (s.task_id == task_id && (s.uuid.empty() || seen.insert(s.uuid).second))
      out.push_back(s.state);
  return out;
}

// The master's view of one task (`TASK_RUNNING`, ...; empty if unknown).
std::string master_task_state(const rapidjson::Document& s, const std::string& task_id) {
  for (const auto& f : s["frameworks"].GetArray())
    for (const auto& t : f["tasks"].GetArray())
      if (task_id == t["id"].GetString()) return t["state"].GetString();
  return {};
}

TEST(agent_recovery, tasks_outlive_a_killed_agent_and_each_ends_exactly_once) {
  cluster c{patient_master};
  auto& agent = c.add_agent("cpus:2;mem:1GiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("recovery")};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  launch(fw, {{"steady", "echo $$ > pid; exec sleep 1000"},
              {"meanwhile", "echo $$ > pid; while [ ! -e go ]; do sleep 0.02; done; exit 7"},
              {"later", "echo $$ > pid; while [ ! -e go ]; do sleep 0.02; done; exit 0"}});
  auto sandbox = [&](const std::string& id) { return find_sandbox(agent.work_dir, id); };
  pid_t steady = read_pid(sandbox("steady") + "/pid");
  pid_t meanwhile = read_pid(sandbox("meanwhile") + "/pid");
  ASSERT_GT(steady, 0);
  auto agent_id = std::string(c.state()["agents"][0]["id"].GetString());

  // A crash: nothing of the agent runs its shutdown.
  ASSERT_TRUE(c.stop_agent(0, SIGKILL));
  EXPECT_TRUE(process_alive(steady));
  // While no agent watches, one task ends with a status of its own.
  std::ofstream{sandbox("meanwhile") + "/go"};
  ASSERT_TRUE(wait_until([&] { return !process_alive(meanwhile); }, 5s));

  ASSERT_TRUE(c.start_agent(0));
  // It reports the task that ended with its real exit status...
  auto failed = fw.wait_status("meanwhile", task_state::failed, 15s);
  ASSERT_TRUE(failed) << agent.proc->stderr_text();
  EXPECT_EQ(failed->exit_code, 7);
  EXPECT_EQ(failed->message, "exited with status 7");
  // ...and re-registers under the same id with the others still running.
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        return s["agents"].Size() == 1 && agent_id == s["agents"][0]["id"].GetString() &&
               s["agents"][0]["active"].GetBool() &&
               master_task_state(s, "steady") == "TASK_RUNNING" &&
               master_task_state(s, "later") == "TASK_RUNNING";
      },
      15s))
      << agent.proc->stderr_text();
  EXPECT_TRUE(process_alive(steady));  // never disturbed
  EXPECT_NE(agent.proc->stderr_text().find("recovered from"), std::string::npos);

  // The re-attached tasks are supervised as before: one ends by itself,
  // one is killed.
  std::ofstream{sandbox("later") + "/go"};
  EXPECT_TRUE(fw.wait_status("later", task_state::finished, 10s));
  fw.send(protocol::kill_task{"", "steady", ""});
  EXPECT_TRUE(fw.wait_status("steady", task_state::killed, 10s));
  EXPECT_TRUE(wait_until([&] { return !process_alive(steady); }, 5s));
  fw.pump(300ms);  // a duplicate would arrive now

  // Each task's updates in order, each state once, one terminal state.
  using v = std::vector<task_state>;
  EXPECT_EQ(states_of(fw, "steady"),
            (v{task_state::starting, task_state::running, task_state::killed}));
  EXPECT_EQ(states_of(fw, "meanwhile"),
            (v{task_state::starting, task_state::running, task_state::failed}));
  EXPECT_EQ(states_of(fw, "later"),
            (v{task_state::starting, task_state::running, task_state::finished}));
}

TEST(agent_recovery, sigterm_leaves_tasks_running_and_sigusr1_drains_the_agent) {
  cluster c{patient_master};
  auto& agent = c.add_agent("cpus:2;mem:1GiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("upgrade")};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  launch(fw, {{"steady", "echo $$ > pid; exec sleep 1000"}});
  pid_t steady = read_pid(find_sandbox(agent.work_dir, "steady") + "/pid");
  // A clean stop, as for an upgrade: the agent exits at once, the task runs.
  ASSERT_TRUE(c.stop_agent(0, SIGTERM));
  EXPECT_EQ(agent.proc->exit_status(), 0);
  EXPECT_NE(agent.proc->stdout_text().find("tasks keep running"), std::string::npos);
  EXPECT_TRUE(process_alive(steady));
  ASSERT_TRUE(c.start_agent(0));
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        return s["agents"].Size() == 1 && s["agents"][0]["active"].GetBool() &&
               master_task_state(s, "steady") == "TASK_RUNNING";
      },
      15s))
      << agent.proc->stderr_text();
  // SIGUSR1 drains: every task killed and reported before the agent exits.
  ASSERT_TRUE(agent.proc->signal(SIGUSR1));
  ASSERT_TRUE(agent.proc->wait_exit(15s).has_value());
  EXPECT_TRUE(fw.wait_status("steady", task_state::killed, 10s));
  EXPECT_TRUE(wait_until([&] { return !process_alive(steady); }, 5s));
}

TEST(agent_recovery, a_corrupt_checkpoint_stops_the_agent_until_told_to_clean_up) {
  cluster c{patient_master};
  auto& agent = c.add_agent("cpus:2;mem:1GiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("corrupt")};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  launch(fw, {{"steady", "echo $$ > pid; exec sleep 1000"}});
  pid_t steady = read_pid(find_sandbox(agent.work_dir, "steady") + "/pid");
  auto old_id = std::string(c.state()["agents"][0]["id"].GetString());
  ASSERT_TRUE(c.stop_agent(0, SIGKILL));
  auto ckpt = agent.work_dir + "/meta/agent.ckpt";
  ASSERT_TRUE(std::filesystem::exists(ckpt));
  {
    std::fstream f{ckpt, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(-2, std::ios::end);
    f.put('\x7f');
  }
  // Refused with the file and the way out named; nothing is touched.
  ASSERT_TRUE(c.start_agent(0));
  auto code = agent.proc->wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  auto err = agent.proc->stderr_text();
  EXPECT_NE(err.find(ckpt + ": corrupt: checksum mismatch"), std::string::npos) << err;
  EXPECT_NE(err.find("--recover cleanup"), std::string::npos) << err;
  EXPECT_TRUE(process_alive(steady));
  // Told to clean up: the old run's task is killed and the agent starts
  // afresh, under a new id.
  ASSERT_TRUE(c.start_agent(0, {"--recover=cleanup"}));
  EXPECT_TRUE(wait_until([&] { return !process_alive(steady); }, 10s)) << agent.proc->stderr_text();
  EXPECT_TRUE(
      agent.proc->wait_for_output("--recover cleanup: killed 1 of the previous run's tasks", 10s))
      << agent.proc->stderr_text();
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        for (const auto& a : s["agents"].GetArray())
          if (old_id != a["id"].GetString() && a["active"].GetBool()) return true;
        return false;
      },
      15s))
      << agent.proc->stderr_text();
}

TEST(agent_recovery, updates_survive_restarts_and_late_acknowledgements_in_order_and_once) {
  // A framework that acknowledges late, a master restart and an agent crash
  // while updates wait: each task's updates arrive in order, none is lost,
  // and none comes again once acknowledged and settled.
  cluster c{patient_master};
  auto& agent = c.add_agent("cpus:2;mem:1GiB", "rack:r1",
                            {"--status-retry-interval=200ms", "--status-retry-max=1s"});
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("late"), false};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  launch_without_waiting(fw, {{"quick", "exit 3"}, {"steady", "exec sleep 1000"}});
  // Only each task's oldest update is in flight, re-sent until acknowledged.
  ASSERT_TRUE(fw.wait_status("quick", task_state::starting));
  ASSERT_TRUE(fw.wait_status("steady", task_state::starting));
  fw.pump(600ms);
  EXPECT_EQ(states_of(fw, "quick"), std::vector<task_state>{task_state::starting});

  c.restart_master();
  ASSERT_TRUE(c.stop_agent(0, SIGKILL));
  ASSERT_TRUE(c.start_agent(0));

  // From now on acknowledge everything new, late (after a pause).
  std::set<std::string> acked;
  auto settled = [&] {
    fw.pump(300ms);
    for (const auto& s : fw.statuses())
      if (!s.uuid.empty() && acked.insert(s.uuid).second) fw.acknowledge(s);
    auto q = states_of(fw, "quick");
    auto t = states_of(fw, "steady");
    return !q.empty() && q.back() == task_state::failed && !t.empty() &&
           t.back() == task_state::running;
  };
  ASSERT_TRUE(wait_until(settled, 30s)) << agent.proc->stderr_text();
  // The agent has nothing left to deliver; then nothing more arrives.
  ASSERT_TRUE(wait_until(
      [&] {
        settled();
        auto r = http_get("127.0.0.1", agent.http_port, "/state", 2000ms);
        return r.status == 200 && r.body.find("\"pending_updates\":0") != std::string::npos;
      },
      15s));
  size_t seen = fw.statuses().size();
  fw.pump(1500ms);  // several retry intervals
  EXPECT_EQ(fw.statuses().size(), seen) << "an acknowledged update came again";
  using v = std::vector<task_state>;
  EXPECT_EQ(states_of(fw, "quick"),
            (v{task_state::starting, task_state::running, task_state::failed}));
  EXPECT_EQ(states_of(fw, "steady"), (v{task_state::starting, task_state::running}));
  auto failed = fw.wait_status("quick", task_state::failed, 0ms);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->exit_code, 3);
  fw.send(protocol::kill_task{"", "steady", ""});
}

}  // namespace
}  // namespace agora::test
