// The allocation cycle: evaluating pairs, ordering roles and frameworks,
// placing offers, and the queries that evaluate the policy over the state.
#include "agora/policy/allocation_core.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "agora/policy/detail/amounts_ops.hpp"

namespace agora::policy {

using namespace detail;

// ---- evaluation ---------------------------------------------------------------

std::vector<rule_value> allocation_core::read_keys(rule_kind kind) const {
  auto& rules = kind == rule_kind::order_roles ? role_key_rules_ : framework_key_rules_;
  std::vector<rule_value> out;
  out.reserve(rules.size());
  for (size_t r : rules) out.push_back(vm_->read(r));
  return out;
}

bool allocation_core::key_before(const std::vector<rule_value>& a, const std::vector<rule_value>& b,
                                 rule_kind kind) const {
  auto& rules = kind == rule_kind::order_roles ? role_key_rules_ : framework_key_rules_;
  for (size_t i = 0; i < rules.size() && i < a.size() && i < b.size(); ++i) {
    int c = compare(a[i], b[i], policy_.prog->rules[rules[i]].descending);
    if (c != 0) return c < 0;
  }
  return false;
}

std::string allocation_core::level_name(int index) const {
  return index < 0 ? std::string() : policy_.outline.levels[static_cast<size_t>(index)].name;
}

/// Returns the level index the client is at, reading the guard and the
/// levels' waits from the registers loaded last (its framework stage).
int allocation_core::level_of(uint32_t client, time_point now) {
  auto& levels = policy_.outline.levels;
  if (levels.empty()) return -1;
  if (guard_rule_ >= 0) {
    auto guard = vm_->read(static_cast<size_t>(guard_rule_));
    if (guard.st != rule_value::state::value || guard.number == 0) return -1;
  }
  auto& c = clients_[client];
  auto& pinned = frameworks_[c.framework].spec.pinned_level;
  if (!pinned.empty()) {
    for (size_t i = 0; i < levels.size(); ++i)
      if (levels[i].name == pinned) return static_cast<int>(i);
    return 0;
  }
  // Delay scheduling: waiting moves the client past each level whose wait
  // has elapsed (time, or skipped cycles for `skips` levels).
  double left = c.waiting_since ? seconds_between(*c.waiting_since, now) : 0;
  double skips = static_cast<double>(c.skips);
  size_t at = 0;
  while (at + 1 < levels.size()) {
    double wait = 0;
    if (level_wait_[at] >= 0) {
      auto v = vm_->read(static_cast<size_t>(level_wait_[at]));
      if (v.st != rule_value::state::value) break;
      wait = v.number;
    }
    double& budget = levels[at].skips ? skips : left;
    if (budget < wait) break;
    budget -= wait;
    ++at;
  }
  return static_cast<int>(at);
}

amounts allocation_core::role_headroom(size_t role) const {
  amounts room = filled(unlimited);
  for (int r = static_cast<int>(role); r >= 0; r = roles_[static_cast<size_t>(r)].parent) {
    auto& node = roles_[static_cast<size_t>(r)];
    if (!node.limit) continue;
    for (size_t i = 0; i < max_resources; ++i)
      if ((*node.limit)[i] != unlimited)
        room[i] = std::min(room[i], std::max<int64_t>(0, (*node.limit)[i] - node.subtree[i]));
  }
  return room;
}

amounts allocation_core::guarantee_allowance(size_t role) const {
  amounts allowed = filled(unlimited);
  if (!policy_.outline.hold_headroom) return allowed;
  // Unmet guarantees of top-level roles stay free for them; a role may use
  // what is left plus its own top-level role's unmet guarantee.
  size_t top = role;
  while (roles_[top].parent >= 0) top = static_cast<size_t>(roles_[top].parent);
  amounts unmet_all{}, own_unmet{};
  for (size_t r = 0; r < roles_.size(); ++r) {
    auto& node = roles_[r];
    if (node.parent >= 0 || !node.guarantee) continue;
    for (size_t i = 0; i < max_resources; ++i) {
      int64_t unmet = std::max<int64_t>(0, (*node.guarantee)[i] - node.subtree[i]);
      unmet_all[i] += unmet;
      if (r == top) own_unmet[i] = unmet;
    }
  }
  amounts unallocated = total_;
  unallocated -= allocated_total_;
  for (size_t i = 0; i < max_resources; ++i)
    if (unmet_all[i] > 0)
      allowed[i] = std::max<int64_t>(0, unallocated[i] - unmet_all[i] + own_unmet[i]);
  return allowed;
}

amounts allocation_core::headroom(const std::string& path) {
  auto it = role_ids_.find(path);
  if (it == role_ids_.end()) return filled(unlimited);
  return role_headroom(it->second);
}

bool allocation_core::declined(client_slot& c, uint32_t agent, const amounts& offer,
                               time_point now) {
  auto it = c.filters.find(agent);
  if (it == c.filters.end()) return false;
  auto& list = it->second;
  list.erase(
      std::remove_if(list.begin(), list.end(), [now](const filter& f) { return f.until <= now; }),
      list.end());
  if (list.empty()) {
    c.filters.erase(it);
    return false;
  }
  // Mesos semantics: filtered when everything that would be offered was refused.
  for (auto& f : list)
    if (fits_in(offer, f.refused)) return true;
  return false;
}

bool allocation_core::eligible(const client_slot& c) const {
  if (!c.live || !c.subscribed || c.suppressed) return false;
  auto& f = frameworks_[c.framework];
  if (!f.active || f.removed) return false;
  auto& demand = f.spec.demand;
  if (!is_zero(demand)) {
    bool covered = true;
    for (size_t i = 0; i < max_resources; ++i)
      if (demand[i] > 0 && c.allocated[i] + c.external[i] < demand[i]) covered = false;
    if (covered) return false;
  }
  return true;
}

/// Per-cycle ordering state: the sorted siblings of every parent (a role
/// with clients and children also lists itself, as a virtual child), the
/// sorted clients of every role, their keys, and which are still open.
struct allocation_core::cycle_state {
  std::vector<size_t> open_subtree, open_own;  ///< Open clients per role.
  std::unordered_map<uint32_t, std::vector<std::pair<double, uint32_t>>> candidates;
  std::unordered_map<uint32_t, size_t> cursor;  ///< Next place in the agent order to try.
  std::unordered_map<uint32_t, bool> wrapped;   ///< Scored scans: past the end once.
  std::unordered_map<uint32_t, bool> offered, skipped;
  std::unordered_map<uint32_t, stage_regs> client_regs;
  std::unordered_map<uint32_t, int> client_level;  ///< With the registers.
  uint32_t cap_client = UINT32_MAX;                ///< The client `cap` is for.
  amounts cap{};  ///< Its headroom and guarantee allowance, for this pick.
  std::unordered_map<uint32_t, stage_regs> agent_regs;  ///< By agent slot.
};

const stage_regs& allocation_core::client_regs(uint32_t client, time_point now, cycle_state* cs) {
  if (cs) {
    if (auto it = cs->client_regs.find(client); it != cs->client_regs.end()) return it->second;
  }
  auto& c = clients_[client];
  auto fv = static_cast<size_t>(client_view_index_[client]);
  auto& fview = in_.frameworks[fv];
  fview.waiting = c.waiting_since ? seconds_between(*c.waiting_since, now) : 0;
  auto role_regs = vm_->prepare_role(c.role);
  auto regs = vm_->prepare_framework(fv, role_regs);
  // `framework.locality_level` is the level the waits give: set it, and
  // evaluate again if the framework's code reads a different one.
  int level = level_of(client, now);
  auto name = level_name(level);
  if (cs) {
    cs->client_level[client] = level;
    // A relaxation is a move to a less local level than the one it was at
    // (a local offer resetting the wait moves it back: not a relaxation).
    if (c.level >= 0 && level > c.level) {
      ++relaxations_[{level_name(c.level), name}];
      if (collect_events_ && !event_metrics_.empty())
        record_event("relax",
                     {frameworks_[c.framework].spec.id, roles_[c.role].path, "", {}, name, 0},
                     UINT32_MAX);
    }
    c.level = level;
  }
  if (name != fview.locality_level) {
    fview.locality_level = name;
    regs = vm_->prepare_framework(fv, role_regs);
  }
  auto& slot = cs ? cs->client_regs[client] : scratch_client_;
  slot = std::move(regs);
  return slot;
}

const stage_regs& allocation_core::agent_regs(uint32_t agent, cycle_state* cs) {
  if (cs)
    if (auto it = cs->agent_regs.find(agent); it != cs->agent_regs.end()) return it->second;
  auto regs = vm_->prepare_agent(static_cast<size_t>(agent_view_index_[agent]));
  if (!cs) return scratch_agent_ = std::move(regs);
  return cs->agent_regs[agent] = std::move(regs);
}

pair_outcome allocation_core::evaluate(uint32_t client, uint32_t agent, time_point now,
                                       bool all_rules, cycle_state* cs) {
  sync_view();
  pair_outcome out;
  auto& c = clients_[client];
  if (client_view_index_[client] < 0 || agent_view_index_[agent] < 0) return out;
  // What could be offered: free resources clipped by limits (and held
  // guarantees). When that is nothing the framework can use, the policy is
  // not asked (queries that want every rule's value still ask). In a cycle
  // the clip is computed once per pick (`cs->cap`).
  auto& a = agents_[agent];
  amounts free = a.total;
  free -= a.allocated;
  amounts offer = cs && cs->cap_client == client
                      ? min_of(free, cs->cap)
                      : min_of(min_of(free, role_headroom(c.role)), guarantee_allowance(c.role));
  for (auto& x : offer) x = std::max<int64_t>(0, x);
  auto& smallest = frameworks_[c.framework].spec.min_request;
  out.usable = a.active && allocatable(offer);
  out.holds_min_request = fits_in(smallest, offer);
  bool usable = out.usable && out.holds_min_request;
  if (!usable && !all_rules) return out;
  const auto& fw = client_regs(client, now, cs);
  const auto& ag = agent_regs(agent, cs);
  auto result = vm_->eval_pair(fw, ag, all_rules);
  // The framework's registers are loaded now: the guard and waits read them
  // (in a cycle, the level was computed with the registers).
  int allowed = cs ? cs->client_level[client] : level_of(client, now);
  out.accepted = result.accepted;
  out.score = result.score;
  auto& rules = policy_.prog->rules;
  if (result.rejected_by >= 0) {
    if (cs) ++rejections_by_rule_[static_cast<size_t>(result.rejected_by)];
    if (!cs || all_rules)
      out.rejected_by = short_name(rules[static_cast<size_t>(result.rejected_by)]);
  }
  if (all_rules) {
    for (size_t i : filter_rules_) out.rules[short_name(rules[i])] = vm_->read(i);
    for (size_t i : score_rules_) out.rules[short_name(rules[i])] = vm_->read(i);
  }
  size_t level = 0;
  if (allowed >= 0 && out.accepted) {
    auto& levels = policy_.outline.levels;
    for (; level + 1 < levels.size(); ++level) {
      if (level_when_[level] < 0) break;
      auto v = vm_->read(static_cast<size_t>(level_when_[level]));
      if (v.st == rule_value::state::value && v.number != 0) break;
    }
    out.level_ok = static_cast<int>(level) <= allowed;
  }
  out.declined = out.accepted && out.level_ok && declined(c, agent, offer, now);
  out.offered = out.accepted && out.level_ok && !out.declined && usable;
  if (allowed >= 0 && out.accepted && (out.offered || all_rules || !cs))
    out.level = policy_.outline.levels[level].name;
  if (out.offered) out.offer = offer;
  return out;
}

// ---- ordering -------------------------------------------------------------------

std::vector<rule_value> allocation_core::role_key(size_t r, bool self) {
  if (!self) {
    vm_->prepare_role(r);
    return read_keys(rule_kind::order_roles);
  }
  // The virtual child is the role with only its own clients' allocation.
  auto saved = in_.roles[r].allocated;
  in_.roles[r].allocated = to_res_vec(roles_[r].own);
  vm_->prepare_role(r);
  auto k = read_keys(rule_kind::order_roles);
  in_.roles[r].allocated = saved;
  return k;
}

bool allocation_core::role_entry_before(const order_entry& a, const order_entry& b) const {
  if (key_before(a.key, b.key, rule_kind::order_roles)) return true;
  if (key_before(b.key, a.key, rule_kind::order_roles)) return false;
  if (roles_[a.role].path != roles_[b.role].path) return roles_[a.role].path < roles_[b.role].path;
  return a.self && !b.self;  // A role's own clients before an equal child.
}

bool allocation_core::client_before(const ordering& ord, uint32_t a, uint32_t b) const {
  auto& ka = ord.client_keys.at(a);
  auto& kb = ord.client_keys.at(b);
  if (key_before(ka, kb, rule_kind::order_frameworks)) return true;
  if (key_before(kb, ka, rule_kind::order_frameworks)) return false;
  return frameworks_[clients_[a].framework].spec.id < frameworks_[clients_[b].framework].spec.id;
}

void allocation_core::order_roles(ordering& ord) {
  ord.children.assign(roles_.size() + 1, {});
  for (size_t r = 0; r < roles_.size(); ++r) {
    auto& parent_list = ord.children[static_cast<size_t>(roles_[r].parent + 1)];
    parent_list.push_back({r, false, role_key(r, false)});
    if (!roles_[r].children.empty() && roles_[r].clients > 0)
      ord.children[r + 1].push_back({r, true, role_key(r, true)});
  }
  for (auto& list : ord.children) {
    std::stable_sort(list.begin(), list.end(),
                     [&](const auto& a, const auto& b) { return role_entry_before(a, b); });
  }
}

void allocation_core::reposition_role(ordering& ord, size_t r) {
  auto rekey = [&](std::vector<order_entry>& entries, bool self) {
    auto at = std::find_if(entries.begin(), entries.end(),
                           [&](auto& e) { return e.role == r && e.self == self; });
    if (at == entries.end()) return;
    auto e = std::move(*at);
    entries.erase(at);
    e.key = role_key(r, self);
    auto pos = std::upper_bound(entries.begin(), entries.end(), e,
                                [&](auto& a, auto& b) { return role_entry_before(a, b); });
    entries.insert(pos, std::move(e));
  };
  rekey(ord.children[static_cast<size_t>(roles_[r].parent + 1)], false);
  if (!roles_[r].children.empty()) rekey(ord.children[r + 1], true);
}

void allocation_core::reposition_client(ordering& ord, uint32_t c) {
  size_t r = clients_[c].role;
  auto& list = ord.clients[r];
  auto at = std::find(list.begin(), list.end(), c);
  if (at == list.end()) return;
  list.erase(at);
  auto regs = vm_->prepare_role(r);
  vm_->prepare_framework(static_cast<size_t>(client_view_index_[c]), regs);
  ord.client_keys[c] = read_keys(rule_kind::order_frameworks);
  auto pos = std::upper_bound(list.begin(), list.end(), c,
                              [&](uint32_t a, uint32_t b) { return client_before(ord, a, b); });
  list.insert(pos, c);
}

void allocation_core::build_order(ordering& ord) {
  order_roles(ord);
  ord.clients.assign(roles_.size(), {});
  ord.client_keys.clear();
  auto members = clients_by_role();
  for (size_t r = 0; r < roles_.size(); ++r)
    if (!members[r].empty()) ord.clients[r] = order_clients(ord, std::move(members[r]), r);
  ord.stale_roles.assign(roles_.size(), 0);
  ord.stale_clients.clear();
  ord.cycle_regs = vm_->cycle_registers();
  ord.built = true;
}

namespace {

bool same_registers(const stage_regs& a, const stage_regs& b) {
  // Bitwise: absent ratio components are NaN, which never compare equal.
  auto bytes = [](auto& x, auto& y) {
    return x.size() == y.size() &&
           (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0);
  };
  return bytes(a.s, b.s) && bytes(a.sf, b.sf) && bytes(a.v, b.v) && bytes(a.vf, b.vf);
}

}  // namespace

void allocation_core::refresh_order(ordering& ord) {
  // Keys read the cycle stage: if its values moved (an agent came or went,
  // a policy reads `cluster.free`), every key may have moved.
  if (!ord.built || !same_registers(ord.cycle_regs, vm_->cycle_registers())) {
    build_order(ord);
    return;
  }
  // Roles whose allocation changed: their entries, and their clients when
  // framework code reads role values (a framework's registers include its
  // role's); clients whose own allocation changed.
  bool clients_follow_roles = vm_->framework_reads_role();
  for (size_t r = 0; r < roles_.size(); ++r) {
    if (!ord.stale_roles[r]) continue;
    reposition_role(ord, r);
    if (clients_follow_roles)
      for (uint32_t c : ord.clients[r]) ord.stale_clients.insert(c);
    ord.stale_roles[r] = 0;
  }
  for (uint32_t c : ord.stale_clients)
    if (clients_[c].live && client_view_index_[c] >= 0) reposition_client(ord, c);
  ord.stale_clients.clear();
  // Waiting frameworks read their waiting time, which moves with the clock.
  std::vector<uint32_t> waiting;
  for (auto& members : ord.clients)
    for (uint32_t c : members)
      if (clients_[c].waiting_since) waiting.push_back(c);
  for (uint32_t c : waiting) reposition_client(ord, c);
}

std::vector<std::vector<uint32_t>> allocation_core::clients_by_role() const {
  std::vector<std::vector<uint32_t>> out(roles_.size());
  for (uint32_t s : view_client_slot_) out[clients_[s].role].push_back(s);
  return out;
}

std::vector<uint32_t> allocation_core::order_clients(ordering& ord, std::vector<uint32_t> members,
                                                     size_t role) {
  if (members.empty()) return members;
  auto regs = vm_->prepare_role(role);
  for (uint32_t s : members) {
    vm_->prepare_framework(static_cast<size_t>(client_view_index_[s]), regs);
    ord.client_keys[s] = read_keys(rule_kind::order_frameworks);
  }
  std::stable_sort(members.begin(), members.end(),
                   [&](uint32_t a, uint32_t b) { return client_before(ord, a, b); });
  return members;
}

std::vector<std::string> allocation_core::role_order() {
  sync_view();
  vm_->prepare_cycle(in_);
  ordering ord;
  order_roles(ord);
  std::vector<std::string> out;
  // Leaves, and roles with clients of their own (through their virtual child).
  std::function<void(size_t)> walk = [&](size_t list) {
    for (auto& e : ord.children[list]) {
      bool leaf = roles_[e.role].children.empty();
      if (e.self || leaf)
        out.push_back(roles_[e.role].path);
      else
        walk(e.role + 1);
    }
  };
  walk(0);
  return out;
}

std::vector<std::string> allocation_core::framework_order() {
  auto roles = role_order();
  ordering ord;
  auto members = clients_by_role();
  std::vector<std::string> out;
  for (auto& path : roles) {
    size_t r = role_ids_.at(path);
    for (uint32_t c : order_clients(ord, members[r], r))
      out.push_back(frameworks_[clients_[c].framework].spec.id);
  }
  return out;
}

pair_outcome allocation_core::decide(const std::string& framework, const std::string& agent) {
  uint32_t c = client_of_framework(framework);
  uint32_t a = agent_slot_of(agent);
  if (c == UINT32_MAX || a == UINT32_MAX) return {};
  sync_view();
  vm_->prepare_cycle(in_);
  return evaluate(c, a, last_now_, true);
}

std::vector<std::string> allocation_core::candidates(const std::string& framework) {
  uint32_t c = client_of_framework(framework);
  if (c == UINT32_MAX) return {};
  sync_view();
  vm_->prepare_cycle(in_);
  std::vector<std::pair<double, uint32_t>> ranked;
  for (uint32_t a : view_agent_slot_) {
    auto d = evaluate(c, a, last_now_, false);
    if (d.offered) ranked.emplace_back(d.score, a);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](auto& x, auto& y) { return x.first > y.first; });
  std::vector<std::string> out;
  for (auto& [score, a] : ranked) out.push_back(agents_[a].id);
  return out;
}

