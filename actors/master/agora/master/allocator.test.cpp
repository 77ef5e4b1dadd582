#include "agora/master/allocator.hpp"

#include <gtest/gtest.h>

namespace agora::master {
namespace {

constexpr int64_t gib = int64_t{1} << 30;

resources res(double cpus, int64_t mem_gib) { return resources::make(cpus, mem_gib * gib); }

TEST(allocator, offers_whole_free_agent_to_one_framework) {
  allocator a;
  a.add_agent("a1", res(4, 8));
  a.add_framework("f1", {"dev"});
  auto offers = a.allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework_id, "f1");
  EXPECT_EQ(offers[0].role, "dev");
  EXPECT_EQ(offers[0].res, res(4, 8));
  // Everything is allocated now: a second cycle offers nothing.
  EXPECT_TRUE(a.allocate().empty());
  EXPECT_TRUE(a.agent_free("a1").empty());
}

TEST(allocator, drf_orders_roles_by_dominant_share) {
  // Cluster: 10 cpus, 100 GiB (two agents of 5 cpus, 50 GiB).
  allocator a;
  a.add_agent("a1", res(5, 50));
  a.add_agent("a2", res(5, 50));
  a.add_framework("cpu-heavy", {"A"});
  a.add_framework("mem-heavy", {"B"});
  // Give A 3 cpus + 10 GiB on a1: shares cpu 3/10 = 0.3, mem 10/100 = 0.1 -> 0.3.
  // Give B 1 cpu + 40 GiB on a2: shares cpu 0.1, mem 0.4 -> 0.4.
  a.add_agent("a1", res(5, 50), {{"cpu-heavy", {{"A", res(3, 10)}}}});
  a.add_agent("a2", res(5, 50), {{"mem-heavy", {{"B", res(1, 40)}}}});
  EXPECT_DOUBLE_EQ(a.role_share("A"), 0.3);
  EXPECT_DOUBLE_EQ(a.role_share("B"), 0.4);
  // A (0.3) is served before B (0.4); the default policy's declared roles
  // (batch, dev, prod) hold nothing, so they come first.
  EXPECT_EQ(a.role_order(), (std::vector<std::string>{"batch", "dev", "prod", "A", "B"}));
}

TEST(allocator, progressive_filling_alternates_between_equal_frameworks) {
  // Four identical agents, two frameworks in two roles: each offer raises the
  // receiver's share by 1/4, so the other one is served next: 2 agents each.
  allocator a;
  for (auto id : {"a1", "a2", "a3", "a4"}) a.add_agent(id, res(1, 1));
  a.add_framework("f1", {"r1"});
  a.add_framework("f2", {"r2"});
  auto offers = a.allocate();
  ASSERT_EQ(offers.size(), 4u);
  int f1 = 0;
  for (const auto& o : offers) f1 += o.framework_id == "f1";
  EXPECT_EQ(f1, 2);
  EXPECT_DOUBLE_EQ(a.role_share("r1"), 0.5);
  EXPECT_DOUBLE_EQ(a.role_share("r2"), 0.5);
}

TEST(allocator, weights_scale_shares) {
  // Three agents of 1 cpu; weight(prod) = 2, weight(dev) = 1.
  // Tie at 0 -> "dev" < "prod" by name: dev gets a1 (dev: 1/3 / 1 = 0.333).
  // prod: 0/2 = 0 -> prod gets a2 (prod: 1/3 / 2 = 0.167).
  // prod: 0.167 < dev 0.333 -> prod gets a3 (prod: 2/3 / 2 = 0.333).
  allocator a;
  a.set_weight("prod", 2);
  for (auto id : {"a1", "a2", "a3"}) a.add_agent(id, res(1, 1));
  a.add_framework("p", {"prod"});
  a.add_framework("d", {"dev"});
  auto offers = a.allocate();
  ASSERT_EQ(offers.size(), 3u);
  int prod = 0;
  for (const auto& o : offers) prod += o.role == "prod";
  EXPECT_EQ(prod, 2);
  EXPECT_NEAR(a.role_share("prod"), 1.0 / 3.0, 1e-12);
}

TEST(allocator, decline_filter_blocks_until_expiry) {
  allocator a;
  auto t0 = clock_type::now();
  a.add_agent("a1", res(2, 2));
  a.add_framework("f1", {"r"});
  auto offers = a.allocate(t0);
  ASSERT_EQ(offers.size(), 1u);
  a.recover("f1", "r", "a1", offers[0].res, std::chrono::seconds{5}, t0);
  EXPECT_EQ(a.filter_count(t0), 1u);
  EXPECT_TRUE(a.allocate(t0 + std::chrono::seconds{1}).empty());
  // Another framework is not filtered.
  a.add_framework("f2", {"r"});
  auto other = a.allocate(t0 + std::chrono::seconds{1});
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].framework_id, "f2");
  a.recover("f2", "r", "a1", other[0].res);
  a.remove_framework("f2");
  // After expiry f1 gets the agent again.
  auto later = a.allocate(t0 + std::chrono::seconds{6});
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].framework_id, "f1");
}

