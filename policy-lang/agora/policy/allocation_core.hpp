#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agora/policy/bytecode.hpp"
#include "agora/policy/eval_input.hpp"
#include "agora/policy/policy_outline.hpp"
#include "agora/policy/vm.hpp"

/// The allocation core: the one engine that runs a compiled policy over a
/// resource pool (POLICY-LANGUAGE.md section 2). The master's allocator
/// actor wraps it, `agora policy test` builds small clusters for it, and the
/// simulator drives it on a virtual clock. CAF-free, single-threaded.
namespace agora::policy {

/// The kind of a compiled rule (`order roles`, `filter`, ...).
using rule_kind = decltype(rule_info::what);

/// Exact resource amounts by resource id (the ids of `res_vec`): CPUs, GPUs
/// and custom counts in thousandths (`1500` = 1.5 cores), memory and disk
/// in bytes. Accounting is done in these integers, so sums never drift;
/// the policy reads them converted to `res_vec` (cores, bytes, counts).
using amounts = std::array<int64_t, max_resources>;

/// Returns how many integer units make one unit of resource `id` (1000 for
/// CPUs, GPUs and custom counts, 1 for memory and disk).
int64_t unit_scale(size_t id);
/// Returns `a` in policy units (cores, bytes, counts).
res_vec to_res_vec(const amounts& a);
/// Returns `v` in integer units, rounded to the nearest; infinities and
/// values beyond the range become `INT64_MAX` (negative ones 0).
amounts to_amounts(const res_vec& v);
/// Returns true if every component of `a` is at most the one of `b`.
bool fits_in(const amounts& a, const amounts& b);
/// Returns true if every component is 0.
bool is_zero(const amounts& a);

/// A compiled policy with the declarations the runtime reads (roles,
/// guarantees mode, locality levels). Hot reload swaps one for another.
struct runnable_policy {
  std::shared_ptr<const program> prog;
  policy_outline outline;
};

/// What a framework tells the allocator when it subscribes.
struct framework_spec {
  std::string id;
  std::string user;
  /// Roles it may be offered resources for (empty: the role `*`). Each
  /// (framework, role) pair is ordered and served on its own, as in Mesos.
  std::vector<std::string> roles;
  std::map<std::string, std::string> labels;
  amounts min_request{};  ///< Its smallest task (`framework.min_request`).
  amounts max_request{};  ///< Its largest task (`framework.max_request`); 0: `min_request`.
  /// The most it wants to hold in each role; 0 everywhere: as much as it is
  /// offered. A framework whose allocation covers its demand is not served,
  /// and roles whose frameworks all declare a demand have their
  /// `fair_share` capped by it (weighted max-min fairness).
  amounts demand{};
  /// Pins the locality level (fixtures and tests); empty: delay scheduling.
  std::string pinned_level;
  /// Seconds the framework has already waited for locality (fixtures).
  double waited_seconds = 0;
};

/// One offer the core decided: `res` of `agent_id` to `framework_id` in
/// `role`, already counted as allocated.
struct core_offer {
  std::string framework_id;
  std::string role;
  std::string agent_id;
  amounts res{};
  std::string level;  ///< Locality level the agent matched (empty: no locality).
  double score = 0;   ///< Weighted score of the pair.
};

/// One sample of an `every cycle` metric the policy declares.
struct metric_sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  ///< E.g. {"role", "prod"}.
  double value = 0;
};

/// One update of an `on offer` metric: add `value` to a counter, or observe
/// it in a histogram, at `labels`.
struct event_sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

/// The outcome of evaluating one (framework, agent) pair now.
struct pair_outcome {
  bool accepted = false;    ///< Every filter holds.
  std::string rejected_by;  ///< The first failing filter's name (`fits`), or empty.
  std::string level;        ///< The most local level the agent matches, or empty.
  bool level_ok = true;     ///< The framework's level allows this agent.
  double score = 0;         ///< Weighted sum of the scores.
  bool declined = false;    ///< A decline filter of the framework covers the offer.
  /// The agent is active and its free resources, clipped, are allocatable.
  bool usable = false;
  /// The clipped free resources hold the framework's `min_request`.
  bool holds_min_request = false;
  /// The agent's free resources clipped to the role's headroom (limits
  /// along the path, and `hold_headroom` guarantees); zero if not offered.
  amounts offer{};
  /// Accepted, level allowed, not declined, and the clipped offer is
  /// allocatable and holds the framework's `min_request`.
  bool offered = false;
  std::map<std::string, rule_value> rules;  ///< Every filter and score by name.
};

