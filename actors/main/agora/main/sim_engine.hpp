#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agora/main/sim_input.hpp"
#include "agora/policy/allocation_core.hpp"

/// The discrete-event simulator behind `agora policy sim`: it drives the
/// master's allocation engine (`policy::allocation_core`, directly) on a
/// virtual clock, with one simple scheduler per framework, and measures what
/// the policy does (docs/policy-sim.md).
namespace agora::main::sim {

/// The figures of one run over the cycles at or after `from` (an `--assert
/// ... after D` window; `from` 0 is the whole run). Time figures are in
/// virtual seconds; each cycle stands for the time until the next one.
struct figures {
  millis from = 0;
  double seconds = 0;        ///< Virtual time covered.
  double cpu_util_sum = 0;   ///< Sum of cpu utilisation x seconds (cycles with CPUs).
  double mem_util_sum = 0;   ///< Same for memory.
  double util_seconds = 0;   ///< Seconds in which the cluster had resources.
  double max_share_gap = 0;  ///< Largest spread of share / weight among busy roles.
  int64_t offers = 0;
  int64_t offers_with_level = 0;  ///< Offers that matched a locality level.
  int64_t local_offers = 0;       ///< Of those, at the policy's first (most local) level.
  /// Seconds in which some role held more than its limit along its path.
  double limit_violation_seconds = 0;
  std::map<std::string, double> limit_violation_by_role;  ///< Roles with a limit.
  /// Largest fraction of its limit a role held (max over limited resources).
  std::map<std::string, double> limit_use_by_role;
  /// Seconds in which some role with a guarantee was below it with pending tasks.
  double guarantee_miss_seconds = 0;
  std::map<std::string, double> guarantee_miss_by_role;  ///< Roles with a guarantee.
  int64_t tasks_launched = 0, tasks_finished = 0, tasks_lost = 0, tasks_killed = 0;
  double p50_queue_wait_seconds = 0, p99_queue_wait_seconds = 0;

  /// Returns the mean cpu utilisation (allocated / total), 0 without cycles.
  double cpu_utilisation() const;
  /// Returns the mean memory utilisation.
  double mem_utilisation() const;
  /// Returns local offers / offers with a level; NaN when there were none.
  double rack_local_ratio() const;
};

/// One row of `timeseries.csv`: the state after a cycle's offers were used.
struct timeseries_row {
  millis t = 0;
  double cpu_utilisation = 0, mem_utilisation = 0;
  int64_t pending_tasks = 0, running_tasks = 0, offers = 0;
  std::vector<double> weighted_shares;  ///< Per `sim_result::share_roles`.
};

/// What to simulate.
struct sim_setup {
  cluster_def cluster;              ///< Agents present at time 0.
  std::vector<input_event> events;  ///< Trace or generated events (any order).
  millis until = 0;                 ///< Virtual end (exclusive for cycles).
  millis cycle = 1000;              ///< Allocation interval.
  std::vector<millis> windows;      ///< `after` starts of assertions (0 is added).
  size_t max_rows = 10000;          ///< Timeseries rows at most (every Nth cycle).
};

/// What a run measured.
struct sim_result {
  std::map<millis, figures> windows;     ///< By window start; 0 is the whole run.
  std::vector<std::string> share_roles;  ///< Timeseries role columns, sorted.
  std::vector<timeseries_row> rows;
  std::vector<policy::metric_sample> policy_metrics;  ///< `every cycle` metrics at the end.
  size_t max_agents = 0;                              ///< Most agents present at once.
  int64_t pending_at_end = 0;                         ///< Tasks never launched.
  int64_t cycles = 0;
  double allocate_wall_seconds = 0;  ///< Wall time spent in `allocate` (not deterministic).
  /// Set when the simulator's own ledger and the allocation core disagree,
  /// or `check_invariants` fails: a bug in one of them.
  std::string internal_error;
};

/// Runs `setup` under `policy` and returns the figures. Deterministic:
/// the same setup and policy give the same result (but the wall time).
/// `setup.events` must have passed `check_events`.
sim_result simulate(const policy::runnable_policy& policy, const sim_setup& setup);

}  // namespace agora::main::sim
