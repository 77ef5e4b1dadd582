#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agora/policy/allocation_core.hpp"

/// The inputs of `agora policy sim` (docs/policy-sim.md): a cluster, a trace
/// of events or a synthetic workload that generates one. Every parser checks
/// each value where it enters (types, units, ranges) and reports the first
/// problem as data: `file:line: field: message` for JSON lines,
/// `file: field: message` (or `file:line:col: ...` for syntax) for JSON
/// documents. Nothing here throws or prints.
namespace agora::main::sim {

/// Virtual time: milliseconds since the start of the simulation.
using millis = int64_t;

/// The largest input file read (trace, cluster or workload).
constexpr size_t max_input_bytes = size_t{256} << 20;
/// The most agents a cluster may have.
constexpr int64_t max_agents = 100000;
/// The most tasks one request may ask for.
constexpr int64_t max_tasks_per_request = 1000000;
/// The most events a trace or a synthetic workload may hold.
constexpr size_t max_events = 1000000;
/// The longest duration or time accepted anywhere (365 days).
constexpr millis max_millis = millis{365} * 24 * 3600 * 1000;

/// One agent: id, total resources (`policy::amounts` units: CPUs and GPUs in
/// thousandths, memory and disk in bytes) and attributes.
struct agent_def {
  std::string id;
  policy::amounts res{};
  std::map<std::string, std::string> attrs;
};

/// The agents present at time 0, in file (or generated) order.
struct cluster_def {
  std::vector<agent_def> agents;
};

/// What an event of the trace does.
enum class event_kind { agent_add, agent_remove, framework_add, framework_remove, request };

/// Returns the trace spelling of `k` (`agent_add`, ...).
const char* to_string(event_kind k);

/// One event of a trace (or generated from a synthetic workload).
struct input_event {
  millis t = 0;
  event_kind kind = event_kind::request;
  /// The agent (`agent_*`) or framework (`framework_*`, `request`: `fw`).
  std::string id;
  std::string role;                           ///< `framework_add`: its role (`*` if absent).
  std::map<std::string, std::string> labels;  ///< Framework labels, or agent attributes.
  policy::amounts res{};                      ///< Agent total, or one task's resources.
  int64_t tasks = 0;                          ///< `request`: how many tasks.
  millis duration = 0;                        ///< `request`: how long each task runs.
  std::string origin;                         ///< `trace.jsonl:12`, for messages.
};

/// One framework of a synthetic workload: Poisson arrivals of requests, each
/// for a uniform number of tasks in `[tasks_min, tasks_max]` running a
/// uniform duration in `[duration_min, duration_max]`.
struct synthetic_framework {
  std::string id;
  std::string role = "*";
  std::map<std::string, std::string> labels;
  double arrivals_per_min = 0;
  int64_t tasks_min = 1, tasks_max = 1;
  policy::amounts res{};
  millis duration_min = 0, duration_max = 0;
};

/// A synthetic workload: its frameworks, in file order.
struct workload_def {
  std::vector<synthetic_framework> frameworks;
};

/// Reads the file at `path` (at most `max_input_bytes`); false with `error`
/// naming the file otherwise.
bool read_input(const std::string& path, std::string& text, std::string& error);

/// Parses a duration string with a unit (`183s`, `5min`, `250ms`) into
/// milliseconds in `[0, max_millis]`.
bool parse_time(const std::string& text, millis& out, std::string& error);

/// Returns true if `role` is `*` or slash-separated names of letters,
/// digits, `_`, `-` and `.` (no empty, `.` or `..` segment).
bool valid_role(const std::string& role);

/// Parses a cluster document named `name`: either a generator
/// (`{"racks": R, "agents_per_rack": N, "agent": {RES}}`: agents `a1` ...
/// `aN*R`, agent `i` in rack `rK`, `K = (i - 1) / N + 1`, zone
/// `z((K + 1) / 2)`) or a list (`{"agents": [{"id", "res", "attrs"}]}`).
bool parse_cluster(const std::string& name, const std::string& text, cluster_def& out,
                   std::string& error);

/// Parses a trace named `name`: JSON lines, one event each (blank lines are
/// skipped). Events keep their file order; `origin` is `name:line`.
bool parse_trace(const std::string& name, const std::string& text, std::vector<input_event>& out,
                 std::string& error);

/// Parses a synthetic workload document named `name`
/// (`{"frameworks": [{"id", "role", "labels", "arrivals_per_min",
/// "tasks": [MIN, MAX], "res", "duration": [MIN, MAX]}]}`).
bool parse_synthetic(const std::string& name, const std::string& text, workload_def& out,
                     std::string& error);

/// Generates the events of `w` over `[0, until)`: a `framework_add` at 0 per
/// framework, then its requests. Framework `i` draws from its own
/// `std::mt19937_64` seeded from `seed` and `i` (adding a framework does not
/// change the others' streams); exponential gaps, counts and durations are
/// computed from the raw 64-bit draws, so the events are the same on every
/// standard library. Returns false when more than `max_events` would be made.
bool generate_workload(const workload_def& w, millis until, uint64_t seed,
                       std::vector<input_event>& out, std::string& error);

/// Checks the events against the cluster in time order (stable: same times
/// keep their order): requests and removals name a framework or agent that
/// is present then, additions do not repeat one that is. Events at or after
/// `until` are not checked (they never happen). False with `error` at the
/// event's origin.
bool check_events(const cluster_def& cluster, const std::vector<input_event>& events, millis until,
                  std::string& error);

}  // namespace agora::main::sim
