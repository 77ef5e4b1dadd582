#include "agora/policy/allocation_core.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "agora/policy/policy_outline.hpp"

namespace agora::policy {
namespace {

using namespace std::chrono_literals;
using time_point = allocation_core::time_point;

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;
constexpr int64_t gib = int64_t{1} << 30;

runnable_policy load(const std::string& file) {
  auto p = load_policy_file(examples + "/" + file);
  EXPECT_TRUE(p.ok()) << p.render_errors();
  return {p.prog, p.outline};
}

amounts make(double cpus, double mem_gib, double gpus = 0) {
  amounts a{};
  a[0] = static_cast<int64_t>(cpus * 1000);
  a[1] = static_cast<int64_t>(mem_gib * static_cast<double>(gib));
  a[3] = static_cast<int64_t>(gpus * 1000);
  return a;
}

amounts plus(amounts a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] += b[i];
  return a;
}

amounts minus(amounts a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] -= b[i];
  return a;
}

runnable_policy runtime_policy_of(const policy_load& p) { return {p.prog, p.outline}; }

/// Returns the examples' cluster.schema.
std::string schema_text() {
  std::string error;
  auto s = source_file::load(examples + "/cluster.schema", error);
  EXPECT_TRUE(s.has_value()) << error;
  return s ? s->text() : "";
}

framework_spec fw(const std::string& id, std::vector<std::string> roles) {
  framework_spec s;
  s.id = id;
  s.roles = std::move(roles);
  return s;
}

