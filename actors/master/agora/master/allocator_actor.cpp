#include "agora/master/allocator_actor.hpp"

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"
#include "agora/master/registrar.hpp"
#include "agora/observability/json.hpp"
#include "agora/policy/types.hpp"

namespace agora::master {

namespace {

using protocol::allocate_atom;
using protocol::tick_atom;

using observability::json_quote;

struct allocator_state {
  /// Created in the behavior, with the configured policy.
  std::unique_ptr<allocator> owned;
  caf::actor master;
  bool cycle_pending = false;
  /// The pending cycle must consider every agent (else only `changed`).
  bool full_cycle = false;
  /// Agents whose free resources changed since the last cycle.
  std::set<std::string> changed;
  std::chrono::milliseconds interval{1000};
  // Hot reload: the running policy, the one before it, a shadow candidate.
  std::shared_ptr<policy_control> control;
  std::shared_ptr<master_metrics> metrics;
  /// Runtime errors per rule name of the policies that ran before this one.
  std::map<std::string, uint64_t> past_errors;
  policy_revision current;
  std::optional<policy_revision> previous, shadow;
  bool shadow_force = false;
  caf::actor_clock::time_point shadow_until{};
  uint64_t shadow_cycles = 0, shadow_differing = 0, shadow_union = 0;
  int64_t next_revision = 1;
  static inline const char* name = "agora.allocator";
};

using allocator_actor_ptr = caf::stateful_actor<allocator_state>*;

/// Schedules a cycle right away unless one is already pending (coalescing).
/// With `agent`, the event freed or added that agent's resources only, and
/// unless something else asks for a full cycle, the cycle offers only the
/// agents so named; without, every agent is considered.
void request_cycle(allocator_actor_ptr self, const std::string* agent = nullptr) {
  auto& st = self->state;
  if (agent)
    st.changed.insert(*agent);
  else
    st.full_cycle = true;
  if (st.cycle_pending) return;
  st.cycle_pending = true;
  self->send(self, allocate_atom::value);
}

/// Returns the fraction of offers (framework, agent) that differ between
/// the active policy and the shadow candidate, over the shadow so far.
double divergence(const allocator_state& st) {
  return st.shadow_union == 0
             ? 0.0
             : static_cast<double>(st.shadow_differing) / static_cast<double>(st.shadow_union);
}

/// Publishes the policy part of `GET /policy`.
void publish_policy(allocator_actor_ptr self) {
  auto& st = self->state;
  if (!st.control) return;
  std::string shadow = "null";
  if (st.shadow) {
    auto left = std::chrono::duration<double>(st.shadow_until - self->clock().now()).count();
    shadow = revision_json(*st.shadow);
    shadow.pop_back();
    shadow += ",\"seconds_left\":" + std::to_string(std::max(0.0, left)) +
              ",\"cycles\":" + std::to_string(st.shadow_cycles) +
              ",\"divergence_ratio\":" + std::to_string(divergence(st)) + "}";
  }
  st.control->publish("\"active\":" + revision_json(st.current) + ",\"previous\":" +
                      (st.previous ? revision_json(*st.previous) : std::string("null")) +
                      ",\"shadow\":" + shadow);
}

/// Makes `next` the running policy (between cycles, so atomically).
void activate(allocator_actor_ptr self, policy_revision next) {
  auto& st = self->state;
  next.revision = st.next_revision++;
  next.loaded_at_ms = unix_time_ms();
  // Error counts are per rule name and survive the swap.
  auto& errors = st.owned->core().rule_errors();
  auto& rules = st.current.policy->prog->rules;
  for (size_t i = 0; i < errors.size() && i < rules.size(); ++i)
    if (errors[i] > 0) st.past_errors[rules[i].name] += errors[i];
  st.owned->set_policy(*next.policy);
  if (st.metrics) st.metrics->set_policy_metrics(next.policy->outline.metrics);
  if (st.control) st.control->set_last_success(static_cast<double>(next.loaded_at_ms) / 1000.0);
  st.previous = std::move(st.current);
  st.current = std::move(next);
  if (st.control) st.control->count_success();
  publish_policy(self);
  // A change at run time: the registry keeps it for the next leader.
  registry::policy_record rec;
  rec.name = st.current.source_name;
  rec.source = st.current.source_text;
  rec.schema = st.current.schema_text;
  rec.revision = st.current.revision;
  rec.loaded_at_ms = st.current.loaded_at_ms;
  self->send(st.master, registry_set_policy{std::move(rec)});
}

/// Returns, per role whose new limit is below what it holds now, a line
/// saying so (such a swap needs `force`, as Mesos' quota update does).
std::vector<std::string> limits_below_use(allocator& alloc, const policy::runnable_policy& p) {
  std::vector<std::string> out;
  auto& names = p.prog->resources;
  for (const auto& path : alloc.roles()) {
    const policy::role_spec* spec = &p.outline.spec_for(path);
    if (!spec->limit) continue;
    auto limit = policy::to_amounts(*spec->limit);
    auto held = alloc.core().role_allocation(path);
    for (size_t i = 0; i < names.size() && i < policy::max_resources; ++i)
      if (held[i] > limit[i])
        out.push_back("role " + path + " holds " +
                      policy::format_amount(names[i], policy::to_res_vec(held)[i]) + " " +
                      names[i] + ", above its new limit of " +
                      policy::format_amount(names[i], (*spec->limit)[i]));
  }
  return out;
}

/// Returns W0604 warnings: top-level guarantees that together exceed the
/// cluster's capacity (best effort: they cannot all be met).
std::vector<std::string> guarantees_above_capacity(allocator& alloc,
                                                   const policy::runnable_policy& p) {
  std::vector<std::string> out;
  policy::amounts sum{};
  for (auto& s : p.outline.roles)
    if (s.path.find('/') == std::string::npos && s.guarantee) {
      auto g = policy::to_amounts(*s.guarantee);
      for (size_t i = 0; i < policy::max_resources; ++i) sum[i] += g[i];
    }
  auto total = alloc.core().cluster_total();
  auto& names = p.prog->resources;
  for (size_t i = 0; i < names.size() && i < policy::max_resources; ++i)
    if (sum[i] > total[i])
      out.push_back("W0604: guarantees add up to " +
                    policy::format_amount(names[i], policy::to_res_vec(sum)[i]) + " " + names[i] +
                    ", more than the cluster's " +
                    policy::format_amount(names[i], policy::to_res_vec(total)[i]) +
                    ": they cannot all be met");
  return out;
}

/// Returns E0705 problems: a metric the running policy declares whose kind
/// or labels the candidate changes under the same name. Series would
/// silently change meaning for dashboards and alerts; a new policy version
/// says the change is intended.
std::vector<std::string> metric_changes(const policy::runnable_policy& running,
                                        const policy::runnable_policy& next) {
  std::vector<std::string> out;
  if (running.prog->version != next.prog->version) return out;
  auto kind = [](policy::metric_spec::kind k) {
    return k == policy::metric_spec::kind::counter ? "counter"
           : k == policy::metric_spec::kind::gauge ? "gauge"
                                                   : "histogram";
  };
  for (auto& old : running.outline.metrics)
    for (auto& now : next.outline.metrics) {
      if (old.name != now.name) continue;
      if (old.what != now.what)
        out.push_back("E0705: metric " + now.name + " changes from a " + kind(old.what) + " to a " +
                      kind(now.what));
      else if (old.labels != now.labels)
        out.push_back("E0705: metric " + now.name + " changes its labels");
    }
  return out;
}

policy_reply install(allocator_actor_ptr self, install_policy& m) {
  auto& st = self->state;
  auto changed = metric_changes(*st.current.policy, *m.candidate.policy);
  if (!changed.empty()) {
    if (st.control)
      st.control->record_failure("{\"at\":" + std::to_string(unix_time_ms() / 1000.0) +
                                 ",\"source_name\":" + json_quote(m.candidate.source_name) +
                                 ",\"error\":" + json_quote("metrics change kind or labels") +
                                 ",\"details\":" + strings_json(changed) + "}");
    return {409, "{\"error\":" +
                     json_quote("metrics change kind or labels under the same name; give the "
                                "policy a new version if that is intended") +
                     ",\"status\":409,\"details\":" + strings_json(changed) + "}"};
  }
  auto below = limits_below_use(*st.owned, *m.candidate.policy);
  if (!below.empty() && !m.force) {
    std::string body = "{\"error\":" +
                       json_quote(
                           "the new limits are below what roles hold now; apply with "
                           "--force to accept it (the roles get no offers until they are "
                           "below their limits again)") +
                       ",\"status\":409,\"details\":" + strings_json(below) + "}";
    if (st.control)
      st.control->record_failure("{\"at\":" + std::to_string(unix_time_ms() / 1000.0) +
                                 ",\"source_name\":" + json_quote(m.candidate.source_name) +
                                 ",\"error\":" + json_quote("limits below current use") +
                                 ",\"details\":" + strings_json(below) + "}");
    return {409, body};
  }
  auto warnings = guarantees_above_capacity(*st.owned, *m.candidate.policy);
  if (m.shadow_ms > 0) {
    st.shadow = std::move(m.candidate);
    st.shadow_force = m.force;
    st.shadow_until = self->clock().now() + std::chrono::milliseconds{m.shadow_ms};
    st.shadow_cycles = st.shadow_differing = st.shadow_union = 0;
    publish_policy(self);
    return {202, "{\"shadow\":true,\"seconds\":" + std::to_string(m.shadow_ms / 1000.0) +
                     ",\"hash\":" + json_quote(st.shadow->policy->prog->hash_hex()) +
                     ",\"warnings\":" + strings_json(warnings) + "}"};
  }
  st.shadow.reset();
  activate(self, std::move(m.candidate));
  request_cycle(self);
  return {200, "{\"applied\":" + revision_json(st.current) +
                   ",\"warnings\":" + strings_json(warnings) + "}"};
}

policy_reply rollback(allocator_actor_ptr self) {
  auto& st = self->state;
  if (st.shadow) {
    std::string hash = st.shadow->policy->prog->hash_hex();
    st.shadow.reset();
    publish_policy(self);
    return {200, "{\"cancelled_shadow\":" + json_quote(hash) + "}"};
  }
  if (!st.previous)
    return {409, "{\"error\":\"there is no previous policy to roll back to\",\"status\":409}"};
  auto back = std::move(*st.previous);
  st.previous.reset();
  activate(self, std::move(back));
  request_cycle(self);
  return {200, "{\"applied\":" + revision_json(st.current) + "}"};
}

/// Publishes what `/metrics` shows of the allocator after a cycle.
/// Returns role `path`'s guarantee and limit in the running policy (nullopt:
/// none); the parts a limit leaves unlimited are -1.
std::pair<std::optional<resources>, std::optional<resources>> role_bounds(
    const policy::runnable_policy& p, const std::string& path) {
  std::pair<std::optional<resources>, std::optional<resources>> out;
  const policy::role_spec& spec = p.outline.spec_for(path);
  if (spec.guarantee) out.first = to_resources(policy::to_amounts(*spec.guarantee));
  if (spec.limit) {
    auto limit = policy::to_amounts(*spec.limit);
    auto r = to_resources(limit);
    const auto unlimited = std::numeric_limits<int64_t>::max();
    if (limit[0] == unlimited) r.cpus_milli = -1;
    if (limit[1] == unlimited) r.mem_bytes = -1;
    if (limit[2] == unlimited) r.disk_bytes = -1;
    if (limit[3] == unlimited) r.gpus = -1;
    out.second = r;
  }
  return out;
}

void publish_sample(allocator_actor_ptr self) {
  auto& st = self->state;
  if (!st.metrics) return;
  auto& core = st.owned->core();
  auto sample = std::make_shared<allocator_sample>();
  auto& p = *st.current.policy;
  for (const auto& path : st.owned->roles()) {
    allocator_sample::role_row row;
    row.role = path;
    row.weight = st.owned->weight(path);
    row.dominant_share = core.dominant_share(path);
    row.frameworks_wanting = core.clients_wanting_offers(path);
    row.allocated = st.owned->role_allocation(path);
    auto [guarantee, limit] = role_bounds(p, path);
    row.guarantee = guarantee;
    if (limit) {
      // Unlimited parts are shown as 0 (the gauges have no "none").
      for (auto* x : {&limit->cpus_milli, &limit->mem_bytes, &limit->disk_bytes, &limit->gpus})
        if (*x < 0) *x = 0;
      row.limit = limit;
    }
    sample->roles.push_back(std::move(row));
  }
  sample->waiting_per_level = core.waiting_per_level();
  sample->policy_name = p.prog->name;
  sample->policy_version = p.prog->version;
  sample->policy_hash = p.prog->hash_hex();
  sample->metric_specs = p.outline.metrics;
  sample->policy_metrics = core.cycle_metrics();
  sample->filter_rejections = core.filter_rejections();
  sample->relaxations = core.relaxations();
  sample->eval_errors = st.past_errors;
  auto& errors = core.rule_errors();
  for (size_t i = 0; i < errors.size() && i < p.prog->rules.size(); ++i)
    if (errors[i] > 0) sample->eval_errors[p.prog->rules[i].name] += errors[i];
  sample->cost_overruns = core.cost_overruns();
  sample->shadowing = st.shadow.has_value();
  sample->shadow_divergence = divergence(st);
  sample->interval_seconds = std::chrono::duration<double>(st.interval).count();
  sample->mailbox_messages = self->mailbox().queue().total_task_size();
  // (The queue's count, not `mailbox().size()`: that first moves new
  // arrivals into the queue through a cast CAF 0.17 makes on the queue's
  // sentinel, which UBSan reports; what arrived since the actor's last
  // fetch is left out.)
  st.metrics->publish(std::move(sample));
}

void run_cycle(allocator_actor_ptr self) {
  auto& st = self->state;
  st.cycle_pending = false;
  // Filters expire on the actor system's clock, which is virtual under the
  // deterministic test coordinator; the cycle's own duration is real time.
  auto now = self->clock().now();
  if (st.shadow && now >= st.shadow_until) {
    // The shadow period is over: the candidate becomes the policy, if its
    // limits still fit (or the operator forced it).
    if (st.shadow_force || limits_below_use(*st.owned, *st.shadow->policy).empty()) {
      auto next = std::move(*st.shadow);
      st.shadow.reset();
      activate(self, std::move(next));
    } else {
      st.shadow.reset();
      if (st.control)
        st.control->record_failure("{\"at\":" + std::to_string(unix_time_ms() / 1000.0) +
                                   ",\"error\":\"shadow candidate not installed: limits below "
                                   "current use\"}");
      publish_policy(self);
    }
  }
  // An offer is (framework, agent, resources): the shadow differs when it
  // would offer another agent or another amount.
  using offer_key = std::tuple<std::string, std::string, std::string>;
  std::set<offer_key> shadow_offers;
  if (st.shadow) {
    auto shadow_start = clock_type::now();
    auto twin = st.owned->core().with_policy(*st.shadow->policy);
    for (auto& o : twin->allocate(now))
      shadow_offers.emplace(o.framework_id, o.agent_id, to_resources(o.res).to_string());
    if (st.metrics)
      st.metrics->observe_cycle(
          std::chrono::duration<double>(clock_type::now() - shadow_start).count(), true);
  }
  auto start = clock_type::now();
  alloc_offers out;
  // Event-triggered cycles touch only the agents whose resources changed;
  // a shadow compares whole cycles, so it makes every cycle full.
  const bool full = st.full_cycle || st.shadow.has_value();
  if (full) {
    out.decisions = st.owned->allocate(now);
  } else {
    out.decisions = st.owned->allocate(now, {st.changed.begin(), st.changed.end()});
  }
  st.full_cycle = false;
  st.changed.clear();
  auto end = clock_type::now();
  if (st.shadow) {
    std::set<offer_key> active;
    for (auto& d : out.decisions) {
      auto res = d.res;
      res.ports.clear();  // The core does not model ports.
      active.emplace(d.framework_id, d.agent_id, res.to_string());
    }
    size_t both = 0;
    for (auto& k : active) both += shadow_offers.count(k);
    st.shadow_union += active.size() + shadow_offers.size() - both;
    st.shadow_differing += active.size() + shadow_offers.size() - 2 * both;
    ++st.shadow_cycles;
    publish_policy(self);
  }
  out.cycle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  auto& prog = *st.current.policy->prog;
  out.policy = {prog.name, prog.version, prog.hash_hex(), st.current.revision,
                st.current.source_name};
  if (st.metrics) {
    st.metrics->observe_cycle(static_cast<double>(out.cycle_ns) / 1e9, false);
    st.metrics->record(st.owned->core().take_event_samples());
    st.metrics->observe_cost(st.owned->core().take_cost_units());
  }
  // The metrics sample (O(roles), with the policy's every-cycle metrics) is
  // refreshed by full cycles, which run at least every allocation interval;
  // event-triggered cycles over a few agents stay cheap.
  if (full) publish_sample(self);
  auto& core = st.owned->core();
  for (const auto& role : st.owned->roles()) {
    role_stat r;
    r.role = role;
    r.weight = st.owned->weight(role);
    r.share = st.owned->role_share(role);
    r.allocated = st.owned->role_allocation(role);
    r.dominant_share = core.dominant_share(role);
    r.frameworks_wanting = core.clients_wanting_offers(role);
    auto [guarantee, limit] = role_bounds(*st.current.policy, role);
    if (guarantee) r.has_guarantee = true, r.guarantee = *guarantee;
    if (limit) r.has_limit = true, r.limit = *limit;
    out.roles.push_back(std::move(r));
  }
  self->send(st.master, std::move(out));
}

caf::behavior allocator_behavior(allocator_actor_ptr self, allocator_config cfg,
                                 caf::actor master) {
  auto& st = self->state;
  st.master = std::move(master);
  st.interval = cfg.interval;
  st.control = cfg.control;
  st.metrics = cfg.metrics;
  st.current.policy =
      cfg.policy ? cfg.policy : std::make_shared<const policy::runnable_policy>(default_policy());
  st.current.source_name =
      cfg.policy ? cfg.policy_source : "weighted_drf.policy (embedded default)";
  st.current.source_text = cfg.policy ? cfg.policy_text : default_policy_source();
  st.current.schema_text = cfg.policy ? cfg.policy_schema_text : std::string{};
  st.current.revision = st.next_revision++;
  st.current.loaded_at_ms = unix_time_ms();
  if (cfg.restored) {
    // What an operator applied before this master led replaces the startup
    // policy (which stays as the one to roll back to), with its revision.
    st.previous = std::move(st.current);
    st.current = *cfg.restored;
    st.next_revision = std::max(st.next_revision, st.current.revision + 1);
  }
  st.owned = std::make_unique<allocator>(*st.current.policy);
  if (st.metrics) {
    st.metrics->set_policy_metrics(st.current.policy->outline.metrics);
    st.owned->core().collect_event_samples(true);
  }
  if (st.control)
    st.control->set_last_success(static_cast<double>(st.current.loaded_at_ms) / 1000.0);
  publish_policy(self);
  for (const auto& [role, w] : cfg.weights) self->state.owned->set_weight(role, w);
  self->delayed_send(self, cfg.interval, tick_atom::value);
  return {
      [=](alloc_add_agent& m) {
        self->state.owned->add_agent(m.agent_id, m.total, m.used_by, m.hostname, m.attributes);
        request_cycle(self, &m.agent_id);
      },
      [=](const alloc_remove_agent& m) { self->state.owned->remove_agent(m.agent_id); },
      [=](const alloc_agent_active& m) {
        self->state.owned->set_agent_active(m.agent_id, m.active);
        if (m.active) request_cycle(self, &m.agent_id);
      },
      [=](const alloc_add_framework& m) {
        self->state.owned->add_framework(m.framework_id, m.roles,
                                         {m.user, m.labels, m.min_request, m.demand});
        request_cycle(self);
      },
      [=](const alloc_remove_framework& m) { self->state.owned->remove_framework(m.framework_id); },
      [=](const alloc_framework_active& m) {
        self->state.owned->set_framework_active(m.framework_id, m.active);
        if (m.active) request_cycle(self);
      },
      [=](const alloc_recover& m) {
        self->state.owned->recover(m.framework_id, m.role, m.agent_id, m.res,
                                   std::chrono::milliseconds{m.refuse_ms}, self->clock().now());
        request_cycle(self, &m.agent_id);
      },
      [=](const protocol::revive& m) {
        self->state.owned->revive(m.framework_id, m.roles);
        request_cycle(self);
      },
      [=](const protocol::suppress& m) { self->state.owned->suppress(m.framework_id, m.roles); },
      [=](allocate_atom) { run_cycle(self); },
      [=](const alloc_task_event& m) {
        auto& st = self->state;
        st.owned->core().task_event(m.event, m.framework_id, m.role, m.agent_id, to_amounts(m.res),
                                    static_cast<double>(m.runtime_ms) / 1000);
        // Outside a cycle: hand the samples over now.
        if (st.metrics) st.metrics->record(st.owned->core().take_event_samples());
      },
      [=](install_policy& m) { return install(self, m); },
      [=](rollback_policy) { return rollback(self); },
      [=](const explain_request& m) -> policy_reply {
        auto& st = self->state;
        auto e = st.owned->core().explain(m.framework, m.agent, self->clock().now());
        if (!e.known)
          return {404, "{\"error\":" + json_quote("no framework '" + m.framework + "'") +
                           ",\"status\":404}"};
        if (!m.agent.empty() && !e.pair)
          return {404,
                  "{\"error\":" + json_quote("no agent '" + m.agent + "'") + ",\"status\":404}"};
        return {200, explanation_json(e, st.current.policy->prog->resources)};
      },
      [=](tick_atom) {
        // The periodic cycle: declines' filters expire, so offers can appear
        // without any event.
        request_cycle(self);
        self->delayed_send(self, self->state.interval, tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_allocator(caf::actor_system& sys, const allocator_config& cfg,
                           const caf::actor& master) {
  return sys.spawn(
      [cfg, master](allocator_actor_ptr self) { return allocator_behavior(self, cfg, master); });
}

}  // namespace agora::master
