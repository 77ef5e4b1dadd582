// Hostile peers against real daemons: a raw CAF peer (an actor system in the
// test process, connected over TCP like any remote framework or agent) that
// knows every id `/state` shows and tries to act with them.

#include <signal.h>
#include <unistd.h>

#include <regex>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

using protocol::task_state;

protocol::framework_info framework(const std::string& name) {
  protocol::framework_info info;
  info.name = name;
  info.roles = {"dev"};
  return info;
}

uint64_t master_counter(const cluster& c, const char* name) {
  auto s = c.state();
  return s.HasMember("counters") ? s["counters"][name].GetUint64() : 0;
}

/// The latest state `/state` shows for task `task_id` ("" if none).
std::string task_state_in(const rapidjson::Document& s, const std::string& task_id) {
  for (const auto& f : s["frameworks"].GetArray())
    for (const auto& t : f["tasks"].GetArray())
      if (task_id == t["id"].GetString()) return t["state"].GetString();
  return {};
}

/// Runs a task that records its pid in its sandbox and sleeps; returns the
/// pid once it runs (0 on failure).
pid_t run_sleeper(test_framework& fw, agent_process& agent, const std::string& id) {
  auto offers = fw.wait_offers();
  if (offers.empty()) return 0;
  fw.pending_offers().clear();
  fw.send(
      protocol::accept{"", {offers[0].id}, {make_task(id, "echo $$ > pid; exec sleep 600")}, {0}});
  if (!fw.wait_status(id, task_state::running)) return 0;
  std::string sandbox;
  wait_until([&] { return !(sandbox = find_sandbox(agent.work_dir, id)).empty(); }, 5s);
  pid_t pid = 0;
  wait_until(
      [&] {
        return (pid = static_cast<pid_t>(std::atoi(read_file(sandbox + "/pid").c_str()))) > 0;
      },
      5s);
  return pid;
}

/// Launches a task that exits at once and waits for its end: every command
/// the master sent the agent before it has been acted on by then (the agent
/// takes a master's messages in order).
bool round_trip(test_framework& fw, const std::string& id) {
  std::vector<protocol::offer> offers;
  if (!wait_until(
          [&] {
            fw.pump(50ms);
            return !fw.pending_offers().empty();
          },
          10s))
    return false;
  auto offer = fw.pending_offers().front();
  fw.pending_offers().clear();
  fw.send(protocol::accept{"", {offer.id}, {make_task(id, "true")}, {0}});
  return fw.wait_status(id, task_state::finished).has_value();
}

TEST(security, a_peer_that_knows_a_framework_id_cannot_act_for_it) {
  cluster c;
  auto& agent = c.add_agent("cpus:4;mem:1GiB;disk:1GiB");
  framework_system fs;
  test_framework victim{fs.sys(), c.master_address(), framework("victim")};
  auto fid = victim.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  pid_t pid = run_sleeper(victim, agent, "t1");
  ASSERT_GT(pid, 0);
  // The rest of the agent is offered again; the peer will try to use it.
  std::vector<protocol::offer> offers;
  ASSERT_TRUE(wait_until(
      [&] {
        victim.pump(50ms);
        return !victim.pending_offers().empty();
      },
      10s));
  auto offer_id = victim.pending_offers().front().id;

  framework_system hostile_system;
  auto master = hostile_system.sys().middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << hostile_system.sys().render(master.error());
  caf::scoped_actor hostile{hostile_system.sys()};
  auto before = master_counter(c, "foreign_messages");
  auto agent_id = std::string(c.state()["agents"][0]["id"].GetString());
  hostile->send(*master, protocol::kill_task{fid, "t1", ""});
  hostile->send(*master, protocol::accept{fid, {offer_id}, {make_task("pwned", "true")}, {0}});
  hostile->send(*master, protocol::decline{fid, {offer_id}, {60000}});
  hostile->send(*master, protocol::suppress{fid, {}});
  hostile->send(*master, protocol::reconcile{fid, {}});
  hostile->send(*master, protocol::acknowledge{fid, agent_id, "t1", "uuid"});
  hostile->send(*master, protocol::teardown{fid});
  ASSERT_TRUE(c.wait_state([&](const rapidjson::Document& s) {
    return s["counters"]["foreign_messages"].GetUint64() >= before + 7;
  })) << c.master().stderr_text();
  EXPECT_TRUE(c.master().wait_for_output("for framework " + fid + " (not its scheduler)", 5s));

  // Nothing happened: the framework is subscribed, its task runs, its offer
  // is still its own (not declined, not used), no task of the peer exists.
  auto s = c.state();
  EXPECT_EQ(task_state_in(s, "t1"), "TASK_RUNNING");
  EXPECT_EQ(task_state_in(s, "pwned"), "");
  ASSERT_TRUE(s["frameworks"].IsArray());
  bool listed = false;
  for (const auto& f : s["frameworks"].GetArray()) listed |= fid == f["id"].GetString();
  EXPECT_TRUE(listed) << "the framework was torn down";
  // The framework still gets and uses offers (it was neither suppressed nor
  // declined), and once its own task ran through the agent, a kill sent
  // before it would have been carried out: t1's process still lives.
  ASSERT_TRUE(round_trip(victim, "after"));
  EXPECT_TRUE(process_alive(pid));
  for (const auto& st : victim.statuses())
    EXPECT_FALSE(st.task_id == "t1" &&
                 (protocol::is_terminal(st.state) || st.state == task_state::killing))
        << "t1 became " << protocol::to_string(st.state);
  EXPECT_TRUE(c.master().running());
}

