#include "agora/policy/allocation_core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include "agora/policy/detail/amounts_ops.hpp"

namespace agora::policy {

using namespace detail;

namespace {

/// Returns a slot of `slots` to reuse (from `free`) or a new one, reset.
template <class Slot>
uint32_t take_slot(std::vector<Slot>& slots, std::vector<uint32_t>& free) {
  if (free.empty()) {
    slots.emplace_back();
    return static_cast<uint32_t>(slots.size() - 1);
  }
  uint32_t slot = free.back();
  free.pop_back();
  slots[slot] = Slot{};
  return slot;
}

}  // namespace

int64_t unit_scale(size_t id) { return id == 1 || id == 2 ? 1 : 1000; }

res_vec to_res_vec(const amounts& a) {
  res_vec out{};
  for (size_t i = 0; i < max_resources; ++i)
    out[i] = a[i] == unlimited ? std::numeric_limits<double>::infinity()
                               : static_cast<double>(a[i]) / static_cast<double>(unit_scale(i));
  return out;
}

amounts to_amounts(const res_vec& v) {
  amounts out{};
  for (size_t i = 0; i < max_resources; ++i) {
    double scaled = v[i] * static_cast<double>(unit_scale(i));
    if (!(scaled > 0))
      out[i] = 0;  // Negative and NaN.
    else if (scaled >= 9.2e18)
      out[i] = unlimited;
    else
      out[i] = std::llround(scaled);
  }
  return out;
}

bool fits_in(const amounts& a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i)
    if (a[i] > b[i]) return false;
  return true;
}

bool is_zero(const amounts& a) {
  for (auto x : a)
    if (x != 0) return false;
  return true;
}

// ---- construction and policy ---------------------------------------------------

allocation_core::allocation_core(runnable_policy policy) { set_policy(std::move(policy)); }

void allocation_core::set_policy(runnable_policy policy) {
  std::vector<std::string> old_levels;
  for (auto& l : policy_.outline.levels) old_levels.push_back(l.name);
  // Rejection counts are kept by filter name across the swap.
  if (policy_.prog)
    for (size_t i = 0; i < rejections_by_rule_.size(); ++i)
      if (rejections_by_rule_[i] > 0)
        rejections_[short_name(policy_.prog->rules[i])] += rejections_by_rule_[i];
  policy_ = std::move(policy);
  rejections_by_rule_.assign(policy_.prog->rules.size(), 0);
  vm_ = std::make_unique<vm>(policy_.prog);
  runs_taken_ = vm_->runs();
  index_rules();
  for (auto& spec : policy_.outline.roles) ensure_role(spec.path);
  for (size_t r = 0; r < roles_.size(); ++r) apply_declaration(r);
  // Locality timers are keyed by level name: a framework waiting at a level
  // the new policy still has keeps waiting; the others start again.
  std::vector<std::string> levels;
  for (auto& l : policy_.outline.levels) levels.push_back(l.name);
  if (levels != old_levels) {
    for (uint32_t c = 0; c < clients_.size(); ++c) {
      auto& cl = clients_[c];
      if (!cl.live) continue;
      // The level it was at, as an index into the new levels (by name).
      if (cl.level >= 0) {
        auto at =
            std::find(levels.begin(), levels.end(), old_levels[static_cast<size_t>(cl.level)]);
        cl.level = at == levels.end() ? -1 : static_cast<int>(at - levels.begin());
      }
      if (!cl.waiting_since) continue;
      bool kept = false;
      if (!dirty_ && c < client_view_index_.size() && client_view_index_[c] >= 0) {
        auto& at = in_.frameworks[static_cast<size_t>(client_view_index_[c])].locality_level;
        kept = std::find(levels.begin(), levels.end(), at) != levels.end();
      }
      if (!kept) {
        cl.waiting_since.reset();
        cl.skips = 0;
      }
    }
  }
  mark_dirty();
}

