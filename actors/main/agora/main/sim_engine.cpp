#include "agora/main/sim_engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <queue>
#include <set>

namespace agora::main::sim {

namespace {

using policy::amounts;
using time_point = policy::allocation_core::time_point;

constexpr int64_t unlimited = std::numeric_limits<int64_t>::max();

/// Returns virtual time `t` as the core's clock (its epoch is time 0).
time_point at(millis t) { return time_point{} + std::chrono::milliseconds{t}; }

/// Returns `a + b`, saturating at `unlimited` (amounts are never negative).
int64_t add_sat(int64_t a, int64_t b) { return a > unlimited - b ? unlimited : a + b; }

/// Returns `a * n`, saturating at `unlimited`.
int64_t mul_sat(int64_t a, int64_t n) {
  if (a == 0 || n == 0) return 0;
  return a > unlimited / n ? unlimited : a * n;
}

void add_to(amounts& into, const amounts& a) {
  for (size_t i = 0; i < into.size(); ++i) into[i] = add_sat(into[i], a[i]);
}

void subtract(amounts& from, const amounts& a) {
  for (size_t i = 0; i < from.size(); ++i) from[i] -= a[i];
}

amounts times(const amounts& a, int64_t n) {
  amounts out{};
  for (size_t i = 0; i < a.size(); ++i) out[i] = mul_sat(a[i], n);
  return out;
}

/// Returns how many tasks needing `res` fit into `room`, at most `want`.
int64_t fit_count(const amounts& room, const amounts& res, int64_t want) {
  int64_t n = want;
  for (size_t i = 0; i < res.size(); ++i)
    if (res[i] > 0) n = std::min(n, room[i] / res[i]);
  return std::max<int64_t>(n, 0);
}

/// Returns true if `role` is `path` or below it.
bool in_subtree(const std::string& role, const std::string& path) {
  return role == path || (role.size() > path.size() && role.compare(0, path.size(), path) == 0 &&
                          role[path.size()] == '/');
}

/// Returns `role` and its ancestors (`a/b/c`, `a/b`, `a`).
std::vector<std::string> path_of(const std::string& role) {
  std::vector<std::string> out{role};
  std::string p = role;
  for (auto slash = p.rfind('/'); slash != std::string::npos && slash > 0; slash = p.rfind('/')) {
    p = p.substr(0, slash);
    out.push_back(p);
  }
  return out;
}

/// Returns a role's amounts from a policy vector: policy units scaled to
/// integers, infinite components `unlimited`.
amounts integer_amounts(const policy::res_vec& v) {
  amounts out{};
  for (size_t i = 0; i < v.size(); ++i) {
    double scaled = v[i] * static_cast<double>(policy::unit_scale(i));
    out[i] = !(scaled > 0) ? 0 : scaled >= 9.2e18 ? unlimited : std::llround(scaled);
  }
  return out;
}

/// Returns the weighted quantile `q` of (wait, count) samples sorted by wait;
/// NaN without samples.
double quantile(const std::vector<std::pair<millis, int64_t>>& sorted, int64_t total, double q) {
  if (total == 0) return std::nan("");
  auto rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(total))));
  int64_t seen = 0;
  for (auto& [wait, n] : sorted) {
    seen += n;
    if (seen >= rank) return static_cast<double>(wait) / 1000.0;
  }
  return static_cast<double>(sorted.back().first) / 1000.0;
}

struct pending_group {
  millis arrival = 0;
  int64_t count = 0;
  amounts res{};
  millis duration = 0;
};

/// Tasks of one request launched together on one agent (they share their
/// resources' shape, start and end).
struct task_batch {
  std::string framework, role, agent;
  amounts res{};  ///< Per task.
  int64_t count = 0;
};

struct framework_state {
  std::string role;
  std::deque<pending_group> pending;            ///< Oldest request first.
  std::map<amounts, int64_t> pending_by_shape;  ///< Pending tasks per resource shape.
  int64_t pending_tasks = 0, running_tasks = 0;
  amounts held{};  ///< What its running tasks hold (the simulator's ledger).
  std::set<uint64_t> batches;
  bool suppressed = false;
  bool dirty = true;  ///< Pending work or holdings changed: update the core.
  policy::framework_spec sent;
};

/// A role whose limit or guarantee is checked, from the policy's outline
/// (declared, else its `default`), against the simulator's own ledger.
struct role_check {
  std::string path;
  std::optional<amounts> limit, guarantee;
};

