// The checker's driver: imports, declarations, quotas, locality, metrics,
// lints and costs. Expression typing lives in expr_checker.cpp.
#include "agora/policy/checker.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "agora/policy/detail/check_context.hpp"

namespace agora::policy {

namespace {

using detail::check_state;
using detail::expr_checker;
using detail::rule_scope;
using K = type_kind;

/// A guarantee or limit: constant amounts per resource.
struct quota {
  bool present = false;
  source_range range;
  std::map<std::string, double> amounts;
  std::map<std::string, source_range> ranges;
};

const std::vector<std::string>& std_modules() {
  static const std::vector<std::string> modules = {"std.fairness", "std.strings", "std.locality"};
  return modules;
}

/// Checks the declarations of one file.
class decl_checker {
 public:
  decl_checker(check_state& state, const source_file& file, std::vector<rule_cost>& costs)
      : state_(state), file_(file), exprs_(state, file), costs_(costs) {}

  void check(ast::file& f) {
    std::set<std::string> filters, scores, metrics;
    std::map<std::string, int> singletons;  // Declarations allowed once per file.
    auto once = [&](const std::string& what, source_range r) {
      if (++singletons[what] == 2)
        report("E0205", r, "a second `" + what + "` declaration",
               "a policy file has at most one `" + what + "`; merge them");
    };
    for (auto& d : f.decls) {
      source_range head{d.range.begin, d.range.begin + 1};
      if (auto* roles = std::get_if<ast::roles_decl>(&d.node)) {
        once("roles", head);
        check_roles(*roles);
      } else if (auto* g = std::get_if<ast::guarantees_decl>(&d.node)) {
        once("guarantees", head);
        if (g->mode != "best_effort" && g->mode != "hold_headroom") {
          auto guess = state_.closest(g->mode, {"best_effort", "hold_headroom"});
          report("E0209", g->mode_range, "unknown guarantees mode `" + g->mode + "`",
                 guess.empty() ? "modes are `best_effort` and `hold_headroom`"
                               : "did you mean `" + guess + "`?");
        }
      } else if (auto* o = std::get_if<ast::order_decl>(&d.node)) {
        once(o->frameworks ? "order frameworks" : "order roles", head);
        check_order(*o, d.range);
      } else if (auto* fl = std::get_if<ast::filter_decl>(&d.node)) {
        if (!filters.insert(fl->name).second)
          report("E0205", fl->name_range, "filter `" + fl->name + "` is declared twice");
        check_filter(*fl, d.range);
      } else if (auto* s = std::get_if<ast::score_decl>(&d.node)) {
        if (!scores.insert(s->name).second)
          report("E0205", s->name_range, "score `" + s->name + "` is declared twice");
        check_score(*s, d.range);
      } else if (std::get_if<ast::spread_decl>(&d.node)) {
        report("E0107", {d.range.begin, d.range.begin + 6},
               "`spread` constraints are not supported yet",
               "remove the line; a least-allocated `score` spreads load meanwhile");
      } else if (std::get_if<ast::preempt_decl>(&d.node)) {
        report("E0107", {d.range.begin, d.range.begin + 7},
               "`preempt` blocks are not supported yet",
               "remove the block; guarantees are met by ordering meanwhile");
      } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
        once("locality", head);
        check_locality(*l, d.range);
      } else if (auto* c = std::get_if<ast::cycle_decl>(&d.node)) {
        once("cycle", head);
        check_cycle(*c);
      } else if (auto* m = std::get_if<ast::metric_decl>(&d.node)) {
        if (!metrics.insert(m->name).second)
          report("E0205", m->name_range, "metric `" + m->name + "` is declared twice");
        check_metric(*m, d.range);
      } else if (auto* t = std::get_if<ast::test_decl>(&d.node)) {
        check_test(*t);
      }
      // `let`/`fn` are checked on use (and unused ones at the end).
    }
  }

 private:
  void report(std::string_view code, source_range range, std::string message,
              std::string help = {}) {
    state_.report(file_, code, range, std::move(message), std::move(help));
  }

  // ---- costs ----------------------------------------------------------------

  /// Adds the units of `e`'s nodes to `cost`, times `mult` (the product of
  /// the sizes of the aggregates around them). A call's inlined body counts
  /// at every call. A parameterless let is computed once per instance of its
  /// stage wherever it is read (its value reads no aggregate variable, so it
  /// is hoisted out of loops): only its index goes to `reads`.
  void walk(const ast::expr& e, double mult, std::array<double, 7>& cost,
            std::vector<size_t>& reads) {
    // Recursion: bounded by the checker's limits on inlined expressions.
    cost[static_cast<size_t>(e.st)] += mult;
    if (e.kind == ast::expr_kind::aggregate) {
      walk(*e.children[0], mult, cost, reads);
      double card = std::max(1.0, exprs_.cardinality(*e.children[0]));
      if (e.where_) walk(*e.where_, mult * card, cost, reads);
      if (e.body_) walk(*e.body_, mult * card, cost, reads);
      return;
    }
    for (auto& c : e.children) walk(*c, mult, cost, reads);
    if (e.kind == ast::expr_kind::name && e.body_) walk(*e.body_, mult, cost, reads);
    if (e.kind == ast::expr_kind::name && e.ref == ast::name_ref::let && !e.has_args &&
        e.decl_index >= 0)
      reads.push_back(static_cast<size_t>(e.decl_index));
  }

  /// Returns let `index` with its own cost and direct reads (memoized).
  detail::let_entry& costed(size_t index) {
    auto& entry = state_.lets[index];
    // A let not checked (yet) costs nothing: no rule read it.
    if (entry.costed || entry.status != detail::let_entry::state::done || entry.decl->has_params)
      return entry;
    entry.costed = true;
    walk(*entry.decl->value, 1, entry.own_cost, entry.reads);
    std::sort(entry.reads.begin(), entry.reads.end());
    entry.reads.erase(std::unique(entry.reads.begin(), entry.reads.end()), entry.reads.end());
    return entry;
  }

