// End-to-end tests: real agora-master and agora-agent processes, real task
// processes, frameworks as real processes (`agora execute`) or as drivers in
// the test process talking to the master over TCP.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

/// Returns a framework's subscription info (`failover_ms` 0: no failover).
protocol::framework_info framework(const std::string& name, std::vector<std::string> roles,
                                   int64_t failover_ms = 0,
                                   std::vector<std::string> capabilities = {}) {
  protocol::framework_info info;
  info.name = name;
  info.roles = std::move(roles);
  info.failover_timeout_ms = failover_ms;
  info.capabilities = std::move(capabilities);
  return info;
}

using protocol::task_state;

int count_frameworks_tasks(const rapidjson::Document& s, const char* state) {
  int n = 0;
  for (const auto& f : s["frameworks"].GetArray())
    for (const auto& t : f["tasks"].GetArray()) n += std::string(t["state"].GetString()) == state;
  return n;
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  wait_until([&] { return (pid = static_cast<pid_t>(std::atoi(read_file(path).c_str()))) > 0; },
             5s);
  return pid;
}

TEST(cluster, execute_runs_a_task_and_keeps_its_output_in_the_sandbox) {
  cluster c;
  auto& agent = c.add_agent();
  child_process exec;
  ASSERT_TRUE(exec.start(binary_path("agora"),
                         {"execute", "--master=" + c.master_address(),
                          "--command=echo hello-from-task", "--task-name=hello", "--timeout=30s"}));
  auto code = exec.wait_exit(30s);
  ASSERT_TRUE(code.has_value()) << exec.stdout_text() << exec.stderr_text();
  EXPECT_EQ(*code, 0) << exec.stdout_text() << exec.stderr_text();
  auto out = exec.stdout_text();
  EXPECT_NE(out.find("TASK_STARTING"), std::string::npos) << out;
  EXPECT_NE(out.find("TASK_RUNNING"), std::string::npos) << out;
  EXPECT_NE(out.find("TASK_FINISHED"), std::string::npos) << out;
  // The task's stdout is in its sandbox on the agent.
  auto launch = out.find("launching task ");
  ASSERT_NE(launch, std::string::npos) << out;
  auto task_id = out.substr(launch + 15, out.find(' ', launch + 15) - launch - 15);
  std::string sandbox = find_sandbox(agent.work_dir, task_id);
  ASSERT_FALSE(sandbox.empty()) << task_id;
  EXPECT_NE(read_file(sandbox + "/stdout").find("hello-from-task"), std::string::npos);
}

TEST(cluster, execute_exits_with_the_tasks_exit_status) {
  cluster c;
  c.add_agent();
  child_process exec;
  ASSERT_TRUE(exec.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                "--command=exit 3", "--timeout=30s"}));
  auto code = exec.wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3) << exec.stdout_text() << exec.stderr_text();
  EXPECT_NE(exec.stdout_text().find("TASK_FAILED"), std::string::npos);
  EXPECT_NE(exec.stdout_text().find("exited with status 3"), std::string::npos);
  // The master recorded the failure with its exit code.
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& t : s["completed_tasks"].GetArray())
      if (std::string(t["state"].GetString()) == "TASK_FAILED" && t["exit_code"].GetInt() == 3)
        return true;
    return false;
  }));
}

