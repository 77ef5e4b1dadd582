#include "agora/policy/tool_test.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include "agora/policy/checker.hpp"
#include "agora/policy/compiler.hpp"
#include "agora/policy/parser.hpp"
#include "agora/policy/scenario.hpp"
#include "agora/policy/schema.hpp"
#include "agora/policy/tool_disasm.hpp"

namespace agora::policy {

namespace {

using step_kind = ast::test_step::kind;

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

std::optional<schema> schema_near(const std::string& path) {
  std::string sp = folder_of(path) + "cluster.schema";
  std::string error;
  auto s = source_file::load(sp, error);
  if (!s) return std::nullopt;
  auto loaded = load_schema(*s);
  return loaded.value;
}

std::vector<std::string> expand(const std::string& path) {
  std::vector<std::string> files;
  if (DIR* d = opendir(path.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 7 && n.compare(n.size() - 7, 7, ".policy") == 0)
        files.push_back(path + (path.back() == '/' ? "" : "/") + n);
    }
    closedir(d);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

/// A failed step: where, and why.
struct test_failure {
  source_range range;
  std::string message;
};

[[noreturn]] void fail(source_range range, std::string message) {
  throw test_failure{range, std::move(message)};
}

std::string list_of(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

/// Formats an amount for failure messages (`unlimited` for no limit).
std::string show_amount(const std::string& resource, double v) {
  return std::isinf(v) ? "unlimited" : format_amount(resource, v);
}

// ---- Values of `expect` expressions ----------------------------------------

/// What a number measures (bytes and durations must carry a unit).
enum class dim { plain, bytes, seconds };

struct tvalue {
  enum class kind { number, boolean, string, res, list, none } k = kind::none;
  double num = 0;
  dim unit = dim::plain;
  std::string str;
  res_vec res{};
  std::vector<tvalue> items;

  static tvalue number(double v, dim d = dim::plain) {
    tvalue t;
    t.k = kind::number;
    t.num = v;
    t.unit = d;
    return t;
  }
  static tvalue boolean(bool v) {
    tvalue t;
    t.k = kind::boolean;
    t.num = v;
    return t;
  }
  static tvalue string(std::string s) {
    tvalue t;
    t.k = kind::string;
    t.str = std::move(s);
    return t;
  }
};

const char* kind_name(tvalue::kind k) {
  switch (k) {
    case tvalue::kind::number: return "number";
    case tvalue::kind::boolean: return "bool";
    case tvalue::kind::string: return "string";
    case tvalue::kind::res: return "resources";
    case tvalue::kind::list: return "list";
    case tvalue::kind::none: return "nothing";
  }
  return "?";
}

/// Shared state of one test block: the policy under test, the cluster the
/// `given` steps describe, and the scenario built from them on first use.
class test_run {
 public:
  test_run(const source_file& file, const schema* file_schema,
           std::map<std::string, std::unique_ptr<loaded_policy>>& cache)
      : file_(file), schema_(file_schema), cache_(cache) {}

  /// Runs one step; throws `test_failure` when it fails.
  void step(const ast::test_step& s) {
    switch (s.what) {
      case step_kind::given_policy: return given_policy(s);
      case step_kind::given_fixture: return given_fixture(s);
      case step_kind::given_allocation: return given_allocation(s);
      case step_kind::given_agent: return given_agent(s);
      case step_kind::given_framework: return given_framework(s);
      case step_kind::expect_order: return expect_order(s);
      case step_kind::expect_compile_error: return expect_compile_error(s);
      case step_kind::expect_expr: return expect_expr(s);
    }
  }

 private:
  // ---- given ----------------------------------------------------------------

  void given_policy(const ast::test_step& s) {
    if (policy_) fail(s.range, "`given policy` appears twice in this test");
    std::string name = decode_string(s.text);
    std::string path = name.rfind('/', 0) == 0 ? name : folder_of(file_.name()) + name;
    auto& slot = cache_[path];
    if (!slot) slot = load_policy(path);
    auto& p = *slot;
    if (!p.error.empty()) fail(s.range, "cannot load the policy under test: " + p.error);
    if (!p.compiled.ok()) {
      std::string codes;
      for (auto& d : p.diagnostics)
        if (d.severity == severity::error)
          codes += (codes.empty() ? "" : ", ") + d.file + ":" + std::to_string(d.begin.line) +
                   ":" + std::to_string(d.begin.column) + " " + d.code;
      fail(s.range, "the policy under test " + s.text + " does not compile (" + codes + ")");
    }
    policy_ = &p;
    resources_ = resource_names(p.schema ? &*p.schema : schema_);
    if (p.schema) schema_ = &*p.schema;
  }

  void given_fixture(const ast::test_step& s) {
    std::vector<agent_view> agents;
    std::string name = decode_string(s.text);
    if (!cluster_fixture(name, agents))
      fail(s.range, "unknown cluster fixture " + s.text +
                        "; fixtures are named `R_racks_N_agents` (e.g. \"two_racks_64_agents\")");
    for (auto& a : agents) add_agent(std::move(a), s.range);
  }

  void given_allocation(const ast::test_step& s) {
    auto& obj = object(*s.value, "an allocation");
    for (size_t i = 0; i < obj.keys.size(); ++i) {
      auto key = key_of(obj, i);
      if (std::any_of(allocation_.begin(), allocation_.end(),
                      [&](auto& a) { return a.first == key; }))
        fail(obj.children[i]->range, "`" + key + "` appears twice in the allocation");
      allocation_.emplace_back(key, resources_of(*obj.children[i]));
    }
  }

  void given_agent(const ast::test_step& s) {
    agent_view a;
    a.id = decode_string(s.text);
    a.hostname = a.id;
    auto& obj = object(*s.value, "an agent");
    std::optional<res_vec> total, free, used;
    for (size_t i = 0; i < obj.keys.size(); ++i) {
      auto key = key_of(obj, i);
      auto& v = *obj.children[i];
      if (key == "total") {
        total = resources_of(v);
      } else if (key == "free") {
        free = resources_of(v);
      } else if (key == "used") {
        used = resources_of(v);
      } else if (key == "hostname") {
        a.hostname = text_of(v, "a hostname");
      } else if (key == "metrics") {
        auto& m = object(v, "agent metrics");
        for (size_t j = 0; j < m.keys.size(); ++j) {
          known(schema_ ? &schema_->agent_metrics : nullptr, key_of(m, j), *m.children[j],
                "agent metric");
          a.metrics[key_of(m, j)] = number_of(*m.children[j], "a metric");
        }
      } else if (key == "attributes") {
        auto& m = object(v, "agent attributes");
        for (size_t j = 0; j < m.keys.size(); ++j) {
          known(attributes(), key_of(m, j), *m.children[j], "agent attribute");
          a.attributes[key_of(m, j)] = scalar_text(*m.children[j]);
        }
      } else {
        known(attributes(), key, v, "agent attribute");
        a.attributes[key] = scalar_text(v);
      }
    }
    // Two of total, free and used give the third; one given: the rest is unused.
    res_vec t = total.value_or(res_vec{}), f = free.value_or(res_vec{}), u = used.value_or(res_vec{});
    for (size_t i = 0; i < max_resources; ++i) {
      if (!total) t[i] = f[i] + u[i];
      if (!free) f[i] = t[i] - u[i];
      if (!used) u[i] = t[i] - f[i];
      if (f[i] < 0 || u[i] < 0)
        fail(s.range, "agent " + s.text + ": free + used must equal total for " + resources_[i]);
    }
    a.total = t;
    a.free = f;
    a.used = u;
    add_agent(std::move(a), s.range);
  }

  void given_framework(const ast::test_step& s) {
    scenario_framework f;
    f.view.id = decode_string(s.text);
    for (auto& other : cluster_.frameworks)
      if (other.view.id == f.view.id) fail(s.range, "framework " + s.text + " is given twice");
    auto& obj = object(*s.value, "a framework");
    for (size_t i = 0; i < obj.keys.size(); ++i) {
      auto key = key_of(obj, i);
      auto& v = *obj.children[i];
      if (key == "role") {
        f.role = text_of(v, "a role");
      } else if (key == "user") {
        f.view.user = text_of(v, "a user");
      } else if (key == "min_request") {
        f.view.min_request = resources_of(v);
      } else if (key == "max_request") {
        f.view.max_request = resources_of(v);
      } else if (key == "allocated") {
        f.view.allocated = resources_of(v);
      } else if (key == "waiting") {
        if (v.kind != ast::expr_kind::literal || v.lit != ast::literal_kind::quantity ||
            v.unit.empty() || !find_unit(v.unit) || find_unit(v.unit)->kind != type_kind::duration)
          fail(v.range, "`waiting` is a duration with a unit, e.g. `7s`");
        f.view.waiting = v.value;
      } else if (key == "level") {
        f.level = text_of(v, "a locality level");
      } else if (key == "labels") {
        auto& m = object(v, "framework labels");
        for (size_t j = 0; j < m.keys.size(); ++j) {
          known(labels(), key_of(m, j), *m.children[j], "framework label");
          f.view.labels[key_of(m, j)] = scalar_text(*m.children[j]);
        }
      } else {
        known(labels(), key, v, "framework label");
        f.view.labels[key] = scalar_text(v);
      }
    }
    if (f.role.empty()) fail(s.range, "framework " + s.text + " needs a `role`");
    f.view.max_request = f.view.max_request == res_vec{} ? f.view.min_request : f.view.max_request;
    cluster_.frameworks.push_back(std::move(f));
  }

  void add_agent(agent_view a, source_range range) {
    for (auto& other : cluster_.agents)
      if (other.id == a.id) fail(range, "agent \"" + a.id + "\" is given twice");
    cluster_.agents.push_back(std::move(a));
  }

  // ---- literals -------------------------------------------------------------

  /// Returns key `i` of object `e`, decoded when it is quoted (`"prod/web"`).
  static std::string key_of(const ast::expr& e, size_t i) {
    return e.key_is_string.size() > i && e.key_is_string[i] ? decode_string(e.keys[i]) : e.keys[i];
  }

  const ast::expr& object(const ast::expr& e, const char* what) {
    if (e.kind != ast::expr_kind::object) fail(e.range, std::string("expected ") + what + " `{...}`");
    return e;
  }

  std::string text_of(const ast::expr& e, const char* what) {
    if (e.kind != ast::expr_kind::literal || e.lit != ast::literal_kind::string)
      fail(e.range, std::string("expected ") + what + " as a string");
    return e.text;
  }

  double number_of(const ast::expr& e, const char* what) {
    if (e.kind == ast::expr_kind::unary && e.uop == ast::unary_op::negate)
      return -number_of(*e.children[0], what);
    if (e.kind != ast::expr_kind::literal ||
        (e.lit != ast::literal_kind::integer && e.lit != ast::literal_kind::floating &&
         e.lit != ast::literal_kind::percent))
      fail(e.range, std::string("expected ") + what + " as a number");
    return e.value;
  }

  /// Checks an attribute or label name against the schema, when there is one.
  void known(const std::vector<schema_field_info>* fields, const std::string& name,
             const ast::expr& value, const char* what) {
    if (!fields || fields->empty()) return;
    std::vector<std::string> names;
    for (auto& f : *fields) {
      if (f.name == name) return;
      names.push_back(f.name);
    }
    auto guess = closest_name(name, names);
    fail(value.range, std::string("the schema declares no ") + what + " `" + name + "`" +
                          (guess.empty() ? " (it has: " + list_of(names) + ")"
                                         : "; did you mean `" + guess + "`?"));
  }
  const std::vector<schema_field_info>* attributes() const {
    return schema_ ? &schema_->agent_attributes : nullptr;
  }
  const std::vector<schema_field_info>* labels() const {
    return schema_ ? &schema_->framework_labels : nullptr;
  }

  /// An attribute or label: a string, a bool ("true"/"false") or a number.
  std::string scalar_text(const ast::expr& e) {
    if (e.kind == ast::expr_kind::literal) {
      if (e.lit == ast::literal_kind::string) return e.text;
      if (e.lit == ast::literal_kind::boolean) return e.text;
      if (e.lit == ast::literal_kind::integer || e.lit == ast::literal_kind::floating)
        return e.text;
    }
    fail(e.range, "expected a string, bool or number");
  }

  /// `{cpus: 4, mem: 8GiB}`: named resources; memory and disk need a unit.
  res_vec resources_of(const ast::expr& e) {
    if (resources_.empty()) resources_ = resource_names(schema_);
    auto& obj = object(e, "resources");
    res_vec out{};
    for (size_t i = 0; i < obj.keys.size(); ++i) {
      auto key = key_of(obj, i);
      auto& v = *obj.children[i];
      auto at = std::find(resources_.begin(), resources_.end(), key);
      if (at == resources_.end()) {
        auto guess = closest_name(key, resources_);
        fail(v.range, "unknown resource `" + key + "`" +
                          (guess.empty() ? "" : "; did you mean `" + guess + "`?"));
      }
      size_t id = static_cast<size_t>(at - resources_.begin());
      bool bytes = key == "mem" || key == "disk";
      bool quantity = v.kind == ast::expr_kind::literal && v.lit == ast::literal_kind::quantity;
      if (quantity) {
        auto* u = find_unit(v.unit);
        if (!u || !bytes || u->kind != type_kind::bytes)
          fail(v.range, "`" + key + "` " +
                            (bytes ? "needs a byte unit such as `GiB`" : "is a plain number"));
        out[id] = v.value;
      } else {
        out[id] = number_of(v, "an amount");
        if (bytes && out[id] != 0)
          fail(v.range, "`" + key + "` is measured in bytes: write the unit, e.g. `" +
                            std::string(file_.slice(v.range)) + "GiB`");
      }
      if (out[id] < 0) fail(v.range, "amounts cannot be negative");
    }
    return out;
  }

  // ---- the scenario ---------------------------------------------------------

  scenario& world(source_range range) {
    if (world_) return *world_;
    if (!policy_) fail(range, "this expectation needs `given policy \"FILE\";` first");
    auto spec = cluster_;
    for (auto& [key, res] : allocation_) {
      // A named copy: C++17 lambdas cannot capture structured bindings
      // (gcc allows it, clang does not).
      const auto& id = key;
      auto fw = std::find_if(spec.frameworks.begin(), spec.frameworks.end(),
                             [&](auto& f) { return f.view.id == id; });
      if (fw != spec.frameworks.end()) {
        for (size_t i = 0; i < max_resources; ++i) fw->view.allocated[i] += res[i];
      } else {
        auto& a = spec.role_allocation[key];
        for (size_t i = 0; i < max_resources; ++i) a[i] += res[i];
      }
    }
    auto outline = policy_outline::from(policy_->checked, resources_);
    for (auto& f : spec.frameworks)
      if (!f.level.empty() &&
          std::none_of(outline.levels.begin(), outline.levels.end(),
                       [&](auto& l) { return l.name == f.level; }))
        fail(range, "framework \"" + f.view.id + "\" is at level \"" + f.level +
                        "\", which the policy does not declare");
    world_ = std::make_unique<scenario>(policy_->compiled.prog, outline, std::move(spec));
    return *world_;
  }

  size_t framework_arg(const ast::expr& e) {
    auto id = text_of(e, "a framework id");
    int at = world(e.range).framework_index(id);
    if (at < 0) {
      std::vector<std::string> ids;
      for (auto& f : world_->input().frameworks) ids.push_back(f.id);
      fail(e.range, "no framework \"" + id + "\" in this test (given: " + list_of(ids) + ")");
    }
    return static_cast<size_t>(at);
  }

  size_t agent_arg(const ast::expr& e) {
    auto id = text_of(e, "an agent id");
    int at = world(e.range).agent_index(id);
    if (at < 0) {
      std::vector<std::string> ids;
      for (auto& a : world_->input().agents) ids.push_back(a.id);
      if (ids.size() > 8) ids.resize(8), ids.push_back("...");
      fail(e.range, "no agent \"" + id + "\" in this test (given: " + list_of(ids) + ")");
    }
    return static_cast<size_t>(at);
  }

  tvalue res_value(const res_vec& r) {
    tvalue t;
    t.k = tvalue::kind::res;
    t.res = r;
    return t;
  }

  tvalue from_rule(const rule_value& v, source_range range, const std::string& what) {
    if (v.st == rule_value::state::error) fail(range, what + " errs");
    if (v.st == rule_value::state::absent) return tvalue{};
    if (v.kind == value_kind::symbol) return tvalue::string(v.text);
    if (v.kind == value_kind::boolean) return tvalue::boolean(v.number != 0);
    return tvalue::number(v.number);
  }

  // ---- expect ---------------------------------------------------------------

  /// The test builtins, documented in docs/policy-testing.md.
  tvalue call(const ast::expr& e) {
    auto& name = e.name;
    auto& args = e.children;
    auto arity = [&](size_t lo, size_t hi, const char* usage) {
      if (args.size() < lo || args.size() > hi)
        fail(e.range, "`" + name + "` takes " + usage);
    };
    if (name == "offer" || name == "offered" || name == "passes" || name == "score" ||
        name == "locality") {
      bool named = name == "passes" || name == "score";
      arity(2, named ? 3 : 2, named ? "(framework, agent) or (framework, agent, \"rule\")"
                                    : "(framework, agent)");
      size_t fw = framework_arg(*args[0]);
      size_t ag = agent_arg(*args[1]);
      auto d = world_->decide(fw, ag);
      if (name == "offer") return res_value(d.offer);
      if (name == "offered") return tvalue::boolean(d.offered);
      if (name == "locality") return d.level.empty() ? tvalue{} : tvalue::string(d.level);
      if (args.size() == 2)
        return name == "passes" ? tvalue::boolean(d.accepted) : tvalue::number(d.score);
      auto rule = text_of(*args[2], "a rule name");
      auto it = d.rules.find(rule);
      std::string full = (name == "passes" ? "filter " : "score ") + rule;
      auto& rules = policy_->compiled.prog->rules;
      if (it == d.rules.end() ||
          std::none_of(rules.begin(), rules.end(), [&](auto& r) { return r.name == full; })) {
        std::vector<std::string> names;
        for (auto& r : policy_->compiled.prog->rules)
          if ((name == "passes" && r.what == rule_info::kind::filter) ||
              (name == "score" && r.what == rule_info::kind::score))
            names.push_back(r.name.substr(r.name.find(' ') + 1));
        auto guess = closest_name(rule, names);
        fail(args[2]->range, std::string("the policy has no ") +
                                 (name == "passes" ? "filter" : "score") + " `" + rule + "`" +
                                 (guess.empty() ? " (it has: " + list_of(names) + ")"
                                                : "; did you mean `" + guess + "`?"));
      }
      if (name == "passes") {
        auto& v = it->second;
        return tvalue::boolean(v.st == rule_value::state::value && v.number != 0);
      }
      return from_rule(it->second, e.range, "score `" + rule + "`");
    }
    if (name == "best_agent" || name == "candidates" || name == "level") {
      arity(1, 1, "(framework)");
      size_t fw = framework_arg(*args[0]);
      if (name == "level") {
        auto level = world_->level(fw);
        return level.empty() ? tvalue{} : tvalue::string(level);
      }
      auto ranked = world_->candidates(fw);
      if (name == "best_agent") return ranked.empty() ? tvalue{} : tvalue::string(ranked[0]);
      tvalue list;
      list.k = tvalue::kind::list;
      for (auto& id : ranked) list.items.push_back(tvalue::string(id));
      return list;
    }
    if (name == "headroom") {
      arity(1, 1, "(role)");
      auto role = text_of(*args[0], "a role path");
      int r = world(e.range).role_index(role);
      if (r < 0) fail(args[0]->range, "no role \"" + role + "\" in this test");
      return res_value(world_->headroom(static_cast<size_t>(r)));
    }
    if (name == "metric") {
      arity(1, 2, "(\"name\") or (\"name\", \"role\")");
      auto metric = text_of(*args[0], "a metric name");
      std::string role = args.size() > 1 ? text_of(*args[1], "a role path") : "";
      std::string error;
      auto v = world(e.range).metric(metric, role, error);
      if (!v) fail(e.range, error);
      return from_rule(*v, e.range, "metric `" + metric + "`");
    }
    static const std::vector<std::string> builtins = {
        "offer", "offered", "passes", "score", "locality", "best_agent",
        "candidates", "level", "headroom", "metric"};
    auto guess = closest_name(name, builtins);
    fail(e.name_range, "unknown test function `" + name + "`" +
                           (guess.empty() ? " (test functions: " + list_of(builtins) + ")"
                                          : "; did you mean `" + guess + "`?"));
  }

  tvalue eval(const ast::expr& e) {
    switch (e.kind) {
      case ast::expr_kind::literal:
        switch (e.lit) {
          case ast::literal_kind::string: return tvalue::string(e.text);
          case ast::literal_kind::boolean: return tvalue::boolean(e.text == "true");
          case ast::literal_kind::quantity: {
            auto* u = find_unit(e.unit);
            if (!u) fail(e.range, "unknown unit `" + e.unit + "`");
            return tvalue::number(e.value, u->kind == type_kind::bytes ? dim::bytes : dim::seconds);
          }
          default: return tvalue::number(e.value);
        }
      case ast::expr_kind::name:
        if (e.has_args) return call(e);
        fail(e.range, "unknown name `" + e.name +
                          "`; `expect` reads test functions such as offer(\"fw\", \"agent\")");
      case ast::expr_kind::member: {
        if (e.has_args) fail(e.range, "methods are not available in `expect`");
        auto base = eval(*e.children[0]);
        if (base.k != tvalue::kind::res)
          fail(e.range, std::string("`.") + e.name + "` needs resources, found " + kind_name(base.k));
        auto at = std::find(resources_.begin(), resources_.end(), e.name);
        if (at == resources_.end()) {
          auto guess = closest_name(e.name, resources_);
          fail(e.name_range, "unknown resource `" + e.name + "`" +
                                 (guess.empty() ? "" : "; did you mean `" + guess + "`?"));
        }
        bool bytes = e.name == "mem" || e.name == "disk";
        return tvalue::number(base.res[static_cast<size_t>(at - resources_.begin())],
                              bytes ? dim::bytes : dim::plain);
      }
      case ast::expr_kind::unary: {
        auto v = eval(*e.children[0]);
        if (e.uop == ast::unary_op::logical_not) {
          if (v.k != tvalue::kind::boolean) fail(e.range, "`!` needs a bool");
          return tvalue::boolean(v.num == 0);
        }
        if (v.k != tvalue::kind::number) fail(e.range, "`-` needs a number");
        v.num = -v.num;
        return v;
      }
      case ast::expr_kind::binary: return binary(e);
      case ast::expr_kind::list: {
        tvalue list;
        list.k = tvalue::kind::list;
        for (auto& c : e.children) list.items.push_back(eval(*c));
        return list;
      }
      case ast::expr_kind::object: return res_value(resources_of(e));
      default: fail(e.range, "this expression is not available in `expect`");
    }
  }

  static bool near(double a, double b) {
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)});
  }

