// Expression checking: name resolution, types and units, stages.
#include <algorithm>
#include <cmath>

#include "agora/policy/detail/check_context.hpp"
#include "agora/policy/formatter.hpp"

namespace agora::policy::detail {

namespace {

using K = type_kind;

struct field {
  const char* name;
  type_kind kind;
  bool optional = false;
  type_kind elem = K::error;  ///< For lists.
};

type to_type(const field& f) {
  if (f.kind == K::list) return type::list_of(type::of(f.elem)).with_optional(f.optional);
  return type::of(f.kind).with_optional(f.optional);
}

/// Fields the runtime provides on each domain object (POLICY-LANGUAGE.md 6).
const std::vector<field>& fields_of(type_kind object) {
  static const std::vector<field> none;
  static const std::vector<field> cluster = {
      {"total", K::res}, {"free", K::res}, {"agents", K::count}, {"cycle", K::cycle_info}};
  static const std::vector<field> cycle = {{"time", K::time}};
  static const std::vector<field> role = {{"name", K::string},
                                          {"path", K::string},
                                          {"weight", K::number},
                                          {"guarantee", K::res, true},
                                          {"limit", K::res, true},
                                          {"allocated", K::res},
                                          {"demand", K::res},
                                          {"active", K::boolean},
                                          {"below_guarantee", K::boolean},
                                          {"fair_share", K::ratio},
                                          {"preemptible", K::boolean},
                                          {"frameworks", K::list, false, K::framework}};
  static const std::vector<field> framework = {{"id", K::string},
                                               {"role", K::role},
                                               {"user", K::string},
                                               {"labels", K::labels},
                                               {"allocated", K::res},
                                               {"min_request", K::res},
                                               {"max_request", K::res},
                                               {"pending", K::list, false, K::res},
                                               {"locality_level", K::string},
                                               {"waiting", K::duration}};
  static const std::vector<field> agent = {{"id", K::string},
                                           {"hostname", K::string},
                                           {"attributes", K::attributes},
                                           {"metrics", K::metrics},
                                           {"total", K::res},
                                           {"free", K::res},
                                           {"used", K::res},
                                           {"tasks", K::list, false, K::task}};
  static const std::vector<field> task = {{"priority", K::number},
                                          {"runtime", K::duration},
                                          {"res", K::res},
                                          {"role", K::role},
                                          {"framework", K::framework}};
  static const std::vector<field> offer = {{"res", K::res},
                                           {"role", K::role},
                                           {"framework", K::framework},
                                           {"agent", K::agent},
                                           {"locality", K::string}};
  switch (object) {
    case K::cluster:
      return cluster;
    case K::cycle_info:
      return cycle;
    case K::role:
      return role;
    case K::framework:
      return framework;
    case K::agent:
      return agent;
    case K::task:
      return task;
    case K::offer:
      return offer;
    default:
      return none;
  }
}

struct domain_var {
  const char* name;
  type_kind kind;
  policy::stage st;
};

const domain_var domain_vars[] = {
    {"cluster", K::cluster, stage::cycle},
    {"role", K::role, stage::role},
    {"framework", K::framework, stage::framework},
    {"agent", K::agent, stage::agent},
    {"offer", K::offer, stage::event},
    {"task", K::task, stage::event},
};

struct collection {
  const char* name;
  type_kind elem;
  const char* limit;
};

const collection collections[] = {{"roles", K::role, "roles"},
                                  {"frameworks", K::framework, "frameworks"},
                                  {"agents", K::agent, "agents"}};

/// Built-in and standard-library functions; `module` is empty for built-ins.
struct builtin {
  const char* name;
  const char* module;
  size_t min_args;
  size_t max_args;
};

const builtin builtins[] = {
    {"fits", "", 2, 2},
    {"max", "", 1, 16},
    {"min", "", 1, 16},
    {"mean", "", 1, 1},
    {"clamp", "", 3, 3},
    {"abs", "", 1, 1},
    {"size", "", 1, 1},
    {"has", "", 1, 1},
    {"dominant_share", "std.fairness", 1, 1},
    {"split", "std.strings", 2, 2},
    {"contains", "std.strings", 2, 2},
    {"zones_of_racks", "std.locality", 1, 1},
};

bool is_dim(type_kind k) {
  return k == K::ratio || k == K::duration || k == K::cores || k == K::bytes || k == K::count;
}

std::string quoted(const type& t) { return "`" + to_string(t) + "`"; }

/// Counts a node on the path being checked for as long as it is visited.
class depth_guard {
 public:
  explicit depth_guard(check_state& state) : state_(state) {
    ++state_.depth;
    state_.peak_depth = std::max(state_.peak_depth, state_.depth);
  }
  ~depth_guard() { --state_.depth; }
  depth_guard(const depth_guard&) = delete;
  depth_guard& operator=(const depth_guard&) = delete;

 private:
  check_state& state_;
};

}  // namespace

bool expr_checker::within_limits(source_range use, const std::string& name, size_t levels,
                                 size_t height) {
  bool too_many = state_.expanding.size() + levels > check_state::max_definition_depth;
  bool too_tall = state_.depth + height > check_state::max_inlined_height;
  if (!too_many && !too_tall) return true;
  if (state_.too_deep_reported) return false;
  state_.too_deep_reported = true;
  if (too_many) {
    // The chain of definitions being inlined, shortened in the middle.
    std::vector<std::string> names;
    for (size_t i : state_.expanding) names.push_back(state_.lets[i].decl->name);
    names.push_back(name);
    std::string chain;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names.size() > 6 && i >= 2 && i + 3 < names.size()) {
        if (i == 2) chain += " -> ...";
        continue;
      }
      chain += (chain.empty() ? "`" : " -> `") + names[i] + "`";
    }
    if (levels > 1) chain += " -> ...";
    report("E0103", use,
           "definitions nested more than " + std::to_string(check_state::max_definition_depth) +
               " levels deep: " + chain,
           "every `let` and `fn` is inlined where it is used; use fewer nested definitions");
  } else {
    report("E0103", use,
           "expression nested more than " + std::to_string(check_state::max_inlined_height) +
               " levels deep once `" + name + "` is inlined",
           "every `let` and `fn` is inlined where it is used; use fewer nested definitions or "
           "shorter chains of operators");
  }
  return false;
}