TEST(cluster, kill_stops_the_task_and_its_children) {
  cluster c;
  auto& agent = c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("killer", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(
      protocol::accept{"",
                       {offers[0].id},
                       {make_task("sleeper", "echo $$ > pid; sleep 1000 & echo $! > child; wait")},
                       {0}});
  ASSERT_TRUE(fw.wait_status("sleeper", task_state::running));
  std::string sandbox;
  ASSERT_TRUE(
      wait_until([&] { return !(sandbox = find_sandbox(agent.work_dir, "sleeper")).empty(); }, 5s));
  pid_t shell = read_pid(sandbox + "/pid");
  pid_t child = read_pid(sandbox + "/child");
  ASSERT_GT(shell, 0);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(process_alive(child));
  fw.send(protocol::kill_task{"", "sleeper", ""});
  auto killed = fw.wait_status("sleeper", task_state::killed);
  ASSERT_TRUE(killed.has_value());
  EXPECT_TRUE(wait_until([&] { return !process_alive(shell) && !process_alive(child); }, 5s));
}

TEST(cluster, killed_agent_makes_tasks_lost_and_its_offers_disappear) {
  cluster c;
  auto& agent = c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  // Not partition-aware: expects TASK_LOST.
  test_framework fw{fs.sys(), c.master_address(), framework("lost", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_EQ(offers.size(), 1u);
  fw.send(protocol::accept{
      "", {offers[0].id}, {make_task("long", "echo $$ > pid; exec sleep 1000", 0.5)}, {0}});
  ASSERT_TRUE(fw.wait_status("long", task_state::running));
  std::string sandbox = find_sandbox(agent.work_dir, "long");
  pid_t task_pid = read_pid(sandbox + "/pid");
  // The remaining 0.5 cpus come back as an offer on the same agent.
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["outstanding_offers"].GetUint64() == 1;
  }));
  agent.proc->kill_group(SIGKILL);
  auto lost = fw.wait_status("long", task_state::lost, 10s);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->reason, "REASON_AGENT_UNREACHABLE");
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["outstanding_offers"].GetUint64() == 0 &&
           std::string(s["agents"][0]["health"].GetString()) == "unreachable";
  }));
  if (task_pid > 0) ::kill(task_pid, SIGKILL);  // the agent can no longer do it
}

TEST(cluster, partition_aware_frameworks_get_task_unreachable) {
  cluster c;
  auto& agent = c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(),
                    framework("aware", {"dev"}, 0, {"PARTITION_AWARE"})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{
      "", {offers[0].id}, {make_task("long", "echo $$ > pid; exec sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("long", task_state::running));
  pid_t task_pid = read_pid(find_sandbox(agent.work_dir, "long") + "/pid");
  agent.proc->kill_group(SIGKILL);
  EXPECT_TRUE(fw.wait_status("long", task_state::unreachable, 10s).has_value());
  if (task_pid > 0) ::kill(task_pid, SIGKILL);
}

TEST(cluster, disconnected_framework_keeps_tasks_until_failover_timeout) {
  cluster c;
  auto& agent = c.add_agent();
  child_process exec;
  ASSERT_TRUE(exec.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                "--command=echo $$ > pid; exec sleep 1000",
                                                "--task-name=survivor", "--failover-timeout=2s"}));
  ASSERT_TRUE(exec.wait_for_output("TASK_RUNNING", 20s)) << exec.stdout_text();
  auto launch = exec.stdout_text().find("launching task ");
  auto out = exec.stdout_text();
  auto task_id = out.substr(launch + 15, out.find(' ', launch + 15) - launch - 15);
  pid_t task_pid = read_pid(find_sandbox(agent.work_dir, task_id) + "/pid");
  ASSERT_GT(task_pid, 0);
  exec.kill_group(SIGKILL);  // the framework process dies
  // The master notices, keeps the task running...
  ASSERT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) {
        return s["frameworks"].Size() == 1 && !s["frameworks"][0]["connected"].GetBool();
      },
      5s));
  EXPECT_EQ(count_frameworks_tasks(c.state(), "TASK_RUNNING"), 1);
  // ...and kills it once the failover timeout has passed.
  EXPECT_TRUE(c.wait_state(
      [](const rapidjson::Document& s) {
        if (s["frameworks"].Size() != 0) return false;
        for (const auto& t : s["completed_tasks"].GetArray())
          if (std::string(t["state"].GetString()) == "TASK_KILLED") return true;
        return false;
      },
      15s))
      << c.master().stderr_text();
  EXPECT_TRUE(wait_until([&] { return !process_alive(task_pid); }, 5s));
}

TEST(cluster, two_roles_share_the_cluster_by_drf) {
  // Frameworks first, then four 1-cpu agents one by one. Each registration
  // triggers a cycle and the role with the lower dominant share gets it:
  // a1 -> A (tie 0/0, "A" < "B"); a2 -> B (A 1/2, B 0); a3 -> A (tie 1/3);
  // a4 -> B (A 2/4, B 1/4). Two agents each.
  cluster c;
  framework_system fs;
  test_framework a{fs.sys(), c.master_address(), framework("fa", {"A"}, 0, {})};
  test_framework b{fs.sys(), c.master_address(), framework("fb", {"B"}, 0, {})};
  ASSERT_FALSE(a.wait_subscribed().empty());
  ASSERT_FALSE(b.wait_subscribed().empty());
  for (int i = 0; i < 4; ++i) c.add_agent("cpus:1;mem:128MiB", "rack:r1");
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    if (s["frameworks"].Size() != 2) return false;
    for (const auto& f : s["frameworks"].GetArray())
      if (f["offered_resources"]["cpus"].GetDouble() != 2.0) return false;
    return true;
  })) <<
      [&] {
        auto s = c.state();
        std::string out;
        for (const auto& f : s["frameworks"].GetArray())
          out += std::string(f["name"].GetString()) + "=" +
                 std::to_string(f["offered_resources"]["cpus"].GetDouble()) + " ";
        return out;
      }();
}

