// agora-allocator-bench: allocation cycles of the master's allocator
// (allocator.hpp over policy::allocation_core) running compiled policies,
// in the shapes of Mesos' HierarchicalAllocator benchmarks. No messaging.
//
//   build/bin/agora-allocator-bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// Shapes (agents x frameworks): 1k x 100, 10k x 1k, 20k x 2k, 50k x 6k.
// Agents have 8 cpus and 32 GiB, on 40 racks (2 per zone). Frameworks are
// spread round robin over the policy's roles, each with a finite demand
// (its share of the cluster, so together they want it all), a smallest
// task of 1 cpu and 1 GiB, and for rack_local.policy two data racks.

#include <benchmark/benchmark.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "agora/master/allocator.hpp"
#include "agora/policy/policy_outline.hpp"

namespace agora::master {
namespace {

constexpr int64_t gib = int64_t{1} << 30;

const char* const policy_files[] = {"weighted_drf.policy", "quotas.policy", "rack_local.policy",
                                    "binpack.policy"};
const std::vector<std::vector<std::string>> policy_roles = {
    {"prod", "batch", "dev", "team"},
    {"prod/web", "prod/etl", "research", "dev"},
    {"etl", "web", "ml", "dev"},
    {"prod", "batch", "dev", "team"}};

policy::runnable_policy load(size_t which) {
  auto p =
      policy::load_policy_file(std::string(AGORA_POLICY_EXAMPLES_DIR) + "/" + policy_files[which]);
  if (!p.ok()) throw std::runtime_error(p.render_errors());
  return {p.prog, p.outline};
}

/// Builds the cluster of a shape.
std::unique_ptr<allocator> make_cluster(size_t which, int agents, int frameworks) {
  auto a = std::make_unique<allocator>(load(which));
  for (int i = 0; i < agents; ++i) {
    int rack = i % 40;
    a->add_agent("agent-" + std::to_string(i), resources::make(8, 32 * gib), {}, "",
                 {{"rack", "r" + std::to_string(rack)}, {"zone", "z" + std::to_string(rack / 2)}});
  }
  auto& roles = policy_roles[which];
  double share = 8.0 * agents / frameworks;
  for (int i = 0; i < frameworks; ++i) {
    framework_demand d;
    d.min_request = resources::make(1, gib);
    d.demand = resources::make(share, static_cast<int64_t>(share * 4) * gib);
    if (which == 2)
      d.labels["data_racks"] = "r" + std::to_string(i % 40) + ",r" + std::to_string((i + 1) % 40);
    a->add_framework("fw-" + std::to_string(i), {roles[static_cast<size_t>(i) % roles.size()]}, d);
  }
  return a;
}

/// One full cycle over a free cluster (every agent offered), then every
/// offer returned (untimed), so each iteration starts from the same state.
void full_cycle(benchmark::State& state) {
  auto which = static_cast<size_t>(state.range(0));
  auto agents = static_cast<int>(state.range(1));
  auto a = make_cluster(which, agents, static_cast<int>(state.range(2)));
  state.SetLabel(policy_files[which]);
  auto now = clock_type::now();
  size_t offers = 0;
  for (auto _ : state) {
    auto decisions = a->allocate(now);
    offers = decisions.size();
    state.PauseTiming();
    for (const auto& d : decisions) a->recover(d.framework_id, d.role, d.agent_id, d.res);
    state.ResumeTiming();
  }
  state.counters["offers"] = static_cast<double>(offers);
}

/// Cycles in which frameworks decline every offer they get with a filter
/// of an hour (Mesos' DeclineOffers shape): each iteration is one cycle,
/// then (untimed) every offer is declined, so filters pile up and each
/// cycle offers every agent to a framework that has not declined it yet.
void declining_cycles(benchmark::State& state) {
  auto which = static_cast<size_t>(state.range(0));
  auto a = make_cluster(which, static_cast<int>(state.range(1)), static_cast<int>(state.range(2)));
  state.SetLabel(policy_files[which]);
  auto now = clock_type::now();
  size_t offers = 0;
  for (auto _ : state) {
    auto decisions = a->allocate(now);
    offers += decisions.size();
    state.PauseTiming();
    for (const auto& d : decisions)
      a->recover(d.framework_id, d.role, d.agent_id, d.res, std::chrono::hours{1}, now);
    state.ResumeTiming();
  }
  state.counters["offers_per_cycle"] =
      benchmark::Counter(static_cast<double>(offers), benchmark::Counter::kAvgIterations);
  state.counters["filters"] = static_cast<double>(a->filter_count(now));
}

/// An event-triggered cycle: the cluster is fully allocated, one agent's
/// resources come back and a cycle over that agent offers them again.
void one_agent_event(benchmark::State& state) {
  auto which = static_cast<size_t>(state.range(0));
  auto agents = static_cast<int>(state.range(1));
  auto a = make_cluster(which, agents, static_cast<int>(state.range(2)));
  state.SetLabel(policy_files[which]);
  auto now = clock_type::now();
  auto all = a->allocate(now);
  size_t i = 0, offers = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto& d = all[i++ % all.size()];
    a->recover(d.framework_id, d.role, d.agent_id, d.res, std::chrono::milliseconds{0}, now);
    std::vector<std::string> changed{d.agent_id};
    state.ResumeTiming();
    auto decisions = a->allocate(now, changed);
    offers += decisions.size();
    state.PauseTiming();
    // Whoever got the agent holds it now: the next time round it is
    // recovered from them.
    for (auto& o : decisions) d = o;
    state.ResumeTiming();
  }
  state.counters["offers_per_cycle"] =
      benchmark::Counter(static_cast<double>(offers), benchmark::Counter::kAvgIterations);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t policy = 0; policy < 4; ++policy) {
    b->Args({policy, 1000, 100});
    b->Args({policy, 10000, 1000});
    b->Args({policy, 20000, 2000});
    b->Args({policy, 50000, 6000});
  }
}

BENCHMARK(full_cycle)
    ->Apply(shapes)
    ->Unit(benchmark::kMillisecond)
    ->ArgNames({"policy", "agents", "frameworks"});
BENCHMARK(declining_cycles)
    ->Args({0, 10000, 1000})
    ->Args({1, 10000, 1000})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->ArgNames({"policy", "agents", "frameworks"});
BENCHMARK(one_agent_event)
    ->Args({0, 10000, 1000})
    ->Args({0, 50000, 6000})
    ->Args({1, 10000, 1000})
    ->Unit(benchmark::kMicrosecond)
    ->ArgNames({"policy", "agents", "frameworks"});

}  // namespace
}  // namespace agora::master

BENCHMARK_MAIN();
