#include "agora/main/policy_sim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "agora/cli/flags.hpp"
#include "agora/main/sim_assert.hpp"
#include "agora/main/sim_engine.hpp"
#include "agora/main/sim_input.hpp"
#include "agora/policy/policy_outline.hpp"

namespace agora::main {

namespace {

using namespace sim;

/// The most cycles one run may have (`--until` / `--cycle`).
constexpr int64_t max_cycles = 50000000;

/// One simulated policy: its label (`name@hash`), outline and result.
struct policy_run {
  std::string label;
  policy::runnable_policy policy;
  sim_result result;
};

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// Seconds with at most three decimals, trailing zeros dropped (`12.5s`).
std::string seconds_text(double v) {
  if (std::isnan(v)) return "n/a";
  std::string s = fixed(v, 3);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "s";
}

/// A duration in its largest whole unit (`30min`, `6h`, `1500ms`).
std::string duration_text(millis ms) {
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "min";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

/// The summary's rows for one run: (row label, value), in display order.
std::vector<std::pair<std::string, std::string>> summary_rows(const policy_run& run) {
  const auto& f = run.result.windows.at(0);
  std::vector<std::pair<std::string, std::string>> rows = {
      {"cpu utilisation (mean)", fixed(f.cpu_utilisation(), 4)},
      {"memory utilisation (mean)", fixed(f.mem_utilisation(), 4)},
      {"p50 queue wait", seconds_text(f.p50_queue_wait_seconds)},
      {"p99 queue wait", seconds_text(f.p99_queue_wait_seconds)},
      {"max share gap", fixed(f.max_share_gap, 4)},
      {"rack-local offers", fixed(f.rack_local_ratio(), 4)},
      {"limit violation", seconds_text(f.limit_violation_seconds)}};
  for (auto& [role, v] : f.limit_use_by_role)
    rows.push_back({"peak limit use " + role, fixed(v, 4)});
  rows.push_back({"guarantee misses", seconds_text(f.guarantee_miss_seconds)});
  for (auto& [role, v] : f.guarantee_miss_by_role)
    rows.push_back({"guarantee misses " + role, seconds_text(v)});
  rows.push_back({"tasks launched", std::to_string(f.tasks_launched)});
  rows.push_back({"tasks finished", std::to_string(f.tasks_finished)});
  rows.push_back({"tasks lost", std::to_string(f.tasks_lost)});
  rows.push_back({"tasks killed", std::to_string(f.tasks_killed)});
  rows.push_back({"tasks pending at end", std::to_string(run.result.pending_at_end)});
  rows.push_back({"offers", std::to_string(f.offers)});
  return rows;
}

/// The summary table: one column per run; rows only some runs have (roles
/// with limits or guarantees) read `-` in the others.
std::vector<std::vector<std::string>> summary_table(const std::vector<policy_run>& runs) {
  std::vector<std::string> order;
  std::vector<std::map<std::string, std::string>> values;
  for (auto& run : runs) {
    values.emplace_back();
    for (auto& [label, value] : summary_rows(run)) {
      if (std::find(order.begin(), order.end(), label) == order.end()) order.push_back(label);
      values.back()[label] = value;
    }
  }
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head{"policy"};
  for (auto& run : runs) head.push_back(run.label);
  table.push_back(head);
  for (auto& label : order) {
    std::vector<std::string> row{label};
    for (auto& v : values) row.push_back(v.count(label) ? v[label] : "-");
    table.push_back(row);
  }
  return table;
}

std::string summary_markdown(const std::vector<policy_run>& runs, const std::string& context,
                             const std::string& inputs) {
  std::ostringstream md;
  md << "# agora policy sim\n\n" << context << "\n\n" << inputs << "\n\n";
  auto table = summary_table(runs);
  for (size_t r = 0; r < table.size(); ++r) {
    md << "|";
    for (auto& cell : table[r]) md << " " << cell << " |";
    md << "\n";
    if (r == 0) {
      md << "| --- |";
      for (size_t c = 1; c < table[r].size(); ++c) md << " ---: |";
      md << "\n";
    }
  }
  for (auto& run : runs)
    if (!run.result.internal_error.empty())
      md << "\ninternal error (" << run.label << "): " << run.result.internal_error << "\n";
  return md.str();
}

std::string summary_text(const std::vector<policy_run>& runs, const std::string& context) {
  auto table = summary_table(runs);
  std::vector<size_t> width(table[0].size(), 0);
  for (auto& row : table)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::ostringstream out;
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t c = 0; c < table[r].size(); ++c) {
      out << table[r][c];
      if (c + 1 < table[r].size()) out << std::string(width[c] - table[r][c].size() + 3, ' ');
    }
    if (r == 0) out << "   (" << context << ")";
    out << "\n";
  }
  return out.str();
}

std::string timeseries_csv(const sim_result& r) {
  std::ostringstream csv;
  csv << "t_seconds,cpu_utilisation,mem_utilisation,pending_tasks,running_tasks,offers";
  for (auto& role : r.share_roles) csv << ",weighted_share:" << role;
  csv << "\n";
  for (auto& row : r.rows) {
    csv << fixed(static_cast<double>(row.t) / 1000.0, 3) << "," << fixed(row.cpu_utilisation, 6)
        << "," << fixed(row.mem_utilisation, 6) << "," << row.pending_tasks << ","
        << row.running_tasks << "," << row.offers;
    for (double s : row.weighted_shares) csv << "," << fixed(s, 6);
    csv << "\n";
  }
  return csv.str();
}

/// The run's figures as Prometheus gauges, and the policy's own `every
/// cycle` gauges at the end (prometheus-cpp's registry and serializer).
std::string metrics_text(const policy_run& run, millis until) {
  using prometheus::BuildGauge;
  prometheus::Registry reg;
  const auto& f = run.result.windows.at(0);
  auto gauge = [&](const std::string& name, const std::string& help) -> auto& {
    return BuildGauge().Name(name).Help(help).Register(reg);
  };
  gauge("agora_sim_policy_info", "The simulated policy (value 1)")
      .Add({{"name", run.policy.prog->name}, {"hash", run.policy.prog->hash_hex()}})
      .Set(1);
  gauge("agora_sim_virtual_duration_seconds", "Virtual time simulated")
      .Add({})
      .Set(static_cast<double>(until) / 1000.0);
  gauge("agora_sim_agents", "Most agents present at once")
      .Add({})
      .Set(static_cast<double>(run.result.max_agents));
  gauge("agora_sim_cpu_utilisation_ratio", "Mean allocated / total CPUs over the cycles")
      .Add({})
      .Set(f.cpu_utilisation());
  gauge("agora_sim_memory_utilisation_ratio", "Mean allocated / total memory over the cycles")
      .Add({})
      .Set(f.mem_utilisation());
  // Quantiles as plain gauges: a `quantile` label belongs to summaries only.
  if (!std::isnan(f.p50_queue_wait_seconds)) {
    const char* help =
        "th percentile of the queue wait of tasks, from request arrival to launch (tasks never "
        "launched count with their wait so far)";
    gauge("agora_sim_queue_wait_p50_seconds", std::string("50") + help)
        .Add({})
        .Set(f.p50_queue_wait_seconds);
    gauge("agora_sim_queue_wait_p99_seconds", std::string("99") + help)
        .Add({})
        .Set(f.p99_queue_wait_seconds);
  }
  gauge("agora_sim_max_share_gap_ratio",
        "Largest spread of dominant share / weight among roles with pending or running tasks")
      .Add({})
      .Set(f.max_share_gap);
  if (!std::isnan(f.rack_local_ratio()))
    gauge("agora_sim_rack_local_offers_ratio",
          "Offers at the policy's most local level, of offers that matched a level")
        .Add({})
        .Set(f.rack_local_ratio());
  gauge("agora_sim_limit_violation_seconds",
        "Virtual time in which some role held more than a limit along its path")
      .Add({})
      .Set(f.limit_violation_seconds);
  if (!f.limit_use_by_role.empty()) {
    auto& use = gauge("agora_sim_limit_use_peak_ratio",
                      "Largest fraction of its limit a role held (over its limited resources)");
    for (auto& [role, v] : f.limit_use_by_role) use.Add({{"role", role}}).Set(v);
  }
  auto& miss = gauge("agora_sim_guarantee_miss_seconds",
                     "Virtual time a role was below its guarantee while it had pending tasks");
  for (auto& [role, v] : f.guarantee_miss_by_role) miss.Add({{"role", role}}).Set(v);
  auto& tasks = gauge("agora_sim_tasks", "Tasks by outcome over the run");
  tasks.Add({{"outcome", "launched"}}).Set(static_cast<double>(f.tasks_launched));
  tasks.Add({{"outcome", "finished"}}).Set(static_cast<double>(f.tasks_finished));
  tasks.Add({{"outcome", "lost"}}).Set(static_cast<double>(f.tasks_lost));
  tasks.Add({{"outcome", "killed"}}).Set(static_cast<double>(f.tasks_killed));
  tasks.Add({{"outcome", "pending"}}).Set(static_cast<double>(run.result.pending_at_end));
  gauge("agora_sim_offers", "Offers made over the run").Add({}).Set(static_cast<double>(f.offers));
  // The policy's own `every cycle` gauges, as the master exports them.
  for (auto& spec : run.policy.outline.metrics) {
    if (!spec.every_cycle || spec.what != policy::metric_spec::kind::gauge) continue;
    auto& family = gauge(spec.name, spec.help);
    for (auto& s : run.result.policy_metrics) {
      if (s.name != spec.name) continue;
      prometheus::Labels labels;
      for (auto& [k, v] : s.labels) labels[k] = v;
      family.Add(labels).Set(s.value);
    }
  }
  return prometheus::TextSerializer().Serialize(reg.Collect());
}

bool write_text(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

/// Writes one run's timeseries and metrics to `dir`.
bool write_run(const std::string& dir, const policy_run& run, millis until, std::string& error) {
  return write_text(dir + "/timeseries.csv", timeseries_csv(run.result), error) &&
         write_text(dir + "/metrics.prom", metrics_text(run, until), error);
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string cluster_file, synthetic_file, trace_file, policy_file, schema_file, compare_file,
      out_dir;
  std::chrono::milliseconds until{0}, cycle{1000};
  int64_t seed = 0;
  std::vector<std::string> assert_texts;
  cli::flags f{"agora policy sim",
               "Simulates a cluster under a policy on a virtual clock with the master's "
               "allocation core (docs/policy-sim.md)."};
  f.add("cluster", &cluster_file,
        "agents: JSON {racks, agents_per_rack, agent} or {agents: [{id, res, attrs}]}");
  f.add("synthetic", &synthetic_file, "synthetic workload (JSON); or --trace");
  f.add("trace", &trace_file, "recorded events (JSON lines); or --synthetic");
  f.add("policy", &policy_file, "the policy to simulate");
  f.add("schema", &schema_file, "cluster schema (default: cluster.schema next to the policy)");
  f.add("compare", &compare_file, "a second policy run on the same inputs and seed");
  f.add("until", &until, "virtual time to simulate (e.g. 30min)");
  f.add("cycle", &cycle, "allocation interval in virtual time");
  f.add("seed", &seed, "seed of the synthetic workload (required with --synthetic)");
  f.add("out", &out_dir, "output directory (created if missing)");
  f.add_custom("assert", "", "NAME [{role=\"R\"}] OP NUMBER [after DURATION] (repeatable)",
               [&](const std::string& v, std::string&) {
                 assert_texts.push_back(v);
                 return true;
               });
  auto usage_error = [&](const std::string& message) {
    err << "agora policy sim: error: " << message << "\n";
    return 2;
  };
  std::string error;
  if (!f.parse(std::vector<std::string>(args.begin() + 1, args.end()), error))
    return usage_error(error);
  if (f.help_requested()) {
    std::string usage = f.usage();
    out << usage << (usage.empty() || usage.back() != '\n' ? "\n" : "");
    return 0;
  }
  if (!f.positional().empty())
    return usage_error("unexpected argument '" + f.positional()[0] + "'");
  if (cluster_file.empty()) return usage_error("--cluster: required (a JSON file)");
  if (synthetic_file.empty() == trace_file.empty())
    return usage_error("--synthetic, --trace: give exactly one");
  if (policy_file.empty()) return usage_error("--policy: required");
  if (out_dir.empty()) return usage_error("--out: required (a directory)");
  if (!f.given("until") || until.count() <= 0 || until.count() > max_millis)
    return usage_error("--until: required, from 1ms to 365d (e.g. 30min)");
  if (cycle.count() <= 0) return usage_error("--cycle: must be at least 1ms");
  if (until.count() / cycle.count() > max_cycles)
    return usage_error("--cycle: more than " + std::to_string(max_cycles) +
                       " cycles until --until");
  if (!synthetic_file.empty() && !f.given("seed"))
    return usage_error("--seed: required with --synthetic");
  std::vector<assertion> assertions;
  for (auto& text : assert_texts) {
    assertion a;
    if (!parse_assertion(text, a, error)) return usage_error("--assert '" + text + "': " + error);
    assertions.push_back(std::move(a));
  }

  // Inputs.
  sim_setup setup;
  setup.until = until.count();
  setup.cycle = cycle.count();
  std::string text;
  if (!read_input(cluster_file, text, error) ||
      !parse_cluster(cluster_file, text, setup.cluster, error))
    return usage_error("--cluster: " + error);
  if (!trace_file.empty()) {
    if (!read_input(trace_file, text, error) || !parse_trace(trace_file, text, setup.events, error))
      return usage_error("--trace: " + error);
  } else {
    workload_def workload;
    if (!read_input(synthetic_file, text, error) ||
        !parse_synthetic(synthetic_file, text, workload, error))
      return usage_error("--synthetic: " + error);
    if (!generate_workload(workload, setup.until, static_cast<uint64_t>(seed), setup.events, error))
      return usage_error("--synthetic: " + error);
  }
  if (!check_events(setup.cluster, setup.events, setup.until, error)) return usage_error(error);
  for (auto& a : assertions) setup.windows.push_back(a.after);

  // Policies.
  std::vector<policy_run> runs;
  for (auto* file : {&policy_file, &compare_file}) {
    if (file->empty()) continue;
    auto loaded = policy::load_policy_file(*file, schema_file);
    if (!loaded.ok()) {
      err << loaded.render_errors();
      return usage_error((file == &policy_file ? "--policy: '" : "--compare: '") + *file +
                         (loaded.error.empty() ? "' does not compile" : "' cannot be loaded"));
    }
    policy_run r;
    r.label = loaded.prog->name + "@" + loaded.prog->hash_hex();
    r.policy = policy::runnable_policy{loaded.prog, loaded.outline};
    runs.push_back(std::move(r));
  }

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir))
    return usage_error("--out: cannot create '" + out_dir + "'" +
                       (ec ? " (" + ec.message() + ")" : std::string()));