void expr_checker::collect_guards(const ast::expr& cond, bool negated) {
  if (cond.kind == ast::expr_kind::unary && cond.uop == ast::unary_op::logical_not) {
    collect_guards(*cond.children[0], !negated);
    return;
  }
  // When `a && b` holds, both hold; when `a || b` fails, both fail.
  if (cond.kind == ast::expr_kind::binary &&
      cond.bop == (negated ? ast::binary_op::logical_or : ast::binary_op::logical_and)) {
    collect_guards(*cond.children[0], negated);
    collect_guards(*cond.children[1], negated);
    return;
  }
  if (!negated && cond.kind == ast::expr_kind::name && cond.has_args && cond.name == "has" &&
      cond.children.size() == 1 && cond.ref == ast::name_ref::builtin)
    narrowed_.push_back(format_expr(*cond.children[0]));
}

bool expr_checker::is_plain_number(const ast::expr& e) {
  if (e.kind == ast::expr_kind::unary && e.uop == ast::unary_op::negate)
    return is_plain_number(*e.children[0]);
  return e.kind == ast::expr_kind::literal &&
         (e.lit == ast::literal_kind::integer || e.lit == ast::literal_kind::floating);
}

double expr_checker::cardinality(const ast::expr& e) const {
  auto limit = [&](const char* name) -> double {
    auto it = state_.limits.find(name);
    return it == state_.limits.end() ? -1 : static_cast<double>(it->second);
  };
  if (e.kind == ast::expr_kind::list) return static_cast<double>(e.children.size());
  if (e.kind == ast::expr_kind::name && e.ref == ast::name_ref::param) {
    // A collection passed to a function keeps its bound.
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it)
      if (it->name == e.name) return it->cardinality;
    return -1;
  }
  if (e.kind == ast::expr_kind::name && e.ref == ast::name_ref::collection)
    return limit(e.name.c_str());
  if (e.kind == ast::expr_kind::name && e.ref == ast::name_ref::let && e.decl_index >= 0 &&
      !e.has_args) {
    // Only through a let checked without errors: a recursive one (E0401) or
    // one nested too deep (E0103) would not end.
    auto& entry = state_.lets[static_cast<size_t>(e.decl_index)];
    if (entry.status != let_entry::state::done || entry.result.is_error()) return -1;
    return entry.decl->value ? cardinality(*entry.decl->value) : -1;
  }
  if (e.kind == ast::expr_kind::member && !e.has_args) {
    auto object = e.children[0]->ty.kind;
    if (object == K::role && e.name == "frameworks") return limit("frameworks");
    if (object == K::agent && e.name == "tasks") return limit("tasks_per_agent");
    if (object == K::framework && e.name == "pending") return limit("pending_per_framework");
  }
  return -1;
}

type expr_checker::check(ast::expr& e, const rule_scope& scope) {
  auto* saved = scope_;
  scope_ = &scope;
  auto t = visit(e);
  scope_ = saved;
  return t;
}