/// Why a framework is (or is not) offered resources: `allocation_core::explain`.
/// The agent counts add up to `agents`: each agent is counted once, in the
/// first category that stops it (inactive, no usable resources, a filter,
/// the locality level, a decline filter, what is left (after limits) is
/// smaller than the framework's smallest task), or as offerable.
struct explanation {
  bool known = false;
  std::string framework, role;
  bool active = false, suppressed = false, demand_covered = false;
  std::vector<std::string> role_order;  ///< Roles in offer order.
  size_t role_position = 0;             ///< 1-based position of `role` in it (0: absent).
  std::vector<std::pair<std::string, rule_value>> role_keys;  ///< Rule name, value.
  std::vector<std::string> framework_order;                   ///< The role's frameworks in order.
  size_t framework_position = 0;                              ///< 1-based.
  std::vector<std::pair<std::string, rule_value>> framework_keys;
  std::string level;          ///< Locality level (empty: none applies).
  double waited_seconds = 0;  ///< Time waited for locality.
  struct role_line {
    std::string role;
    amounts allocated{}, headroom{};
    std::optional<amounts> guarantee, limit;
    bool below_guarantee = false;
  };
  std::vector<role_line> path;  ///< Its role, then each ancestor.
  size_t agents = 0;            ///< Agents considered: every agent.
  size_t inactive_agents = 0, no_usable_resources = 0, wrong_level = 0, declined = 0, too_small = 0,
         offerable = 0;
  std::map<std::string, size_t> rejected_by;  ///< Filter -> agents it rejects first.
  struct candidate {
    std::string agent;
    double score = 0;
    std::vector<std::pair<std::string, double>> contributions;  ///< Score -> weight x value.
  };
  std::vector<candidate> best;  ///< Up to 5 offerable agents, best score first.
  std::string agent_id;         ///< With an agent: that pair in detail.
  std::optional<pair_outcome> pair;
  amounts agent_free{}, min_request{};
};

/// The resource pool and the compiled-policy allocation algorithm.
///
/// State: agents (total, attributes, allocations per (framework, role)),
/// frameworks (each subscribed role is a *client*: one framework in one
/// role), the role tree (declared roles plus every role a framework uses,
/// with their ancestors), decline filters, suppression and locality timers.
/// Every allocation is recorded per (client, agent), so a role's and a
/// framework's allocation always equal the sum of what they hold on live
/// agents (`check_invariants`).
///
/// A cycle (`allocate`): the policy's `order roles` keys sort siblings within
/// each parent (a role with both frameworks and children serves its own
/// frameworks as a virtual child, as Mesos' hierarchical sorter does), and
/// `order frameworks` sorts the clients of a role. The first client in that
/// order that can still use something is given its best agent: candidates
/// pass every `filter`, match its locality level, are not covered by one of
/// its decline filters, and are ranked by the weighted `score`s. Each offer
/// is clipped to `limit - allocated` along the role's path (and, under
/// `guarantees hold_headroom`, to what leaves unmet guarantees free). The
/// offer is counted, keys along the path are re-evaluated, and the next
/// client is chosen (progressive filling), until no client can use any
/// agent. Frameworks skipped for locality wait; past a level's `wait` they
/// move to the next level; an offer at the most local level resets them.
class allocation_core {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit allocation_core(runnable_policy policy);
  allocation_core(const allocation_core&) = delete;
  allocation_core& operator=(const allocation_core&) = delete;

  // -- policy ----------------------------------------------------------------

  /// Swaps the policy (between cycles). Roles keep their allocations and
  /// take the new declarations' weights, guarantees and limits; frameworks
  /// waiting at a locality level the new policy still has (by name) keep
  /// their waiting time.
  void set_policy(runnable_policy policy);
  /// Returns the running policy.
  const runnable_policy& policy() const { return policy_; }
  /// Returns a copy of this core's whole state running `policy` instead (a
  /// shadow policy evaluated on the same state without acting). O(state).
  std::unique_ptr<allocation_core> with_policy(runnable_policy policy) const;
  /// Overrides role `path`'s weight (operators' `--weights`); `weight` > 0.
  void set_weight_override(const std::string& path, double weight);