TEST(allocation_core, integer_units_keep_sums_exact) {
  // 0.1 + 0.2 cores is 300 milli-cores exactly, and fits into 0.3.
  auto a = to_amounts({0.1, 0, 0, 0, 0, 0, 0, 0});
  auto b = to_amounts({0.2, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(plus(a, b)[0], 300);
  EXPECT_TRUE(fits_in(plus(a, b), to_amounts({0.3, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_EQ(to_amounts({std::numeric_limits<double>::infinity(), 0, 0, 0, 0, 0, 0, 0})[0],
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(to_amounts({-1, std::nan(""), 0, 0, 0, 0, 0, 0})[1], 0);
  EXPECT_DOUBLE_EQ(to_res_vec(make(1.5, 2))[0], 1.5);
}

TEST(allocation_core, progressive_filling_serves_the_smallest_share_one_agent_at_a_time) {
  // drf.policy, four agents of 1 cpu, two frameworks in two roles: each offer
  // raises the receiver's share by 1/4, so they alternate: two agents each.
  allocation_core core(load("drf.policy"));
  for (auto id : {"a1", "a2", "a3", "a4"}) core.add_agent(id, id, {}, make(1, 1));
  core.add_framework(fw("f1", {"r1"}));
  core.add_framework(fw("f2", {"r2"}));
  auto offers = core.allocate(time_point{});
  ASSERT_EQ(offers.size(), 4u);
  std::map<std::string, int> per;
  for (auto& o : offers) ++per[o.framework_id];
  EXPECT_EQ(per["f1"], 2);
  EXPECT_EQ(per["f2"], 2);
  EXPECT_EQ(core.check_invariants(), "");
}

TEST(allocation_core, a_framework_with_a_demand_stops_when_it_is_covered) {
  // f1 wants 2 cpus: it gets two 1-cpu agents and no more; f2 (no demand)
  // gets the rest. Without the demand f1 would get half the agents (3).
  allocation_core core(load("drf.policy"));
  for (int i = 0; i < 6; ++i) core.add_agent("a" + std::to_string(i), "", {}, make(1, 1));
  auto f1 = fw("f1", {"r1"});
  f1.demand = make(2, 0);
  core.add_framework(f1);
  core.add_framework(fw("f2", {"r2"}));
  std::map<std::string, int> per;
  for (auto& o : core.allocate(time_point{})) ++per[o.framework_id];
  EXPECT_EQ(per["f1"], 2);
  EXPECT_EQ(per["f2"], 4);
}

TEST(allocation_core, fair_share_is_capped_by_demand_and_the_rest_goes_to_the_others) {
  // Three roles of weight 1 (drf.policy) and a 10-cpu cluster. a wants 1
  // cpu (share 0.1), below its even third: it is capped at 0.1 and b and c
  // split the remaining 0.9 (0.45 each).
  allocation_core core(load("drf.policy"));
  core.add_agent("big", "", {}, make(10, 10));
  auto a = fw("fa", {"a"});
  a.demand = make(1, 0);
  core.add_framework(a);
  core.add_framework(fw("fb", {"b"}));
  core.add_framework(fw("fc", {"c"}));
  auto& view = core.view();
  EXPECT_DOUBLE_EQ(view.roles[static_cast<size_t>(core.role_index("a"))].fair_share, 0.1);
  EXPECT_DOUBLE_EQ(view.roles[static_cast<size_t>(core.role_index("b"))].fair_share, 0.45);
  EXPECT_DOUBLE_EQ(view.roles[static_cast<size_t>(core.role_index("c"))].fair_share, 0.45);
}

TEST(allocation_core, suppressed_or_inactive_frameworks_leave_their_role_out_of_fair_shares) {
  // Two roles of weight 1: each is entitled to half. When b's only
  // framework suppresses offers (or disconnects), b is not active and a's
  // fair share is the whole cluster, as Mesos deactivates suppressed
  // frameworks in its sorters.
  allocation_core core(load("drf.policy"));
  core.add_agent("a1", "", {}, make(4, 4));
  core.add_framework(fw("fa", {"a"}));
  core.add_framework(fw("fb", {"b"}));
  auto share = [&](const char* role) {
    return core.view().roles[static_cast<size_t>(core.role_index(role))].fair_share;
  };
  auto active = [&](const char* role) {
    return core.view().roles[static_cast<size_t>(core.role_index(role))].active;
  };
  EXPECT_DOUBLE_EQ(share("a"), 0.5);
  core.suppress("fb", {});
  EXPECT_FALSE(active("b"));
  EXPECT_DOUBLE_EQ(share("a"), 1.0);
  core.revive("fb", {});
  EXPECT_TRUE(active("b"));
  EXPECT_DOUBLE_EQ(share("a"), 0.5);
  core.set_framework_active("fb", false);
  EXPECT_DOUBLE_EQ(share("a"), 1.0);
}

TEST(allocation_core, on_offer_metrics_are_evaluated_for_every_offer) {
  // observability.policy: `agora_policy_offers_total {role, locality} on
  // offer += 1` and `agora_policy_offer_mem_bytes {role} ... on offer
  // observe offer.res.mem`. Two agents of 4 and 8 GiB, one framework: two
  // offers, so two updates of each metric with the offers' memory.
  allocation_core core(load("observability.policy"));
  core.collect_event_samples(true);
  core.add_agent("a1", "", {{"rack", "r1"}}, make(2, 4));
  core.add_agent("a2", "", {{"rack", "r2"}}, make(2, 8));
  core.add_framework(fw("f", {"web"}));
  ASSERT_EQ(core.allocate(time_point{}).size(), 2u);
  auto samples = core.take_event_samples();
  ASSERT_EQ(samples.size(), 4u);
  double offers = 0, mem = 0;
  for (auto& s : samples) {
    if (s.name == "agora_policy_offers_total") {
      offers += s.value;
      EXPECT_EQ(s.labels, (std::vector<std::pair<std::string, std::string>>{{"role", "web"},
                                                                            {"locality", ""}}));
    } else {
      EXPECT_EQ(s.name, "agora_policy_offer_mem_bytes");
      mem += s.value;
    }
  }
  EXPECT_EQ(offers, 2);
  EXPECT_EQ(mem, static_cast<double>(12 * gib));
  EXPECT_TRUE(core.take_event_samples().empty());
  // An event metric may read the offer and cluster values, not a framework's.
  auto bad = load_policy_text("e.policy", R"(policy "e" version 1;
use std.fairness;
order roles by dominant_share(role) asc, role.name asc;
order frameworks by framework.id asc;
metric counter agora_policy_x_total {role} help "x" on offer += framework.allocated.cpus;
)");
  EXPECT_FALSE(bad.ok());
}

TEST(allocation_core, on_decline_metrics_count_declines_that_match_their_condition) {
  // A decline returns resources with a filter. The counter counts declines
  // of more than 1 cpu: a1's 2 cpus count, a2's 1 cpu does not, and a
  // recovery without a filter (a task ending) is no decline.
  auto p = load_policy_text("d.policy", R"(policy "d" version 1;
use std.fairness;
order roles by dominant_share(role) asc, role.name asc;
order frameworks by framework.id asc;
metric counter agora_policy_declines_total {role} help "Declines of more than a cpu"
  on decline when offer.res.cpus > 1 += 1;
)");
  ASSERT_TRUE(p.ok()) << p.render_errors();
  allocation_core core(runnable_policy{p.prog, p.outline});
  core.collect_event_samples(true);
  core.add_agent("a1", "", {}, make(2, 1));
  core.add_agent("a2", "", {}, make(1, 1));
  core.add_framework(fw("f", {"batch"}));
  ASSERT_EQ(core.allocate(time_point{}).size(), 2u);
  core.recover("f", "batch", "a1", make(2, 1), 5000ms, time_point{});
  core.recover("f", "batch", "a2", make(1, 1), 5000ms, time_point{});
  auto samples = core.take_event_samples();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].name, "agora_policy_declines_total");
  EXPECT_EQ(samples[0].labels,
            (std::vector<std::pair<std::string, std::string>>{{"role", "batch"}}));
  core.allocate(time_point{} + 10s);
  core.take_event_samples();
  core.recover("f", "batch", "a1", make(2, 1), 0ms, time_point{} + 10s);
  EXPECT_TRUE(core.take_event_samples().empty());
}

TEST(allocation_core, launch_finish_and_relax_metrics_follow_their_events) {
  auto p = load_policy_text("t.policy", R"(policy "t" version 1;
use std.fairness;
order roles by dominant_share(role) asc, role.name asc;
order frameworks by framework.id asc;
locality when (framework.labels.data_racks ?? "") != "" {
  level rack when agent.attributes.rack == framework.labels.data_racks wait 5s;
  level any;
}
metric counter agora_policy_launches_total {role} help "Tasks launched" on launch += 1;
metric histogram agora_policy_task_runtime_seconds {role} help "Task run times"
  buckets [1s, 10s, 100s] on finish observe task.runtime;
metric counter agora_policy_relaxed_total {level} help "Relaxations" on relax += 1;
)",
                            schema_text());
  ASSERT_TRUE(p.ok()) << p.render_errors();
  allocation_core core(runtime_policy_of(p));
  core.collect_event_samples(true);
  core.add_agent("a2", "", {{"rack", "r2"}}, make(2, 2));
  core.task_event("launch", "f", "batch", "a2", make(1, 1), 0);
  core.task_event("finish", "f", "batch", "a2", make(1, 1), 42);
  auto samples = core.take_event_samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].name, "agora_policy_launches_total");
  EXPECT_EQ(samples[0].value, 1);
  EXPECT_EQ(samples[1].name, "agora_policy_task_runtime_seconds");
  EXPECT_EQ(samples[1].value, 42);
  EXPECT_EQ(samples[1].labels,
            (std::vector<std::pair<std::string, std::string>>{{"role", "batch"}}));
  // A framework that wants rack r1 (there is only r2) waits at `rack`;
  // after 5 s it moves to `any`: one relax event to level `any`.
  auto f = fw("f", {"batch"});
  f.labels["data_racks"] = "r1";
  core.add_framework(f);
  EXPECT_TRUE(core.allocate(time_point{}).empty());
  EXPECT_TRUE(core.take_event_samples().empty());
  EXPECT_EQ(core.allocate(time_point{} + 6s).size(), 1u);
  samples = core.take_event_samples();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].name, "agora_policy_relaxed_total");
  EXPECT_EQ(samples[0].labels,
            (std::vector<std::pair<std::string, std::string>>{{"level", "any"}}));
  // An r1 agent arrives: the offer there is rack-local and resets the wait,
  // so the framework is back at `rack`. Moving back is not a relaxation.
  core.add_agent("a1", "", {{"rack", "r1"}}, make(2, 2));
  ASSERT_EQ(core.allocate(time_point{} + 7s).size(), 1u);
  core.recover("f", "batch", "a1", make(1, 1), 0ms, time_point{} + 8s);
  EXPECT_EQ(core.allocate(time_point{} + 8s).size(), 1u);
  EXPECT_EQ(core.level("f"), "rack");
  EXPECT_TRUE(core.take_event_samples().empty());
  EXPECT_EQ(core.relaxations(),
            (std::map<std::pair<std::string, std::string>, uint64_t>{{{"rack", "any"}, 1}}));
}

