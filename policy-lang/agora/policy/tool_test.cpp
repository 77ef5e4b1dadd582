#include "agora/policy/tool_test.hpp"

#include <algorithm>
#include <dirent.h>
#include <sys/stat.h>
#include <fstream>
#include <optional>

#include "agora/policy/checker.hpp"
#include "agora/policy/compiler.hpp"
#include "agora/policy/parser.hpp"
#include "agora/policy/schema.hpp"

namespace agora::policy {

namespace {

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

enum class outcome { passed, failed, not_run };

/// Runs one test block; `why` explains a failure or a step not supported.
outcome run_test(const ast::test_decl& t, const std::string& file, const schema* s,
                 std::string& why) {
  bool any = false;
  for (auto& step : t.steps) {
    if (step.what != ast::test_step::kind::expect_compile_error) {
      static const char* names[] = {"given policy",     "given cluster fixture", "given allocation",
                                    "given agent",      "given framework",       "expect order",
                                    "expect compile_error", "expect"};
      why = std::string("`") + names[static_cast<size_t>(step.what)] + "` is not supported yet";
      return outcome::not_run;
    }
    any = true;
    std::string code = decode_string(step.text);
    std::string body = decode_string(step.text2);
    source_file snippet(file + " (compile_error snippet)",
                        "policy \"snippet\" version 1;\nuse std.fairness;\n" + body + "\n");
    auto checked = check_policy(snippet, s);
    std::vector<diagnostic> found = checked.diagnostics;
    if (checked.ok()) {
      auto compiled = compile(checked, snippet, s);
      found.insert(found.end(), compiled.diagnostics.begin(), compiled.diagnostics.end());
    }
    bool hit = false;
    std::string got;
    for (auto& d : found) {
      hit |= d.code == code;
      if (d.severity == severity::error) got += (got.empty() ? "" : ", ") + d.code;
    }
    if (!hit) {
      why = "expected " + code + ", got " + (got.empty() ? "no error" : got);
      return outcome::failed;
    }
  }
  if (!any) {
    why = "no expectations";
    return outcome::not_run;
  }
  return outcome::passed;
}

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
  size_t passed = 0, failed = 0, not_run = 0;
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
        std::string why;
        auto result = run_test(*t, file, s ? &*s : nullptr, why);
        const char* label = result == outcome::passed   ? "PASS"
                            : result == outcome::failed ? "FAIL"
                                                        : "NOT RUN";
        out << label << " " << file << ": " << t->name;
        if (!why.empty()) out << " (" << why << ")";
        out << "\n";
        (result == outcome::passed ? passed : result == outcome::failed ? failed : not_run)++;
      }
    }
  }
  out << passed << " passed, " << failed << " failed, " << not_run << " not run\n";
  return failed == 0 && not_run == 0 ? 0 : 1;
}

}  // namespace agora::policy