allocation_core::allocation_core(const allocation_core& o, copy_tag)
    : policy_(o.policy_),
      roles_(o.roles_),
      role_ids_(o.role_ids_),
      weight_overrides_(o.weight_overrides_),
      agents_(o.agents_),
      free_agents_(o.free_agents_),
      agent_ids_(o.agent_ids_),
      frameworks_(o.frameworks_),
      free_frameworks_(o.free_frameworks_),
      framework_ids_(o.framework_ids_),
      clients_(o.clients_),
      free_clients_(o.free_clients_),
      total_(o.total_),
      allocated_total_(o.allocated_total_),
      agent_cursor_(o.agent_cursor_),
      last_now_(o.last_now_) {}

std::unique_ptr<allocation_core> allocation_core::with_policy(runnable_policy policy) const {
  std::unique_ptr<allocation_core> twin(new allocation_core(*this, copy_tag{}));
  twin->set_policy(std::move(policy));
  return twin;
}

void allocation_core::index_rules() {
  role_key_rules_.clear();
  framework_key_rules_.clear();
  filter_rules_.clear();
  score_rules_.clear();
  level_when_.clear();
  level_wait_.clear();
  guard_rule_ = -1;
  auto& rules = policy_.prog->rules;
  auto named = [&](rule_kind kind, const std::string& name) {
    for (size_t i = 0; i < rules.size(); ++i)
      if (rules[i].what == kind && rules[i].name == name) return static_cast<int>(i);
    return -1;
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    switch (rules[i].what) {
      case rule_kind::order_roles:
        role_key_rules_.push_back(i);
        break;
      case rule_kind::order_frameworks:
        framework_key_rules_.push_back(i);
        break;
      case rule_kind::filter:
        filter_rules_.push_back(i);
        break;
      case rule_kind::score:
        score_rules_.push_back(i);
        break;
      default:
        break;
    }
  }
  for (auto& level : policy_.outline.levels) {
    level_when_.push_back(named(rule_kind::locality_when, "level " + level.name + " when"));
    level_wait_.push_back(named(rule_kind::locality_wait, "level " + level.name + " wait"));
  }
  guard_rule_ = named(rule_kind::locality_guard, "locality guard");
  event_metrics_.clear();
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].what != rule_kind::event_value) continue;
    event_rule e;
    e.value = i;
    e.when = named(rule_kind::event_when, rules[i].name + " when");
    for (auto& spec : policy_.outline.metrics)
      if ("metric " + spec.name == rules[i].name && !spec.every_cycle) e.spec = &spec;
    if (e.spec) event_metrics_.push_back(e);
  }
}

void allocation_core::set_weight_override(const std::string& path, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) return;
  weight_overrides_[path] = weight;
  size_t r = ensure_role(path);
  roles_[r].weight_override = weight;
  mark_dirty();
}

size_t allocation_core::ensure_role(const std::string& path) {
  if (auto it = role_ids_.find(path); it != role_ids_.end()) return it->second;
  int parent = -1;
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    parent = static_cast<int>(ensure_role(path.substr(0, slash)));
  role_node node;
  node.path = path;
  node.name = slash == std::string::npos ? path : path.substr(slash + 1);
  node.parent = parent;
  if (auto w = weight_overrides_.find(path); w != weight_overrides_.end())
    node.weight_override = w->second;
  size_t index = roles_.size();
  roles_.push_back(std::move(node));
  role_ids_.emplace(path, index);
  if (parent >= 0) roles_[static_cast<size_t>(parent)].children.push_back(index);
  apply_declaration(index);
  mark_dirty();
  return index;
}

void allocation_core::apply_declaration(size_t role) {
  auto& node = roles_[role];
  const role_spec* spec = &policy_.outline.spec_for(node.path);
  node.declared_weight = spec->weight > 0 ? spec->weight : 1;
  node.guarantee.reset();
  node.limit.reset();
  if (spec->guarantee) node.guarantee = to_amounts(*spec->guarantee);
  if (spec->limit) node.limit = to_amounts(*spec->limit);
  node.preemptible = spec->preemptible;
}

double allocation_core::role_weight(size_t role) const {
  auto& node = roles_[role];
  return node.weight_override ? *node.weight_override : node.declared_weight;
}