  /// Adds to `cost` each let in `reads`, and those they read in turn, once.
  void add_lets(std::vector<size_t> reads, std::array<double, 7>& cost) {
    size_t mark = ++state_.cost_rules;
    std::array<double, 7> lets{};
    while (!reads.empty()) {
      size_t i = reads.back();
      reads.pop_back();
      auto& entry = state_.lets[i];
      if (entry.cost_mark == mark) continue;
      if (state_.cost_let_visits_left == 0) {
        // Every checked let once: more than this rule can need.
        lets = {};
        for (size_t j = 0; j < state_.lets.size(); ++j)
          for (size_t k = 0; k < lets.size(); ++k) lets[k] += costed(j).own_cost[k];
        break;
      }
      --state_.cost_let_visits_left;
      entry.cost_mark = mark;
      auto& c = costed(i);
      for (size_t k = 0; k < lets.size(); ++k) lets[k] += c.own_cost[k];
      reads.insert(reads.end(), c.reads.begin(), c.reads.end());
    }
    for (size_t k = 0; k < lets.size(); ++k) cost[k] += lets[k];
  }

  double limit(const char* name) const {
    auto it = state_.limits.find(name);
    return it == state_.limits.end() ? 1.0 : static_cast<double>(it->second);
  }

  void add_cost(const std::string& rule, source_range range,
                const std::vector<const ast::expr*>& exprs) {
    std::array<double, 7> cost{};
    std::vector<size_t> reads;
    stage top = stage::constant;
    for (auto* e : exprs) {
      if (!e) continue;
      walk(*e, 1, cost, reads);
      top = join(top, e->st);
    }
    add_lets(std::move(reads), cost);
    double roles = limit("roles"), frameworks = limit("frameworks"), agents = limit("agents");
    std::array<double, 7> per = {0, 1, roles, frameworks, agents, frameworks * agents, 0};
    rule_cost rc;
    rc.rule = rule;
    rc.file = file_.name();
    rc.range = range;
    rc.stage = top;
    rc.pair_units = cost[static_cast<size_t>(stage::pair)];
    rc.units_by_stage = cost;
    for (size_t i = 0; i < cost.size(); ++i) rc.cycle_units += cost[i] * per[i];
    costs_.push_back(rc);
  }

  // ---- rules ----------------------------------------------------------------

  type check_bool(ast::expr& e, const rule_scope& scope, const std::string& what) {
    auto t = exprs_.check(e, scope);
    if (t.is_error()) return t;
    if (t.optional) {
      report("E0303", e.range, what + " may be absent",
             "unwrap it with `??` or guard it with `has()`");
      return {};
    }
    if (t.kind != K::boolean) {
      report("E0301", e.range, what + " must be a `bool`, found `" + to_string(t) + "`");
      return {};
    }
    return t;
  }

  void check_order(ast::order_decl& o, source_range range) {
    rule_scope scope;
    if (o.frameworks) {
      scope = {"`order frameworks`", stage::framework, "",
               "frameworks are ordered once per cycle, before any agent is considered"};
    } else {
      scope = {"`order roles`", stage::role, "",
               "roles are ordered before frameworks and agents are considered; use "
               "aggregates over `role.frameworks` for per-framework data"};
    }
    std::vector<const ast::expr*> exprs;
    for (auto& k : o.keys) {
      auto t = exprs_.check(*k.key, scope);
      exprs.push_back(k.key.get());
      if (t.is_error()) continue;
      if (t.optional) {
        report("E0303", k.key->range, "an ordering key may be absent",
               "unwrap it with `??` so every role or framework has a key");
      } else if (!t.is_numeric() && t.kind != K::string && t.kind != K::boolean &&
                 t.kind != K::time) {
        report("E0301", k.key->range, "cannot order by `" + to_string(t) + "`",
               t.kind == K::ratios ? "reduce it with `max(...)`, `min(...)` or `mean(...)`" : "");
      }
    }
    // Deterministic when some key is unique (later keys never decide then).
    const char* unique = o.frameworks ? "framework.id" : "role.name";
    bool is_unique = std::any_of(o.keys.begin(), o.keys.end(), [&](const ast::order_key& k) {
      std::string text(file_.slice(k.key->range));
      return text == unique || (!o.frameworks && text == "role.path");
    });
    auto& last = *o.keys.back().key;
    if (!is_unique)
      report("W0801", last.range,
             std::string("`order ") + (o.frameworks ? "frameworks" : "roles") +
                 "` may be non-deterministic: no key is unique",
             std::string("end with a unique tie-break: `, ") + unique + " asc`");
    add_cost(o.frameworks ? "order frameworks" : "order roles", range, exprs);
  }

  void check_filter(ast::filter_decl& f, source_range range) {
    rule_scope scope{"filter `" + f.name + "`", stage::pair, "", ""};
    auto t = check_bool(*f.cond, scope, "a filter");
    if (!t.is_error() && f.cond->st == stage::constant)
      report("W0802", f.cond->range, "filter `" + f.name + "` is constant",
             "it accepts every agent or none; remove it or make it depend on the agent");
    add_cost("filter " + f.name, range, {f.cond.get()});
  }

  void check_score(ast::score_decl& s, source_range range) {
    if (s.weight == 0)
      report("W0804", s.weight_range, "score `" + s.name + "` has weight 0",
             "it has no effect; remove it or give it a positive weight");
    else if (s.weight < 0)
      report("E0307", s.weight_range, "score weight must be positive, found " + s.weight_text);
    rule_scope scope{"score `" + s.name + "`", stage::pair, "", ""};
    auto t = exprs_.check(*s.value, scope);
    if (!t.is_error()) {
      if (t.optional) {
        report("E0303", s.value->range, "a score may be absent",
               "unwrap it with `??`, e.g. `... ?? 0.0`");
      } else if (t.kind != K::ratio && t.kind != K::number) {
        report("E0304", s.value->range,
               "score `" + s.name + "` must be a `ratio` in [0, 1], found `" + to_string(t) + "`",
               t.kind == K::ratios ? "reduce it with `mean(...)`, `max(...)` or `min(...)`"
                                   : "divide by a total to get a ratio");
      }
    }
    add_cost("score " + s.name, range, {s.value.get()});
  }

