#include "agora/policy/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace agora::policy {

namespace {

constexpr double unlimited = std::numeric_limits<double>::infinity();

res_vec filled(double v) {
  res_vec r;
  r.fill(v);
  return r;
}

/// Reads a checked `{cpus: 4, mem: 8GiB}` quota; `missing` for resources not named.
res_vec quota_of(const ast::expr& e, const std::vector<std::string>& resources, double missing) {
  res_vec out = filled(missing);
  if (e.kind != ast::expr_kind::object) return out;
  for (size_t i = 0; i < e.keys.size(); ++i) {
    auto at = std::find(resources.begin(), resources.end(), e.keys[i]);
    if (at == resources.end() || at - resources.begin() >= static_cast<long>(max_resources))
      continue;
    auto& v = *e.children[i];
    out[static_cast<size_t>(at - resources.begin())] =
        v.kind == ast::expr_kind::unary ? -v.children[0]->value : v.value;
  }
  return out;
}

void read_role(const ast::role_decl& r, const std::string& parent,
               const std::vector<std::string>& resources, policy_outline& out) {
  role_spec spec;
  if (!r.is_default) spec.path = ast::role_path(parent, r);
  using item_kind = ast::role_item::kind;
  std::vector<const ast::role_decl*> children;
  for (auto& item : r.items) {
    switch (item.what) {
      case item_kind::weight: {
        auto& v = *item.value;
        spec.weight = v.kind == ast::expr_kind::unary ? -v.children[0]->value : v.value;
        break;
      }
      case item_kind::guarantee:
        spec.guarantee = quota_of(*item.value, resources, 0);
        break;
      case item_kind::limit:
        spec.limit = quota_of(*item.value, resources, unlimited);
        break;
      case item_kind::preemptible:
        spec.preemptible = item.value->value != 0 || item.value->text == "true";
        break;
      case item_kind::child:
        children.push_back(item.child.get());
        break;
    }
  }
  if (r.is_default) {
    out.fallback = spec;
    return;
  }
  out.roles.push_back(spec);
  for (auto* c : children) read_role(*c, spec.path, resources, out);
}

void read_decls(const ast::file& f, const std::vector<std::string>& resources,
                policy_outline& out) {
  for (auto& d : f.decls) {
    if (auto* r = std::get_if<ast::roles_decl>(&d.node)) {
      for (auto& role : r->roles) read_role(role, "", resources, out);
    } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
      for (auto& level : l->levels) out.levels.push_back({level.name, level.skips});
    }
  }
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

}  // namespace

policy_outline policy_outline::from(const check_result& checked,
                                    const std::vector<std::string>& resources) {
  policy_outline out;
  for (auto& imported : checked.imports) read_decls(imported.ast, resources, out);
  if (checked.ast) read_decls(*checked.ast, resources, out);
  return out;
}

