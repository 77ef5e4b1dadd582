// `agora load` against a real `agora local` (a master and agents in one
// process, tasks as real processes): placements, failures, the rate limit,
// flags and the timeout.

#include <chrono>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "agora/test/support.hpp"
#include "cluster_fixture.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

/// An `agora local --agents 3` on free ports, up once the master lists its
/// agents.
class local_cluster {
 public:
  explicit local_cluster(const std::string& agent_resources = "") {
    http_ = free_port();
    actors_ = free_port();
    std::vector<std::string> args = {"local", "--agents=3", "--port=" + std::to_string(http_),
                                     "--actor-port=" + std::to_string(actors_),
                                     "--work-dir=" + dir_.path() + "/work"};
    if (!agent_resources.empty()) args.push_back("--agent-resources=" + agent_resources);
    started_ = proc_.start(binary_path("agora"), args);
    up_ = started_ && wait_until([&] { return state()["agents"].Size() == 3; }, 20s);
  }

  bool up() const { return up_; }
  std::string master() const { return "--master=127.0.0.1:" + std::to_string(actors_); }
  std::string describe() const { return proc_.describe(); }

  rapidjson::Document state() const {
    rapidjson::Document d;
    auto r = http_get("127.0.0.1", http_, "/state", 2000ms);
    if (r.status != 200 || d.Parse(r.body.c_str()).HasParseError() || !d.IsObject())
      d.Parse(R"({"agents":[],"frameworks":[],"completed_tasks":[],"completed_frameworks":[]})");
    return d;
  }

 private:
  temp_dir dir_;
  child_process proc_;
  uint16_t http_ = 0;
  uint16_t actors_ = 0;
  bool started_ = false;
  bool up_ = false;
};

/// Runs `agora load ARGS` to its end (at most `limit`); returns its exit
/// status (-1: still running at the limit) and the parsed JSON on stdout.
struct load_result {
  int status = -1;
  rapidjson::Document json;
  std::string out, err;
  std::chrono::milliseconds elapsed{0};
};

load_result run_load(std::vector<std::string> args, std::chrono::milliseconds limit = 40s) {
  args.insert(args.begin(), "load");
  child_process p;
  load_result r;
  auto t0 = std::chrono::steady_clock::now();
  if (!p.start(binary_path("agora"), args)) return r;
  auto code = p.wait_exit(limit);
  r.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  r.status = code ? *code : -1;
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  if (r.json.Parse(r.out.c_str()).HasParseError() || !r.json.IsObject()) r.json.Parse("{}");
  return r;
}

double number(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsNumber() ? v[key].GetDouble() : -1;
}

TEST(load, two_frameworks_in_two_roles_run_200_tasks_and_the_master_agrees) {
  local_cluster local;
  ASSERT_TRUE(local.up()) << local.describe();
  auto r = run_load({local.master(), "--tasks=200", "--frameworks=2", "--roles=a,b",
                     "--task-duration=0s", "--json", "--timeout=30s"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto& j = r.json;
  ASSERT_TRUE(j.HasMember("ok")) << r.out;
  EXPECT_TRUE(j["ok"].GetBool());
  EXPECT_EQ(number(j, "tasks"), 200);
  EXPECT_EQ(number(j, "accepted"), 200);
  EXPECT_EQ(number(j, "finished"), 200);
  EXPECT_EQ(number(j, "failed"), 0);
  EXPECT_EQ(number(j, "lost"), 0);
  EXPECT_EQ(number(j, "unfinished"), 0);
  EXPECT_GT(number(j, "accepted_per_second"), 0);
  EXPECT_GT(number(j, "running_per_second"), 0);
  EXPECT_GT(number(j, "wall_seconds"), 0);
  // Every task went through TASK_RUNNING (the agent reports it before the
  // end, even for `sleep 0`), so there are 200 latencies, ordered.
  const auto& lat = j["accept_to_running_ms"];
  EXPECT_EQ(number(lat, "count"), 200);
  EXPECT_GT(number(lat, "p50"), 0);
  EXPECT_LE(number(lat, "p50"), number(lat, "p90"));
  EXPECT_LE(number(lat, "p90"), number(lat, "p99"));
  EXPECT_LE(number(lat, "p99"), number(lat, "max"));
  // Nothing takes as long as the whole run.
  EXPECT_LT(number(lat, "max"), number(j, "wall_seconds") * 1000);
  const auto& dec = j["offer_to_accept_ms"];
  EXPECT_GE(number(dec, "count"), 1);
  EXPECT_LE(number(dec, "p50"), number(dec, "max"));
  // 60 slots (3 agents x 2 cpus / 0.1): at least 4 accepted offers for 200.
  EXPECT_GE(number(j["offers"], "accepted"), 4);

  ASSERT_TRUE(j["framework_ids"].IsArray());
  ASSERT_EQ(j["framework_ids"].Size(), 2u);
  std::map<std::string, std::string> role_of = {{j["framework_ids"][0].GetString(), "a"},
                                                {j["framework_ids"][1].GetString(), "b"}};
  // The master saw the same: 200 tasks of these two frameworks finished,
  // each in its framework's role, and both frameworks were torn down.
  std::map<std::string, int> finished_by_role;
  std::string why;
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = local.state();
        finished_by_role.clear();
        why.clear();
        for (const auto& t : s["completed_tasks"].GetArray()) {
          auto fw = role_of.find(t["framework_id"].GetString());
          if (fw == role_of.end()) continue;
          if (std::string(t["state"].GetString()) != "TASK_FINISHED" ||
              t["role"].GetString() != fw->second)
            why += std::string(t["id"].GetString()) + " " + t["state"].GetString() + " " +
                   t["role"].GetString() + "; ";
          else
            ++finished_by_role[fw->second];
        }
        std::set<std::string> completed;
        for (const auto& f : s["completed_frameworks"].GetArray())
          completed.insert(f["id"].GetString());
        return finished_by_role["a"] + finished_by_role["b"] == 200 && why.empty() &&
               completed.count(j["framework_ids"][0].GetString()) == 1 &&
               completed.count(j["framework_ids"][1].GetString()) == 1 &&
               s["counters"]["tasks_launched"].GetUint64() == 200;
      },
      10s))
      << "finished in role a: " << finished_by_role["a"] << ", b: " << finished_by_role["b"]
      << "; others: " << why;
}

