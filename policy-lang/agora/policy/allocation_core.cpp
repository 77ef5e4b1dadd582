#include "agora/policy/allocation_core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

namespace agora::policy {

namespace {

constexpr int64_t unlimited = std::numeric_limits<int64_t>::max();
/// As Mesos' MIN_CPUS / MIN_MEM: offering less is churn without use.
constexpr int64_t min_cpus_milli = 10;
constexpr int64_t min_mem_bytes = int64_t{32} << 20;

amounts filled(int64_t v) {
  amounts a;
  a.fill(v);
  return a;
}

amounts& operator+=(amounts& a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] += b[i];
  return a;
}

amounts& operator-=(amounts& a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] -= b[i];
  return a;
}

amounts min_of(const amounts& a, const amounts& b) {
  amounts out;
  for (size_t i = 0; i < max_resources; ++i) out[i] = std::min(a[i], b[i]);
  return out;
}

bool allocatable(const amounts& a) {
  return a[0] >= min_cpus_milli || a[1] >= min_mem_bytes || a[3] > 0;
}

std::string format(const amounts& a) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < max_resources; ++i) out << (i ? " " : "") << a[i];
  out << "]";
  return out.str();
}

/// Compares two order-key values; errors and absent values sort last in
/// either direction. Returns <0, 0 or >0.
int compare(const rule_value& a, const rule_value& b, bool descending) {
  bool a_ok = a.st == rule_value::state::value, b_ok = b.st == rule_value::state::value;
  if (!a_ok || !b_ok) return a_ok == b_ok ? 0 : a_ok ? -1 : 1;
  int c = 0;
  if (a.kind == value_kind::symbol)
    c = a.text.compare(b.text);
  else
    c = a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
  c = c < 0 ? -1 : c > 0 ? 1 : 0;
  return descending ? -c : c;
}