type expr_checker::visit(ast::expr& e) {
  depth_guard guard(state_);
  e.st = stage::constant;
  type t;
  // Definitions are bounded where they are used (`within_limits`), so this
  // only guards against a path that escaped those checks.
  if (state_.depth > check_state::max_inlined_height) {
    if (!state_.too_deep_reported)
      report("E0103", e.range,
             "expression nested more than " + std::to_string(check_state::max_inlined_height) +
                 " levels deep once definitions are inlined");
    state_.too_deep_reported = true;
    e.ty = t;
    return t;
  }
  switch (e.kind) {
    case ast::expr_kind::literal:
      t = literal(e);
      break;
    case ast::expr_kind::name:
      t = e.has_args ? call(e) : name(e);
      break;
    case ast::expr_kind::member:
      t = member(e);
      break;
    case ast::expr_kind::binary:
      t = binary(e);
      break;
    case ast::expr_kind::aggregate:
      t = aggregate(e);
      break;
    case ast::expr_kind::index: {
      auto lt = visit(*e.children[0]);
      auto it = visit(*e.children[1]);
      if (lt.is_error() || it.is_error()) break;
      if (lt.kind != K::list || lt.optional || !it.is_numeric()) {
        report("E0301", e.range, "cannot index " + quoted(lt) + " with " + quoted(it),
               "only lists can be indexed, with a number");
        break;
      }
      t = *lt.elem;
      break;
    }
    case ast::expr_kind::unary: {
      auto x = visit(*e.children[0]);
      if (x.is_error() || !require_non_optional(*e.children[0])) break;
      if (e.uop == ast::unary_op::logical_not) {
        if (x.kind != K::boolean)
          report("E0301", e.children[0]->range, "`!` needs a `bool`, found " + quoted(x));
        else
          t = x;
      } else if (x.is_numeric() || x.kind == K::res || x.kind == K::ratios) {
        t = x;
      } else {
        report("E0301", e.children[0]->range, "cannot negate " + quoted(x));
      }
      break;
    }
    case ast::expr_kind::conditional: {
      auto c = visit(*e.children[0]);
      // `has(x) ? x.f : d` reads `x` as present in the first branch.
      size_t mark = narrowed_.size();
      collect_guards(*e.children[0], false);
      auto a = visit(*e.children[1]);
      narrowed_.resize(mark);
      collect_guards(*e.children[0], true);
      auto b = visit(*e.children[2]);
      narrowed_.resize(mark);
      if (!c.is_error() && require_non_optional(*e.children[0]) && c.kind != K::boolean)
        report("E0301", e.children[0]->range, "condition must be a `bool`, found " + quoted(c));
      t = unify(*e.children[1], *e.children[2], a, b, e, "branches");
      if (!t.is_error()) t.optional = a.optional || b.optional;
      break;
    }
    case ast::expr_kind::held: {
      visit(*e.children[0]);
      visit(*e.children[1]);
      report("E0502", e.range, "`for` is only allowed in a `preempt` condition",
             "held-for timers (`cond for 30s`) belong to `preempt { when ...; }`");
      break;
    }
    case ast::expr_kind::list: {
      type elem;
      bool first = true;
      for (auto& c : e.children) {
        auto ct = visit(*c);
        if (first) {
          elem = ct;
          first = false;
        } else if (!elem.is_error() && !ct.is_error() && ct != elem) {
          elem = unify(*e.children[0], *c, elem, ct, e, "list elements");
        }
      }
      t = type::list_of(elem);
      break;
    }
    case ast::expr_kind::object: {
      bool ok = true;
      for (size_t i = 0; i < e.keys.size(); ++i) {
        auto vt = visit(*e.children[i]);
        if (e.key_is_string[i]) {
          report("E0301", e.children[i]->range, "quoted keys are only allowed in test blocks",
                 "a resource literal looks like `{cpus: 4, mem: 8GiB}`");
          ok = false;
          continue;
        }
        if (!is_resource(e.keys[i])) {
          auto guess = state_.closest(e.keys[i], resource_names());
          report("E0203", e.children[i]->range, "unknown resource `" + e.keys[i] + "`",
                 guess.empty() ? "" : "did you mean `" + guess + "`?");
          ok = false;
          continue;
        }
        auto want = resource_type(e.keys[i], false);
        ast::expr dummy;
        dummy.range = e.children[i]->range;
        if (!vt.is_error() &&
            unify(dummy, *e.children[i], want, vt, *e.children[i], "resource").is_error())
          ok = false;
      }
      if (ok) t = type::of(K::res);
      break;
    }
  }
  for (auto& c : e.children) e.st = join(e.st, c->st);
  if (e.where_) e.st = join(e.st, e.where_->st);
  if (e.body_) e.st = join(e.st, e.body_->st);
  if (t.optional && !narrowed_.empty() &&
      std::find(narrowed_.begin(), narrowed_.end(), format_expr(e)) != narrowed_.end())
    t.optional = false;  // Guarded by `has(...)`.
  e.ty = t;
  return t;
}

type expr_checker::literal(ast::expr& e) {
  switch (e.lit) {
    case ast::literal_kind::integer:
    case ast::literal_kind::floating:
      return type::of(K::number);
    case ast::literal_kind::percent:
      if (e.value > 1.0 + 1e-12) {
        report("E0308", e.range, "`" + e.text + "` is more than 100%",
               "ratios are between 0% and 100%");
        return {};
      }
      return type::of(K::ratio);
    case ast::literal_kind::quantity: {
      auto* u = find_unit(e.unit);
      if (!u) {
        auto guess = state_.closest(e.unit, unit_names());
        report("E0106", e.range, "unknown unit `" + e.unit + "`",
               guess.empty() ? "units are B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, ms, s, min, h, d"
                             : "did you mean `" + guess + "`?");
        return {};
      }
      if (u->decimal) {
        std::string binary = e.unit.substr(0, 1) + "iB";
        report("W0805", e.range, "decimal byte unit `" + e.unit + "`",
               "`" + e.unit + "` is a power of 1000; write `" + binary +
                   "` for the binary unit most tools mean");
      }
      return type::of(u->kind);
    }
    case ast::literal_kind::string:
      return type::of(K::string);
    case ast::literal_kind::boolean:
      return type::of(K::boolean);
  }
  return {};
}

void expr_checker::check_phase(ast::expr& e, policy::stage st, const std::string& what) {
  if (!scope_ || stage_leq(st, scope_->allowed)) return;
  if (st == stage::event) {
    report("E0501", e.range, what + " is only available in `on EVENT` metrics",
           "event objects (`offer`, `task`) exist only while the runtime handles an event");
    return;
  }
  report("E0501", e.range, scope_->rule + " cannot read " + what, scope_->phase_help);
}

bool expr_checker::require_non_optional(ast::expr& e) {
  if (!e.ty.optional || e.ty.is_error()) return true;
  std::string text(file_.slice(e.range));
  if (text.size() > 60) text = "this value";
  report("E0303", e.range, "`" + text + "` may be absent",
         "unwrap it with `??` (e.g. `" + (text.size() > 30 ? std::string("x") : text) +
             " ?? default`) or guard it with `has()`");
  return false;
}

std::vector<std::string> expr_checker::resource_names() const {
  std::vector<std::string> names = {"cpus", "mem", "disk", "gpus", "ports"};
  if (state_.schema)
    for (auto& r : state_.schema->resources) names.push_back(r.name);
  return names;
}

