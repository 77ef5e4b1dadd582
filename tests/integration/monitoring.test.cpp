// The whole monitoring path with real parts: a master elected through a
// real ZooKeeper and agents running tasks, Debian's Prometheus scraping them
// with Agora's rule file, and every
// query of every Grafana dashboard and every recording rule run through
// Prometheus' HTTP API against that cluster.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agora/test/monitoring_files.hpp"
#include "agora/test/prometheus_server.hpp"
#include "agora/test/zookeeper_server.hpp"
#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

/// A policy that makes every kind of allocator and policy series exist:
/// roles with guarantees and limits, a filter that rejects (agents in rack
/// "spare"), and a locality level a framework waits at, then leaves.
const char* const monitored_policy = R"(policy "monitored" version 1;
use std.fairness;
use std.strings;

roles {
  role "prod" { weight 2; guarantee {cpus: 1, mem: 256MiB}; limit {cpus: 3, mem: 2GiB}; }
  role "dev" { weight 1; limit {cpus: 3}; }
}
order roles by dominant_share(role) / role.weight asc, role.name asc;
order frameworks by dominant_share(framework) asc, framework.id asc;
filter fits: fits(framework.min_request, agent.free);
filter not_spare: agent.attributes.rack != "spare";
let wanted_racks = split(framework.labels.data_racks ?? "", ",");
locality when size(wanted_racks) > 0 {
  level rack when agent.attributes.rack in wanted_racks wait 1s;
  level any;
}
)";

