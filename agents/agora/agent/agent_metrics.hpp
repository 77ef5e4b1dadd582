#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "agora/protocol/resources.hpp"

namespace prometheus {
class Registry;
class Histogram;
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace agora::agent {

class isolator;

/// What the agent knows, for `/metrics` (published with each `/state`).
struct agent_sample {
  bool registered = false;
  protocol::resources capacity, allocated;
  std::map<std::string, size_t> tasks_by_state;  ///< Running and kept completed tasks.
  size_t pending_updates = 0;                    ///< Queued, not yet acknowledged.
  double oldest_pending_seconds = 0;             ///< Age of the oldest queued update.
  uint64_t foreign_commands = 0, stale_epoch_commands = 0, checkpoint_errors = 0;
  uint64_t isolator_errors = 0;
  /// A running task, for its resource usage.
  struct task_row {
    std::string framework_id, framework, role, task_id;
  };
  std::vector<task_row> running;
  /// Sandboxes on disk (running tasks and completed ones not yet removed).
  std::vector<std::string> sandboxes;
};

/// The agent's Prometheus metrics. Event series (launches, their latency,
/// ends, update retries) are counted as they happen; everything that
/// describes state is built from the latest sample when scraped, so gauges
/// never drift. Task usage comes from the isolator at scrape time, summed
/// by framework and role (with `per_task`, also one series per task).
/// Thread-safe: the agent records and publishes, HTTP threads scrape.
class agent_metrics {
 public:
  explicit agent_metrics(bool per_task = false);
  ~agent_metrics();
  agent_metrics(const agent_metrics&) = delete;
  agent_metrics& operator=(const agent_metrics&) = delete;

  /// A task was launched for `role`; `seconds` from the run request to
  /// TASK_RUNNING (negative: the launch failed, no latency observed).
  void task_launched(const std::string& role, double seconds);
  /// A task ended in terminal state `state` (`TASK_FINISHED`, ...).
  void task_ended(const std::string& state);
  /// `n` status updates were sent again (no acknowledgement in time).
  void updates_retried(size_t n);
  /// Replaces the sample.
  void publish(std::shared_ptr<const agent_sample> sample);
  /// Returns the text exposition: the agent's series, its tasks' usage read
  /// from `iso` (may be null), then `extra`.
  std::string scrape(isolator* iso, std::vector<prometheus::MetricFamily> extra);

 private:
  bool per_task_;
  std::shared_ptr<prometheus::Registry> events_;
  prometheus::Family<prometheus::Counter>* launches_ = nullptr;
  prometheus::Histogram* launch_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* ended_ = nullptr;
  prometheus::Counter* retries_ = nullptr;
  mutable std::mutex mu_;
  std::shared_ptr<const agent_sample> sample_;
  /// CPU seconds of tasks that ended, by (framework, role): the CPU counter
  /// is running tasks' time plus theirs, so it never goes down.
  std::map<std::pair<std::string, std::string>, double> retired_cpu_;
  struct last_seen {
    std::string framework, role;
    double cpu_seconds = 0;
  };
  std::map<std::pair<std::string, std::string>, last_seen> last_cpu_;  ///< (framework id, task)
  /// Sandbox disk use, measured at most every `disk_period_`.
  double disk_bytes_ = 0;
  std::chrono::steady_clock::time_point disk_measured_{};
  std::chrono::seconds disk_period_{10};
};

}  // namespace agora::agent