TEST(cluster, role_weights_skew_the_shares) {
  // weight(A) = 2. Three 1-cpu agents: a1 -> A (tie); a2 -> B (A 0.5/2 =
  // 0.25 vs B 0); a3 -> A (A (1/3)/2 = 0.17 vs B 1/3). A gets 2, B 1.
  cluster c{{"--weights=A=2"}};
  framework_system fs;
  test_framework a{fs.sys(), c.master_address(), framework("fa", {"A"}, 0, {})};
  test_framework b{fs.sys(), c.master_address(), framework("fb", {"B"}, 0, {})};
  ASSERT_FALSE(a.wait_subscribed().empty());
  ASSERT_FALSE(b.wait_subscribed().empty());
  for (int i = 0; i < 3; ++i) c.add_agent("cpus:1;mem:128MiB", "rack:r1");
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    double fa = -1, fb = -1;
    for (const auto& f : s["frameworks"].GetArray())
      (std::string(f["name"].GetString()) == "fa" ? fa : fb) =
          f["offered_resources"]["cpus"].GetDouble();
    return fa == 2.0 && fb == 1.0;
  }));
}

TEST(cluster, invalid_accepts_are_dropped_or_rejected_without_harm) {
  cluster c;
  c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("bad", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  // Unknown offer: TASK_DROPPED.
  fw.send(protocol::accept{"", {"no-such-offer"}, {make_task("t-unknown", "true")}, {0}});
  auto dropped = fw.wait_status("t-unknown", task_state::dropped);
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->reason, "REASON_INVALID_OFFERS");
  // More than the offer holds: TASK_ERROR, and the offer's resources return.
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t-big", "true", 8.0)}, {0}});
  auto error = fw.wait_status("t-big", task_state::error);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("remain in the offers"), std::string::npos) << error->message;
  // The offer is used now: using it again gives TASK_DROPPED.
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t-reuse", "true")}, {0}});
  EXPECT_TRUE(fw.wait_status("t-reuse", task_state::dropped).has_value());
  // An invalid task (no command): TASK_ERROR. The master keeps working.
  // The resources of the rejected launch come back in a new offer.
  std::string fresh;
  ASSERT_TRUE(wait_until(
      [&] {
        fw.pump(50ms);
        for (const auto& o : fw.pending_offers())
          if (o.id != offers[0].id) fresh = o.id;
        return !fresh.empty();
      },
      10s));
  fw.send(protocol::accept{"", {fresh}, {make_task("t-empty", "")}, {0}});
  EXPECT_TRUE(fw.wait_status("t-empty", task_state::error).has_value());
  EXPECT_EQ(http_get("127.0.0.1", c.http_port(), "/health", 1000ms).status, 200);
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["invalid_requests"].GetUint64() >= 4;
  }));
}

TEST(cluster, unexpected_messages_from_a_peer_are_dropped) {
  cluster c;
  c.add_agent();
  framework_system fs;
  auto master = fs.sys().middleman().remote_actor("127.0.0.1", c.actor_port());
  ASSERT_TRUE(master) << fs.sys().render(master.error());
  caf::scoped_actor self{fs.sys()};
  self->send(*master, std::string("garbage"), 42);
  self->send(*master, protocol::accept{"no-such-framework", {"x"}, {}, {0}});
  // An exit message from a peer does not end the master (it used to); with
  // reason `kill`, which no actor can trap, the transport refuses it.
  self->send_exit(*master, caf::exit_reason::kill);
  // Raw garbage on the actor port: the connection is dropped, nothing else.
  for (int i = 0; i < 3; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(c.actor_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::string junk(4096, static_cast<char>(0x5a + i));
    EXPECT_GT(::write(fd, junk.data(), junk.size()), 0);
    ::close(fd);
  }
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["invalid_requests"].GetUint64() >= 2;
  }));
  EXPECT_TRUE(c.master().wait_for_output(
      "it sent an exit, down, timeout or stream message, which only CAF itself makes", 5s));
  EXPECT_TRUE(c.master().running());
  // Still fully functional.
  child_process exec;
  ASSERT_TRUE(exec.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                "--command=true", "--timeout=30s"}));
  auto code = exec.wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << exec.stderr_text() << exec.stdout_text();
}

