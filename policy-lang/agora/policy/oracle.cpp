#include "agora/policy/oracle.hpp"

#include <cmath>
#include <map>

#include "agora/policy/compiler.hpp"
#include "agora/policy/detail/vm_ops.hpp"

namespace agora::policy {

using detail::flag;

namespace {

using K = type_kind;

/// An oracle value: a scalar, a vector, a domain object, absent or an error.
struct val {
  enum class obj { none, cluster, cycle, role, framework, agent, labels, attributes, metrics };
  flag st = flag::value;
  obj o = obj::none;
  bool is_vec = false;
  value_kind kind = value_kind::number;
  double n = 0;
  std::string s;
  res_vec v{};
  long idx = -1;  // For an aggregate's element: its index (else the bound object).
  std::vector<std::string> items;  // A list of strings.

  static val error() {
    val x;
    x.st = flag::error;
    return x;
  }
  static val missing() {
    val x;
    x.st = flag::absent;
    return x;
  }
  static val number(double d) {
    val x;
    x.n = d;
    return x;
  }
  static val boolean(bool b) {
    val x;
    x.kind = value_kind::boolean;
    x.n = b ? 1 : 0;
    return x;
  }
  static val text(std::string t) {
    val x;
    x.kind = value_kind::symbol;
    x.s = std::move(t);
    return x;
  }
  static val vec(const res_vec& r) {
    val x;
    x.is_vec = true;
    x.kind = value_kind::vector;
    x.v = r;
    return x;
  }
  static val object(obj o) {
    val x;
    x.o = o;
    return x;
  }
  bool ok() const { return st == flag::value; }
};

struct ctx {
  const eval_input& in;
  size_t role, framework, agent;
  const std::vector<std::string>& resources;
};

using env = std::map<std::string, val>;

int resource_id(const ctx& c, const std::string& name) {
  for (size_t i = 0; i < c.resources.size(); ++i)
    if (c.resources[i] == name) return static_cast<int>(i);
  return -1;
}

val eval(const ast::expr& e, const ctx& c, const env& scope);

val field(const ast::expr& e, const val& base, const ctx& c) {
  using O = val::obj;
  const std::string& m = e.name;
  auto& in = c.in;
  auto text_or_bool = [&](const std::map<std::string, std::string>& map) {
    auto it = map.find(m);
    if (it == map.end()) return val::missing();
    if (e.ty.kind == K::boolean) return val::boolean(it->second == "true");
    return val::text(it->second);
  };
  switch (base.o) {
    case O::cluster:
      if (m == "cycle") return val::object(O::cycle);
      if (m == "total") return val::vec(in.cluster.total);
      if (m == "free") return val::vec(in.cluster.free);
      if (m == "agents") return val::number(in.cluster.agents);
      return val::error();
    case O::cycle:
      return val::number(in.cluster.cycle_time);
    case O::role: {
      auto& r = in.roles[base.idx >= 0 ? static_cast<size_t>(base.idx) : c.role];
      if (m == "name") return val::text(r.name);
      if (m == "path") return val::text(r.path);
      if (m == "weight") return val::number(r.weight);
      if (m == "fair_share") return val::number(r.fair_share);
      if (m == "active") return val::boolean(r.active);
      if (m == "below_guarantee") return val::boolean(r.below_guarantee);
      if (m == "preemptible") return val::boolean(r.preemptible);
      if (m == "allocated") return val::vec(r.allocated);
      if (m == "demand") return val::vec(r.demand);
      if (m == "guarantee") return r.guarantee ? val::vec(*r.guarantee) : val::missing();
      if (m == "limit") return r.limit ? val::vec(*r.limit) : val::missing();
      return val::error();
    }
    case O::framework: {
      if (base.idx >= 0 && (m == "role" || m == "labels")) return val::error();
      auto& f = in.frameworks[base.idx >= 0 ? static_cast<size_t>(base.idx) : c.framework];
      if (m == "role") return val::object(O::role);
      if (m == "labels") return val::object(O::labels);
      if (m == "id") return val::text(f.id);
      if (m == "user") return val::text(f.user);
      if (m == "locality_level") return val::text(f.locality_level);
      if (m == "waiting") return val::number(f.waiting);
      if (m == "allocated") return val::vec(f.allocated);
      if (m == "min_request") return val::vec(f.min_request);
      if (m == "max_request") return val::vec(f.max_request);
      return val::error();
    }
    case O::agent: {
      if (base.idx >= 0 && (m == "attributes" || m == "metrics")) return val::error();
      auto& a = in.agents[base.idx >= 0 ? static_cast<size_t>(base.idx) : c.agent];
      if (m == "attributes") return val::object(O::attributes);
      if (m == "metrics") return val::object(O::metrics);
      if (m == "id") return val::text(a.id);
      if (m == "hostname") return val::text(a.hostname);
      if (m == "total") return val::vec(a.total);
      if (m == "free") return val::vec(a.free);
      if (m == "used") return val::vec(a.used);
      return val::error();
    }
    case O::labels:
      return text_or_bool(in.frameworks[c.framework].labels);
    case O::attributes:
      return text_or_bool(in.agents[c.agent].attributes);
    case O::metrics: {
      auto& map = in.agents[c.agent].metrics;
      auto it = map.find(m);
      return it == map.end() ? val::missing() : val::number(it->second);
    }
    case O::none:
      break;
  }
  return val::error();
}

val reduce(const val& x, int how) {
  if (!x.ok()) return val::error();
  double out;
  if (!detail::res_reduce(x.v, how, out)) return val::error();
  return val::number(out);
}

val call(const ast::expr& e, const ctx& c, const env& scope) {
  if (e.ref == ast::name_ref::let) {
    if (!e.body_ || !e.target) return val::error();
    env inner;
    for (size_t i = 0; i < e.children.size() && i < e.target->params.size(); ++i)
      inner[e.target->params[i].name] = eval(*e.children[i], c, scope);
    return eval(*e.body_, c, inner);
  }
  const std::string& f = e.name;
  auto arg = [&](size_t i) { return eval(*e.children[i], c, scope); };
  if (f == "dominant_share") {
    auto x = arg(0);
    size_t ri = x.idx >= 0 ? static_cast<size_t>(x.idx) : c.role;
    size_t fi = x.idx >= 0 ? static_cast<size_t>(x.idx) : c.framework;
    val alloc = x.o == val::obj::role        ? val::vec(c.in.roles[ri].allocated)
                : x.o == val::obj::framework ? val::vec(c.in.frameworks[fi].allocated)
                                             : val::error();
    if (!alloc.ok()) return alloc;
    res_vec share;
    detail::res_div(alloc.v, c.in.cluster.total, share);
    return reduce(val::vec(share), 0);
  }
  if (f == "fits") {
    auto a = arg(0), b = arg(1);
    if (!a.ok() || !b.ok()) return val::error();
    return val::boolean(detail::res_fits(a.v, b.v));
  }
  if (f == "has") {
    auto a = arg(0);
    if (a.st == flag::error) return a;
    return val::boolean(a.st == flag::value);
  }
  if ((f == "max" || f == "min" || f == "mean") && e.children.size() == 1) {
    auto a = arg(0);
    if (!a.is_vec && a.st == flag::value) return a;
    return reduce(a, f == "max" ? 0 : f == "min" ? 1 : 2);
  }
  auto num2 = [&](const val& a, const val& b, double r) {
    return a.ok() && b.ok() ? val::number(r) : val::error();
  };
  if (f == "max" || f == "min") {
    auto acc = arg(0);
    for (size_t i = 1; i < e.children.size(); ++i) {
      auto b = arg(i);
      acc = num2(acc, b, f == "max" ? detail::op_max(acc.n, b.n) : detail::op_min(acc.n, b.n));
    }
    return acc;
  }
  if (f == "clamp") {
    auto x = arg(0), lo = arg(1), hi = arg(2);
    auto m = num2(x, lo, detail::op_max(x.n, lo.n));
    return num2(m, hi, detail::op_min(m.n, hi.n));
  }
  if (f == "split") {
    auto text = arg(0), sep = arg(1);
    if (!text.ok() || !sep.ok()) return val::error();
    val out = val::vec(res_vec{});
    size_t start = 0;
    const std::string& str = text.s;
    const std::string& d = sep.s;
    while (start <= str.size()) {
      size_t end = d.empty() ? std::string::npos : str.find(d, start);
      if (end == std::string::npos) end = str.size();
      if (end > start) out.items.push_back(str.substr(start, end - start));
      start = end + (d.empty() ? 1 : d.size());
    }
    if (out.items.size() >= max_resources) return val::error();
    return out;
  }
  if (f == "zones_of_racks") {
    auto racks = arg(0);
    if (!racks.ok()) return val::error();
    val out = val::vec(res_vec{});
    for (auto& agent : c.in.agents) {
      auto rack = agent.attributes.find("rack");
      auto zone = agent.attributes.find("zone");
      if (rack == agent.attributes.end() || zone == agent.attributes.end()) continue;
      bool wanted = false;
      for (auto& r : racks.items) wanted |= r == rack->second;
      bool seen = false;
      for (auto& z : out.items) seen |= z == zone->second;
      if (wanted && !seen) out.items.push_back(zone->second);
    }
    if (out.items.size() >= max_resources) return val::error();
    return out;
  }
  if (f == "size") {
    auto x = arg(0);
    if (!x.ok()) return val::error();
    return val::number(static_cast<double>(x.items.size()));
  }
  if (f == "abs") {
    auto x = arg(0);
    return x.ok() ? val::number(std::fabs(x.n)) : val::error();
  }
  return val::error();
}

val binary(const ast::expr& e, const ctx& c, const env& scope) {
  using B = ast::binary_op;
  auto l = eval(*e.children[0], c, scope);
  auto r = eval(*e.children[1], c, scope);
  switch (e.bop) {
    case B::logical_and:
    case B::logical_or: {
      bool out = false;
      auto st = e.bop == B::logical_and
                    ? detail::logic_and(l.ok() ? flag::value : flag::error, l.n != 0,
                                        r.ok() ? flag::value : flag::error, r.n != 0, out)
                    : detail::logic_or(l.ok() ? flag::value : flag::error, l.n != 0,
                                       r.ok() ? flag::value : flag::error, r.n != 0, out);
      if (st != flag::value) return val::error();
      return val::boolean(out);
    }
    case B::coalesce:
      return l.st == flag::absent ? r : l;
    case B::in: {
      if (l.st == flag::error || !r.ok()) return val::error();
      bool found = false;
      if (l.st == flag::value)
        for (auto& x : r.items) found |= x == l.s;
      return val::boolean(found);
    }
    case B::eq:
    case B::ne: {
      if (l.st == flag::error || r.st == flag::error) return val::error();
      if (l.st == flag::absent || r.st == flag::absent) return val::boolean(false);
      bool eq = l.kind == value_kind::symbol ? l.s == r.s : l.n == r.n;
      return val::boolean(e.bop == B::eq ? eq : !eq);
    }
    default:
      break;
  }
  if (!l.ok() || !r.ok()) return val::error();
  switch (e.bop) {
    case B::add:
    case B::sub: {
      bool add = e.bop == B::add;
      if (l.is_vec) {
        res_vec out;
        for (size_t i = 0; i < max_resources; ++i) out[i] = add ? l.v[i] + r.v[i] : l.v[i] - r.v[i];
        return val::vec(out);
      }
      if (l.kind == value_kind::symbol) return val::error();
      return val::number(add ? l.n + r.n : l.n - r.n);
    }
    case B::mul:
      if (l.is_vec || r.is_vec) {
        auto& v = l.is_vec ? l : r;
        double k = l.is_vec ? r.n : l.n;
        res_vec out;
        for (size_t i = 0; i < max_resources; ++i) out[i] = v.v[i] * k;
        return val::vec(out);
      }
      return val::number(l.n * r.n);
    case B::div:
      if (l.is_vec && r.is_vec) {
        res_vec out;
        detail::res_div(l.v, r.v, out);
        return val::vec(out);
      }
      if (r.n == 0) return val::error();
      if (l.is_vec) {
        res_vec out;
        for (size_t i = 0; i < max_resources; ++i) out[i] = l.v[i] / r.n;
        return val::vec(out);
      }
      return val::number(l.n / r.n);
    case B::mod:
      if (r.n == 0) return val::error();
      return val::number(std::fmod(l.n, r.n));
    case B::lt:
      return val::boolean(l.n < r.n);
    case B::le:
      return val::boolean(l.n <= r.n);
    case B::gt:
      return val::boolean(r.n < l.n);
    case B::ge:
      return val::boolean(r.n <= l.n);
    default:
      return val::error();
  }
}

/// `agg(x in coll where w : body)`, element by element in index order.
val aggregate(const ast::expr& e, const ctx& c, const env& scope, ast::aggregate_kind kind) {
  using A = ast::aggregate_kind;
  auto& coll = e.children[0]->name;
  size_t n = coll == "roles" ? c.in.roles.size()
             : coll == "frameworks" ? c.in.frameworks.size()
                                    : c.in.agents.size();
  val::obj o = coll == "roles" ? val::obj::role
               : coll == "frameworks" ? val::obj::framework
                                      : val::obj::agent;
  if (kind == A::mean) {
    auto sum = aggregate(e, c, scope, A::sum);
    auto count = aggregate(e, c, scope, A::count);
    if (!sum.ok() || !count.ok() || count.n == 0) return val::error();
    return val::number(sum.n / count.n);
  }
  val acc = kind == A::min || kind == A::max ? val::missing()
            : kind == A::any                 ? val::boolean(false)
            : kind == A::all                 ? val::boolean(true)
                                             : val::number(0);
  for (size_t i = 0; i < n; ++i) {
    env inner = scope;
    auto elem = val::object(o);
    elem.idx = static_cast<long>(i);
    inner[e.name] = elem;
    val w = e.where_ ? eval(*e.where_, c, inner) : val::boolean(true);
    if (kind == A::any || kind == A::all) {
      bool any = kind == A::any;
      if (acc.ok() && (acc.n != 0) == any) break;
      if (w.ok() && w.n == 0) continue;
      val b = w.ok() ? eval(*e.body_, c, inner) : val::error();
      if (b.ok() && (b.n != 0) == any)
        acc = val::boolean(any);
      else if (!b.ok())
        acc = val::error();
      continue;
    }
    if (acc.st == flag::error) break;
    if (!w.ok()) {
      acc = val::error();
      continue;
    }
    if (w.n == 0) continue;
    if (kind == A::count) {
      acc.n += 1;
      continue;
    }
    val b = eval(*e.body_, c, inner);
    if (!b.ok()) {
      acc = val::error();
      continue;
    }
    if (acc.st == flag::absent)
      acc = val::number(b.n);
    else
      acc.n = kind == A::sum   ? acc.n + b.n
              : kind == A::min ? detail::op_min(acc.n, b.n)
                               : detail::op_max(acc.n, b.n);
  }
  if (acc.st == flag::absent) return val::error();
  return acc;
}

val eval(const ast::expr& e, const ctx& c, const env& scope) {
  using O = val::obj;
  switch (e.kind) {
    case ast::expr_kind::literal:
      if (e.lit == ast::literal_kind::string) return val::text(e.text);
      if (e.lit == ast::literal_kind::boolean) return val::boolean(e.value != 0);
      return val::number(e.value);
    case ast::expr_kind::name:
      if (e.has_args) return call(e, c, scope);
      switch (e.ref) {
        case ast::name_ref::domain:
          if (e.name == "cluster") return val::object(O::cluster);
          if (e.name == "role") return val::object(O::role);
          if (e.name == "framework") return val::object(O::framework);
          if (e.name == "agent") return val::object(O::agent);
          return val::error();
        case ast::name_ref::param:
        case ast::name_ref::bound: {
          auto it = scope.find(e.name);
          return it == scope.end() ? val::error() : it->second;
        }
        case ast::name_ref::let:
          return e.target && e.target->value ? eval(*e.target->value, c, env{}) : val::error();
        default:
          return val::error();
      }
    case ast::expr_kind::member: {
      auto base = eval(*e.children[0], c, scope);
      if (base.o != O::none) return field(e, base, c);
      if (!base.ok()) return val::error();
      if (!base.is_vec) return val::error();
      bool ratios = e.children[0]->ty.kind == K::ratios;
      if (e.has_args) {
        unsigned mask = 0;
        for (size_t i = 1; i < e.children.size(); ++i) {
          int id = resource_id(c, e.children[i]->name);
          if (id >= 0) mask |= 1u << id;
        }
        if (e.name == "without") mask = ~mask;
        res_vec out;
        for (size_t i = 0; i < max_resources; ++i)
          out[i] = (mask >> i) & 1 ? base.v[i] : (ratios ? std::nan("") : 0.0);
        return val::vec(out);
      }
      int id = resource_id(c, e.name);
      if (id < 0) return val::error();
      double x = base.v[static_cast<size_t>(id)];
      return detail::absent_component(x) ? val::error() : val::number(x);
    }
    case ast::expr_kind::unary: {
      auto x = eval(*e.children[0], c, scope);
      if (!x.ok()) return val::error();
      if (e.uop == ast::unary_op::logical_not) return val::boolean(x.n == 0);
      return val::number(-x.n);
    }
    case ast::expr_kind::binary:
      return binary(e, c, scope);
    case ast::expr_kind::aggregate:
      return aggregate(e, c, scope, e.agg);
    case ast::expr_kind::conditional: {
      auto cond = eval(*e.children[0], c, scope);
      if (!cond.ok()) return val::error();
      return eval(*e.children[cond.n != 0 ? 1 : 2], c, scope);
    }
    case ast::expr_kind::list: {  // A list of strings.
      val list;
      list.is_vec = true;
      list.kind = value_kind::vector;
      for (auto& item : e.children) {
        auto x = eval(*item, c, scope);
        if (!x.ok() || x.kind != value_kind::symbol) return val::error();
        list.items.push_back(x.s);
      }
      return list;
    }
    case ast::expr_kind::object: {  // A resource literal.
      res_vec r{};
      for (size_t i = 0; i < e.keys.size(); ++i) {
        int id = resource_id(c, e.keys[i]);
        auto x = eval(*e.children[i], c, scope);
        if (id < 0 || !x.ok()) return val::error();
        r[static_cast<size_t>(id)] = x.n;
      }
      return val::vec(r);
    }
    default:
      return val::error();
  }
}

rule_value to_rule_value(const val& v) {
  rule_value out;
  out.st = static_cast<rule_value::state>(v.st);
  out.kind = v.kind;
  if (v.st != flag::value) return out;
  out.number = v.n;
  out.text = v.s;
  return out;
}

}  // namespace

oracle::oracle(const check_result& checked, const schema* schema)
    : resources_(resource_names(schema)) {
  for (auto& d : checked.ast->decls) {
    if (auto* o = std::get_if<ast::order_decl>(&d.node)) {
      for (auto& k : o->keys) rules_.push_back({k.key.get()});
    } else if (auto* f = std::get_if<ast::filter_decl>(&d.node)) {
      rules_.push_back({f->cond.get(), true});
    } else if (auto* s = std::get_if<ast::score_decl>(&d.node)) {
      rules_.push_back({s->value.get(), false, true, s->weight});
    } else if (auto* m = std::get_if<ast::metric_decl>(&d.node)) {
      if (m->every_cycle && m->value) rules_.push_back({m->value.get()});
    } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
      if (l->guard) rules_.push_back({l->guard.get()});
      for (auto& lv : l->levels) {
        if (lv.when) rules_.push_back({lv.when.get()});
        if (lv.wait) rules_.push_back({lv.wait.get()});
      }
    }
  }
}

rule_value oracle::eval(size_t rule, const eval_input& in, size_t role, size_t framework,
                        size_t agent) const {
  ctx c{in, role, framework, agent, resources_};
  return to_rule_value(policy::eval(*rules_[rule].e, c, env{}));
}

pair_result oracle::eval_pair(const eval_input& in, size_t framework, size_t agent) const {
  pair_result out;
  size_t role = in.frameworks[framework].role;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!rules_[i].filter) continue;
    auto v = eval(i, in, role, framework, agent);
    if ((v.st != rule_value::state::value || v.number == 0) && out.accepted) {
      out.accepted = false;
      out.rejected_by = static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!rules_[i].score) continue;
    auto v = eval(i, in, role, framework, agent);
    if (v.st == rule_value::state::value) out.score += rules_[i].weight * v.number;
  }
  return out;
}

}  // namespace agora::policy
