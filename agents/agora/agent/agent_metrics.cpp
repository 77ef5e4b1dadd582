#include "agora/agent/agent_metrics.hpp"

#include <set>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agora/agent/containerizer.hpp"
#include "agora/agent/sandbox_gc.hpp"
#include "agora/observability/metrics.hpp"

namespace agora::agent {
namespace {

using Labels = std::map<std::string, std::string>;

void gauge(prometheus::Registry& reg, const std::string& name, const std::string& help,
           const Labels& labels, double value) {
  prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add(labels).Set(value);
}

void counter(prometheus::Registry& reg, const std::string& name, const std::string& help,
             double value) {
  prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add({}).Increment(value);
}

/// One gauge per resource of `res`, named `prefix_<resource>`.
void resource_gauges(prometheus::Registry& reg, const std::string& prefix, const std::string& what,
                     const protocol::resources& res) {
  gauge(reg, prefix + "_cpus", what + ", in CPUs", {}, res.cpus());
  gauge(reg, prefix + "_memory_bytes", what + ", in bytes of memory", {},
        static_cast<double>(res.mem_bytes));
  gauge(reg, prefix + "_disk_bytes", what + ", in bytes of disk", {},
        static_cast<double>(res.disk_bytes));
  gauge(reg, prefix + "_gpus", what + ", in GPUs", {}, static_cast<double>(res.gpus));
}

const char* const terminal_states[] = {"TASK_FINISHED", "TASK_FAILED",  "TASK_KILLED",
                                       "TASK_LOST",     "TASK_DROPPED", "TASK_ERROR"};

}  // namespace

agent_metrics::agent_metrics(bool per_task)
    : per_task_(per_task), events_(std::make_shared<prometheus::Registry>()) {
  launches_ = &prometheus::BuildCounter()
                   .Name("agora_agent_task_launches_total")
                   .Help("Tasks this agent launched, by role")
                   .Register(*events_);
  launch_seconds_ =
      &prometheus::BuildHistogram()
           .Name("agora_agent_task_launch_duration_seconds")
           .Help("Time from a task's run request to TASK_RUNNING (sandbox, isolation, exec)")
           .Register(*events_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1, 0.25, 0.5, 1, 2.5, 5});
  ended_ = &prometheus::BuildCounter()
                .Name("agora_agent_tasks_ended_total")
                .Help("Tasks that ended on this agent, by terminal state")
                .Register(*events_);
  // Every terminal state from the start, so that rates exist at once.
  for (const char* s : terminal_states) ended_->Add({{"state", s}});
  retries_ = &prometheus::BuildCounter()
                  .Name("agora_agent_status_update_retries_total")
                  .Help("Status updates sent again because no acknowledgement came in time")
                  .Register(*events_)
                  .Add({});
}

agent_metrics::~agent_metrics() = default;

void agent_metrics::task_launched(const std::string& role, double seconds) {
  launches_->Add({{"role", role}}).Increment();
  if (seconds >= 0) launch_seconds_->Observe(seconds);
}

void agent_metrics::task_ended(const std::string& state) {
  ended_->Add({{"state", state}}).Increment();
}

void agent_metrics::updates_retried(size_t n) {
  if (n > 0) retries_->Increment(static_cast<double>(n));
}

void agent_metrics::publish(std::shared_ptr<const agent_sample> sample) {
  std::lock_guard<std::mutex> guard{mu_};
  sample_ = std::move(sample);
}