  void check_locality(ast::locality_decl& l, source_range range) {
    std::vector<const ast::expr*> exprs;
    if (l.guard) {
      rule_scope scope{"the `locality` guard", stage::framework, "",
                       "the guard is evaluated once per framework; put agent conditions in "
                       "`level ... when`"};
      check_bool(*l.guard, scope, "the locality guard");
      exprs.push_back(l.guard.get());
    }
    if (l.levels.empty()) {
      report("E0605", {range.begin, range.begin + 8}, "`locality` has no levels",
             "end with `level any;`");
      return;
    }
    std::set<std::string> names;
    for (auto& lv : l.levels) {
      if (!names.insert(lv.name).second)
        report("E0205", lv.name_range, "level `" + lv.name + "` is declared twice");
      if (lv.when) {
        rule_scope scope{"level `" + lv.name + "`", stage::pair, "", ""};
        check_bool(*lv.when, scope, "a level condition");
        exprs.push_back(lv.when.get());
      }
      if (lv.wait) {
        rule_scope scope{"a level's `wait`", stage::cycle, "",
                         "waits are fixed per cycle: use constants and `cluster` data"};
        auto t = exprs_.check(*lv.wait, scope);
        if (!t.is_error()) {
          if (lv.skips) {
            if (t.kind != K::number && t.kind != K::count)
              report("E0301", lv.wait->range,
                     "`wait ... skips` needs a count, found `" + to_string(t) + "`");
          } else if (expr_checker::is_plain_number(*lv.wait)) {
            std::string text(file_.slice(lv.wait->range));
            report("E0305", lv.wait->range, "`" + text + "` has no unit, but is used as `duration`",
                   "write the unit: `" + text + "s`, or count skipped offers: `wait " + text +
                       " skips`");
          } else if (t.kind != K::duration) {
            report("E0301", lv.wait->range,
                   "`wait` needs a `duration`, found `" + to_string(t) + "`");
          }
        }
      }
    }
    auto& last = l.levels.back();
    if (last.when)
      report("E0605", last.range, "the last locality level `" + last.name + "` is conditional",
             "end with an unconditional level, e.g. `level any;`, so every framework can "
             "eventually be placed");
    add_cost("locality", range, exprs);
  }

  /// Test blocks run with `agora policy test`; here only the expected
  /// diagnostic codes are validated.
  void check_test(ast::test_decl& t) {
    for (auto& step : t.steps) {
      if (step.what == ast::test_step::kind::given_policy) {
        // The policy under test is resolved like an import.
        auto name = step.text.size() >= 2 ? step.text.substr(1, step.text.size() - 2) : "";
        auto slash = file_.name().rfind('/');
        auto dir = slash == std::string::npos ? "" : file_.name().substr(0, slash + 1);
        std::string error;
        if (!source_file::load(name.rfind('/', 0) == 0 ? name : dir + name, error, 16))
          report("E0208", step.range, "cannot read the policy under test " + step.text,
                 "paths are relative to the test file");
        continue;
      }
      if (step.what != ast::test_step::kind::expect_compile_error) continue;
      auto code = step.text.size() >= 2 ? step.text.substr(1, step.text.size() - 2) : "";
      bool known = std::any_of(all_codes().begin(), all_codes().end(),
                               [&](const code_info& c) { return c.code == code; });
      if (!known)
        report("E0209", step.range, "unknown diagnostic code " + step.text,
               "codes are listed in docs/policy-errors.md");
    }
  }

  void check_cycle(ast::cycle_decl& c) {
    static const std::vector<std::string> known = {"sample_agents", "min_sample",
                                                   "max_offers per_framework", "max_pairs"};
    std::set<std::string> seen;
    for (auto& o : c.options) {
      std::string name;
      for (auto& w : o.words) name += (name.empty() ? "" : " ") + w;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        auto guess = state_.closest(name, known);
        report("E0209", o.name_range, "unknown cycle option `" + name + "`",
               guess.empty() ? "options are sample_agents, min_sample, max_offers "
                               "per_framework and max_pairs"
                             : "did you mean `" + guess + "`?");
        continue;
      }
      if (!seen.insert(name).second)
        report("E0205", o.name_range, "cycle option `" + name + "` is set twice");
      rule_scope scope{"a `cycle` option", stage::constant, "", "cycle options are constants"};
      auto t = exprs_.check(*o.value, scope);
      if (t.is_error()) continue;
      if (name == "sample_agents") {
        if (t.kind != K::ratio)
          report("E0301", o.value->range, "`sample_agents` needs a percentage, e.g. `10%`");
      } else if (t.kind != K::number || o.value->value < 0 ||
                 !expr_checker::is_plain_number(*o.value)) {
        report("E0301", o.value->range, "`" + name + "` needs a non-negative number");
      }
    }
  }

  // ---- roles and quotas -----------------------------------------------------

  std::vector<std::string> resource_names() const {
    std::vector<std::string> names = {"cpus", "mem", "disk", "gpus", "ports"};
    if (state_.schema)
      for (auto& r : state_.schema->resources) names.push_back(r.name);
    return names;
  }

  type_kind resource_kind(const std::string& res) const {
    if (res == "cpus") return K::cores;
    if (res == "mem" || res == "disk") return K::bytes;
    if (state_.schema)
      for (auto& r : state_.schema->resources)
        if (r.name == res) return r.field_type.kind;
    return K::count;
  }

