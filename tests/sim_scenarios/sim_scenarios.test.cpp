// Simulator scenarios run through the real `agora` binary (`agora policy
// sim ... --assert ...`): small clusters (40 and 200 agents), synthetic
// workloads over 30 virtual minutes, and the policies of
// policy-lang/examples. Each run takes well under a second.

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "agora/test/support.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

const std::string scenarios = AGORA_SIM_SCENARIOS_DIR;
const std::string examples = AGORA_POLICY_EXAMPLES_DIR;
const char* const promtool = "/usr/bin/promtool";

struct run_result {
  int status = -1;
  std::string out;  ///< stdout, then stderr.
};

/// Runs `agora policy sim ARGS` and returns its exit status and output.
run_result sim(std::vector<std::string> args) {
  args.insert(args.begin(), {"policy", "sim"});
  child_process p;
  std::string error;
  if (!p.start(binary_path("agora"), args, {}, &error)) return {-1, error};
  auto code = p.wait_exit(60s);
  return {code ? *code : -1, p.stdout_text() + p.stderr_text()};
}

/// The flags of the 200-agent cluster with prod and batch frameworks.
std::vector<std::string> prod_batch(const std::string& policy, const std::string& out,
                                    const std::string& seed = "7") {
  return {"--cluster",   scenarios + "/racks_200.json",
          "--synthetic", scenarios + "/prod_batch.json",
          "--policy",    policy,
          "--until",     "30min",
          "--seed",      seed,
          "--out",       out};
}

std::vector<std::string> with(std::vector<std::string> args,
                              std::initializer_list<std::string> more) {
  args.insert(args.end(), more);
  return args;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Weighted DRF with prod (weight 3) and batch (weight 1) both backlogged:
// once the cluster is full (about 5 virtual minutes) each role's dominant
// share / weight stays within 0.02 of the other's. Measured with seed 7:
// 0.0053 after 10min (0.0046-0.0084 over seeds 1-19); before that, while
// demand and not the policy sets the shares, the gap reaches 0.37. One task
// is at most 4/3200 = 0.00125 of share per unit of weight, so 0.02 leaves
// room for a few tasks of churn and still fails a policy that ignores the
// weights (0.34, the next test).
TEST(sim_scenarios, weighted_drf_keeps_weighted_shares_within_0_02_after_warm_up) {
  temp_dir out;
  auto r = sim(with(prod_batch(examples + "/weighted_drf.policy", out.path()),
                    {"--assert", "max_share_gap < 0.02 after 10min", "--assert",
                     "cpu_utilisation > 0.9", "--assert", "limit_violation_seconds == 0"}));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "assertion passed: max_share_gap < 0.02 after 10min")) << r.out;
}

// The same weights, ordered by plain dominant share: prod and batch each
// get half (share / weight 1/6 and 1/2), and the assertion fails.
TEST(sim_scenarios, a_policy_ignoring_its_weights_fails_the_share_gap_assertion) {
  temp_dir out;
  auto r =
      sim(with(prod_batch(scenarios + "/ignore_weights.policy", out.path()),
               {"--assert", "max_share_gap < 0.02 after 10min", "--assert", "tasks_lost == 0"}));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "assertion failed: max_share_gap < 0.02 after 10min (value 0.33"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "assertion passed: tasks_lost == 0 (value 0)")) << r.out;
}

// quotas.policy on 40 agents (800 CPUs) with prod/web, prod/etl, research and
// dev backlogged: the limits bind (dev reaches its 50 CPUs, prod/etl its 150,
// prod its 400) and are never exceeded; prod/web always holds its guarantee
// while it waits for more.
TEST(sim_scenarios, quotas_limits_bind_and_are_never_exceeded) {
  temp_dir out;
  auto r = sim({"--cluster",   scenarios + "/quota_cluster.json",
                "--synthetic", scenarios + "/quota_workload.json",
                "--policy",    examples + "/quotas.policy",
                "--until",     "30min",
                "--seed",      "7",
                "--out",       out.path(),
                "--assert",    "limit_violation_seconds == 0",
                "--assert",    R"(limit_use_ratio{role="dev"} >= 1)",
                "--assert",    R"(limit_use_ratio{role="prod/etl"} >= 1)",
                "--assert",    R"(limit_use_ratio{role="prod"} >= 1)",
                "--assert",    R"(limit_violation_seconds{role="prod"} == 0)",
                "--assert",    R"(guarantee_miss_seconds{role="prod/web"} == 0)"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "assertion passed: limit_violation_seconds == 0 (value 0)")) << r.out;
  auto summary = read_file(out.file("summary.md"));
  EXPECT_TRUE(contains(summary, "| peak limit use dev | 1.0000 |")) << summary;
  EXPECT_TRUE(contains(summary, "| guarantee misses prod/web | 0s |")) << summary;
}