std::string agent_metrics::scrape(isolator* iso, std::vector<prometheus::MetricFamily> extra) {
  std::shared_ptr<const agent_sample> s;
  {
    std::lock_guard<std::mutex> guard{mu_};
    s = sample_;
  }
  prometheus::Registry state;
  if (s) {
    gauge(state, "agora_agent_registered", "1 while the agent is registered with a master", {},
          s->registered ? 1 : 0);
    resource_gauges(state, "agora_agent_capacity", "What the agent offers", s->capacity);
    resource_gauges(state, "agora_agent_allocated", "Resources of the agent's running tasks",
                    s->allocated);
    for (const auto& [st, n] : s->tasks_by_state)
      gauge(state, "agora_agent_tasks",
            "Tasks the agent knows (running and recently ended), by state", {{"state", st}},
            static_cast<double>(n));
    gauge(state, "agora_agent_status_updates_pending",
          "Status updates waiting for the master's acknowledgement", {},
          static_cast<double>(s->pending_updates));
    gauge(state, "agora_agent_status_update_oldest_pending_seconds",
          "Age of the oldest status update not yet acknowledged (0: none)", {},
          s->oldest_pending_seconds);
    counter(state, "agora_agent_isolator_errors_total",
            "Isolation steps that failed (prepare, isolate, leave, recover)",
            static_cast<double>(s->isolator_errors));
    counter(state, "agora_agent_checkpoint_errors_total",
            "Checkpoint files that could not be written",
            static_cast<double>(s->checkpoint_errors));
    counter(state, "agora_agent_foreign_commands_total",
            "Commands dropped because they came from an actor other than the master, or from an "
            "older leader epoch",
            static_cast<double>(s->foreign_commands + s->stale_epoch_commands));
  }
  // Usage of the running tasks, summed by framework and role.
  {
    std::lock_guard<std::mutex> guard{mu_};
    struct sums {
      double cpu = 0, mem = 0, pids = 0;
    };
    std::map<std::pair<std::string, std::string>, sums> by;
    std::set<std::pair<std::string, std::string>> running;
    auto& cpu_family = prometheus::BuildCounter()
                           .Name("agora_agent_task_cpu_seconds_total")
                           .Help("CPU time of tasks (user and system), by framework and role")
                           .Register(state);
    auto& mem_family = prometheus::BuildGauge()
                           .Name("agora_agent_task_memory_bytes")
                           .Help("Memory charged to running tasks, by framework and role")
                           .Register(state);
    auto& pids_family = prometheus::BuildGauge()
                            .Name("agora_agent_task_processes")
                            .Help("Processes and threads of running tasks, by framework and role")
                            .Register(state);
    if (s && iso) {
      for (const auto& t : s->running) {
        auto u = iso->usage(t.framework_id, t.task_id);
        if (!u) continue;
        auto key = std::make_pair(t.framework_id, t.task_id);
        running.insert(key);
        last_cpu_[key] = {t.framework, t.role, u->cpu_seconds};
        auto& sum = by[{t.framework, t.role}];
        sum.cpu += u->cpu_seconds;
        sum.mem += static_cast<double>(u->mem_bytes);
        sum.pids += static_cast<double>(u->pids);
        if (per_task_) {
          Labels labels{{"framework", t.framework}, {"role", t.role}, {"task", t.task_id}};
          cpu_family.Add(labels).Increment(u->cpu_seconds);
          mem_family.Add(labels).Set(static_cast<double>(u->mem_bytes));
          pids_family.Add(labels).Set(static_cast<double>(u->pids));
        }
      }
    }
    // Tasks gone since the last scrape: their time stays in the counter.
    for (auto it = last_cpu_.begin(); it != last_cpu_.end();) {
      if (running.count(it->first) != 0) {
        ++it;
        continue;
      }
      retired_cpu_[{it->second.framework, it->second.role}] += it->second.cpu_seconds;
      it = last_cpu_.erase(it);
    }
    if (!per_task_) {
      for (const auto& entry : retired_cpu_) by[entry.first];  // ended tasks only: still shown
      for (const auto& [key, sum] : by) {
        Labels labels{{"framework", key.first}, {"role", key.second}};
        auto retired = retired_cpu_.find(key);
        cpu_family.Add(labels).Increment(sum.cpu +
                                         (retired == retired_cpu_.end() ? 0 : retired->second));
        mem_family.Add(labels).Set(sum.mem);
        pids_family.Add(labels).Set(sum.pids);
      }
    }
    // Sandboxes: walking them costs, so at most every `disk_period_`.
    auto now = std::chrono::steady_clock::now();
    if (s && now - disk_measured_ >= disk_period_) {
      double bytes = 0;
      for (const auto& dir : s->sandboxes) bytes += static_cast<double>(disk_usage(dir));
      disk_bytes_ = bytes;
      disk_measured_ = now;
    }
    gauge(state, "agora_agent_sandbox_disk_bytes",
          "Disk used by task sandboxes (running tasks and ended ones not yet removed); measured "
          "at most every 10 s",
          {}, disk_bytes_);
  }
  return observability::serialize_metrics({events_->Collect(), state.Collect(), extra});
}

}  // namespace agora::agent