/// One queue wait sample: tasks launched (or still pending at the end) at
/// `t` after waiting `wait`.
struct wait_sample {
  millis t = 0, wait = 0;
  int64_t count = 0;
};

class engine {
 public:
  engine(const policy::runnable_policy& policy, const sim_setup& setup)
      : setup_(setup), core_(policy) {
    if (!policy.outline.levels.empty()) first_level_ = policy.outline.levels.front().name;
    windows_[0].from = 0;
    for (millis w : setup.windows) windows_[w].from = w;
    // Inputs in time order; same times keep their order.
    for (auto& e : setup.events)
      if (e.t < setup.until) inputs_.push_back(&e);
    std::stable_sort(inputs_.begin(), inputs_.end(),
                     [](const input_event* a, const input_event* b) { return a->t < b->t; });
    // Roles: every framework's role and its ancestors, and declared roles.
    std::set<std::string> leaves, all;
    for (auto* e : inputs_)
      if (e->kind == event_kind::framework_add) leaves.insert(e->role);
    for (auto& leaf : leaves)
      for (auto& p : path_of(leaf)) all.insert(p);
    result_.share_roles.assign(all.begin(), all.end());
    for (auto& spec : policy.outline.roles) all.insert(spec.path);
    for (auto& path : all) {
      const policy::role_spec* spec = &policy.outline.spec_for(path);
      role_check check{path, std::nullopt, std::nullopt};
      if (spec->limit) check.limit = integer_amounts(*spec->limit);
      if (spec->guarantee) check.guarantee = integer_amounts(*spec->guarantee);
      if (!check.limit && !check.guarantee) continue;
      for (auto& [from, f] : windows_) {
        if (check.limit) {
          f.limit_violation_by_role[path] = 0;
          f.limit_use_by_role[path] = 0;
        }
        if (check.guarantee) f.guarantee_miss_by_role[path] = 0;
      }
      checks_.push_back(std::move(check));
    }
  }

  sim_result run() {
    for (auto& a : setup_.cluster.agents) add_agent(a.id, a.res, a.attrs);
    const millis cycle = std::max<millis>(1, setup_.cycle);
    const int64_t cycles = (setup_.until + cycle - 1) / cycle;
    const int64_t every =
        std::max<int64_t>(1, (cycles + static_cast<int64_t>(setup_.max_rows) - 1) /
                                 static_cast<int64_t>(std::max<size_t>(1, setup_.max_rows)));
    for (int64_t k = 0; k < cycles; ++k) {
      const millis now = k * cycle;
      const double span = static_cast<double>(std::min(cycle, setup_.until - now)) / 1000.0;
      advance_to(now);
      refresh_frameworks();
      auto started = std::chrono::steady_clock::now();
      auto offers = core_.allocate(at(now));
      result_.allocate_wall_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      check_limits(now, span, offers);
      int64_t made = static_cast<int64_t>(offers.size());
      for (auto& o : offers) use_offer(now, o);
      observe(now, span, k % every == 0, made);
    }
    result_.cycles = cycles;
    advance_to(setup_.until);
    finish();
    return std::move(result_);
  }

 private:
  /// Calls `fn` on every window that has started at `t`.
  template <class F>
  void each_window(millis t, F fn) {
    for (auto& [from, f] : windows_)
      if (t >= from) fn(f);
  }

  void add_agent(const std::string& id, const amounts& res,
                 const std::map<std::string, std::string>& attrs) {
    core_.add_agent(id, id, attrs, res);
    agents_.insert(id);
    result_.max_agents = std::max(result_.max_agents, agents_.size());
  }

  /// Removes batch `id` from the ledger; returns it.
  task_batch take_batch(uint64_t id) {
    auto it = running_.find(id);
    task_batch b = std::move(it->second);
    running_.erase(it);
    by_agent_[b.agent].erase(id);
    auto& f = frameworks_.at(b.framework);
    f.batches.erase(id);
    subtract(f.held, times(b.res, b.count));
    f.running_tasks -= b.count;
    f.dirty = true;
    return b;
  }

  /// Processes every event (task ends first, then inputs) up to `t`.
  void advance_to(millis t) {
    for (;;) {
      bool input_ready = next_input_ < inputs_.size() && inputs_[next_input_]->t <= t;
      bool end_ready = !ends_.empty() && ends_.top().first <= t;
      if (end_ready && (!input_ready || ends_.top().first <= inputs_[next_input_]->t)) {
        auto [when, id] = ends_.top();
        ends_.pop();
        if (!running_.count(id)) continue;  // Lost with its agent or killed.
        auto b = take_batch(id);
        core_.recover(b.framework, b.role, b.agent, times(b.res, b.count),
                      std::chrono::milliseconds{0}, at(when));
        each_window(when, [&](figures& f) { f.tasks_finished += b.count; });
      } else if (input_ready) {
        apply(*inputs_[next_input_++]);
      } else {
        return;
      }
    }
  }

