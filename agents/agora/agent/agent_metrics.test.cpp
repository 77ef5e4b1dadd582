#include "agora/agent/agent_metrics.hpp"

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "agora/agent/containerizer.hpp"

namespace agora::agent {
namespace {

/// An isolator that reports set usage per task (what the cgroups isolator
/// reads from the kernel), to check how usage is summed.
class usage_table : public isolator {
 public:
  std::map<std::pair<std::string, std::string>, container_usage> rows;
  std::optional<container_usage> usage(const std::string& framework_id,
                                       const std::string& task_id) override {
    auto it = rows.find({framework_id, task_id});
    if (it == rows.end()) return std::nullopt;
    return it->second;
  }
  void set(const std::string& fw, const std::string& task, double cpu, int64_t mem) {
    container_usage u;
    u.cpu_seconds = cpu;
    u.mem_bytes = mem;
    u.pids = 1;
    rows[{fw, task}] = u;
  }
};

/// The value of `series` (name and labels as exposed), or -1.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::shared_ptr<agent_sample> with_tasks(
    const std::vector<std::tuple<std::string, std::string, std::string>>& tasks) {
  auto s = std::make_shared<agent_sample>();
  for (const auto& [fw, role, task] : tasks) s->running.push_back({fw + "-id", fw, role, task});
  return s;
}

const std::string cpu_a = R"(agora_agent_task_cpu_seconds_total{framework="A",role="dev"})";
const std::string cpu_b = R"(agora_agent_task_cpu_seconds_total{framework="B",role="prod"})";
const std::string mem_a = R"(agora_agent_task_memory_bytes{framework="A",role="dev"})";

TEST(agent_metrics, sums_usage_by_framework_and_role_and_keeps_the_cpu_of_ended_tasks) {
  agent_metrics m;
  usage_table iso;
  iso.set("A-id", "t1", 1, 10);
  iso.set("A-id", "t2", 2, 20);
  iso.set("B-id", "t3", 4, 40);
  m.publish(with_tasks({{"A", "dev", "t1"}, {"A", "dev", "t2"}, {"B", "prod", "t3"}}));
  auto text = m.scrape(&iso, {});
  EXPECT_EQ(sample(text, cpu_a), 3);
  EXPECT_EQ(sample(text, cpu_b), 4);
  EXPECT_EQ(sample(text, mem_a), 30);
  EXPECT_EQ(text.find("task=\""), std::string::npos);
  // t1 ends: its second stays in the counter, its memory goes.
  iso.rows.erase({"A-id", "t1"});
  iso.set("A-id", "t2", 2.5, 20);
  m.publish(with_tasks({{"A", "dev", "t2"}, {"B", "prod", "t3"}}));
  text = m.scrape(&iso, {});
  EXPECT_EQ(sample(text, cpu_a), 3.5);  // 2.5 running + 1 ended
  EXPECT_EQ(sample(text, mem_a), 20);
  // Every task of B ends: B's counter stays at its total.
  m.publish(with_tasks({{"A", "dev", "t2"}}));
  text = m.scrape(&iso, {});
  EXPECT_EQ(sample(text, cpu_b), 4);
  EXPECT_EQ(sample(text, R"(agora_agent_task_memory_bytes{framework="B",role="prod"})"), 0);
}

TEST(agent_metrics, per_task_series_name_the_task) {
  agent_metrics m{true};
  usage_table iso;
  iso.set("A-id", "t1", 1, 10);
  iso.set("A-id", "t2", 2, 20);
  m.publish(with_tasks({{"A", "dev", "t1"}, {"A", "dev", "t2"}}));
  auto text = m.scrape(&iso, {});
  EXPECT_EQ(
      sample(text, R"(agora_agent_task_cpu_seconds_total{framework="A",role="dev",task="t2"})"), 2);
  EXPECT_EQ(sample(text, R"(agora_agent_task_memory_bytes{framework="A",role="dev",task="t1"})"),
            10);
  EXPECT_EQ(sample(text, cpu_a), -1);
}

TEST(agent_metrics, events_and_state_from_the_sample) {
  agent_metrics m;
  m.task_launched("dev", 0.02);
  m.task_launched("dev", -1);  // failed: counted, no latency
  m.task_ended("TASK_KILLED");
  m.updates_retried(3);
  auto s = std::make_shared<agent_sample>();
  s->registered = true;
  s->capacity.cpus_milli = 4000;
  s->allocated.cpus_milli = 1500;
  s->tasks_by_state["TASK_RUNNING"] = 2;
  s->pending_updates = 5;
  s->oldest_pending_seconds = 12.5;
  s->isolator_errors = 2;
  m.publish(s);
  auto text = m.scrape(nullptr, {});
  EXPECT_EQ(sample(text, R"(agora_agent_task_launches_total{role="dev"})"), 2);
  EXPECT_EQ(sample(text, "agora_agent_task_launch_duration_seconds_count"), 1);
  EXPECT_EQ(sample(text, R"(agora_agent_tasks_ended_total{state="TASK_KILLED"})"), 1);
  EXPECT_EQ(sample(text, R"(agora_agent_tasks_ended_total{state="TASK_FAILED"})"), 0);
  EXPECT_EQ(sample(text, "agora_agent_status_update_retries_total"), 3);
  EXPECT_EQ(sample(text, "agora_agent_registered"), 1);
  EXPECT_EQ(sample(text, "agora_agent_capacity_cpus"), 4);
  EXPECT_EQ(sample(text, "agora_agent_allocated_cpus"), 1.5);
  EXPECT_EQ(sample(text, R"(agora_agent_tasks{state="TASK_RUNNING"})"), 2);
  EXPECT_EQ(sample(text, "agora_agent_status_updates_pending"), 5);
  EXPECT_EQ(sample(text, "agora_agent_status_update_oldest_pending_seconds"), 12.5);
  EXPECT_EQ(sample(text, "agora_agent_isolator_errors_total"), 2);
}

}  // namespace
}  // namespace agora::agent
