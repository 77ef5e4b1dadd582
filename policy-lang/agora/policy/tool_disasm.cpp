#include "agora/policy/tool_disasm.hpp"

#include <fstream>

namespace agora::policy {

std::unique_ptr<loaded_policy> load_policy(const std::string& path,
                                           const std::string& schema_path) {
  auto out = std::make_unique<loaded_policy>();
  out->source = source_file::load(path, out->error);
  if (!out->source) return out;
  std::string sp = schema_path;
  if (sp.empty()) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    if (std::ifstream(dir + "cluster.schema") && path != dir + "cluster.schema")
      sp = dir + "cluster.schema";
  }
  if (!sp.empty()) {
    auto s = source_file::load(sp, out->error);
    if (!s) return out;
    auto loaded = load_schema(*s);
    out->diagnostics = loaded.diagnostics;
    if (!loaded.value) {
      out->error = sp + ": the schema has errors";
      return out;
    }
    out->schema = std::move(loaded.value);
  }
  const schema* schema = out->schema ? &*out->schema : nullptr;
  out->checked = check_policy(*out->source, schema);
  for (auto& d : out->checked.diagnostics) out->diagnostics.push_back(d);
  if (!out->checked.ok()) return out;
  out->compiled = compile(out->checked, *out->source, schema);
  for (auto& d : out->compiled.diagnostics) out->diagnostics.push_back(d);
  return out;
}

int run_policy_disasm(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file, schema;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--schema" && i + 1 < args.size()) {
      schema = args[++i];
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      err << "agora policy disasm: " << args[i] << ": unknown flag for `disasm`\n";
      return 2;
    } else if (file.empty()) {
      file = args[i];
    } else {
      err << "agora policy disasm: unexpected argument '" << args[i] << "' (one FILE only)\n";
      return 2;
    }
  }
  if (file.empty()) {
    err << "agora policy disasm: missing FILE\nusage: agora policy disasm FILE [--schema SCHEMA]\n";
    return 2;
  }
  auto p = load_policy(file, schema);
  if (!p->error.empty()) {
    err << render_all(p->diagnostics) << "agora policy disasm: " << p->error << "\n";
    return 1;
  }
  if (!p->compiled.ok()) {
    std::vector<diagnostic> errors;
    for (auto& d : p->diagnostics)
      if (d.severity == severity::error) errors.push_back(d);
    out << render_all(errors);
    out << file << ": not compiled\n";
    return 1;
  }
  out << disassemble(*p->compiled.prog);
  return 0;
}

}  // namespace agora::policy
