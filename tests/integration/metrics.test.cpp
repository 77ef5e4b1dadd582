// The master's and an agent's /metrics scraped over HTTP from real daemons
// running a real task: the expositions pass `promtool check metrics` and
// their values move.

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;
const char* const promtool = "/usr/bin/promtool";

/// Returns the value of the sample `series` (name and labels exactly as
/// exposed, e.g. `agora_master_tasks{state="TASK_RUNNING"}`), or -1.
double sample(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string scrape(uint16_t port) {
  auto r = http_get("127.0.0.1", port, "/metrics");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/plain; version=0.0.4"), std::string::npos);
  return r.body;
}

/// Runs `promtool check metrics` on `text`; returns its exit status and output.
std::string scrape(const cluster& c) { return scrape(c.http_port()); }

std::pair<int, std::string> promtool_check(const std::string& text) {
  temp_dir dir;
  std::ofstream(dir.path() + "/metrics.txt") << text;
  child_process p;
  if (!p.start("/bin/sh",
               {"-c", std::string(promtool) + " check metrics < " + dir.path() + "/metrics.txt"}))
    return {-1, "cannot start promtool"};
  auto code = p.wait_exit(30s);
  return {code ? *code : -1, p.stdout_text() + p.stderr_text()};
}

TEST(metrics, master_metrics_pass_promtool_and_move_as_tasks_run) {
  if (access(promtool, X_OK) != 0)
    GTEST_SKIP() << promtool << " is missing (Debian package `prometheus`, installed by "
                 << "scripts/install-deps.sh): the exposition cannot be checked";
  // observability.policy declares per-role and cluster gauges.
  cluster c{{"--policy=" + examples + "/observability.policy"}};
  c.add_agent("cpus:2;mem:1GiB", "rack:r1;zone:z1");
  auto before = scrape(c);
  auto [code, out] = promtool_check(before);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(sample(before, "agora_master_agents{state=\"active\"}"), 1);
  EXPECT_EQ(sample(before, "agora_policy_info{hash=\"" +
                               std::string(c.state()["policy"]["hash"].GetString()) +
                               "\",name=\"drf-observed\",version=\"4\"}"),
            1);
  EXPECT_LE(sample(before, "agora_master_tasks{state=\"TASK_RUNNING\"}"), 0);
  // The process, the build, leadership and the HTTP server.
  EXPECT_GT(sample(before, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(sample(before, "process_open_fds"), 3);
  EXPECT_GE(sample(before, "process_threads"), 4);
  EXPECT_NE(before.find("agora_build_info{"), std::string::npos);
  EXPECT_EQ(sample(before, "agora_master_leader"), 1);
  EXPECT_EQ(sample(before, "agora_master_leader_epoch"), 0);
  EXPECT_EQ(before.find("agora_master_zookeeper_connected"), std::string::npos);
  EXPECT_EQ(sample(before, "agora_master_tasks_ended_total{state=\"TASK_KILLED\"}"), 0);
  EXPECT_GE(sample(before, "agora_actor_mailbox_messages{actor=\"master\"}"), 0);
  EXPECT_GE(sample(before, "agora_allocator_interval_seconds"), 0.1);
  // The fixture polled /health and /state before this first scrape.
  EXPECT_GE(
      sample(before, "agora_http_requests_total{code=\"200\",handler=\"/health\",method=\"GET\"}"),
      1);

  framework_system fs;
  protocol::framework_info info;
  info.name = "metered";
  info.roles = {"dev"};
  test_framework fw{fs.sys(), c.master_address(), info};
  ASSERT_FALSE(fw.wait_subscribed().empty());
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  fw.send(protocol::accept{"", {offers[0].id}, {make_task("t1", "exec sleep 1000", 0.5)}, {0}});
  ASSERT_TRUE(fw.wait_status("t1", protocol::task_state::running));

  // The values follow: one running task, half a cpu used by dev, and the
  // policy's own per-role gauge (dev's dominant share / weight) above 0.
  std::string after;
  ASSERT_TRUE(wait_until(
      [&] {
        after = scrape(c);
        return sample(after, "agora_master_tasks{state=\"TASK_RUNNING\"}") == 1;
      },
      10s))
      << after;
  EXPECT_GT(sample(after, "agora_policy_role_weighted_share_ratio{role=\"dev\"}"), 0);
  EXPECT_GT(sample(after, "agora_allocator_role_used_cpus{role=\"dev\"}"), 0.49);
  EXPECT_GE(sample(after, "agora_master_offers_total{outcome=\"made\"}"), 1);
  EXPECT_EQ(sample(after, "agora_allocator_role_frameworks_wanting{role=\"dev\"}"), 1);
  // Each scrape is itself counted, with its duration.
  EXPECT_GE(
      sample(after, "agora_http_requests_total{code=\"200\",handler=\"/metrics\",method=\"GET\"}"),
      sample(before,
             "agora_http_requests_total{code=\"200\",handler=\"/metrics\",method=\"GET\"}") +
          1);
  EXPECT_GE(sample(after, "agora_http_request_duration_seconds_count{handler=\"/metrics\"}"), 1);
  // The policy's own `on offer` counter and histogram moved too.
  EXPECT_GE(sample(after, "agora_policy_offers_total{locality=\"\",role=\"dev\"}"), 1);
  EXPECT_GE(sample(after, "agora_policy_offer_mem_bytes_count{role=\"dev\"}"), 1);
  // The task ends when it is killed: its run time is observed.
  fw.send(protocol::kill_task{"", "t1", ""});
  ASSERT_TRUE(fw.wait_status("t1", protocol::task_state::killed));
  std::string ended;
  EXPECT_TRUE(wait_until(
      [&] {
        ended = scrape(c);
        return sample(ended, "agora_policy_task_runtime_seconds_count{role=\"dev\"}") == 1 &&
               sample(ended, "agora_master_tasks_ended_total{state=\"TASK_KILLED\"}") == 1;
      },
      10s))
      << ended;
  // The policy's code ran: its pair code cost units per cycle were recorded.
  EXPECT_GT(sample(after, "agora_policy_cost_units_sum{phase=\"pair\"}"), 0);
  EXPECT_GE(sample(after, "agora_policy_cost_units_count{phase=\"pair\"}"), 1);
  EXPECT_GT(sample(after, "agora_allocator_cycle_duration_seconds_count"),
            sample(before, "agora_allocator_cycle_duration_seconds_count"));
  auto [code2, out2] = promtool_check(after);
  EXPECT_EQ(code2, 0) << out2;
}

TEST(metrics, agent_metrics_pass_promtool_and_follow_its_tasks) {
  if (access(promtool, X_OK) != 0)
    GTEST_SKIP() << promtool << " is missing (Debian package `prometheus`, installed by "
                 << "scripts/install-deps.sh): the exposition cannot be checked";
  cluster c;
  auto& agent = c.add_agent("cpus:2;mem:1GiB;disk:1GiB", "rack:r1");
  std::string before;
  ASSERT_TRUE(wait_until(
      [&] {
        before = scrape(agent.http_port);
        return sample(before, "agora_agent_registered") == 1;
      },
      10s))
      << before;
  auto [code, out] = promtool_check(before);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(sample(before, "agora_agent_capacity_cpus"), 2);
  EXPECT_EQ(sample(before, "agora_agent_capacity_memory_bytes"), 1024.0 * 1024 * 1024);
  EXPECT_EQ(sample(before, "agora_agent_allocated_cpus"), 0);
  EXPECT_EQ(sample(before, "agora_agent_tasks_ended_total{state=\"TASK_KILLED\"}"), 0);
  EXPECT_GT(sample(before, "process_resident_memory_bytes"), 1e6);
  EXPECT_EQ(sample(before, "agora_actor_connections_refused_total"), 0);
  EXPECT_NE(before.find("agora_build_info{"), std::string::npos);

  framework_system fs;
  protocol::framework_info info;
  info.name = "metered";
  info.roles = {"dev"};
  test_framework fw{fs.sys(), c.master_address(), info};
  auto offers = fw.wait_offers();
  ASSERT_FALSE(offers.empty());
  // A task that keeps a process busy, so its usage shows.
  fw.send(protocol::accept{
      "", {offers[0].id}, {make_task("t1", "exec sh -c 'while :; do :; done'", 0.5)}, {0}});
  ASSERT_TRUE(fw.wait_status("t1", protocol::task_state::running));
  auto state = http_get("127.0.0.1", agent.http_port, "/state");
  bool cgroups = state.body.find("\"mode\":\"cgroups\"") != std::string::npos;
  std::string running;
  ASSERT_TRUE(wait_until(
      [&] {
        running = scrape(agent.http_port);
        return sample(running, "agora_agent_tasks{state=\"TASK_RUNNING\"}") == 1 &&
               (!cgroups || sample(running,
                                   "agora_agent_task_cpu_seconds_total{framework=\"metered\","
                                   "role=\"dev\"}") > 0.05);
      },
      10s))
      << running;
  EXPECT_EQ(sample(running, "agora_agent_allocated_cpus"), 0.5);
  EXPECT_EQ(sample(running, "agora_agent_task_launches_total{role=\"dev\"}"), 1);
  EXPECT_EQ(sample(running, "agora_agent_task_launch_duration_seconds_count"), 1);
  EXPECT_EQ(sample(running, "agora_agent_status_updates_pending"), 0);
  if (cgroups) {
    EXPECT_GT(sample(running, "agora_agent_task_memory_bytes{framework=\"metered\",role=\"dev\"}"),
              0);
    EXPECT_GE(sample(running, "agora_agent_task_processes{framework=\"metered\",role=\"dev\"}"), 1);
    // Summed by framework and role: no series names the task.
    EXPECT_EQ(running.find("task=\"t1\""), std::string::npos);
  }
  auto [code2, out2] = promtool_check(running);
  EXPECT_EQ(code2, 0) << out2;
  double cpu =
      sample(running, "agora_agent_task_cpu_seconds_total{framework=\"metered\",role=\"dev\"}");

  fw.send(protocol::kill_task{"", "t1", ""});
  ASSERT_TRUE(fw.wait_status("t1", protocol::task_state::killed));
  std::string ended;
  ASSERT_TRUE(wait_until(
      [&] {
        ended = scrape(agent.http_port);
        return sample(ended, "agora_agent_tasks_ended_total{state=\"TASK_KILLED\"}") == 1 &&
               sample(ended, "agora_agent_allocated_cpus") == 0;
      },
      10s))
      << ended;
  EXPECT_EQ(sample(ended, "agora_agent_tasks{state=\"TASK_KILLED\"}"), 1);
  // The CPU counter keeps the ended task's time: it never goes down.
  if (cgroups) {
    EXPECT_GE(
        sample(ended, "agora_agent_task_cpu_seconds_total{framework=\"metered\",role=\"dev\"}"),
        cpu);
  }
  // Its own scrapes are counted by route, each once its answer is sent: the
  // last scrape sees at least `before` and one scrape while the task ran.
  EXPECT_GE(
      sample(ended, "agora_http_requests_total{code=\"200\",handler=\"/metrics\",method=\"GET\"}"),
      2);
}

}  // namespace
}  // namespace agora::test