scenario::scenario(std::shared_ptr<const program> prog, const policy_outline& outline,
                   cluster_spec cluster)
    : prog_(std::move(prog)), vm_(prog_) {
  for (auto& spec : outline.roles) add_role(spec.path, outline);
  for (auto& f : cluster.frameworks) add_role(f.role, outline);
  for (auto& [path, res] : cluster.role_allocation) add_role(path, outline);

  size_t n = in_.roles.size();
  has_frameworks_.assign(n, false);
  std::vector<bool> active(n, false);
  std::vector<res_vec> own(n, res_vec{});
  for (auto& [path, res] : cluster.role_allocation) {
    auto& a = own[static_cast<size_t>(role_index(path))];
    for (size_t i = 0; i < max_resources; ++i) a[i] += res[i];
  }
  for (auto& f : cluster.frameworks) {
    size_t r = static_cast<size_t>(role_index(f.role));
    f.view.role = r;
    has_frameworks_[r] = true;
    active[r] = true;
    for (size_t i = 0; i < max_resources; ++i) {
      own[r][i] += f.view.allocated[i];
      in_.roles[r].demand[i] += f.view.min_request[i];
    }
    fw_level_.push_back(f.level);
    in_.frameworks.push_back(std::move(f.view));
  }
  // Parents come before their children, so a reverse pass sums subtrees.
  for (size_t r = n; r-- > 0;) {
    auto& view = in_.roles[r];
    for (size_t i = 0; i < max_resources; ++i) view.allocated[i] += own[r][i];
    if (parent_[r] >= 0) {
      auto& up = in_.roles[static_cast<size_t>(parent_[r])];
      for (size_t i = 0; i < max_resources; ++i) {
        up.allocated[i] += view.allocated[i];
        up.demand[i] += view.demand[i];
      }
      if (active[r]) active[static_cast<size_t>(parent_[r])] = true;
    }
  }
  for (size_t r = 0; r < n; ++r) {
    auto& view = in_.roles[r];
    view.active = active[r];
    view.below_guarantee = false;
    if (view.guarantee)
      for (size_t i = 0; i < max_resources; ++i)
        if ((*view.guarantee)[i] > 0 && view.allocated[i] < (*view.guarantee)[i])
          view.below_guarantee = true;
  }
  // Weighted shares, top down (parents first).
  for (size_t r = 0; r < n; ++r) {
    auto& view = in_.roles[r];
    if (!view.active) continue;
    double siblings = 0;
    for (size_t s = 0; s < n; ++s)
      if (parent_[s] == parent_[r] && in_.roles[s].active) siblings += in_.roles[s].weight;
    double above = parent_[r] < 0 ? 1.0 : in_.roles[static_cast<size_t>(parent_[r])].fair_share;
    view.fair_share = above * view.weight / siblings;
  }

  for (auto& a : cluster.agents) {
    for (size_t i = 0; i < max_resources; ++i) {
      in_.cluster.total[i] += a.total[i];
      in_.cluster.free[i] += a.free[i];
    }
  }
  in_.cluster.agents = static_cast<double>(cluster.agents.size());
  in_.agents = std::move(cluster.agents);

  for (auto& level : outline.levels) {
    level_names_.push_back(level.name);
    level_skips_.push_back(level.skips);
    level_when_.push_back(rule_named(rule_kind::locality_when, "level " + level.name + " when"));
    level_wait_.push_back(rule_named(rule_kind::locality_wait, "level " + level.name + " wait"));
  }
  guard_rule_ = rule_named(rule_kind::locality_guard, "locality guard");
  vm_.prepare_cycle(in_);
  // `framework.locality_level` reads the level each framework is at.
  for (size_t f = 0; f < in_.frameworks.size(); ++f) in_.frameworks[f].locality_level = level(f);
  vm_.prepare_cycle(in_);
}

size_t scenario::add_role(const std::string& path, const policy_outline& outline) {
  int known = role_index(path);
  if (known >= 0) return static_cast<size_t>(known);
  int parent = -1;
  auto slash = path.rfind('/');
  if (slash != std::string::npos)
    parent = static_cast<int>(add_role(path.substr(0, slash), outline));
  role_spec spec = outline.fallback;
  for (auto& s : outline.roles)
    if (s.path == path) spec = s;
  role_view view;
  view.path = path;
  view.name = slash == std::string::npos ? path : path.substr(slash + 1);
  view.weight = spec.weight;
  view.guarantee = spec.guarantee;
  view.limit = spec.limit;
  view.preemptible = spec.preemptible;
  size_t index = in_.roles.size();
  in_.roles.push_back(std::move(view));
  parent_.push_back(parent);
  children_.emplace_back();
  if (parent >= 0) children_[static_cast<size_t>(parent)].push_back(index);
  return index;
}

int scenario::role_index(const std::string& path) const {
  for (size_t i = 0; i < in_.roles.size(); ++i)
    if (in_.roles[i].path == path) return static_cast<int>(i);
  return -1;
}

int scenario::framework_index(const std::string& id) const {
  for (size_t i = 0; i < in_.frameworks.size(); ++i)
    if (in_.frameworks[i].id == id) return static_cast<int>(i);
  return -1;
}

int scenario::agent_index(const std::string& id) const {
  for (size_t i = 0; i < in_.agents.size(); ++i)
    if (in_.agents[i].id == id) return static_cast<int>(i);
  return -1;
}