TEST(allocation_core, a_policy_swap_keeps_locality_waits_at_levels_that_still_exist) {
  // A framework wants rack r1; only r2 exists. Under A it waits at `rack`
  // (wait 5s). At 3s the policy becomes B, which also has `rack` (plus a
  // `near` level): the 3 s carry over, so at 6s it has waited 6 s and moves
  // on. Under C, whose levels are named differently, the wait starts again.
  auto policy = [&](const std::string& levels) {
    auto p = load_policy_text("l.policy", R"(policy "l" version 1;
use std.fairness;
order roles by dominant_share(role) asc, role.name asc;
order frameworks by framework.id asc;
locality when (framework.labels.data_racks ?? "") != "" {
)" + levels + "}\n",
                              schema_text());
    EXPECT_TRUE(p.ok()) << p.render_errors();
    return runtime_policy_of(p);
  };
  auto a = policy(
      "level rack when agent.attributes.rack == framework.labels.data_racks wait 5s;\n"
      "level any;\n");
  auto b = policy(
      "level rack when agent.attributes.rack == framework.labels.data_racks wait 5s;\n"
      "level near when agent.attributes.zone == \"z9\" wait 1h;\nlevel any;\n");
  auto c = policy(
      "level local when agent.attributes.rack == framework.labels.data_racks wait 5s;\n"
      "level any;\n");
  for (bool renamed : {false, true}) {
    allocation_core core(a);
    core.add_agent("a2", "", {{"rack", "r2"}, {"zone", "z1"}}, make(2, 2));
    auto f = fw("f", {"batch"});
    f.labels["data_racks"] = "r1";
    core.add_framework(f);
    EXPECT_TRUE(core.allocate(time_point{}).empty());  // Starts waiting at `rack`.
    EXPECT_TRUE(core.allocate(time_point{} + 3s).empty());
    core.set_policy(renamed ? c : b);
    EXPECT_TRUE(core.allocate(time_point{} + 4s).empty());
    auto at6 = core.allocate(time_point{} + 6s);
    if (!renamed) {
      // B: 6 s waited at `rack` (past 5 s), `near` matches nothing and
      // waits an hour, so it is still not offered; its level is `near`.
      EXPECT_TRUE(at6.empty());
      EXPECT_EQ(core.level("f"), "near");
    } else {
      // C: waiting restarted at 4 s, so at 6 s it is still at `local`.
      EXPECT_TRUE(at6.empty());
      EXPECT_EQ(core.level("f"), "local");
    }
  }
}