std::string allocation_core::level(const std::string& framework) {
  uint32_t c = client_of_framework(framework);
  if (c == UINT32_MAX || policy_.outline.levels.empty()) return {};
  sync_view();
  vm_->prepare_cycle(in_);
  auto fv = client_view_index_[c];
  if (fv < 0) return {};
  in_.frameworks[static_cast<size_t>(fv)].waiting =
      clients_[c].waiting_since ? seconds_between(*clients_[c].waiting_since, last_now_) : 0;
  auto regs = vm_->prepare_role(clients_[c].role);
  vm_->prepare_framework(static_cast<size_t>(fv), regs);
  auto name = level_name(level_of(c, last_now_));
  in_.frameworks[static_cast<size_t>(fv)].locality_level = name;
  return name;
}

std::map<std::string, size_t> allocation_core::waiting_per_level() {
  sync_view();
  std::map<std::string, size_t> out;
  for (auto& level : policy_.outline.levels) out[level.name] = 0;
  for (size_t i = 0; i < view_client_slot_.size(); ++i)
    if (clients_[view_client_slot_[i]].waiting_since && !in_.frameworks[i].locality_level.empty())
      ++out[in_.frameworks[i].locality_level];
  return out;
}

std::vector<metric_sample> allocation_core::cycle_metrics() {
  std::vector<metric_sample> out;
  sync_view();
  vm_->prepare_cycle(in_);
  auto& rules = policy_.prog->rules;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].what != rule_kind::metric) continue;
    std::string name = short_name(rules[i]);
    auto take = [&](std::vector<std::pair<std::string, std::string>> labels) {
      auto v = vm_->read(i);
      if (v.st == rule_value::state::value) out.push_back({name, std::move(labels), v.number});
    };
    if (rules[i].stage == chunk_id::role) {
      for (size_t r = 0; r < roles_.size(); ++r) {
        if (!in_.roles[r].active) continue;
        vm_->prepare_role(r);
        take({{"role", roles_[r].path}});
      }
    } else {
      take({});
    }
  }
  return out;
}

