// Tests of the allocation semantics policies are tested under: hierarchical
// role order, framework order, limit clipping along the role path, delay
// scheduling levels, the per-pair decision and the cluster fixtures.
#include "agora/policy/scenario.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "agora/policy/compiler.hpp"

namespace agora::policy {
namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;

const char* rack_schema = R"(schema "s" version 1;
agent.attributes { rack: string?; zone: string?; }
framework.labels { rack: string?; }
)";

/// A policy checked and compiled from text (with an optional schema), with
/// its outline.
struct compiled {
  source_file source;
  std::optional<schema> cluster;
  check_result checked;
  compile_result program;
  policy_outline outline;

  explicit compiled(const std::string& text, const char* schema_text = nullptr)
      : source("test.policy", text) {
    if (schema_text) {
      cluster = load_schema(source_file("test.schema", schema_text)).value;
      EXPECT_TRUE(cluster.has_value());
    }
    const schema* s = cluster ? &*cluster : nullptr;
    checked = check_policy(source, s);
    EXPECT_TRUE(checked.ok()) << render_all(checked.diagnostics);
    program = compile(checked, source, s);
    EXPECT_TRUE(program.ok()) << render_all(program.diagnostics);
    outline = policy_outline::from(checked, resource_names(nullptr));
  }
};

res_vec res(double cpus, double mem_gib, double gpus = 0) {
  res_vec r{};
  r[0] = cpus;
  r[1] = mem_gib * GiB;
  r[3] = gpus;
  return r;
}

agent_view agent(const std::string& id, res_vec free, res_vec used = {}) {
  agent_view a;
  a.id = id;
  a.free = free;
  a.used = used;
  for (size_t i = 0; i < max_resources; ++i) a.total[i] = free[i] + used[i];
  return a;
}

scenario_framework framework(const std::string& id, const std::string& role, res_vec min = {}) {
  scenario_framework f;
  f.view.id = id;
  f.role = role;
  f.view.min_request = min;
  return f;
}

const char* drf = R"(policy "p" version 1;
use std.fairness;
order roles by dominant_share(role) / role.weight asc, role.name asc;
order frameworks by dominant_share(framework) asc, framework.id asc;
filter fits: fits(framework.min_request, agent.free);
)";

TEST(scenario, siblings_are_ordered_within_their_parent) {
  compiled p(std::string(drf) + R"(roles {
  role "a" { weight 1; role "x" {} role "y" {} }
  role "b" { weight 1; }
})");
  cluster_spec c;
  c.agents.push_back(agent("a1", res(100, 100)));
  c.frameworks.push_back(framework("fx", "a/x"));
  c.frameworks.push_back(framework("fy", "a/y"));
  c.frameworks.push_back(framework("fb", "b"));
  // a holds 30% in all (x 20%, y 10%); b holds 25%: b goes first although
  // a/y alone holds less than b, because siblings compete, not leaves.
  c.role_allocation["a/x"] = res(20, 0);
  c.role_allocation["a/y"] = res(10, 0);
  c.role_allocation["b"] = res(25, 0);
  scenario s(p.program.prog, p.outline, c);
  EXPECT_EQ(s.role_order(), (std::vector<std::string>{"b", "a/y", "a/x"}));
  EXPECT_EQ(s.framework_order(), (std::vector<std::string>{"fb", "fy", "fx"}));
  auto& a = s.input().roles[static_cast<size_t>(s.role_index("a"))];
  EXPECT_DOUBLE_EQ(a.allocated[0], 30);  // The parent sums its children.
  EXPECT_TRUE(a.active);
  EXPECT_DOUBLE_EQ(a.fair_share, 0.5);
  EXPECT_DOUBLE_EQ(s.input().roles[static_cast<size_t>(s.role_index("a/x"))].fair_share, 0.25);
}

TEST(scenario, a_parent_with_frameworks_competes_with_its_children_as_a_virtual_sibling) {
  compiled p(drf);
  cluster_spec c;
  c.agents.push_back(agent("a1", res(10, 10)));
  c.frameworks.push_back(framework("child", "team/sub"));
  c.frameworks.push_back(framework("own", "team"));
  {
    // Both hold nothing: the tie goes by `role.name`, and "sub" < "team".
    // (Serving a parent's own frameworks before its children would give
    // ["team", "team/sub"].)
    scenario s(p.program.prog, p.outline, c);
    EXPECT_EQ(s.role_order(), (std::vector<std::string>{"team/sub", "team"}));
  }
  {
    // team/sub holds 2 of 10 cpus (0.2); team's own frameworks hold 1 (0.1).
    // team's subtree holds 0.3, but its virtual child counts only its own.
    c.frameworks[0].view.allocated = res(2, 0);
    c.frameworks[1].view.allocated = res(1, 0);
    scenario s(p.program.prog, p.outline, c);
    EXPECT_EQ(s.role_order(), (std::vector<std::string>{"team", "team/sub"}));
    EXPECT_DOUBLE_EQ(s.input().roles[static_cast<size_t>(s.role_index("team"))].allocated[0], 3);
  }
}