  // -- agents ----------------------------------------------------------------

  /// Adds (or replaces) an agent. `used_by` (framework id -> role ->
  /// amounts) is what its running tasks hold, as after a re-registration;
  /// frameworks not known yet are added with only that role, inactive.
  void add_agent(const std::string& id, const std::string& hostname,
                 const std::map<std::string, std::string>& attributes, const amounts& total,
                 const std::map<std::string, std::map<std::string, amounts>>& used_by = {});
  /// Removes an agent and every allocation on it (its frameworks' and
  /// roles' allocations drop by what they held there).
  void remove_agent(const std::string& id);
  /// Stops (false) or resumes (true) offering an agent's resources.
  void set_agent_active(const std::string& id, bool active);
  /// Sets the agent-reported gauges `agent.metrics.*` (absent keys: stale).
  void set_agent_metrics(const std::string& id, std::map<std::string, double> metrics);
  /// Counts `res` of agent `id` as used by tasks outside this core's view
  /// (fixtures: an agent whose `used` is given without its holders).
  void set_outside_use(const std::string& id, const amounts& res);
  /// Returns true if the agent is known.
  bool has_agent(const std::string& id) const { return agent_ids_.count(id) != 0; }

  // -- frameworks ------------------------------------------------------------

  /// Adds a framework, or updates a known one (a re-subscription): roles it
  /// no longer names stop receiving offers, their allocations stay counted
  /// until recovered. The framework becomes active.
  void add_framework(const framework_spec& spec);
  /// Removes a framework from ordering; what it still holds stays counted
  /// until `recover` returns it or its agents are removed.
  void remove_framework(const std::string& id);
  /// Stops (false) or resumes (true) offers to a framework.
  void set_framework_active(const std::string& id, bool active);
  /// Clears the framework's decline filters and un-suppresses `roles` (all
  /// when empty).
  void revive(const std::string& id, const std::vector<std::string>& roles);
  /// Stops offers to the framework for `roles` (all when empty).
  void suppress(const std::string& id, const std::vector<std::string>& roles);

  // -- resources -------------------------------------------------------------

  /// Counts `res` of `agent` as held by `framework` in `role` (a task the
  /// core did not offer, e.g. adopted after a master restart). Ignored for
  /// unknown agents; unknown frameworks are added inactive with that role.
  void allocate_directly(const std::string& framework, const std::string& role,
                         const std::string& agent, const amounts& res);
  /// Returns `res` held by `framework` in `role` on `agent` to the pool,
  /// at most what that client holds there (a second recovery of the same
  /// resources returns nothing). With `refuse` > 0 the client is not
  /// offered resources covered by `res` on that agent before `now +
  /// refuse` (a decline filter). Returns what was recovered.
  amounts recover(const std::string& framework, const std::string& role, const std::string& agent,
                  const amounts& res, std::chrono::milliseconds refuse, time_point now);
  /// Counts resources held outside the agents this core sees (test and
  /// simulation fixtures: a role or framework that already holds part of a
  /// larger cluster). `framework` empty: held by `role` itself.
  void add_external(const std::string& role, const std::string& framework, const amounts& res);

  // -- allocation ------------------------------------------------------------

  /// Runs one allocation cycle at `now` and returns its offers (already
  /// counted as allocated).
  std::vector<core_offer> allocate(time_point now);
  /// Runs a cycle that offers only `agents` (those whose free resources
  /// changed since the last cycle): an event-triggered cycle. The periodic
  /// full cycle remains the safety net for everything else.
  std::vector<core_offer> allocate(time_point now, const std::vector<std::string>& agents);

  // -- queries (evaluate the policy over the current state) -------------------

