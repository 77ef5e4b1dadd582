#include "agora/policy/tool.hpp"

#include <fstream>
#include <optional>

#include "agora/policy/checker.hpp"
#include "agora/policy/formatter.hpp"
#include "agora/policy/parser.hpp"
#include "agora/policy/schema.hpp"
#include "agora/policy/tool_disasm.hpp"
#include "agora/policy/tool_test.hpp"

namespace agora::policy {

namespace {

const char* usage =
    "usage: agora policy check FILE [--schema SCHEMA] [--no-costs]\n"
    "       agora policy fmt FILE [--write | --check]\n"
    "       agora policy disasm FILE [--schema SCHEMA]\n"
    "       agora policy test PATH...\n"
    "       agora policy sim --cluster C (--synthetic W | --trace T) --policy P ...\n"
    "       agora policy apply|status|rollback|explain --master HOST:PORT ...\n"
    "\n"
    "check  parse and check a policy (or schema or test file); print diagnostics\n"
    "       and a cost report. Without --schema, FILE's folder's cluster.schema is\n"
    "       used when it exists. Exit 0 when clean, 1 on errors.\n"
    "fmt    print FILE in canonical format; --write rewrites it in place,\n"
    "       --check exits 1 if it is not formatted.\n"
    "disasm print the compiled bytecode of FILE and the program hash.\n"
    "test   run the `test` blocks of the given files or folders (given a policy,\n"
    "       agents, frameworks, an allocation; expect an order, an offer, a filter\n"
    "       or score outcome, a compile error); prints 'N passed, M failed' and\n"
    "       exits 1 if a test failed. See docs/policy-testing.md.\n"
    "sim    simulate a cluster under a policy on a virtual clock (docs/policy-sim.md).\n"
    "apply, status, rollback, explain\n"
    "       a running master's policy (docs/allocation.md); these and sim are verbs\n"
    "       of the `agora` binary (`agora policy apply --help`).\n";

struct parsed_args {
  std::string file;
  std::string schema;
  bool write = false;
  bool check = false;
  bool no_costs = false;
};

/// Parses the verb's arguments; returns an error message or empty.
std::string parse_args(const std::string& verb, const std::vector<std::string>& args,
                       parsed_args& out) {
  for (size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (verb == "check" && (a == "--schema" || a.rfind("--schema=", 0) == 0)) {
      if (a == "--schema") {
        if (i + 1 >= args.size()) return "--schema: missing value (a schema file)";
        out.schema = args[++i];
      } else {
        out.schema = a.substr(9);
      }
      if (out.schema.empty()) return "--schema: missing value (a schema file)";
    } else if (verb == "check" && a == "--no-costs") {
      out.no_costs = true;
    } else if (verb == "fmt" && a == "--write") {
      out.write = true;
    } else if (verb == "fmt" && a == "--check") {
      out.check = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return a + ": unknown flag for `" + verb + "`";
    } else if (out.file.empty()) {
      out.file = a;
    } else {
      return "unexpected argument '" + a + "' (one FILE only)";
    }
  }
  if (out.file.empty()) return "missing FILE";
  if (out.write && out.check) return "--write and --check cannot be combined";
  return {};
}

bool exists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

int run_check(const parsed_args& a, std::ostream& out, std::ostream& err) {
  std::string error;
  auto source = source_file::load(a.file, error);
  if (!source) {
    err << "agora policy check: " << error << "\n";
    return 1;
  }
  std::string schema_path = a.schema;
  if (schema_path.empty()) {
    auto slash = a.file.rfind('/');
    std::string dir = slash == std::string::npos ? "" : a.file.substr(0, slash + 1);
    if (exists(dir + "cluster.schema") && a.file != dir + "cluster.schema") {
      schema_path = dir + "cluster.schema";
      out << "using schema " << schema_path << "\n";
    }
  }
  std::optional<schema> loaded;
  if (!schema_path.empty()) {
    auto schema_source = source_file::load(schema_path, error);
    if (!schema_source) {
      err << "agora policy check: --schema: " << error << "\n";
      return 1;
    }
    auto s = load_schema(*schema_source);
    out << render_all(s.diagnostics);
    if (!s.value) {
      out << schema_path << ": the schema has errors; not checking " << a.file << "\n";
      return 1;
    }
    loaded = std::move(s.value);
  }
  auto result = check_policy(*source, loaded ? &*loaded : nullptr);
  out << render_all(result.diagnostics);
  size_t errors = 0, warnings = 0;
  for (auto& d : result.diagnostics) (d.severity == severity::error ? errors : warnings)++;
  if (result.ok() && !a.no_costs && !result.costs.empty()) out << render_costs(result);
  out << a.file << ": " << (errors == 0 ? "ok" : std::to_string(errors) + " error(s)");
  if (warnings) out << ", " << warnings << " warning(s)";
  out << "\n";
  return errors == 0 ? 0 : 1;
}

int run_fmt(const parsed_args& a, std::ostream& out, std::ostream& err) {
  std::string error;
  auto source = source_file::load(a.file, error);
  if (!source) {
    err << "agora policy fmt: " << error << "\n";
    return 1;
  }
  auto parsed = parse(*source);
  if (!parsed.file) {
    err << render_all(parsed.diagnostics);
    err << a.file << ": not formatted because of syntax errors\n";
    return 1;
  }
  auto text = format(*parsed.file, *source);
  // Formatting can lengthen a file (spaces around operators, indentation):
  // output the parser would refuse is never printed or written.
  size_t limit = parse_options{}.max_bytes;
  if (text.size() > limit) {
    err << "agora policy fmt: " << a.file << ": formatted, it would be " << text.size()
        << " bytes, more than the limit of " << limit
        << " bytes a policy may have; not formatted (split it with `import`)\n";
    return 1;
  }
  if (a.check) {
    if (text == source->text()) return 0;
    out << a.file << ": not formatted (run `agora policy fmt --write " << a.file << "`)\n";
    return 1;
  }
  if (!a.write) {
    out << text;
    return 0;
  }
  if (text == source->text()) return 0;
  std::ofstream file(a.file, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    err << "agora policy fmt: cannot write '" << a.file << "'\n";
    return 1;
  }
  out << "formatted " << a.file << "\n";
  return 0;
}

}  // namespace

int run_policy_tool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty()) {
      err << "agora policy: missing verb (check or fmt)\n" << usage;
      return 2;
    }
    const auto& verb = args[0];
    if (verb == "--help" || verb == "-h" || verb == "help") {
      out << usage;
      return 0;
    }
    // Back-end verbs live in their own files (tool_disasm.cpp, tool_test.cpp).
    if (verb == "disasm") return run_policy_disasm(args, out, err);
    if (verb == "test") return run_policy_test(args, out, err);
    if (verb == "explain" || verb == "sim" || verb == "apply" || verb == "status" ||
        verb == "rollback") {
      err << "agora policy " << verb << ": run it as `agora policy " << verb
          << "` (the `agora` binary; it talks to a master or links the simulator)\n";
      return 2;
    }
    if (verb != "check" && verb != "fmt") {
      err << "agora policy: unknown verb '" << verb << "' (expected check or fmt)\n" << usage;
      return 2;
    }
    parsed_args a;
    if (auto problem = parse_args(verb, args, a); !problem.empty()) {
      err << "agora policy " << verb << ": " << problem << "\n" << usage;
      return 2;
    }
    return verb == "check" ? run_check(a, out, err) : run_fmt(a, out, err);
  } catch (const std::exception& e) {
    err << "agora policy: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace agora::policy