// ---- agents --------------------------------------------------------------------

uint32_t allocation_core::agent_slot_of(const std::string& id) const {
  auto it = agent_ids_.find(id);
  return it == agent_ids_.end() ? UINT32_MAX : it->second;
}

void allocation_core::add_agent(
    const std::string& id, const std::string& hostname,
    const std::map<std::string, std::string>& attributes, const amounts& total,
    const std::map<std::string, std::map<std::string, amounts>>& used_by) {
  if (has_agent(id)) remove_agent(id);
  uint32_t slot = take_slot(agents_, free_agents_);
  auto& a = agents_[slot];
  a = agent_slot{};
  a.live = true;
  a.id = id;
  a.hostname = hostname.empty() ? id : hostname;
  a.attributes = attributes;
  a.total = total;
  agent_ids_.emplace(id, slot);
  total_ += total;
  mark_dirty();
  for (auto& [framework, by_role] : used_by) {
    for (auto& [role, res] : by_role) {
      uint32_t fw = ensure_framework_inactive(framework);
      add_held(ensure_client(fw, ensure_role(role)), slot, res);
    }
  }
}

void allocation_core::remove_agent(const std::string& id) {
  uint32_t slot = agent_slot_of(id);
  if (slot == UINT32_MAX) return;
  auto held = agents_[slot].held;
  for (auto& [client, res] : held) {
    remove_held(client, slot, res);
    maybe_release_client(client);
  }
  for (auto& c : clients_)
    if (c.live) c.filters.erase(slot);
  total_ -= agents_[slot].total;
  allocated_total_ -= agents_[slot].outside;
  agents_[slot] = agent_slot{};
  agent_ids_.erase(id);
  free_agents_.push_back(slot);
  mark_dirty();
}

void allocation_core::set_agent_active(const std::string& id, bool active) {
  uint32_t slot = agent_slot_of(id);
  if (slot != UINT32_MAX) agents_[slot].active = active;
}

void allocation_core::set_outside_use(const std::string& id, const amounts& res) {
  uint32_t slot = agent_slot_of(id);
  if (slot == UINT32_MAX) return;
  auto& a = agents_[slot];
  a.allocated -= a.outside;
  allocated_total_ -= a.outside;
  a.outside = min_of(res, a.total);
  a.allocated += a.outside;
  allocated_total_ += a.outside;
  refresh_agent_view(slot);
}

void allocation_core::set_agent_metrics(const std::string& id,
                                        std::map<std::string, double> metrics) {
  uint32_t slot = agent_slot_of(id);
  if (slot == UINT32_MAX) return;
  agents_[slot].metrics = std::move(metrics);
  refresh_agent_view(slot);
}

amounts allocation_core::agent_free(const std::string& id) const {
  uint32_t slot = agent_slot_of(id);
  if (slot == UINT32_MAX) return amounts{};
  amounts free = agents_[slot].total;
  free -= agents_[slot].allocated;
  return free;
}

// ---- frameworks ------------------------------------------------------------------

uint32_t allocation_core::ensure_framework_inactive(const std::string& id) {
  if (auto it = framework_ids_.find(id); it != framework_ids_.end()) return it->second;
  uint32_t slot = take_slot(frameworks_, free_frameworks_);
  auto& f = frameworks_[slot];
  f = framework_slot{};
  f.live = true;
  f.spec.id = id;
  f.active = false;
  framework_ids_.emplace(id, slot);
  mark_dirty();
  return slot;
}

uint32_t allocation_core::ensure_client(uint32_t framework, size_t role) {
  auto& f = frameworks_[framework];
  if (auto it = f.clients.find(role); it != f.clients.end()) return it->second;
  uint32_t slot = take_slot(clients_, free_clients_);
  auto& c = clients_[slot];
  c = client_slot{};
  c.live = true;
  c.framework = framework;
  c.role = role;
  c.subscribed = true;
  frameworks_[framework].clients.emplace(role, slot);
  mark_dirty();
  return slot;
}