  /// Returns the roles frameworks are served from, in order (leaves and
  /// roles with frameworks of their own, depth first; ties by path).
  std::vector<std::string> role_order();
  /// Returns the clients in offer order as framework ids (a framework with
  /// two roles appears twice).
  std::vector<std::string> framework_order();
  /// Decides the pair (framework in its first role, agent) as a cycle would.
  pair_outcome decide(const std::string& framework, const std::string& agent);
  /// Returns the agents the framework would be offered, best score first.
  std::vector<std::string> candidates(const std::string& framework);
  /// Returns what role `path` may still be allocated along its path
  /// (`INT64_MAX` where no limit applies).
  amounts headroom(const std::string& path);
  /// Returns the level the framework is at (empty: no locality applies).
  std::string level(const std::string& framework);
  /// Explains the offers `framework` (in its first role) would get at `now`:
  /// its place in the orders with the keys, agents counted by what stops
  /// them, the best agents with each score's contribution, its locality
  /// level and wait, headroom and guarantees along its role path. With
  /// `agent`, also that pair in detail. `known` is false for an unknown
  /// framework.
  explanation explain(const std::string& framework, const std::string& agent, time_point now);
  /// Returns the value of `every cycle` metric rule `rule` (for a per-role
  /// metric, evaluated for `role`).
  rule_value metric_value(size_t rule, const std::string& role);

  // -- introspection ---------------------------------------------------------

  /// Returns the evaluated view the policy reads (valid after a query or a
  /// cycle, until the next change).
  const eval_input& view();
  /// Returns the index of role `path` in `view().roles`, or -1.
  int role_index(const std::string& path) const;
  /// Returns the sum of all agents' totals.
  const amounts& cluster_total() const { return total_; }
  /// Returns the free resources of an agent (zero if unknown).
  amounts agent_free(const std::string& id) const;
  /// Returns the resources a role and its descendants hold.
  amounts role_allocation(const std::string& path) const;
  /// Returns the resources a framework holds (all roles).
  amounts framework_allocation(const std::string& id) const;
  /// Returns the weight of role `path` (override, declaration or default).
  double weight(const std::string& path) const;
  /// Returns the role's dominant share (max over resources of allocated /
  /// cluster total; for display).
  double dominant_share(const std::string& path) const;
  /// Returns how many framework clients of role `path` and its descendants
  /// want offers (active and not suppressed), as of the last cycle or query.
  size_t clients_wanting_offers(const std::string& path) const;
  /// Returns every role path the core knows, parents before children.
  std::vector<std::string> roles() const;
  /// Returns the number of decline filters still in force at `now`.
  size_t filter_count(time_point now) const;
  /// Returns the number of known frameworks.
  size_t framework_count() const { return framework_ids_.size(); }
  /// Returns the number of known agents.
  size_t agent_count() const { return agent_ids_.size(); }
  /// Returns runtime error counts per rule of the running program (from
  /// the VM; they restart with each policy swap).
  const std::vector<uint64_t>& rule_errors() const { return vm_->errors(); }
  /// Returns the static cost units the policy's code spent since the last
  /// call, per stage (`chunk_id`): runs of each chunk times its cost.
  std::array<double, chunk_count> take_cost_units();
  /// Returns how many loops the VM stopped on its budget (`E_COST`).
  uint64_t cost_overruns() const { return vm_->cost_overruns(); }
  /// Returns, per filter name, how many pairs it rejected in cycles (kept
  /// across policy swaps for filters of the same name).
  std::map<std::string, uint64_t> filter_rejections() const;
  /// Returns how many times frameworks moved from one locality level to
  /// another (delay scheduling), by (from, to).
  const std::map<std::pair<std::string, std::string>, uint64_t>& relaxations() const {
    return relaxations_;
  }
  /// Returns, per locality level, the frameworks waiting at it now.
  std::map<std::string, size_t> waiting_per_level();
  /// Returns (and forgets) the updates of the policy's event metrics since
  /// the last call: one per event (an offer made, a decline with a filter,
  /// a framework moving to a less local `level` (relax), a task launched or
  /// finished) and metric whose `when` holds, labelled from the event
  /// (`role`, `framework`, `locality`, `level`, the agent's `rack` and `zone`).
  std::vector<event_sample> take_event_samples() {
    auto out = std::move(event_samples_);
    event_samples_.clear();
    return out;
  }
  /// Records a task event for the policy's `on launch` and `on finish`
  /// metrics (the master launched a task, or the task ended after
  /// `runtime_seconds`): `task.res` is `res`.
  void task_event(const std::string& event, const std::string& framework, const std::string& role,
                  const std::string& agent, const amounts& res, double runtime_seconds);
  /// Turns the recording of event samples on (off by default: someone must
  /// take them).
  void collect_event_samples(bool on) { collect_events_ = on; }
  /// Evaluates the policy's `every cycle` metrics over the current state
  /// (per role for metrics that read `role`, labelled `role`).
  std::vector<metric_sample> cycle_metrics();