  quota parse_quota(ast::expr& e, const std::string& what) {
    quota q;
    q.range = e.range;
    e.st = stage::constant;
    if (e.kind != ast::expr_kind::object) {
      report("E0309", e.range, what + " must be a resource literal",
             "write e.g. `{cpus: 8, mem: 32GiB}`");
      return q;
    }
    q.present = true;
    e.ty = type::of(K::res);
    auto names = resource_names();
    for (size_t i = 0; i < e.keys.size(); ++i) {
      auto& key = e.keys[i];
      auto& v = *e.children[i];
      v.st = stage::constant;
      source_range entry{v.range.begin, v.range.end};
      if (e.key_is_string[i] || std::find(names.begin(), names.end(), key) == names.end()) {
        auto guess = state_.closest(key, names);
        report("E0604", v.range, "unknown resource `" + key + "` in " + what,
               guess.empty() ? "" : "did you mean `" + guess + "`?");
        continue;
      }
      if (key == "ports") {
        report("E0603", v.range, "`ports` cannot appear in " + what,
               "port ranges are not quota-able (as in Mesos); remove the entry");
        continue;
      }
      if (q.amounts.count(key)) {
        report("E0205", v.range, "`" + key + "` appears twice in " + what);
        continue;
      }
      auto kind = resource_kind(key);
      bool plain = expr_checker::is_plain_number(v);
      bool quantity = v.kind == ast::expr_kind::literal && v.lit == ast::literal_kind::quantity;
      double value = v.kind == ast::expr_kind::unary ? -v.children[0]->value : v.value;
      if (!plain && !quantity) {
        report("E0309", v.range, "quota amounts must be constants",
               "write a literal such as `8` or `32GiB`");
        continue;
      }
      if (kind == K::bytes) {
        if (plain && value != 0) {
          std::string text(file_.slice(v.range));
          report("E0305", v.range,
                 "`" + text + "` has no unit, but `" + key + "` is measured in bytes",
                 "write the unit: `" + text + "MiB`, `" + text + "GiB`, ...");
          continue;
        }
        if (quantity) {
          auto* u = find_unit(v.unit);
          if (!u) {
            auto guess = state_.closest(v.unit, unit_names());
            report("E0106", v.range, "unknown unit `" + v.unit + "`",
                   guess.empty() ? "" : "did you mean `" + guess + "`?");
            continue;
          }
          if (u->kind != K::bytes) {
            report("E0302", v.range, "`" + key + "` is measured in bytes, found a duration");
            continue;
          }
          if (u->decimal)
            report("W0805", v.range, "decimal byte unit `" + v.unit + "`",
                   "`" + v.unit + "` is a power of 1000; write `" + v.unit.substr(0, 1) +
                       "iB` for the binary unit most tools mean");
        }
      } else if (quantity) {
        report("E0302", v.range,
               "`" + key + "` is measured in `" + to_string(kind) + "`, found `" + v.unit + "`",
               "write a plain number");
        continue;
      }
      if (value < 0) {
        report("E0301", v.range, "quota amounts cannot be negative");
        continue;
      }
      v.ty = type::of(kind);
      q.amounts[key] = value;
      q.ranges[key] = entry;
    }
    return q;
  }

  void check_roles(ast::roles_decl& r) {
    std::set<std::string> paths;
    for (auto& role : r.roles) check_role(role, "", paths);
  }

  /// Checks one role and its children; returns its guarantee.
  quota check_role(ast::role_decl& r, const std::string& parent, std::set<std::string>& paths) {
    std::string path = ast::role_path(parent, r);
    if (!r.is_default &&
        (r.name.empty() || r.name.find("//") != std::string::npos || r.name.back() == '/'))
      report("E0301", r.name_range, "invalid role name \"" + r.name + "\"");
    if (!paths.insert(path).second)
      report("E0205", r.name_range, "role `" + path + "` is declared twice");
    quota guarantee, limit;
    bool has_weight = false, has_preemptible = false;
    std::vector<quota> children;
    std::vector<const ast::role_decl*> child_decls;
    using item_kind = ast::role_item::kind;
    for (auto& item : r.items) {
      switch (item.what) {
        case item_kind::weight: {
          if (has_weight) report("E0205", item.range, "`weight` is set twice for `" + path + "`");
          has_weight = true;
          auto& v = *item.value;
          rule_scope scope{"a role weight", stage::constant, "", "weights are constants"};
          auto t = exprs_.check(v, scope);
          if (t.is_error()) break;
          if (t.kind != K::number) {
            report("E0301", v.range,
                   "a weight must be a plain number, found `" + to_string(t) + "`");
          } else if (!expr_checker::is_plain_number(v)) {
            report("E0309", v.range, "a weight must be a number literal");
          } else {
            double w = v.kind == ast::expr_kind::unary ? -v.children[0]->value : v.value;
            if (w <= 0)
              report("E0307", v.range,
                     "weight of `" + path + "` must be positive, found " +
                         std::string(file_.slice(v.range)),
                     "a role with weight 0 would never be served; use a small weight such as "
                     "`0.1`");
          }
          break;
        }
        case item_kind::guarantee:
          if (guarantee.present)
            report("E0205", item.range, "`guarantee` is set twice for `" + path + "`");
          guarantee = parse_quota(*item.value, "a guarantee");
          break;
        case item_kind::limit:
          if (limit.present) report("E0205", item.range, "`limit` is set twice for `" + path + "`");
          limit = parse_quota(*item.value, "a limit");
          break;
        case item_kind::preemptible: {
          if (has_preemptible)
            report("E0205", item.range, "`preemptible` is set twice for `" + path + "`");
          has_preemptible = true;
          auto& v = *item.value;
          if (v.kind != ast::expr_kind::literal || v.lit != ast::literal_kind::boolean) {
            report("E0309", v.range, "`preemptible` must be `true` or `false`");
          } else {
            v.ty = type::of(K::boolean);
          }
          break;
        }
        case item_kind::child:
          if (r.is_default) {
            report("E0301", item.child->name_range, "`default` cannot have child roles");
            break;
          }
          children.push_back(check_role(*item.child, path, paths));
          child_decls.push_back(item.child.get());
          break;
      }
    }
    if (guarantee.present && limit.present) {
      for (auto& [res, g] : guarantee.amounts) {
        auto it = limit.amounts.find(res);
        if (it != limit.amounts.end() && g > it->second)
          report("E0602", guarantee.ranges[res],
                 "guarantee of `" + path + "` for " + res + " (" + format_amount(res, g) +
                     ") is above its limit (" + format_amount(res, it->second) + ")",
                 "a role can never use more than its limit; lower the guarantee or raise the "
                 "limit");
      }
    }
    if (guarantee.present) {
      std::map<std::string, double> sums;
      for (auto& c : children)
        for (auto& [res, v] : c.amounts) sums[res] += v;
      for (auto& [res, sum] : sums) {
        double own = guarantee.amounts.count(res) ? guarantee.amounts[res] : 0;
        if (sum > own * (1 + 1e-12)) {
          std::string list;
          for (size_t i = 0; i < children.size(); ++i)
            if (children[i].amounts.count(res))
              list += (list.empty() ? "" : " + ") + format_amount(res, children[i].amounts[res]);
          report("E0601", guarantee.ranges.count(res) ? guarantee.ranges[res] : guarantee.range,
                 "children of `" + path + "` guarantee " + format_amount(res, sum) + " " + res +
                     " in total (" + list + "), more than the " + format_amount(res, own) + " `" +
                     path + "` guarantees",
                 "children share their parent's guarantee: lower a child's guarantee or raise "
                 "the parent's");
        }
      }
    }
    return guarantee;
  }