bool expr_checker::is_resource(const std::string& name) const {
  auto names = resource_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

type expr_checker::resource_type(const std::string& name, bool ratios) const {
  if (ratios) return type::of(K::ratio);
  if (name == "cpus") return type::of(K::cores);
  if (name == "mem" || name == "disk") return type::of(K::bytes);
  if (name == "ports") return type::of(K::ports);
  if (name == "gpus") return type::of(K::count);
  if (state_.schema)
    for (auto& r : state_.schema->resources)
      if (r.name == name) return r.field_type;
  return type::of(K::count);
}

type expr_checker::name(ast::expr& e) {
  for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
    if (it->name == e.name) {
      e.ref = it->ref;
      e.st = it->st;
      return it->ty;
    }
  }
  if (auto it = state_.let_index.find(e.name); it != state_.let_index.end()) {
    auto& entry = state_.lets[it->second];
    e.ref = ast::name_ref::let;
    e.decl_index = static_cast<int>(it->second);
    e.target = entry.decl;
    ++entry.uses;
    if (entry.decl->has_params) {
      report("E0301", e.range, "`" + e.name + "` is a function; call it with arguments");
      return {};
    }
    auto t = check_let(entry, e.range);
    e.st = entry.st;
    if (!t.is_error())
      check_phase(e, entry.st, "`" + e.name + "` (it depends on " + to_string(entry.st) + " data)");
    return t;
  }
  for (auto& v : domain_vars) {
    if (e.name == v.name) {
      e.ref = ast::name_ref::domain;
      e.st = v.st;
      check_phase(e, v.st, "`" + e.name + "`");
      if (v.st == stage::event && scope_ && scope_->allowed == stage::event &&
          ((e.name == std::string("offer")) !=
           (scope_->event == "offer" || scope_->event == "decline"))) {
        report("E0501", e.range,
               "`" + e.name + "` is not part of the `" + scope_->event + "` event");
        return {};
      }
      return type::of(v.kind);
    }
  }
  for (auto& c : collections) {
    if (e.name == c.name) {
      e.ref = ast::name_ref::collection;
      e.st = stage::cycle;
      return type::list_of(type::of(c.elem));
    }
  }
  if (is_resource(e.name)) {
    report("E0201", e.range, "resource name `" + e.name + "` used as a value",
           "read it from a resource vector, e.g. `agent.free." + e.name + "`");
    return {};
  }
  std::string guess;
  if (state_.suggestions_left > 0) {  // Building the list is the costly part.
    std::vector<std::string> candidates;
    for (auto& l : locals_) candidates.push_back(l.name);
    for (auto& [n, i] : state_.let_index)
      if (!state_.lets[i].decl->has_params) candidates.push_back(n);
    for (auto& v : domain_vars) candidates.emplace_back(v.name);
    for (auto& c : collections) candidates.emplace_back(c.name);
    guess = state_.closest(e.name, candidates);
  }
  report("E0201", e.range, "unknown name `" + e.name + "`",
         guess.empty() ? "" : "did you mean `" + guess + "`?");
  return {};
}

type expr_checker::member(ast::expr& e) {
  auto& object = *e.children[0];
  auto ot = visit(object);
  if (ot.is_error()) {
    // Arguments of `.only(...)`/`.without(...)` are resource names, not values.
    bool projection = e.has_args && (e.name == "only" || e.name == "without");
    if (!projection)
      for (size_t i = 1; i < e.children.size(); ++i) visit(*e.children[i]);
    return {};
  }
  if (!require_non_optional(object)) return {};
  if (e.has_args) return method(e, ot);
  if (ot.kind == K::res || ot.kind == K::ratios) {
    if (!is_resource(e.name)) {
      auto guess = state_.closest(e.name, resource_names());
      report("E0203", e.name_range, "unknown resource `" + e.name + "`",
             guess.empty() ? "resources are " +
                                 [&] {
                                   std::string s;
                                   for (auto& n : resource_names())
                                     s += (s.empty() ? "" : ", ") + n;
                                   return s;
                                 }()
                           : "did you mean `" + guess + "`?");
      return {};
    }
    return resource_type(e.name, ot.kind == K::ratios);
  }
  const std::vector<schema_field_info>* schema_fields = nullptr;
  const char* section = nullptr;
  if (ot.kind == K::labels || ot.kind == K::attributes || ot.kind == K::metrics) {
    section = ot.kind == K::labels       ? "framework.labels"
              : ot.kind == K::attributes ? "agent.attributes"
                                         : "agent.metrics";
    if (!state_.schema) {
      report("E0202", e.name_range, "unknown " + std::string(section) + " field `" + e.name + "`",
             std::string("no schema was given: declare it in `") + section +
                 "` of a schema file (--schema, or cluster.schema next to the policy)");
      return {};
    }
    schema_fields = ot.kind == K::labels       ? &state_.schema->framework_labels
                    : ot.kind == K::attributes ? &state_.schema->agent_attributes
                                               : &state_.schema->agent_metrics;
    std::vector<std::string> names;
    for (auto& f : *schema_fields) {
      if (f.name == e.name) return f.field_type;
      names.push_back(f.name);
    }
    auto guess = state_.closest(e.name, names);
    report("E0202", e.name_range, "unknown " + std::string(section) + " field `" + e.name + "`",
           guess.empty() ? "the schema does not declare it in `" + std::string(section) + "`"
                         : "did you mean `" + guess + "`?");
    return {};
  }
  auto& fields = fields_of(ot.kind);
  std::vector<std::string> names;
  for (auto& f : fields) {
    if (e.name == f.name) return to_type(f);
    names.emplace_back(f.name);
  }
  auto guess = state_.closest(e.name, names);
  report("E0202", e.name_range, quoted(ot) + " has no field `" + e.name + "`",
         guess.empty() ? "" : "did you mean `" + guess + "`?");
  return {};
}

