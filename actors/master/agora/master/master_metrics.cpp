#include "agora/master/master_metrics.hpp"

#include "agora/master/state_view.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agora/master/policy_control.hpp"
#include "agora/observability/metrics.hpp"

namespace agora::master {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::Labels;

/// Cycle durations: 100 us to 10 s.
const prometheus::Histogram::BucketBoundaries cycle_buckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

/// Adds one gauge per resource of `res` (cpus, memory and disk bytes, gpus)
/// named `prefix_<resource>` to `reg`, labelled `labels`.
void resource_gauges(prometheus::Registry& reg, const std::string& prefix, const std::string& what,
                     const Labels& labels, const protocol::resources& res) {
  struct part {
    const char* suffix;
    const char* unit;
    double value;
  };
  const part parts[] = {{"cpus", "CPUs", res.cpus()},
                        {"memory_bytes", "bytes of memory", static_cast<double>(res.mem_bytes)},
                        {"disk_bytes", "bytes of disk", static_cast<double>(res.disk_bytes)},
                        {"gpus", "GPUs", static_cast<double>(res.gpus)}};
  for (auto& p : parts)
    BuildGauge()
        .Name(prefix + "_" + p.suffix)
        .Help(what + ", in " + p.unit)
        .Register(reg)
        .Add(labels)
        .Set(p.value);
}

void counter(prometheus::Registry& reg, const std::string& name, const std::string& help,
             const Labels& labels, double value) {
  BuildCounter().Name(name).Help(help).Register(reg).Add(labels).Increment(value);
}

void gauge(prometheus::Registry& reg, const std::string& name, const std::string& help,
           const Labels& labels, double value) {
  BuildGauge().Name(name).Help(help).Register(reg).Add(labels).Set(value);
}

void add_allocator(prometheus::Registry& reg, const allocator_sample& a) {
  for (auto& r : a.roles) {
    Labels role{{"role", r.role}};
    gauge(reg, "agora_allocator_role_dominant_share_ratio",
          "A role's dominant share: its largest fraction of any resource of the cluster", role,
          r.dominant_share);
    gauge(reg, "agora_allocator_role_weight", "A role's weight in the running policy", role,
          r.weight);
    gauge(reg, "agora_allocator_role_frameworks_wanting",
          "Frameworks of a role and its descendants that want offers (active, not suppressed)",
          role, static_cast<double>(r.frameworks_wanting));
    resource_gauges(reg, "agora_allocator_role_allocated",
                    "Resources allocated to a role and its descendants (offered or used)", role,
                    r.allocated);
    if (r.guarantee)
      resource_gauges(reg, "agora_allocator_role_guarantee", "A role's guarantee", role,
                      *r.guarantee);
    if (r.limit)
      resource_gauges(reg, "agora_allocator_role_limit", "A role's limit (limited resources only)",
                      role, *r.limit);
  }
  for (auto& [level, n] : a.waiting_per_level)
    gauge(reg, "agora_allocator_frameworks_waiting",
          "Frameworks waiting for locality at a level (delay scheduling)", {{"level", level}},
          static_cast<double>(n));
  gauge(reg, "agora_policy_info", "The running allocation policy (value 1)",
        {{"name", a.policy_name},
         {"version", std::to_string(a.policy_version)},
         {"hash", a.policy_hash}},
        1);
  for (auto& [filter, n] : a.filter_rejections)
    counter(reg, "agora_policy_filter_rejections_total",
            "(framework, agent) pairs a policy filter rejected in allocation cycles",
            {{"filter", filter}}, static_cast<double>(n));
  for (auto& [rule, n] : a.eval_errors)
    counter(reg, "agora_policy_eval_errors_total",
            "Runtime errors of policy rules (errors are values: a filter that errs rejects, a "
            "score adds 0, an order key sorts last)",
            {{"rule", rule}, {"code", "E_EVAL"}}, static_cast<double>(n));
  counter(reg, "agora_policy_eval_errors_total",
          "Runtime errors of policy rules (errors are values: a filter that errs rejects, a "
          "score adds 0, an order key sorts last)",
          {{"rule", "*"}, {"code", "E_COST"}}, static_cast<double>(a.cost_overruns));
  for (auto& [step, n] : a.relaxations)
    counter(reg, "agora_policy_locality_relaxations_total",
            "Frameworks that moved to a less local level after waiting",
            {{"from", step.first}, {"to", step.second}}, static_cast<double>(n));
  gauge(reg, "agora_allocator_interval_seconds",
        "The allocation interval (cycles run at least this often)", {}, a.interval_seconds);
  gauge(reg, "agora_actor_mailbox_messages",
        "Messages in an actor's queue, received and not yet processed, as the actor last saw it "
        "(the master when it publishes its state, the allocator after a cycle)",
        {{"actor", "allocator"}}, static_cast<double>(a.mailbox_messages));
  gauge(reg, "agora_policy_shadow_divergence_ratio",
        "Fraction of offers a shadow candidate policy would make differently (0 without one)", {},
        a.shadowing ? a.shadow_divergence : 0);
  // Metrics the policy declares: `every cycle` gauges, evaluated after each cycle.
  for (auto& spec : a.metric_specs) {
    if (!spec.every_cycle || spec.what != policy::metric_spec::kind::gauge) continue;
    auto& family = BuildGauge().Name(spec.name).Help(spec.help).Register(reg);
    for (auto& s : a.policy_metrics) {
      if (s.name != spec.name) continue;
      Labels labels;
      for (auto& [k, v] : s.labels) labels[k] = v;
      family.Add(labels).Set(s.value);
    }
  }
}

void add_master(prometheus::Registry& reg, const master_sample& m) {
  // Counted here, from the snapshot, not on the master's thread.
  std::map<std::string, size_t> agents_by_state, frameworks_by_state;
  std::map<protocol::task_state, size_t> tasks_by_state;
  std::map<std::string, protocol::resources> offered_by_role, used_by_role;
  for (const char* h : {"active", "disconnected", "unreachable"}) agents_by_state[h] = 0;
  for (const char* f : {"connected", "disconnected"}) frameworks_by_state[f] = 0;
  frameworks_by_state["completed"] = m.completed_frameworks;
  if (m.snapshot) {
    for (const auto& shard : m.snapshot->agents)
      if (shard)
        for (const auto& [id, a] : *shard) ++agents_by_state[a->health];
    for (const auto& shard : m.snapshot->frameworks)
      if (shard)
        for (const auto& [id, f] : *shard)
          ++frameworks_by_state[f->connected ? "connected" : "disconnected"];
    for (const auto& shard : m.snapshot->tasks)
      if (shard)
        for (const auto& [key, t] : *shard) {
          ++tasks_by_state[t->state];
          if (t->uses) used_by_role[t->role] += t->res;
        }
    for (const auto& shard : m.snapshot->offers)
      if (shard)
        for (const auto& [id, o] : *shard) offered_by_role[o->role] += o->res;
  }
  for (auto& [state, n] : agents_by_state)
    gauge(reg, "agora_master_agents", "Agents by health", {{"state", state}},
          static_cast<double>(n));
  for (auto& [state, n] : frameworks_by_state)
    gauge(reg, "agora_master_frameworks", "Frameworks by state", {{"state", state}},
          static_cast<double>(n));
  for (auto& [state, n] : tasks_by_state)
    gauge(reg, "agora_master_tasks", "Known tasks by their latest state",
          {{"state", protocol::to_string(state)}}, static_cast<double>(n));
  for (auto& [role, res] : offered_by_role)
    resource_gauges(reg, "agora_allocator_role_offered",
                    "Resources outstanding in offers to a role", {{"role", role}}, res);
  for (auto& [role, res] : used_by_role)
    resource_gauges(reg, "agora_allocator_role_used", "Resources used by a role's running tasks",
                    {{"role", role}}, res);
  const char* offers_help = "Offers made to frameworks, declined by them, or rescinded";
  counter(reg, "agora_master_offers_total", offers_help, {{"outcome", "made"}},
          static_cast<double>(m.offers_made));
  counter(reg, "agora_master_offers_total", offers_help, {{"outcome", "declined"}},
          static_cast<double>(m.offers_declined));
  counter(reg, "agora_master_offers_total", offers_help, {{"outcome", "rescinded"}},
          static_cast<double>(m.offers_rescinded));
  counter(reg, "agora_master_tasks_launched_total", "Tasks the master sent to agents", {},
          static_cast<double>(m.tasks_launched));
  counter(reg, "agora_master_status_updates_total", "Task status updates received from agents", {},
          static_cast<double>(m.status_updates));
  counter(reg, "agora_master_invalid_messages_total",
          "Messages dropped: unknown senders or ids, invalid requests", {},
          static_cast<double>(m.invalid_requests));
  counter(reg, "agora_master_foreign_messages_total",
          "Messages about a framework or agent sent by an actor that is not that framework's "
          "scheduler or that agent, dropped",
          {}, static_cast<double>(m.foreign_messages));
  // Every outcome from the start (at 0), so that rates and alerts exist
  // before the first failure.
  std::map<std::string, uint64_t> auth = {
      {"success", 0}, {"failure", 0}, {"throttled", 0}, {"missing", 0}};
  for (const auto& [outcome, n] : m.authentications) auth[outcome] = n;
  for (const auto& [outcome, n] : auth)
    counter(reg, "agora_master_authentications_total",
            "Authentication attempts of frameworks and agents by outcome: success, failure (wrong "
            "secret, unknown principal, no challenge), throttled (while the node waits after "
            "failures), missing (a subscription or registration without required authentication)",
            {{"outcome", outcome}}, static_cast<double>(n));
  // Every terminal state from the start (at 0), so that rates exist before
  // the first task of a kind ends.
  std::map<std::string, uint64_t> ended = {{"TASK_FINISHED", 0}, {"TASK_FAILED", 0},
                                           {"TASK_KILLED", 0},   {"TASK_LOST", 0},
                                           {"TASK_DROPPED", 0},  {"TASK_ERROR", 0}};
  for (const auto& [state, n] : m.tasks_ended) ended[state] = n;
  for (const auto& [state, n] : ended)
    counter(reg, "agora_master_tasks_ended_total", "Tasks that ended, by terminal state",
            {{"state", state}}, static_cast<double>(n));
  gauge(reg, "agora_actor_mailbox_messages",
        "Messages in an actor's queue, received and not yet processed, as the actor last saw it "
        "(the master when it publishes its state, the allocator after a cycle)",
        {{"actor", "master"}}, static_cast<double>(m.mailbox_messages));
}

}  // namespace