  bool equal(const tvalue& a, const tvalue& b, source_range range) {
    if (a.k == tvalue::kind::none || b.k == tvalue::kind::none) return a.k == b.k;
    if (a.k != b.k)
      fail(range, std::string("cannot compare ") + kind_name(a.k) + " with " + kind_name(b.k));
    switch (a.k) {
      case tvalue::kind::number:
        units(a, b, range);
        return near(a.num, b.num);
      case tvalue::kind::boolean: return a.num == b.num;
      case tvalue::kind::string: return a.str == b.str;
      case tvalue::kind::res:
        for (size_t i = 0; i < max_resources; ++i)
          if (!near(a.res[i], b.res[i])) return false;
        return true;
      case tvalue::kind::list:
        if (a.items.size() != b.items.size()) return false;
        for (size_t i = 0; i < a.items.size(); ++i)
          if (!equal(a.items[i], b.items[i], range)) return false;
        return true;
      case tvalue::kind::none: return true;
    }
    return false;
  }

  /// Memory and durations compare only with values that carry a unit (0 aside).
  void units(const tvalue& a, const tvalue& b, source_range range) {
    if (a.unit == b.unit) return;
    const tvalue& plain = a.unit == dim::plain ? a : b;
    const tvalue& other = a.unit == dim::plain ? b : a;
    if (plain.unit == dim::plain && plain.num == 0) return;
    if (plain.unit == dim::plain)
      fail(range, std::string("compare ") +
                      (other.unit == dim::bytes ? "bytes with a unit, e.g. `256GiB`"
                                                : "durations with a unit, e.g. `5s`"));
    fail(range, "cannot compare bytes with a duration");
  }