  void apply(const input_event& e) {
    switch (e.kind) {
      case event_kind::agent_add:
        add_agent(e.id, e.res, e.labels);
        break;
      case event_kind::agent_remove: {
        // Its tasks are lost; the core drops what was held there.
        std::vector<uint64_t> ids(by_agent_[e.id].begin(), by_agent_[e.id].end());
        int64_t lost = 0;
        for (uint64_t id : ids) lost += take_batch(id).count;
        by_agent_.erase(e.id);
        core_.remove_agent(e.id);
        agents_.erase(e.id);
        each_window(e.t, [&](figures& f) { f.tasks_lost += lost; });
        break;
      }
      case event_kind::framework_add: {
        auto& f = frameworks_[e.id];
        f.role = e.role;
        f.sent.id = e.id;
        f.sent.roles = {e.role};
        f.sent.labels = e.labels;
        core_.add_framework(f.sent);
        core_.suppress(e.id, {});
        f.suppressed = true;
        f.dirty = false;
        break;
      }
      case event_kind::framework_remove: {
        // Its tasks are killed (their resources come back), its queue dropped.
        auto it = frameworks_.find(e.id);
        std::vector<uint64_t> ids(it->second.batches.begin(), it->second.batches.end());
        int64_t killed = 0;
        for (uint64_t id : ids) {
          auto b = take_batch(id);
          killed += b.count;
          core_.recover(b.framework, b.role, b.agent, times(b.res, b.count),
                        std::chrono::milliseconds{0}, at(e.t));
        }
        core_.remove_framework(e.id);
        frameworks_.erase(it);
        each_window(e.t, [&](figures& f) { f.tasks_killed += killed; });
        break;
      }
      case event_kind::request: {
        auto& f = frameworks_.at(e.id);
        f.pending.push_back({e.t, e.tasks, e.res, e.duration});
        f.pending_by_shape[e.res] += e.tasks;
        f.pending_tasks += e.tasks;
        f.dirty = true;
        break;
      }
    }
  }

  /// Returns the smallest pending task of `f`, per resource (zero if none).
  static amounts smallest_pending(const framework_state& f) {
    amounts smallest{};
    bool first = true;
    for (auto& [shape, n] : f.pending_by_shape) {
      for (size_t i = 0; i < shape.size(); ++i)
        smallest[i] = first ? shape[i] : std::min(smallest[i], shape[i]);
      first = false;
    }
    return smallest;
  }

  /// Tells the core what changed frameworks want: `min_request` (the
  /// smallest pending task, per resource), `demand` (held + pending), and
  /// suppression while nothing is pending (a zero demand means unbounded).
  void refresh_frameworks() {
    for (auto& [id, f] : frameworks_) {
      if (!f.dirty) continue;
      f.dirty = false;
      amounts smallest = smallest_pending(f), largest{}, demand = f.held;
      for (auto& [shape, n] : f.pending_by_shape) {
        for (size_t i = 0; i < shape.size(); ++i) largest[i] = std::max(largest[i], shape[i]);
        add_to(demand, times(shape, n));
      }
      if (smallest != f.sent.min_request || largest != f.sent.max_request ||
          demand != f.sent.demand) {
        f.sent.min_request = smallest;
        f.sent.max_request = largest;
        f.sent.demand = demand;
        core_.add_framework(f.sent);
      }
      if (f.pending_tasks > 0 && f.suppressed) {
        core_.revive(id, {});
        f.suppressed = false;
      } else if (f.pending_tasks == 0 && !f.suppressed) {
        core_.suppress(id, {});
        f.suppressed = true;
      }
    }
  }