int scenario::rule_named(rule_kind kind, const std::string& name) const {
  auto& rules = prog_->rules;
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].what == kind && rules[i].name == name) return static_cast<int>(i);
  return -1;
}

scenario::key scenario::read_keys(rule_kind kind) const {
  key k;
  auto& rules = prog_->rules;
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].what == kind) k.push_back(vm_.read(i));
  return k;
}

bool scenario::before(const key& a, const key& b, rule_kind kind) const {
  size_t at = 0;
  for (auto& rule : prog_->rules) {
    if (rule.what != kind) continue;
    int c = compare(a[at], b[at], rule.descending);
    if (c != 0) return c < 0;
    ++at;
  }
  return false;
}

void scenario::order_siblings(int parent, std::vector<std::string>& out) {
  std::vector<size_t> siblings;
  for (size_t r = 0; r < in_.roles.size(); ++r)
    if (parent_[r] == parent) siblings.push_back(r);
  std::vector<key> keys(in_.roles.size());
  for (size_t r : siblings) {
    vm_.prepare_role(r);
    keys[r] = read_keys(rule_kind::order_roles);
  }
  std::sort(siblings.begin(), siblings.end(), [&](size_t a, size_t b) {
    if (before(keys[a], keys[b], rule_kind::order_roles)) return true;
    if (before(keys[b], keys[a], rule_kind::order_roles)) return false;
    return in_.roles[a].path < in_.roles[b].path;
  });
  for (size_t r : siblings) {
    bool leaf = children_[r].empty();
    if (leaf || has_frameworks_[r]) out.push_back(in_.roles[r].path);
    if (!leaf) order_siblings(static_cast<int>(r), out);
  }
}

std::vector<std::string> scenario::role_order() {
  std::vector<std::string> out;
  order_siblings(-1, out);
  return out;
}

stage_regs scenario::framework_regs(size_t framework) {
  auto role = vm_.prepare_role(in_.frameworks[framework].role);
  return vm_.prepare_framework(framework, role);
}

std::vector<std::string> scenario::framework_order() {
  std::vector<std::string> out;
  for (auto& path : role_order()) {
    size_t role = static_cast<size_t>(role_index(path));
    std::vector<size_t> members;
    std::vector<key> keys(in_.frameworks.size());
    for (size_t f = 0; f < in_.frameworks.size(); ++f) {
      if (in_.frameworks[f].role != role) continue;
      members.push_back(f);
      framework_regs(f);
      keys[f] = read_keys(rule_kind::order_frameworks);
    }
    std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      if (before(keys[a], keys[b], rule_kind::order_frameworks)) return true;
      if (before(keys[b], keys[a], rule_kind::order_frameworks)) return false;
      return in_.frameworks[a].id < in_.frameworks[b].id;
    });
    for (size_t f : members) out.push_back(in_.frameworks[f].id);
  }
  return out;
}

res_vec scenario::headroom(size_t role) const {
  res_vec room = filled(unlimited);
  for (int r = static_cast<int>(role); r >= 0; r = parent_[static_cast<size_t>(r)]) {
    auto& view = in_.roles[static_cast<size_t>(r)];
    if (!view.limit) continue;
    for (size_t i = 0; i < max_resources; ++i)
      room[i] = std::min(room[i], std::max(0.0, (*view.limit)[i] - view.allocated[i]));
  }
  return room;
}

int scenario::level_index(size_t framework) {
  if (level_names_.empty()) return -1;
  framework_regs(framework);
  return loaded_level_index(framework);
}

int scenario::loaded_level_index(size_t framework) {
  if (level_names_.empty()) return -1;
  if (guard_rule_ >= 0) {
    auto guard = vm_.read(static_cast<size_t>(guard_rule_));
    if (guard.st != rule_value::state::value || guard.number == 0) return -1;
  }
  auto& given = fw_level_[framework];
  if (!given.empty()) {
    auto at = std::find(level_names_.begin(), level_names_.end(), given);
    return at == level_names_.end() ? 0 : static_cast<int>(at - level_names_.begin());
  }
  // Delay scheduling: the framework has waited `waiting` seconds in all;
  // it moves past each level whose wait has elapsed.
  double left = in_.frameworks[framework].waiting;
  size_t at = 0;
  while (at + 1 < level_names_.size()) {
    if (level_skips_[at]) break;  // Counted in skipped offers, not time.
    double wait = 0;
    if (level_wait_[at] >= 0) {
      auto v = vm_.read(static_cast<size_t>(level_wait_[at]));
      if (v.st != rule_value::state::value) break;
      wait = v.number;
    }
    if (left < wait) break;
    left -= wait;
    ++at;
  }
  return static_cast<int>(at);
}