rule_value allocation_core::metric_value(size_t rule, const std::string& role) {
  sync_view();
  vm_->prepare_cycle(in_);
  if (!role.empty()) {
    auto it = role_ids_.find(role);
    if (it != role_ids_.end()) vm_->prepare_role(it->second);
  }
  return vm_->read(rule);
}

// ---- the cycle ------------------------------------------------------------------

std::vector<core_offer> allocation_core::allocate(time_point now) { return cycle(now, nullptr); }

void allocation_core::task_event(const std::string& event, const std::string& framework,
                                 const std::string& role, const std::string& agent,
                                 const amounts& res, double runtime_seconds) {
  if (!collect_events_ || event_metrics_.empty()) return;
  sync_view();
  vm_->prepare_cycle(in_);
  record_event(event.c_str(), {framework, role, agent, res, "", 0}, agent_slot_of(agent),
               runtime_seconds);
}

void allocation_core::record_event(const char* event, const core_offer& offer, uint32_t agent,
                                   double runtime) {
  bool wanted = false;
  for (auto& m : event_metrics_) wanted |= m.spec->event == event;
  if (!wanted) return;
  offer_view view;
  view.res = to_res_vec(offer.res);
  view.locality = offer.level;
  view.runtime = runtime;
  vm_->eval_event(view);
  static const std::map<std::string, std::string> none;
  auto& attributes = agent < agents_.size() ? agents_[agent].attributes : none;
  for (auto& m : event_metrics_) {
    if (m.spec->event != event) continue;
    if (m.when >= 0) {
      auto w = vm_->read(static_cast<size_t>(m.when));
      if (w.st != rule_value::state::value || w.number == 0) continue;
    }
    auto v = vm_->read(m.value);
    if (v.st != rule_value::state::value) continue;
    event_sample sample{m.spec->name, {}, v.number};
    for (auto& label : m.spec->labels) {
      std::string value;
      if (label == "role")
        value = offer.role;
      else if (label == "framework")
        value = offer.framework_id;
      else if (label == "locality" || label == "level")
        value = offer.level;
      else if (auto it = attributes.find(label); it != attributes.end())
        value = it->second;  // `rack`, `zone`.
      sample.labels.emplace_back(label, value);
    }
    event_samples_.push_back(std::move(sample));
  }
}

