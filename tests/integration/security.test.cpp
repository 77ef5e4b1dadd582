// Hostile peers against real daemons: a raw CAF peer (an actor system in the
// test process, connected over TCP like any remote framework or agent) that
// knows every id `/state` shows and tries to act with them.

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <sys/stat.h>

#include <map>
#include <regex>

#include <gtest/gtest.h>

#include "agora/auth/challenge.hpp"
#include "agora/auth/http_auth.hpp"
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
  EXPECT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) { return task_state_in(s, "t1") == "TASK_RUNNING"; }));
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

// -- authentication -----------------------------------------------------------

/// A credentials file and secret files for principals `ops` and `batch`
/// (frameworks) and `agents`, all private to their owner.
struct credentials {
  temp_dir dir;
  std::string file = dir.write("credentials.json", R"({"credentials": [
      {"principal": "ops", "secret": "ops-SECRET-1"},
      {"principal": "batch", "secret": "batch-SECRET-2"},
      {"principal": "agents", "secret": "agents-SECRET-3"}]})");
  std::string secret(const std::string& principal, const std::string& text) const {
    auto path = dir.write(principal + ".secret", text + "\n");
    ::chmod(path.c_str(), 0600);
    return path;
  }
  credentials() { ::chmod(file.c_str(), 0600); }
};

TEST(security, frameworks_authenticate_with_a_principal_and_secret) {
  credentials creds;
  cluster c{{"--credentials=" + creds.file, "--authenticate-frameworks"}};
  c.add_agent();
  auto execute = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"execute", "--master=" + c.master_address(), "--command=true",
                                     "--timeout=30s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return agora_cli(args);
  };
  // Without authentication: refused, with a message saying what to do.
  auto plain = execute({});
  EXPECT_NE(plain.status, 0);
  EXPECT_NE(plain.err.find("this master requires framework authentication"), std::string::npos)
      << plain.err;
  // A wrong secret: refused and counted.
  auto wrong = execute({"--principal=ops", "--secret-file=" + creds.secret("ops", "guess")});
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.err.find("authentication of principal 'ops' as framework failed"),
            std::string::npos)
      << wrong.err;
  // The right one: the task runs, and the framework carries its principal.
  auto right = execute({"--principal=ops", "--secret-file=" + creds.secret("ops", "ops-SECRET-1")});
  EXPECT_EQ(right.status, 0) << right.err << right.out;
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    const auto& a = s["counters"]["authentications"];
    return a["success"].GetUint64() >= 1 && a["failure"].GetUint64() >= 1 &&
           a["missing"].GetUint64() >= 1;
  })) << c.master().stderr_text();
  // The framework ended with the command; it is listed with its principal
  // once the master has published its removal.
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& f : s["completed_frameworks"].GetArray())
      if (std::string(f["principal"].GetString()) == "ops") return true;
    return false;
  }));
  auto metrics = http_get("127.0.0.1", c.http_port(), "/metrics", 2000ms).body;
  EXPECT_NE(metrics.find("agora_master_authentications_total{outcome=\"failure\"} "),
            std::string::npos);
  // No secret anywhere: not in the master's log, not in /state.
  auto everything = c.master().stderr_text() + c.master().stdout_text() +
                    http_get("127.0.0.1", c.http_port(), "/state", 2000ms).body;
  for (const char* secret : {"ops-SECRET-1", "batch-SECRET-2", "agents-SECRET-3", "guess"})
    EXPECT_EQ(everything.find(secret), std::string::npos) << secret;
}

TEST(security, failed_attempts_make_the_node_wait) {
  credentials creds;
  cluster c{{"--credentials=" + creds.file}};
  framework_system hostile_system;
  auto& sys = hostile_system.sys();
  auto master = sys.middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << sys.render(master.error());
  caf::scoped_actor self{sys};
  // Unknown principal and wrong secret fail alike.
  auto first = authenticate(self, sys, *master, "nobody", "x");
  EXPECT_NE(first.find("authentication of principal 'nobody' as framework failed"),
            std::string::npos)
      << first;
  // The node now waits (250 ms after one failure): the next attempt, even
  // with the right secret, is refused at once.
  auto second = authenticate(self, sys, *master, "ops", "ops-SECRET-1");
  EXPECT_NE(second.find("too many failed attempts from this node"), std::string::npos) << second;
  // After the wait, the right secret works.
  std::string later = "not tried";
  EXPECT_TRUE(wait_until(
      [&] { return (later = authenticate(self, sys, *master, "ops", "ops-SECRET-1")).empty(); },
      5s))
      << later;
  auto s = c.state();
  EXPECT_GE(s["counters"]["authentications"]["throttled"].GetUint64(), 1u);
  // A proof for a nonce the master did not give is refused.
  std::string error;
  self->request(*master, 10s, protocol::auth_proof{"ops", "framework", std::string(64, '0'), "x"})
      .receive([&](protocol::auth_done&) { error = "accepted"; },
               [&](caf::error& e) { error = sys.render(e); });
  EXPECT_NE(error.find("no challenge outstanding"), std::string::npos) << error;
}