  /// Keeps the role and framework orders between cycles (default), re-keying
  /// only what changed; false rebuilds them every cycle (tests compare the
  /// two). Orders are rebuilt anyway when the cycle stage's values change,
  /// and never kept for policies whose role or framework code aggregates.
  void keep_orders(bool keep) {
    keep_order_ = keep;
    order_.built = false;
  }

  /// Checks that the accounting is exact: every agent's allocation is the
  /// sum of what clients hold there and within its total; every client's,
  /// role's and the cluster's sums match; no negative amount. Returns an
  /// empty string, or what is wrong. O(state); for tests.
  std::string check_invariants() const;

 private:
  struct filter {
    amounts refused{};
    time_point until{};
  };
  struct agent_slot {
    bool live = false;
    std::string id, hostname;
    std::map<std::string, std::string> attributes;
    std::map<std::string, double> metrics;
    amounts total{}, allocated{};
    amounts outside{};  ///< Part of `allocated` held by no client (fixtures).
    bool active = true;
    std::unordered_map<uint32_t, amounts> held;  ///< Client slot -> amounts.
  };
  struct client_slot {
    bool live = false;
    uint32_t framework = 0;  ///< Framework slot.
    size_t role = 0;
    bool subscribed = true;  ///< The framework still names this role.
    bool suppressed = false;
    amounts allocated{};  ///< On agents.
    amounts external{};
    std::unordered_map<uint32_t, std::vector<filter>> filters;  ///< Agent slot -> filters.
    std::optional<time_point> waiting_since;
    uint64_t skips = 0;
    int level = -1;  ///< The locality level it was last at in a cycle (-1: none yet).
  };
  struct framework_slot {
    bool live = false;
    framework_spec spec;
    bool active = true;
    bool removed = false;
    std::map<size_t, uint32_t> clients;  ///< Role -> client slot.
  };
  struct role_node {
    std::string path, name;
    int parent = -1;
    std::vector<size_t> children;
    amounts own{}, subtree{};             ///< Own clients (and own external), and with descendants.
    amounts external{};                   ///< Held by the role itself outside the agents.
    amounts own_demand{};                 ///< Sum of its subscribed clients' demands.
    size_t clients = 0, undemanding = 0;  ///< Subscribed clients; active ones without demand.
    size_t subtree_clients = 0;
    size_t active_clients = 0, subtree_active = 0;  ///< Wanting offers (active, unsuppressed).
    double declared_weight = 1;
    std::optional<double> weight_override;
    std::optional<amounts> guarantee, limit;
    bool preemptible = false;
  };
  struct cycle_state;
  /// One entry of a sibling list: a role, or a role's own clients as its
  /// virtual child (`self`), with its `order roles` keys.
  struct order_entry {
    size_t role = 0;
    bool self = false;
    std::vector<rule_value> key;
  };
  /// The sorted sibling lists (index parent + 1; 0 is the root), the sorted
  /// clients of each role and their keys, kept between cycles.
  struct ordering {
    bool built = false;
    std::vector<std::vector<order_entry>> children;
    std::vector<std::vector<uint32_t>> clients;
    std::unordered_map<uint32_t, std::vector<rule_value>> client_keys;
    std::vector<uint8_t> stale_roles;            ///< Per role: its keys changed.
    std::unordered_set<uint32_t> stale_clients;  ///< Clients whose allocation changed.
    stage_regs cycle_regs;                       ///< The cycle registers the keys were read under.
  };
  struct copy_tag {};
  allocation_core(const allocation_core& other, copy_tag);