  tvalue binary(const ast::expr& e) {
    using op = ast::binary_op;
    if (e.bop == op::logical_and || e.bop == op::logical_or) {
      auto a = eval(*e.children[0]);
      if (a.k != tvalue::kind::boolean) fail(e.children[0]->range, "expected a bool");
      if ((a.num != 0) == (e.bop == op::logical_or)) return a;
      auto b = eval(*e.children[1]);
      if (b.k != tvalue::kind::boolean) fail(e.children[1]->range, "expected a bool");
      return b;
    }
    auto a = eval(*e.children[0]);
    auto b = eval(*e.children[1]);
    switch (e.bop) {
      case op::eq: return tvalue::boolean(equal(a, b, e.range));
      case op::ne: return tvalue::boolean(!equal(a, b, e.range));
      case op::in: {
        if (b.k != tvalue::kind::list) fail(e.children[1]->range, "`in` needs a list");
        for (auto& item : b.items)
          if (item.k == a.k && equal(a, item, e.range)) return tvalue::boolean(true);
        return tvalue::boolean(false);
      }
      default: break;
    }
    if (a.k != tvalue::kind::number || b.k != tvalue::kind::number)
      fail(e.range, std::string("expected numbers, found ") + kind_name(a.k) + " and " +
                        kind_name(b.k));
    if (e.bop != op::mul && e.bop != op::div) units(a, b, e.range);
    dim d = a.unit != dim::plain ? a.unit : b.unit;
    switch (e.bop) {
      case op::lt: return tvalue::boolean(a.num < b.num && !near(a.num, b.num));
      case op::le: return tvalue::boolean(a.num <= b.num || near(a.num, b.num));
      case op::gt: return tvalue::boolean(a.num > b.num && !near(a.num, b.num));
      case op::ge: return tvalue::boolean(a.num >= b.num || near(a.num, b.num));
      case op::add: return tvalue::number(a.num + b.num, d);
      case op::sub: return tvalue::number(a.num - b.num, d);
      case op::mul: return tvalue::number(a.num * b.num, d);
      case op::div:
        if (b.num == 0) fail(e.range, "division by zero");
        return tvalue::number(a.num / b.num, a.unit == b.unit ? dim::plain : d);
      default: fail(e.range, "this operator is not available in `expect`");
    }
  }

