#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

/// The data a compiled policy reads: a CAF-free snapshot of the cluster that
/// the allocator (later) or a test fills in. Plain structs, no pointers.
namespace agora::policy {

/// Maximum number of resources in a resource vector: the four built-ins plus
/// up to four custom resources declared in the schema's `resources` section.
constexpr size_t max_resources = 8;

/// A resource vector indexed by resource id: 0 `cpus` (cores), 1 `mem`
/// (bytes), 2 `disk` (bytes), 3 `gpus` (count), then the schema's custom
/// resources in declaration order (see `resource_names`). `ports` are not
/// part of resource vectors. In a *ratios* vector (the result of `res / res`)
/// a component is absent (stored as NaN) where the divisor was 0.
using res_vec = std::array<double, max_resources>;

/// The cluster-wide values (`cluster.*`).
struct cluster_view {
  res_vec total{};
  res_vec free{};
  double agents = 0;      ///< Number of agents.
  double cycle_time = 0;  ///< `cluster.cycle.time`, seconds.
};

/// One role (`role.*`).
struct role_view {
  std::string name;
  std::string path;
  double weight = 1;
  res_vec allocated{};
  res_vec demand{};
  std::optional<res_vec> guarantee;
  std::optional<res_vec> limit;
  bool active = true;
  bool below_guarantee = false;
  bool preemptible = false;
  double fair_share = 0;
};

/// One framework (`framework.*`); `role` indexes `eval_input::roles`.
struct framework_view {
  std::string id;
  std::string user;
  size_t role = 0;
  res_vec allocated{};
  res_vec min_request{};
  res_vec max_request{};
  std::map<std::string, std::string> labels;  ///< Absent key: absent label.
  std::string locality_level;
  double waiting = 0;  ///< Seconds.
};

/// One agent (`agent.*`). Boolean attributes are stored as "true"/"false".
struct agent_view {
  std::string id;
  std::string hostname;
  std::map<std::string, std::string> attributes;  ///< Absent key: absent attribute.
  std::map<std::string, double> metrics;          ///< Absent key: absent (stale) metric.
  res_vec total{};
  res_vec free{};
  res_vec used{};
};

/// The data of an event an `on EVENT` metric reads: `offer.*` for offer
/// and decline events, `task.*` for launch and finish events.
struct offer_view {
  res_vec res{};         ///< What was offered or declined, or the task's resources.
  std::string locality;  ///< The locality level it matched ("" without locality).
  double runtime = 0;    ///< `task.runtime`: seconds the task ran (finish events).
};

/// Everything one allocation cycle's evaluation reads.
struct eval_input {
  cluster_view cluster;
  std::vector<role_view> roles;
  std::vector<framework_view> frameworks;
  std::vector<agent_view> agents;
};

}  // namespace agora::policy