/// Resident memory of process `pid` in KiB (-1 if unreadable).
long rss_kib(pid_t pid) {
  std::istringstream in{read_file("/proc/" + std::to_string(pid) + "/status")};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kib = -1;
      in >> kib;
      return kib;
    }
    std::getline(in, key);
  }
  return -1;
}

TEST(cluster, a_header_announcing_4_GiB_leaves_memory_bounded_and_the_daemons_serving) {
  // CAF 0.17 alone sized a 4 GiB read buffer for this header, before any
  // handshake: two held connections took the master to 8.3 GB.
  cluster c;
  auto agent_port = free_port();
  auto& agent = c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1",
                            {"--actor-port=" + std::to_string(agent_port)});
  struct target {
    const char* name;
    child_process& proc;
    uint16_t port;
  };
  for (target t : {target{"agora-master", c.master(), c.actor_port()},
                   target{"agora-agent", *agent.proc, agent_port}}) {
    SCOPED_TRACE(t.name);
    auto before = rss_kib(t.proc.pid());
    ASSERT_GT(before, 0);
    // Two connections at once, both held open by this side.
    int a = send_basp_header(t.port, 0xFFFFFFF0u);
    int b = send_basp_header(t.port, 0xFFFFFFF0u);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    EXPECT_TRUE(peer_closes(a, 10s));
    EXPECT_TRUE(peer_closes(b, 10s));
    ::close(a);
    ::close(b);
    EXPECT_TRUE(t.proc.wait_for_output("announced a message of 4294967280 bytes", 5s))
        << t.proc.stderr_text();
    auto after = rss_kib(t.proc.pid());
    EXPECT_LT(after - before, 64 * 1024) << before << " KiB before, " << after << " KiB after";
    EXPECT_TRUE(t.proc.running());
  }
  // Both still serve: a task runs through the master on the agent.
  child_process exec;
  ASSERT_TRUE(exec.start(binary_path("agora"), {"execute", "--master=" + c.master_address(),
                                                "--command=true", "--timeout=30s"}));
  auto code = exec.wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << exec.stderr_text() << exec.stdout_text();
}

TEST(cluster, operators_kill_tasks_and_tear_down_frameworks_over_http) {
  cluster c;
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("operated", {"dev"}, 0, {})};
  auto fid = fw.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{
      "", {offers[0].id}, {make_task("a", "sleep 1000"), make_task("b", "sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("a", task_state::running));
  ASSERT_TRUE(fw.wait_status("b", task_state::running));
  auto post = [&](const std::string& path) {
    return http_request("POST", "127.0.0.1", c.http_port(), path);
  };
  // A kill goes through the agent: the framework hears TASK_KILLED as for
  // its own kill, and the other task runs on.
  auto r = post("/frameworks/" + fid + "/tasks/a/kill");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find("\"killing\":true"), std::string::npos) << r.body;
  EXPECT_TRUE(fw.wait_status("a", task_state::killed));
  // Killing it again, an unknown task or a task of an unknown framework.
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& t : s["completed_tasks"].GetArray())
      if (std::string(t["id"].GetString()) == "a") return true;
    return false;
  }));
  r = post("/frameworks/" + fid + "/tasks/a/kill");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("has ended already"), std::string::npos) << r.body;
  EXPECT_EQ(post("/frameworks/" + fid + "/tasks/nope/kill").status, 404);
  EXPECT_EQ(post("/frameworks/nope/tasks/b/kill").status, 404);
  EXPECT_EQ(post("/frameworks/nope/teardown").status, 404);
  // Paths that are no action, and the wrong method.
  EXPECT_EQ(post("/frameworks/" + fid + "/destroy").status, 404);
  EXPECT_EQ(post("/frameworks//teardown").status, 404);
  EXPECT_EQ(post("/frameworks/" + fid + "/tasks//kill").status, 404);
  EXPECT_EQ(http_get("127.0.0.1", c.http_port(), "/frameworks/" + fid + "/teardown").status, 405);
  // A teardown removes the framework, kills its tasks, and /state keeps
  // it among the completed ones, with its name and why.
  r = post("/frameworks/" + fid + "/teardown");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"tasks_killed\":1"), std::string::npos) << r.body;
  EXPECT_TRUE(c.wait_state([&](const rapidjson::Document& s) {
    if (s["frameworks"].Size() != 0) return false;
    bool listed = false;
    for (const auto& f : s["completed_frameworks"].GetArray())
      listed = listed || (std::string(f["id"].GetString()) == fid &&
                          std::string(f["name"].GetString()) == "operated" &&
                          std::string(f["reason"].GetString()).find("torn down by operator") == 0);
    bool b_killed = false;
    for (const auto& t : s["completed_tasks"].GetArray())
      b_killed = b_killed || (std::string(t["id"].GetString()) == "b" &&
                              std::string(t["state"].GetString()) == "TASK_KILLED");
    return listed && b_killed;
  }));
  r = post("/frameworks/" + fid + "/teardown");
  EXPECT_EQ(r.status, 409) << r.body;
}