void allocation_core::add_framework(const framework_spec& spec) {
  uint32_t slot = ensure_framework_inactive(spec.id);
  auto& f = frameworks_[slot];
  f.spec = spec;
  if (f.spec.roles.empty()) f.spec.roles = {"*"};
  if (is_zero(f.spec.max_request)) f.spec.max_request = f.spec.min_request;
  f.active = true;
  f.removed = false;
  std::vector<size_t> wanted;
  for (auto& role : f.spec.roles) wanted.push_back(ensure_role(role));
  for (size_t role : wanted) {
    auto& c = clients_[ensure_client(slot, role)];
    c.subscribed = true;
    if (spec.waited_seconds > 0 && !c.waiting_since)
      c.waiting_since = last_now_ - std::chrono::duration_cast<time_point::duration>(
                                        std::chrono::duration<double>(spec.waited_seconds));
  }
  std::vector<uint32_t> dropped;
  for (auto& [role, client] : frameworks_[slot].clients)
    if (std::find(wanted.begin(), wanted.end(), role) == wanted.end()) dropped.push_back(client);
  for (uint32_t c : dropped) {
    clients_[c].subscribed = false;
    maybe_release_client(c);
  }
  mark_dirty();
}

void allocation_core::remove_framework(const std::string& id) {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return;
  uint32_t slot = it->second;
  frameworks_[slot].removed = true;
  frameworks_[slot].active = false;
  std::vector<uint32_t> clients;
  for (auto& [role, c] : frameworks_[slot].clients) clients.push_back(c);
  for (uint32_t c : clients) {
    clients_[c].subscribed = false;
    maybe_release_client(c);
  }
  // `maybe_release_client` frees the framework with its last client.
  if (frameworks_[slot].live && frameworks_[slot].clients.empty()) {
    frameworks_[slot] = framework_slot{};
    framework_ids_.erase(id);
    free_frameworks_.push_back(slot);
  }
  mark_dirty();
}

void allocation_core::maybe_release_client(uint32_t client) {
  auto& c = clients_[client];
  if (!c.live || c.subscribed || !is_zero(c.allocated) || !is_zero(c.external)) return;
  uint32_t fw = c.framework;
  frameworks_[fw].clients.erase(c.role);
  c = client_slot{};
  free_clients_.push_back(client);
  auto& f = frameworks_[fw];
  if (f.removed && f.clients.empty()) {
    framework_ids_.erase(f.spec.id);
    f = framework_slot{};
    free_frameworks_.push_back(fw);
  }
  mark_dirty();
}

void allocation_core::set_framework_active(const std::string& id, bool active) {
  if (auto it = framework_ids_.find(id); it != framework_ids_.end()) {
    frameworks_[it->second].active = active && !frameworks_[it->second].removed;
    roles_dirty_ = true;
  }
}

void allocation_core::revive(const std::string& id, const std::vector<std::string>& roles) {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return;
  for (auto& [role, c] : frameworks_[it->second].clients) {
    clients_[c].filters.clear();
    if (roles.empty() || std::find(roles.begin(), roles.end(), roles_[role].path) != roles.end())
      clients_[c].suppressed = false;
  }
  roles_dirty_ = true;
}

void allocation_core::suppress(const std::string& id, const std::vector<std::string>& roles) {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return;
  for (auto& [role, c] : frameworks_[it->second].clients)
    if (roles.empty() || std::find(roles.begin(), roles.end(), roles_[role].path) != roles.end())
      clients_[c].suppressed = true;
  roles_dirty_ = true;
}

uint32_t allocation_core::client_of_framework(const std::string& id) const {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return UINT32_MAX;
  auto& f = frameworks_[it->second];
  // The first role the framework names, else any role it holds.
  for (auto& role : f.spec.roles)
    if (auto r = role_ids_.find(role); r != role_ids_.end())
      if (auto c = f.clients.find(r->second); c != f.clients.end()) return c->second;
  return f.clients.empty() ? UINT32_MAX : f.clients.begin()->second;
}

amounts allocation_core::framework_allocation(const std::string& id) const {
  amounts sum{};
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return sum;
  for (auto& [role, c] : frameworks_[it->second].clients) {
    sum += clients_[c].allocated;
    sum += clients_[c].external;
  }
  return sum;
}

