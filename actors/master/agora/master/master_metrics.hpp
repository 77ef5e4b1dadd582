#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "agora/policy/allocation_core.hpp"
#include "agora/policy/policy_outline.hpp"
#include "agora/protocol/resources.hpp"

namespace prometheus {
class Registry;
class Histogram;
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace agora::master {

struct state_snapshot;

class policy_control;

/// What the allocator knows after a cycle, for `/metrics`.
struct allocator_sample {
  struct role_row {
    std::string role;
    double weight = 1;
    double dominant_share = 0;
    size_t frameworks_wanting = 0;  ///< Framework clients of the subtree wanting offers.
    protocol::resources allocated;
    std::optional<protocol::resources> guarantee, limit;  ///< Limits: finite parts only.
  };
  std::vector<role_row> roles;
  std::map<std::string, size_t> waiting_per_level;
  std::string policy_name, policy_hash;
  int64_t policy_version = 0;
  std::vector<policy::metric_spec> metric_specs;
  std::vector<policy::metric_sample> policy_metrics;
  std::map<std::string, uint64_t> filter_rejections;
  std::map<std::pair<std::string, std::string>, uint64_t> relaxations;
  std::map<std::string, uint64_t> eval_errors;  ///< Rule name -> count, across swaps.
  uint64_t cost_overruns = 0;
  bool shadowing = false;
  double shadow_divergence = 0;
  double interval_seconds = 0;  ///< The allocation interval.
  size_t mailbox_messages = 0;  ///< The allocator's mailbox when it published.
};

/// What the master knows, for `/metrics` (published with `/state`).
struct master_sample {
  /// The `/state` snapshot published with this sample: agents by health,
  /// frameworks by state, tasks by state, and resources used and offered
  /// by role are counted from it when scraped, on the scraper's thread.
  std::shared_ptr<const state_snapshot> snapshot;
  size_t completed_frameworks = 0;
  uint64_t offers_made = 0, offers_declined = 0, offers_rescinded = 0;
  uint64_t tasks_launched = 0, status_updates = 0, invalid_requests = 0;
  /// Messages about a framework or agent from an actor that is not it.
  uint64_t foreign_messages = 0;
  /// Authentication outcomes (success, failure, throttled, missing).
  std::map<std::string, uint64_t> authentications;
  std::map<std::string, uint64_t> tasks_ended;  ///< Terminal updates by state, since start.
  size_t mailbox_messages = 0;                  ///< The master's mailbox when it published.
};

/// The master's Prometheus metrics. Event series (the cycle duration
/// histograms) live in a registry the allocator observes into; everything
/// that describes state is built from the latest samples when scraped, so
/// gauges never drift. Exposition is prometheus-cpp's text serializer.
/// Thread-safe.
class master_metrics {
 public:
  master_metrics();
  ~master_metrics();
  master_metrics(const master_metrics&) = delete;
  master_metrics& operator=(const master_metrics&) = delete;

  /// Records one allocation cycle's duration (`shadow`: the candidate's).
  void observe_cycle(double seconds, bool shadow);
  /// Registers the `on offer` counters and histograms `specs` declares:
  /// families whose name, kind and labels are unchanged are kept (no counter
  /// resets); the others are removed.
  void set_policy_metrics(const std::vector<policy::metric_spec>& specs);
  /// Applies updates of the policy's event metrics.
  void record(const std::vector<policy::event_sample>& samples);
  /// Records the static cost units the policy spent in a cycle, per stage.
  void observe_cost(const std::array<double, policy::chunk_count>& units);
  /// Replaces the allocator's sample.
  void publish(std::shared_ptr<const allocator_sample> sample);
  /// Replaces the master's sample.
  void publish(std::shared_ptr<const master_sample> sample);
  /// Returns the text exposition of every series; `control` adds the
  /// reload counters, and `extra` (families of the process, its HTTP
  /// server, its leadership) is appended.
  std::string scrape(const policy_control* control,
                     std::vector<prometheus::MetricFamily> extra = {}) const;

 private:
  std::shared_ptr<prometheus::Registry> events_;
  prometheus::Histogram* cycle_seconds_ = nullptr;
  prometheus::Histogram* eval_cycle_seconds_ = nullptr;
  prometheus::Histogram* eval_shadow_seconds_ = nullptr;
  std::array<prometheus::Histogram*, policy::chunk_count> cost_units_{};
  struct event_family {
    policy::metric_spec spec;
    prometheus::Family<prometheus::Counter>* counter = nullptr;
    prometheus::Family<prometheus::Histogram>* histogram = nullptr;
  };
  std::map<std::string, event_family> event_families_;  ///< By name; guarded by `mu_`.
  mutable std::mutex mu_;
  std::shared_ptr<const allocator_sample> allocator_;
  std::shared_ptr<const master_sample> master_;
};

}  // namespace agora::master