TEST(cluster, state_parts_are_served_alone_and_an_unknown_part_is_a_400) {
  cluster c;
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("parts", {"dev"}, 0, {})};
  auto fid = fw.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("p", "sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("p", task_state::running));
  rapidjson::Document d;
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = http_get("127.0.0.1", c.http_port(), "/state?only=tasks,cluster");
        return r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() &&
               d.HasMember("tasks") && d["tasks"].Size() == 1 &&
               std::string(d["tasks"][0]["state"].GetString()) == "TASK_RUNNING";
      },
      10s));
  EXPECT_FALSE(d.HasMember("agents"));
  EXPECT_FALSE(d.HasMember("frameworks"));
  EXPECT_EQ(std::string(d["tasks"][0]["framework_id"].GetString()), fid);
  EXPECT_GT(d["cluster"]["used"]["cpus"].GetDouble(), 0.0);
  auto r = http_get("127.0.0.1", c.http_port(), "/state?only=agents");
  ASSERT_EQ(r.status, 200);
  ASSERT_FALSE(d.Parse(r.body.c_str()).HasParseError());
  ASSERT_EQ(d["agents"].Size(), 1u);
  EXPECT_EQ(d["agents"][0]["task_count"].GetUint(), 1u);
  EXPECT_FALSE(d.HasMember("frameworks"));
  EXPECT_FALSE(d.HasMember("completed_tasks"));
  r = http_get("127.0.0.1", c.http_port(), "/state?only=agents,passwords");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("unknown part 'passwords'"), std::string::npos) << r.body;
}

TEST(cluster, sandboxes_are_listed_read_and_downloaded_through_the_master) {
  // One origin for the UI: the master relays /agents/ID/files/* to the
  // agent's own endpoint, and relays its refusals.
  cluster c;
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("reader", {"dev"}, 0, {})};
  auto fid = fw.wait_subscribed();
  ASSERT_FALSE(fid.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  auto agent_id = offers[0].agent_id;
  fw.send(protocol::accept{"",
                           {offers[0].id},
                           {make_task("talker", "echo hello-sandbox; echo oops >&2; sleep 1000")},
                           {0}});
  ASSERT_TRUE(fw.wait_status("talker", task_state::running));
  // /state keeps the states the task went through, with their times.
  ASSERT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    for (const auto& f : s["frameworks"].GetArray())
      for (const auto& t : f["tasks"].GetArray()) {
        if (std::string(t["id"].GetString()) != "talker") continue;
        std::vector<std::string> states;
        double last = 0;
        for (const auto& h : t["statuses"].GetArray()) {
          states.push_back(h["state"].GetString());
          if (h["timestamp"].GetDouble() < last) return false;
          last = h["timestamp"].GetDouble();
        }
        return states == std::vector<std::string>{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"};
      }
    return false;
  }));
  auto base = "/agents/" + agent_id + "/files/";
  auto sandbox = "frameworks/" + fid + "/tasks/talker";
  http_result r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = http_get("127.0.0.1", c.http_port(), base + "read?path=" + sandbox + "/stdout");
        return r.status == 200 && r.body.find("hello-sandbox") != std::string::npos;
      },
      10s))
      << r.status << " " << r.body;
  EXPECT_EQ(r.body, "{\"data\":\"hello-sandbox\\n\",\"offset\":0}");
  r = http_get("127.0.0.1", c.http_port(), base + "browse?path=" + sandbox);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"stderr\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"path\":\"" + sandbox + "/stdout\""), std::string::npos) << r.body;
  r = http_get("127.0.0.1", c.http_port(), base + "download?path=" + sandbox + "/stderr");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "oops\n");
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(r.headers["content-disposition"], "attachment");
  EXPECT_EQ(r.headers["content-security-policy"], "default-src 'none'; sandbox");
  // The agent's refusals come back as they are; the master's own are JSON.
  r = http_get("127.0.0.1", c.http_port(), base + "read?path=../../../../etc/passwd");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body.find("root:"), std::string::npos);
  r = http_get("127.0.0.1", c.http_port(), "/agents/no-such-agent/files/read?path=x");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("unknown agent 'no-such-agent'"), std::string::npos) << r.body;
  r = http_get("127.0.0.1", c.http_port(), "/agents/" + agent_id + "/files/delete?path=x");
  EXPECT_EQ(r.status, 404) << r.body;
  // An agent that is gone: 502 naming it, at once.
  ASSERT_TRUE(c.stop_agent(0, SIGKILL));
  r = http_get("127.0.0.1", c.http_port(), base + "read?path=" + sandbox + "/stdout");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(r.body.find("cannot be reached"), std::string::npos) << r.body;
}