// ---- accounting ------------------------------------------------------------------

void allocation_core::add_to_role(size_t role, const amounts& res, int sign) {
  amounts delta = res;
  if (sign < 0)
    for (auto& x : delta) x = -x;
  roles_[role].own += delta;
  for (int r = static_cast<int>(role); r >= 0; r = roles_[static_cast<size_t>(r)].parent) {
    roles_[static_cast<size_t>(r)].subtree += delta;
    // Its `order roles` keys (and its frameworks') are read again next cycle.
    if (order_.built && static_cast<size_t>(r) < order_.stale_roles.size())
      order_.stale_roles[static_cast<size_t>(r)] = 1;
    if (!dirty_) {
      auto& view = in_.roles[static_cast<size_t>(r)];
      view.allocated = to_res_vec(roles_[static_cast<size_t>(r)].subtree);
      auto& g = roles_[static_cast<size_t>(r)].guarantee;
      view.below_guarantee = false;
      if (g)
        for (size_t i = 0; i < max_resources; ++i)
          if ((*g)[i] > 0 && roles_[static_cast<size_t>(r)].subtree[i] < (*g)[i])
            view.below_guarantee = true;
    }
  }
}

void allocation_core::add_held(uint32_t client, uint32_t agent, const amounts& res) {
  if (is_zero(res)) return;
  auto& a = agents_[agent];
  a.held[client] += res;
  if (order_.built) order_.stale_clients.insert(client);
  a.allocated += res;
  allocated_total_ += res;
  clients_[client].allocated += res;
  add_to_role(clients_[client].role, res, +1);
  refresh_agent_view(agent);
  refresh_client_view(client);
}

amounts allocation_core::remove_held(uint32_t client, uint32_t agent, const amounts& res) {
  auto& a = agents_[agent];
  auto it = a.held.find(client);
  if (it == a.held.end()) return amounts{};
  if (order_.built) order_.stale_clients.insert(client);
  amounts take = min_of(res, it->second);
  for (auto& x : take) x = std::max<int64_t>(0, x);
  it->second -= take;
  if (is_zero(it->second)) a.held.erase(it);
  a.allocated -= take;
  allocated_total_ -= take;
  clients_[client].allocated -= take;
  add_to_role(clients_[client].role, take, -1);
  refresh_agent_view(agent);
  refresh_client_view(client);
  return take;
}

void allocation_core::allocate_directly(const std::string& framework, const std::string& role,
                                        const std::string& agent, const amounts& res) {
  uint32_t a = agent_slot_of(agent);
  if (a == UINT32_MAX) return;
  uint32_t fw = ensure_framework_inactive(framework);
  add_held(ensure_client(fw, ensure_role(role)), a, res);
}

amounts allocation_core::recover(const std::string& framework, const std::string& role,
                                 const std::string& agent, const amounts& res,
                                 std::chrono::milliseconds refuse, time_point now) {
  auto f = framework_ids_.find(framework);
  auto r = role_ids_.find(role);
  uint32_t a = agent_slot_of(agent);
  if (f == framework_ids_.end() || r == role_ids_.end() || a == UINT32_MAX) return amounts{};
  auto c = frameworks_[f->second].clients.find(r->second);
  if (c == frameworks_[f->second].clients.end()) return amounts{};
  uint32_t client = c->second;
  amounts taken = remove_held(client, a, res);
  if (refuse.count() > 0 && clients_[client].subscribed) {
    clients_[client].filters[a].push_back({res, now + refuse});
    // A decline (resources returned with a filter): `on decline` metrics.
    if (collect_events_ && !event_metrics_.empty())
      record_event("decline", {framework, role, agent, taken, "", 0}, a);
  }
  maybe_release_client(client);
  return taken;
}

void allocation_core::add_external(const std::string& role, const std::string& framework,
                                   const amounts& res) {
  size_t r = ensure_role(role);
  if (framework.empty()) {
    roles_[r].external += res;
  } else {
    uint32_t client = ensure_client(ensure_framework_inactive(framework), r);
    clients_[client].external += res;
    if (order_.built) order_.stale_clients.insert(client);
    refresh_client_view(client);
  }
  add_to_role(r, res, +1);
}