std::string scenario::level(size_t framework) {
  int at = level_index(framework);
  return at < 0 ? std::string() : level_names_[static_cast<size_t>(at)];
}

pair_decision scenario::decide(size_t framework, size_t agent) {
  pair_decision d;
  auto fw = framework_regs(framework);
  int allowed = loaded_level_index(framework);
  auto ag = vm_.prepare_agent(agent);
  auto result = vm_.eval_pair(fw, ag, true);
  d.accepted = result.accepted;
  d.score = result.score;
  auto& rules = prog_->rules;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].what != rule_kind::filter && rules[i].what != rule_kind::score)
      continue;
    auto name = rules[i].name.substr(rules[i].name.find(' ') + 1);
    d.rules[name] = vm_.read(i);
    if (result.rejected_by == static_cast<int>(i)) d.rejected_by = name;
  }
  if (allowed >= 0) {
    size_t at = 0;
    for (; at + 1 < level_names_.size(); ++at) {
      if (level_when_[at] < 0) break;
      auto v = vm_.read(static_cast<size_t>(level_when_[at]));
      if (v.st == rule_value::state::value && v.number != 0) break;
    }
    d.level = level_names_[at];
    d.level_ok = static_cast<int>(at) <= allowed;
  }
  auto room = headroom(in_.frameworks[framework].role);
  auto& free = in_.agents[agent].free;
  auto& smallest = in_.frameworks[framework].min_request;
  bool any = false, fits = true;
  for (size_t i = 0; i < max_resources; ++i) {
    d.offer[i] = std::max(0.0, std::min(free[i], room[i]));
    any |= d.offer[i] > 0;
    fits &= d.offer[i] >= smallest[i];
  }
  d.offered = d.accepted && d.level_ok && any && fits;
  if (!d.offered) d.offer = res_vec{};
  return d;
}

std::vector<std::string> scenario::candidates(size_t framework) {
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t a = 0; a < in_.agents.size(); ++a) {
    auto d = decide(framework, a);
    if (d.offered) ranked.emplace_back(d.score, a);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](auto& x, auto& y) { return x.first > y.first; });
  std::vector<std::string> out;
  for (auto& [score, a] : ranked) out.push_back(in_.agents[a].id);
  return out;
}

std::optional<rule_value> scenario::metric(const std::string& name, const std::string& role,
                                           std::string& error) {
  int rule = rule_named(rule_kind::metric, "metric " + name);
  if (rule < 0) {
    error = "the policy has no `every cycle` metric `" + name + "`";
    return std::nullopt;
  }
  bool per_role = prog_->rules[static_cast<size_t>(rule)].stage == chunk_id::role;
  if (per_role && role.empty()) {
    error = "metric `" + name + "` is per role: name the role, e.g. metric(\"" + name +
            "\", \"prod\")";
    return std::nullopt;
  }
  if (!per_role && !role.empty()) {
    error = "metric `" + name + "` does not depend on the role; drop the role argument";
    return std::nullopt;
  }
  if (per_role) {
    int r = role_index(role);
    if (r < 0) {
      error = "no role `" + role + "` in this test";
      return std::nullopt;
    }
    vm_.prepare_role(static_cast<size_t>(r));
  }
  return vm_.read(static_cast<size_t>(rule));
}

bool cluster_fixture(const std::string& name, std::vector<agent_view>& agents) {
  static const char* words[] = {"zero", "one", "two", "three", "four",   "five", "six",
                                "seven", "eight", "nine", "ten", "eleven", "twelve"};
  auto number = [&](const std::string& text, long& out) {
    for (long i = 0; i <= 12; ++i)
      if (text == words[i]) return out = i, true;
    if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos)
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