type expr_checker::method(ast::expr& e, const type& object) {
  bool projection = e.name == "only" || e.name == "without";
  if (!projection || (object.kind != K::res && object.kind != K::ratios)) {
    for (size_t i = 1; i < e.children.size(); ++i) visit(*e.children[i]);
    report("E0204", e.name_range, quoted(object) + " has no method `" + e.name + "`",
           object.kind == K::res || object.kind == K::ratios
               ? "resource vectors have `.only(...)` and `.without(...)`"
               : "");
    return {};
  }
  if (e.children.size() < 2) {
    report("E0306", e.range, "`." + e.name + "()` needs at least one resource name");
    return {};
  }
  bool ok = true;
  for (size_t i = 1; i < e.children.size(); ++i) {
    auto& arg = *e.children[i];
    if (arg.kind != ast::expr_kind::name || arg.has_args) {
      report("E0301", arg.range, "`." + e.name + "()` takes resource names, e.g. `cpus, mem`");
      ok = false;
      continue;
    }
    if (!is_resource(arg.name)) {
      auto guess = state_.closest(arg.name, resource_names());
      report("E0203", arg.range, "unknown resource `" + arg.name + "`",
             guess.empty() ? "" : "did you mean `" + guess + "`?");
      ok = false;
      continue;
    }
    arg.ref = ast::name_ref::resource;
    arg.st = stage::constant;
  }
  return ok ? object : type{};
}

type expr_checker::check_let(let_entry& entry, source_range use) {
  const std::string& let_name = entry.decl->name;
  if (entry.status == let_entry::state::done) {
    // Checked once, but inlined at every use: the use must leave room for
    // everything the value inlines.
    if (!within_limits(use, let_name, entry.levels, entry.inlined_height)) return {};
    state_.peak_depth = std::max(state_.peak_depth, state_.depth + entry.inlined_height);
    state_.peak_levels = std::max(state_.peak_levels, state_.expanding.size() + entry.levels);
    return entry.result;
  }
  size_t index = static_cast<size_t>(&entry - state_.lets.data());
  if (entry.status == let_entry::state::checking) {
    std::string cycle;
    auto start = std::find(state_.expanding.begin(), state_.expanding.end(), index);
    for (auto it = start; it != state_.expanding.end(); ++it)
      cycle += "`" + state_.lets[*it].decl->name + "` -> ";
    cycle += "`" + entry.decl->name + "`";
    report("E0401", use, "recursive definition: " + cycle,
           "`let` and `fn` cannot refer to themselves: every policy must terminate");
    return {};
  }
  // Left unchecked when too deep here: a shallower use may still check it.
  if (!within_limits(use, let_name, 1, entry.decl->value->height)) return {};
  entry.status = let_entry::state::checking;
  // Measure how deep the value goes below this use (memoized lets it reads
  // count with their own measures).
  size_t outer_peak_depth = state_.peak_depth, outer_peak_levels = state_.peak_levels;
  size_t base_levels = state_.expanding.size();
  state_.peak_depth = state_.depth;
  state_.expanding.push_back(index);
  state_.peak_levels = state_.expanding.size();
  expr_checker sub(state_, *entry.file);
  rule_scope scope{"`let " + entry.decl->name + "`", stage::pair, "", ""};
  auto t = sub.check(*entry.decl->value, scope);
  state_.expanding.pop_back();
  entry.inlined_height = state_.peak_depth - state_.depth;
  entry.levels = state_.peak_levels - base_levels;
  state_.peak_depth = std::max(outer_peak_depth, state_.peak_depth);
  state_.peak_levels = std::max(outer_peak_levels, state_.peak_levels);
  type_kind declared;
  auto& value = *entry.decl->value;
  if (entry.decl->result && !t.is_error() && parse_type_name(entry.decl->result->name, declared)) {
    type want = type::of(declared).with_optional(entry.decl->result->optional);
    bool unitless = (declared == K::bytes || declared == K::duration) && is_plain_number(value) &&
                    value.value != 0;
    if (unitless) {
      std::string text(entry.file->slice(value.range));
      sub.report("E0305", value.range,
                 "`" + text + "` has no unit, but is declared " + quoted(want),
                 declared == K::bytes ? "write the unit: `" + text + "MiB`, `" + text + "GiB`, ..."
                                      : "write the unit: `" + text + "s`, `" + text + "min`, ...");
      t = {};
    } else if (t.kind != declared && !(t.kind == K::number && is_dim(declared))) {
      sub.report("E0301", value.range,
                 "`" + entry.decl->name + "` is declared " + quoted(want) + " but is " + quoted(t));
      t = {};
    } else {
      t = want;
    }
  }
  entry.result = t;
  entry.st = entry.decl->value->st;
  entry.status = let_entry::state::done;
  return t;
}

void expr_checker::check_generic_body(let_entry& entry) {
  expr_checker sub(state_, *entry.file);
  for (auto& p : entry.decl->params) {
    type t;
    type_kind k;
    if (p.annotation && parse_type_name(p.annotation->name, k))
      t = type::of(k).with_optional(p.annotation->optional);
    sub.locals_.push_back({p.name, t, stage::constant, ast::name_ref::param});
  }
  size_t index = static_cast<size_t>(&entry - state_.lets.data());
  state_.expanding.push_back(index);
  rule_scope scope{"`fn " + entry.decl->name + "`", stage::pair, "", ""};
  sub.check(*entry.decl->value, scope);
  state_.expanding.pop_back();
}

