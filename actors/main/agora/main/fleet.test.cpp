// Unit tests of `agora fleet`'s parsing and bookkeeping (the agents against
// a real master: tests/integration/fleet.test.cpp).

#include "agora/main/fleet.hpp"

#include <gtest/gtest.h>

namespace agora::main::fleet {
namespace {

using namespace std::chrono_literals;

TEST(fleet, plans_sleep_exit_true_false_from_the_command) {
  auto p = plan_task("sleep 1");
  EXPECT_TRUE(p.from_command);
  EXPECT_EQ(p.duration, 1000ms);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_EQ(plan_task("  sleep 0.25 ").duration, 250ms);
  EXPECT_EQ(plan_task("sleep 2m").duration, 120000ms);
  EXPECT_EQ(plan_task("sleep 1.5h").duration, 5400000ms);
  p = plan_task("exit 3");
  EXPECT_TRUE(p.from_command);
  EXPECT_EQ(p.duration, 0ms);
  EXPECT_EQ(p.exit_code, 3);
  EXPECT_EQ(plan_task("exit 0").exit_code, 0);
  EXPECT_TRUE(plan_task("true").from_command);
  EXPECT_EQ(plan_task("false").exit_code, 1);
  EXPECT_TRUE(plan_task("exit").from_command);
}

TEST(fleet, other_commands_take_the_task_duration) {
  EXPECT_FALSE(plan_task("echo hello").from_command);
  EXPECT_FALSE(plan_task("sleep 1; exit 3").from_command);
  EXPECT_FALSE(plan_task("sleep").from_command);
  EXPECT_FALSE(plan_task("sleep abc").from_command);
  EXPECT_FALSE(plan_task("sleep -1").from_command);
  EXPECT_FALSE(plan_task("exit 256").from_command);
  EXPECT_FALSE(plan_task("exit -1").from_command);
  EXPECT_FALSE(plan_task("sleepy 3").from_command);
  EXPECT_FALSE(plan_task("").from_command);
}

TEST(fleet, parses_and_draws_task_durations) {
  duration_dist d;
  std::string error;
  ASSERT_TRUE(duration_dist::parse("2s", d, error)) << error;
  EXPECT_EQ(d.draw(0.0), 2000ms);
  EXPECT_EQ(d.draw(0.99), 2000ms);
  EXPECT_EQ(d.to_string(), "2s");
  ASSERT_TRUE(duration_dist::parse("uniform:1s:3s", d, error)) << error;
  // [1000, 3000] ms: u = 0 gives the minimum, u -> 1 the maximum, u = 0.5
  // the middle: 1000 + floor(0.5 * 2001) = 2000.
  EXPECT_EQ(d.draw(0.0), 1000ms);
  EXPECT_EQ(d.draw(0.5), 2000ms);
  EXPECT_EQ(d.draw(0.99999999), 3000ms);
  EXPECT_EQ(d.to_string(), "uniform:1s:3s");
  ASSERT_TRUE(duration_dist::parse("exp:500ms", d, error)) << error;
  // Inverse transform: -ln(1 - u) * mean; u = 1 - 1/e gives the mean.
  EXPECT_EQ(d.draw(0.0), 0ms);
  EXPECT_NEAR(static_cast<double>(d.draw(1 - 1 / 2.718281828459045).count()), 500, 1);
  // Capped at 100 means.
  EXPECT_EQ(d.draw(1 - 1e-300), 50000ms);
  EXPECT_EQ(d.to_string(), "exp:500ms");
  EXPECT_FALSE(duration_dist::parse("2", d, error));
  EXPECT_FALSE(duration_dist::parse("uniform:3s:1s", d, error));
  EXPECT_NE(error.find("below the minimum"), std::string::npos) << error;
  EXPECT_FALSE(duration_dist::parse("uniform:1s", d, error));
  EXPECT_FALSE(duration_dist::parse("exp:", d, error));
  EXPECT_FALSE(duration_dist::parse("normal:1s:2s", d, error));
}

TEST(fleet, parses_register_rates) {
  double r = -1;
  std::string error;
  ASSERT_TRUE(parse_register_rate("max", r, error));
  EXPECT_EQ(r, 0);
  ASSERT_TRUE(parse_register_rate("500/s", r, error));
  EXPECT_EQ(r, 500);
  ASSERT_TRUE(parse_register_rate("2.5", r, error));
  EXPECT_EQ(r, 2.5);
  EXPECT_FALSE(parse_register_rate("0/s", r, error));
  EXPECT_FALSE(parse_register_rate("-3/s", r, error));
  EXPECT_FALSE(parse_register_rate("fast", r, error));
  EXPECT_FALSE(parse_register_rate("/s", r, error));
}

TEST(fleet, names_agents_and_spreads_them_over_racks_and_zones) {
  EXPECT_EQ(fleet_hostname("fleet", 0), "fleet-00001");
  EXPECT_EQ(fleet_hostname("fleet", 41), "fleet-00042");
  EXPECT_EQ(fleet_hostname("big", 123455), "big-123456");
  fleet_agent_config c;
  c.racks = 4;
  c.zones = 2;
  c.attributes = {{"os", "linux"}};
  // Agent i is on rack i % 4 + 1; rack r in zone (r - 1) % 2 + 1.
  auto a = c.attributes_of(0);
  EXPECT_EQ(a["rack"], "r1");
  EXPECT_EQ(a["zone"], "z1");
  EXPECT_EQ(a["os"], "linux");
  a = c.attributes_of(5);
  EXPECT_EQ(a["rack"], "r2");
  EXPECT_EQ(a["zone"], "z2");
  a = c.attributes_of(7);
  EXPECT_EQ(a["rack"], "r4");
  EXPECT_EQ(a["zone"], "z2");
  c.zones = 0;
  EXPECT_EQ(c.attributes_of(2).count("zone"), 0u);
}

TEST(fleet, splits_agents_over_processes) {
  // 10 agents over 3 processes: 4, 3, 3.
  using range = std::pair<int64_t, int64_t>;
  EXPECT_EQ(agent_range(10, 3, 0), range(0, 4));
  EXPECT_EQ(agent_range(10, 3, 1), range(4, 7));
  EXPECT_EQ(agent_range(10, 3, 2), range(7, 10));
  EXPECT_EQ(agent_range(5, 1, 0), range(0, 5));
}

TEST(fleet, parses_attribute_lists) {
  protocol::attribute_map m;
  std::string error;
  ASSERT_TRUE(protocol::parse_attributes("os:linux;pool:batch;", m, error)) << error;
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["pool"], "batch");
  EXPECT_FALSE(protocol::parse_attributes("os", m, error));
  EXPECT_FALSE(protocol::parse_attributes(":x", m, error));
}

TEST(fleet, sums_figures_and_renders_them) {
  fleet_counters a;
  fleet_counters b;
  a.registered = 3;
  b.registered = 4;
  a.running = 2;
  b.updates_acked = 9;
  a.connected = 1;
  b.connected = 1;
  fleet_totals t;
  a.add_to(t);
  b.add_to(t);
  EXPECT_EQ(t.registered, 7);
  EXPECT_EQ(t.running, 2);
  EXPECT_EQ(t.updates_acked, 9);
  auto line = status_line(t, 10, 12.4);
  EXPECT_NE(line.find("agents 7/10 registered"), std::string::npos) << line;
  EXPECT_NE(line.find("2 running"), std::string::npos) << line;
  EXPECT_NE(line.find("rss 12 MiB"), std::string::npos) << line;
  EXPECT_NE(totals_json(t).find("\"registered\":7"), std::string::npos);
}

}  // namespace
}  // namespace agora::main::fleet