TEST(allocation_core, limits_clip_offers_along_the_whole_path) {
  // quotas.policy: prod/etl is limited to 150 cpus, prod to 400. etl holds
  // 140 elsewhere, so a 64-cpu agent is offered with 10 cpus.
  allocation_core core(load("quotas.policy"));
  core.add_agent("a1", "", {{"rack", "r1"}, {"zone", "z1"}}, make(64, 256));
  core.add_framework(fw("etl-1", {"prod/etl"}));
  core.add_external("prod/etl", "", make(140, 300));
  auto offers = core.allocate(time_point{});
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].res[0], 10'000);
  EXPECT_EQ(core.role_allocation("prod")[0], 150'000);
  EXPECT_EQ(core.check_invariants(), "");
}

TEST(allocation_core, hold_headroom_keeps_unmet_guarantees_free) {
  // A guarantee of 6 cpus for `gold` (nothing held yet) and 10 cpus in all:
  // under hold_headroom, `other` may take only 4; under best_effort all 10.
  const std::string roles = R"(policy "h" version 1;
use std.fairness;
roles { role "gold" { guarantee {cpus: 6}; } }
order roles by dominant_share(role) asc, role.name asc;
order frameworks by framework.id asc;
)";
  for (bool hold : {true, false}) {
    auto p = load_policy_text(
        "h.policy", roles + (hold ? "guarantees hold_headroom;\n" : "guarantees best_effort;\n"));
    ASSERT_TRUE(p.ok()) << p.render_errors();
    allocation_core core(runnable_policy{p.prog, p.outline});
    core.add_agent("a1", "", {}, make(10, 10));
    core.add_framework(fw("o", {"other"}));
    auto offers = core.allocate(time_point{});
    ASSERT_EQ(offers.size(), 1u);
    EXPECT_EQ(offers[0].res[0], hold ? 4'000 : 10'000) << (hold ? "hold_headroom" : "best_effort");
  }
}