// rack_local.policy: three ETL frameworks whose data lives in two racks each
// (20% of the agents), beside a batch framework without locality. Measured
// with seed 7: 0.70 of the offers with a level are rack-local (0.64-0.85
// over seeds 1, 2, 3, 11); placement that ignored racks would land 0.2.
TEST(sim_scenarios, rack_local_policy_gets_mostly_rack_local_offers) {
  temp_dir out;
  auto r = sim({"--cluster", scenarios + "/racks_200.json", "--synthetic",
                scenarios + "/rack_workload.json", "--policy", examples + "/rack_local.policy",
                "--until", "30min", "--seed", "7", "--out", out.path(), "--assert",
                "rack_local_ratio > 0.5"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "assertion passed: rack_local_ratio > 0.5 (value 0.7")) << r.out;
}

// A recorded trace (docs/policy-sim.md works it through): an agent leaves
// with 8 tasks, a framework leaves with 4, the last tasks waited 28 s.
TEST(sim_scenarios, a_trace_loses_and_kills_tasks_as_recorded) {
  temp_dir out;
  auto r = sim({"--cluster", scenarios + "/small_cluster.json",
                "--trace",   scenarios + "/small_trace.jsonl",
                "--policy",  examples + "/drf.policy",
                "--until",   "100s",
                "--out",     out.path(),
                "--assert",  "tasks_launched == 22",
                "--assert",  "tasks_lost == 8",
                "--assert",  "tasks_killed == 4",
                "--assert",  "tasks_finished == 10",
                "--assert",  "p50_queue_wait_seconds == 0",
                "--assert",  "p99_queue_wait_seconds == 28",
                "--assert",  "p99_queue_wait_seconds == 22 after 60s"});
  EXPECT_EQ(r.status, 0) << r.out;
  auto csv = read_file(out.file("timeseries.csv"));
  EXPECT_TRUE(contains(csv,
                       "t_seconds,cpu_utilisation,mem_utilisation,pending_tasks,"
                       "running_tasks,offers,weighted_share:dev,weighted_share:prod,"
                       "weighted_share:prod/etl\n"))
      << csv;
  // After the cycle at 62 s: etl-1's 4 tasks on a3 and dev-1's 2, half the CPUs.
  EXPECT_TRUE(contains(csv, "\n62.000,0.500000,")) << csv;
}

TEST(sim_scenarios, the_same_inputs_and_seed_give_byte_identical_outputs) {
  temp_dir a, b, c;
  auto policy = examples + "/rack_local.policy";
  auto args = [&](const std::string& out, const std::string& seed) {
    return std::vector<std::string>{"--cluster",   scenarios + "/racks_200.json",
                                    "--synthetic", scenarios + "/rack_workload.json",
                                    "--policy",    policy,
                                    "--until",     "20min",
                                    "--seed",      seed,
                                    "--out",       out};
  };
  ASSERT_EQ(sim(args(a.path(), "7")).status, 0);
  ASSERT_EQ(sim(args(b.path(), "7")).status, 0);
  ASSERT_EQ(sim(args(c.path(), "8")).status, 0);
  for (auto* name : {"summary.md", "timeseries.csv"}) {
    auto first = read_file(a.file(name));
    ASSERT_FALSE(first.empty()) << name;
    EXPECT_EQ(first, read_file(b.file(name))) << name << " differs between two runs";
    // The seed matters: another one gives another workload.
    EXPECT_NE(first, read_file(c.file(name))) << name;
  }
}