TEST(allocator, filter_applies_only_to_refused_resources) {
  allocator a;
  auto t0 = clock_type::now();
  a.add_agent("a1", res(4, 4));
  a.add_framework("f1", {"r"});
  auto offers = a.allocate(t0);
  ASSERT_EQ(offers.size(), 1u);
  // Keep 2 cpus/2 GiB (as if a task used them); decline the rest for 10 s.
  a.recover("f1", "r", "a1", res(2, 2), std::chrono::seconds{10}, t0);
  EXPECT_TRUE(a.allocate(t0).empty());
  // When the task's resources return too, more is free than was refused, so
  // the filter no longer covers the offer (Mesos semantics).
  a.recover("f1", "r", "a1", res(2, 2), std::chrono::milliseconds{0}, t0);
  auto again = a.allocate(t0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].res, res(4, 4));
}

TEST(allocator, revive_clears_filters_and_suppress_stops_offers) {
  allocator a;
  auto t0 = clock_type::now();
  a.add_agent("a1", res(1, 1));
  a.add_framework("f1", {"r"});
  auto o = a.allocate(t0);
  a.recover("f1", "r", "a1", o.at(0).res, std::chrono::seconds{60}, t0);
  EXPECT_TRUE(a.allocate(t0).empty());
  a.revive("f1", {});
  o = a.allocate(t0);
  ASSERT_EQ(o.size(), 1u);
  a.recover("f1", "r", "a1", o[0].res, std::chrono::milliseconds{0}, t0);
  a.suppress("f1", {});
  EXPECT_TRUE(a.allocate(t0).empty());
  a.revive("f1", {"r"});
  EXPECT_EQ(a.allocate(t0).size(), 1u);
}

TEST(allocator, inactive_frameworks_and_agents_get_nothing) {
  allocator a;
  a.add_agent("a1", res(1, 1));
  a.add_framework("f1", {"r"});
  a.set_framework_active("f1", false);
  EXPECT_TRUE(a.allocate().empty());
  a.set_framework_active("f1", true);
  a.set_agent_active("a1", false);
  EXPECT_TRUE(a.allocate().empty());
  a.set_agent_active("a1", true);
  EXPECT_EQ(a.allocate().size(), 1u);
}

TEST(allocator, removing_an_agent_shrinks_the_cluster) {
  allocator a;
  a.add_agent("a1", res(2, 2));
  a.add_agent("a2", res(2, 2));
  EXPECT_EQ(a.cluster_total(), res(4, 4));
  a.remove_agent("a1");
  EXPECT_EQ(a.cluster_total(), res(2, 2));
  a.add_framework("f1", {"r"});
  auto o = a.allocate();
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].agent_id, "a2");
}

TEST(allocator, tiny_leftovers_are_not_offered) {
  // 5 milli-cpus and 16 MiB are below the minimum allocatable (0.01 cpus or 32 MiB).
  allocator a;
  a.add_agent("a1", resources::make(0.005, 16 << 20));
  a.add_framework("f1", {"r"});
  EXPECT_TRUE(a.allocate().empty());
}

}  // namespace
}  // namespace agora::master