double seconds_between(allocation_core::time_point from, allocation_core::time_point to) {
  return std::chrono::duration<double>(to - from).count();
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
  policy_ = std::move(policy);
  vm_ = std::make_unique<vm>(policy_.prog);
  index_rules();
  for (auto& spec : policy_.outline.roles) ensure_role(spec.path);
  for (size_t r = 0; r < roles_.size(); ++r) apply_declaration(r);
  // Locality timers carry over only where the levels are the same.
  std::vector<std::string> levels;
  for (auto& l : policy_.outline.levels) levels.push_back(l.name);
  if (levels != old_levels) {
    for (auto& c : clients_) {
      c.waiting_since.reset();
      c.skips = 0;
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
      case rule_kind::order_roles: role_key_rules_.push_back(i); break;
      case rule_kind::order_frameworks: framework_key_rules_.push_back(i); break;
      case rule_kind::filter: filter_rules_.push_back(i); break;
      case rule_kind::score: score_rules_.push_back(i); break;
      default: break;
    }
  }
  for (auto& level : policy_.outline.levels) {
    level_when_.push_back(named(rule_kind::locality_when, "level " + level.name + " when"));
    level_wait_.push_back(named(rule_kind::locality_wait, "level " + level.name + " wait"));
  }
  guard_rule_ = named(rule_kind::locality_guard, "locality guard");
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
  const role_spec* spec = &policy_.outline.fallback;
  for (auto& s : policy_.outline.roles)
    if (s.path == node.path) spec = &s;
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

void allocation_core::add_agent(const std::string& id, const std::string& hostname,
                                const std::map<std::string, std::string>& attributes,
                                const amounts& total,
                                const std::map<std::string, std::map<std::string, amounts>>& used_by) {
  if (has_agent(id)) remove_agent(id);
  uint32_t slot;
  if (!free_agents_.empty()) {
    slot = free_agents_.back();
    free_agents_.pop_back();
  } else {
    slot = static_cast<uint32_t>(agents_.size());
    agents_.emplace_back();
  }
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
  uint32_t slot;
  if (!free_frameworks_.empty()) {
    slot = free_frameworks_.back();
    free_frameworks_.pop_back();
  } else {
    slot = static_cast<uint32_t>(frameworks_.size());
    frameworks_.emplace_back();
  }
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
  uint32_t slot;
  if (!free_clients_.empty()) {
    slot = free_clients_.back();
    free_clients_.pop_back();
  } else {
    slot = static_cast<uint32_t>(clients_.size());
    clients_.emplace_back();
  }
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
  if (auto it = framework_ids_.find(id); it != framework_ids_.end())
    frameworks_[it->second].active = active && !frameworks_[it->second].removed;
}

void allocation_core::revive(const std::string& id, const std::vector<std::string>& roles) {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return;
  for (auto& [role, c] : frameworks_[it->second].clients) {
    clients_[c].filters.clear();
    if (roles.empty() ||
        std::find(roles.begin(), roles.end(), roles_[role].path) != roles.end())
      clients_[c].suppressed = false;
  }
}

void allocation_core::suppress(const std::string& id, const std::vector<std::string>& roles) {
  auto it = framework_ids_.find(id);
  if (it == framework_ids_.end()) return;
  for (auto& [role, c] : frameworks_[it->second].clients)
    if (roles.empty() ||
        std::find(roles.begin(), roles.end(), roles_[role].path) != roles.end())
      clients_[c].suppressed = true;
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
  if (refuse.count() > 0 && clients_[client].subscribed)
    clients_[client].filters[a].push_back({res, now + refuse});
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

void allocation_core::sync_view() {
  if (!dirty_) return;
  // Roles: counts and demand from the subscribed clients, then views.
  for (auto& node : roles_) {
    node.clients = node.undemanding = node.subtree_clients = 0;
    node.own_demand = amounts{};
  }
  for (auto& c : clients_) {
    if (!c.live || !c.subscribed) continue;
    auto& node = roles_[c.role];
    ++node.clients;
    auto& demand = frameworks_[c.framework].spec.demand;
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
    demand[r] += node.own_demand;
    undemanding[r] += node.undemanding;
    if (node.parent >= 0) {
      auto p = static_cast<size_t>(node.parent);
      roles_[p].subtree_clients += node.subtree_clients;
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
    view.active = node.subtree_clients > 0;
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
    if (undemanding[r] > 0 || roles_[r].subtree_clients == 0) continue;
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

// ---- evaluation ---------------------------------------------------------------

std::vector<rule_value> allocation_core::read_keys(rule_kind kind) const {
  auto& rules = kind == rule_kind::order_roles ? role_key_rules_ : framework_key_rules_;
  std::vector<rule_value> out;
  out.reserve(rules.size());
  for (size_t r : rules) out.push_back(vm_->read(r));
  return out;
}

bool allocation_core::key_before(const std::vector<rule_value>& a,
                                 const std::vector<rule_value>& b, rule_kind kind) const {
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
  list.erase(std::remove_if(list.begin(), list.end(),
                            [now](const filter& f) { return f.until <= now; }),
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
  struct entry {
    size_t role = 0;
    bool self = false;  ///< The role's own clients, as a virtual child.
    std::vector<rule_value> key;
  };
  std::vector<std::vector<entry>> children;  ///< Index role + 1; 0 is the root.
  std::vector<std::vector<uint32_t>> clients;  ///< Per role, in order.
  std::unordered_map<uint32_t, std::vector<rule_value>> client_keys;
  std::vector<size_t> open_subtree, open_own;  ///< Open clients per role.
  std::unordered_map<uint32_t, std::vector<std::pair<double, uint32_t>>> candidates;
  std::unordered_map<uint32_t, size_t> cursor;  ///< Next agent to try (policies without scores).
  std::unordered_map<uint32_t, bool> offered, skipped;
  std::unordered_map<uint32_t, stage_regs> client_regs;
  std::vector<std::optional<stage_regs>> agent_regs;  ///< By agent slot.
};

const stage_regs& allocation_core::client_regs(uint32_t client, time_point now,
                                               cycle_state* cs) {
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
  auto name = level_name(level_of(client, now));
  if (name != fview.locality_level) {
    if (cs && !name.empty() && !fview.locality_level.empty())
      ++relaxations_[{fview.locality_level, name}];
    fview.locality_level = name;
    regs = vm_->prepare_framework(fv, role_regs);
  }
  auto& slot = cs ? cs->client_regs[client] : scratch_client_;
  slot = std::move(regs);
  return slot;
}

const stage_regs& allocation_core::agent_regs(uint32_t agent, cycle_state* cs) {
  if (cs && cs->agent_regs[agent]) return *cs->agent_regs[agent];
  auto regs = vm_->prepare_agent(static_cast<size_t>(agent_view_index_[agent]));
  if (!cs) return scratch_agent_ = std::move(regs);
  cs->agent_regs[agent] = std::move(regs);
  return *cs->agent_regs[agent];
}

pair_outcome allocation_core::evaluate(uint32_t client, uint32_t agent, time_point now,
                                       bool all_rules, cycle_state* cs) {
  sync_view();
  pair_outcome out;
  auto& c = clients_[client];
  if (client_view_index_[client] < 0 || agent_view_index_[agent] < 0) return out;
  // What could be offered: free resources clipped by limits (and held
  // guarantees). When that is nothing the framework can use, the policy is
  // not asked (queries that want every rule's value still ask).
  auto& a = agents_[agent];
  amounts free = a.total;
  free -= a.allocated;
  amounts offer = min_of(min_of(free, role_headroom(c.role)), guarantee_allowance(c.role));
  for (auto& x : offer) x = std::max<int64_t>(0, x);
  auto& smallest = frameworks_[c.framework].spec.min_request;
  bool usable = a.active && allocatable(offer) && fits_in(smallest, offer);
  if (!usable && !all_rules) return out;
  const auto& fw = client_regs(client, now, cs);
  const auto& ag = agent_regs(agent, cs);
  auto result = vm_->eval_pair(fw, ag, all_rules);
  // The framework's registers are loaded now: the guard and waits read them.
  int allowed = level_of(client, now);
  out.accepted = result.accepted;
  out.score = result.score;
  auto& rules = policy_.prog->rules;
  auto short_name = [&](size_t i) { return rules[i].name.substr(rules[i].name.find(' ') + 1); };
  if (result.rejected_by >= 0) {
    out.rejected_by = short_name(static_cast<size_t>(result.rejected_by));
    if (cs) ++rejections_[out.rejected_by];
  }
  if (all_rules) {
    for (size_t i : filter_rules_) out.rules[short_name(i)] = vm_->read(i);
    for (size_t i : score_rules_) out.rules[short_name(i)] = vm_->read(i);
  }
  if (allowed >= 0 && out.accepted) {
    auto& levels = policy_.outline.levels;
    size_t at = 0;
    for (; at + 1 < levels.size(); ++at) {
      if (level_when_[at] < 0) break;
      auto v = vm_->read(static_cast<size_t>(level_when_[at]));
      if (v.st == rule_value::state::value && v.number != 0) break;
    }
    out.level = levels[at].name;
    out.level_ok = static_cast<int>(at) <= allowed;
  }
  out.declined = declined(c, agent, offer, now);
  out.offered = out.accepted && out.level_ok && !out.declined && usable;
  if (out.offered) out.offer = offer;
  return out;
}

// ---- ordering -------------------------------------------------------------------

void allocation_core::order_roles(cycle_state& cs) {
  cs.children.assign(roles_.size() + 1, {});
  auto key_of = [&](size_t r, bool self) {
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
  };
  for (size_t r = 0; r < roles_.size(); ++r) {
    auto& parent_list = cs.children[static_cast<size_t>(roles_[r].parent + 1)];
    parent_list.push_back({r, false, key_of(r, false)});
    if (!roles_[r].children.empty() && roles_[r].clients > 0)
      cs.children[r + 1].push_back({r, true, key_of(r, true)});
  }
  for (auto& list : cs.children) {
    std::stable_sort(list.begin(), list.end(), [&](const auto& a, const auto& b) {
      if (key_before(a.key, b.key, rule_kind::order_roles)) return true;
      if (key_before(b.key, a.key, rule_kind::order_roles)) return false;
      if (roles_[a.role].path != roles_[b.role].path)
        return roles_[a.role].path < roles_[b.role].path;
      return a.self && !b.self;
    });
  }
}

std::vector<std::vector<uint32_t>> allocation_core::clients_by_role() const {
  std::vector<std::vector<uint32_t>> out(roles_.size());
  for (uint32_t s : view_client_slot_) out[clients_[s].role].push_back(s);
  return out;
}

std::vector<uint32_t> allocation_core::order_clients(cycle_state& cs, std::vector<uint32_t> members,
                                                     size_t role) {
  if (members.empty()) return members;
  auto regs = vm_->prepare_role(role);
  for (uint32_t s : members) {
    vm_->prepare_framework(static_cast<size_t>(client_view_index_[s]), regs);
    cs.client_keys[s] = read_keys(rule_kind::order_frameworks);
  }
  std::stable_sort(members.begin(), members.end(), [&](uint32_t a, uint32_t b) {
    auto& ka = cs.client_keys[a];
    auto& kb = cs.client_keys[b];
    if (key_before(ka, kb, rule_kind::order_frameworks)) return true;
    if (key_before(kb, ka, rule_kind::order_frameworks)) return false;
    return frameworks_[clients_[a].framework].spec.id < frameworks_[clients_[b].framework].spec.id;
  });
  return members;
}

std::vector<std::string> allocation_core::role_order() {
  sync_view();
  vm_->prepare_cycle(in_);
  cycle_state cs;
  order_roles(cs);
  std::vector<std::string> out;
  // Leaves, and roles with clients of their own (through their virtual child).
  std::function<void(size_t)> walk = [&](size_t list) {
    for (auto& e : cs.children[list]) {
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
  cycle_state cs;
  auto members = clients_by_role();
  std::vector<std::string> out;
  for (auto& path : roles) {
    size_t r = role_ids_.at(path);
    for (uint32_t c : order_clients(cs, members[r], r))
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
    std::string name = rules[i].name.substr(rules[i].name.find(' ') + 1);
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

std::vector<core_offer> allocation_core::allocate(time_point now) {
  last_now_ = now;
  std::vector<core_offer> out;
  sync_view();
  in_.cluster.cycle_time = std::chrono::duration<double>(now.time_since_epoch()).count();
  vm_->prepare_cycle(in_);
  if (view_agent_slot_.empty() || view_client_slot_.empty()) return out;

  cycle_state cs;
  order_roles(cs);
  cs.clients.assign(roles_.size(), {});
  cs.open_subtree.assign(roles_.size(), 0);
  cs.open_own.assign(roles_.size(), 0);
  auto members = clients_by_role();
  for (size_t r = 0; r < roles_.size(); ++r) {
    if (members[r].empty()) continue;
    cs.clients[r] = order_clients(cs, std::move(members[r]), r);
    size_t open = 0;
    for (uint32_t c : cs.clients[r]) open += eligible(clients_[c]) ? 1 : 0;
    cs.open_own[r] = open;
    for (int p = static_cast<int>(r); p >= 0; p = roles_[static_cast<size_t>(p)].parent)
      cs.open_subtree[static_cast<size_t>(p)] += open;
  }
  std::unordered_map<uint32_t, bool> closed;
  auto close = [&](uint32_t c) {
    if (closed[c]) return;
    closed[c] = true;
    size_t r = clients_[c].role;
    --cs.open_own[r];
    for (int p = static_cast<int>(r); p >= 0; p = roles_[static_cast<size_t>(p)].parent)
      --cs.open_subtree[static_cast<size_t>(p)];
  };
  for (size_t r = 0; r < roles_.size(); ++r)
    for (uint32_t c : cs.clients[r])
      if (!eligible(clients_[c])) closed[c] = true;

  // Agents in rotated order, so ties do not always favour the same agents.
  std::vector<uint32_t> agent_order = view_agent_slot_;
  agent_cursor_ %= agent_order.size();
  std::rotate(agent_order.begin(), agent_order.begin() + static_cast<long>(agent_cursor_),
              agent_order.end());
  ++agent_cursor_;

  // Returns the first open client in order under `list` (a children list).
  std::function<uint32_t(size_t)> first_open = [&](size_t list) -> uint32_t {
    for (auto& e : cs.children[list]) {
      bool leaf = roles_[e.role].children.empty();
      if (e.self || leaf) {
        if (cs.open_own[e.role] == 0) continue;
        for (uint32_t c : cs.clients[e.role])
          if (!closed[c]) return c;
      } else if (cs.open_subtree[e.role] > 0) {
        uint32_t c = first_open(e.role + 1);
        if (c != UINT32_MAX) return c;
      }
    }
    return UINT32_MAX;
  };
  auto reposition_role = [&](size_t r) {
    auto& list = cs.children[static_cast<size_t>(roles_[r].parent + 1)];
    auto rekey = [&](std::vector<cycle_state::entry>& entries, size_t role, bool self) {
      auto at = std::find_if(entries.begin(), entries.end(),
                             [&](auto& e) { return e.role == role && e.self == self; });
      if (at == entries.end()) return;
      auto e = *at;
      entries.erase(at);
      if (self) {
        auto saved = in_.roles[role].allocated;
        in_.roles[role].allocated = to_res_vec(roles_[role].own);
        vm_->prepare_role(role);
        e.key = read_keys(rule_kind::order_roles);
        in_.roles[role].allocated = saved;
      } else {
        vm_->prepare_role(role);
        e.key = read_keys(rule_kind::order_roles);
      }
      auto pos = std::upper_bound(entries.begin(), entries.end(), e, [&](auto& a, auto& b) {
        if (key_before(a.key, b.key, rule_kind::order_roles)) return true;
        if (key_before(b.key, a.key, rule_kind::order_roles)) return false;
        return roles_[a.role].path < roles_[b.role].path;
      });
      entries.insert(pos, std::move(e));
    };
    rekey(list, r, false);
    if (!roles_[r].children.empty()) rekey(cs.children[r + 1], r, true);
  };
  auto reposition_client = [&](uint32_t c) {
    size_t r = clients_[c].role;
    auto& list = cs.clients[r];
    auto at = std::find(list.begin(), list.end(), c);
    if (at == list.end()) return;
    list.erase(at);
    auto regs = vm_->prepare_role(r);
    vm_->prepare_framework(static_cast<size_t>(client_view_index_[c]), regs);
    auto& key = cs.client_keys[c] = read_keys(rule_kind::order_frameworks);
    auto& id = frameworks_[clients_[c].framework].spec.id;
    auto pos = std::upper_bound(list.begin(), list.end(), c, [&](uint32_t, uint32_t b) {
      auto& kb = cs.client_keys[b];
      if (key_before(key, kb, rule_kind::order_frameworks)) return true;
      if (key_before(kb, key, rule_kind::order_frameworks)) return false;
      return id < frameworks_[clients_[b].framework].spec.id;
    });
    list.insert(pos, c);
  };

  cs.agent_regs.resize(agents_.size());
  const bool ranked_by_score = !score_rules_.empty();
  // Agents whose free resources no framework can use any more are skipped
  // by every scan: `next_usable` jumps over them (path halving keeps the
  // jumps short), so scans cost O(agents + offers), not frameworks x agents.
  std::vector<size_t> next_usable(agent_order.size() + 1), position(agents_.size());
  for (size_t i = 0; i <= agent_order.size(); ++i) next_usable[i] = i;
  for (size_t i = 0; i < agent_order.size(); ++i) position[agent_order[i]] = i;
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
    out.push_back({frameworks_[cl.framework].spec.id, roles_[cl.role].path, agents_[a].id,
                   d.offer, d.level, d.score});
    if (!d.level.empty() && d.level == policy_.outline.levels.front().name) {
      cl.waiting_since.reset();
      cl.skips = 0;
    }
    cs.offered[c] = true;
    // Its allocation and the agent's free resources changed.
    cs.client_regs.erase(c);
    cs.agent_regs[a].reset();
    if (!agent_free_usable(a)) next_usable[position[a]] = position[a] + 1;
    return true;
  };
  for (;;) {
    uint32_t c = first_open(0);
    if (c == UINT32_MAX) break;
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
      auto& ranked = cs.candidates[c];
      if (!cs.skipped.count(c)) {
        // First time this cycle: rank every agent by score (ties: agent order).
        bool skipped = false;
        for (uint32_t a : agent_order) {
          auto d = evaluate(c, a, now, false, &cs);
          if (d.offered)
            ranked.emplace_back(d.score, a);
          else if (d.accepted && !d.level_ok)
            skipped = true;
        }
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](auto& x, auto& y) { return x.first > y.first; });
        std::reverse(ranked.begin(), ranked.end());  // Best last, popped first.
        cs.skipped[c] = skipped;
      }
      while (!ranked.empty() && !served) {
        uint32_t a = ranked.back().second;
        ranked.pop_back();
        // Shares and free resources moved since the ranking: decide again.
        auto d = evaluate(c, a, now, false, &cs);
        if (d.offered)
          served = serve(c, a, d);
        else if (d.accepted && !d.level_ok)
          cs.skipped[c] = true;
      }
      more = !ranked.empty();
    }
    if (!served || !more || !eligible(clients_[c])) close(c);
    if (served) {
      reposition_client(c);
      for (int r = static_cast<int>(clients_[c].role); r >= 0; r = roles_[static_cast<size_t>(r)].parent)
        reposition_role(static_cast<size_t>(r));
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

// ---- introspection ------------------------------------------------------------------

amounts allocation_core::role_allocation(const std::string& path) const {
  auto it = role_ids_.find(path);
  return it == role_ids_.end() ? amounts{} : roles_[it->second].subtree;
}

double allocation_core::weight(const std::string& path) const {
  auto it = role_ids_.find(path);
  if (it != role_ids_.end()) return role_weight(it->second);
  auto w = weight_overrides_.find(path);
  return w != weight_overrides_.end() ? w->second : policy_.outline.fallback.weight;
}

double allocation_core::dominant_share(const std::string& path) const {
  auto held = role_allocation(path);
  double share = 0;
  for (size_t i = 0; i < max_resources; ++i)
    if (total_[i] > 0)
      share = std::max(share, static_cast<double>(held[i]) / static_cast<double>(total_[i]));
  return share;
}

std::vector<std::string> allocation_core::roles() const {
  std::vector<std::string> out;
  for (auto& node : roles_) out.push_back(node.path);
  return out;
}

size_t allocation_core::filter_count(time_point now) const {
  size_t n = 0;
  for (auto& c : clients_)
    for (auto& [agent, list] : c.filters)
      for (auto& f : list)
        if (f.until > now) ++n;
  return n;
}

std::string allocation_core::check_invariants() const {
  std::ostringstream err;
  std::vector<amounts> client_sum(clients_.size());
  amounts total{};
  for (auto& a : agents_) {
    if (!a.live) continue;
    total += a.total;
    amounts sum = a.outside;
    for (auto& [c, res] : a.held) {
      if (c >= clients_.size() || !clients_[c].live) {
        err << "agent " << a.id << " holds resources for a dead client " << c << "; ";
        continue;
      }
      for (auto x : res)
        if (x < 0) err << "agent " << a.id << " has a negative holding " << format(res) << "; ";
      if (is_zero(res)) err << "agent " << a.id << " keeps an empty holding; ";
      sum += res;
      client_sum[c] += res;
    }
    if (sum != a.allocated)
      err << "agent " << a.id << " allocated " << format(a.allocated) << " != held "
          << format(sum) << "; ";
    if (!fits_in(a.allocated, a.total))
      err << "agent " << a.id << " allocated " << format(a.allocated) << " exceeds total "
          << format(a.total) << "; ";
  }
  if (total != total_) err << "cluster total " << format(total_) << " != " << format(total) << "; ";
  std::vector<amounts> own(roles_.size());
  for (size_t r = 0; r < roles_.size(); ++r) own[r] = roles_[r].external;
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    auto& cl = clients_[c];
    if (!cl.live) continue;
    if (client_sum[c] != cl.allocated)
      err << "client " << frameworks_[cl.framework].spec.id << "@" << roles_[cl.role].path
          << " allocated " << format(cl.allocated) << " != held " << format(client_sum[c]) << "; ";
    if (!cl.subscribed && is_zero(cl.allocated) && is_zero(cl.external))
      err << "client " << c << " is unsubscribed and empty but kept; ";
    own[cl.role] += cl.allocated;
    own[cl.role] += cl.external;
    auto& f = frameworks_[cl.framework];
    if (!f.live || f.clients.count(cl.role) == 0 || f.clients.at(cl.role) != c)
      err << "client " << c << " is not linked from its framework; ";
  }
  std::vector<amounts> subtree = own;
  for (size_t r = roles_.size(); r-- > 0;)
    if (roles_[r].parent >= 0) subtree[static_cast<size_t>(roles_[r].parent)] += subtree[r];
  for (size_t r = 0; r < roles_.size(); ++r) {
    if (own[r] != roles_[r].own)
      err << "role " << roles_[r].path << " own " << format(roles_[r].own) << " != "
          << format(own[r]) << "; ";
    if (subtree[r] != roles_[r].subtree)
      err << "role " << roles_[r].path << " subtree " << format(roles_[r].subtree) << " != "
          << format(subtree[r]) << "; ";
  }
  for (auto& [id, slot] : framework_ids_)
    if (!frameworks_[slot].live || frameworks_[slot].spec.id != id)
      err << "framework id " << id << " maps to a dead slot; ";
  for (auto& [id, slot] : agent_ids_)
    if (!agents_[slot].live || agents_[slot].id != id)
      err << "agent id " << id << " maps to a dead slot; ";
  // The view the policy reads matches the accounting.
  if (!dirty_) {
    for (size_t r = 0; r < roles_.size(); ++r)
      if (in_.roles[r].allocated != to_res_vec(roles_[r].subtree))
        err << "role view " << roles_[r].path << " is stale; ";
    for (size_t i = 0; i < view_agent_slot_.size(); ++i) {
      auto& a = agents_[view_agent_slot_[i]];
      amounts free = a.total;
      free -= a.allocated;
      if (in_.agents[i].free != to_res_vec(free)) err << "agent view " << a.id << " is stale; ";
    }
  }
  return err.str();
}

}  // namespace agora::policy