TEST(cluster, the_master_stops_on_sigterm_with_frameworks_subscribed) {
  // It used to wait forever for per-framework actors that nothing stopped.
  cluster c;
  c.add_agent();
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("stays", {"dev"}, 60000, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  ASSERT_FALSE(fw.wait_offers().empty());
  ASSERT_TRUE(c.master().kill_group(SIGTERM));
  auto code = c.master().wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "agora-master ignored SIGTERM";
  EXPECT_EQ(*code, 0) << c.master().stderr_text();
}

TEST(cluster, unanswered_offers_are_rescinded_after_the_offer_timeout) {
  cluster c{{"--offer-timeout=300ms"}};
  c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("slow", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto first = fw.wait_offers();
  ASSERT_EQ(first.size(), 1u);
  // The framework sits on the offer; the master rescinds it and, since the
  // resources are free again, offers them anew (with a new id).
  std::string second;
  ASSERT_TRUE(wait_until(
      [&] {
        fw.pump(50ms);
        for (const auto& o : fw.pending_offers())
          if (o.id != first[0].id) second = o.id;
        return !second.empty();
      },
      5s));
  EXPECT_TRUE(c.wait_state([](const rapidjson::Document& s) {
    return s["counters"]["offers_rescinded"].GetUint64() >= 1;
  }));
  // Accepting the rescinded offer fails; the new one works.
  fw.send(protocol::accept{"", {first[0].id}, {make_task("late", "true")}, {0}});
  EXPECT_TRUE(fw.wait_status("late", task_state::dropped).has_value());
  fw.send(protocol::accept{"", {second}, {make_task("on-time", "true")}, {0}});
  EXPECT_TRUE(fw.wait_status("on-time", task_state::finished).has_value());
}

TEST(cluster, declined_resources_are_not_reoffered_until_revive) {
  cluster c;
  c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("picky", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_EQ(offers.size(), 1u);
  fw.send(protocol::decline{"", {offers[0].id}, protocol::filters{60000}});
  fw.pending_offers().clear();
  // Allocation runs every 100 ms here: over 1 s, ten cycles skip the
  // filtered framework.
  EXPECT_TRUE(fw.wait_offers(1000ms).empty());
  EXPECT_EQ(c.state()["counters"]["offers_declined"].GetUint64(), 1u);
  fw.send(protocol::revive{"", {}});
  EXPECT_EQ(fw.wait_offers(5s).size(), 1u);
}

TEST(cluster, reconciliation_reports_latest_states) {
  cluster c;
  c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("recon", {"dev"}, 0, {})};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"",
                           {offers[0].id},
                           {make_task("runner", "exec sleep 1000"), make_task("quick", "true")},
                           {0}});
  ASSERT_TRUE(fw.wait_status("runner", task_state::running));
  ASSERT_TRUE(fw.wait_status("quick", task_state::finished));
  auto seen = fw.statuses().size();
  // Explicit: a running task, a finished one and an unknown one.
  fw.send(protocol::reconcile{"", {"runner", "quick", "never-launched"}});
  ASSERT_TRUE(fw.wait_status("never-launched", task_state::lost).has_value());
  bool running = false;
  bool finished = false;
  ASSERT_TRUE(wait_until(
      [&] {
        fw.pump(50ms);
        for (size_t i = seen; i < fw.statuses().size(); ++i) {
          const auto& st = fw.statuses()[i];
          running |= st.task_id == "runner" && st.state == task_state::running;
          finished |= st.task_id == "quick" && st.state == task_state::finished;
        }
        return running && finished;
      },
      5s));
  fw.send(protocol::kill_task{"", "runner", ""});
  EXPECT_TRUE(fw.wait_status("runner", task_state::killed).has_value());
}

