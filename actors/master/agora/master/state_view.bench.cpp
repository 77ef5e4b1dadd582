// agora-state-bench: what `/state` costs the master and its readers.
//
//   build/bin/agora-state-bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// Shapes: agents x tasks (10 per agent), 10 frameworks.
// - BM_FullRender: rendering the whole document from the master's state,
//   which the master did on its own thread at every publish before the
//   view (now only `render_state_json`, for tests and `state` requests).
// - BM_Publish/changes: what a publish costs the master now: re-rendering
//   the records of `changes` changed tasks and freezing the view.
// - BM_ReaderRender: a reader turning a snapshot into the document (on an
//   HTTP thread), and with `?only=agents`.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <map>
#include <memory>

#include "agora/master/master_actor.hpp"
#include "agora/master/state_view.hpp"
#include "agora/master/state_view_fixture.hpp"

namespace agora::master {
namespace {

/// One state per shape, built once (200,000 tasks take seconds).
master_state& state_of(int agents) {
  static std::map<int, std::unique_ptr<master_state>> states;
  auto& s = states[agents];
  if (!s) s = std::make_unique<master_state>(make_test_state(agents, 10, 10));
  return *s;
}

/// Bytes allocated on the heap now.
double heap_bytes() { return static_cast<double>(mallinfo2().uordblks); }

/// The heap a state of `agents` agents (10 tasks each) takes, and what its
/// view adds, per agent and per task (reported once, as counters).
void BM_Memory(benchmark::State& bench) {
  auto agents = static_cast<int>(bench.range(0));
  double state_bytes = 0, view_bytes = 0;
  for (auto _ : bench) {
    double before = heap_bytes();
    auto st = std::make_unique<master_state>(make_test_state(agents, 10, 10));
    double built = heap_bytes();
    auto view = std::make_unique<state_view>();
    auto snapshot = view->rebuild(*st);
    view_bytes = heap_bytes() - built;
    state_bytes = built - before;
  }
  double tasks = agents * 10.0;
  bench.counters["state_B_per_task"] = state_bytes / tasks;
  bench.counters["view_B_per_task"] = view_bytes / tasks;
}

void BM_FullRender(benchmark::State& bench) {
  auto& st = state_of(static_cast<int>(bench.range(0)));
  size_t bytes = 0;
  for (auto _ : bench) {
    auto json = render_state_json(st);
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  bench.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

void BM_Publish(benchmark::State& bench) {
  auto& st = state_of(static_cast<int>(bench.range(0)));
  auto changes = static_cast<size_t>(bench.range(1));
  auto view = std::make_unique<state_view>();
  auto held = view->rebuild(st);  // a reader holds the last snapshot
  std::vector<task_key> keys;
  for (const auto& [key, t] : st.tasks) {
    if (keys.size() == changes) break;
    keys.push_back({key.first, key.second});
  }
  for (auto _ : bench) {
    for (const auto& k : keys) st.changes.tasks.insert(k);
    held = view->update(st, st.changes);
    st.changes = {};
  }
}

void BM_ReaderRender(benchmark::State& bench) {
  auto& st = state_of(static_cast<int>(bench.range(0)));
  auto view = std::make_unique<state_view>();
  auto snapshot = view->rebuild(st);
  state_filter filter;
  std::string error;
  state_filter::parse(bench.range(1) != 0 ? "agents" : "", filter, error);
  size_t bytes = 0;
  for (auto _ : bench) {
    auto json = render_snapshot(*snapshot, filter);
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  bench.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

BENCHMARK(BM_Memory)->Arg(20000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FullRender)->Arg(1000)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Publish)
    ->Args({1000, 100})
    ->Args({20000, 100})
    ->Args({20000, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReaderRender)
    ->Args({1000, 0})
    ->Args({20000, 0})
    ->Args({20000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace agora::master

BENCHMARK_MAIN();