TEST(security, a_framework_of_one_principal_cannot_be_taken_over_by_another) {
  credentials creds;
  cluster c{{"--credentials=" + creds.file, "--authenticate-frameworks"}};
  auto& agent = c.add_agent("cpus:4;mem:1GiB;disk:1GiB");
  framework_system fs;
  auto info = framework("victim");
  info.principal = "ops";
  info.failover_timeout_ms = 60000;
  test_framework victim{fs.sys(), c.master_address(), info, true, "ops-SECRET-1"};
  auto fid = victim.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  ASSERT_GT(run_sleeper(victim, agent, "t1"), 0);

  framework_system hostile_system;
  auto& sys = hostile_system.sys();
  auto master = sys.middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << sys.render(master.error());
  caf::scoped_actor hostile{sys};
  auto subscribe_as_victim = [&] {
    auto taken = framework("taken");
    taken.id = fid;
    std::string outcome;
    hostile->request(*master, 10s, protocol::subscribe{taken})
        .receive([&](protocol::subscribed&) { outcome = "subscribed"; },
                 [&](caf::error& e) { outcome = sys.render(e); });
    return outcome;
  };
  // Without authentication: refused as unauthenticated.
  auto unauthenticated = subscribe_as_victim();
  EXPECT_NE(unauthenticated.find("requires framework authentication"), std::string::npos)
      << unauthenticated;
  // Authenticated as another principal: refused, the framework is not its.
  ASSERT_EQ(authenticate(hostile, sys, *master, "batch", "batch-SECRET-2"), "");
  auto other = subscribe_as_victim();
  EXPECT_NE(other.find("belongs to principal 'ops'"), std::string::npos) << other;
  // Claiming the principal in the framework info changes nothing.
  auto claimed = framework("claimed");
  claimed.principal = "ops";
  std::string outcome;
  hostile->request(*master, 10s, protocol::subscribe{claimed})
      .receive([&](protocol::subscribed&) { outcome = "subscribed"; },
               [&](caf::error& e) { outcome = sys.render(e); });
  EXPECT_NE(outcome.find("is not the authenticated principal 'batch'"), std::string::npos)
      << outcome;
  // The victim is untouched: connected, its task running.
  victim.pump(100ms);
  auto s = c.state();
  EXPECT_EQ(task_state_in(s, "t1"), "TASK_RUNNING");
  for (const auto& f : s["frameworks"].GetArray())
    if (fid == f["id"].GetString()) {
      EXPECT_TRUE(f["connected"].GetBool());
      EXPECT_STREQ(f["principal"].GetString(), "ops");
    }
  for (const auto& st : victim.statuses()) EXPECT_NE(st.state, task_state::killed);
}

