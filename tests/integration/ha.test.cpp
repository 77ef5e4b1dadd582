// Highly available masters: election through a real 3-server ZooKeeper
// ensemble, failover with running tasks, standby redirects, fencing of a
// paused leader, and the registry's re-registration deadline.

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "agora/zk/session.hpp"
#include "ha_fixture.hpp"

namespace agora::test {
namespace {

using protocol::task_state;

#define AGORA_REQUIRE_ZOOKEEPER()                                            \
  if (!zookeeper_server::available())                                        \
  GTEST_SKIP() << "ZooKeeper is not installed (Debian package `zookeeper`; " \
                  "scripts/install-deps.sh installs it)"

protocol::framework_info framework(const std::string& name, int64_t failover_ms) {
  protocol::framework_info f;
  f.name = name;
  f.roles = {"*"};
  f.failover_timeout_ms = failover_ms;
  return f;
}

/// Returns the state of `task_id` in a master's state ("" if not listed).
std::string task_state_of(const rapidjson::Document& s, const std::string& task_id) {
  for (const auto& f : s["frameworks"].GetArray())
    for (const auto& t : f["tasks"].GetArray())
      if (t["id"].GetString() == task_id) return t["state"].GetString();
  return {};
}

TEST(ha, one_master_leads_the_standby_redirects_and_both_say_so) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  EXPECT_EQ(c.role(1), "standby");
  // The standby sends operators to the leader (once it has seen it).
  http_result r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = http_get("127.0.0.1", c.masters()[1].http_port, "/state", 2000ms);
        return r.status != 503;
      },
      10s));
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.headers["location"],
            "http://127.0.0.1:" + std::to_string(c.masters()[0].http_port) + "/state");
  auto p = http_get("127.0.0.1", c.masters()[1].http_port, "/policy", 2000ms);
  EXPECT_EQ(p.status, 307);
  // The leader's state tells the truth about the election.
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& d) { return d.HasMember("leader") && d["leader"].GetBool(); }));
  auto s = c.state();
  EXPECT_TRUE(s["leader"].GetBool());
  EXPECT_STREQ(s["election"]["state"].GetString(), "leading");
  EXPECT_STREQ(s["election"]["zk"].GetString(), c.url().c_str());
  EXPECT_GE(s["election"]["epoch"].GetInt64(), 0);
  EXPECT_EQ(std::string(s["leader_info"]["http_address"].GetString()),
            "127.0.0.1:" + std::to_string(c.masters()[0].http_port));
}