  std::string show(const tvalue& v) {
    switch (v.k) {
      case tvalue::kind::number:
        return show_amount(v.unit == dim::bytes ? "mem" : "", v.num) +
               (v.unit == dim::seconds ? "s" : "");
      case tvalue::kind::boolean: return v.num != 0 ? "true" : "false";
      case tvalue::kind::string: return "\"" + v.str + "\"";
      case tvalue::kind::none: return "nothing";
      case tvalue::kind::list: {
        std::string out = "[";
        for (size_t i = 0; i < v.items.size(); ++i) out += (i ? ", " : "") + show(v.items[i]);
        return out + "]";
      }
      case tvalue::kind::res: {
        std::string out;
        for (size_t i = 0; i < max_resources && i < resources_.size(); ++i) {
          if (v.res[i] == 0) continue;
          out += (out.empty() ? "" : ", ") + resources_[i] + ": " +
                 show_amount(resources_[i], v.res[i]);
        }
        return "{" + out + "}";
      }
    }
    return "?";
  }

  void expect_expr(const ast::test_step& s) {
    auto& e = *s.value;
    if (resources_.empty()) resources_ = resource_names(schema_);
    bool comparison = e.kind == ast::expr_kind::binary && e.bop != ast::binary_op::logical_and &&
                      e.bop != ast::binary_op::logical_or;
    auto v = eval(e);
    if (v.k != tvalue::kind::boolean)
      fail(e.range, std::string("an expectation must be a bool, found ") + kind_name(v.k) + " " +
                        show(v));
    if (v.num != 0) return;
    std::string text(file_.slice(e.range));
    if (comparison) {
      auto left = eval(*e.children[0]);
      auto right = eval(*e.children[1]);
      auto literal = [](const ast::expr& x) {
        return x.kind == ast::expr_kind::literal || x.kind == ast::expr_kind::object ||
               x.kind == ast::expr_kind::list;
      };
      auto& l = *e.children[0];
      auto& r = *e.children[1];
      std::string why = "expected `" + text + "`, but ";
      if (!literal(l)) why += "`" + std::string(file_.slice(l.range)) + "` is " + show(left);
      if (!literal(l) && !literal(r)) why += " and ";
      if (!literal(r) || literal(l))
        why += "`" + std::string(file_.slice(r.range)) + "` is " + show(right);
      fail(e.range, why);
    }
    fail(e.range, "expected `" + text + "` to hold");
  }