master_metrics::master_metrics() : events_(std::make_shared<prometheus::Registry>()) {
  cycle_seconds_ = &prometheus::BuildHistogram()
                        .Name("agora_allocator_cycle_duration_seconds")
                        .Help("Duration of allocation cycles")
                        .Register(*events_)
                        .Add({}, cycle_buckets);
  auto& eval = prometheus::BuildHistogram()
                   .Name("agora_policy_eval_seconds")
                   .Help("Time spent evaluating the policy per cycle, by phase")
                   .Register(*events_);
  eval_cycle_seconds_ = &eval.Add({{"phase", "cycle"}}, cycle_buckets);
  eval_shadow_seconds_ = &eval.Add({{"phase", "shadow"}}, cycle_buckets);
  auto& cost = prometheus::BuildHistogram()
                   .Name("agora_policy_cost_units")
                   .Help(
                       "Static cost units the policy's code spent per allocation cycle, by "
                       "stage (runs of each stage's code times its cost)")
                   .Register(*events_);
  const prometheus::Histogram::BucketBoundaries cost_buckets = {1e2, 1e3, 1e4, 1e5,
                                                                1e6, 1e7, 1e8, 1e9};
  for (size_t c = 0; c < policy::chunk_count; ++c)
    cost_units_[c] =
        &cost.Add({{"phase", policy::to_string(static_cast<policy::chunk_id>(c))}}, cost_buckets);
}