TEST(ha, failover_keeps_tasks_running_and_agents_and_frameworks_follow) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  auto& agent = c.add_agent();
  int64_t epoch0 = c.state()["election"]["epoch"].GetInt64();
  framework_system fs;
  test_framework fw{fs.sys(), c.url(), framework("ha", 60000)};
  auto id = fw.wait_subscribed();
  ASSERT_FALSE(id.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t1", "sleep 1000")}, {0}});
  fw.pending_offers().clear();  // used, and void with their master
  ASSERT_TRUE(fw.wait_status("t1", task_state::running, 20s));
  auto sandbox = find_sandbox(agent.work_dir, "t1");
  ASSERT_FALSE(sandbox.empty());

  // kill -9 the leader: the standby takes over, at a higher epoch.
  c.masters()[0].proc->kill_group(SIGKILL);
  c.masters()[0].proc->wait_exit(5s);
  ASSERT_EQ(c.wait_leader(30s), 1);
  // The agent re-registers with its task, the framework re-subscribes under
  // its id, and the task runs on, once.
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        if (active_agents(s) != 1) return false;
        for (const auto& f : s["frameworks"].GetArray())
          if (f["id"].GetString() == id && f["active"].GetBool())
            return task_state_of(s, "t1") == "TASK_RUNNING";
        return false;
      },
      30s))
      << c.masters()[1].proc->stderr_text();
  EXPECT_GT(c.state()["election"]["epoch"].GetInt64(), epoch0);
  // Nothing terminal reached the framework for t1.
  fw.pump(200ms);
  for (const auto& st : fw.statuses())
    if (st.task_id == "t1") {
      EXPECT_FALSE(protocol::is_terminal(st.state)) << st.message;
    }
  // Offers flow from the new leader: a second task runs. (Offers of the
  // old leader, named after it, are void.)
  std::string leader_id = c.state()["id"].GetString();
  auto& pending = fw.pending_offers();
  pending.erase(
      std::remove_if(pending.begin(), pending.end(),
                     [&](const protocol::offer& o) { return o.id.rfind(leader_id + "-", 0) != 0; }),
      pending.end());
  auto again = fw.wait_offers(20s);
  ASSERT_FALSE(again.empty()) << c.masters()[1].proc->stderr_text() << "\n"
                              << http_get("127.0.0.1", c.masters()[1].http_port, "/state").body;
  fw.send(protocol::accept{"", {again[0].id}, {make_task("t2", "sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("t2", task_state::running, 20s));
  // t1 was launched exactly once: one sandbox.
  EXPECT_EQ(find_sandbox(agent.work_dir, "t1"), sandbox);
}

TEST(ha, an_agents_principal_binds_its_id_for_the_next_leader) {
  AGORA_REQUIRE_ZOOKEEPER();
  temp_dir dir;
  auto creds = dir.write("credentials.json", R"({"credentials": [
      {"principal": "agents", "secret": "agents-s3cret"},
      {"principal": "intruder", "secret": "intruder-s3cret"}]})");
  auto secret = dir.write("agents.secret", "agents-s3cret\n");
  ::chmod(creds.c_str(), 0600);
  ::chmod(secret.c_str(), 0600);
  ha_cluster c{2, {"--credentials=" + creds, "--authenticate-agents"}};
  ASSERT_EQ(c.wait_leader(), 0);
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB", {"--principal=agents", "--secret-file=" + secret});
  std::string id = c.state()["agents"][0]["id"].GetString();
  // The agent and the leader die: only the registry says whose id it is.
  c.agents()[0].proc->kill_group(SIGKILL);
  c.agents()[0].proc->wait_exit(5s);
  c.masters()[0].proc->kill_group(SIGKILL);
  c.masters()[0].proc->wait_exit(5s);
  ASSERT_EQ(c.wait_leader(30s), 1);
  framework_system peer;
  auto& sys = peer.sys();
  auto leader = sys.middleman().remote_actor("127.0.0.1", c.masters()[1].actor_port);
  ASSERT_TRUE(leader) << sys.render(leader.error());
  caf::scoped_actor self{sys};
  protocol::agent_info info;
  info.id = id;
  info.hostname = "agent-0";
  info.total = protocol::resources::make(2, int64_t{1} << 30);
  auto reregister = [&] {
    std::string outcome;
    self->request(*leader, 10s, protocol::reregister_agent{info, {}, {}})
        .receive([&](protocol::agent_registered&) { outcome = "registered"; },
                 [&](caf::error& e) { outcome = sys.render(e); });
    return outcome;
  };
  ASSERT_EQ(authenticate(self, sys, *leader, "intruder", "intruder-s3cret", "agent"), "");
  auto refused = reregister();
  EXPECT_NE(refused.find("belongs to principal 'agents'"), std::string::npos) << refused;
  // The principal that registered it may (a new connection: a new actor).
  framework_system owner;
  auto again = owner.sys().middleman().remote_actor("127.0.0.1", c.masters()[1].actor_port);
  ASSERT_TRUE(again);
  caf::scoped_actor owner_self{owner.sys()};
  ASSERT_EQ(authenticate(owner_self, owner.sys(), *again, "agents", "agents-s3cret", "agent"), "");
  std::string outcome;
  owner_self->request(*again, 10s, protocol::reregister_agent{info, {}, {}})
      .receive([&](protocol::agent_registered& r) { outcome = r.agent_id; },
               [&](caf::error& e) { outcome = owner.sys().render(e); });
  EXPECT_EQ(outcome, id);
}

TEST(ha, a_paused_leader_is_fenced_and_exits) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  c.add_agent();
  // SIGSTOP the leader past its 2 s session timeout: the standby leads.
  auto& old = *c.masters()[0].proc;
  ASSERT_TRUE(old.kill_group(SIGSTOP));
  ASSERT_TRUE(wait_until([&] { return c.role(1) == "leader"; }, 30s));
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) { return active_agents(s) == 1; }));
  // Resumed, the old leader learns its session expired and stops at once.
  ASSERT_TRUE(old.kill_group(SIGCONT));
  auto code = old.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << "the old leader kept running";
  EXPECT_EQ(*code, 1);
  EXPECT_NE(old.stderr_text().find("stopping:"), std::string::npos) << old.stderr_text();
  // The agent stays with the new leader.
  EXPECT_EQ(active_agents(c.state()), 1u);
}