TEST(security, agents_authenticate_and_keep_their_id_to_their_principal) {
  credentials creds;
  cluster c{{"--credentials=" + creds.file, "--authenticate-agents"}};
  // An agent without credentials is not registered.
  child_process anonymous;
  temp_dir work;
  ASSERT_TRUE(anonymous.start(binary_path("agora-agent"),
                              {"--master=" + c.master_address(), "--resources=cpus:1;mem:256MiB",
                               "--port=0", "--actor-port=0", "--work-dir=" + work.file("anonymous"),
                               "--cgroups-root=" + test_cgroups_root(), "--hostname=anonymous"}));
  EXPECT_TRUE(anonymous.wait_for_output("this master requires agent authentication", 10s))
      << anonymous.stderr_text();
  EXPECT_EQ(c.state()["agents"].Size(), 0u);
  anonymous.signal(SIGTERM);
  anonymous.wait_exit(10s);
  // With them it is.
  auto& agent = c.add_agent(
      "cpus:2;mem:1GiB;disk:1GiB", "rack:r1",
      {"--principal=agents", "--secret-file=" + creds.secret("agents", "agents-SECRET-3")});
  auto id = std::string(c.state()["agents"][0]["id"].GetString());
  (void)agent;
  // Once it is gone, another principal cannot take its id.
  ASSERT_TRUE(c.stop_agent(0, SIGKILL));
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) { return !s["agents"][0]["active"].GetBool(); }));
  framework_system hostile_system;
  auto& sys = hostile_system.sys();
  auto master = sys.middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << sys.render(master.error());
  caf::scoped_actor hostile{sys};
  ASSERT_EQ(authenticate(hostile, sys, *master, "batch", "batch-SECRET-2", "agent"), "");
  protocol::agent_info fake;
  fake.id = id;
  fake.hostname = "impostor";
  fake.total = protocol::resources::make(64, int64_t{1} << 40);
  std::string outcome;
  hostile->request(*master, 10s, protocol::reregister_agent{fake, {}, {}})
      .receive([&](protocol::agent_registered&) { outcome = "registered"; },
               [&](caf::error& e) { outcome = sys.render(e); });
  EXPECT_NE(outcome.find("belongs to principal 'agents'"), std::string::npos) << outcome;
  // The agent itself comes back.
  ASSERT_TRUE(c.start_agent(0));
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["agents"][0]["active"].GetBool();
  })) << c.agents()[0].proc->stderr_text();
  // Its secret is in no log of either side.
  auto logs = c.agents()[0].proc->stderr_text() + c.agents()[0].proc->stdout_text() +
              c.master().stderr_text() + c.master().stdout_text() + anonymous.stderr_text();
  EXPECT_EQ(logs.find("agents-SECRET-3"), std::string::npos);
}

// -- authorization ------------------------------------------------------------

TEST(security, acls_decide_who_registers_frameworks_in_which_role) {
  credentials creds;
  auto acls = creds.dir.write("acls.json", R"({"permissive": false,
    "register_frameworks": [
      {"principals": {"values": ["ops"]}, "roles": {"values": ["prod", "dev"]}},
      {"principals": {"values": ["batch"]}, "roles": {"values": ["dev"]}}],
    "read_endpoints": [{"principals": {"type": "ANY"}, "endpoints": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}]})");
  cluster c{{"--credentials=" + creds.file, "--authenticate-frameworks", "--acls=" + acls}};
  c.add_agent();
  auto execute = [&](const std::string& principal, const std::string& secret,
                     const std::string& role) {
    return agora_cli({"execute", "--master=" + c.master_address(), "--command=true",
                      "--timeout=30s", "--role=" + role, "--principal=" + principal,
                      "--secret-file=" + creds.secret(principal, secret)});
  };
  auto refused = execute("batch", "batch-SECRET-2", "prod");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("principal 'batch' may not register_frameworks 'prod' (--acls)"),
            std::string::npos)
      << refused.err;
  EXPECT_TRUE(c.master().wait_for_output("may not register_frameworks 'prod'", 5s));
  auto batch_dev = execute("batch", "batch-SECRET-2", "dev");
  EXPECT_EQ(batch_dev.status, 0) << batch_dev.err;
  auto ops_prod = execute("ops", "ops-SECRET-1", "prod");
  EXPECT_EQ(ops_prod.status, 0) << ops_prod.err;
}

/// `Authorization` for principal `p` with `secret`, as Basic credentials.
std::map<std::string, std::string> as(const std::string& p, const std::string& secret) {
  return {{"Authorization", auth::basic_authorization(p, secret)}};
}

http_result call(uint16_t port, const std::string& method, const std::string& path,
                 const std::map<std::string, std::string>& headers = {}) {
  return observability::http_call(method, "127.0.0.1", port, path, "", 5000ms, "application/json",
                                  headers);
}