TEST(allocation_core, recovering_twice_returns_nothing_the_second_time) {
  allocation_core core(load("drf.policy"));
  core.add_agent("a1", "", {}, make(4, 4));
  core.add_framework(fw("f1", {"r"}));
  auto offers = core.allocate(time_point{});
  ASSERT_EQ(offers.size(), 1u);
  auto back = core.recover("f1", "r", "a1", make(4, 4), 0ms, time_point{});
  EXPECT_EQ(back, make(4, 4));
  back = core.recover("f1", "r", "a1", make(4, 4), 0ms, time_point{});
  EXPECT_TRUE(is_zero(back));
  EXPECT_TRUE(is_zero(core.role_allocation("r")));
  EXPECT_EQ(core.check_invariants(), "");
}

TEST(allocation_core, removing_an_agent_undoes_what_its_frameworks_held_there) {
  allocation_core core(load("drf.policy"));
  core.add_agent("a1", "", {}, make(4, 4), {{"f1", {{"r", make(1, 1)}}}});
  core.add_agent("a2", "", {}, make(4, 4), {{"f1", {{"r", make(2, 1)}}}});
  EXPECT_EQ(core.framework_allocation("f1"), make(3, 2));
  core.remove_agent("a1");
  EXPECT_EQ(core.framework_allocation("f1"), make(2, 1));
  EXPECT_EQ(core.role_allocation("r"), make(2, 1));
  // Re-registering replaces the agent's holdings instead of adding them.
  core.add_agent("a2", "", {}, make(4, 4), {{"f1", {{"r", make(1, 1)}}}});
  EXPECT_EQ(core.role_allocation("r"), make(1, 1));
  EXPECT_EQ(core.check_invariants(), "");
}

TEST(allocation_core, explain_counts_every_agent_once_by_what_stops_it) {
  // gpu_isolation.policy. A framework whose smallest task needs an H100:
  // three plain agents fail `fits` (no GPU), two A100 agents fail
  // `right_model`, one more A100 is inactive, one H100 is offerable.
  allocation_core core(load("gpu_isolation.policy"));
  for (auto id : {"p1", "p2", "p3"}) core.add_agent(id, "", {{"rack", "r1"}}, make(8, 8));
  for (auto id : {"g1", "g2", "g3"})
    core.add_agent(id, "", {{"rack", "r1"}, {"gpu_model", "a100"}}, make(8, 8, 2));
  core.add_agent("h1", "", {{"rack", "r1"}, {"gpu_model", "h100"}}, make(8, 8, 2));
  core.set_agent_active("g3", false);
  auto f = fw("ml", {"research"});
  f.min_request = make(1, 1, 1);
  f.labels["gpu_model"] = "h100";
  core.add_framework(f);
  auto e = core.explain("ml", "g1", time_point{});
  ASSERT_TRUE(e.known);
  EXPECT_EQ(e.agents, 7u);
  EXPECT_EQ(e.inactive_agents, 1u);
  EXPECT_EQ(e.rejected_by["fits"], 3u);
  EXPECT_EQ(e.rejected_by["right_model"], 2u);
  EXPECT_EQ(e.offerable, 1u);
  size_t sum = e.inactive_agents + e.no_usable_resources + e.wrong_level + e.declined +
               e.too_small + e.offerable;
  for (auto& [filter, n] : e.rejected_by) sum += n;
  EXPECT_EQ(sum, e.agents);
  ASSERT_EQ(e.best.size(), 1u);
  EXPECT_EQ(e.best[0].agent, "h1");
  // keep_gpus_free (weight 5) gives a GPU framework 1.0: contribution 5.
  ASSERT_EQ(e.best[0].contributions.size(), 1u);
  EXPECT_DOUBLE_EQ(e.best[0].contributions[0].second, 5.0);
  ASSERT_TRUE(e.pair.has_value());
  EXPECT_EQ(e.pair->rejected_by, "right_model");
  EXPECT_EQ(e.role_position, 1u);
  EXPECT_EQ(e.path.front().role, "research");
  EXPECT_FALSE(core.explain("nobody", "", time_point{}).known);
}