TEST(ha, agents_that_do_not_return_after_a_failover_become_unreachable) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2, {"--agent-reregister-timeout=2s"}};
  ASSERT_EQ(c.wait_leader(), 0);
  auto& agent = c.add_agent();
  // The agent is frozen while the leader dies: the new leader knows it from
  // the registry, waits 2 s for it, then marks it unreachable.
  ASSERT_TRUE(agent.proc->kill_group(SIGSTOP));
  c.masters()[0].proc->kill_group(SIGKILL);
  ASSERT_EQ(c.wait_leader(30s), 1);
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) {
        for (const auto& a : s["agents"].GetArray())
          if (std::string(a["health"].GetString()) == "unreachable") return true;
        return false;
      },
      20s))
      << c.masters()[1].proc->stderr_text();
  // Thawed, it follows the new leader and is active again.
  ASSERT_TRUE(agent.proc->kill_group(SIGCONT));
  EXPECT_TRUE(
      c.wait_state([](const rapidjson::Document& s) { return active_agents(s) == 1; }, 30s));
}

/// Declines every offer at once (refuse 0), so offers keep coming while a
/// master leads and offers; returns how many offers arrived in `window`.
size_t offers_within(test_framework& fw, std::chrono::milliseconds window) {
  auto decline_all = [&] {
    auto& pending = fw.pending_offers();
    std::vector<std::string> ids;
    for (const auto& o : pending) ids.push_back(o.id);
    if (!ids.empty()) fw.send(protocol::decline{"", ids, protocol::filters{0}});
    pending.clear();
  };
  decline_all();
  fw.pump(window);
  size_t got = fw.pending_offers().size();
  decline_all();
  return got;
}

TEST(ha, one_zookeeper_server_down_changes_nothing) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.url(), framework("steady", 60000)};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  ASSERT_FALSE(fw.wait_offers().empty());
  int64_t epoch = c.state()["election"]["epoch"].GetInt64();
  // Stop a follower of the ensemble (stopping its leader makes the others
  // elect a new one, which briefly drops every client).
  int zk_leader = c.zk().leader_index();
  ASSERT_GE(zk_leader, 0);
  size_t follower = zk_leader == 0 ? 1 : 0;
  c.zk().stop(follower);
  ASSERT_TRUE(c.zk().quorum_serving()) << c.zk().describe();
  // Offers keep flowing from the same leader, at the same epoch, for longer
  // than the session timeout.
  EXPECT_GT(offers_within(fw, 1500ms), 0u);
  EXPECT_GT(offers_within(fw, 1500ms), 0u);
  EXPECT_EQ(c.role(0), "leader");
  EXPECT_EQ(c.role(1), "standby");
  EXPECT_EQ(c.state()["election"]["epoch"].GetInt64(), epoch);
  EXPECT_EQ(active_agents(c.state()), 1u);
}

