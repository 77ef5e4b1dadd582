#include "agora/main/fleet_agent.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "agora/agent/agent_state.hpp"
#include "agora/agent/containerizer.hpp"
#include "agora/agent/status_updates.hpp"
#include "agora/auth/handshake.hpp"
#include "agora/cli/flags.hpp"
#include "agora/protocol/exits.hpp"

namespace agora::main::fleet {

using namespace protocol;

void fleet_counters::add_to(fleet_totals& t) const {
  auto get = [](const std::atomic<int64_t>& x) { return x.load(std::memory_order_relaxed); };
  t.agents += get(agents);
  t.registered += get(registered);
  t.registrations += get(registrations);
  t.reregistrations += get(reregistrations);
  t.register_failures += get(register_failures);
  t.running += get(running);
  t.launched += get(launched);
  t.finished += get(finished);
  t.failed += get(failed);
  t.killed += get(killed);
  t.rejected += get(rejected);
  t.updates_sent += get(updates_sent);
  t.updates_acked += get(updates_acked);
  t.updates_retried += get(updates_retried);
  t.updates_pending += get(updates_pending);
  t.pings += get(pings);
  t.foreign_commands += get(foreign_commands);
  t.stale_epoch_commands += get(stale_epoch_commands);
  t.connected += get(connected);
  t.connections += get(connections);
  t.heap_kib += get(heap_kib);
}

// -- task durations and commands ----------------------------------------------

bool duration_dist::parse(const std::string& text, duration_dist& out, std::string& error) {
  auto dur = [&](const std::string& part, std::chrono::milliseconds& d) {
    std::string why;
    if (cli::parse_duration(part, d, why)) return true;
    error = why;
    return false;
  };
  duration_dist d;
  if (text.rfind("uniform:", 0) == 0) {
    auto rest = text.substr(8);
    auto colon = rest.find(':');
    if (colon == std::string::npos) {
      error = "'" + text + "' is not uniform:MIN:MAX";
      return false;
    }
    d.k = kind::uniform;
    if (!dur(rest.substr(0, colon), d.a) || !dur(rest.substr(colon + 1), d.b)) return false;
    if (d.b < d.a) {
      error = "'" + text + "': the maximum is below the minimum";
      return false;
    }
  } else if (text.rfind("exp:", 0) == 0) {
    d.k = kind::exponential;
    if (!dur(text.substr(4), d.a)) return false;
  } else {
    d.k = kind::constant;
    if (!dur(text, d.a)) return false;
  }
  out = d;
  return true;
}

std::chrono::milliseconds duration_dist::draw(double u) const {
  switch (k) {
    case kind::constant:
      return a;
    case kind::uniform:
      return a + std::chrono::milliseconds{static_cast<int64_t>(
                     std::floor(u * static_cast<double>((b - a).count() + 1)))};
    case kind::exponential: {
      // Inverse transform; capped at 100 means so one draw cannot park a
      // task for years.
      double x = -std::log1p(-u) * static_cast<double>(a.count());
      return std::chrono::milliseconds{
          static_cast<int64_t>(std::min(x, 100.0 * static_cast<double>(a.count())))};
    }
  }
  return a;
}

namespace {

std::string ms_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string trim(const std::string& s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string duration_dist::to_string() const {
  switch (k) {
    case kind::constant:
      return ms_text(a);
    case kind::uniform:
      return "uniform:" + ms_text(a) + ":" + ms_text(b);
    case kind::exponential:
      return "exp:" + ms_text(a);
  }
  return ms_text(a);
}

task_plan plan_task(const std::string& command) {
  task_plan p;
  auto cmd = trim(command);
  if (cmd == "true" || cmd == "exit") {
    p.from_command = true;
    return p;
  }
  if (cmd == "false") {
    p.from_command = true;
    p.exit_code = 1;
    return p;
  }
  auto arg_of = [&](const char* verb) -> std::optional<std::string> {
    std::string v = verb;
    if (cmd.size() <= v.size() || cmd.compare(0, v.size(), v) != 0 ||
        !std::isspace(static_cast<unsigned char>(cmd[v.size()])))
      return std::nullopt;
    auto arg = trim(cmd.substr(v.size()));
    if (arg.empty() || arg.find_first_of(" \t;&|") != std::string::npos) return std::nullopt;
    return arg;
  };
  if (auto arg = arg_of("exit")) {
    char* end = nullptr;
    long n = std::strtol(arg->c_str(), &end, 10);
    if (*end == '\0' && n >= 0 && n <= 255) {
      p.from_command = true;
      p.exit_code = static_cast<int32_t>(n);
    }
    return p;
  }
  if (auto arg = arg_of("sleep")) {
    // GNU sleep: a number of seconds with an optional unit s, m, h or d.
    double factor = 1000;
    std::string num = *arg;
    switch (num.back()) {
      case 's':
        num.pop_back();
        break;
      case 'm':
        factor = 60e3, num.pop_back();
        break;
      case 'h':
        factor = 3600e3, num.pop_back();
        break;
      case 'd':
        factor = 86400e3, num.pop_back();
        break;
      default:
        break;
    }
    char* end = nullptr;
    double v = num.empty() ? -1 : std::strtod(num.c_str(), &end);
    if (!num.empty() && *end == '\0' && std::isfinite(v) && v >= 0 &&
        v * factor <= static_cast<double>(cli::max_duration.count())) {
      p.from_command = true;
      p.duration = std::chrono::milliseconds{static_cast<int64_t>(std::llround(v * factor))};
    }
    return p;
  }
  return p;
}

std::string fleet_hostname(const std::string& prefix, int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%05lld", static_cast<long long>(index + 1));
  return prefix + "-" + buf;
}

attribute_map fleet_agent_config::attributes_of(int64_t index) const {
  auto out = attributes;
  int64_t rack = index % std::max<int64_t>(racks, 1) + 1;
  out["rack"] = "r" + std::to_string(rack);
  if (zones > 0) out["zone"] = "z" + std::to_string((rack - 1) % zones + 1);
  return out;
}

// -- the simulated agent ---------------------------------------------------------

namespace {

// The agent's own timers and retries, sent to itself.
using reregister_atom = caf::atom_constant<caf::atom("fregister")>;
using watchdog_atom = caf::atom_constant<caf::atom("fwatchdog")>;
using wake_atom = caf::atom_constant<caf::atom("fwake")>;

using clock_type = std::chrono::steady_clock;
using task_key = std::pair<std::string, std::string>;  // (framework id, task id)
using deadline_map = std::multimap<clock_type::time_point, const task_key*>;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A running simulated task. Its latest status is always TASK_RUNNING (a
/// task that ends leaves `tasks` at once), so only the uuid and time of
/// that update are kept, not the whole `task_status`.
struct sim_task {
  std::shared_ptr<const framework_info> framework;  ///< Shared by the framework's tasks.
  task_info info;
  std::string role;
  uint64_t uuid_hi = 0;
  uint64_t uuid_lo = 0;
  int64_t timestamp_ns = 0;
  int32_t exit_code = 0;  ///< Its status when its deadline comes.
  deadline_map::iterator deadline;
};

/// A task that ended, kept (a few per agent) to answer a late kill or a
/// reconciliation, and to report it in a re-registration while its last
/// updates wait for their acknowledgement.
struct ended_task {
  std::shared_ptr<const framework_info> framework;
  task_info info;
  std::string role;
  task_status status;
};

/// How many ended tasks an agent keeps.
constexpr size_t ended_kept = 4;

struct fleet_agent_state {
  static inline const char* name = "agora.fleet.agent";

  std::shared_ptr<const fleet_agent_config> cfg;
  int64_t index = 0;
  std::string agent_id;

  // -- the master ---------------------------------------------------------------
  caf::actor master;
  std::string master_address;
  int64_t master_epoch = -1;  ///< The leader epoch followed (-1: unknown).
  uint64_t generation = 0;    ///< Bumped per master handle, to drop stale replies.
  bool registered = false;
  std::chrono::milliseconds backoff{0};
  std::chrono::milliseconds ping_interval{0};
  clock_type::time_point last_ping;

  // -- tasks and updates ----------------------------------------------------------
  resources used;
  std::map<task_key, sim_task> tasks;
  /// When each running task ends; one armed timer for the earliest.
  deadline_map deadlines;
  std::optional<clock_type::time_point> wake_at;
  std::map<std::string, std::shared_ptr<const framework_info>> frameworks;
  /// Oldest first; a vector, as an empty one allocates nothing (an empty
  /// `std::deque` holds about 600 bytes, a sixth of an idle agent).
  std::vector<ended_task> ended;
  agent::status_update_manager updates;
  std::optional<clock_type::time_point> retry_at;
  uint64_t rng = 0;  ///< splitmix64 state

  fleet_counters& counters() const { return *cfg->counters; }

  uint64_t next_random() {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double next_uniform() { return static_cast<double>(next_random() >> 11) * 0x1.0p-53; }

  ~fleet_agent_state() {
    // Leaves the process's figures as they would be without this agent.
    if (!cfg) return;
    auto& c = counters();
    c.agents.fetch_sub(1, std::memory_order_relaxed);
    if (registered) c.registered.fetch_sub(1, std::memory_order_relaxed);
    c.running.fetch_sub(static_cast<int64_t>(tasks.size()), std::memory_order_relaxed);
    c.updates_pending.fetch_sub(static_cast<int64_t>(updates.size()), std::memory_order_relaxed);
  }
};

using fleet_agent_actor = caf::stateful_actor<fleet_agent_state>;
using agent_ptr = fleet_agent_actor*;

std::string uuid_text(uint64_t hi, uint64_t lo) {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

void log(agent_ptr self, const std::string& line) {
  auto& st = self->state;
  if (st.cfg->log)
    st.cfg->log(fleet_hostname(st.cfg->hostname_prefix, st.index) +
                (st.agent_id.empty() ? "" : " [" + st.agent_id + "]") + ": " + line);
}

std::chrono::milliseconds next_backoff(agent_ptr self) {
  auto& st = self->state;
  st.backoff =
      st.backoff.count() == 0 ? st.cfg->backoff_min : std::min(st.backoff * 2, st.cfg->backoff_max);
  return st.backoff;
}

agent_info info_of(const fleet_agent_state& st) {
  agent_info i;
  i.id = st.agent_id;
  i.hostname = fleet_hostname(st.cfg->hostname_prefix, st.index);
  i.total = st.cfg->resources;
  i.attributes = st.cfg->attributes_of(st.index);
  return i;
}

/// Returns the latest status of a running task (TASK_RUNNING).
task_status status_of(const fleet_agent_state& st, const task_key& key, const sim_task& t) {
  task_status s;
  s.task_id = key.second;
  s.framework_id = key.first;
  s.agent_id = st.agent_id;
  s.state = task_state::running;
  s.uuid = uuid_text(t.uuid_hi, t.uuid_lo);
  s.timestamp_ns = t.timestamp_ns;
  return s;
}

// -- status updates -------------------------------------------------------------------

void send_update(agent_ptr self, task_status s) {
  auto& st = self->state;
  if (!st.registered || !st.master) return;  // re-sent after (re)registration
  s.agent_id = st.agent_id;
  status_update m{std::move(s)};
  if (auto latest = st.updates.latest_state(m.status.framework_id, m.status.task_id))
    m.latest_state = *latest;
  st.counters().updates_sent.fetch_add(1, std::memory_order_relaxed);
  self->send(st.master, std::move(m));
}

// Arms the retry timer for the earliest retry the update manager wants,
// unless one is armed for that time or earlier (as `agora-agent`).
void arm_retry(agent_ptr self) {
  auto& st = self->state;
  auto due = st.updates.next_due();
  if (!due || (st.retry_at && *st.retry_at <= *due)) return;
  st.retry_at = *due;
  auto delay = std::max(clock_type::duration::zero(), *due - clock_type::now());
  self->delayed_send(
      self,
      std::chrono::duration_cast<std::chrono::milliseconds>(delay) + std::chrono::milliseconds{1},
      retry_atom::value, due->time_since_epoch().count());
}

// Queues a new update in its task's stream; sends it if it is the head.
void emit(agent_ptr self, const task_status& s) {
  auto& st = self->state;
  st.counters().updates_pending.fetch_add(1, std::memory_order_relaxed);
  if (st.updates.add(s, clock_type::now())) send_update(self, s);
  arm_retry(self);
}

// Returns a fresh update of a task (new uuid, now).
task_status make_status(agent_ptr self, const task_key& key, task_state state, std::string reason,
                        std::string message, int32_t exit_code = -1) {
  auto& st = self->state;
  task_status s;
  s.task_id = key.second;
  s.framework_id = key.first;
  s.agent_id = st.agent_id;
  s.state = state;
  s.reason = std::move(reason);
  s.message = std::move(message);
  s.uuid = uuid_text(st.next_random(), st.next_random());
  s.timestamp_ns = now_ns();
  s.exit_code = exit_code;
  return s;
}

void remember_ended(agent_ptr self, ended_task e) {
  auto& st = self->state;
  st.ended.push_back(std::move(e));
  while (st.ended.size() > ended_kept) {
    auto fw = std::move(st.ended.front().framework);
    st.ended.erase(st.ended.begin());
    // The framework's info goes with its last task (held here and by the map).
    if (auto known = fw ? st.frameworks.find(fw->id) : st.frameworks.end();
        known != st.frameworks.end() && known->second == fw && fw.use_count() == 2)
      st.frameworks.erase(known);
  }
}

void count_terminal(agent_ptr self, task_state state) {
  auto& c = self->state.counters();
  switch (state) {
    case task_state::finished:
      c.finished.fetch_add(1, std::memory_order_relaxed);
      break;
    case task_state::failed:
      c.failed.fetch_add(1, std::memory_order_relaxed);
      break;
    case task_state::killed:
      c.killed.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      c.rejected.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

// Ends a running task as a process that exited (or was killed) would, with
// the real agent's states, reasons and messages (`agent::describe_exit`).
void end_task(agent_ptr self, std::map<task_key, sim_task>::iterator it, bool killed) {
  auto& st = self->state;
  auto& t = it->second;
  agent::task_exited e;
  e.framework_id = it->first.first;
  e.task_id = it->first.second;
  e.kill_requested = killed;
  if (killed) {
    e.signaled = true;
    e.signal = SIGTERM;
  } else {
    e.code = t.exit_code;
  }
  auto out = agent::describe_exit(e);
  auto s = make_status(self, it->first, out.state, out.reason, out.message, out.exit_code);
  if (t.deadline != st.deadlines.end()) st.deadlines.erase(t.deadline);
  st.used -= t.info.res;
  st.counters().running.fetch_sub(1, std::memory_order_relaxed);
  count_terminal(self, out.state);
  emit(self, s);
  auto fw = std::move(t.framework);
  ended_task done{fw, std::move(t.info), std::move(t.role), s};
  st.tasks.erase(it);
  remember_ended(self, std::move(done));
}

// Arms the task timer for the earliest deadline, unless one is armed for
// that time or earlier.
void arm_wake(agent_ptr self) {
  auto& st = self->state;
  if (st.deadlines.empty()) return;
  auto due = st.deadlines.begin()->first;
  if (st.wake_at && *st.wake_at <= due) return;
  st.wake_at = due;
  auto delay = std::max(clock_type::duration::zero(), due - clock_type::now());
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(delay),
                     wake_atom::value, due.time_since_epoch().count());
}

void handle_run_task(agent_ptr self, run_task& m) {
  auto& st = self->state;
  task_key key{m.framework.id, m.task.id};
  if (st.tasks.count(key) != 0) {
    log(self, "run_task for task " + m.task.id + " of framework " + m.framework.id +
                  " which already runs; dropped");
    return;
  }
  auto reject = [&](task_state state, std::string reason, std::string message) {
    log(self, "task " + m.task.id + " of framework " + m.framework.id + ": " + message);
    auto s = make_status(self, key, state, std::move(reason), std::move(message));
    count_terminal(self, state);
    emit(self, s);
    remember_ended(self, {std::make_shared<const framework_info>(m.framework), m.task, m.role, s});
  };
  // The checks of `agora-agent`, in its order.
  std::string err;
  if (!agent::valid_path_component(m.framework.id, err))
    return reject(task_state::error, "REASON_TASK_INVALID", "framework " + err);
  if (!agent::valid_path_component(m.task.id, err))
    return reject(task_state::error, "REASON_TASK_INVALID", "task " + err);
  if (m.task.command.empty())
    return reject(task_state::error, "REASON_TASK_INVALID", "the task has no command");
  auto free = st.cfg->resources - st.used;
  if (!free.contains(m.task.res))
    return reject(task_state::error, "REASON_TASK_INVALID",
                  "insufficient resources: the task needs " + m.task.res.to_string() +
                      ", the agent has " + free.to_string() + " free");
  auto& fw = st.frameworks[m.framework.id];
  if (!fw) fw = std::make_shared<const framework_info>(std::move(m.framework));
  auto plan = plan_task(m.task.command);
  auto duration = plan.from_command ? plan.duration : st.cfg->task_duration.draw(st.next_uniform());
  auto it = st.tasks.emplace(key, sim_task{}).first;
  auto& t = it->second;
  t.framework = fw;
  t.info = std::move(m.task);
  t.role = std::move(m.role);
  t.exit_code = plan.exit_code;
  t.deadline = st.deadlines.end();
  st.used += t.info.res;
  auto& c = st.counters();
  c.launched.fetch_add(1, std::memory_order_relaxed);
  c.running.fetch_add(1, std::memory_order_relaxed);
  // STARTING, then RUNNING at once (the launch of a process that does not
  // exist takes no time), as `agora-agent` reports them.
  emit(self, make_status(self, key, task_state::starting, "", ""));
  auto running = make_status(self, key, task_state::running, "", "");
  t.uuid_hi = st.next_random();
  t.uuid_lo = st.next_random();
  running.uuid = uuid_text(t.uuid_hi, t.uuid_lo);
  t.timestamp_ns = running.timestamp_ns;
  emit(self, running);
  if (duration.count() <= 0 && plan.from_command) {
    end_task(self, it, false);
    return;
  }
  t.deadline = st.deadlines.emplace(clock_type::now() + duration, &it->first);
  arm_wake(self);
}

void kill(agent_ptr self, std::map<task_key, sim_task>::iterator it) {
  // A framework that asked for it hears that the kill has begun.
  if (task_killing_state(*it->second.framework))
    emit(self, make_status(self, it->first, task_state::killing, "",
                           "killing: a simulated task ends at once"));
  end_task(self, it, true);
}

void handle_kill(agent_ptr self, const kill_task& m) {
  auto& st = self->state;
  task_key key{m.framework_id, m.task_id};
  if (auto it = st.tasks.find(key); it != st.tasks.end()) return kill(self, it);
  for (const auto& e : st.ended)
    if (e.status.framework_id == m.framework_id && e.status.task_id == m.task_id) return;
  if (!st.updates.queued_updates(m.framework_id, m.task_id).empty()) return;
  // As `agora-agent` (and Mesos): a kill of an unknown task yields TASK_LOST.
  log(self, "kill for unknown task " + m.task_id + " of framework " + m.framework_id);
  st.counters().rejected.fetch_add(1, std::memory_order_relaxed);
  emit(self, make_status(self, key, task_state::lost, "REASON_TASK_UNKNOWN", "unknown task"));
}

// Returns the running tasks, and those that ended with updates still
// unacknowledged, as a re-registration reports them (as `agora-agent`).
std::vector<running_task> running_tasks(const fleet_agent_state& st) {
  std::vector<running_task> out;
  auto report = [&](const framework_info& fw, const task_info& info, const task_status& latest,
                    const std::string& role) {
    running_task r{fw, info, latest, role};
    auto pending = st.updates.queued_updates(fw.id, info.id);
    if (!pending.empty()) {
      r.status = pending.front();
      r.latest_state = pending.back().state;
    }
    r.status.agent_id = st.agent_id;
    out.push_back(std::move(r));
  };
  for (const auto& [key, t] : st.tasks) report(*t.framework, t.info, status_of(st, key, t), t.role);
  std::set<task_key> seen;
  for (auto it = st.ended.rbegin(); it != st.ended.rend(); ++it) {
    task_key key{it->status.framework_id, it->status.task_id};
    if (st.tasks.count(key) == 0 && seen.insert(key).second &&
        !st.updates.queued_updates(key.first, key.second).empty()) {
      auto fw = it->framework ? *it->framework : framework_info{};
      fw.id = key.first;
      report(fw, it->info, it->status, it->role);
    }
  }
  for (const auto& key : st.updates.keys()) {
    if (st.tasks.count(key) != 0 || seen.count(key) != 0) continue;
    framework_info fw;
    fw.id = key.first;
    task_info info;
    info.id = key.second;
    report(fw, info, {}, "");
  }
  return out;
}

// -- the master -------------------------------------------------------------------------

std::chrono::milliseconds watchdog_period(const fleet_agent_state& st) {
  return std::max(st.ping_interval, std::chrono::milliseconds{50});
}

void set_registered(agent_ptr self, bool on) {
  auto& st = self->state;
  if (st.registered == on) return;
  st.registered = on;
  st.counters().registered.fetch_add(on ? 1 : -1, std::memory_order_relaxed);
}

void do_register(agent_ptr self) {
  auto& st = self->state;
  auto gen = st.generation;
  auto on_ok = [self, gen](agent_registered& r) {
    auto& st = self->state;
    if (gen != st.generation) return;  // a reply over an old handle
    if (r.epoch >= 0 && r.epoch < st.master_epoch) {
      auto delay = next_backoff(self);
      log(self, "registered by a master of epoch " + std::to_string(r.epoch) +
                    ", older than the leader's " + std::to_string(st.master_epoch) +
                    "; registering again in " + ms_text(delay));
      st.counters().register_failures.fetch_add(1, std::memory_order_relaxed);
      self->delayed_send(self, delay, reregister_atom::value, gen);
      return;
    }
    if (r.agent_id.empty()) {
      auto delay = next_backoff(self);
      log(self, "master replied with an empty agent id; retrying in " + ms_text(delay));
      st.counters().register_failures.fetch_add(1, std::memory_order_relaxed);
      self->delayed_send(self, delay, reregister_atom::value, gen);
      return;
    }
    st.master_epoch = std::max(st.master_epoch, r.epoch);
    bool again = !st.agent_id.empty();
    if (again && st.agent_id != r.agent_id)
      log(self, "master changed the agent id from " + st.agent_id + " to " + r.agent_id);
    st.agent_id = r.agent_id;
    set_registered(self, true);
    (again ? st.counters().reregistrations : st.counters().registrations)
        .fetch_add(1, std::memory_order_relaxed);
    st.backoff = std::chrono::milliseconds{0};
    st.ping_interval = std::chrono::milliseconds{std::max<int64_t>(0, r.ping_interval_ms)};
    st.last_ping = clock_type::now();
    if (st.ping_interval.count() > 0 && st.cfg->max_missed_pings > 0)
      self->delayed_send(self, watchdog_period(st), watchdog_atom::value, gen);
    // Unacknowledged updates go out again at once (each task's oldest).
    for (auto& s : st.updates.heads(clock_type::now())) send_update(self, std::move(s));
    arm_retry(self);
  };
  auto on_error = [self, gen](caf::error& err) {
    auto& st = self->state;
    if (gen != st.generation) return;
    auto delay = next_backoff(self);
    st.counters().register_failures.fetch_add(1, std::memory_order_relaxed);
    log(self, "registration with master " + st.master_address +
                  " failed: " + self->system().render(err) + "; retrying in " + ms_text(delay));
    self->delayed_send(self, delay, reregister_atom::value, gen);
  };
  auto send = [self, on_ok, on_error] {
    auto& st = self->state;
    if (st.agent_id.empty()) {
      self->request(st.master, st.cfg->register_timeout, register_agent{info_of(st)})
          .then(on_ok, on_error);
    } else {
      reregister_agent m;
      m.info = info_of(st);
      m.running = running_tasks(st);
      for (const auto& r : m.running) m.tasks.push_back(r.status);
      self->request(st.master, st.cfg->register_timeout, std::move(m)).then(on_ok, on_error);
    }
  };
  if (st.cfg->secret.empty()) {
    send();
    return;
  }
  // As `agora-agent` with `--principal` and `--secret-file`.
  auth::authenticate(
      self, st.master, st.cfg->register_timeout, st.cfg->principal, st.cfg->secret, "agent",
      [self, gen, send] {
        if (gen == self->state.generation && self->state.master) send();
      },
      on_error);
}

/// Returns true if the current message comes from an actor of this
/// process (the fleet's connection actor).
bool from_own_process(agent_ptr self) {
  const auto& sender = self->current_sender();
  return sender && sender->node() == self->node();
}

/// Returns true if the current message, stamped with `epoch`, comes from the
/// master this agent registered with, at an epoch no older than the leader
/// it follows (the checks of `agora-agent`); otherwise counts and logs it.
bool from_master(agent_ptr self, const char* what, int64_t epoch) {
  auto& st = self->state;
  const auto& sender = self->current_sender();
  if (!st.master || !sender || sender->node() != st.master.node() ||
      sender->id() != st.master.id()) {
    st.counters().foreign_commands.fetch_add(1, std::memory_order_relaxed);
    log(self, std::string(what) + " from an actor that is not the current master dropped");
    return false;
  }
  if (!from_epoch(epoch, st.master_epoch)) {
    st.counters().stale_epoch_commands.fetch_add(1, std::memory_order_relaxed);
    log(self, std::string(what) + " of leader epoch " + std::to_string(epoch) +
                  " dropped: the leader followed is at epoch " + std::to_string(st.master_epoch));
    return false;
  }
  return true;
}

caf::behavior fleet_agent(agent_ptr self, std::shared_ptr<const fleet_agent_config> cfg,
                          int64_t index) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.index = index;
  st.rng = st.cfg->seed ^ (static_cast<uint64_t>(index) * 0xd1b54a32d192ed03ULL);
  st.updates =
      agent::status_update_manager{{st.cfg->status_retry_interval, st.cfg->status_retry_max}};
  st.counters().agents.fetch_add(1, std::memory_order_relaxed);
  self->set_default_handler(
      [self](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        log(self, "dropped unexpected message " + caf::to_string(x.copy_content_to_message()));
        if (self->current_message_id().is_request()) return caf::sec::unexpected_message;
        return caf::message{};
      });
  protocol::ignore_remote_exits(self, [self] {
    self->state.counters().foreign_commands.fetch_add(1, std::memory_order_relaxed);
    log(self, "exit message from a remote peer ignored");
  });
  self->set_error_handler([self](caf::scheduled_actor*, caf::error& err) {
    log(self, "error message: " + self->system().render(err));
  });
  return {
      // -- the fleet's connection actor -----------------------------------------------
      [self](fmaster_atom, caf::actor& master, std::string& address, int64_t epoch) {
        auto& st = self->state;
        if (!from_own_process(self) || !master) return;
        if (epoch >= 0 && epoch < st.master_epoch) return;  // an older leader
        set_registered(self, false);
        ++st.generation;
        st.master = std::move(master);
        st.master_address = std::move(address);
        st.master_epoch = epoch;
        st.backoff = std::chrono::milliseconds{0};
        do_register(self);
      },
      [self](flost_atom) {
        auto& st = self->state;
        if (!from_own_process(self)) return;
        set_registered(self, false);
        st.master = nullptr;
        ++st.generation;  // drop replies still in flight
      },
      // -- master -> agent ------------------------------------------------------------
      [self](ping_atom, int64_t epoch) {
        auto& st = self->state;
        // Only the leader's pings prove that it is alive.
        if (from_master(self, "ping", epoch)) {
          st.last_ping = clock_type::now();
          st.counters().pings.fetch_add(1, std::memory_order_relaxed);
        }
        return pong_atom::value;
      },
      [](ping_atom) { return pong_atom::value; },  // a local probe
      [self](run_task& m) {
        if (from_master(self, "run_task", m.epoch)) handle_run_task(self, m);
      },
      [self](kill_task& m) {
        if (from_master(self, "kill_task", m.epoch)) handle_kill(self, m);
      },
      [self](shutdown_framework& m) {
        if (!from_master(self, "shutdown_framework", m.epoch)) return;
        auto& st = self->state;
        std::vector<std::map<task_key, sim_task>::iterator> doomed;
        for (auto it = st.tasks.begin(); it != st.tasks.end(); ++it)
          if (it->first.first == m.framework_id) doomed.push_back(it);
        for (auto it : doomed) kill(self, it);
      },
      [self](acknowledge& m) {
        if (!from_master(self, "acknowledge", m.epoch)) return;
        auto& st = self->state;
        bool matched = false;
        auto next =
            st.updates.acknowledge(m.framework_id, m.task_id, m.uuid, clock_type::now(), &matched);
        if (matched) {
          st.counters().updates_acked.fetch_add(1, std::memory_order_relaxed);
          st.counters().updates_pending.fetch_sub(1, std::memory_order_relaxed);
        }
        if (next) send_update(self, std::move(*next));  // the task's next update, in order
        arm_retry(self);
      },
      [self](reconcile& m) {
        if (!from_master(self, "reconcile", m.epoch)) return;
        auto& st = self->state;
        for (const auto& id : m.task_ids) {
          task_key key{m.framework_id, id};
          if (auto it = st.tasks.find(key); it != st.tasks.end()) {
            send_update(self, status_of(st, key, it->second));
            continue;
          }
          bool done = false;
          for (const auto& e : st.ended)
            if (e.status.framework_id == m.framework_id && e.status.task_id == id) {
              send_update(self, e.status);
              done = true;
              break;
            }
          if (!done) {
            st.counters().rejected.fetch_add(1, std::memory_order_relaxed);
            emit(self,
                 make_status(self, key, task_state::lost, "REASON_TASK_UNKNOWN", "unknown task"));
          }
        }
      },
      // -- internal ------------------------------------------------------------------
      [self](wake_atom, int64_t at) {
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;  // our own timer only
        if (st.wake_at && st.wake_at->time_since_epoch().count() == at) st.wake_at.reset();
        auto now = clock_type::now();
        while (!st.deadlines.empty() && st.deadlines.begin()->first <= now) {
          auto it = st.tasks.find(*st.deadlines.begin()->second);
          if (it == st.tasks.end()) {  // cannot happen: a task leaves with its deadline
            st.deadlines.erase(st.deadlines.begin());
            continue;
          }
          end_task(self, it, false);
        }
        arm_wake(self);
      },
      [self](retry_atom, int64_t at) {
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;  // our own timer only
        if (st.retry_at && st.retry_at->time_since_epoch().count() == at) st.retry_at.reset();
        auto due = st.updates.due(clock_type::now());
        st.counters().updates_retried.fetch_add(static_cast<int64_t>(due.size()),
                                                std::memory_order_relaxed);
        for (auto& s : due) send_update(self, std::move(s));
        arm_retry(self);
      },
      [self](reregister_atom, uint64_t gen) {
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;
        if (gen != st.generation || !st.master) return;
        do_register(self);
      },
      [self](watchdog_atom, uint64_t gen) {
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;
        if (gen != st.generation || !st.registered) return;
        auto silence =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - st.last_ping);
        if (silence < st.ping_interval * st.cfg->max_missed_pings) {
          self->delayed_send(self, watchdog_period(st), watchdog_atom::value, gen);
          return;
        }
        // The master stopped pinging (it may have marked this agent
        // unreachable): register again, over the process's connection.
        log(self, "no ping from master " + st.master_address + " for " + ms_text(silence) +
                      "; registering again");
        set_registered(self, false);
        ++st.generation;
        do_register(self);
      },
  };
}

}  // namespace

caf::actor spawn_fleet_agent(caf::actor_system& sys, std::shared_ptr<const fleet_agent_config> cfg,
                             int64_t index) {
  return sys.spawn(fleet_agent, std::move(cfg), index);
}

}  // namespace agora::main::fleet
