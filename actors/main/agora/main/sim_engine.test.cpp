// The simulator on small traces whose outcome can be worked out by hand:
// offers, first-fit packing, task ends, lost and killed tasks, queue waits,
// utilisation, share gaps, limits and guarantees.

#include "agora/main/sim_engine.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "agora/policy/policy_outline.hpp"

namespace agora::main::sim {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

policy::runnable_policy load(const std::string& name) {
  auto p = policy::load_policy_file(examples + "/" + name);
  EXPECT_TRUE(p.ok()) << p.render_errors();
  return {p.prog, p.outline};
}

sim_setup setup_of(const std::string& trace, millis until) {
  sim_setup s;
  std::string error;
  EXPECT_TRUE(parse_trace("trace.jsonl", trace, s.events, error)) << error;
  EXPECT_TRUE(check_events(s.cluster, s.events, until, error)) << error;
  s.until = until;
  s.cycle = 1000;
  return s;
}

// Two 8-CPU agents; etl-1 asks for 20 one-CPU tasks of 60 s at 2 s.
const char* const lifecycle_trace = R"(
{"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":8,"mem":"32GiB"}}
{"t":"0s","ev":"agent_add","id":"a2","res":{"cpus":8,"mem":"32GiB"}}
{"t":"0s","ev":"framework_add","id":"etl-1","role":"prod/etl"}
{"t":"2s","ev":"request","fw":"etl-1","tasks":20,"res":{"cpus":1,"mem":"2GiB"},"duration":"60s"}
{"t":"10s","ev":"agent_remove","id":"a2"}
{"t":"30s","ev":"agent_add","id":"a3","res":{"cpus":4,"mem":"16GiB"}}
{"t":"40s","ev":"framework_add","id":"dev-1","role":"dev"}
{"t":"40s","ev":"request","fw":"dev-1","tasks":2,"res":{"cpus":1,"mem":"1GiB"},"duration":"10s"}
{"t":"80s","ev":"framework_remove","id":"etl-1"}
)";

TEST(sim_engine, tasks_launch_end_get_lost_and_killed_as_the_trace_says) {
  auto s = setup_of(lifecycle_trace, 100000);
  s.windows = {60000};
  auto r = simulate(load("drf.policy"), s);
  ASSERT_TRUE(r.internal_error.empty()) << r.internal_error;
  const auto& f = r.windows.at(0);
  // 2 s: both agents offered to etl-1, 16 tasks launched, 4 wait.
  // 10 s: a2 leaves with its 8 tasks (lost).
  // 30 s: a3 arrives, the 4 waiting tasks launch (waited 28 s).
  // 40 s: dev-1's 2 tasks wait: every CPU is busy until a1's tasks end at 62 s.
  // 62 s: a1's 8 tasks finish; dev-1 launches (waited 22 s), ends at 72 s.
  // 80 s: etl-1 leaves; its 4 tasks on a3 are killed.
  EXPECT_EQ(f.tasks_launched, 16 + 4 + 2);
  EXPECT_EQ(f.tasks_lost, 8);
  EXPECT_EQ(f.tasks_finished, 8 + 2);
  EXPECT_EQ(f.tasks_killed, 4);
  EXPECT_EQ(r.pending_at_end, 0);
  EXPECT_EQ(r.max_agents, 2u);
  EXPECT_EQ(r.cycles, 100);
  // Waits: 16 x 0 s, 2 x 22 s, 4 x 28 s. p50 is the 11th of 22, p99 the 22nd.
  EXPECT_EQ(f.p50_queue_wait_seconds, 0);
  EXPECT_EQ(f.p99_queue_wait_seconds, 28);
  // CPU utilisation after each cycle: 0 (0-1 s), 16/16 (2-9), 8/8 (10-29),
  // 12/12 (30-61), 6/12 (62-71), 4/12 (72-79), 0 (80-99): 67.67 / 100.
  EXPECT_NEAR(f.cpu_utilisation(), (8 + 20 + 32 + 10 * 0.5 + 8 * (4.0 / 12)) / 100, 1e-9);
  // 40-61 s: prod/etl holds every CPU (share 1), dev waits with share 0.
  EXPECT_DOUBLE_EQ(f.max_share_gap, 1.0);
  EXPECT_EQ(f.offers_with_level, 0);  // drf.policy has no locality.
  EXPECT_TRUE(std::isnan(f.rack_local_ratio()));
  EXPECT_EQ(f.offers, 4);  // a1 and a2 at 2 s, a3 at 30 s, a1 at 62 s.
  // From 60 s on: dev-1's launch, the 10 ends and the 4 kills.
  const auto& late = r.windows.at(60000);
  EXPECT_EQ(late.tasks_launched, 2);
  EXPECT_EQ(late.tasks_finished, 10);
  EXPECT_EQ(late.tasks_lost, 0);
  EXPECT_EQ(late.tasks_killed, 4);
  EXPECT_EQ(late.p99_queue_wait_seconds, 22);
  EXPECT_EQ(late.max_share_gap, 1.0);  // 60-61 s is still inside the window.
  EXPECT_DOUBLE_EQ(late.seconds, 40);
  // Rows after each cycle: at 40 s, 2 pending and 12 running; at 62 s, 6 running.
  ASSERT_EQ(r.rows.size(), 100u);
  EXPECT_EQ(r.rows[40].pending_tasks, 2);
  EXPECT_EQ(r.rows[40].running_tasks, 12);
  EXPECT_EQ(r.rows[62].pending_tasks, 0);
  EXPECT_EQ(r.rows[62].running_tasks, 6);
  EXPECT_DOUBLE_EQ(r.rows[62].cpu_utilisation, 0.5);
  ASSERT_EQ(r.share_roles, (std::vector<std::string>{"dev", "prod", "prod/etl"}));
  EXPECT_DOUBLE_EQ(r.rows[40].weighted_shares[2], 1.0);  // prod/etl
  EXPECT_DOUBLE_EQ(r.rows[40].weighted_shares[1], 1.0);  // prod, its parent
  EXPECT_DOUBLE_EQ(r.rows[40].weighted_shares[0], 0.0);  // dev
}

