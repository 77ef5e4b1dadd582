#include "agora/policy/schema.hpp"

#include <set>

#include "agora/policy/parser.hpp"

namespace agora::policy {

std::map<std::string, int64_t> schema::default_limits() {
  return {{"agents", 50000},
          {"frameworks", 2000},
          {"roles", 500},
          {"pending_per_framework", 10000},
          {"tasks_per_agent", 256}};
}

const std::vector<std::string>& schema::limit_names() {
  static const std::vector<std::string> names = {"agents", "frameworks", "roles",
                                                 "pending_per_framework", "tasks_per_agent"};
  return names;
}

namespace {

/// Resolves a schema field type; reports unknown names.
std::optional<type> resolve(const source_file& source, const ast::type_ref& ref,
                            std::vector<diagnostic>& out) {
  if (ref.name == "list" && ref.args.size() == 1) {
    auto elem = resolve(source, ref.args[0], out);
    if (!elem) return std::nullopt;
    return type::list_of(*elem).with_optional(ref.optional);
  }
  type_kind kind;
  static const std::vector<std::string> names = {"bool",     "int",  "float", "string", "ratio",
                                                 "duration", "time", "cores", "bytes",  "count"};
  if (!ref.args.empty() || !parse_type_name(ref.name, kind)) {
    auto guess = closest_name(ref.name, names);
    out.push_back(make_diagnostic(source, "E0201", ref.range, "unknown type `" + ref.name + "`",
                                  guess.empty() ? "" : "did you mean `" + guess + "`?"));
    return std::nullopt;
  }
  return type::of(kind).with_optional(ref.optional);
}

}  // namespace

schema_result load_schema(const source_file& source) {
  schema_result result;
  auto parsed = parse(source);
  result.diagnostics = std::move(parsed.diagnostics);
  if (!parsed.file) return result;
  auto& out = result.diagnostics;
  if (parsed.file->kind != ast::file_kind::schema) {
    out.push_back(make_diagnostic(source, "E0108", {0, 0},
                                  "expected a schema file (`schema \"NAME\" version N;`)"));
    return result;
  }
  schema s;
  s.name = parsed.file->name;
  s.version = parsed.file->version;
  static const std::vector<std::string> sections = {"resources", "agent.attributes",
                                                    "agent.metrics", "framework.labels", "limits"};
  std::set<std::string> seen_sections;
  for (auto& sec : parsed.file->sections) {
    if (!seen_sections.insert(sec.name).second) {
      out.push_back(make_diagnostic(source, "E0205", sec.name_range,
                                    "section `" + sec.name + "` is declared twice"));
      continue;
    }
    if (sec.name == "limits") {
      for (size_t i = 0; i < sec.limits.size(); ++i) {
        auto& [name, value] = sec.limits[i];
        auto known = schema::limit_names();
        bool ok = false;
        for (auto& k : known) ok = ok || k == name;
        if (!ok) {
          auto guess = closest_name(name, known);
          out.push_back(make_diagnostic(source, "E0209", sec.limit_ranges[i],
                                        "unknown limit `" + name + "`",
                                        guess.empty() ? "" : "did you mean `" + guess + "`?"));
        } else if (!s.limits.emplace(name, value).second) {
          out.push_back(make_diagnostic(source, "E0205", sec.limit_ranges[i],
                                        "limit `" + name + "` is set twice"));
        }
      }
      continue;
    }
    std::vector<schema_field_info>* target = nullptr;
    if (sec.name == "resources")
      target = &s.resources;
    else if (sec.name == "agent.attributes")
      target = &s.agent_attributes;
    else if (sec.name == "agent.metrics")
      target = &s.agent_metrics;
    else if (sec.name == "framework.labels")
      target = &s.framework_labels;
    if (!target) {
      auto guess = closest_name(sec.name, sections);
      out.push_back(make_diagnostic(source, "E0209", sec.name_range,
                                    "unknown schema section `" + sec.name + "`",
                                    guess.empty() ? "sections are resources, agent.attributes, "
                                                    "agent.metrics, framework.labels and limits"
                                                  : "did you mean `" + guess + "`?"));
      continue;
    }
    std::set<std::string> names;
    for (auto& f : sec.fields) {
      if (!names.insert(f.name).second) {
        out.push_back(make_diagnostic(source, "E0205", f.range,
                                      "`" + f.name + "` is declared twice in `" + sec.name + "`"));
        continue;
      }
      auto t = resolve(source, f.field_type, out);
      if (!t) continue;
      schema_field_info info{f.name, *t, 0};
      if (f.max_age) {
        auto& e = *f.max_age;
        if (e.kind == ast::expr_kind::literal && e.lit == ast::literal_kind::quantity &&
            find_unit(e.unit) && find_unit(e.unit)->kind == type_kind::duration) {
          info.max_age_seconds = e.value;
        } else {
          out.push_back(make_diagnostic(source, "E0305", e.range,
                                        "`max_age` needs a duration with a unit",
                                        "write e.g. `max_age 30s`"));
        }
      }
      if (target == &s.resources) {
        static const std::vector<std::string> builtin = {"cpus", "mem", "disk", "ports"};
        bool is_builtin = false;
        for (auto& b : builtin) is_builtin = is_builtin || b == f.name;
        if (is_builtin) {
          out.push_back(
              make_diagnostic(source, "E0205", f.range, "`" + f.name + "` is a built-in resource"));
          continue;
        }
        if (f.name == "gpus") continue;  // Built in as `count`; declaring it is harmless.
        if (t->kind != type_kind::count && t->kind != type_kind::cores &&
            t->kind != type_kind::bytes) {
          out.push_back(make_diagnostic(source, "E0301", f.field_type.range,
                                        "a resource must be `count`, `cores` or `bytes`"));
          continue;
        }
      }
      if (target == &s.agent_metrics) info.field_type.optional = true;  // Stale reads absent.
      target->push_back(std::move(info));
    }
  }
  if (!has_errors(out)) result.value = std::move(s);
  return result;
}

}  // namespace agora::policy