/// A cluster under Prometheus: a master running `monitored_policy`, agents
/// in racks r1, r2 and "spare", a framework with running, finished and
/// failed tasks (some ending while Prometheus watches, so rates move), one
/// waiting for a rack that does not exist, and Prometheus scraping every
/// process each second with Agora's rules loaded.
class monitored_cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!prometheus_server::available())
      GTEST_SKIP() << "/usr/bin/prometheus is missing (Debian package `prometheus`, installed by "
                      "scripts/install-deps.sh)";
    if (!zookeeper_server::available())
      GTEST_SKIP() << "ZooKeeper is missing (Debian package `zookeeper`, installed by "
                      "scripts/install-deps.sh)";
    // The master elects itself through ZooKeeper, so the session and
    // leadership series exist as in a highly available cluster.
    zk = std::make_unique<zookeeper_server>();
    std::string zk_error;
    ASSERT_TRUE(zk->start(std::chrono::seconds(60), &zk_error)) << zk_error;
    std::ofstream(policy_dir.path() + "/monitored.policy") << monitored_policy;
    std::filesystem::copy_file(examples + "/cluster.schema", policy_dir.path() + "/cluster.schema");
    c = std::make_unique<cluster>(
        std::vector<std::string>{"--policy=" + policy_dir.path() + "/monitored.policy",
                                 "--zk=zk://" + zk->connect_string() + "/agora/monitored"});
    // (Ports copied: `add_agent` may move the agents it returned earlier.)
    std::vector<uint16_t> agents;
    for (const char* rack : {"r1", "r2", "spare"})
      agents.push_back(
          c->add_agent("cpus:2;mem:1GiB;disk:1GiB", std::string("rack:") + rack).http_port);
    fs = std::make_unique<framework_system>();
    fw = std::make_unique<test_framework>(fs->sys(), c->master_address(),
                                          framework_named("watched", "dev", {}));
    launch({make_task("run-1", "exec sleep 1000", 0.25),
            make_task("run-2", "exec sleep 1000", 0.25), make_task("done-1", "true", 0.25),
            make_task("bad-1", "exit 3", 0.25)});
    ASSERT_TRUE(fw->wait_status("run-1", protocol::task_state::running));
    ASSERT_TRUE(fw->wait_status("run-2", protocol::task_state::running));
    ASSERT_TRUE(fw->wait_status("done-1", protocol::task_state::finished));
    ASSERT_TRUE(fw->wait_status("bad-1", protocol::task_state::failed));
    prometheus_server_options opts;
    opts.jobs = {{"agora-master", {"127.0.0.1:" + std::to_string(c->http_port())}},
                 {"agora-agent", {}}};
    for (auto port : agents) opts.jobs[1].targets.push_back("127.0.0.1:" + std::to_string(port));
    opts.rule_files = {source_path("observability/prometheus/agora-rules.yml")};
    prom = std::make_unique<prometheus_server>(opts);
    std::string error;
    ASSERT_TRUE(prom->start(std::chrono::seconds(60), &error)) << error;
    // Every target scraped at least twice, so rates have two points.
    prometheus_query_result last;
    ASSERT_TRUE(prom->wait_for_series(
        "count_over_time(up{job=~\"agora-master|agora-agent\"}[1m]) >= 2", 60s, 4, &last))
        << last.body << "\n"
        << prom->describe();
    // Tasks that end while Prometheus watches, and a framework that waits
    // for rack r9 (there is none) before it takes any agent.
    launch({make_task("done-2", "true", 0.1)});
    launch({make_task("bad-2", "exit 3", 0.1)});
    ASSERT_TRUE(fw->wait_status("done-2", protocol::task_state::finished));
    ASSERT_TRUE(fw->wait_status("bad-2", protocol::task_state::failed)) << [&] {
      std::string out;
      for (const auto& st : fw->statuses())
        out += st.task_id + " " + protocol::to_string(st.state) + " " + st.message + "\n";
      return out;
    }();
    picky = std::make_unique<test_framework>(
        fs->sys(), c->master_address(), framework_named("picky", "prod", {{"data_racks", "r9"}}));
    ASSERT_FALSE(picky->wait_subscribed().empty());
  }

  static protocol::framework_info framework_named(const std::string& name, const std::string& role,
                                                  std::map<std::string, std::string> labels) {
    protocol::framework_info info;
    info.name = name;
    info.roles = {role};
    info.labels = std::move(labels);
    return info;
  }

  /// Launches `tasks` together on an offer of `fw`, not used before, that
  /// holds them all (offers of leftovers can be small: a cpu share and no
  /// memory).
  void launch(std::vector<protocol::task_info> tasks) {
    protocol::resources need;
    for (const auto& t : tasks) need += t.res;
    std::string id;
    for (int attempt = 0; attempt < 100 && id.empty(); ++attempt) {
      auto offers = fw->wait_offers();
      for (auto it = offers.rbegin(); it != offers.rend() && id.empty(); ++it)
        if (used_offers.count(it->id) == 0 && it->res.contains(need)) id = it->id;
      if (id.empty()) fw->pump(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(id.empty()) << "no new offer holds " << need.to_string();
    used_offers.insert(id);
    fw->send(protocol::accept{"", {id}, std::move(tasks), {0}});
  }

  std::set<std::string> used_offers;
  temp_dir policy_dir;
  std::unique_ptr<zookeeper_server> zk;
  std::unique_ptr<cluster> c;
  std::unique_ptr<framework_system> fs;
  std::unique_ptr<test_framework> fw;
  std::unique_ptr<test_framework> picky;
  std::unique_ptr<prometheus_server> prom;
};

TEST_F(monitored_cluster, prometheus_scrapes_master_and_agents) {
  auto up = prom->query("up");
  ASSERT_TRUE(up.ok) << up.error;
  ASSERT_EQ(up.size(), 4u) << up.body;
  for (const auto& s : up.series)
    EXPECT_EQ(s.value, 1) << s.labels.at("instance") << ": "
                          << http_get("127.0.0.1", prom->port(), "/api/v1/targets").body;
  // Elected through ZooKeeper, with its session connected.
  prometheus_query_result r;
  for (const char* leadership :
       {"agora_master_leader == 1", "agora_master_zookeeper_connected == 1",
        "agora_master_leader_epoch >= 0"})
    EXPECT_TRUE(prom->wait_for_series(leadership, 20s, 1, &r)) << leadership << ": " << r.body;
  // The master's view: two running tasks, dev's share of the cluster.
  ASSERT_TRUE(prom->wait_for_series(
      "agora_master_tasks{job=\"agora-master\",state=\"TASK_RUNNING\"} == 2", 20s, 1, &r))
      << r.body;
  r = prom->query("agora_allocator_role_dominant_share_ratio{role=\"dev\"}");
  ASSERT_EQ(r.size(), 1u) << r.body;
  EXPECT_GT(r.series[0].value, 0);
  // /state carries the same bounds (the UI's roles page reads them there);
  // a limit lists only what it limits.
  auto state = c->state();
  std::map<std::string, const rapidjson::Value*> roles;
  for (const auto& role : state["roles"].GetArray()) roles[role["name"].GetString()] = &role;
  ASSERT_EQ(roles.count("prod"), 1u);
  ASSERT_EQ(roles.count("dev"), 1u);
  const auto& prod = *roles["prod"];
  EXPECT_EQ(prod["guarantee"]["cpus"].GetDouble(), 1);
  EXPECT_EQ(prod["guarantee"]["mem"].GetInt64(), 256LL << 20);
  EXPECT_EQ(prod["limit"]["cpus"].GetDouble(), 3);
  EXPECT_EQ(prod["limit"]["mem"].GetInt64(), 2LL << 30);
  EXPECT_FALSE(prod["limit"].HasMember("disk"));
  const auto& dev = *roles["dev"];
  EXPECT_FALSE(dev.HasMember("guarantee"));
  EXPECT_EQ(dev["limit"]["cpus"].GetDouble(), 3);
  EXPECT_FALSE(dev["limit"].HasMember("mem"));
  EXPECT_GT(dev["dominant_share"].GetDouble(), 0);
  EXPECT_EQ(dev["frameworks_wanting"].GetUint64(), 1u);
  r = prom->query("agora_allocator_role_guarantee_cpus{role=\"prod\"}");
  ASSERT_EQ(r.size(), 1u) << r.body;
  EXPECT_EQ(r.series[0].value, 1);
  // The agents' view, summed: the two running tasks and one of each end.
  r = prom->query("sum(agora_agent_tasks{state=\"TASK_RUNNING\"})");
  ASSERT_EQ(r.size(), 1u) << r.body;
  EXPECT_EQ(r.series[0].value, 2);
  ASSERT_TRUE(prom->wait_for_series(
      "sum(agora_agent_tasks_ended_total{state=\"TASK_FAILED\"}) == 2", 20s, 1, &r))
      << r.body;
  ASSERT_TRUE(prom->wait_for_series(
      "sum(agora_master_tasks_ended_total{state=\"TASK_FINISHED\"}) == 2", 20s, 1, &r))
      << r.body;
  // The agent in rack "spare" is rejected by the policy's filter.
  ASSERT_TRUE(prom->wait_for_series(
      "agora_policy_filter_rejections_total{filter=\"not_spare\"} > 0", 20s, 1, &r))
      << r.body;
}

TEST_F(monitored_cluster, every_dashboard_query_and_recording_rule_returns_data) {
  std::string error;
  auto queries = dashboard_queries(source_path("observability/grafana/dashboards"), {}, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_GT(queries.size(), 30u);
  std::vector<std::pair<std::string, std::string>> checks;  // what, expr
  for (const auto& q : queries) checks.emplace_back(q.describe(), q.expr);
  size_t recorded = 0;
  for (const auto& rule : prometheus_rules(source_path("observability/prometheus/agora-rules.yml")))
    if (rule.kind == "record") {
      checks.emplace_back("recording rule " + rule.name, rule.name);
      ++recorded;
    }
  ASSERT_GT(recorded, 10u);
  std::set<size_t> pending;
  for (size_t i = 0; i < checks.size(); ++i) pending.insert(i);
  // Rules are evaluated and rates need two scrapes: ask again until every
  // query has an answer, bounded.
  std::map<size_t, std::string> last_answer;
  wait_until(
      [&] {
        for (auto it = pending.begin(); it != pending.end();) {
          auto r = prom->query(checks[*it].second);
          if (r.ok && r.size() > 0) {
            it = pending.erase(it);
          } else {
            last_answer[*it] = r.ok ? "no series" : r.error;
            ++it;
          }
        }
        return pending.empty();
      },
      60s, 500ms);
  std::string missing;
  for (size_t i : pending)
    missing += "\n  " + checks[i].first + " -> " + last_answer[i] + "\n    " + checks[i].second;
  EXPECT_TRUE(pending.empty()) << pending.size() << " of " << checks.size()
                               << " queries returned no series:" << missing;
}

}  // namespace
}  // namespace agora::test