std::vector<core_offer> allocation_core::allocate(time_point now,
                                                  const std::vector<std::string>& agents) {
  std::vector<uint32_t> slots;
  for (auto& id : agents)
    if (uint32_t slot = agent_slot_of(id); slot != UINT32_MAX) slots.push_back(slot);
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return cycle(now, &slots);
}

std::vector<core_offer> allocation_core::cycle(time_point now, const std::vector<uint32_t>* only) {
  last_now_ = now;
  std::vector<core_offer> out;
  sync_view();
  in_.cluster.cycle_time = std::chrono::duration<double>(now.time_since_epoch()).count();
  vm_->prepare_cycle(in_);
  if (view_agent_slot_.empty() || view_client_slot_.empty()) return out;

  // The orders: kept between cycles (re-keying what changed), unless the
  // policy's role or framework code aggregates over the cluster.
  ordering fresh;
  bool keep = keep_order_ && !vm_->has_loop(chunk_id::role) && !vm_->has_loop(chunk_id::framework);
  ordering& ord = keep ? order_ : fresh;
  if (keep)
    refresh_order(ord);
  else
    build_order(ord);
  cycle_state cs;
  cs.open_subtree.assign(roles_.size(), 0);
  cs.open_own.assign(roles_.size(), 0);
  // Clients that cannot be served this cycle start closed; the others are
  // counted open per role and subtree.
  std::vector<uint8_t> closed(clients_.size(), 0);  // By client slot.
  for (size_t r = 0; r < roles_.size(); ++r) {
    size_t open = 0;
    for (uint32_t c : ord.clients[r]) {
      if (eligible(clients_[c]))
        ++open;
      else
        closed[c] = 1;
    }
    if (open == 0) continue;
    cs.open_own[r] = open;
    for (int p = static_cast<int>(r); p >= 0; p = roles_[static_cast<size_t>(p)].parent)
      cs.open_subtree[static_cast<size_t>(p)] += open;
  }
  auto close = [&](uint32_t c) {
    if (closed[c]) return;
    closed[c] = true;
    size_t r = clients_[c].role;
    --cs.open_own[r];
    for (int p = static_cast<int>(r); p >= 0; p = roles_[static_cast<size_t>(p)].parent)
      --cs.open_subtree[static_cast<size_t>(p)];
  };

  // Agents in rotated order, so ties do not always favour the same agents.
  std::vector<uint32_t> agent_order = only ? *only : view_agent_slot_;
  if (agent_order.empty()) return out;
  agent_cursor_ %= agent_order.size();
  std::rotate(agent_order.begin(), agent_order.begin() + static_cast<long>(agent_cursor_),
              agent_order.end());
  ++agent_cursor_;

  // Returns the first open client in order under `list` (a children list).
  std::function<uint32_t(size_t)> first_open = [&](size_t list) -> uint32_t {
    for (auto& e : ord.children[list]) {
      bool leaf = roles_[e.role].children.empty();
      if (e.self || leaf) {
        if (cs.open_own[e.role] == 0) continue;
        for (uint32_t c : ord.clients[e.role])
          if (!closed[c]) return c;
      } else if (cs.open_subtree[e.role] > 0) {
        uint32_t c = first_open(e.role + 1);
        if (c != UINT32_MAX) return c;
      }
    }
    return UINT32_MAX;
  };
  const bool ranked_by_score = !score_rules_.empty();
  constexpr size_t min_window = 128;
  // Agents whose free resources no framework can use any more are skipped
  // by every scan: `next_usable` jumps over them (path halving keeps the
  // jumps short), so scans cost O(agents + offers), not frameworks x agents.
  std::vector<size_t> next_usable(agent_order.size() + 1);
  for (size_t i = 0; i <= agent_order.size(); ++i) next_usable[i] = i;
  // An agent's place in `agent_order` (a map for event cycles over a few agents).
  std::vector<size_t> position_of(only ? 0 : agents_.size());
  std::unordered_map<uint32_t, size_t> position_in;
  for (size_t i = 0; i < agent_order.size(); ++i) {
    if (only)
      position_in[agent_order[i]] = i;
    else
      position_of[agent_order[i]] = i;
  }
  auto position = [&](uint32_t a) { return only ? position_in[a] : position_of[a]; };
  auto usable_from = [&](size_t i) {
    while (next_usable[i] != i) {
      next_usable[i] = next_usable[next_usable[i]];
      i = next_usable[i];
    }
    return i;
  };
  auto agent_free_usable = [&](uint32_t a) {
    amounts free = agents_[a].total;
    free -= agents_[a].allocated;
    return agents_[a].active && allocatable(free);
  };
  for (size_t i = 0; i < agent_order.size(); ++i)
    if (!agent_free_usable(agent_order[i])) next_usable[i] = i + 1;
  // Offers agent `a` to client `c` as `d` decided; returns true.
  auto serve = [&](uint32_t c, uint32_t a, const pair_outcome& d) {
    add_held(c, a, d.offer);
    auto& cl = clients_[c];
    out.push_back({frameworks_[cl.framework].spec.id, roles_[cl.role].path, agents_[a].id, d.offer,
                   d.level, d.score});
    if (collect_events_ && !event_metrics_.empty()) record_event("offer", out.back(), a);
    if (!d.level.empty() && d.level == policy_.outline.levels.front().name) {
      cl.waiting_since.reset();
      cl.skips = 0;
    }
    cs.offered[c] = true;
    // Its allocation and the agent's free resources changed.
    cs.client_regs.erase(c);
    cs.agent_regs.erase(a);
    if (!agent_free_usable(a)) next_usable[position(a)] = position(a) + 1;
    return true;
  };
  for (;;) {
    // Nothing left on any agent of this cycle that anyone could use: done
    // (an event cycle over one agent ends as soon as that agent is taken).
    if (usable_from(0) >= agent_order.size()) break;
    uint32_t c = first_open(0);
    if (c == UINT32_MAX) break;
    // A client whose limits (or others' held guarantees) leave it nothing
    // it can use needs no agent scan.
    cs.cap = min_of(role_headroom(clients_[c].role), guarantee_allowance(clients_[c].role));
    cs.cap_client = c;
    if (!allocatable(cs.cap) ||
        !fits_in(frameworks_[clients_[c].framework].spec.min_request, cs.cap)) {
      close(c);
      continue;
    }
    bool served = false, more = true;
    if (!ranked_by_score) {
      // No scores: agents are taken in (rotated) order, lazily.
      auto& at = cs.cursor[c];
      for (at = usable_from(at); at < agent_order.size() && !served; at = usable_from(at + 1)) {
        uint32_t a = agent_order[at];
        auto d = evaluate(c, a, now, false, &cs);
        if (d.offered)
          served = serve(c, a, d);
        else if (d.accepted && !d.level_ok)
          cs.skipped[c] = true;
      }
      more = at < agent_order.size();
    } else {
      // Agents are ranked by score a window at a time (sampling, as
      // Kubernetes scores a share of its nodes): the window holds at least
      // `min_window` agents and four times a framework's even share of them,
      // so a framework chooses among several times what it needs without
      // every framework scoring every agent. Each framework starts its
      // windows at its own place in the (rotated) agent order.
      auto& ranked = cs.candidates[c];
      const size_t n = agent_order.size();
      const size_t window =
          std::min(n, std::max(min_window, 4 * ((n + view_client_slot_.size() - 1) /
                                                std::max<size_t>(1, view_client_slot_.size()))));
      // The scan goes from the framework's start to the end of the order,
      // then from the beginning to its start, skipping exhausted agents.
      const size_t start = (static_cast<size_t>(c) * 2654435761u) % n;
      auto& pos = cs.cursor.try_emplace(c, start).first->second;
      auto& wrapped = cs.wrapped[c];
      auto next_agent = [&]() -> size_t {
        for (;;) {
          pos = usable_from(pos);
          size_t end = wrapped ? start : n;
          if (pos < end) return pos++;
          if (wrapped) return n;
          wrapped = true;
          pos = 0;
        }
      };
      bool exhausted = false;
      while (!served) {
        if (ranked.empty()) {
          if (exhausted) break;
          for (size_t k = 0; k < window; ++k) {
            size_t at = next_agent();
            if (at == n) {
              exhausted = true;
              break;
            }
            uint32_t a = agent_order[at];
            auto d = evaluate(c, a, now, false, &cs);
            if (d.offered)
              ranked.emplace_back(d.score, a);
            else if (d.accepted && !d.level_ok)
              cs.skipped[c] = true;
          }
          std::stable_sort(ranked.begin(), ranked.end(),
                           [](auto& x, auto& y) { return x.first > y.first; });
          std::reverse(ranked.begin(), ranked.end());  // Best last, popped first.
          continue;
        }
        uint32_t a = ranked.back().second;
        ranked.pop_back();
        // Shares and free resources moved since the ranking: decide again.
        auto d = evaluate(c, a, now, false, &cs);
        if (d.offered)
          served = serve(c, a, d);
        else if (d.accepted && !d.level_ok)
          cs.skipped[c] = true;
      }
      more = !ranked.empty() || !exhausted;
    }
    if (!served || !more || !eligible(clients_[c])) close(c);
    if (served) {
      // Progressive filling: the served framework and the roles on its path
      // move; other frameworks of its role are re-keyed at the next cycle.
      reposition_client(ord, c);
      for (int r = static_cast<int>(clients_[c].role); r >= 0;
           r = roles_[static_cast<size_t>(r)].parent)
        reposition_role(ord, static_cast<size_t>(r));
    }
  }
  // Delay scheduling: clients that got nothing because of their level wait.
  for (auto& [c, skipped] : cs.skipped) {
    if (!skipped || cs.offered.count(c)) continue;
    auto& cl = clients_[c];
    if (!cl.waiting_since) cl.waiting_since = now;
    ++cl.skips;
  }
  return out;
}

}  // namespace agora::policy
