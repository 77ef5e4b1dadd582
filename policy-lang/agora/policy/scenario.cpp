#include "agora/policy/scenario.hpp"

#include <algorithm>

namespace agora::policy {

scenario::scenario(std::shared_ptr<const program> prog, const policy_outline& outline,
                   cluster_spec cluster)
    : prog_(prog), core_(runnable_policy{std::move(prog), outline}) {
  for (auto& level : outline.levels) level_names_.push_back(level.name);
  for (auto& a : cluster.agents) {
    core_.add_agent(a.id, a.hostname, a.attributes, to_amounts(a.total));
    core_.set_outside_use(a.id, to_amounts(a.used));
    if (!a.metrics.empty()) core_.set_agent_metrics(a.id, a.metrics);
    agent_ids_.push_back(a.id);
  }
  for (auto& f : cluster.frameworks) {
    framework_spec spec;
    spec.id = f.view.id;
    spec.user = f.view.user;
    spec.roles = {f.role};
    spec.labels = f.view.labels;
    spec.min_request = to_amounts(f.view.min_request);
    spec.max_request = to_amounts(f.view.max_request);
    spec.pinned_level = f.level;
    spec.waited_seconds = f.view.waiting;
    core_.add_framework(spec);
    auto held = to_amounts(f.view.allocated);
    if (!is_zero(held)) core_.add_external(f.role, f.view.id, held);
    framework_ids_.push_back(f.view.id);
  }
  for (auto& [path, res] : cluster.role_allocation) core_.add_external(path, "", to_amounts(res));
}

int scenario::framework_index(const std::string& id) const {
  auto at = std::find(framework_ids_.begin(), framework_ids_.end(), id);
  return at == framework_ids_.end() ? -1 : static_cast<int>(at - framework_ids_.begin());
}

int scenario::agent_index(const std::string& id) const {
  auto at = std::find(agent_ids_.begin(), agent_ids_.end(), id);
  return at == agent_ids_.end() ? -1 : static_cast<int>(at - agent_ids_.begin());
}

pair_decision scenario::decide(size_t framework, size_t agent) {
  auto o = core_.decide(framework_ids_[framework], agent_ids_[agent]);
  pair_decision d;
  d.accepted = o.accepted;
  d.rejected_by = o.rejected_by;
  d.level = o.level;
  d.level_ok = o.level_ok;
  d.score = o.score;
  d.offer = to_res_vec(o.offer);
  d.offered = o.offered;
  d.rules = std::move(o.rules);
  return d;
}

res_vec scenario::headroom(size_t role) {
  return to_res_vec(core_.headroom(core_.view().roles[role].path));
}

std::optional<rule_value> scenario::metric(const std::string& name, const std::string& role,
                                           std::string& error) {
  int rule = -1;
  auto& rules = prog_->rules;
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].what == rule_info::kind::metric && rules[i].name == "metric " + name)
      rule = static_cast<int>(i);
  if (rule < 0) {
    error = "the policy has no `every cycle` metric `" + name + "`";
    return std::nullopt;
  }
  bool per_role = rules[static_cast<size_t>(rule)].stage == chunk_id::role;
  if (per_role && role.empty()) {
    error =
        "metric `" + name + "` is per role: name the role, e.g. metric(\"" + name + "\", \"prod\")";
    return std::nullopt;
  }
  if (!per_role && !role.empty()) {
    error = "metric `" + name + "` does not depend on the role; drop the role argument";
    return std::nullopt;
  }
  if (per_role && role_index(role) < 0) {
    error = "no role `" + role + "` in this test";
    return std::nullopt;
  }
  return core_.metric_value(static_cast<size_t>(rule), role);
}

bool cluster_fixture(const std::string& name, std::vector<agent_view>& agents) {
  static const char* words[] = {"zero",  "one",   "two",  "three", "four",   "five",  "six",
                                "seven", "eight", "nine", "ten",   "eleven", "twelve"};
  auto number = [&](const std::string& text, long& out) {
    for (long i = 0; i <= 12; ++i)
      if (text == words[i]) return out = i, true;
    if (text.empty() || text.size() > 6 ||
        text.find_first_not_of("0123456789") != std::string::npos)
      return false;
    out = std::stol(text);
    return true;
  };
  const std::string racks_mark = "_racks_", agents_mark = "_agents";
  auto r = name.find(racks_mark);
  if (r == std::string::npos || name.size() < agents_mark.size() ||
      name.compare(name.size() - agents_mark.size(), agents_mark.size(), agents_mark) != 0)
    return false;
  long racks = 0, count = 0;
  size_t count_at = r + racks_mark.size();
  if (count_at > name.size() - agents_mark.size()) return false;
  if (!number(name.substr(0, r), racks) ||
      !number(name.substr(count_at, name.size() - agents_mark.size() - count_at), count) ||
      racks < 1 || count < 1 || count > 100000)
    return false;
  agents.clear();
  for (long i = 0; i < count; ++i) {
    agent_view a;
    a.id = "a" + std::to_string(i + 1);
    a.hostname = a.id;
    long rack = i % racks + 1;
    a.attributes["rack"] = "r" + std::to_string(rack);
    a.attributes["zone"] = "z" + std::to_string((rack + 1) / 2);
    a.total[0] = 32;
    a.total[1] = 128.0 * 1024 * 1024 * 1024;
    a.total[2] = 1024.0 * 1024 * 1024 * 1024;
    a.free = a.total;
    agents.push_back(std::move(a));
  }
  return true;
}

}  // namespace agora::policy
