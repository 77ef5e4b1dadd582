// Introspection of the allocation core: sums, invariants and `explain`.
#include "agora/policy/allocation_core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "agora/policy/detail/amounts_ops.hpp"

namespace agora::policy {

using namespace detail;

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
