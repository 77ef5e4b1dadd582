// agora-allocator-bench: one allocation cycle of the built-in weighted DRF
// allocator (allocator.hpp), with no messaging, for growing clusters.
//
//   build/bin/agora-allocator-bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include "agora/master/allocator.hpp"

namespace agora::master {
namespace {

/// A cluster of `agents` agents (8 cpus, 32 GiB) and `frameworks`
/// frameworks spread over 10 roles. Each iteration runs one full cycle
/// (every agent offered to the framework DRF picks) and then returns all
/// offers, so every iteration starts from the same state.
void allocation_cycle(benchmark::State& state) {
  const auto agents = static_cast<int>(state.range(0));
  const auto frameworks = static_cast<int>(state.range(1));
  allocator a;
  for (int i = 0; i < agents; ++i)
    a.add_agent("agent-" + std::to_string(i), resources::make(8, int64_t{32} << 30));
  for (int i = 0; i < frameworks; ++i)
    a.add_framework("fw-" + std::to_string(i), {"role-" + std::to_string(i % 10)});
  size_t offers = 0;
  for (auto _ : state) {
    auto decisions = a.allocate();
    offers = decisions.size();
    state.PauseTiming();
    for (const auto& d : decisions) a.recover(d.framework_id, d.role, d.agent_id, d.res);
    state.ResumeTiming();
  }
  state.counters["offers"] = static_cast<double>(offers);
  state.counters["agents_per_s"] =
      benchmark::Counter(static_cast<double>(agents), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(allocation_cycle)
    ->Args({100, 10})
    ->Args({1000, 100})
    ->Args({10000, 100})
    ->Args({10000, 1000})
    ->Args({50000, 100})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace agora::master

BENCHMARK_MAIN();