type expr_checker::call_let(ast::expr& e, let_entry& entry) {
  auto& decl = *entry.decl;
  // A call copied from a generic definition may hold that definition's
  // instantiation; only a successful check below gives it its own.
  e.body_.reset();
  std::vector<type> args;
  for (auto& a : e.children) args.push_back(visit(*a));
  if (args.size() != decl.params.size()) {
    report("E0306", e.range,
           "`" + decl.name + "` takes " + std::to_string(decl.params.size()) + " argument" +
               (decl.params.size() == 1 ? "" : "s") + ", " + std::to_string(args.size()) +
               " given");
    return {};
  }
  size_t index = static_cast<size_t>(&entry - state_.lets.data());
  if (std::find(state_.expanding.begin(), state_.expanding.end(), index) !=
      state_.expanding.end()) {
    std::string cycle;
    auto start = std::find(state_.expanding.begin(), state_.expanding.end(), index);
    for (auto it = start; it != state_.expanding.end(); ++it)
      cycle += "`" + state_.lets[*it].decl->name + "` -> ";
    report("E0401", e.range, "recursive definition: " + cycle + "`" + decl.name + "`",
           "`let` and `fn` cannot call themselves: every policy must terminate");
    return {};
  }
  if (!within_limits(e.range, decl.name, 1, decl.value->height)) return {};
  // Every call gets its own copy of the body, checked with the arguments'
  // types (the inlined form a compiler consumes); chains of calls can
  // multiply, so the copies are budgeted.
  constexpr size_t max_instantiations = 20000;
  constexpr size_t max_inlined_nodes = 200000;
  size_t body_size = ast::node_count(*decl.value);
  state_.inlined_nodes += body_size;
  if (++state_.instantiations > max_instantiations || state_.inlined_nodes > max_inlined_nodes) {
    if (!state_.blowup_reported)
      report("E0407", e.range,
             "inlining `" + decl.name + "` expands the policy past " +
                 std::to_string(max_instantiations) + " function bodies or " +
                 std::to_string(max_inlined_nodes) + " nodes",
             "functions are inlined at every call; compute shared values once in a "
             "parameterless `let` and call functions fewer times");
    state_.blowup_reported = true;
    return {};
  }
  expr_checker sub(state_, *entry.file);
  for (size_t i = 0; i < args.size(); ++i) {
    type pt = args[i];
    if (decl.params[i].annotation) {
      type_kind k;
      auto& ann = *decl.params[i].annotation;
      if (parse_type_name(ann.name, k)) {
        type want = type::of(k).with_optional(ann.optional);
        if (!args[i].is_error() && args[i].kind != k && !(args[i].kind == K::number && is_dim(k)))
          report("E0301", e.children[i]->range,
                 "argument " + std::to_string(i + 1) + " of `" + decl.name + "` must be " +
                     quoted(want) + ", found " + quoted(args[i]));
        pt = want;
      }
    }
    sub.locals_.push_back({decl.params[i].name, pt, e.children[i]->st, ast::name_ref::param,
                           cardinality(*e.children[i])});
  }
  state_.expanding.push_back(index);
  state_.peak_levels = std::max(state_.peak_levels, state_.expanding.size());
  rule_scope scope = scope_ ? *scope_ : rule_scope{};
  e.body_ = ast::clone(*decl.value);
  auto t = sub.check(*e.body_, scope);
  state_.expanding.pop_back();
  type_kind declared;
  if (decl.result && !t.is_error() && parse_type_name(decl.result->name, declared)) {
    type want = type::of(declared).with_optional(decl.result->optional);
    bool adopts = t.kind == K::number && is_dim(declared);
    if (t.kind != declared && !adopts) {
      report("E0301", e.range,
             "`" + decl.name + "` is declared " + quoted(want) + " but returns " + quoted(t));
      return {};
    }
    return want;
  }
  return t;
}

type expr_checker::call(ast::expr& e) {
  if (auto it = state_.let_index.find(e.name); it != state_.let_index.end()) {
    auto& entry = state_.lets[it->second];
    e.ref = ast::name_ref::let;
    e.decl_index = static_cast<int>(it->second);
    e.target = entry.decl;
    ++entry.uses;
    if (!entry.decl->has_params) {
      for (auto& a : e.children) visit(*a);
      report("E0301", e.range, "`" + e.name + "` is a value, not a function",
             "write `" + e.name + "` without arguments");
      return {};
    }
    return call_let(e, entry);
  }
  const builtin* fn = nullptr;
  for (auto& b : builtins)
    if (e.name == b.name) fn = &b;
  std::vector<type> args;
  for (auto& a : e.children) args.push_back(visit(*a));
  if (!fn) {
    std::string guess;
    if (state_.suggestions_left > 0) {
      std::vector<std::string> names;
      for (auto& b : builtins) names.emplace_back(b.name);
      for (auto& [n, i] : state_.let_index)
        if (state_.lets[i].decl->has_params) names.push_back(n);
      guess = state_.closest(e.name, names);
    }
    report("E0204", e.name_range, "unknown function `" + e.name + "`",
           guess.empty() ? "" : "did you mean `" + guess + "`?");
    return {};
  }
  if (*fn->module && !state_.modules.count(fn->module)) {
    report("E0204", e.name_range, "`" + e.name + "` is not defined",
           "it is in `" + std::string(fn->module) + "`: add `use " + fn->module + ";`");
    return {};
  }
  e.ref = ast::name_ref::builtin;
  if (args.size() < fn->min_args || args.size() > fn->max_args) {
    std::string want = fn->min_args == fn->max_args
                           ? std::to_string(fn->min_args)
                           : std::to_string(fn->min_args) + " to " + std::to_string(fn->max_args);
    report("E0306", e.range,
           "`" + e.name + "` takes " + want + " argument" + (fn->max_args == 1 ? "" : "s") + ", " +
               std::to_string(args.size()) + " given");
    return {};
  }
  for (auto& a : args)
    if (a.is_error()) return {};
  std::string n = e.name;
  auto arg_error = [&](size_t i, const std::string& want) {
    report("E0301", e.children[i]->range,
           "`" + n + "` expects " + want + ", found " + quoted(args[i]));
    return type{};
  };
  if (n == "has") return type::of(K::boolean);
  for (size_t i = 0; i < args.size(); ++i)
    if (!require_non_optional(*e.children[i])) return {};
  if (n == "fits") {
    for (size_t i = 0; i < 2; ++i)
      if (args[i].kind != K::res) return arg_error(i, "a `res`");
    return type::of(K::boolean);
  }
  if (n == "dominant_share") {
    if (args[0].kind != K::role && args[0].kind != K::framework)
      return arg_error(0, "a `role` or a `framework`");
    return type::of(K::ratio);
  }
  if (n == "size") {
    if (args[0].kind != K::list && args[0].kind != K::string && args[0].kind != K::ports)
      return arg_error(0, "a list, a string or `ports`");
    return type::of(K::count);
  }
  if (n == "split" || n == "contains") {
    for (size_t i = 0; i < 2; ++i)
      if (args[i].kind != K::string) return arg_error(i, "a `string`");
    return n == "split" ? type::list_of(type::of(K::string)) : type::of(K::boolean);
  }
  if (n == "zones_of_racks") {
    if (args[0].kind != K::list || !args[0].elem || args[0].elem->kind != K::string)
      return arg_error(0, "a `list<string>`");
    return type::list_of(type::of(K::string));
  }
  if (args.size() == 1 && (n == "max" || n == "min" || n == "mean")) {
    if (args[0].kind == K::ratios) return type::of(K::ratio);
    if (args[0].kind == K::list && args[0].elem && args[0].elem->is_numeric()) return *args[0].elem;
    if (args[0].kind == K::res)
      return arg_error(0,
                       "`ratios` (a `res` mixes units; divide by a total first, e.g. "
                       "`x.allocated / cluster.total`)");
    if (n != "mean" && args[0].is_numeric()) return args[0];
    return arg_error(0, "`ratios` or a list of numbers");
  }
  if (n == "abs") {
    if (!args[0].is_numeric()) return arg_error(0, "a number");
    return args[0];
  }
  // max/min of several values, clamp: all arguments share one dimension.
  type t = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    if (!args[i].is_numeric()) return arg_error(i, "a number");
    t = unify(*e.children[0], *e.children[i], t, args[i], e, "arguments");
    if (t.is_error()) return {};
  }
  if (!t.is_numeric()) return arg_error(0, "a number");
  return t;
}

