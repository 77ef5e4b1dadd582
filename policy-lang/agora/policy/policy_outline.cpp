#include "agora/policy/policy_outline.hpp"

#include <algorithm>
#include <limits>

#include "agora/policy/tool_disasm.hpp"

namespace agora::policy {

namespace {

constexpr double unlimited = std::numeric_limits<double>::infinity();

res_vec filled(double v) {
  res_vec r;
  r.fill(v);
  return r;
}

double literal_number(const ast::expr& v) {
  return v.kind == ast::expr_kind::unary ? -v.children[0]->value : v.value;
}

/// Reads a checked `{cpus: 4, mem: 8GiB}` quota; `missing` for resources not named.
res_vec quota_of(const ast::expr& e, const std::vector<std::string>& resources, double missing) {
  res_vec out = filled(missing);
  if (e.kind != ast::expr_kind::object) return out;
  for (size_t i = 0; i < e.keys.size(); ++i) {
    auto at = std::find(resources.begin(), resources.end(), e.keys[i]);
    if (at == resources.end() || at - resources.begin() >= static_cast<long>(max_resources))
      continue;
    out[static_cast<size_t>(at - resources.begin())] = literal_number(*e.children[i]);
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
      case item_kind::weight:
        spec.weight = literal_number(*item.value);
        break;
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
    } else if (auto* g = std::get_if<ast::guarantees_decl>(&d.node)) {
      out.hold_headroom = g->mode == "hold_headroom";
    } else if (auto* l = std::get_if<ast::locality_decl>(&d.node)) {
      for (auto& level : l->levels) out.levels.push_back({level.name, level.skips});
    } else if (auto* m = std::get_if<ast::metric_decl>(&d.node)) {
      metric_spec spec;
      spec.what = m->what == ast::metric_decl::kind::counter     ? metric_spec::kind::counter
                  : m->what == ast::metric_decl::kind::histogram ? metric_spec::kind::histogram
                                                                 : metric_spec::kind::gauge;
      spec.name = m->name;
      spec.help = m->help;
      for (auto& label : m->labels) spec.labels.push_back(label.name);
      if (m->buckets)
        for (auto& b : m->buckets->children) spec.buckets.push_back(literal_number(*b));
      spec.every_cycle = m->every_cycle;
      spec.event = m->event;
      out.metrics.push_back(std::move(spec));
    }
  }
}

policy_load finish(loaded_policy& p) {
  policy_load out;
  out.diagnostics = std::move(p.diagnostics);
  out.error = std::move(p.error);
  if (p.source) out.source_text = p.source->text();
  if (!p.compiled.ok()) return out;
  const schema* s = p.schema ? &*p.schema : nullptr;
  out.outline = policy_outline::from(p.checked, resource_names(s));
  out.prog = p.compiled.prog;
  return out;
}

}  // namespace

policy_outline policy_outline::from(const check_result& checked,
                                    const std::vector<std::string>& resources) {
  policy_outline out;
  for (auto& imported : checked.imports) read_decls(imported.ast, resources, out);
  if (checked.ast) read_decls(*checked.ast, resources, out);
  return out;
}

const role_spec& policy_outline::spec_for(const std::string& path) const {
  // The last declaration wins: the policy's own after its imports'.
  for (auto it = roles.rbegin(); it != roles.rend(); ++it)
    if (it->path == path) return *it;
  return fallback;
}

std::string policy_load::render_errors() const {
  std::vector<diagnostic> errors;
  for (auto& d : diagnostics)
    if (d.severity == severity::error) errors.push_back(d);
  std::string text = render_all(errors);
  if (!error.empty()) text += error + "\n";
  return text;
}

policy_load load_policy_file(const std::string& path, const std::string& schema_path) {
  auto p = load_policy(path, schema_path);
  return finish(*p);
}

policy_load load_policy_text(const std::string& name, const std::string& text,
                             const std::string& schema_text) {
  loaded_policy p;
  p.source.emplace(name, text);
  if (!schema_text.empty()) {
    auto s = source_file(name + ".schema", schema_text);
    auto loaded = load_schema(s);
    p.diagnostics = loaded.diagnostics;
    if (!loaded.value) {
      p.error = name + ": the embedded schema has errors";
      return finish(p);
    }
    p.schema = std::move(loaded.value);
  }
  const schema* s = p.schema ? &*p.schema : nullptr;
  p.checked = check_policy(*p.source, s);
  for (auto& d : p.checked.diagnostics) p.diagnostics.push_back(d);
  if (p.checked.ok()) {
    p.compiled = compile(p.checked, *p.source, s);
    for (auto& d : p.compiled.diagnostics) p.diagnostics.push_back(d);
  }
  return finish(p);
}

}  // namespace agora::policy
