#include "agora/master/allocator.hpp"

#include <algorithm>

namespace agora::master {

namespace {

const std::vector<std::string>& effective_roles(const std::vector<std::string>& roles) {
  static const std::vector<std::string> star{"*"};
  return roles.empty() ? star : roles;
}

}  // namespace

allocator::allocator() : policy_(std::make_shared<weighted_drf_policy>()) {}

void allocator::set_policy(std::shared_ptr<const allocation_policy> policy) {
  policy_ = std::move(policy);
}

void allocator::add_agent(const std::string& agent_id, const resources& total,
                          const std::map<std::string, std::map<std::string, resources>>& used_by) {
  if (agents_.count(agent_id) != 0) remove_agent(agent_id);
  agent_entry entry;
  entry.total = total;
  for (const auto& [framework_id, by_role] : used_by) {
    for (const auto& [role, res] : by_role) {
      entry.allocated += res;
      add_allocation(framework_id, role, res);
    }
  }
  total_ += total;
  agents_.emplace(agent_id, std::move(entry));
}

void allocator::remove_agent(const std::string& agent_id) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  total_ -= it->second.total;
  agents_.erase(it);
  // Allocations on a removed agent are gone with it; the master reports the
  // tasks lost and calls `recover` for them, which then only adjusts shares.
  for (auto& [id, fw] : frameworks_) fw.filters.erase(agent_id);
}

void allocator::set_agent_active(const std::string& agent_id, bool active) {
  if (auto it = agents_.find(agent_id); it != agents_.end()) it->second.active = active;
}

void allocator::add_framework(const std::string& framework_id,
                              const std::vector<std::string>& roles) {
  auto& fw = frameworks_[framework_id];
  fw.roles = effective_roles(roles);
  fw.active = true;
  for (const auto& role : fw.roles) {
    auto& r = roles_[role];
    r.frameworks.insert(framework_id);
    r.framework_allocated.try_emplace(framework_id);
  }
}

void allocator::remove_framework(const std::string& framework_id) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) return;
  for (const auto& role : it->second.roles) {
    if (auto r = roles_.find(role); r != roles_.end()) r->second.frameworks.erase(framework_id);
  }
  frameworks_.erase(it);
}

void allocator::set_framework_active(const std::string& framework_id, bool active) {
  if (auto it = frameworks_.find(framework_id); it != frameworks_.end()) it->second.active = active;
}

void allocator::revive(const std::string& framework_id, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) return;
  it->second.filters.clear();
  if (roles.empty()) {
    it->second.suppressed_roles.clear();
  } else {
    for (const auto& r : roles) it->second.suppressed_roles.erase(r);
  }
}

void allocator::suppress(const std::string& framework_id, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) return;
  const auto& which = roles.empty() ? it->second.roles : roles;
  it->second.suppressed_roles.insert(which.begin(), which.end());
}

void allocator::add_allocation(const std::string& framework_id, const std::string& role,
                               const resources& res) {
  auto& r = roles_[role];
  r.allocated += res;
  r.framework_allocated[framework_id] += res;
}

void allocator::remove_allocation(const std::string& framework_id, const std::string& role,
                                  const resources& res) {
  auto r = roles_.find(role);
  if (r == roles_.end()) return;
  r->second.allocated -= res;
  auto f = r->second.framework_allocated.find(framework_id);
  if (f != r->second.framework_allocated.end()) {
    f->second -= res;
    if (f->second.empty() && r->second.frameworks.count(framework_id) == 0) {
      r->second.framework_allocated.erase(f);
    }
  }
}

void allocator::recover(const std::string& framework_id, const std::string& role,
                        const std::string& agent_id, const resources& res,
                        std::chrono::milliseconds refuse, clock_type::time_point now) {
  remove_allocation(framework_id, role, res);
  auto agent = agents_.find(agent_id);
  if (agent == agents_.end()) return;
  agent->second.allocated -= res;
  if (refuse.count() > 0) {
    if (auto fw = frameworks_.find(framework_id); fw != frameworks_.end()) {
      fw->second.filters[agent_id].push_back({res, now + refuse});
    }
  }
}

void allocator::set_weight(const std::string& role, double weight) {
  if (weight <= 0) return;
  weights_[role] = weight;
  roles_[role].weight = weight;
}

double allocator::weight(const std::string& role) const {
  auto it = weights_.find(role);
  return it == weights_.end() ? 1.0 : it->second;
}

bool allocator::allocatable(const resources& r) {
  // As Mesos' MIN_CPUS/MIN_MEM: offering less is churn without use.
  return r.cpus_milli >= 10 || r.mem_bytes >= (int64_t{32} << 20) || r.gpus > 0;
}