type expr_checker::unify(ast::expr& l, ast::expr& r, const type& lt, const type& rt, ast::expr& at,
                         const std::string& verb) {
  if (lt.is_error() || rt.is_error()) return {};
  auto message = [&] {
    if (verb == "+") return "cannot add " + quoted(rt) + " to " + quoted(lt);
    if (verb == "-") return "cannot subtract " + quoted(rt) + " from " + quoted(lt);
    if (verb == "compare") return "cannot compare " + quoted(lt) + " with " + quoted(rt);
    if (verb == "??") return "`??` fallback is " + quoted(rt) + ", expected " + quoted(lt);
    return verb + " have different types: " + quoted(lt) + " and " + quoted(rt);
  };
  if (lt.kind == rt.kind) {
    if (lt.kind == K::list && lt.elem && rt.elem && lt.elem->kind != rt.elem->kind &&
        !lt.elem->is_error() && !rt.elem->is_error()) {
      report("E0301", at.range, message());
      return {};
    }
    return lt.with_optional(false);
  }
  auto adopt = [&](ast::expr& number, const type& dim) -> type {
    if (dim.kind == K::bytes || dim.kind == K::duration || dim.kind == K::time) {
      bool literal = is_plain_number(number);
      if (literal && number.value == 0) return dim.with_optional(false);
      if (literal) {
        std::string text(file_.slice(number.range));
        bool bytes = dim.kind == K::bytes;
        report("E0305", number.range,
               "`" + text + "` has no unit, but is used as " + quoted(type::of(dim.kind)),
               bytes ? "write the unit: `" + text + "MiB`, `" + text + "GiB`, ..."
                     : "write the unit: `" + text + "s`, `" + text + "min`, ...");
        return {};
      }
      report("E0302", at.range, message(),
             "a plain number cannot stand for " + quoted(type::of(dim.kind)));
      return {};
    }
    return dim.with_optional(false);
  };
  if (lt.kind == K::number && is_dim(rt.kind)) return adopt(l, rt);
  if (rt.kind == K::number && is_dim(lt.kind)) return adopt(r, lt);
  bool numeric = lt.is_numeric() && rt.is_numeric();
  report(numeric ? "E0302" : "E0301", at.range, message());
  return {};
}