  // ---- metrics --------------------------------------------------------------

  void check_metric(ast::metric_decl& m, source_range range) {
    using MK = ast::metric_decl::kind;
    static const std::vector<std::string> builtins = {
        "agora_policy_info",
        "agora_policy_eval_seconds",
        "agora_policy_eval_errors_total",
        "agora_policy_filter_rejections_total",
        "agora_policy_cost_units",
        "agora_policy_reloads_total",
        "agora_policy_last_reload_success_timestamp_seconds",
        "agora_policy_locality_relaxations_total",
        "agora_policy_shadow_divergence_ratio"};
    const std::string& name = m.name;
    auto ends_with = [](const std::string& s, const std::string& suffix) {
      return s.size() >= suffix.size() &&
             s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    bool name_ok = true;
    if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      report("E0701", m.name_range, "metric name `" + name + "` has upper-case letters",
             "Prometheus names are snake_case, e.g. `agora_policy_offers_total`");
      name_ok = false;
    } else if (name.rfind("agora_policy_", 0) != 0) {
      report("E0701", m.name_range,
             "metric name `" + name + "` does not start with `agora_policy_`",
             "policy metrics live under `agora_policy_`, e.g. `agora_policy_" + name + "`");
      name_ok = false;
    } else if (m.what == MK::histogram && (ends_with(name, "_bucket") || ends_with(name, "_sum") ||
                                           ends_with(name, "_count"))) {
      report("E0701", m.name_range, "histogram name `" + name + "` ends in a reserved suffix",
             "`_bucket`, `_sum` and `_count` are added by Prometheus");
      name_ok = false;
    }
    if (std::find(builtins.begin(), builtins.end(), name) != builtins.end())
      report("E0708", m.name_range, "`" + name + "` is a built-in policy metric",
             "choose another name");
    if (name_ok) {
      if (m.what == MK::counter && !ends_with(name, "_total"))
        report("E0702", m.name_range, "counter `" + name + "` does not end in `_total`",
               "rename it `" + name + "_total`");
      if (m.what != MK::counter && ends_with(name, "_total"))
        report("E0702", m.name_range, "only counters end in `_total`",
               "make it a counter or drop the suffix");
    }
    // Labels.
    static const std::vector<std::string> bounded = {"role",     "framework", "rack", "zone",
                                                     "locality", "level",     "rule"};
    std::set<std::string> seen;
    bool has_role = false, has_framework = false;
    for (auto& l : m.labels) {
      if (l.name.rfind("__", 0) == 0 || (m.what == MK::histogram && l.name == "le")) {
        report("E0707", l.range, "label name `" + l.name + "` is reserved");
        continue;
      }
      if (!seen.insert(l.name).second) {
        report("E0707", l.range, "label `" + l.name + "` appears twice");
        continue;
      }
      if (l.name == "agent" || l.name == "task") {
        report("E0704", l.range,
               "label `" + l.name + "` is unbounded: every " + l.name + " would be a new series",
               "aggregate over " + l.name + "s instead, or label by `rack` or `zone`");
        continue;
      }
      if (std::find(bounded.begin(), bounded.end(), l.name) == bounded.end()) {
        report("E0704", l.range, "label `" + l.name + "` has no bounded domain",
               "bounded labels are role, framework, rack, zone, locality, level and rule");
        continue;
      }
      if (l.name == "framework")
        report("W0806", l.range, "label `framework` creates one series per framework",
               "bounded only by the `frameworks` limit (" + format_number(limit("frameworks")) +
                   "); prefer `role`");
      has_role = has_role || l.name == "role";
      has_framework = has_framework || l.name == "framework";
      check_label_source(m, l);
    }
    // Value.
    rule_scope scope;
    std::vector<const ast::expr*> exprs;
    if (m.every_cycle) {
      stage allowed = has_framework ? stage::framework : has_role ? stage::role : stage::cycle;
      scope = {"metric `" + name + "`", allowed, "",
               "an `every cycle` metric is sampled once per value of its labels; per-agent and "
               "per-pair values need an aggregate (or a `role`/`framework` label)"};
      if (m.what == MK::counter)
        report("E0301", m.name_range, "counters count events",
               "use `on EVENT += value`, or make it a gauge");
    } else {
      static const std::vector<std::string> events = {"offer",  "decline", "launch",
                                                      "finish", "preempt", "relax"};
      if (std::find(events.begin(), events.end(), m.event) == events.end()) {
        auto guess = state_.closest(m.event, events);
        report("E0209", m.event_range, "unknown event `" + m.event + "`",
               guess.empty() ? "events are offer, decline, launch, finish, preempt and relax"
                             : "did you mean `" + guess + "`?");
        return;
      }
      scope = {"metric `" + name + "`", stage::event, m.event, ""};
      if (m.when) {
        check_bool(*m.when, scope, "a metric condition");
        exprs.push_back(m.when.get());
      }
      if (m.what == MK::counter && m.observe)
        report("E0301", m.value->range, "counters are incremented with `+=`, not `observe`");
      if (m.what == MK::histogram && !m.observe)
        report("E0301", m.value->range, "histograms `observe` values",
               "write `on " + m.event + " observe VALUE`");
      if (m.what == MK::gauge && m.observe)
        report("E0301", m.value->range, "gauges are set with `every cycle = ...` or `+=`");
    }
    auto t = exprs_.check(*m.value, scope);
    exprs.push_back(m.value.get());
    add_cost("metric " + name, range, exprs);
    if (!m.every_cycle) {
      auto& c = costs_.back();
      c.per_event = true;
      for (auto units : c.units_by_stage) c.event_units += units;
    }
    if (t.is_error()) return;
    if (t.optional) {
      report("E0303", m.value->range, "a metric value may be absent",
             "unwrap it with `??`; samples must be numbers");
      return;
    }
    if (!t.is_numeric()) {
      report("E0301", m.value->range,
             "a metric value must be a number, found `" + to_string(t) + "`");
      return;
    }
    std::string base =
        m.what == MK::counter && ends_with(name, "_total") ? name.substr(0, name.size() - 6) : name;
    static const std::pair<type_kind, const char*> suffixes[] = {
        {K::bytes, "_bytes"}, {K::duration, "_seconds"}, {K::ratio, "_ratio"}};
    if (name_ok) {
      for (auto& [kind, suffix] : suffixes) {
        if (t.kind == kind && !ends_with(base, suffix)) {
          report("E0703", m.name_range,
                 "`" + name + "` measures `" + to_string(t) + "`: its name must end in `" + suffix +
                     (m.what == MK::counter ? "_total`" : "`"),
                 "values are exported in base units (bytes, seconds; ratios in [0, 1])");
        } else if (t.kind != kind && t.kind != K::number && ends_with(base, suffix)) {
          report("E0703", m.name_range,
                 "`" + name + "` ends in `" + suffix + "` but measures `" + to_string(t) + "`");
        }
      }
    }
    if (m.buckets) check_buckets(m, t);
  }