/// A seeded random walk over every kind of event, with an independent
/// ledger of what each (framework, role, agent) holds. After each event the
/// core's own invariants hold and its sums equal the ledger's.
class random_events {
 public:
  /// With `compare_orders`, a second core that rebuilds its orders every
  /// cycle receives the same events and must make the same offers.
  explicit random_events(uint32_t seed, bool compare_orders = false)
      : rng_(seed), compare_orders_(compare_orders) {}

  void run(size_t steps) {
    policies_ = {load("drf.policy"), load("weighted_drf.policy"), load("quotas.policy"),
                 load("binpack.policy"), load("rack_local.policy")};
    // Framework keys that read their role's allocation: a change in the role
    // moves every framework of it.
    auto p = load_policy_text("role_keyed.policy", R"(policy "role-keyed" version 1;
use std.fairness;
order roles by dominant_share(role) asc, role.name asc;
order frameworks by dominant_share(framework) < 0.5 * dominant_share(role) desc, framework.id asc;
)");
    EXPECT_TRUE(p.ok()) << p.render_errors();
    policies_.push_back({p.prog, p.outline});
    allocation_core core(policies_[0]);
    core_ = &core;
    std::unique_ptr<allocation_core> twin;
    if (compare_orders_) {
      twin = std::make_unique<allocation_core>(policies_[0]);
      twin->keep_orders(false);
      twin_ = twin.get();
    }
    for (step_ = 0; step_ < steps; ++step_) {
      one_event();
      check();
      if (::testing::Test::HasFailure()) return;
    }
  }

 private:
  using key = std::tuple<std::string, std::string, std::string>;  // framework, role, agent

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  amounts random_part(const amounts& a) {
    amounts out{};
    for (size_t i = 0; i < max_resources; ++i)
      out[i] = a[i] <= 0 ? 0 : std::uniform_int_distribution<int64_t>(0, a[i])(rng_);
    return out;
  }