TEST(ha, losing_the_zookeeper_quorum_stops_the_leader_and_the_cluster_recovers) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  auto& agent = c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.url(), framework("steady", 60000)};
  auto id = fw.wait_subscribed();
  ASSERT_FALSE(id.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t1", "sleep 1000")}, {0}});
  fw.pending_offers().clear();
  ASSERT_TRUE(fw.wait_status("t1", task_state::running, 20s));
  // Two of three servers go: no quorum. The leader cannot know whether it
  // still leads, so it stops offering and, once its session is lost, stops.
  int zk_leader = c.zk().leader_index();
  ASSERT_GE(zk_leader, 0);
  std::vector<size_t> down;
  for (size_t i = 0; i < 3 && down.size() < 2; ++i)
    if (static_cast<int>(i) != zk_leader) down.push_back(i);
  for (auto i : down) c.zk().stop(i);
  auto code = c.masters()[0].proc->wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << "the leader kept running without a quorum";
  EXPECT_EQ(*code, 1);
  EXPECT_EQ(offers_within(fw, 500ms), 0u);
  // The servers return: the standby (which rejoined with a new session)
  // leads; the agent, its task and the framework follow it.
  std::string error;
  ASSERT_TRUE(c.zk().start(down, std::chrono::seconds(90), &error)) << error;
  ASSERT_EQ(c.wait_leader(30s), 1) << c.masters()[1].proc->stderr_text();
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        return active_agents(s) == 1 && task_state_of(s, "t1") == "TASK_RUNNING";
      },
      30s))
      << c.masters()[1].proc->stderr_text();
  EXPECT_TRUE(wait_until([&] { return offers_within(fw, 200ms) > 0; }, 20s));
  EXPECT_EQ(find_sandbox(agent.work_dir, "t1").empty(), false);
}