TEST(scenario, framework_order_uses_the_framework_keys_within_each_role) {
  compiled p(drf);
  cluster_spec c;
  c.agents.push_back(agent("a1", res(10, 10)));
  auto big = framework("f-big", "r");
  big.view.allocated = res(5, 0);
  auto small = framework("f-small", "r");
  small.view.allocated = res(1, 0);
  c.frameworks.push_back(big);
  c.frameworks.push_back(small);
  c.frameworks.push_back(framework("f-tie", "r"));
  c.frameworks.push_back(framework("f-a", "r"));
  scenario s(p.program.prog, p.outline, c);
  EXPECT_EQ(s.framework_order(), (std::vector<std::string>{"f-a", "f-tie", "f-small", "f-big"}));
}

TEST(scenario, limits_clip_along_the_whole_path_and_guarantees_set_below_guarantee) {
  compiled p(std::string(drf) + R"(roles {
  role "prod" {
    limit {cpus: 100, mem: 400GiB};
    guarantee {cpus: 50};
    role "etl" { limit {cpus: 60}; guarantee {cpus: 20}; }
    role "web" {}
  }
})");
  cluster_spec c;
  c.agents.push_back(agent("a1", res(64, 256)));
  c.frameworks.push_back(framework("etl-1", "prod/etl", res(4, 8)));
  c.frameworks.push_back(framework("web-1", "prod/web", res(4, 8)));
  c.role_allocation["prod/etl"] = res(55, 100);
  c.role_allocation["prod/web"] = res(40, 100);
  scenario s(p.program.prog, p.outline, c);
  // etl: own limit 60 - 55 = 5; prod: 100 - 95 = 5; mem: 400 - 200 GiB.
  auto etl = s.headroom(static_cast<size_t>(s.role_index("prod/etl")));
  EXPECT_DOUBLE_EQ(etl[0], 5);
  EXPECT_DOUBLE_EQ(etl[1], 200 * GiB);
  EXPECT_TRUE(std::isinf(etl[3]));  // No limit on gpus.
  auto d = s.decide(0, 0);
  EXPECT_TRUE(d.offered);
  EXPECT_DOUBLE_EQ(d.offer[0], 5);
  EXPECT_DOUBLE_EQ(d.offer[1], 200 * GiB);
  auto& roles = s.input().roles;
  EXPECT_FALSE(roles[static_cast<size_t>(s.role_index("prod"))].below_guarantee);  // 95 >= 50.
  EXPECT_FALSE(roles[static_cast<size_t>(s.role_index("prod/etl"))].below_guarantee);
}

TEST(scenario, an_offer_clipped_below_the_smallest_task_is_not_made) {
  compiled p(std::string(drf) + R"(roles { role "dev" { limit {cpus: 10}; } })");
  cluster_spec c;
  c.agents.push_back(agent("a1", res(64, 256)));
  c.frameworks.push_back(framework("d", "dev", res(4, 8)));
  c.role_allocation["dev"] = res(7, 0);
  scenario s(p.program.prog, p.outline, c);
  auto d = s.decide(0, 0);
  EXPECT_TRUE(d.accepted);  // The agent itself fits ...
  EXPECT_FALSE(d.offered);  // ... but only 3 cpus are left for the role.
  EXPECT_DOUBLE_EQ(d.offer[0], 0);
}

TEST(scenario, filters_are_all_evaluated_and_the_first_failure_named) {
  compiled p(std::string(drf) + R"(filter big: agent.total.cpus >= 32;
score free_cpus weight 2: agent.free.cpus / agent.total.cpus;
)");
  cluster_spec c;
  c.agents.push_back(agent("small", res(2, 4)));
  c.agents.push_back(agent("wide", res(16, 64), res(16, 0)));
  c.agents.push_back(agent("huge", res(48, 64), res(16, 0)));
  c.frameworks.push_back(framework("f", "r", res(4, 8)));
  scenario s(p.program.prog, p.outline, c);
  auto d = s.decide(0, 0);
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.rejected_by, "fits");
  EXPECT_EQ(d.rules.at("big").number, 0);  // Evaluated although `fits` failed.
  auto huge = s.decide(0, 2);
  EXPECT_TRUE(huge.offered);
  EXPECT_DOUBLE_EQ(huge.score, 2 * 48.0 / 64.0);
  EXPECT_EQ(s.candidates(0), (std::vector<std::string>{"huge", "wide"}));  // 1.5 before 1.0.
}