TEST(security, http_authentication_and_acls_guard_the_endpoints_and_sandboxes) {
  credentials creds;
  auto acls = creds.dir.write("acls.json", R"({"permissive": false,
    "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["root"]}}],
    "read_endpoints": [
      {"principals": {"values": ["ops"]}, "endpoints": {"type": "ANY"}},
      {"principals": {"values": ["batch"]}, "endpoints": {"values": ["/metrics"]}}],
    "teardown_frameworks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
    "kill_tasks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
    "update_policies": [{"principals": {"values": ["ops"]}}],
    "access_sandboxes": [
      {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
      {"principals": {"values": ["batch"]}, "framework_principals": {"values": ["batch"]}}]})");
  std::vector<std::string> guarded = {"--credentials=" + creds.file, "--authenticate-http",
                                      "--acls=" + acls};
  cluster c{guarded};
  c.set_http_authorization(auth::basic_authorization("ops", "ops-SECRET-1"));
  auto& agent = c.add_agent("cpus:4;mem:1GiB;disk:1GiB", "rack:r1", guarded);
  auto port = c.http_port();
  auto ops = as("ops", "ops-SECRET-1");
  auto batch = as("batch", "batch-SECRET-2");

  // Liveness stays open; everything else asks for credentials.
  EXPECT_EQ(call(port, "GET", "/health").status, 200);
  auto anonymous = call(port, "GET", "/state");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers["www-authenticate"], "Basic realm=\"agora\"");
  EXPECT_EQ(call(port, "GET", "/").status, 401);
  EXPECT_EQ(call(port, "GET", "/state", as("ops", "wrong")).status, 401);
  EXPECT_EQ(call(port, "GET", "/state", ops).status, 200);
  EXPECT_EQ(call(port, "GET", "/state", {{"Authorization", "Bearer ops-SECRET-1"}}).status, 200);
  // batch may read /metrics only.
  auto state_as_batch = call(port, "GET", "/state", batch);
  EXPECT_EQ(state_as_batch.status, 403);
  EXPECT_NE(state_as_batch.body.find("principal 'batch' may not read_endpoints '/state'"),
            std::string::npos)
      << state_as_batch.body;
  EXPECT_EQ(call(port, "GET", "/metrics", batch).status, 200);
  auto rollback = call(port, "POST", "/policy/rollback", batch);
  EXPECT_EQ(rollback.status, 403);
  EXPECT_NE(rollback.body.find("may not update_policies"), std::string::npos) << rollback.body;

  // A framework of principal ops runs a task that writes to its sandbox.
  framework_system fs;
  auto info = framework("owned");
  info.principal = "ops";
  test_framework fw{fs.sys(), c.master_address(), info};
  auto fid = fw.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  ASSERT_GT(run_sleeper(fw, agent, "t1"), 0);
  // The master's HTTP threads know whose sandbox it is from its published
  // state (a framework not yet in it is nobody's: only ANY may read).
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) { return task_state_in(s, "t1") == "TASK_RUNNING"; }));
  auto agent_id = std::string(c.state()["agents"][0]["id"].GetString());
  auto relay = "/agents/" + agent_id + "/files/read?path=frameworks/" + fid + "/tasks/t1/pid";
  ASSERT_TRUE(wait_until([&] { return call(port, "GET", relay, ops).status == 200; }, 10s))
      << call(port, "GET", relay, ops).body;
  auto relayed = call(port, "GET", relay, batch);
  EXPECT_EQ(relayed.status, 403);
  EXPECT_NE(relayed.body.find("principal 'batch' may not access_sandboxes 'ops'"),
            std::string::npos)
      << relayed.body;
  // The agent decides alike on its own port, links followed: a path that
  // climbs out of another sandbox is still ops' sandbox.
  auto direct = "/files/read?path=frameworks/" + fid + "/tasks/t1/pid";
  EXPECT_EQ(call(agent.http_port, "GET", direct, ops).status, 200);
  EXPECT_EQ(call(agent.http_port, "GET", direct, batch).status, 403);
  EXPECT_EQ(call(agent.http_port, "GET", direct).status, 401);
  auto climbing = "/files/read?path=frameworks/other/tasks/x/../../../" + fid + "/tasks/t1/pid";
  EXPECT_EQ(call(agent.http_port, "GET", climbing, batch).status, 403);
  EXPECT_EQ(call(agent.http_port, "GET", "/health").status, 200);

  // Operator actions: batch may not, ops may.
  auto kill_path = "/frameworks/" + fid + "/tasks/t1/kill";
  auto kill_as_batch = call(port, "POST", kill_path, batch);
  EXPECT_EQ(kill_as_batch.status, 403);
  EXPECT_NE(kill_as_batch.body.find("principal 'batch' may not kill_tasks 'ops'"),
            std::string::npos)
      << kill_as_batch.body;
  auto teardown_as_batch = call(port, "POST", "/frameworks/" + fid + "/teardown", batch);
  EXPECT_EQ(teardown_as_batch.status, 403);
  EXPECT_NE(teardown_as_batch.body.find("may not teardown_frameworks 'ops'"), std::string::npos);
  EXPECT_EQ(task_state_in(c.state(), "t1"), "TASK_RUNNING");
  EXPECT_EQ(call(port, "POST", kill_path, ops).status, 202);
  EXPECT_TRUE(fw.wait_status("t1", task_state::killed).has_value());
  EXPECT_TRUE(c.master().wait_for_output("operator 'ops' via HTTP", 5s));
  EXPECT_EQ(call(port, "POST", "/frameworks/" + fid + "/teardown", ops).status, 200);
}