  void one_event() {
    now_ += std::chrono::milliseconds(pick(3000));
    static const std::vector<std::string> roles = {"prod",     "prod/web", "prod/etl", "dev",
                                                   "research", "batch",    "*"};
    switch (pick(14)) {
      case 0: {  // A new agent.
        std::string id = "a" + std::to_string(next_agent_++);
        auto total = make(1 + static_cast<double>(pick(64)), 1 + static_cast<double>(pick(256)),
                          chance(0.2) ? 2 : 0);
        totals_[id] = total;
        both().add_agent(id, id, {{"rack", "r" + std::to_string(pick(4))}, {"zone", "z1"}}, total);
        break;
      }
      case 1: {  // An agent leaves: what was held there is gone.
        if (totals_.empty()) break;
        auto id = nth(totals_, pick(totals_.size()));
        both().remove_agent(id);
        totals_.erase(id);
        for (auto it = ledger_.begin(); it != ledger_.end();)
          it = std::get<2>(it->first) == id ? ledger_.erase(it) : std::next(it);
        break;
      }
      case 2: {  // An agent re-registers reporting some of its tasks.
        if (totals_.empty()) break;
        auto id = nth(totals_, pick(totals_.size()));
        std::map<std::string, std::map<std::string, amounts>> used;
        for (auto it = ledger_.begin(); it != ledger_.end();) {
          if (std::get<2>(it->first) != id) {
            ++it;
            continue;
          }
          if (chance(0.7)) {
            used[std::get<0>(it->first)][std::get<1>(it->first)] = it->second;
            ++it;
          } else {
            it = ledger_.erase(it);  // A task the agent no longer runs.
          }
        }
        both().add_agent(id, id, {{"rack", "r1"}, {"zone", "z1"}}, totals_[id], used);
        // Frameworks only known from the report are added, inactive.
        for (auto& [f, by_role] : used) known_.insert(f);
        break;
      }
      case 3: {  // A framework subscribes (or re-subscribes with other roles).
        std::string id = chance(0.3) && !known_.empty() ? nth(known_, pick(known_.size()))
                                                        : "f" + std::to_string(next_fw_++);
        auto spec = fw(id, {roles[pick(roles.size())]});
        if (chance(0.3)) spec.roles.push_back(roles[pick(roles.size())]);
        if (spec.roles.size() == 2 && spec.roles[0] == spec.roles[1]) spec.roles.pop_back();
        if (chance(0.3)) spec.demand = make(1 + static_cast<double>(pick(20)), 0);
        if (chance(0.3)) spec.min_request = make(0.5, 0.25);
        if (chance(0.3)) spec.labels["data_racks"] = "r1,r2";
        both().add_framework(spec);
        known_.insert(id);
        break;
      }
      case 4: {  // A framework is removed; what it holds stays until recovered.
        if (known_.empty()) break;
        both().remove_framework(nth(known_, pick(known_.size())));
        break;
      }
      case 5:
      case 6:
      case 7: {  // A cycle.
        auto offers = core_->allocate(now_);
        if (twin_) {
          auto other = twin_->allocate(now_);
          ASSERT_EQ(describe(offers), describe(other)) << "step " << step_;
        }
        for (auto& o : offers) {
          auto& held = ledger_[{o.framework_id, o.role, o.agent_id}];
          held = plus(held, o.res);
          EXPECT_FALSE(is_zero(o.res));
        }
        break;
      }
      case 8:
      case 9: {  // A task ends or an accept uses part of an offer: some comes back.
        if (ledger_.empty()) break;
        auto it = std::next(ledger_.begin(), static_cast<long>(pick(ledger_.size())));
        recover(it->first, random_part(it->second), 0ms);
        break;
      }
      case 10: {  // A decline with a filter (sometimes twice: a stale retry).
        if (ledger_.empty()) break;
        auto it = std::next(ledger_.begin(), static_cast<long>(pick(ledger_.size())));
        auto k = it->first;
        auto all = it->second;
        recover(k, all, std::chrono::milliseconds(pick(10000)));
        if (chance(0.5)) recover(k, all, 0ms);
        break;
      }
      case 11: {  // Revive, suppress, activity.
        if (known_.empty()) break;
        auto id = nth(known_, pick(known_.size()));
        switch (pick(4)) {
          case 0:
            both().revive(id, {});
            break;
          case 1:
            both().suppress(
                id, chance(0.5) ? std::vector<std::string>{} : std::vector<std::string>{"dev"});
            break;
          case 2:
            both().set_framework_active(id, chance(0.5));
            break;
          default:
            if (!totals_.empty())
              both().set_agent_active(nth(totals_, pick(totals_.size())), chance(0.7));
        }
        break;
      }
      case 12: {  // A policy swap.
        both().set_policy(policies_[pick(policies_.size())]);
        break;
      }
      default: {  // Recovering for an agent that is gone, or too much.
        if (ledger_.empty()) break;
        auto it = std::next(ledger_.begin(), static_cast<long>(pick(ledger_.size())));
        recover(it->first, plus(it->second, make(1, 1)), 0ms);
      }
    }
  }

  void recover(const key& k, const amounts& res, std::chrono::milliseconds refuse) {
    auto& [f, role, agent] = k;
    auto back = core_->recover(f, role, agent, res, refuse, now_);
    if (twin_) twin_->recover(f, role, agent, res, refuse, now_);
    auto it = ledger_.find(k);
    amounts held = it == ledger_.end() ? amounts{} : it->second;
    amounts expected{};
    for (size_t i = 0; i < max_resources; ++i) expected[i] = std::min(held[i], res[i]);
    EXPECT_EQ(back, expected) << "step " << step_ << ": recover " << f << "@" << role << " on "
                              << agent;
    if (it != ledger_.end()) {
      it->second = minus(it->second, back);
      if (is_zero(it->second)) ledger_.erase(it);
    }
  }