TEST(security, a_fake_agent_can_neither_take_an_agents_place_nor_speak_for_its_tasks) {
  cluster c;
  auto& agent = c.add_agent("cpus:4;mem:1GiB;disk:1GiB");
  framework_system fs;
  test_framework victim{fs.sys(), c.master_address(), framework("victim")};
  auto fid = victim.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  ASSERT_GT(run_sleeper(victim, agent, "t1"), 0);
  auto real_id = std::string(c.state()["agents"][0]["id"].GetString());

  framework_system hostile_system;
  auto& sys = hostile_system.sys();
  auto master = sys.middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << sys.render(master.error());
  caf::scoped_actor hostile{sys};
  auto before = master_counter(c, "foreign_messages");
  protocol::agent_info fake;
  fake.id = real_id;
  fake.hostname = "impostor";
  fake.total = protocol::resources::make(64, int64_t{1} << 40);
  // Re-registering under the real agent's id while it is connected.
  std::string refusal;
  hostile->request(*master, 10s, protocol::reregister_agent{fake, {}, {}})
      .receive([&](protocol::agent_registered&) { refusal = "accepted"; },
               [&](caf::error& err) { refusal = sys.render(err); });
  EXPECT_NE(refusal.find("registered and connected from another actor"), std::string::npos)
      << refusal;
  // A status update for the real agent's task, in its name.
  protocol::task_status forged;
  forged.task_id = "t1";
  forged.framework_id = fid;
  forged.agent_id = real_id;
  forged.state = task_state::finished;
  hostile->send(*master, protocol::status_update{forged});
  // An agent of its own may register (no authentication here), but speaks
  // only for its own tasks.
  fake.id.clear();
  std::string own_id;
  hostile->request(*master, 10s, protocol::register_agent{fake})
      .receive([&](protocol::agent_registered& r) { own_id = r.agent_id; },
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  ASSERT_FALSE(own_id.empty());
  forged.agent_id = own_id;
  hostile->send(*master, protocol::status_update{forged});
  ASSERT_TRUE(c.wait_state([&](const rapidjson::Document& s) {
    return s["counters"]["foreign_messages"].GetUint64() >= before + 3;
  })) << c.master().stderr_text();
  EXPECT_TRUE(c.master().wait_for_output("(the task runs on agent " + real_id + ")", 5s));
  auto s = c.state();
  EXPECT_EQ(task_state_in(s, "t1"), "TASK_RUNNING");
  std::string hostname;
  for (const auto& a : s["agents"].GetArray())
    if (real_id == a["id"].GetString()) hostname = a["hostname"].GetString();
  EXPECT_EQ(hostname, "agent-0") << "the real agent's record was replaced";
  // The framework never heard the forged end, and the agent still serves it.
  victim.pump(100ms);
  for (const auto& st : victim.statuses())
    EXPECT_FALSE(st.task_id == "t1" &&
                 (protocol::is_terminal(st.state) || st.state == task_state::killing))
        << "t1 became " << protocol::to_string(st.state);
  victim.send(protocol::kill_task{"", "t1", ""});
  EXPECT_TRUE(victim.wait_status("t1", task_state::killed).has_value());
}

TEST(security, only_its_master_commands_an_agent) {
  cluster c;
  auto& agent = c.add_agent("cpus:4;mem:1GiB;disk:1GiB");
  std::smatch m;
  std::string out;
  ASSERT_TRUE(wait_until(
      [&] {
        out = agent.proc->stdout_text();
        return std::regex_search(out, m, std::regex("actor on 127\\.0\\.0\\.1:([0-9]+)"));
      },
      5s));
  auto agent_port = static_cast<uint16_t>(std::stoi(m[1].str()));
  framework_system fs;
  test_framework victim{fs.sys(), c.master_address(), framework("victim")};
  auto fid = victim.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  pid_t pid = run_sleeper(victim, agent, "t1");
  ASSERT_GT(pid, 0);

  framework_system hostile_system;
  auto& sys = hostile_system.sys();
  auto agent_actor = sys.middleman().remote_actor("127.0.0.1", agent_port);
  ASSERT_TRUE(agent_actor) << sys.render(agent_actor.error());
  caf::scoped_actor hostile{sys};
  protocol::run_task run;
  run.framework = framework("intruder");
  run.framework.id = fid;
  run.task = make_task("pwned", "touch " + agent.work_dir + "/pwned");
  run.role = "dev";
  run.epoch = 1 << 30;  // as new a leader epoch as any
  hostile->send(*agent_actor, run);
  hostile->send(*agent_actor, protocol::kill_task{fid, "t1", "", 1 << 30});
  hostile->send(*agent_actor, protocol::shutdown_framework{fid, 1 << 30});
  hostile->send_exit(*agent_actor, caf::exit_reason::kill);
  auto foreign = [&] {
    auto r = http_get("127.0.0.1", agent.http_port, "/state", 1000ms);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    return d.IsObject() && d.HasMember("dropped_commands")
               ? d["dropped_commands"]["foreign"].GetUint64()
               : 0;
  };
  ASSERT_TRUE(wait_until([&] { return foreign() >= 3; }, 10s)) << agent.proc->stderr_text();
  EXPECT_TRUE(agent.proc->running());
  // All three were dropped (counted above); the agent's own master still
  // commands it, and t1 and its process are untouched.
  ASSERT_TRUE(round_trip(victim, "after"));
  EXPECT_TRUE(process_alive(pid));
  EXPECT_NE(::access((agent.work_dir + "/pwned").c_str(), F_OK), 0);
  EXPECT_EQ(task_state_in(c.state(), "t1"), "TASK_RUNNING");
  EXPECT_TRUE(agent.proc->wait_for_output(
      "it sent an exit, down, timeout or stream message, which only CAF itself makes", 5s));

  // A forged down message, in the agent's name, to the master: it would
  // mark the agent disconnected and void its offers. The master's transport
  // closes the connection instead.
  auto master = sys.middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << sys.render(master.error());
  hostile->send(*master, caf::down_msg{agent_actor->address(), caf::exit_reason::kill});
  EXPECT_TRUE(c.master().wait_for_output(
      "it sent an exit, down, timeout or stream message, which only CAF itself makes", 5s));
  ASSERT_TRUE(round_trip(victim, "after-down"));
  auto s = c.state();
  EXPECT_TRUE(s["agents"][0]["active"].GetBool());
  EXPECT_EQ(c.master().stderr_text().find("lost connection to agent"), std::string::npos);
}

}  // namespace
}  // namespace agora::test