  size_t ensure_role(const std::string& path);
  void apply_declaration(size_t role);
  uint32_t ensure_client(uint32_t framework, size_t role);
  uint32_t ensure_framework_inactive(const std::string& id);
  void add_held(uint32_t client, uint32_t agent, const amounts& res);
  amounts remove_held(uint32_t client, uint32_t agent, const amounts& res);
  void add_to_role(size_t role, const amounts& res, int sign);
  void maybe_release_client(uint32_t client);
  void mark_dirty() {
    dirty_ = true;
    order_.built = false;
  }
  void sync_view();
  void refresh_role_views();
  void refresh_agent_view(uint32_t agent);
  void refresh_client_view(uint32_t client);
  void compute_fair_shares();
  double role_weight(size_t role) const;
  bool eligible(const client_slot& c) const;
  amounts role_headroom(size_t role) const;
  amounts guarantee_allowance(size_t role) const;
  bool declined(client_slot& c, uint32_t agent, const amounts& offer, time_point now);
  int level_of(uint32_t client, time_point now);
  std::string level_name(int index) const;
  std::vector<core_offer> cycle(time_point now, const std::vector<uint32_t>* only);
  pair_outcome evaluate(uint32_t client, uint32_t agent, time_point now, bool all_rules,
                        cycle_state* cs = nullptr);
  const stage_regs& client_regs(uint32_t client, time_point now, cycle_state* cs);
  const stage_regs& agent_regs(uint32_t agent, cycle_state* cs);
  bool role_entry_before(const order_entry& a, const order_entry& b) const;
  bool client_before(const ordering& ord, uint32_t a, uint32_t b) const;
  void order_roles(ordering& ord);
  std::vector<uint32_t> order_clients(ordering& ord, std::vector<uint32_t> members, size_t role);
  void build_order(ordering& ord);
  void refresh_order(ordering& ord);
  void reposition_role(ordering& ord, size_t role);
  void reposition_client(ordering& ord, uint32_t client);
  std::vector<rule_value> role_key(size_t role, bool self);
  std::vector<std::vector<uint32_t>> clients_by_role() const;
  rule_value read_rule(size_t rule) const { return vm_->read(rule); }
  std::vector<rule_value> read_keys(rule_kind kind) const;
  bool key_before(const std::vector<rule_value>& a, const std::vector<rule_value>& b,
                  rule_kind kind) const;
  void index_rules();
  uint32_t client_of_framework(const std::string& id) const;
  uint32_t agent_slot_of(const std::string& id) const;

  runnable_policy policy_;
  std::unique_ptr<vm> vm_;
  std::vector<role_node> roles_;
  std::unordered_map<std::string, size_t> role_ids_;
  std::map<std::string, double> weight_overrides_;
  std::vector<agent_slot> agents_;
  std::vector<uint32_t> free_agents_;
  std::unordered_map<std::string, uint32_t> agent_ids_;
  std::vector<framework_slot> frameworks_;
  std::vector<uint32_t> free_frameworks_;
  std::unordered_map<std::string, uint32_t> framework_ids_;
  std::vector<client_slot> clients_;
  std::vector<uint32_t> free_clients_;
  amounts total_{};
  amounts allocated_total_{};  ///< Sum of every agent's allocation.
  // The dense view the VM reads, and slot <-> view index maps.
  eval_input in_;
  bool dirty_ = true;
  bool roles_dirty_ = false;  ///< Activity or suppression changed: role views only.
  std::vector<uint32_t> view_agent_slot_, view_client_slot_;
  std::vector<int64_t> agent_view_index_, client_view_index_;
  // Rule indexes by kind.
  std::vector<size_t> role_key_rules_, framework_key_rules_, filter_rules_, score_rules_;
  std::vector<int> level_when_, level_wait_;
  int guard_rule_ = -1;
  size_t agent_cursor_ = 0;
  time_point last_now_{};
  stage_regs scratch_client_, scratch_agent_;  ///< Registers outside a cycle.
  ordering order_;
  bool keep_order_ = true;
  std::map<std::string, uint64_t> rejections_;  ///< Of the policies before this one.
  struct event_rule {
    size_t value = 0;
    int when = -1;
    const metric_spec* spec = nullptr;
  };
  std::vector<event_rule> event_metrics_;  ///< `on offer` and `on decline` metrics.
  std::vector<event_sample> event_samples_;
  std::array<uint64_t, chunk_count> runs_taken_{};  ///< VM runs already reported.
  bool collect_events_ = false;
  void record_event(const char* event, const core_offer& offer, uint32_t agent, double runtime = 0);
  std::vector<uint64_t> rejections_by_rule_;  ///< Of this policy, by rule index.
  std::map<std::pair<std::string, std::string>, uint64_t> relaxations_;
};

}  // namespace agora::policy
