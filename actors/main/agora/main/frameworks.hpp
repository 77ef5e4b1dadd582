#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agora/scheduler/driver.hpp"

namespace agora::main {

/// Runs one command as a task and reports its states (like mesos-execute).
class execute_scheduler final : public agora::scheduler::scheduler {
 public:
  struct options {
    std::string command;
    std::string task_name = "agora-execute";
    protocol::resources res = protocol::resources::make(0.1, 32 << 20);
    std::map<std::string, std::string> environment;
  };
  explicit execute_scheduler(options opts);

  void subscribed(agora::scheduler::driver& d, const std::string& framework_id) override;
  void offers(agora::scheduler::driver& d, const std::vector<protocol::offer>& offers) override;
  void update(agora::scheduler::driver& d, const protocol::task_status& s) override;
  void error(agora::scheduler::driver& d, const std::string& message, bool fatal) override;

  /// Returns the exit status for the process: the task's exit code, 1 when
  /// it ended otherwise, 2 when the master refused the framework.
  int exit_status() const { return exit_status_; }

 private:
  options opts_;
  std::string task_id_;
  bool launched_ = false;
  bool done_ = false;
  int exit_status_ = 1;
};

/// Runs `tasks` tasks (0: forever) of one size, as many in parallel as
/// offers allow (capped by `parallel` when > 0), and measures them.
class demo_scheduler final : public agora::scheduler::scheduler {
 public:
  struct options {
    int64_t tasks = 100;
    int64_t parallel = 0;
    std::string command = "true";
    protocol::resources res = protocol::resources::make(0.1, 32 << 20);
    bool quiet = false;
    /// Stop (tear down) when all tasks are done.
    bool stop_when_done = true;
  };
  /// Figures of a run.
  struct summary {
    int64_t launched = 0;
    int64_t finished = 0;
    int64_t failed = 0;  ///< failed, killed, lost, dropped, error
    double wall_seconds = 0;
    double tasks_per_second = 0;
    /// Accept-to-TASK_RUNNING latencies in milliseconds, sorted.
    std::vector<double> running_latency_ms;
    double percentile(double p) const;
  };
  explicit demo_scheduler(options opts);

  void subscribed(agora::scheduler::driver& d, const std::string& framework_id) override;
  void offers(agora::scheduler::driver& d, const std::vector<protocol::offer>& offers) override;
  void update(agora::scheduler::driver& d, const protocol::task_status& s) override;
  void error(agora::scheduler::driver& d, const std::string& message, bool fatal) override;

  /// Returns the figures so far (thread-safe).
  summary current() const;
  /// Returns a human-readable summary.
  static std::string format(const summary& s);

 private:
  using clock = std::chrono::steady_clock;
  options opts_;
  mutable std::mutex mtx_;
  summary sum_;
  int64_t next_task_ = 0;
  int64_t active_ = 0;
  clock::time_point start_;
  std::map<std::string, clock::time_point> accepted_at_;
  bool stopped_ = false;
};

}  // namespace agora::main