TEST(security, tasks_run_as_their_frameworks_user) {
  if (::geteuid() != 0 || ::getpwnam("nobody") == nullptr)
    GTEST_SKIP() << "needs root and the user 'nobody'";
  credentials creds;
  auto acls = creds.dir.write("acls.json", R"({"run_tasks": [
      {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]})");
  cluster c{{"--acls=" + acls}};
  // The task's user must be able to reach its sandbox through the work
  // directory's parents (mkdtemp made this one private).
  ::chmod(c.root().c_str(), 0711);
  auto& agent = c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1", {"--switch-user"});
  auto execute = [&](const std::string& user, const std::string& task) {
    std::vector<std::string> args = {"execute", "--master=" + c.master_address(),
                                     "--command=id -un; id -u", "--task-name=" + task,
                                     "--timeout=30s"};
    if (!user.empty()) args.push_back("--user=" + user);
    return agora_cli(args);
  };
  auto as_nobody = execute("nobody", "as-nobody");
  EXPECT_EQ(as_nobody.status, 0) << as_nobody.err << as_nobody.out;
  std::smatch launched;
  ASSERT_TRUE(std::regex_search(as_nobody.out, launched, std::regex("launching task (\\S+) on")))
      << as_nobody.out;
  auto sandbox = find_sandbox(agent.work_dir, launched[1].str());
  ASSERT_FALSE(sandbox.empty());
  EXPECT_EQ(read_file(sandbox + "/stdout"),
            "nobody\n" + std::to_string(::getpwnam("nobody")->pw_uid) + "\n");
  // Root (the user running `agora execute` here) needs a rule of its own.
  auto as_root = execute("", "as-root");
  EXPECT_NE(as_root.status, 0);
  EXPECT_NE(as_root.err.find("may not run_tasks 'root' (--acls)"), std::string::npos)
      << as_root.err;
  // A user the agent does not have: the launch fails, saying so.
  auto unknown = execute("no-such-user-agora", "as-unknown");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE((unknown.out + unknown.err).find("no user 'no-such-user-agora' on this agent"),
            std::string::npos)
      << unknown.out << unknown.err;
}

TEST(security, bad_authentication_flags_name_the_flag_and_exit_2) {
  credentials creds;
  auto loose =
      creds.dir.write("loose.json", R"({"credentials": [{"principal": "p", "secret": "s"}]})");
  ::chmod(loose.c_str(), 0644);
  struct run_case {
    std::string binary;
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<run_case> cases = {
      {"agora-master",
       {"--port=0", "--actor-port=0", "--authenticate-frameworks"},
       "--authenticate-frameworks: needs --credentials"},
      {"agora-master",
       {"--port=0", "--actor-port=0", "--authenticate-agents"},
       "--authenticate-agents: needs --credentials"},
      {"agora-master",
       {"--port=0", "--actor-port=0", "--credentials=" + loose},
       "--credentials: " + loose + ": other users may read or write it (mode 0644)"},
      {"agora-agent",
       {"--master=127.0.0.1:1", "--secret-file=" + creds.file},
       "--secret-file: needs --principal"},
      {"agora-agent",
       {"--master=127.0.0.1:1", "--principal=p", "--secret-file=" + loose},
       "--secret-file: " + loose + ": other users may read or write it"},
      {"agora",
       {"execute", "--command=true", "--secret-file=" + creds.file},
       "--secret-file: needs --principal"},
      {"agora-master",
       {"--port=0", "--actor-port=0", "--authenticate-http"},
       "--authenticate-http: needs --credentials"},
      {"agora-master",
       {"--port=0", "--actor-port=0", "--acls=" + creds.file},
       "--acls: " + creds.file + ": unknown action \"credentials\""},
      {"agora-agent",
       {"--master=127.0.0.1:1", "--authenticate-http"},
       "--authenticate-http: needs --credentials"},
      {"agora",
       {"policy", "status", "--secret-file=" + creds.file},
       "--secret-file: needs --principal"},
  };
  for (const auto& rc : cases) {
    child_process p;
    ASSERT_TRUE(p.start(binary_path(rc.binary), rc.args));
    auto code = p.wait_exit(10s);
    ASSERT_TRUE(code.has_value()) << rc.binary;
    EXPECT_EQ(*code, 2) << rc.binary << " " << p.stderr_text();
    EXPECT_NE(p.stderr_text().find(rc.message), std::string::npos)
        << rc.binary << ": " << p.stderr_text();
  }
}

}  // namespace
}  // namespace agora::test