void master_metrics::observe_cost(const std::array<double, policy::chunk_count>& units) {
  for (size_t c = 0; c < policy::chunk_count; ++c) cost_units_[c]->Observe(units[c]);
}

master_metrics::~master_metrics() = default;

void master_metrics::observe_cycle(double seconds, bool shadow) {
  if (shadow) {
    eval_shadow_seconds_->Observe(seconds);
  } else {
    cycle_seconds_->Observe(seconds);
    eval_cycle_seconds_->Observe(seconds);
  }
}

void master_metrics::set_policy_metrics(const std::vector<policy::metric_spec>& specs) {
  std::lock_guard<std::mutex> guard{mu_};
  std::map<std::string, event_family> next;
  for (auto& spec : specs) {
    if (spec.every_cycle || spec.what == policy::metric_spec::kind::gauge) continue;
    auto old = event_families_.find(spec.name);
    if (old != event_families_.end() && old->second.spec.what == spec.what &&
        old->second.spec.labels == spec.labels && old->second.spec.buckets == spec.buckets) {
      next.emplace(spec.name, old->second);
      event_families_.erase(old);
      continue;
    }
    if (old != event_families_.end()) {
      if (old->second.counter) events_->Remove(*old->second.counter);
      if (old->second.histogram) events_->Remove(*old->second.histogram);
      event_families_.erase(old);
    }
    event_family f;
    f.spec = spec;
    if (spec.what == policy::metric_spec::kind::counter)
      f.counter = &BuildCounter().Name(spec.name).Help(spec.help).Register(*events_);
    else
      f.histogram =
          &prometheus::BuildHistogram().Name(spec.name).Help(spec.help).Register(*events_);
    next.emplace(spec.name, f);
  }
  // Families the new policy no longer declares.
  for (auto& [name, f] : event_families_) {
    if (f.counter) events_->Remove(*f.counter);
    if (f.histogram) events_->Remove(*f.histogram);
  }
  event_families_ = std::move(next);
}