/// Returns a master's `GET /policy` (an empty object when it does not
/// answer 200).
rapidjson::Document policy_of(const master_process& m) {
  rapidjson::Document d;
  auto r = http_get("127.0.0.1", m.http_port, "/policy", 2000ms);
  if (r.status != 200 || d.Parse(r.body.c_str()).HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

TEST(ha, a_policy_applied_at_run_time_survives_a_failover) {
  AGORA_REQUIRE_ZOOKEEPER();
  ha_cluster c{2};
  ASSERT_EQ(c.wait_leader(), 0);
  // An operator applies a policy through ZooKeeper (the CLI finds the leader).
  auto applied =
      agora_cli({"policy", "apply", std::string(AGORA_POLICY_EXAMPLES_DIR) + "/quotas.policy",
                 "--master=" + c.url()});
  ASSERT_EQ(applied.status, 0) << applied.err;
  auto before = policy_of(c.masters()[0]);
  ASSERT_TRUE(before.HasMember("active")) << c.masters()[0].proc->stderr_text();
  std::string hash = before["active"]["hash"].GetString();
  int64_t revision = before["active"]["revision"].GetInt64();
  EXPECT_EQ(revision, 2);
  // The registry has it (written by compare-and-set, asynchronously).
  zk::session_options so;
  so.connect_string = c.zk().connect_string();
  so.session_timeout = 10s;
  auto session = zk::session::open(so);
  ASSERT_TRUE(session) << session.err().message;
  ASSERT_TRUE(wait_until(
      [&] {
        auto doc = session.value()->get("/agora/test/registry");
        return doc && doc.value().data.find("\"name\":\"quotas.policy\"") != std::string::npos;
      },
      20s));
  // The leader dies; the new one runs the applied policy, not its own
  // startup default, under the same revision, and can roll back to its
  // default.
  c.masters()[0].proc->kill_group(SIGKILL);
  ASSERT_EQ(c.wait_leader(30s), 1) << c.masters()[1].proc->stderr_text();
  // The new leader may answer `/policy` before it installed the registry's
  // policy: wait (bounded) for a complete answer.
  rapidjson::Document after;
  ASSERT_TRUE(wait_until(
      [&] {
        after = policy_of(c.masters()[1]);
        return after.HasMember("active") && after["active"].IsObject() &&
               after["active"].HasMember("hash") && after["active"]["hash"].IsString() &&
               after["active"].HasMember("source_name") &&
               after["active"]["source_name"].IsString();
      },
      10s))
      << c.masters()[1].proc->stderr_text();
  EXPECT_EQ(std::string(after["active"]["hash"].GetString()), hash);
  EXPECT_EQ(after["active"]["revision"].GetInt64(), revision);
  EXPECT_STREQ(after["active"]["source_name"].GetString(), "quotas.policy");
  EXPECT_NE(c.masters()[1].proc->stderr_text().find(
                "running the registry's policy quotas.policy (revision 2)"),
            std::string::npos)
      << c.masters()[1].proc->stderr_text();
  auto back = agora_cli({"policy", "rollback", "--master=" + c.url()});
  ASSERT_EQ(back.status, 0) << back.err;
  auto rolled = policy_of(c.masters()[1]);
  EXPECT_NE(std::string(rolled["active"]["hash"].GetString()), hash);
  EXPECT_EQ(rolled["active"]["revision"].GetInt64(), revision + 1);
}

/// Returns `member` of a master's /health `quorum` object (-1 when absent),
/// or whether it is `acting`.
int64_t quorum_field(const rapidjson::Document& h, const char* member) {
  if (!h.HasMember("quorum") || !h["quorum"].HasMember(member)) return -1;
  return h["quorum"][member].GetInt64();
}
bool acting(const rapidjson::Document& h) { return h.HasMember("acting") && h["acting"].GetBool(); }

TEST(ha, a_leader_needs_a_quorum_of_masters_to_lead_and_to_act) {
  AGORA_REQUIRE_ZOOKEEPER();
  // Two masters must be in the group (--quorum-size=2). Alone, the first is
  // elected in ZooKeeper but does not lead.
  ha_cluster c{0, {"--quorum-size=2"}};
  c.add_master();
  ASSERT_TRUE(wait_until([&] { return quorum_field(c.health(0), "masters") == 1; }, 20s));
  EXPECT_EQ(quorum_field(c.health(0), "size"), 2);
  EXPECT_EQ(c.role(0), "standby");
  EXPECT_FALSE(acting(c.health(0)));
  EXPECT_NE(c.masters()[0].proc->stderr_text().find("waiting for a quorum of 2 masters"),
            std::string::npos)
      << c.masters()[0].proc->stderr_text();
  // A second master makes the quorum: the first leads.
  c.add_master();
  ASSERT_EQ(c.wait_leader(30s), 0) << c.masters()[0].proc->stderr_text();
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.url(), framework("quorum", 60000)};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  ASSERT_FALSE(fw.wait_offers().empty());
  // The standby dies: below the quorum, the leader stops acting (no offers)
  // but stays leader...
  ASSERT_TRUE(c.masters()[1].proc->kill_group(SIGKILL));
  ASSERT_TRUE(c.masters()[1].proc->wait_exit(10s));
  ASSERT_TRUE(wait_until([&] { return !acting(c.health(0)); }, 30s))
      << c.masters()[0].proc->stderr_text();
  EXPECT_EQ(quorum_field(c.health(0), "masters"), 1);
  EXPECT_EQ(c.role(0), "leader");
  EXPECT_EQ(offers_within(fw, 1000ms), 0u);
  // ... and acts again when a master is back.
  c.restart_master(1);
  ASSERT_TRUE(wait_until([&] { return acting(c.health(0)); }, 30s))
      << c.masters()[0].proc->stderr_text();
  EXPECT_TRUE(wait_until([&] { return offers_within(fw, 300ms) > 0; }, 20s));
  EXPECT_EQ(c.role(0), "leader");
}

TEST(ha, a_bad_quorum_size_names_the_flag) {
  for (auto flags : {std::vector<std::string>{"--quorum-size=2", "--port=0", "--actor-port=0"},
                     std::vector<std::string>{"--zk=zk://127.0.0.1:1/x", "--quorum-size=0",
                                              "--port=0", "--actor-port=0"}}) {
    child_process m;
    ASSERT_TRUE(m.start(binary_path("agora-master"), flags));
    auto code = m.wait_exit(10s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
    EXPECT_NE(m.stderr_text().find("--quorum-size"), std::string::npos) << m.stderr_text();
  }
}

TEST(ha, a_bad_zk_url_names_the_flag) {
  child_process m;
  ASSERT_TRUE(m.start(binary_path("agora-master"), {"--zk=zk://127.0.0.1:2181", "--port=0"}));
  auto code = m.wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(m.stderr_text().find("--zk"), std::string::npos) << m.stderr_text();
  child_process a;
  ASSERT_TRUE(a.start(binary_path("agora-agent"), {"--master=zk://:2181/x", "--port=0"}));
  code = a.wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(a.stderr_text().find("--master"), std::string::npos) << a.stderr_text();
}

}  // namespace
}  // namespace agora::test