  /// Reports a bounded label whose value the runtime cannot produce where the
  /// metric is sampled: `every cycle` samples bind `role`/`framework`; event
  /// samples take labels from the event's same-named fields (and `rack`/`zone`
  /// from the event agent's attributes, when the schema declares them).
  void check_label_source(const ast::metric_decl& m, const ast::label& l) {
    static const std::map<std::string, std::vector<std::string>> fields = {
        {"", {"role", "framework"}},
        {"offer", {"role", "framework", "locality", "rack", "zone"}},
        {"decline", {"role", "framework", "locality", "rack", "zone"}},
        {"launch", {"role", "framework", "rack", "zone"}},
        {"finish", {"role", "framework", "rack", "zone"}},
        {"preempt", {"role", "framework", "rack", "zone"}},
        {"relax", {"role", "framework", "level"}},
    };
    auto it = fields.find(m.every_cycle ? "" : m.event);
    if (it == fields.end()) return;  // Unknown event: reported elsewhere.
    auto& names = it->second;
    bool in_fields = std::find(names.begin(), names.end(), l.name) != names.end();
    bool available = in_fields;
    if (available && (l.name == "rack" || l.name == "zone")) {
      available = state_.schema &&
                  std::any_of(state_.schema->agent_attributes.begin(),
                              state_.schema->agent_attributes.end(),
                              [&](const schema_field_info& f) { return f.name == l.name; });
    }
    if (available) return;
    std::string where = m.every_cycle ? "`every cycle` samples" : "`" + m.event + "` events";
    std::string list;
    for (auto& n : names) list += (list.empty() ? "`" : ", `") + n + "`";
    report("E0709", l.range, "label `" + l.name + "` has no value in " + where,
           "labels available there: " + list +
               (in_fields ? " (`" + l.name + "` needs an agent attribute in the schema)" : ""));
  }

  void check_buckets(ast::metric_decl& m, const type& value) {
    if (m.what != ast::metric_decl::kind::histogram) {
      report("E0706", m.buckets->range, "only histograms have buckets");
      return;
    }
    rule_scope scope{"histogram buckets", stage::constant, "", "buckets are constants"};
    exprs_.check(*m.buckets, scope);
    double previous = -INFINITY;
    const ast::expr* previous_expr = nullptr;
    for (auto& b : m.buckets->children) {
      bool plain = expr_checker::is_plain_number(*b);
      bool quantity =
          b->kind == ast::expr_kind::literal &&
          (b->lit == ast::literal_kind::quantity || b->lit == ast::literal_kind::percent);
      if (!plain && !quantity) {
        report("E0309", b->range, "buckets must be literals");
        return;
      }
      if (b->ty.is_error()) return;
      type_kind want = value.kind;
      if (b->ty.kind != want &&
          !(b->ty.kind == K::number && want != K::bytes && want != K::duration)) {
        if (plain && (want == K::bytes || want == K::duration)) {
          std::string text(file_.slice(b->range));
          report("E0305", b->range,
                 "bucket `" + text + "` has no unit, but the histogram observes `" +
                     to_string(value) + "`",
                 want == K::bytes ? "write e.g. `" + text + "MiB`" : "write e.g. `" + text + "s`");
        } else {
          report("E0706", b->range,
                 "bucket is `" + to_string(b->ty) + "` but the histogram observes `" +
                     to_string(value) + "`");
        }
        return;
      }
      double v = b->kind == ast::expr_kind::unary ? -b->children[0]->value : b->value;
      if (previous_expr && !(v > previous)) {
        report("E0706", b->range,
               "buckets must increase: `" + std::string(file_.slice(b->range)) +
                   "` is not above `" + std::string(file_.slice(previous_expr->range)) + "`");
        return;
      }
      previous = v;
      previous_expr = b.get();
    }
  }

  check_state& state_;
  const source_file& file_;
  expr_checker exprs_;
  std::vector<rule_cost>& costs_;
};

/// Runs one check: loads imports, registers lets, checks every file.
class driver {
 public:
  driver(const check_options& options, check_result& result) : options_(options), result_(result) {
    state_.schema = options.schema;
    state_.limits = options.schema ? options.schema->limits : schema::default_limits();
    result_.limits = state_.limits;
    result_.limits_from_schema = options.schema != nullptr;
  }

  void run(const source_file& source) {
    auto parsed = parse(source, options_.parse);
    append(parsed.diagnostics);
    if (!parsed.file) return;
    result_.ast = std::move(parsed.file);
    auto& f = *result_.ast;
    if (f.kind == ast::file_kind::schema) {
      auto s = load_schema(source);
      append(s.diagnostics);
      return;
    }
    if (f.kind == ast::file_kind::test) {
      // Test blocks run with `agora policy test`; `check` validates what it can.
      register_file(source, f, true);
      check_file(source, f);
      append(state_.diagnostics);
      return;
    }
    std::vector<std::string> stack = {normalize(source.name())};
    if (options_.load_imports) load_imports(source, f, stack);
    register_file(source, f, true);
    for (auto& imported : files_) check_file(*imported->source, imported->ast);
    check_file(source, f);
    finish_lets();
    check_pair_budget();
    for (auto& imported : files_)
      result_.imports.push_back({imported->path, imported->source, std::move(imported->ast)});
    append(state_.diagnostics);
    state_.diagnostics.clear();
  }