TEST(sim_engine, long_runs_keep_every_nth_row) {
  auto s = setup_of(lifecycle_trace, 100000);
  s.max_rows = 10;
  auto r = simulate(load("drf.policy"), s);
  ASSERT_EQ(r.rows.size(), 10u);
  EXPECT_EQ(r.rows[1].t, 10000);
  EXPECT_EQ(r.rows[9].t, 90000);
}

TEST(sim_engine, the_same_setup_gives_the_same_result) {
  auto s = setup_of(lifecycle_trace, 100000);
  auto a = simulate(load("drf.policy"), s);
  auto b = simulate(load("drf.policy"), s);
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].cpu_utilisation, b.rows[i].cpu_utilisation);
    EXPECT_EQ(a.rows[i].weighted_shares, b.rows[i].weighted_shares);
  }
  EXPECT_EQ(a.windows.at(0).p99_queue_wait_seconds, b.windows.at(0).p99_queue_wait_seconds);
}

// quotas.policy: dev is limited to 50 CPUs and 128 GiB; prod/web has a
// guarantee of 120 CPUs and 480 GiB (prod: 200 CPUs, 800 GiB).
TEST(sim_engine, limits_bind_and_guarantee_misses_are_counted) {
  auto s = setup_of(R"(
{"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":64,"mem":"256GiB"}}
{"t":"0s","ev":"agent_add","id":"a2","res":{"cpus":64,"mem":"256GiB"}}
{"t":"0s","ev":"framework_add","id":"dev-1","role":"dev"}
{"t":"0s","ev":"request","fw":"dev-1","tasks":100,"res":{"cpus":1,"mem":"1GiB"},"duration":"1h"}
{"t":"10s","ev":"framework_add","id":"web-1","role":"prod/web"}
{"t":"10s","ev":"request","fw":"web-1","tasks":200,"res":{"cpus":1,"mem":"4GiB"},"duration":"1h"}
)",
                    60000);
  auto r = simulate(load("quotas.policy"), s);
  ASSERT_TRUE(r.internal_error.empty()) << r.internal_error;
  const auto& f = r.windows.at(0);
  // 0 s: dev is offered an agent clipped to its limit (50 CPUs, 128 GiB) and
  // launches 50 tasks. 10 s: web-1 gets the other 78 CPUs (14 + 64) and
  // launches 78 tasks; 122 wait, dev's other 50 wait on its limit.
  EXPECT_EQ(f.tasks_launched, 50 + 78);
  EXPECT_EQ(r.pending_at_end, 50 + 122);
  EXPECT_EQ(f.limit_violation_seconds, 0);
  EXPECT_EQ(f.limit_use_by_role.at("dev"), 1.0);  // The limit binds.
  // Offers count until their unused part comes back: web-1's two offers
  // (14 CPUs and 206 GiB, 64 CPUs and 256 GiB) are 78 / 400 CPUs and
  // 462 / 1600 GiB of prod's limit.
  EXPECT_DOUBLE_EQ(f.limit_use_by_role.at("prod"), 462.0 / 1600);
  EXPECT_EQ(f.limit_use_by_role.at("research"), 0);
  // From 10 s to 60 s prod/web (and prod) hold 78 CPUs, below 120 (200),
  // with tasks pending: 50 s of misses. prod/etl has nothing pending.
  EXPECT_EQ(f.guarantee_miss_by_role.at("prod/web"), 50);
  EXPECT_EQ(f.guarantee_miss_by_role.at("prod"), 50);
  EXPECT_EQ(f.guarantee_miss_by_role.at("prod/etl"), 0);
  EXPECT_EQ(f.guarantee_miss_seconds, 50);
  EXPECT_EQ(f.guarantee_miss_by_role.count("dev"), 0u);  // No guarantee.
}

TEST(sim_engine, tasks_are_packed_first_fit_and_the_rest_is_returned) {
  // One 10-CPU agent; a request of 3-CPU tasks, then one of 1-CPU tasks:
  // the offer takes three 3-CPU tasks (9 CPUs) and, first fit, one 1-CPU task.
  auto s = setup_of(R"(
{"t":"0s","ev":"agent_add","id":"a1","res":{"cpus":10,"mem":"10GiB"}}
{"t":"0s","ev":"framework_add","id":"f","role":"batch"}
{"t":"0s","ev":"request","fw":"f","tasks":5,"res":{"cpus":3,"mem":"1GiB"},"duration":"1h"}
{"t":"0s","ev":"request","fw":"f","tasks":5,"res":{"cpus":1,"mem":"1GiB"},"duration":"1h"}
{"t":"0s","ev":"framework_add","id":"g","role":"dev"}
{"t":"1s","ev":"request","fw":"g","tasks":1,"res":{"cpus":1,"mem":"1GiB"},"duration":"1h"}
)",
                    3000);
  auto r = simulate(load("drf.policy"), s);
  ASSERT_TRUE(r.internal_error.empty()) << r.internal_error;
  EXPECT_EQ(r.windows.at(0).tasks_launched, 4);  // g never gets a CPU.
  EXPECT_EQ(r.pending_at_end, 2 + 4 + 1);
  EXPECT_DOUBLE_EQ(r.rows[0].cpu_utilisation, 1.0);
}

}  // namespace
}  // namespace agora::main::sim