  /// The framework's scheduler: packs its pending tasks first-fit (oldest
  /// request first) into the offer, launches them and returns the rest.
  void use_offer(millis now, const policy::core_offer& o) {
    each_window(now, [&](figures& f) {
      ++f.offers;
      if (!o.level.empty()) {
        ++f.offers_with_level;
        if (o.level == first_level_) ++f.local_offers;
      }
    });
    auto it = frameworks_.find(o.framework_id);
    if (it == frameworks_.end()) {
      core_.recover(o.framework_id, o.role, o.agent_id, o.res, std::chrono::milliseconds{0},
                    at(now));
      return;
    }
    auto& f = it->second;
    amounts room = o.res;
    // Oldest request first; stop once not even the smallest pending task fits.
    auto g_it = f.pending.begin();
    amounts smallest = smallest_pending(f);
    for (; g_it != f.pending.end() && f.pending_tasks > 0 && policy::fits_in(smallest, room);
         ++g_it) {
      auto& g = *g_it;
      int64_t n = fit_count(room, g.res, g.count);
      if (n == 0) continue;
      amounts used = times(g.res, n);
      subtract(room, used);
      g.count -= n;
      if ((f.pending_by_shape[g.res] -= n) == 0) {
        f.pending_by_shape.erase(g.res);
        smallest = smallest_pending(f);
      }
      f.pending_tasks -= n;
      f.running_tasks += n;
      add_to(f.held, used);
      uint64_t id = next_batch_++;
      running_[id] = task_batch{o.framework_id, o.role, o.agent_id, g.res, n};
      by_agent_[o.agent_id].insert(id);
      f.batches.insert(id);
      ends_.push({now + g.duration, id});
      waits_.push_back({now, now - g.arrival, n});
      each_window(now, [&](figures& w) { w.tasks_launched += n; });
    }
    // Requests emptied are among those scanned.
    f.pending.erase(std::remove_if(f.pending.begin(), g_it,
                                   [](const pending_group& g) { return g.count == 0; }),
                    g_it);
    f.dirty = true;
    if (!policy::is_zero(room))
      core_.recover(o.framework_id, o.role, o.agent_id, room, std::chrono::milliseconds{0},
                    at(now));
  }

  /// Sums `per_role` over the subtree of `path`.
  static amounts subtree_sum(const std::map<std::string, amounts>& per_role,
                             const std::string& path) {
    amounts sum{};
    for (auto& [role, a] : per_role)
      if (in_subtree(role, path)) add_to(sum, a);
    return sum;
  }

  /// Checks limits right after the cycle, when allocations are largest:
  /// what tasks hold plus the offers just made, from the simulator's ledger.
  void check_limits(millis now, double span, const std::vector<policy::core_offer>& offers) {
    std::map<std::string, amounts> by_role;
    for (auto& [id, f] : frameworks_) add_to(by_role[f.role], f.held);
    for (auto& o : offers) add_to(by_role[o.role], o.res);
    bool any = false;
    for (auto& c : checks_) {
      if (!c.limit) continue;
      amounts held = subtree_sum(by_role, c.path);
      bool over = false;
      double use = 0;
      for (size_t i = 0; i < held.size(); ++i) {
        int64_t lim = (*c.limit)[i];
        if (lim == unlimited) continue;
        if (held[i] > lim) over = true;
        if (lim > 0)
          use = std::max(use, static_cast<double>(held[i]) / static_cast<double>(lim));
        else if (held[i] > 0)
          use = std::numeric_limits<double>::infinity();
      }
      any = any || over;
      each_window(now, [&](figures& f) {
        if (over) f.limit_violation_by_role[c.path] += span;
        f.limit_use_by_role[c.path] = std::max(f.limit_use_by_role[c.path], use);
      });
    }
    if (any) each_window(now, [&](figures& f) { f.limit_violation_seconds += span; });
  }