TEST(scenario, delay_scheduling_levels_follow_the_waits) {
  compiled p(std::string(drf) + R"(locality when (framework.labels.rack ?? "") != "" {
  level rack when agent.attributes.rack == framework.labels.rack wait 5s;
  level near when (agent.attributes.zone ?? "") == "z1" wait 10s;
  level any;
})",
             rack_schema);
  cluster_spec c;
  auto a = agent("a1", res(8, 8));
  a.attributes = {{"rack", "r1"}, {"zone", "z1"}};
  auto b = agent("a2", res(8, 8));
  b.attributes = {{"rack", "r2"}, {"zone", "z1"}};
  auto far = agent("a3", res(8, 8));
  far.attributes = {{"rack", "r3"}, {"zone", "z2"}};
  c.agents = {a, b, far};
  for (double waited : {0.0, 4.9, 5.0, 14.9, 15.0}) {
    auto f = framework("w" + std::to_string(static_cast<int>(waited * 10)), "r");
    f.view.labels["rack"] = "r1";
    f.view.waiting = waited;
    c.frameworks.push_back(f);
  }
  auto pinned = framework("pinned", "r");
  pinned.view.labels["rack"] = "r1";
  pinned.view.waiting = 100;
  pinned.level = "rack";
  c.frameworks.push_back(pinned);
  c.frameworks.push_back(framework("free", "r"));  // Guard false: no locality.
  scenario s(p.program.prog, p.outline, c);
  std::vector<std::string> levels;
  for (size_t f = 0; f < 5; ++f) levels.push_back(s.level(f));
  EXPECT_EQ(levels, (std::vector<std::string>{"rack", "rack", "near", "near", "any"}));
  EXPECT_EQ(s.input().frameworks[2].locality_level, "near");
  EXPECT_EQ(s.candidates(0), (std::vector<std::string>{"a1"}));
  EXPECT_EQ(s.candidates(2), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(s.candidates(4), (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(s.decide(0, 2).level, "any");
  EXPECT_EQ(s.level(5), "rack");  // A given level wins over the waiting time.
  EXPECT_EQ(s.level(6), "");
  EXPECT_EQ(s.candidates(6).size(), 3u);
}

TEST(scenario, metrics_are_read_per_role_or_per_cycle) {
  compiled p(std::string(drf) + R"(metric gauge agora_policy_share_ratio {role}
  help "Share" every cycle = dominant_share(role);
metric gauge agora_policy_agents_count help "Agents" every cycle = cluster.agents;
)");
  cluster_spec c;
  c.agents.push_back(agent("a1", res(10, 10)));
  c.agents.push_back(agent("a2", res(10, 10)));
  c.frameworks.push_back(framework("f", "r"));
  c.role_allocation["r"] = res(5, 0);
  scenario s(p.program.prog, p.outline, c);
  std::string error;
  auto share = s.metric("agora_policy_share_ratio", "r", error);
  ASSERT_TRUE(share) << error;
  EXPECT_DOUBLE_EQ(share->number, 0.25);
  auto agents = s.metric("agora_policy_agents_count", "", error);
  ASSERT_TRUE(agents) << error;
  EXPECT_DOUBLE_EQ(agents->number, 2);
  EXPECT_FALSE(s.metric("agora_policy_share_ratio", "", error));
  EXPECT_NE(error.find("per role"), std::string::npos) << error;
  EXPECT_FALSE(s.metric("agora_policy_nope", "", error));
  EXPECT_FALSE(s.metric("agora_policy_share_ratio", "missing", error));
}

TEST(scenario, cluster_fixtures_are_generated_from_their_names) {
  std::vector<agent_view> agents;
  ASSERT_TRUE(cluster_fixture("two_racks_64_agents", agents));
  ASSERT_EQ(agents.size(), 64u);
  EXPECT_EQ(agents[0].id, "a1");
  EXPECT_EQ(agents[0].attributes.at("rack"), "r1");
  EXPECT_EQ(agents[1].attributes.at("rack"), "r2");
  EXPECT_EQ(agents[1].attributes.at("zone"), "z1");
  EXPECT_DOUBLE_EQ(agents[63].total[0], 32);
  EXPECT_DOUBLE_EQ(agents[63].free[1], 128 * GiB);
  ASSERT_TRUE(cluster_fixture("4_racks_8_agents", agents));
  EXPECT_EQ(agents[2].attributes.at("zone"), "z2");
  for (auto* bad :
       {"", "racks", "two_racks", "two_racks__agents", "zero_racks_4_agents", "two_racks_0_agents",
        "x_racks_4_agents", "two_racks_4_agentsx", "two_racks_9999999_agents"})
    EXPECT_FALSE(cluster_fixture(bad, agents)) << bad;
}

}  // namespace
}  // namespace agora::policy