TEST(sim_scenarios, metrics_pass_promtool_and_include_the_policys_gauges) {
  if (access(promtool, X_OK) != 0)
    GTEST_SKIP() << promtool << " is missing (Debian package `prometheus`)";
  temp_dir out;
  // observability.policy declares `every cycle` gauges (per role and cluster-wide).
  auto r = sim(prod_batch(examples + "/observability.policy", out.path()));
  ASSERT_EQ(r.status, 0) << r.out;
  auto metrics = read_file(out.file("metrics.prom"));
  for (auto* series :
       {"agora_sim_cpu_utilisation_ratio ", "agora_sim_queue_wait_p99_seconds ",
        "agora_sim_limit_violation_seconds 0", "agora_sim_tasks{outcome=\"launched\"} ",
        "agora_policy_fairness_gap_ratio ",
        "agora_policy_role_weighted_share_ratio{role=\"prod\"} ", "agora_sim_policy_info{hash=\""})
    EXPECT_TRUE(contains(metrics, series)) << series << " missing:\n" << metrics;
  child_process p;
  ASSERT_TRUE(p.start("/bin/sh", {"-c", std::string(promtool) + " check metrics < '" +
                                            out.file("metrics.prom") + "'"}));
  auto code = p.wait_exit(30s);
  EXPECT_EQ(code, 0) << p.stdout_text() << p.stderr_text();
}

TEST(sim_scenarios, compare_runs_both_policies_on_the_same_workload) {
  temp_dir out;
  auto r = sim(with(prod_batch(examples + "/weighted_drf.policy", out.path()),
                    {"--compare", scenarios + "/ignore_weights.policy"}));
  ASSERT_EQ(r.status, 0) << r.out;
  // One header line naming both policies as name@hash, one column each.
  std::istringstream lines(r.out);
  std::string head;
  std::getline(lines, head);
  EXPECT_TRUE(contains(head, "policy ")) << head;
  EXPECT_TRUE(contains(head, "weighted-drf@")) << head;
  EXPECT_TRUE(contains(head, "ignore-weights@")) << head;
  EXPECT_TRUE(contains(head, "(30min virtual, cycle 1s, 200 agents, seed 7)")) << head;
  auto summary = read_file(out.file("summary.md"));
  EXPECT_TRUE(contains(summary, "| policy | weighted-drf@")) << summary;
  EXPECT_TRUE(contains(summary, " | ignore-weights@")) << summary;
  EXPECT_FALSE(read_file(out.file("compare/timeseries.csv")).empty());
  EXPECT_FALSE(read_file(out.file("compare/metrics.prom")).empty());
}

TEST(sim_scenarios, bad_usage_and_input_exit_2_naming_the_problem) {
  temp_dir dir;
  auto base = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {"--cluster", scenarios + "/small_cluster.json",
                                     "--policy",  examples + "/drf.policy",
                                     "--out",     dir.file("out")};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  auto trace = dir.write("bad.jsonl",
                         "{\"t\":\"0s\",\"ev\":\"framework_add\",\"id\":\"f\"}\n"
                         "{\"t\":\"1s\",\"ev\":\"request\",\"fw\":\"f\",\"tasks\":1,"
                         "\"res\":{\"cpus\":1,\"mem\":512},\"duration\":\"1s\"}\n");
  auto r = sim(base({"--trace", trace, "--until", "10s"}));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "--trace: " + trace + ":2: res.mem: a bare number is ambiguous"))
      << r.out;

  r = sim(base({"--trace", scenarios + "/small_trace.jsonl"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "--until: required")) << r.out;

  r = sim(base({"--synthetic", scenarios + "/prod_batch.json", "--until", "1min"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "--seed: required with --synthetic")) << r.out;

  r = sim(base({"--trace", scenarios + "/small_trace.jsonl", "--until", "10s", "--assert",
                "cpu_utilization > 0.5"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "--assert 'cpu_utilization > 0.5': unknown figure")) << r.out;

  r = sim(base({"--trace", scenarios + "/small_trace.jsonl", "--until", "10s", "--assert",
                R"(guarantee_miss_seconds{role="prod/web"} < 1)"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "role 'prod/web' has no guarantee in the policy")) << r.out;

  r = sim(base({"--trace", scenarios + "/small_trace.jsonl", "--until", "10s", "--cycle", "0s"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "--cycle: must be at least 1ms")) << r.out;

  r = sim(base({"--trace", scenarios + "/small_trace.jsonl", "--until", "10s", "--speed", "2"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.out, "unknown flag --speed")) << r.out;
}

}  // namespace
}  // namespace agora::test
