// agora-policy-bench: per-pair evaluation time of each example policy's pair
// stage (VM and AST oracle), and compile time per example. Run:
//   build-vm/bin/agora-policy-bench --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "agora/policy/compiler.hpp"
#include "agora/policy/oracle.hpp"
#include "agora/policy/tool_disasm.hpp"
#include "agora/policy/vm.hpp"

namespace agora::policy {
namespace {

const char* example_names[] = {"drf.policy",    "weighted_drf.policy", "quotas.policy",
                               "binpack.policy", "spread.policy",      "gpu_isolation.policy",
                               "rack_local.policy", "observability.policy"};

std::string path_of(const std::string& name) {
  return std::string(AGORA_POLICY_EXAMPLES_DIR) + "/" + name;
}

/// A synthetic cluster: 4 roles, 64 frameworks, 256 agents, two racks.
eval_input cluster() {
  std::mt19937_64 rng(42);
  auto r = [&](int n) { return static_cast<double>(rng() % static_cast<uint64_t>(n)); };
  eval_input in;
  in.cluster.total = {4096, 16384.0 * (1ull << 30), 0, 64};
  in.cluster.agents = 256;
  for (int i = 0; i < 4; ++i) {
    role_view role;
    role.name = role.path = "role" + std::to_string(i);
    role.weight = 1 + i;
    role.allocated = {r(1000), r(4000) * (1ull << 30), 0, r(16)};
    in.roles.push_back(role);
  }
  for (int i = 0; i < 64; ++i) {
    framework_view f;
    f.id = "fw" + std::to_string(i);
    f.role = static_cast<size_t>(i % 4);
    f.allocated = {r(100), r(400) * (1ull << 30), 0, r(2)};
    f.min_request = {1 + r(4), (1 + r(8)) * (1ull << 30), 0, i % 8 == 0 ? 1.0 : 0.0};
    if (i % 8 == 0) f.labels["gpu_model"] = "a100";
    if (i % 3 == 0) f.labels["data_racks"] = "r1";
    in.frameworks.push_back(f);
  }
  for (int i = 0; i < 256; ++i) {
    agent_view a;
    a.id = a.hostname = "agent" + std::to_string(i);
    a.attributes["rack"] = i % 2 ? "r1" : "r2";
    a.attributes["zone"] = "z1";
    a.attributes["ssd"] = "true";
    if (i % 16 == 0) a.attributes["gpu_model"] = "a100";
    if (i % 4) a.metrics["cpu_pressure"] = r(100) / 100;
    a.total = {16, 64.0 * (1ull << 30), 0, i % 16 == 0 ? 4.0 : 0.0};
    a.used = {r(16), r(64) * (1ull << 30), 0, 0};
    for (size_t k = 0; k < max_resources; ++k) a.free[k] = a.total[k] - a.used[k];
    in.agents.push_back(a);
  }
  return in;
}

void pair_vm(benchmark::State& state, std::string name) {
  auto p = load_policy(path_of(name));
  if (!p->compiled.ok()) {
    state.SkipWithError("not compiled");
    return;
  }
  auto in = cluster();
  vm m(p->compiled.prog);
  m.prepare_cycle(in);
  std::vector<stage_regs> roles, fws, agents;
  for (size_t i = 0; i < in.roles.size(); ++i) roles.push_back(m.prepare_role(i));
  for (size_t i = 0; i < in.frameworks.size(); ++i)
    fws.push_back(m.prepare_framework(i, roles[in.frameworks[i].role]));
  for (size_t i = 0; i < in.agents.size(); ++i) agents.push_back(m.prepare_agent(i));
  size_t f = 0, a = 0;
  double sum = 0;
  for (auto _ : state) {
    auto r = m.eval_pair(fws[f], agents[a]);
    sum += r.score;
    if (++a == agents.size()) {
      a = 0;
      if (++f == fws.size()) f = 0;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void pair_oracle(benchmark::State& state, std::string name) {
  auto p = load_policy(path_of(name));
  if (!p->compiled.ok()) {
    state.SkipWithError("not compiled");
    return;
  }
  auto in = cluster();
  const schema* s = p->schema ? &*p->schema : nullptr;
  oracle o(p->checked, s);
  size_t f = 0, a = 0;
  double sum = 0;
  for (auto _ : state) {
    auto r = o.eval_pair(in, f, a);
    sum += r.score;
    if (++a == in.agents.size()) {
      a = 0;
      if (++f == in.frameworks.size()) f = 0;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void compile_only(benchmark::State& state, std::string name) {
  auto p = load_policy(path_of(name));
  if (!p->checked.ok()) {
    state.SkipWithError("check failed");
    return;
  }
  const schema* s = p->schema ? &*p->schema : nullptr;
  for (auto _ : state) {
    auto c = compile(p->checked, *p->source, s);
    benchmark::DoNotOptimize(c.prog);
  }
}

void check_and_compile(benchmark::State& state, std::string name) {
  auto p = load_policy(path_of(name));
  const schema* s = p->schema ? &*p->schema : nullptr;
  for (auto _ : state) {
    auto checked = check_policy(*p->source, s);
    auto c = compile(checked, *p->source, s);
    benchmark::DoNotOptimize(c.prog);
  }
}

int register_all() {
  for (auto* n : example_names) {
    std::string name = n;
    std::string base = name.substr(0, name.find('.'));
    if (!load_policy(path_of(name))->compiled.ok()) continue;  // E0901 (see disasm goldens).
    benchmark::RegisterBenchmark(("pair_vm/" + base).c_str(), pair_vm, name);
    benchmark::RegisterBenchmark(("pair_oracle/" + base).c_str(), pair_oracle, name);
    benchmark::RegisterBenchmark(("compile/" + base).c_str(), compile_only, name)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("check_compile/" + base).c_str(), check_and_compile, name)
        ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}

}  // namespace
}  // namespace agora::policy

int main(int argc, char** argv) {
  // Registered in main, not during static initialization: loading a policy
  // uses the checker's static tables.
  agora::policy::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
