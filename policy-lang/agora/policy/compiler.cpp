#include "agora/policy/compiler.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

#include "agora/policy/detail/vm_ops.hpp"
#include "agora/policy/formatter.hpp"

namespace agora::policy {

std::vector<std::string> resource_names(const schema* schema) {
  std::vector<std::string> names = {"cpus", "mem", "disk", "gpus"};
  if (schema)
    for (auto& r : schema->resources)
      if (r.field_type.kind != type_kind::ports) names.push_back(r.name);
  return names;
}

namespace {

using K = type_kind;

/// Thrown inside the compiler only, caught by `compile`.
struct unsupported {
  source_range range;
  std::string what;
};

/// The stage lattice (const <= cycle <= role <= framework, cycle <= agent,
/// pair above both) on chunk ids: `policy::join` over `chunk_id`, which has
/// no `event` stage.
chunk_id join_chunk(chunk_id a, chunk_id b) {
  if (a == b) return a;
  // An event value is computed when the event happens, above everything.
  if (a == chunk_id::event || b == chunk_id::event) return chunk_id::event;
  if (a > b) std::swap(a, b);
  if (a == chunk_id::constant || a == chunk_id::cycle) return b;
  // role < framework; {role, framework} with agent, or anything with pair: pair.
  if (a == chunk_id::role && b == chunk_id::framework) return b;
  return chunk_id::pair;
}

/// One IR node: a value computed by one instruction (hash-consed, so equal
/// subexpressions are one node).
struct node {
  opcode op = opcode::LOADK;
  bool vec = false;
  value_kind kind = value_kind::number;
  chunk_id st = chunk_id::constant;
  int a = -1, b = -1, c = -1;  // Operand nodes.
  uint32_t imm = 0;            // Constant, field, mask or component.
  double num = 0;              // Folded value for LOADK/LOADB.
  std::string note;
  int reg = -1;
  uint32_t line = 0;
  int rule = -1;          // Rule that first emitted it (for costs).
  int loop = -1;          // The aggregate loop whose element it depends on, if any.
  int owns = -1;          // For aggregates (ACC_*): the loop it runs.
  std::vector<int> body;  // For aggregates: the loop nodes, in order.
};

using vector_constant_value = policy::vector_constant;

/// What a subexpression compiles to: a value node or a domain object.
struct operand {
  enum class obj {
    none,
    cluster,
    cycle,
    role,
    framework,
    agent,
    labels,
    attributes,
    metrics,
    each_role,
    each_framework,
    each_agent,
    offer,
    task
  };
  int n = -1;
  obj o = obj::none;
  int loop = -1;  // For `each_*`: the aggregate's loop.
};

using env = std::map<std::string, operand>;

class compiler {
 public:
  compiler(const source_file& source, const schema* schema)
      : source_(source), schema_(schema), resources_(resource_names(schema)) {
    prog_.resources = resources_;
  }

  compile_result run(const check_result& checked) {
    compile_result out;
    auto& file = *checked.ast;
    prog_.name = file.name;
    prog_.version = file.version;
    try {
      // Event metrics' rules come after all others, so the other rules are
      // numbered as the AST oracle numbers them.
      for (auto& d : file.decls) declare(d);
      events_pass_ = true;
      for (auto& d : file.decls) declare(d);
    } catch (const unsupported& u) {
      out.diagnostics.push_back(make_diagnostic(
          source_, "E0901", u.range, u.what + " is not supported by the compiler yet",
          "`agora policy check` accepts it; the bytecode back end does not lower it yet"));
      return out;
    }
    try {
      if (!emit(out)) return out;
    } catch (const unsupported& u) {
      out.diagnostics.push_back(make_file_diagnostic(
          source_.name(), "E0901", u.what + " is not supported by the compiler yet"));
      return out;
    }
    out.prog = std::make_shared<const program>(std::move(prog_));
    return out;
  }

 private:
  // --- Rules -------------------------------------------------------------

  void declare(const ast::decl& d) {
    line_ = source_.location(d.range.begin).line;
    auto* metric = std::get_if<ast::metric_decl>(&d.node);
    if (events_pass_ != (metric && !metric->every_cycle)) return;
    if (auto* o = std::get_if<ast::order_decl>(&d.node)) {
      int i = 0;
      for (auto& k : o->keys) {
        rule_info r;
        r.what = o->frameworks ? rule_info::kind::order_frameworks : rule_info::kind::order_roles;
        r.name = std::string(o->frameworks ? "order frameworks" : "order roles") + " key " +
                 std::to_string(++i);
        r.descending = k.dir == ast::order_key::direction::desc;
        add_rule(r, *k.key);
      }
    } else if (auto* f = std::get_if<ast::filter_decl>(&d.node)) {
      rule_info r;
      r.what = rule_info::kind::filter;
      r.name = "filter " + f->name;
      add_rule(r, *f->cond);
    } else if (auto* s = std::get_if<ast::score_decl>(&d.node)) {
      rule_info r;
      r.what = rule_info::kind::score;
      r.name = "score " + s->name;
      r.weight = s->weight;
      add_rule(r, *s->value);
    } else if (auto* m = std::get_if<ast::metric_decl>(&d.node)) {
      if (!m->value) return;
      if (!m->every_cycle) {
        // `preempt` events cannot happen yet (no preemption); the others
        // compile to the event chunk.
        if (m->event == "preempt") return;
        rule_info r;
        r.what = rule_info::kind::event_value;
        r.name = "metric " + m->name;
        add_rule(r, *m->value);
        if (m->when) {
          rule_info w;
          w.what = rule_info::kind::event_when;
          w.name = "metric " + m->name + " when";
          add_rule(w, *m->when);
        }
        return;
      }
      rule_info r;
      r.what = rule_info::kind::metric;
      r.name = "metric " + m->name;
      add_rule(r, *m->value);
    } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
      if (l->guard) {
        rule_info r;
        r.what = rule_info::kind::locality_guard;
        r.name = "locality guard";
        add_rule(r, *l->guard);
      }
      for (auto& lv : l->levels) {
        line_ = source_.location(lv.range.begin).line;
        if (lv.when) {
          rule_info r;
          r.what = rule_info::kind::locality_when;
          r.name = "level " + lv.name + " when";
          add_rule(r, *lv.when);
        }
        if (lv.wait) {
          rule_info r;
          r.what = rule_info::kind::locality_wait;
          r.name = "level " + lv.name + " wait";
          add_rule(r, *lv.wait);
        }
      }
    }
  }