  /// Measures the state after the cycle's offers were used.
  void observe(millis now, double span, bool row, int64_t offers) {
    std::map<std::string, amounts> held;
    std::map<std::string, int64_t> pending, busy;
    amounts total_held{};
    int64_t pending_tasks = 0, running_tasks = 0;
    for (auto& [id, f] : frameworks_) {
      add_to(held[f.role], f.held);
      add_to(total_held, f.held);
      pending[f.role] += f.pending_tasks;
      busy[f.role] += f.pending_tasks + f.running_tasks;
      pending_tasks += f.pending_tasks;
      running_tasks += f.running_tasks;
    }
    const amounts& total = core_.cluster_total();
    auto ratio = [&](size_t i) {
      return total[i] > 0 ? static_cast<double>(total_held[i]) / static_cast<double>(total[i]) : 0;
    };
    double cpu = ratio(0), mem = ratio(1);
    bool has_resources = total[0] > 0 || total[1] > 0;
    // Weighted shares of the roles with work (pending or running).
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    size_t busy_roles = 0;
    for (auto& [role, n] : busy) {
      if (n == 0) continue;
      double s = core_.dominant_share(role) / core_.weight(role);
      lo = std::min(lo, s);
      hi = std::max(hi, s);
      ++busy_roles;
    }
    double gap = busy_roles >= 2 ? hi - lo : 0;
    // Guarantees: below one while tasks of the role's subtree are pending.
    std::vector<const std::string*> missed;
    for (auto& c : checks_) {
      if (!c.guarantee) continue;
      int64_t waiting = 0;
      for (auto& [role, n] : pending)
        if (in_subtree(role, c.path)) waiting += n;
      if (waiting == 0) continue;
      amounts has = subtree_sum(held, c.path);
      bool below = false;
      for (size_t i = 0; i < has.size(); ++i)
        if ((*c.guarantee)[i] > 0 && has[i] < (*c.guarantee)[i]) below = true;
      if (below) missed.push_back(&c.path);
    }
    each_window(now, [&](figures& f) {
      f.seconds += span;
      if (has_resources) {
        f.cpu_util_sum += cpu * span;
        f.mem_util_sum += mem * span;
        f.util_seconds += span;
      }
      f.max_share_gap = std::max(f.max_share_gap, gap);
      for (auto* path : missed) f.guarantee_miss_by_role[*path] += span;
      if (!missed.empty()) f.guarantee_miss_seconds += span;
    });
    if (row) {
      timeseries_row r{now, cpu, mem, pending_tasks, running_tasks, offers, {}};
      for (auto& role : result_.share_roles)
        r.weighted_shares.push_back(core_.dominant_share(role) / core_.weight(role));
      result_.rows.push_back(std::move(r));
    }
    // The ledger and the core must agree on what every framework holds.
    if (result_.internal_error.empty()) {
      for (auto& [id, f] : frameworks_) {
        if (core_.framework_allocation(id) != f.held) {
          result_.internal_error = "at " + std::to_string(now) + "ms framework '" + id +
                                   "': the allocation core's allocation differs from what its "
                                   "running tasks hold";
          break;
        }
      }
    }
  }

  void finish() {
    // Tasks never launched count with the time they waited so far.
    for (auto& [id, f] : frameworks_)
      for (auto& g : f.pending) {
        waits_.push_back({setup_.until, setup_.until - g.arrival, g.count});
        result_.pending_at_end += g.count;
      }
    for (auto& [from, f] : windows_) {
      std::vector<std::pair<millis, int64_t>> sorted;
      int64_t n = 0;
      for (auto& w : waits_)
        if (w.t >= from) {
          sorted.emplace_back(w.wait, w.count);
          n += w.count;
        }
      std::sort(sorted.begin(), sorted.end());
      f.p50_queue_wait_seconds = quantile(sorted, n, 0.5);
      f.p99_queue_wait_seconds = quantile(sorted, n, 0.99);
    }
    result_.policy_metrics = core_.cycle_metrics();
    if (result_.internal_error.empty()) {
      std::string broken = core_.check_invariants();
      if (!broken.empty()) result_.internal_error = "allocation core invariant: " + broken;
    }
    result_.windows = std::move(windows_);
  }

  const sim_setup& setup_;
  policy::allocation_core core_;
  std::string first_level_;
  std::vector<const input_event*> inputs_;
  size_t next_input_ = 0;
  std::map<millis, figures> windows_;
  std::vector<role_check> checks_;
  std::set<std::string> agents_;
  std::map<std::string, framework_state> frameworks_;
  std::map<uint64_t, task_batch> running_;
  std::map<std::string, std::set<uint64_t>> by_agent_;
  /// Task ends: (time, batch id), earliest first (ties: launch order).
  std::priority_queue<std::pair<millis, uint64_t>, std::vector<std::pair<millis, uint64_t>>,
                      std::greater<>>
      ends_;
  uint64_t next_batch_ = 1;
  std::vector<wait_sample> waits_;
  sim_result result_;
};

}  // namespace

double figures::cpu_utilisation() const {
  return util_seconds > 0 ? cpu_util_sum / util_seconds : 0;
}

double figures::mem_utilisation() const {
  return util_seconds > 0 ? mem_util_sum / util_seconds : 0;
}

double figures::rack_local_ratio() const {
  return offers_with_level > 0
             ? static_cast<double>(local_offers) / static_cast<double>(offers_with_level)
             : std::nan("");
}

sim_result simulate(const policy::runnable_policy& policy, const sim_setup& setup) {
  engine e(policy, setup);
  return e.run();
}

}  // namespace agora::main::sim
