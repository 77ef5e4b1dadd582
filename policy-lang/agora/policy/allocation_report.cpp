// Introspection of the allocation core: sums, invariants and `explain`.
#include "agora/policy/allocation_core.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "agora/policy/detail/amounts_ops.hpp"

namespace agora::policy {

using namespace detail;

// ---- explain ---------------------------------------------------------------------

explanation allocation_core::explain(const std::string& framework, const std::string& agent,
                                     time_point now) {
  explanation out;
  out.framework = framework;
  uint32_t c = client_of_framework(framework);
  if (c == UINT32_MAX) return out;
  out.known = true;
  sync_view();
  auto& cl = clients_[c];
  auto& fw = frameworks_[cl.framework];
  out.role = roles_[cl.role].path;
  out.active = fw.active && !fw.removed && cl.subscribed;
  out.suppressed = cl.suppressed;
  out.demand_covered = out.active && !cl.suppressed && !eligible(cl);
  out.min_request = fw.spec.min_request;

  // Orders and keys.
  out.role_order = role_order();
  for (size_t i = 0; i < out.role_order.size(); ++i)
    if (out.role_order[i] == out.role) out.role_position = i + 1;
  auto& rules = policy_.prog->rules;
  vm_->prepare_role(cl.role);
  for (size_t r : role_key_rules_) out.role_keys.emplace_back(rules[r].name, vm_->read(r));
  for (auto& id : framework_order()) {
    uint32_t other = client_of_framework(id);
    if (other != UINT32_MAX && clients_[other].role == cl.role) out.framework_order.push_back(id);
  }
  for (size_t i = 0; i < out.framework_order.size(); ++i)
    if (out.framework_order[i] == framework) out.framework_position = i + 1;
  vm_->prepare_cycle(in_);
  client_regs(c, now, nullptr);  // Loads the framework's registers: its keys are read next.
  for (size_t r : framework_key_rules_)
    out.framework_keys.emplace_back(rules[r].name, vm_->read(r));
  out.level = level_name(level_of(c, now));
  out.waited_seconds = cl.waiting_since ? seconds_between(*cl.waiting_since, now) : 0;

  // The role path: headroom and guarantees.
  for (int r = static_cast<int>(cl.role); r >= 0; r = roles_[static_cast<size_t>(r)].parent) {
    auto& node = roles_[static_cast<size_t>(r)];
    explanation::role_line line;
    line.role = node.path;
    line.allocated = node.subtree;
    line.headroom = role_headroom(static_cast<size_t>(r));
    line.guarantee = node.guarantee;
    line.limit = node.limit;
    if (node.guarantee)
      for (size_t i = 0; i < max_resources; ++i)
        if ((*node.guarantee)[i] > 0 && node.subtree[i] < (*node.guarantee)[i])
          line.below_guarantee = true;
    out.path.push_back(std::move(line));
  }

  // Every agent, counted once by what stops it.
  std::vector<explanation::candidate> offerable;
  for (uint32_t a : view_agent_slot_) {
    ++out.agents;
    auto d = evaluate(c, a, now, true);
    if (!agents_[a].active) {
      ++out.inactive_agents;
    } else if (!d.usable) {
      ++out.no_usable_resources;
    } else if (!d.accepted) {
      ++out.rejected_by[d.rejected_by];
    } else if (!d.level_ok) {
      ++out.wrong_level;
    } else if (d.declined) {
      ++out.declined;
    } else if (!d.holds_min_request) {
      ++out.too_small;
    } else {
      ++out.offerable;
      explanation::candidate cand{agents_[a].id, d.score, {}};
      for (size_t i : score_rules_) {
        auto name = short_name(rules[i]);
        auto v = d.rules.count(name) ? d.rules[name] : rule_value{};
        double value = v.st == rule_value::state::value ? v.number : 0;
        cand.contributions.emplace_back(name, rules[i].weight * value);
      }
      offerable.push_back(std::move(cand));
    }
    if (agents_[a].id == agent) {
      out.agent_id = agent;
      out.pair = std::move(d);
      out.agent_free = agents_[a].total;
      out.agent_free -= agents_[a].allocated;
    }
  }
  std::stable_sort(offerable.begin(), offerable.end(),
                   [](auto& x, auto& y) { return x.score > y.score; });
  if (offerable.size() > 5) offerable.resize(5);
  out.best = std::move(offerable);
  return out;
}

std::map<std::string, uint64_t> allocation_core::filter_rejections() const {
  auto out = rejections_;
  auto& rules = policy_.prog->rules;
  for (size_t i = 0; i < rejections_by_rule_.size() && i < rules.size(); ++i)
    if (rejections_by_rule_[i] > 0) out[short_name(rules[i])] += rejections_by_rule_[i];
  return out;
}

std::array<double, chunk_count> allocation_core::take_cost_units() {
  std::array<double, chunk_count> out{};
  auto& runs = vm_->runs();
  auto& costs = vm_->chunk_costs();
  for (size_t c = 0; c < chunk_count; ++c) {
    uint64_t n = runs[c] >= runs_taken_[c] ? runs[c] - runs_taken_[c] : runs[c];
    out[c] = static_cast<double>(n) * costs[c];
    runs_taken_[c] = runs[c];
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

size_t allocation_core::clients_wanting_offers(const std::string& path) const {
  auto it = role_ids_.find(path);
  return it == role_ids_.end() ? 0 : roles_[it->second].subtree_active;
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
      err << "agent " << a.id << " allocated " << format(a.allocated) << " != held " << format(sum)
          << "; ";
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
      err << "role " << roles_[r].path << " own " << format(roles_[r].own)
          << " != " << format(own[r]) << "; ";
    if (subtree[r] != roles_[r].subtree)
      err << "role " << roles_[r].path << " subtree " << format(roles_[r].subtree)
          << " != " << format(subtree[r]) << "; ";
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