  void add_rule(rule_info r, const ast::expr& e) {
    env none;
    int rule = static_cast<int>(prog_.rules.size());
    rule_ = rule;
    int n = value(e, none);
    auto& nd = nodes_[static_cast<size_t>(n)];
    if (nd.vec) throw unsupported{e.range, "a rule whose value is a resource vector"};
    r.kind = nd.kind;
    r.stage = nd.st;
    if ((r.what == rule_info::kind::filter || r.what == rule_info::kind::score) &&
        r.stage != chunk_id::pair && r.stage != chunk_id::agent && r.stage != chunk_id::framework &&
        r.stage != chunk_id::constant && r.stage != chunk_id::cycle && r.stage != chunk_id::role)
      throw unsupported{e.range, "this rule's stage"};
    if ((r.what == rule_info::kind::order_roles || r.what == rule_info::kind::metric) &&
        !stage_leq(static_cast<stage>(r.stage), stage::role))
      throw unsupported{e.range, "a role rule above the role stage"};
    bool event_rule =
        r.what == rule_info::kind::event_value || r.what == rule_info::kind::event_when;
    if (!event_rule && r.stage == chunk_id::event)
      throw unsupported{e.range, "event data outside an `on` metric"};
    if (event_rule && reads_object_stage(n))
      throw unsupported{e.range, "role, framework or agent values in an event metric"};
    prog_.rules.push_back(r);
    roots_.push_back(n);
  }