// ---- the view the policy reads ------------------------------------------------------

const eval_input& allocation_core::view() {
  sync_view();
  return in_;
}

int allocation_core::role_index(const std::string& path) const {
  auto it = role_ids_.find(path);
  return it == role_ids_.end() ? -1 : static_cast<int>(it->second);
}

void allocation_core::refresh_agent_view(uint32_t agent) {
  if (dirty_ || agent >= agent_view_index_.size() || agent_view_index_[agent] < 0) return;
  auto& a = agents_[agent];
  auto& view = in_.agents[static_cast<size_t>(agent_view_index_[agent])];
  amounts free = a.total;
  free -= a.allocated;
  view.free = to_res_vec(free);
  view.used = to_res_vec(a.allocated);
  view.metrics = a.metrics;
  amounts cluster_free = total_;
  cluster_free -= allocated_total_;
  in_.cluster.free = to_res_vec(cluster_free);
}

void allocation_core::refresh_client_view(uint32_t client) {
  if (dirty_ || client >= client_view_index_.size() || client_view_index_[client] < 0) return;
  auto& c = clients_[client];
  amounts held = c.allocated;
  held += c.external;
  in_.frameworks[static_cast<size_t>(client_view_index_[client])].allocated = to_res_vec(held);
}

void allocation_core::refresh_role_views() {
  // Roles: counts from the subscribed clients; activity and demand from
  // those that want offers now (active, not suppressed), as Mesos
  // deactivates suppressed frameworks in its sorters.
  for (auto& node : roles_) {
    node.clients = node.undemanding = node.subtree_clients = 0;
    node.active_clients = node.subtree_active = 0;
    node.own_demand = amounts{};
  }
  for (auto& c : clients_) {
    if (!c.live || !c.subscribed) continue;
    auto& node = roles_[c.role];
    ++node.clients;
    auto& f = frameworks_[c.framework];
    if (!f.active || f.removed || c.suppressed) continue;
    ++node.active_clients;
    auto& demand = f.spec.demand;
    if (is_zero(demand))
      ++node.undemanding;
    else
      node.own_demand += demand;
  }
  in_.roles.assign(roles_.size(), role_view{});
  std::vector<amounts> demand(roles_.size());
  std::vector<size_t> undemanding(roles_.size());
  for (size_t r = roles_.size(); r-- > 0;) {  // Children come after parents.
    auto& node = roles_[r];
    node.subtree_clients += node.clients;
    node.subtree_active += node.active_clients;
    demand[r] += node.own_demand;
    undemanding[r] += node.undemanding;
    if (node.parent >= 0) {
      auto p = static_cast<size_t>(node.parent);
      roles_[p].subtree_clients += node.subtree_clients;
      roles_[p].subtree_active += node.subtree_active;
      demand[p] += demand[r];
      undemanding[p] += undemanding[r];
    }
  }
  for (size_t r = 0; r < roles_.size(); ++r) {
    auto& node = roles_[r];
    auto& view = in_.roles[r];
    view.name = node.name;
    view.path = node.path;
    view.weight = role_weight(r);
    view.allocated = to_res_vec(node.subtree);
    view.demand = undemanding[r] > 0 ? res_vec{} : to_res_vec(demand[r]);
    if (node.guarantee) view.guarantee = to_res_vec(*node.guarantee);
    if (node.limit) view.limit = to_res_vec(*node.limit);
    view.active = node.subtree_active > 0;
    view.preemptible = node.preemptible;
    view.below_guarantee = false;
    if (node.guarantee)
      for (size_t i = 0; i < max_resources; ++i)
        if ((*node.guarantee)[i] > 0 && node.subtree[i] < (*node.guarantee)[i])
          view.below_guarantee = true;
  }
  // Fair shares: weighted max-min among active siblings, capped by the
  // dominant share of their demand where every framework declares one.
  std::vector<double> cap(roles_.size(), std::numeric_limits<double>::infinity());
  for (size_t r = 0; r < roles_.size(); ++r) {
    if (undemanding[r] > 0 || roles_[r].subtree_active == 0) continue;
    double share = 0;
    for (size_t i = 0; i < max_resources; ++i)
      if (total_[i] > 0)
        share = std::max(share, static_cast<double>(demand[r][i]) / static_cast<double>(total_[i]));
    cap[r] = share;
  }
  auto fill = [&](int parent, double available, const std::vector<size_t>& members) {
    std::vector<size_t> open;
    for (size_t r : members)
      if (in_.roles[r].active) open.push_back(r);
    while (!open.empty()) {
      double weights = 0;
      for (size_t r : open) weights += in_.roles[r].weight;
      std::vector<size_t> still;
      bool capped = false;
      for (size_t r : open) {
        double even = available * in_.roles[r].weight / weights;
        if (cap[r] < even) {
          in_.roles[r].fair_share = cap[r];
          available -= cap[r];
          capped = true;
        } else {
          still.push_back(r);
        }
      }
      if (!capped) {
        for (size_t r : still) in_.roles[r].fair_share = available * in_.roles[r].weight / weights;
        break;
      }
      open = std::move(still);
    }
    (void)parent;
  };
  std::vector<size_t> top;
  for (size_t r = 0; r < roles_.size(); ++r)
    if (roles_[r].parent < 0) top.push_back(r);
  fill(-1, 1.0, top);
  for (size_t r = 0; r < roles_.size(); ++r)
    if (!roles_[r].children.empty())
      fill(static_cast<int>(r), in_.roles[r].fair_share, roles_[r].children);

  roles_dirty_ = false;
  // Role keys may read `active` or `fair_share`: read them again.
  if (order_.built) std::fill(order_.stale_roles.begin(), order_.stale_roles.end(), 1);
}