  void check() {
    ASSERT_EQ(core_->check_invariants(), "") << "step " << step_;
    std::map<std::string, amounts> by_fw, by_role, by_agent;
    for (auto& [k, res] : ledger_) {
      by_fw[std::get<0>(k)] = plus(by_fw[std::get<0>(k)], res);
      by_agent[std::get<2>(k)] = plus(by_agent[std::get<2>(k)], res);
      // A role's allocation includes its descendants'.
      std::string path = std::get<1>(k);
      for (;;) {
        by_role[path] = plus(by_role[path], res);
        auto slash = path.rfind('/');
        if (slash == std::string::npos) break;
        path = path.substr(0, slash);
      }
    }
    for (auto& f : known_)
      ASSERT_EQ(core_->framework_allocation(f), by_fw[f]) << "step " << step_ << " framework " << f;
    for (auto& r : core_->roles())
      ASSERT_EQ(core_->role_allocation(r), by_role[r]) << "step " << step_ << " role " << r;
    for (auto& [id, total] : totals_)
      ASSERT_EQ(core_->agent_free(id), minus(total, by_agent[id]))
          << "step " << step_ << " agent " << id;
  }

  template <class C>
  static std::string nth(const C& c, size_t n) {
    auto it = std::next(c.begin(), static_cast<long>(n));
    if constexpr (std::is_same_v<typename C::value_type, std::string>)
      return *it;
    else
      return it->first;
  }

  /// Applies a change to the core and its twin: `both().add_agent(...)`.
  struct mirror {
    allocation_core* a;
    allocation_core* b;
    using attributes = std::map<std::string, std::string>;
    using holdings = std::map<std::string, std::map<std::string, amounts>>;
    using names = std::vector<std::string>;
    void add_agent(const std::string& id, const std::string& host, const attributes& attrs,
                   const amounts& total, const holdings& used = {}) {
      for (auto* c : {a, b})
        if (c) c->add_agent(id, host, attrs, total, used);
    }
    void remove_agent(const std::string& id) {
      for (auto* c : {a, b})
        if (c) c->remove_agent(id);
    }
    void add_framework(const framework_spec& spec) {
      for (auto* c : {a, b})
        if (c) c->add_framework(spec);
    }
    void remove_framework(const std::string& id) {
      for (auto* c : {a, b})
        if (c) c->remove_framework(id);
    }
    void revive(const std::string& id, const names& roles) {
      for (auto* c : {a, b})
        if (c) c->revive(id, roles);
    }
    void suppress(const std::string& id, const names& roles) {
      for (auto* c : {a, b})
        if (c) c->suppress(id, roles);
    }
    void set_framework_active(const std::string& id, bool active) {
      for (auto* c : {a, b})
        if (c) c->set_framework_active(id, active);
    }
    void set_agent_active(const std::string& id, bool active) {
      for (auto* c : {a, b})
        if (c) c->set_agent_active(id, active);
    }
    void set_policy(const runnable_policy& p) {
      for (auto* c : {a, b})
        if (c) c->set_policy(p);
    }
  };
  mirror both() { return {core_, twin_}; }

  static std::string describe(const std::vector<core_offer>& offers) {
    std::string out;
    for (auto& o : offers) {
      out += o.framework_id + "@" + o.role + " on " + o.agent_id + ":";
      for (auto x : o.res) out += " " + std::to_string(x);
      out += "\n";
    }
    return out;
  }

  std::mt19937 rng_;
  bool compare_orders_ = false;
  allocation_core* twin_ = nullptr;
  std::vector<runnable_policy> policies_;
  allocation_core* core_ = nullptr;
  time_point now_{};
  size_t step_ = 0, next_agent_ = 0, next_fw_ = 0;
  std::map<std::string, amounts> totals_;
  std::set<std::string> known_;
  std::map<key, amounts> ledger_;
};

TEST(allocation_core, orders_kept_between_cycles_give_the_offers_of_orders_rebuilt_each_cycle) {
  // The same random events go to a core that keeps its role and framework
  // orders between cycles (re-keying what changed) and to one that rebuilds
  // them every cycle: every cycle's offers must be the same.
  for (uint32_t seed : {11u, 12u, 13u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    random_events(seed, true).run(2000);
    if (HasFailure()) return;
  }
}

TEST(allocation_core, random_events_keep_the_accounting_exact) {
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    random_events(seed).run(3000);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace agora::policy