void master_metrics::record(const std::vector<policy::event_sample>& samples) {
  std::lock_guard<std::mutex> guard{mu_};
  for (auto& s : samples) {
    auto it = event_families_.find(s.name);
    if (it == event_families_.end()) continue;
    Labels labels;
    for (auto& [k, v] : s.labels) labels[k] = v;
    auto& f = it->second;
    if (f.counter && s.value >= 0) f.counter->Add(labels).Increment(s.value);
    if (f.histogram) {
      prometheus::Histogram::BucketBoundaries buckets(f.spec.buckets.begin(), f.spec.buckets.end());
      f.histogram->Add(labels, buckets).Observe(s.value);
    }
  }
}

void master_metrics::publish(std::shared_ptr<const allocator_sample> sample) {
  std::lock_guard<std::mutex> guard{mu_};
  allocator_ = std::move(sample);
}

void master_metrics::publish(std::shared_ptr<const master_sample> sample) {
  std::lock_guard<std::mutex> guard{mu_};
  master_ = std::move(sample);
}

std::string master_metrics::scrape(const policy_control* control,
                                   std::vector<prometheus::MetricFamily> extra) const {
  std::shared_ptr<const allocator_sample> a;
  std::shared_ptr<const master_sample> m;
  {
    std::lock_guard<std::mutex> guard{mu_};
    a = allocator_;
    m = master_;
  }
  prometheus::Registry state;
  if (a) add_allocator(state, *a);
  if (m) add_master(state, *m);
  if (control) {
    auto [ok, failed] = control->reloads();
    const char* help = "Policy reloads (apply or rollback), by result";
    counter(state, "agora_policy_reloads_total", help, {{"result", "success"}},
            static_cast<double>(ok));
    counter(state, "agora_policy_reloads_total", help, {{"result", "error"}},
            static_cast<double>(failed));
    gauge(state, "agora_policy_last_reload_success_timestamp_seconds",
          "When the running policy was installed (Unix time)", {}, control->last_success_seconds());
  }
  return observability::serialize_metrics({events_->Collect(), state.Collect(), extra});
}

}  // namespace agora::master