 private:
  struct loaded {
    std::string path;
    std::shared_ptr<const source_file> source;
    ast::file ast;
  };

  static std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash + 1);
  }

  /// Collapses `a/./b` and `a/x/../b` so cycles are found by name.
  static std::string normalize(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    bool absolute = !path.empty() && path[0] == '/';
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      std::string part = path.substr(start, end - start);
      if (part == "..") {
        if (!parts.empty() && parts.back() != "..")
          parts.pop_back();
        else if (!absolute)
          parts.push_back(part);
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      start = end + 1;
    }
    std::string out = absolute ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out;
  }

  /// Reports E0210: `imp` names a file that is not read.
  void refuse_import(const source_file& source, const ast::import_decl& imp,
                     const std::string& why) {
    result_.diagnostics.push_back(
        make_diagnostic(source, "E0210", imp.range, "cannot import \"" + imp.path + "\": " + why,
                        "imports name policy files in the importing file's folder or below it"));
  }

  /// Returns true if `path` (`imp` of `source`, joined to its folder) is a
  /// regular file within the size limit inside that folder once symbolic
  /// links are resolved; reports E0210 or E0102 otherwise. A missing file
  /// passes, for the loader to report (E0208).
  bool admit_import(const source_file& source, const ast::import_decl& imp,
                    const std::string& path) {
    std::string relative = normalize(imp.path);
    if (relative == ".." || relative.rfind("../", 0) == 0) {
      refuse_import(source, imp, "it is outside the importing file's folder");
      return false;
    }
    std::string folder = directory_of(source.name());
    char resolved_folder[PATH_MAX], resolved[PATH_MAX];
    if (!realpath(folder.empty() ? "." : folder.c_str(), resolved_folder) ||
        !realpath(path.c_str(), resolved))
      return true;
    std::string prefix = resolved_folder;
    if (prefix.back() != '/') prefix += '/';
    if (std::string(resolved).rfind(prefix, 0) != 0) {
      refuse_import(source, imp, "it resolves outside the importing file's folder");
      return false;
    }
    struct stat st {};
    if (::stat(resolved, &st) != 0) return true;
    if (!S_ISREG(st.st_mode)) {
      refuse_import(source, imp, "it is not a regular file");
      return false;
    }
    if (static_cast<uint64_t>(st.st_size) > options_.parse.max_bytes) {
      result_.diagnostics.push_back(
          make_diagnostic(source, "E0102", imp.range,
                          "cannot import \"" + imp.path + "\": it is " +
                              std::to_string(st.st_size) + " bytes, more than the limit of " +
                              std::to_string(options_.parse.max_bytes) + " bytes",
                          "policies are small; split large files"));
      return false;
    }
    return true;
  }

  /// Returns true if `text` starts with `policy`, after blanks and comments.
  static bool starts_like_a_policy(const std::string& text) {
    size_t i = 0;
    while (i < text.size()) {
      if (std::isspace(static_cast<unsigned char>(text[i]))) {
        ++i;
      } else if (text.compare(i, 2, "//") == 0) {
        i = text.find('\n', i);
      } else if (text.compare(i, 2, "/*") == 0) {
        i = text.find("*/", i + 2);
        if (i != std::string::npos) i += 2;
      } else {
        break;
      }
    }
    if (i >= text.size() || text.compare(i, 6, "policy") != 0) return false;
    return i + 6 == text.size() ||
           !(std::isalnum(static_cast<unsigned char>(text[i + 6])) || text[i + 6] == '_');
  }

  /// Files imported through each other (E0103 beyond): loading recurses
  /// once per level.
  static constexpr size_t max_import_depth = 32;

  void load_imports(const source_file& source, ast::file& f, std::vector<std::string>& stack) {
    for (auto& imp : f.imports) {
      if (stack.size() > max_import_depth) {
        result_.diagnostics.push_back(make_diagnostic(
            source, "E0103", imp.range,
            "imports nested more than " + std::to_string(max_import_depth) + " files deep",
            "import shared definitions through fewer levels of files"));
        break;
      }
      if (imp.path.empty() || imp.path[0] == '/') {
        refuse_import(source, imp, "it is an absolute path");
        continue;
      }
      std::string path = normalize(directory_of(source.name()) + imp.path);
      auto cycle_at = std::find(stack.begin(), stack.end(), path);
      if (cycle_at != stack.end()) {
        std::string chain;
        for (auto it = cycle_at; it != stack.end(); ++it) chain += *it + " -> ";
        result_.diagnostics.push_back(make_diagnostic(source, "E0206", imp.range,
                                                      "import cycle: " + chain + path,
                                                      "imports must form a tree"));
        continue;
      }
      bool done =
          std::any_of(files_.begin(), files_.end(), [&](auto& l) { return l->path == path; });
      if (done || !admit_import(source, imp, path)) continue;
      std::string error;
      auto file = source_file::load(path, error, options_.parse.max_bytes);
      if (!file) {
        result_.diagnostics.push_back(make_diagnostic(
            source, "E0208", imp.range, "cannot import \"" + imp.path + "\": " + error,
            "paths are relative to the importing file"));
        continue;
      }
      auto shared = std::make_shared<const source_file>(std::move(*file));
      auto parsed = parse(*shared, options_.parse);
      if (!parsed.file && starts_like_a_policy(shared->text())) {
        // The user's own policy with a syntax error: its lines are quoted.
        append(parsed.diagnostics);
        continue;
      }
      if (!parsed.file || parsed.file->kind != ast::file_kind::policy) {
        // Anything else is reported here, never quoted: it may be any file.
        result_.diagnostics.push_back(make_diagnostic(
            source, "E0108", imp.range, "\"" + imp.path + "\" is not a policy file",
            parsed.file ? "" : "it does not start with `policy`; its content is not shown"));
        continue;
      }
      auto entry = std::make_unique<loaded>();
      entry->path = path;
      entry->source = shared;
      entry->ast = std::move(*parsed.file);
      stack.push_back(path);
      load_imports(*shared, entry->ast, stack);
      stack.pop_back();
      register_file(*shared, entry->ast, false);
      files_.push_back(std::move(entry));
    }
  }

  void register_file(const source_file& source, ast::file& f, bool main) {
    for (auto& u : f.uses) {
      auto& known = std_modules();
      if (std::find(known.begin(), known.end(), u.module) == known.end()) {
        auto guess = state_.closest(u.module, known);
        state_.report(source, "E0207", u.range, "unknown module `" + u.module + "`",
                      guess.empty() ? "modules are std.fairness, std.strings and std.locality"
                                    : "did you mean `" + guess + "`?");
        continue;
      }
      state_.modules.insert(u.module);
    }
    for (auto& d : f.decls) {
      auto* l = std::get_if<ast::let_decl>(&d.node);
      if (!l) continue;
      if (state_.let_index.count(l->name)) {
        state_.report(source, "E0205", l->name_range, "`" + l->name + "` is already defined",
                      "rename one of the definitions");
        continue;
      }
      std::set<std::string> params;
      for (auto& p : l->params)
        if (!params.insert(p.name).second)
          state_.report(source, "E0205", p.range, "parameter `" + p.name + "` appears twice");
      detail::let_entry entry;
      entry.decl = l;
      entry.file = &source;
      entry.main_file = main;
      state_.let_index[l->name] = state_.lets.size();
      state_.lets.push_back(entry);
    }
  }

  void check_file(const source_file& source, ast::file& f) {
    decl_checker checker(state_, source, result_.costs);
    checker.check(f);
  }

  void finish_lets() {
    for (size_t i = 0; i < state_.lets.size(); ++i) {
      auto& entry = state_.lets[i];
      if (entry.uses == 0 && entry.main_file)
        state_.report(*entry.file, "W0803", entry.decl->name_range,
                      "`" + entry.decl->name + "` is never used", "remove it, or use it in a rule");
      expr_checker checker(state_, *entry.file);
      if (!entry.decl->has_params) {
        checker.check_let(entry, entry.decl->name_range);
      } else {
        checker.check_generic_body(entry);
      }
    }
  }

  void check_pair_budget() {
    for (auto& c : result_.costs) {
      if (c.pair_units <= options_.pair_budget) continue;
      const source_file* file = main_source_;
      for (auto& l : files_)
        if (l->source->name() == c.file) file = l->source.get();
      result_.diagnostics.push_back(make_diagnostic(
          *file, "E0403", c.range,
          c.rule + " costs about " + format_number(c.pair_units) +
              " units per (framework, agent) pair, above the budget of " +
              format_number(options_.pair_budget),
          "move work that does not depend on the agent into a `let`, or aggregate over smaller "
          "collections"));
    }
  }

  void append(std::vector<diagnostic>& ds) {
    for (auto& d : ds) result_.diagnostics.push_back(std::move(d));
    ds.clear();
  }

 public:
  const source_file* main_source_ = nullptr;

 private:
  const check_options& options_;
  check_result& result_;
  check_state state_;
  std::vector<std::unique_ptr<loaded>> files_;
};