  void expect_order(const ast::test_step& s) {
    auto& w = world(s.range);
    auto got = s.frameworks ? w.framework_order() : w.role_order();
    auto& list = *s.value;
    if (list.kind != ast::expr_kind::list) fail(list.range, "expected a list of names");
    std::vector<std::string> want;
    for (auto& c : list.children) want.push_back(text_of(*c, "a name"));
    bool ok = s.starts_with ? got.size() >= want.size() &&
                                  std::equal(want.begin(), want.end(), got.begin())
                            : got == want;
    if (ok) return;
    auto quoted = [](const std::vector<std::string>& names) {
      std::string out;
      for (auto& n : names) out += (out.empty() ? "" : ", ") + ("\"" + n + "\"");
      return "[" + out + "]";
    };
    fail(s.range, std::string("expected the ") + (s.frameworks ? "framework" : "role") +
                      " order " + (s.starts_with ? "to start with " : "") + quoted(want) +
                      ", but it is " + quoted(got));
  }

  void expect_compile_error(const ast::test_step& s) {
    std::string code = decode_string(s.text);
    std::string body = decode_string(s.text2);
    source_file snippet(file_.name() + " (compile_error snippet)",
                        "policy \"snippet\" version 1;\nuse std.fairness;\n" + body + "\n");
    auto checked = check_policy(snippet, schema_);
    std::vector<diagnostic> found = checked.diagnostics;
    if (checked.ok()) {
      auto compiled = compile(checked, snippet, schema_);
      found.insert(found.end(), compiled.diagnostics.begin(), compiled.diagnostics.end());
    }
    std::string got;
    for (auto& d : found) {
      if (d.code == code) return;
      if (d.severity == severity::error) got += (got.empty() ? "" : ", ") + d.code;
    }
    fail(s.range, "expected " + code + ", got " + (got.empty() ? "no error" : got));
  }