TEST(load, failing_tasks_are_reported_and_the_exit_status_is_not_zero) {
  local_cluster local;
  ASSERT_TRUE(local.up()) << local.describe();
  auto r = run_load({local.master(), "--tasks=20", "--command=exit 1", "--json", "--timeout=30s"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  const auto& j = r.json;
  ASSERT_TRUE(j.HasMember("ok")) << r.out;
  EXPECT_FALSE(j["ok"].GetBool());
  EXPECT_EQ(number(j, "finished"), 0);
  EXPECT_EQ(number(j, "failed"), 20);
  EXPECT_EQ(number(j, "unfinished"), 0);
  EXPECT_NE(r.err.find("TASK_FAILED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("20 of 20 tasks did not finish"), std::string::npos) << r.err;
}

TEST(load, a_rate_limit_spreads_the_launches) {
  // 3 agents x 4 cpus / 0.1 = 120 slots: without a limit all 100 tasks are
  // accepted from the first offers, within a fraction of a second.
  local_cluster local{"cpus:4;mem:8GiB;disk:10GiB"};
  ASSERT_TRUE(local.up()) << local.describe();
  auto r = run_load({local.master(), "--tasks=100", "--rate=50", "--frameworks=2",
                     "--task-duration=0s", "--json", "--timeout=30s"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto& j = r.json;
  EXPECT_EQ(number(j, "finished"), 100);
  // The bucket starts empty: 100 tasks at 50/s take 2 s at least.
  EXPECT_GE(r.elapsed, 1800ms);
  EXPECT_GE(number(j, "wall_seconds"), 1.8);
  // Accepted over the time to the last accept: at most the rate (a little
  // slack for rounding), and not far below it (the limit does not starve).
  EXPECT_LE(number(j, "accepted_per_second"), 52) << r.out;
  EXPECT_GE(number(j, "accepted_per_second"), 25) << r.out;
  EXPECT_GE(number(j, "last_accept_seconds"), 1.9) << r.out;

  // The same without a limit accepts everything from the first offers:
  // its last accept comes long before the limited run's.
  auto fast = run_load({local.master(), "--tasks=100", "--frameworks=2", "--task-duration=0s",
                        "--json", "--timeout=30s"});
  ASSERT_EQ(fast.status, 0) << fast.out << fast.err;
  EXPECT_LT(number(fast.json, "last_accept_seconds"), number(j, "last_accept_seconds") / 2)
      << fast.out;
}

TEST(load, bad_flags_exit_2_naming_the_flag_and_help_lists_them) {
  struct bad {
    std::vector<std::string> args;
    std::string flag;
  };
  for (const auto& b :
       std::vector<bad>{{{"--rate=fast"}, "--rate"},
                        {{"--rate=0"}, "--rate"},
                        {{"--task-duration=5"}, "--task-duration"},
                        {{"--task-duration=uniform:2s:1s"}, "--task-duration"},
                        {{"--tasks=0"}, "--tasks"},
                        {{"--frameworks=0"}, "--frameworks"},
                        {{"--roles=a,,b"}, "--roles"},
                        {{"--mem=64"}, "--mem"},
                        {{"--master=nohost"}, "--master"},
                        {{"--command=true", "--task-duration=1s"}, "--task-duration"},
                        {{"--bogus=1"}, "--bogus"}}) {
    auto args = b.args;
    args.insert(args.begin(), "load");
    auto r = agora_cli(args);
    EXPECT_EQ(r.status, 2) << b.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(b.flag), std::string::npos) << r.err;
  }
  auto help = agora_cli({"load", "--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* flag :
       {"--master", "--tasks", "--rate", "--task-duration", "--frameworks", "--roles", "--cpus",
        "--mem", "--command", "--progress-interval", "--timeout", "--json"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

TEST(load, gives_up_at_the_timeout_when_no_master_answers) {
  // Nobody listens on this port: the drivers keep reconnecting until the
  // deadline.
  auto r = run_load(
      {"--master=127.0.0.1:" + std::to_string(free_port()), "--tasks=5", "--timeout=1s", "--json"},
      20s);
  EXPECT_EQ(r.status, 124) << r.out << r.err;
  EXPECT_NE(r.err.find("timed out after 1s"), std::string::npos) << r.err;
  EXPECT_EQ(number(r.json, "accepted"), 0);
  EXPECT_GE(r.elapsed, 1000ms);
}

}  // namespace
}  // namespace agora::test