type expr_checker::binary(ast::expr& e) {
  using B = ast::binary_op;
  auto& l = *e.children[0];
  auto& r = *e.children[1];
  auto lt = visit(l);
  // `has(x) && x.f` and `!has(x) || x.f` read `x` as present on the right.
  size_t mark = narrowed_.size();
  if (e.bop == B::logical_and) collect_guards(l, false);
  if (e.bop == B::logical_or) collect_guards(l, true);
  auto rt = visit(r);
  narrowed_.resize(mark);
  if (lt.is_error() || rt.is_error()) return {};
  const std::string op = ast::to_string(e.bop);
  switch (e.bop) {
    case B::coalesce: {
      auto t = unify(l, r, lt.with_optional(false), rt.with_optional(false), e, "??");
      return t.is_error() ? t : t.with_optional(rt.optional);
    }
    case B::logical_and:
    case B::logical_or:
      for (auto* side : {&l, &r}) {
        if (!require_non_optional(*side)) return {};
        if (side->ty.kind != K::boolean) {
          report("E0301", side->range,
                 "`" + op + "` needs `bool` operands, found " + quoted(side->ty));
          return {};
        }
      }
      return type::of(K::boolean);
    case B::eq:
    case B::ne: {
      auto t = unify(l, r, lt.with_optional(false), rt.with_optional(false), e, "compare");
      return t.is_error() ? t : type::of(K::boolean);
    }
    case B::lt:
    case B::le:
    case B::gt:
    case B::ge: {
      if (!require_non_optional(l) || !require_non_optional(r)) return {};
      auto t = unify(l, r, lt, rt, e, "compare");
      if (t.is_error()) return t;
      if (!t.is_numeric() && t.kind != K::string && t.kind != K::time) {
        report("E0301", e.range, "cannot order values of type " + quoted(t),
               t.kind == K::res ? "compare components (`x.cpus`) or use `fits(a, b)`" : "");
        return {};
      }
      return type::of(K::boolean);
    }
    case B::in: {
      if (!require_non_optional(r)) return {};
      if (rt.kind == K::ports) {
        if (!lt.is_numeric()) {
          report("E0301", l.range, "only port numbers can be `in` ports");
          return {};
        }
        return type::of(K::boolean);
      }
      if (rt.kind != K::list) {
        report("E0301", r.range, "`in` needs a list on the right, found " + quoted(rt));
        return {};
      }
      if (rt.elem && !rt.elem->is_error()) {
        auto t = unify(l, r, lt.with_optional(false), *rt.elem, e, "compare");
        if (t.is_error()) return t;
      }
      return type::of(K::boolean);
    }
    default:
      break;
  }
  if (!require_non_optional(l) || !require_non_optional(r)) return {};
  auto L = lt.kind;
  auto R = rt.kind;
  auto vector = [](type_kind k) { return k == K::res || k == K::ratios; };
  switch (e.bop) {
    case B::add:
    case B::sub:
      if (vector(L) && L == R) return lt;
      if (L == K::time && R == K::duration) return lt;
      if (e.bop == B::add && L == K::duration && R == K::time) return rt;
      if (e.bop == B::sub && L == K::time && R == K::time) return type::of(K::duration);
      if (e.bop == B::add && L == K::string && R == K::string) return lt;
      if (lt.is_numeric() && rt.is_numeric()) return unify(l, r, lt, rt, e, op);
      report(lt.is_numeric() || vector(L) ? "E0302" : "E0301", e.range,
             e.bop == B::add ? "cannot add " + quoted(rt) + " to " + quoted(lt)
                             : "cannot subtract " + quoted(rt) + " from " + quoted(lt));
      return {};
    case B::mul:
      if (L == K::number && R == K::number) return lt;
      if ((R == K::number || R == K::ratio) && (is_dim(L) || vector(L))) return lt;
      if ((L == K::number || L == K::ratio) && (is_dim(R) || vector(R))) return rt;
      report(lt.is_numeric() || vector(L) ? "E0302" : "E0301", e.range,
             "cannot multiply " + quoted(lt) + " by " + quoted(rt),
             "multiply by a plain number or a ratio");
      return {};
    case B::div:
      if (L == R && lt.is_numeric()) return type::of(L == K::number ? K::number : K::ratio);
      if (L == K::res && R == K::res) return type::of(K::ratios);
      if ((R == K::number || R == K::ratio) && (is_dim(L) || vector(L))) return lt;
      report(lt.is_numeric() || vector(L) ? "E0302" : "E0301", e.range,
             "cannot divide " + quoted(lt) + " by " + quoted(rt),
             L == K::number ? "a plain number divided by a quantity has no supported unit"
                            : "divide quantities of the same unit to get a ratio");
      return {};
    case B::mod:
      if ((L == K::number || L == K::count) && (R == K::number || R == K::count)) return lt;
      report("E0301", e.range,
             "`%` needs plain numbers, found " + quoted(lt) + " and " + quoted(rt));
      return {};
    default:
      return {};
  }
}

type expr_checker::aggregate(ast::expr& e) {
  auto& coll = *e.children[0];
  auto ct = visit(coll);
  type elem;
  if (!ct.is_error()) {
    if (!require_non_optional(coll)) {
    } else if (ct.kind != K::list) {
      report(
          "E0301", coll.range,
          "`" + std::string(ast::to_string(e.agg)) + "` ranges over a list, found " + quoted(ct));
    } else {
      elem = ct.elem ? *ct.elem : type{};
      if (cardinality(coll) < 0)
        report("E0402", coll.range, "cannot bound the size of this collection",
               "aggregates range over `roles`, `frameworks`, `agents`, `role.frameworks`, "
               "`agent.tasks`, `framework.pending` (sized by schema limits) or list literals");
    }
  }
  locals_.push_back({e.name, elem, coll.st, ast::name_ref::bound});
  type wt, bt;
  if (e.where_) {
    wt = visit(*e.where_);
    if (!wt.is_error() && require_non_optional(*e.where_) && wt.kind != K::boolean)
      report("E0301", e.where_->range, "`where` needs a `bool`, found " + quoted(wt));
  }
  if (e.body_) bt = visit(*e.body_);
  locals_.pop_back();
  std::string name = ast::to_string(e.agg);
  switch (e.agg) {
    case ast::aggregate_kind::count:
      if (e.body_) {
        report("E0301", e.body_->range, "`count` takes no `: value`; use `where`");
        return {};
      }
      return type::of(K::count);
    case ast::aggregate_kind::any:
    case ast::aggregate_kind::all:
      if (!e.body_) return type::of(K::boolean);
      if (bt.is_error()) return {};
      if (!require_non_optional(*e.body_)) return {};
      if (bt.kind != K::boolean) {
        report("E0301", e.body_->range, "`" + name + "` needs a `bool` value, found " + quoted(bt));
        return {};
      }
      return bt;
    default: {
      type value = e.body_ ? bt : elem;
      if (value.is_error()) return {};
      if (e.body_ && !require_non_optional(*e.body_)) return {};
      if (value.kind == K::ratios && e.agg != ast::aggregate_kind::sum) return type::of(K::ratio);
      if (!value.is_numeric() && !(e.agg == ast::aggregate_kind::sum && value.kind == K::res)) {
        report("E0301", (e.body_ ? *e.body_ : coll).range,
               "`" + name + "` needs numbers, found " + quoted(value));
        return {};
      }
      return value;
    }
  }
}

}  // namespace agora::policy::detail