bool allocator::filtered(framework_entry& fw, const std::string& agent_id,
                         const resources& free, clock_type::time_point now) {
  auto it = fw.filters.find(agent_id);
  if (it == fw.filters.end()) return false;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [now](const filter& f) { return f.until <= now; }),
             list.end());
  if (list.empty()) {
    fw.filters.erase(it);
    return false;
  }
  // Mesos semantics: filter when everything that would be offered was refused.
  for (const auto& f : list)
    if (f.refused.contains(free)) return true;
  return false;
}

namespace {

/// Returns the names in ascending order of their keys, ties by name.
std::vector<std::string> order_by_key(std::vector<std::pair<double, const std::string*>> keyed) {
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (const auto& k : keyed) out.push_back(*k.second);
  return out;
}

}  // namespace

std::vector<std::string> allocator::sorted_roles() const {
  std::vector<std::pair<double, const std::string*>> keyed;
  keyed.reserve(roles_.size());
  for (const auto& [name, r] : roles_) {
    if (r.frameworks.empty()) continue;
    keyed.emplace_back(policy_->role_key(dominant_share(r.allocated, total_), weight(name)),
                       &name);
  }
  return order_by_key(std::move(keyed));
}

std::vector<std::string> allocator::sorted_frameworks(const role_entry& role) const {
  std::vector<std::pair<double, const std::string*>> keyed;
  keyed.reserve(role.frameworks.size());
  for (const auto& id : role.frameworks) {
    auto it = role.framework_allocated.find(id);
    double share = it == role.framework_allocated.end() ? 0.0
                                                         : dominant_share(it->second, total_);
    keyed.emplace_back(policy_->framework_key(share), &id);
  }
  return order_by_key(std::move(keyed));
}

std::vector<offer_decision> allocator::allocate(clock_type::time_point now) {
  std::vector<offer_decision> out;
  if (agents_.empty() || frameworks_.empty()) return out;
  std::vector<std::map<std::string, agent_entry>::iterator> order;
  order.reserve(agents_.size());
  for (auto it = agents_.begin(); it != agents_.end(); ++it) order.push_back(it);
  agent_cursor_ = agent_cursor_ % order.size();
  std::rotate(order.begin(), order.begin() + static_cast<long>(agent_cursor_), order.end());
  ++agent_cursor_;

  for (auto& agent_it : order) {
    const std::string& agent_id = agent_it->first;
    agent_entry& agent = agent_it->second;
    if (!agent.active) continue;
    resources free = agent.total - agent.allocated;
    if (!allocatable(free)) continue;
    bool offered = false;
    for (const auto& role_name : sorted_roles()) {
      const role_entry& role = roles_.at(role_name);
      for (const auto& framework_id : sorted_frameworks(role)) {
        auto& fw = frameworks_.at(framework_id);
        if (!fw.active || fw.suppressed_roles.count(role_name) != 0) continue;
        if (filtered(fw, agent_id, free, now)) continue;
        out.push_back({framework_id, agent_id, role_name, free});
        agent.allocated += free;
        add_allocation(framework_id, role_name, free);
        offered = true;
        break;
      }
      if (offered) break;
    }
  }
  return out;
}

resources allocator::agent_free(const std::string& agent_id) const {
  auto it = agents_.find(agent_id);
  return it == agents_.end() ? resources{} : it->second.total - it->second.allocated;
}

resources allocator::role_allocation(const std::string& role) const {
  auto it = roles_.find(role);
  return it == roles_.end() ? resources{} : it->second.allocated;
}

resources allocator::framework_allocation(const std::string& framework_id) const {
  resources sum;
  for (const auto& [name, r] : roles_) {
    if (auto it = r.framework_allocated.find(framework_id); it != r.framework_allocated.end())
      sum += it->second;
  }
  return sum;
}

double allocator::role_share(const std::string& role) const {
  return policy_->role_key(dominant_share(role_allocation(role), total_), weight(role));
}

std::vector<std::string> allocator::role_order() const { return sorted_roles(); }

std::vector<std::string> allocator::roles() const {
  std::vector<std::string> out;
  for (const auto& [name, r] : roles_) out.push_back(name);
  return out;
}

size_t allocator::filter_count(clock_type::time_point now) const {
  size_t n = 0;
  for (const auto& [id, fw] : frameworks_)
    for (const auto& [agent, list] : fw.filters)
      for (const auto& f : list)
        if (f.until > now) ++n;
  return n;
}

}  // namespace agora::master