void sort_and_dedupe(std::vector<diagnostic>& ds) {
  std::stable_sort(ds.begin(), ds.end(), [](const diagnostic& a, const diagnostic& b) {
    if (a.file != b.file) return a.file < b.file;
    return a.range.begin < b.range.begin;
  });
  // Generic bodies are checked once per call and may repeat a diagnostic.
  std::set<std::tuple<std::string, uint32_t, uint32_t, std::string, std::string>> seen;
  std::vector<diagnostic> out;
  for (auto& d : ds)
    if (seen.emplace(d.file, d.range.begin, d.range.end, d.code, d.message).second)
      out.push_back(std::move(d));
  ds = std::move(out);
}

}  // namespace

check_result check_policy(const source_file& source, const check_options& options) {
  check_result result;
  try {
    driver d(options, result);
    d.main_source_ = &source;
    d.run(source);
  } catch (const std::exception& e) {
    result.diagnostics.push_back(make_file_diagnostic(
        source.name(), "E0101", std::string("internal checker failure: ") + e.what()));
  }
  sort_and_dedupe(result.diagnostics);
  return result;
}

check_result check_policy(const source_file& source, const policy::schema* schema) {
  check_options options;
  options.schema = schema;
  return check_policy(source, options);
}

std::string render_costs(const check_result& result) {
  std::string out = "cost report (";
  bool first = true;
  for (auto& name : schema::limit_names()) {
    auto it = result.limits.find(name);
    if (it == result.limits.end()) continue;
    out += (first ? "" : ", ") + name + " " + std::to_string(it->second);
    first = false;
  }
  out += result.limits_from_schema ? "; limits from the schema):\n"
                                   : "; default limits, no schema):\n";
  double total = 0;
  for (auto& c : result.costs) {
    out += "  " + c.rule + ": stage " + to_string(c.stage);
    if (c.pair_units > 0)
      out += ", " + format_number(c.pair_units) + (c.pair_units == 1 ? " unit" : " units") +
             " per pair";
    if (c.per_event) {
      out += ", " + format_number(c.event_units) + (c.event_units == 1 ? " unit" : " units") +
             " per event\n";
      continue;
    }
    out += ", ~" + format_number(c.cycle_units) + " units per cycle";
    std::string breakdown;
    for (size_t i = 1; i < c.units_by_stage.size(); ++i)
      if (c.units_by_stage[i] > 0)
        breakdown += (breakdown.empty() ? "" : ", ") + to_string(static_cast<stage>(i)) + " " +
                     format_number(c.units_by_stage[i]);
    if (!breakdown.empty()) out += " (per instance: " + breakdown + ")";
    out += "\n";
    total += c.cycle_units;
  }
  out += "  total: ~" + format_number(total) + " units per cycle (before agent sampling)\n";
  return out;
}

}  // namespace agora::policy