TEST(cluster, framework_and_agent_reconnect_after_a_master_restart) {
  cluster c;
  auto& agent = c.add_agent("cpus:1;mem:256MiB", "rack:r1");
  framework_system fs;
  test_framework fw{fs.sys(), c.master_address(), framework("phoenix", {"dev"}, 60000, {})};
  auto id = fw.wait_subscribed();
  ASSERT_FALSE(id.empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{
      "", {offers[0].id}, {make_task("steady", "echo $$ > pid; exec sleep 1000")}, {0}});
  ASSERT_TRUE(fw.wait_status("steady", task_state::running));
  pid_t task_pid = read_pid(find_sandbox(agent.work_dir, "steady") + "/pid");
  c.restart_master();
  // The agent re-registers with its running task; the framework re-subscribes
  // under its id (the driver reconnects with backoff) and adopts it again.
  ASSERT_TRUE(c.wait_state(
      [&](const rapidjson::Document& s) {
        return s["frameworks"].Size() == 1 &&
               std::string(s["frameworks"][0]["id"].GetString()) == id &&
               s["frameworks"][0]["connected"].GetBool() &&
               count_frameworks_tasks(s, "TASK_RUNNING") == 1;
      },
      20s))
      << c.master().stderr_text();
  EXPECT_TRUE(process_alive(task_pid));  // the task was never disturbed
  fw.send(protocol::kill_task{"", "steady", ""});
  EXPECT_TRUE(fw.wait_status("steady", task_state::killed, 10s).has_value());
  EXPECT_TRUE(wait_until([&] { return !process_alive(task_pid); }, 5s));
}

TEST(cluster, bad_flags_name_the_flag_and_exit_2) {
  struct bad_case {
    const char* binary;
    std::vector<std::string> args;
    const char* mentions;
  };
  std::vector<bad_case> cases = {
      {"agora-master", {"--port=notaport"}, "--port"},
      {"agora-master", {"--weights=a=-1"}, "--weights"},
      {"agora-master", {"--no-such-flag"}, "--no-such-flag"},
      {"agora-agent", {"--master=127.0.0.1:1", "--resources=mem:512"}, "--resources"},
      {"agora-agent", {"--master=127.0.0.1:1", "--attributes=rack"}, "--attributes"},
      {"agora", {"execute", "--master=127.0.0.1:1"}, "--command"},
      {"agora", {"execute", "--command=true", "--mem=64"}, "--mem"},
      {"agora", {"demo", "--cpus=abc"}, "--cpus"},
      {"agora", {"bogus-command"}, "bogus-command"},
  };
  for (const auto& bc : cases) {
    child_process p;
    ASSERT_TRUE(p.start(binary_path(bc.binary), bc.args));
    auto code = p.wait_exit(10s);
    ASSERT_TRUE(code.has_value()) << bc.binary;
    EXPECT_EQ(*code, 2) << bc.binary << " " << bc.args.back();
    EXPECT_NE(p.stderr_text().find(bc.mentions), std::string::npos)
        << bc.binary << ": " << p.stderr_text();
  }
}

TEST(cluster, demo_framework_runs_tasks_across_agents) {
  cluster c;
  c.add_agent("cpus:1;mem:512MiB", "rack:r1");
  c.add_agent("cpus:1;mem:512MiB", "rack:r2");
  child_process demo;
  ASSERT_TRUE(demo.start(binary_path("agora"), {"demo", "--master=" + c.master_address(),
                                                "--tasks=40", "--command=true"}));
  auto code = demo.wait_exit(60s);
  ASSERT_TRUE(code.has_value()) << demo.stdout_text();
  EXPECT_EQ(*code, 0) << demo.stdout_text() << demo.stderr_text();
  EXPECT_NE(demo.stdout_text().find("launched 40, finished 40, failed 0"), std::string::npos)
      << demo.stdout_text();
}

}  // namespace
}  // namespace agora::test