  /// Returns true if node `n` depends on a role, framework, agent or pair
  /// value: the event chunk runs with only the constant and cycle
  /// registers loaded.
  bool reads_object_stage(int root) const {
    std::vector<char> seen(nodes_.size(), 0);
    std::vector<int> todo{root};
    while (!todo.empty()) {
      int n = todo.back();
      todo.pop_back();
      if (seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = 1;
      auto& nd = nodes_[static_cast<size_t>(n)];
      if (nd.st == chunk_id::role || nd.st == chunk_id::framework || nd.st == chunk_id::agent ||
          nd.st == chunk_id::pair)
        return true;
      for (int x : {nd.a, nd.b, nd.c})
        if (x >= 0) todo.push_back(x);
    }
    return false;
  }

  // --- IR construction -----------------------------------------------------

  int make(node n) {
    if (n.a >= 0) n.st = join_chunk(n.st, nodes_[static_cast<size_t>(n.a)].st);
    if (n.b >= 0) n.st = join_chunk(n.st, nodes_[static_cast<size_t>(n.b)].st);
    if (n.c >= 0) n.st = join_chunk(n.st, nodes_[static_cast<size_t>(n.c)].st);
    bool aggregate = n.owns >= 0;
    for (int x : {n.a, n.b, n.c})
      if (x >= 0 && !aggregate) n.loop = std::max(n.loop, nodes_[static_cast<size_t>(x)].loop);
    if (n.loop < 0) fold(n);
    std::string key;
    key.append(reinterpret_cast<const char*>(&n.loop), sizeof n.loop);
    key.append(reinterpret_cast<const char*>(&n.owns), sizeof n.owns);
    key.push_back(static_cast<char>(n.op));
    for (int x : {n.a, n.b, n.c}) key.append(reinterpret_cast<const char*>(&x), sizeof x);
    key.append(reinterpret_cast<const char*>(&n.imm), sizeof n.imm);
    key.append(reinterpret_cast<const char*>(&n.num), sizeof n.num);
    key.push_back(n.vec ? 'v' : 's');
    key.push_back(static_cast<char>(n.kind));
    if (auto it = cse_.find(key); it != cse_.end()) return it->second;
    n.line = line_;
    n.rule = rule_;
    nodes_.push_back(std::move(n));
    int id = static_cast<int>(nodes_.size() - 1);
    cse_.emplace(std::move(key), id);
    return id;
  }

  bool is_const(int id, double& v) const {
    if (id < 0) return false;
    auto& n = nodes_[static_cast<size_t>(id)];
    if (n.op != opcode::LOADK && n.op != opcode::LOADB) return false;
    v = n.num;
    return true;
  }

  /// Folds scalar operations on constants into LOADK/LOADB (same arithmetic
  /// as the VM; operations that would err are left to run time).
  void fold(node& n) {
    double a = 0, b = 0;
    bool ka = is_const(n.a, a), kb = is_const(n.b, b);
    bool unary = n.op == opcode::NEG_F || n.op == opcode::ABS_F || n.op == opcode::NOT;
    if (!ka || (!unary && !kb) || n.c >= 0) return;
    double r;
    bool boolean = false;
    switch (n.op) {
      case opcode::ADD_F:
        r = a + b;
        break;
      case opcode::SUB_F:
        r = a - b;
        break;
      case opcode::MUL_F:
        r = a * b;
        break;
      case opcode::DIV_F:
        if (b == 0) return;
        r = a / b;
        break;
      case opcode::MIN_F:
        r = detail::op_min(a, b);
        break;
      case opcode::MAX_F:
        r = detail::op_max(a, b);
        break;
      case opcode::NEG_F:
        r = -a;
        break;
      case opcode::ABS_F:
        r = std::fabs(a);
        break;
      case opcode::LT_F:
        r = a < b;
        boolean = true;
        break;
      case opcode::LE_F:
        r = a <= b;
        boolean = true;
        break;
      case opcode::EQ_F:
      case opcode::EQ_B:
        r = a == b;
        boolean = true;
        break;
      case opcode::NE_F:
      case opcode::NE_B:
        r = a != b;
        boolean = true;
        break;
      case opcode::NOT:
        r = a == 0;
        boolean = true;
        break;
      case opcode::AND:
        r = a != 0 && b != 0;
        boolean = true;
        break;
      case opcode::OR:
        r = a != 0 || b != 0;
        boolean = true;
        break;
      default:
        return;
    }
    if (std::isnan(r)) return;
    node k;
    k.op = boolean ? opcode::LOADB : opcode::LOADK;
    k.kind = boolean ? value_kind::boolean : value_kind::number;
    k.num = r;
    k.note = n.note;
    n = k;
  }

  int number(double v, const std::string& note) {
    node n;
    n.op = opcode::LOADK;
    n.num = v;
    n.note = note;
    return make(n);
  }

  uint32_t intern(const std::string& s) {
    for (size_t i = 0; i < prog_.symbols.size(); ++i)
      if (prog_.symbols[i] == s) return static_cast<uint32_t>(i);
    prog_.symbols.push_back(s);
    return static_cast<uint32_t>(prog_.symbols.size() - 1);
  }

  int field(field_ref::object obj, const std::string& name, const std::string& key, value_kind kind,
            bool vec, const std::string& note, int loop = -1) {
    uint32_t index = 0;
    for (; index < prog_.fields.size(); ++index) {
      auto& f = prog_.fields[index];
      if (f.obj == obj && f.name == name && f.key == key) break;
    }
    if (index == prog_.fields.size()) prog_.fields.push_back({obj, name, key, kind});
    node n;
    n.op = vec ? opcode::FIELDV : opcode::FIELD;
    n.vec = vec;
    n.kind = vec ? value_kind::vector : kind;
    n.imm = index;
    n.note = note;
    switch (obj) {
      case field_ref::object::cluster:
        n.st = chunk_id::cycle;
        break;
      case field_ref::object::role:
        n.st = chunk_id::role;
        break;
      case field_ref::object::framework:
        n.st = chunk_id::framework;
        break;
      case field_ref::object::agent:
        n.st = chunk_id::agent;
        break;
      case field_ref::object::offer:
      case field_ref::object::task:
        n.st = chunk_id::event;
        break;
      case field_ref::object::each_role:
      case field_ref::object::each_framework:
      case field_ref::object::each_agent:
        n.st = chunk_id::cycle;  // The collections are cycle-stage.
        n.loop = loop;
        break;
    }
    return make(n);
  }

  int op(opcode o, const ast::expr& e, int a, int b = -1, uint32_t imm = 0, bool vec = false,
         value_kind kind = value_kind::number) {
    node n;
    n.op = o;
    n.a = a;
    n.b = b;
    n.imm = imm;
    n.vec = vec;
    n.kind = vec ? value_kind::vector : kind;
    n.note = note_of(e);
    return make(n);
  }

  static std::string note_of(const ast::expr& e) {
    auto s = format_expr(e);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
  }

  bool vec_of(int n) const { return nodes_[static_cast<size_t>(n)].vec; }

  int value(const ast::expr& e, const env& scope) {
    auto o = compile_expr(e, scope);
    if (o.n < 0) throw unsupported{e.range, "a domain object used as a value"};
    return o.n;
  }

  int resource_id(const std::string& name, source_range range) {
    for (size_t i = 0; i < resources_.size(); ++i)
      if (resources_[i] == name) return static_cast<int>(i);
    throw unsupported{range, "resource `" + name + "` in a resource vector"};
  }

  operand object(operand::obj o) { return operand{-1, o}; }

  operand member(const ast::expr& e, const env& scope) {
    using O = operand::obj;
    using F = field_ref::object;
    auto base = compile_expr(*e.children[0], scope);
    auto note = note_of(e);
    if (base.n >= 0) {
      // A resource vector: a component, or a projection.
      if (!vec_of(base.n)) throw unsupported{e.range, "this member access"};
      bool ratios = e.children[0]->ty.kind == K::ratios;
      if (e.has_args) {
        uint32_t mask = 0;
        for (size_t i = 1; i < e.children.size(); ++i)
          mask |= 1u << resource_id(e.children[i]->name, e.children[i]->range);
        if (e.name == "without") mask = ~mask & ((1u << max_resources) - 1);
        return {op(ratios ? opcode::PROJ_R : opcode::PROJ, e, base.n, -1, mask, true), O::none};
      }
      return {op(opcode::RES_GET, e, base.n, -1,
                 static_cast<uint32_t>(resource_id(e.name, e.name_range))),
              O::none};
    }
    if (e.has_args) throw unsupported{e.range, "method `" + e.name + "`"};
    const std::string& m = e.name;
    auto kind_of = [&] {
      switch (e.ty.kind) {
        case K::boolean:
          return value_kind::boolean;
        case K::string:
          return value_kind::symbol;
        default:
          return value_kind::number;
      }
    };
    bool is_vec = e.ty.kind == K::res;
    auto load = [&](F obj) {
      if (e.ty.kind == K::list || e.ty.kind == K::ports)
        throw unsupported{e.range, "`" + note + "` (a collection)"};
      return operand{field(obj, m, "", kind_of(), is_vec, note), O::none};
    };
    switch (base.o) {
      case O::cluster:
        if (m == "cycle") return object(O::cycle);
        return load(F::cluster);
      case O::cycle:
        return {field(F::cluster, "cycle.time", "", value_kind::number, false, note), O::none};
      case O::role:
        return load(F::role);
      case O::framework:
        if (m == "role") return object(O::role);
        if (m == "labels") return object(O::labels);
        return load(F::framework);
      case O::agent:
        if (m == "attributes") return object(O::attributes);
        if (m == "metrics") return object(O::metrics);
        return load(F::agent);
      case O::labels:
        return {field(F::framework, "labels", m, kind_of(), false, note), O::none};
      case O::attributes:
        return {field(F::agent, "attributes", m, kind_of(), false, note), O::none};
      case O::metrics:
        return {field(F::agent, "metrics", m, kind_of(), false, note), O::none};
      case O::each_role:
      case O::each_framework:
      case O::each_agent: {
        if (m == "role" || m == "labels" || m == "attributes" || m == "metrics" ||
            e.ty.kind == K::list || e.ty.kind == K::ports)
          throw unsupported{e.range, "`" + note + "` inside an aggregate"};
        auto obj = base.o == O::each_role        ? F::each_role
                   : base.o == O::each_framework ? F::each_framework
                                                 : F::each_agent;
        return {field(obj, m, "", kind_of(), is_vec, note, base.loop), O::none};
      }
      case O::offer:
        if (m == "res" || m == "locality") return load(F::offer);
        throw unsupported{e.range, "`" + note + "` (only offer.res and offer.locality)"};
      case O::task:
        if (m == "res" || m == "runtime") return load(F::task);
        throw unsupported{e.range, "`" + note + "` (only task.res and task.runtime)"};
      case O::none:
        break;
    }
    throw unsupported{e.range, "this member access"};
  }

  operand call(const ast::expr& e, const env& scope) {
    if (e.ref == ast::name_ref::let) {
      if (!e.body_ || !e.target) throw unsupported{e.range, "this call"};
      env inner;
      for (size_t i = 0; i < e.children.size() && i < e.target->params.size(); ++i)
        inner[e.target->params[i].name] = compile_expr(*e.children[i], scope);
      return compile_expr(*e.body_, inner);
    }
    const std::string& f = e.name;
    std::vector<int> args;
    auto arg = [&](size_t i) { return value(*e.children[i], scope); };
    if (f == "dominant_share") {
      auto x = compile_expr(*e.children[0], scope);
      int allocated = member_of(x, "allocated", e);
      int total =
          field(field_ref::object::cluster, "total", "", value_kind::vector, true, "cluster.total");
      int share = op(opcode::RES_DIV, e, allocated, total, 0, true);
      return {op(opcode::RMAX, e, share), operand::obj::none};
    }
    // Lowering an argument interns fields and symbols and takes registers,
    // so arguments are lowered in a fixed order, never as the unsequenced
    // arguments of one call (gcc and clang would number them differently,
    // and the same policy would get two program hashes). The last argument
    // goes first: the order gcc builds always had, which the golden
    // disassemblies and hashes pin.
    if (f == "fits") {
      int available = arg(1);
      int wanted = arg(0);
      return {op(opcode::FITS, e, wanted, available, 0, false, value_kind::boolean),
              operand::obj::none};
    }
    if (f == "has") {
      int x = arg(0);
      return {op(vec_of(x) ? opcode::HASV : opcode::HAS, e, x, -1, 0, false, value_kind::boolean),
              operand::obj::none};
    }
    if ((f == "max" || f == "min" || f == "mean") && e.children.size() == 1) {
      int x = arg(0);
      if (!vec_of(x)) {
        if (f == "mean") throw unsupported{e.range, "`mean` of a list"};
        if (e.children[0]->ty.kind == K::list) throw unsupported{e.range, "`" + f + "` of a list"};
        return {x, operand::obj::none};
      }
      opcode o = f == "max" ? opcode::RMAX : f == "min" ? opcode::RMIN : opcode::RMEAN;
      return {op(o, e, x), operand::obj::none};
    }
    if (f == "max" || f == "min") {
      int acc = arg(0);
      for (size_t i = 1; i < e.children.size(); ++i)
        acc = op(f == "max" ? opcode::MAX_F : opcode::MIN_F, e, acc, arg(i));
      return {acc, operand::obj::none};
    }
    if (f == "clamp") {
      int low = arg(1);
      int x = arg(0);
      int lo = op(opcode::MAX_F, e, x, low);
      return {op(opcode::MIN_F, e, lo, arg(2)), operand::obj::none};
    }
    if (f == "abs") return {op(opcode::ABS_F, e, arg(0)), operand::obj::none};
    if (f == "split") {
      int separator = arg(1);
      int text = arg(0);
      return {op(opcode::SPLIT, e, text, separator, 0, true), operand::obj::none};
    }
    if (f == "zones_of_racks")
      return {op(opcode::ZONES, e, arg(0), -1, 0, true), operand::obj::none};
    if (f == "size" && e.children[0]->ty.kind == K::list) {
      int x = arg(0);
      if (!vec_of(x)) throw unsupported{e.range, "`size` of this list"};
      return {op(opcode::SIZE_L, e, x), operand::obj::none};
    }
    throw unsupported{e.range, "function `" + f + "`"};
  }

  /// Lowers the value of the parameterless let `e` reads, once: every
  /// later read is the same operand (register). The value reads no
  /// aggregate variable, so even when first read inside a loop it is
  /// lowered outside it (an aggregate in it is its own loop, not a nested
  /// one).
  operand let_value(const ast::expr& e) {
    if (!e.target || !e.target->value) throw unsupported{e.range, "this definition"};
    if (auto it = lets_.find(e.target); it != lets_.end()) return it->second;
    bool in_loop = in_loop_;
    in_loop_ = false;
    auto o = compile_expr(*e.target->value, env{});
    in_loop_ = in_loop;
    lets_.emplace(e.target, o);
    return o;
  }

  int member_of(operand x, const std::string& name, const ast::expr& at) {
    using F = field_ref::object;
    if (x.o == operand::obj::each_role || x.o == operand::obj::each_framework)
      return field(x.o == operand::obj::each_role ? F::each_role : F::each_framework, name, "",
                   value_kind::vector, true, "each." + name, x.loop);
    if (x.o == operand::obj::role)
      return field(F::role, name, "", value_kind::vector, true, "role." + name);
    if (x.o == operand::obj::framework)
      return field(F::framework, name, "", value_kind::vector, true, "framework." + name);
    throw unsupported{at.range, "this argument"};
  }

  operand compile_expr(const ast::expr& e, const env& scope) {
    using O = operand::obj;
    switch (e.kind) {
      case ast::expr_kind::literal: {
        if (e.lit == ast::literal_kind::string) {
          node n;
          n.op = opcode::LOADSYM;
          n.kind = value_kind::symbol;
          n.imm = intern(e.text);
          n.note = note_of(e);
          return {make(n), O::none};
        }
        if (e.lit == ast::literal_kind::boolean) {
          node n;
          n.op = opcode::LOADB;
          n.kind = value_kind::boolean;
          n.num = e.value != 0 ? 1 : 0;
          n.note = note_of(e);
          return {make(n), O::none};
        }
        return {number(e.value, note_of(e)), O::none};
      }
      case ast::expr_kind::name: {
        if (e.has_args) return call(e, scope);
        switch (e.ref) {
          case ast::name_ref::domain:
            if (e.name == "cluster") return object(O::cluster);
            if (e.name == "role") return object(O::role);
            if (e.name == "framework") return object(O::framework);
            if (e.name == "agent") return object(O::agent);
            if (e.name == "offer") return object(O::offer);
            if (e.name == "task") return object(O::task);
            throw unsupported{e.range, "`" + e.name + "` (event data)"};
          case ast::name_ref::param:
          case ast::name_ref::bound: {
            auto it = scope.find(e.name);
            if (it == scope.end()) throw unsupported{e.range, "`" + e.name + "` here"};
            return it->second;
          }
          case ast::name_ref::let:
            return let_value(e);
          default:
            throw unsupported{e.range, "`" + e.name + "`"};
        }
      }
      case ast::expr_kind::member:
        return member(e, scope);
      case ast::expr_kind::unary: {
        int x = value(*e.children[0], scope);
        if (e.uop == ast::unary_op::logical_not)
          return {op(opcode::NOT, e, x, -1, 0, false, value_kind::boolean), O::none};
        if (vec_of(x)) throw unsupported{e.range, "negating a resource vector"};
        return {op(opcode::NEG_F, e, x), O::none};
      }
      case ast::expr_kind::binary:
        return {binary(e, scope), O::none};
      case ast::expr_kind::conditional: {
        int c = value(*e.children[0], scope);
        int t = value(*e.children[1], scope);
        int f = value(*e.children[2], scope);
        double k;
        if (is_const(c, k)) return {k != 0 ? t : f, O::none};
        node n;
        n.op = vec_of(t) ? opcode::SELECTV : opcode::SELECT;
        n.vec = vec_of(t);
        n.kind = nodes_[static_cast<size_t>(t)].kind;
        n.a = t;
        n.b = c;
        n.c = f;
        n.note = note_of(e);
        return {make(n), O::none};
      }
      case ast::expr_kind::aggregate:
        return {aggregate(e, scope), O::none};
      case ast::expr_kind::list:
        return {list_literal(e), O::none};
      case ast::expr_kind::object:
        return {resource_literal(e, scope), O::none};
      case ast::expr_kind::index:
        throw unsupported{e.range, "indexing"};
      case ast::expr_kind::held:
        throw unsupported{e.range, "`for` conditions"};
    }
    throw unsupported{e.range, "this expression"};
  }

  /// Lowers `agg(x in coll where w : body)` to one ITER loop (two for
  /// `mean`: a sum and a count).
  int aggregate(const ast::expr& e, const env& scope) {
    using O = operand::obj;
    auto& coll = *e.children[0];
    if (coll.kind != ast::expr_kind::name || coll.ref != ast::name_ref::collection)
      throw unsupported{coll.range, "an aggregate over `" + note_of(coll) + "`"};
    if (in_loop_) throw unsupported{e.range, "a nested aggregate"};
    uint32_t which = coll.name == "roles" ? 0 : coll.name == "frameworks" ? 1 : 2;
    O each = which == 0 ? O::each_role : which == 1 ? O::each_framework : O::each_agent;
    auto one = [&](opcode acc) {
      int loop = ++loops_;
      env inner = scope;
      inner[e.name] = operand{-1, each, loop};
      in_loop_ = true;
      int where = -1, body = -1;
      if (e.where_) where = value(*e.where_, inner);
      if (e.body_ && acc != opcode::ACC_COUNT) body = value(*e.body_, inner);
      in_loop_ = false;
      if (where < 0) {
        node t;
        t.op = opcode::LOADB;
        t.kind = value_kind::boolean;
        t.num = 1;
        t.note = "true";
        where = make(t);
      }
      if (acc != opcode::ACC_COUNT) {
        if (body < 0) throw unsupported{e.range, "an aggregate without `: value`"};
        if (vec_of(body)) throw unsupported{e.range, "an aggregate of resource vectors"};
      }
      node n;
      n.op = acc;
      n.kind = (acc == opcode::ACC_ANY || acc == opcode::ACC_ALL) ? value_kind::boolean
                                                                  : value_kind::number;
      n.a = body;
      n.b = where;
      n.imm = which;
      n.owns = loop;
      n.st = chunk_id::cycle;
      n.note = note_of(e);
      int id = make(n);
      // The loop's nodes run in the aggregate's chunk, with its registers.
      auto st = nodes_[static_cast<size_t>(id)].st;
      for (auto& x : nodes_)
        if (x.loop == loop) x.st = st;
      return id;
    };
    switch (e.agg) {
      case ast::aggregate_kind::sum:
        return one(opcode::ACC_SUM);
      case ast::aggregate_kind::count:
        return one(opcode::ACC_COUNT);
      case ast::aggregate_kind::min:
        return one(opcode::ACC_MIN);
      case ast::aggregate_kind::max:
        return one(opcode::ACC_MAX);
      case ast::aggregate_kind::any:
        return one(opcode::ACC_ANY);
      case ast::aggregate_kind::all:
        return one(opcode::ACC_ALL);
      case ast::aggregate_kind::mean: {
        int sum = one(opcode::ACC_SUM);
        int count = one(opcode::ACC_COUNT);
        return op(opcode::DIV_F, e, sum, count);
      }
    }
    throw unsupported{e.range, "this aggregate"};
  }

  /// Interns a vector constant and returns its LOADV node.
  int vector_constant(const vector_constant_value& k, const std::string& note) {
    uint32_t index = 0;
    for (; index < prog_.vectors.size(); ++index)
      if (prog_.vectors[index].list == k.list &&
          std::memcmp(prog_.vectors[index].value.data(), k.value.data(), sizeof k.value) == 0)
        break;
    if (index == prog_.vectors.size()) prog_.vectors.push_back(k);
    node n;
    n.op = opcode::LOADV;
    n.vec = true;
    n.kind = value_kind::vector;
    n.imm = index;
    n.note = note;
    return make(n);
  }

  /// `["r1", "r2"]`: a constant list of at most 7 strings.
  int list_literal(const ast::expr& e) {
    vector_constant_value k;
    k.list = true;
    if (e.children.size() >= max_resources)
      throw unsupported{e.range, "a list literal of more than " +
                                     std::to_string(max_resources - 1) + " elements"};
    for (size_t i = 0; i < e.children.size(); ++i) {
      auto& c = *e.children[i];
      if (c.kind != ast::expr_kind::literal || c.lit != ast::literal_kind::string)
        throw unsupported{c.range, "a list literal of anything but string literals"};
      k.value[i + 1] = intern(c.text);
    }
    k.value[0] = static_cast<double>(e.children.size());
    return vector_constant(k, note_of(e));
  }

  /// `{cpus: 2, mem: 4GiB}`: amounts that fold to constants.
  int resource_literal(const ast::expr& e, const env& scope) {
    vector_constant_value k;
    for (size_t i = 0; i < e.keys.size(); ++i) {
      auto at = std::find(resources_.begin(), resources_.end(), e.keys[i]);
      if (at == resources_.end() || at - resources_.begin() >= static_cast<long>(max_resources))
        throw unsupported{e.children[i]->range, "resource `" + e.keys[i] + "` in a literal"};
      double amount = 0;
      if (!is_const(value(*e.children[i], scope), amount))
        throw unsupported{e.children[i]->range, "a resource literal with a computed amount"};
      k.value[static_cast<size_t>(at - resources_.begin())] = amount;
    }
    return vector_constant(k, note_of(e));
  }

  int binary(const ast::expr& e, const env& scope) {
    using B = ast::binary_op;
    auto lk = e.children[0]->ty.kind;
    if (e.bop == B::in) {
      auto& rhs = *e.children[1];
      if (lk != K::string || rhs.ty.kind != K::list)
        throw unsupported{e.range, "`in` (other than a string in a list of strings)"};
      int l = value(*e.children[0], scope);
      int r = value(rhs, scope);
      return op(opcode::IN_SET, e, l, r, 0, false, value_kind::boolean);
    }
    int l = value(*e.children[0], scope);
    int r = value(*e.children[1], scope);
    bool lv = vec_of(l), rv = vec_of(r);
    auto scalar = [&](opcode o, int a, int b) { return op(o, e, a, b); };
    auto boolean = [&](opcode o, int a, int b) {
      return op(o, e, a, b, 0, false, value_kind::boolean);
    };
    switch (e.bop) {
      case B::add:
        if (lk == K::string) throw unsupported{e.range, "string concatenation"};
        return lv ? op(opcode::RES_ADD, e, l, r, 0, true) : scalar(opcode::ADD_F, l, r);
      case B::sub:
        return lv ? op(opcode::RES_SUB, e, l, r, 0, true) : scalar(opcode::SUB_F, l, r);
      case B::mul:
        if (lv) return op(opcode::RES_MULK, e, l, r, 0, true);
        if (rv) return op(opcode::RES_MULK, e, r, l, 0, true);
        return scalar(opcode::MUL_F, l, r);
      case B::div:
        if (lv && rv) return op(opcode::RES_DIV, e, l, r, 0, true);
        if (lv) return op(opcode::RES_DIVK, e, l, r, 0, true);
        return scalar(opcode::DIV_F, l, r);
      case B::mod:
        return scalar(opcode::MOD_F, l, r);
      case B::lt:
      case B::le:
      case B::gt:
      case B::ge: {
        if (lv || lk == K::string || lk == K::boolean)
          throw unsupported{e.range, "ordering comparison of `" + to_string(lk) + "`"};
        bool swap = e.bop == B::gt || e.bop == B::ge;
        opcode o = (e.bop == B::lt || e.bop == B::gt) ? opcode::LT_F : opcode::LE_F;
        return swap ? boolean(o, r, l) : boolean(o, l, r);
      }
      case B::eq:
      case B::ne: {
        if (lv) throw unsupported{e.range, "comparing resource vectors"};
        bool eq = e.bop == B::eq;
        auto kind = nodes_[static_cast<size_t>(l)].kind;
        opcode o = kind == value_kind::symbol    ? (eq ? opcode::EQ_SYM : opcode::NE_SYM)
                   : kind == value_kind::boolean ? (eq ? opcode::EQ_B : opcode::NE_B)
                                                 : (eq ? opcode::EQ_F : opcode::NE_F);
        return boolean(o, l, r);
      }
      case B::logical_and:
        return boolean(opcode::AND, l, r);
      case B::logical_or:
        return boolean(opcode::OR, l, r);
      case B::coalesce: {
        node n;
        n.op = lv ? opcode::COALESCEV : opcode::COALESCE;
        n.vec = lv;
        n.kind = nodes_[static_cast<size_t>(r)].kind;
        n.a = l;
        n.b = r;
        n.note = note_of(e);
        return make(n);
      }
      case B::in:
        break;
    }
    throw unsupported{e.range, "this operator"};
  }

  // --- Code generation -----------------------------------------------------

  /// Assigns registers stage by stage and emits each node into its stage's
  /// chunk, in first-use order by rule; then the FILTER/SCORE epilogue.
  bool emit(compile_result& out) {
    // Order: the nodes each rule needs, rules in declaration order, filters
    // before scores in the pair chunk so a rejection skips score work.
    std::vector<int> order;
    std::vector<char> seen(nodes_.size(), 0);
    std::vector<size_t> rule_order;
    for (size_t i = 0; i < prog_.rules.size(); ++i)
      if (prog_.rules[i].what != rule_info::kind::score) rule_order.push_back(i);
    for (size_t i = 0; i < prog_.rules.size(); ++i)
      if (prog_.rules[i].what == rule_info::kind::score) rule_order.push_back(i);
    std::vector<std::vector<int>> per_rule(prog_.rules.size());
    for (size_t r : rule_order) visit(roots_[r], seen, per_rule[r]);
    // Registers: contiguous ranges per stage.
    std::array<std::vector<int>, chunk_count> by_stage_s, by_stage_v;
    for (size_t r : rule_order)
      for (int n : per_rule[r]) {
        auto& nd = nodes_[static_cast<size_t>(n)];
        (nd.vec ? by_stage_v : by_stage_s)[static_cast<size_t>(nd.st)].push_back(n);
      }
    uint16_t s = 0, v = 0;
    for (size_t c = 0; c < chunk_count; ++c) {
      prog_.sreg[c] = s;
      prog_.vreg[c] = v;
      for (int n : by_stage_s[c]) nodes_[static_cast<size_t>(n)].reg = s++;
      for (int n : by_stage_v[c]) nodes_[static_cast<size_t>(n)].reg = v++;
    }
    prog_.sreg[chunk_count] = s;
    prog_.vreg[chunk_count] = v;
    if (s > 256 || v > 256) {
      out.diagnostics.push_back(
          make_file_diagnostic(source_.name(), "E0902",
                               "the policy needs " + std::to_string(s) + " scalar and " +
                                   std::to_string(v) + " vector registers; the VM has 256 of each",
                               "split the policy, or share subexpressions through `let`"));
      return false;
    }
    for (size_t r : rule_order) {
      for (int n : per_rule[r])
        if (nodes_[static_cast<size_t>(n)].loop < 0) instr(nodes_[static_cast<size_t>(n)]);
      auto& rule = prog_.rules[r];
      rule.reg = static_cast<uint8_t>(nodes_[static_cast<size_t>(roots_[r])].reg);
      if (rule.what == rule_info::kind::filter || rule.what == rule_info::kind::score) {
        auto op = rule.what == rule_info::kind::filter ? opcode::FILTER : opcode::SCORE;
        auto& code = prog_.chunks[static_cast<size_t>(chunk_id::pair)];
        code.push_back(
            {op, rule.reg, static_cast<uint8_t>(r & 0xff), static_cast<uint8_t>(r >> 8)});
        prog_.notes[static_cast<size_t>(chunk_id::pair)].push_back({line_of_rule(r), rule.name});
        rule.cost[static_cast<size_t>(chunk_id::pair)] += cost_of(op);
      }
    }
    for (size_t c = 0; c < chunk_count; ++c) {
      prog_.chunks[c].push_back({opcode::RET, 0, 0, 0});
      prog_.notes[c].push_back({0, ""});
    }
    return true;
  }

  uint32_t line_of_rule(size_t r) const { return nodes_[static_cast<size_t>(roots_[r])].line; }

  void visit(int n, std::vector<char>& seen, std::vector<int>& out) {
    if (seen[static_cast<size_t>(n)]) return;
    seen[static_cast<size_t>(n)] = 1;
    auto& nd = nodes_[static_cast<size_t>(n)];
    for (int x : {nd.a, nd.b, nd.c})
      if (x >= 0) visit(x, seen, out);
    if (nd.owns >= 0) {
      nd.body.clear();
      for (int x : out)
        if (nodes_[static_cast<size_t>(x)].loop == nd.owns) nd.body.push_back(x);
    }
    out.push_back(n);
  }

  void instr(const node& n) {
    auto c = static_cast<size_t>(n.st);
    auto& code = prog_.chunks[c];
    auto& notes = prog_.notes[c];
    auto reg = [&](int x) { return static_cast<uint8_t>(nodes_[static_cast<size_t>(x)].reg); };
    auto a = static_cast<uint8_t>(n.reg);
    auto push = [&](opcode o, uint8_t b, uint8_t cc) {
      code.push_back({o, a, b, cc});
      notes.push_back({n.line, n.note});
      if (n.rule >= 0) prog_.rules[static_cast<size_t>(n.rule)].cost[c] += cost_of(o);
    };
    auto bx = [&](uint32_t v) {
      push(n.op, static_cast<uint8_t>(v & 0xff), static_cast<uint8_t>(v >> 8));
    };
    switch (n.op) {
      case opcode::ACC_SUM:
      case opcode::ACC_COUNT:
      case opcode::ACC_MIN:
      case opcode::ACC_MAX:
      case opcode::ACC_ANY:
      case opcode::ACC_ALL: {
        static const opcode kinds[] = {opcode::ACC_SUM, opcode::ACC_COUNT, opcode::ACC_MIN,
                                       opcode::ACC_MAX, opcode::ACC_ANY,   opcode::ACC_ALL};
        uint8_t kind = 0;
        while (kinds[kind] != n.op) ++kind;
        push(opcode::AGG_INIT, kind, 0);
        size_t iter = code.size();
        push(opcode::ITER, static_cast<uint8_t>(n.imm), 0);
        for (int x : n.body) instr(nodes_[static_cast<size_t>(x)]);
        push(n.op, n.a >= 0 ? reg(n.a) : 0, reg(n.b));
        size_t next = code.size();
        if (next - iter > 250) throw unsupported{{0, 0}, "an aggregate body this long"};
        auto back = static_cast<uint16_t>(next - iter);
        push(opcode::NEXT, static_cast<uint8_t>(back & 0xff), static_cast<uint8_t>(back >> 8));
        code[iter].c = static_cast<uint8_t>(code.size() - iter - 1);
        if (n.op == opcode::ACC_MIN || n.op == opcode::ACC_MAX) push(opcode::AGG_END, 0, 0);
        break;
      }
      case opcode::LOADK: {
        uint32_t k = 0;
        for (; k < prog_.numbers.size(); ++k)
          if (std::memcmp(&prog_.numbers[k], &n.num, sizeof n.num) == 0) break;
        if (k == prog_.numbers.size()) prog_.numbers.push_back(n.num);
        bx(k);
        break;
      }
      case opcode::LOADB:
        push(n.op, n.num != 0 ? 1 : 0, 0);
        break;
      case opcode::LOADSYM:
      case opcode::LOADV:
      case opcode::FIELD:
      case opcode::FIELDV:
        bx(n.imm);
        break;
      case opcode::SELECT:
      case opcode::SELECTV:
        push(n.vec ? opcode::MOVEV : opcode::MOVE, reg(n.a), 0);
        push(n.op, reg(n.b), reg(n.c));
        break;
      case opcode::PROJ:
      case opcode::PROJ_R:
      case opcode::RES_GET:
        push(n.op, reg(n.a), static_cast<uint8_t>(n.imm));
        break;
      default:
        push(n.op, reg(n.a), n.b >= 0 ? reg(n.b) : 0);
        break;
    }
  }

  const source_file& source_;
  const schema* schema_;
  std::vector<std::string> resources_;
  program prog_;
  std::vector<node> nodes_;
  std::map<std::string, int> cse_;
  std::map<const ast::let_decl*, operand> lets_;  ///< Lowered parameterless lets.
  std::vector<int> roots_;
  uint32_t line_ = 0;
  int rule_ = -1;
  bool events_pass_ = false;  ///< Declaring the `on EVENT` metrics (after the rest).
  int loops_ = -1;
  bool in_loop_ = false;
};

}  // namespace

compile_result compile(const check_result& checked, const source_file& source,
                       const schema* schema) {
  if (!checked.ok()) {
    compile_result out;
    out.diagnostics.push_back(
        make_file_diagnostic(source.name(), "E0900", "the policy has errors; not compiling"));
    return out;
  }
  compiler c(source, schema);
  return c.run(checked);
}

}  // namespace agora::policy