void allocation_core::sync_view() {
  if (!dirty_) {
    if (roles_dirty_) refresh_role_views();
    return;
  }
  refresh_role_views();
  // Agents.
  in_.agents.clear();
  view_agent_slot_.clear();
  agent_view_index_.assign(agents_.size(), -1);
  amounts cluster_free = total_;
  for (uint32_t s = 0; s < agents_.size(); ++s) {
    auto& a = agents_[s];
    if (!a.live) continue;
    agent_view view;
    view.id = a.id;
    view.hostname = a.hostname;
    view.attributes = a.attributes;
    view.metrics = a.metrics;
    view.total = to_res_vec(a.total);
    amounts free = a.total;
    free -= a.allocated;
    view.free = to_res_vec(free);
    view.used = to_res_vec(a.allocated);
    cluster_free -= a.allocated;
    agent_view_index_[s] = static_cast<int64_t>(in_.agents.size());
    view_agent_slot_.push_back(s);
    in_.agents.push_back(std::move(view));
  }
  in_.cluster.total = to_res_vec(total_);
  in_.cluster.free = to_res_vec(cluster_free);
  in_.cluster.agents = static_cast<double>(in_.agents.size());

  // Clients (subscribed ones; unsubscribed ones only hold resources).
  in_.frameworks.clear();
  view_client_slot_.clear();
  client_view_index_.assign(clients_.size(), -1);
  for (uint32_t s = 0; s < clients_.size(); ++s) {
    auto& c = clients_[s];
    if (!c.live || !c.subscribed) continue;
    auto& spec = frameworks_[c.framework].spec;
    framework_view view;
    view.id = spec.id;
    view.user = spec.user;
    view.role = c.role;
    amounts held = c.allocated;
    held += c.external;
    view.allocated = to_res_vec(held);
    view.min_request = to_res_vec(spec.min_request);
    view.max_request = to_res_vec(spec.max_request);
    view.labels = spec.labels;
    client_view_index_[s] = static_cast<int64_t>(in_.frameworks.size());
    view_client_slot_.push_back(s);
    in_.frameworks.push_back(std::move(view));
  }
  dirty_ = false;
}

}  // namespace agora::policy