  const source_file& file_;
  const schema* schema_;
  std::map<std::string, std::unique_ptr<loaded_policy>>& cache_;
  const loaded_policy* policy_ = nullptr;
  std::vector<std::string> resources_;
  cluster_spec cluster_;
  std::vector<std::pair<std::string, res_vec>> allocation_;
  std::unique_ptr<scenario> world_;

};

}  // namespace

int run_policy_test(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].size() > 1 && args[i][0] == '-') {
      err << "agora policy test: " << args[i] << ": unknown flag for `test`\n";
      return 2;
    }
    paths.push_back(args[i]);
  }
  if (paths.empty()) {
    err << "agora policy test: missing PATH\nusage: agora policy test PATH...\n";
    return 2;
  }
  for (auto& p : paths) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      err << "agora policy test: " << p << ": no such file or folder\n";
      return 2;
    }
  }
  std::map<std::string, std::unique_ptr<loaded_policy>> cache;
  size_t passed = 0, failed = 0;
  for (auto& p : paths) {
    for (auto& file : expand(p)) {
      std::string error;
      auto source = source_file::load(file, error);
      if (!source) {
        out << file << ": " << error << "\n";
        ++failed;
        continue;
      }
      auto parsed = parse(*source);
      if (!parsed.file) {
        out << render_all(parsed.diagnostics);
        ++failed;
        continue;
      }
      auto s = schema_near(file);
      for (auto& d : parsed.file->decls) {
        auto* t = std::get_if<ast::test_decl>(&d.node);
        if (!t) continue;
        test_run run(*source, s ? &*s : nullptr, cache);
        std::string why;
        try {
          if (t->steps.empty()) fail(d.range, "the test has no steps");
          bool expects = false;
          for (auto& step : t->steps) {
            run.step(step);
            expects |= step.what == step_kind::expect_order ||
                       step.what == step_kind::expect_compile_error ||
                       step.what == step_kind::expect_expr;
          }
          if (!expects) fail(d.range, "the test has no `expect`");
        } catch (const test_failure& f) {
          auto at = source->location(f.range.begin);
          why = file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                f.message;
        }
        out << (why.empty() ? "PASS " : "FAIL ") << file << ": " << t->name << "\n";
        if (!why.empty()) out << "  " << why << "\n";
        ++(why.empty() ? passed : failed);
      }
    }
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace agora::policy