  for (auto& r : runs) r.result = simulate(r.policy, setup);

  // Outputs.
  const auto& first = runs.front().result;
  std::string context = duration_text(setup.until) + " virtual, cycle " +
                        duration_text(setup.cycle) + ", " + std::to_string(first.max_agents) +
                        " agents" + (trace_file.empty() ? ", seed " + std::to_string(seed) : "");
  std::string inputs = "inputs: cluster " + base_name(cluster_file) + ", " +
                       (trace_file.empty() ? "synthetic " + base_name(synthetic_file)
                                           : "trace " + base_name(trace_file));
  bool written =
      write_text(out_dir + "/summary.md", summary_markdown(runs, context, inputs), error) &&
      write_run(out_dir, runs[0], setup.until, error);
  if (written && runs.size() > 1) {
    std::filesystem::create_directories(out_dir + "/compare", ec);
    written = write_run(out_dir + "/compare", runs[1], setup.until, error);
  }
  out << summary_text(runs, context);
  for (auto& r : runs) {
    double ms = first.cycles > 0
                    ? r.result.allocate_wall_seconds * 1000.0 / static_cast<double>(r.result.cycles)
                    : 0;
    out << "allocation cycle wall time (mean, " << r.label << "): " << fixed(ms, 3) << " ms\n";
  }
  int status = 0;
  if (!written) {
    err << "agora policy sim: error: " << error << "\n";
    status = 1;
  } else {
    out << "outputs: " << out_dir << "/summary.md, timeseries.csv, metrics.prom"
        << (runs.size() > 1 ? ", compare/" : "") << "\n";
  }
  for (auto& r : runs)
    if (!r.result.internal_error.empty()) {
      err << "agora policy sim: internal error (" << r.label << "): " << r.result.internal_error
          << "\n";
      status = 1;
    }
  // Assertions hold for the --policy run.
  for (auto& a : assertions) {
    double value = 0;
    if (!figure_value(a, first.windows.at(a.after), value, error))
      return usage_error("--assert '" + a.text + "': " + error);
    bool ok = holds(a, value);
    out << (ok ? "assertion passed: " : "assertion failed: ") << a.text << " (value "
        << format_value(value) << ")\n";
    if (!ok) status = 1;
  }
  return status;
}

}  // namespace

int run_policy_sim(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    return run(args, out, err);
  } catch (const std::exception& e) {
    // prometheus-cpp and the standard library report through exceptions;
    // none may leave the command.
    err << "agora policy sim: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace agora::main
