// Golden tests: every `tests/golden/policy/*.policy` is checked (with the
// `cluster.schema` in that folder) and its rendered diagnostics compared with
// the `.expected` file beside it. Set AGORA_UPDATE_GOLDEN=1 to rewrite the
// expected files instead, then review the diff.
//
// A first line `// golden: max_bytes=N` lowers the input size limit, so the
// E0102 golden stays small (the real 256 KiB limit is tested in parser.test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agora/policy/checker.hpp"
#include "agora/policy/diagnostic.hpp"
#include "agora/policy/tool.hpp"

namespace agora::policy {
namespace {

const std::string golden_dir = AGORA_POLICY_GOLDEN_DIR;

std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  if (DIR* dir = opendir(golden_dir.c_str())) {
    while (auto* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".policy") == 0) out.push_back(name);
    }
    closedir(dir);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs the check the way `agora policy check` does, from the golden folder
/// (so file names in the output are relative and imports resolve).
std::string run_golden(const std::string& name) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return "getcwd failed";
  if (chdir(golden_dir.c_str()) != 0) return "chdir failed";
  std::string output;
  {
    auto schema_result = load_schema(source_file("cluster.schema", read("cluster.schema")));
    std::string text = read(name);
    check_options options;
    options.schema = schema_result.value ? &*schema_result.value : nullptr;
    const std::string directive = "// golden: max_bytes=";
    if (text.rfind(directive, 0) == 0)
      options.parse.max_bytes = std::strtoul(text.c_str() + directive.size(), nullptr, 10);
    auto result = check_policy(source_file(name, text), options);
    output = render_all(schema_result.diagnostics) + render_all(result.diagnostics);
  }
  if (chdir(cwd) != 0) return "chdir back failed";
  return output;
}

class golden : public testing::TestWithParam<std::string> {};

TEST_P(golden, matches_expected_output) {
  const auto& name = GetParam();
  auto actual = run_golden(name);
  auto expected_path = golden_dir + "/" + name.substr(0, name.size() - 7) + ".expected";
  if (std::getenv("AGORA_UPDATE_GOLDEN")) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    return;
  }
  std::ifstream probe(expected_path);
  ASSERT_TRUE(probe) << "missing " << expected_path << " (run with AGORA_UPDATE_GOLDEN=1)";
  EXPECT_EQ(read(expected_path), actual) << name;
  // The file named after a code must produce that code.
  auto code = name.substr(0, 5);
  EXPECT_NE(actual.find("[" + code + "]"), std::string::npos) << name;
}

/// `agora policy check FILE` on a golden file prints the expected
/// `file:line:col: error[EXXXX]` lines and exits 1 when there is an error,
/// 0 when there are only warnings.
TEST_P(golden, the_check_verb_prints_them_and_sets_the_exit_status) {
  const auto& name = GetParam();
  auto expected = read(golden_dir + "/" + name.substr(0, name.size() - 7) + ".expected");
  if (read(golden_dir + "/" + name).rfind("// golden: max_bytes=", 0) == 0)
    GTEST_SKIP() << "uses a lowered input limit the tool does not have";
  char cwd[4096];
  ASSERT_TRUE(getcwd(cwd, sizeof cwd));
  ASSERT_EQ(chdir(golden_dir.c_str()), 0);
  std::ostringstream out, err;
  int code = run_policy_tool({"check", name, "--no-costs"}, out, err);
  ASSERT_EQ(chdir(cwd), 0);
  bool errors = false;
  std::istringstream lines(expected);
  for (std::string line; std::getline(lines, line);) {
    bool error = line.find(": error[") != std::string::npos;
    bool warning = line.find(": warning[") != std::string::npos;
    errors |= error;
    if (error || warning) {
      EXPECT_NE(out.str().find(line), std::string::npos) << line;
    }
  }
  EXPECT_EQ(code, errors ? 1 : 0) << out.str() << err.str();
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param.substr(0, info.param.size() - 7))
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(policy, golden, testing::ValuesIn(golden_files()), test_name);

TEST(golden_coverage, every_code_has_a_golden_file) {
  auto files = golden_files();
  for (auto& info : all_codes()) {
    std::string prefix = std::string(info.code) + "_";
    bool found =
        std::any_of(files.begin(), files.end(), [&](auto& f) { return f.rfind(prefix, 0) == 0; });
    EXPECT_TRUE(found) << "no golden file for " << info.code;
  }
}

TEST(golden_coverage, every_code_is_documented) {
  auto docs = read(AGORA_POLICY_DOCS);
  ASSERT_FALSE(docs.empty());
  for (auto& info : all_codes())
    EXPECT_NE(docs.find("## " + std::string(info.code)), std::string::npos)
        << info.code << " is not in docs/policy-errors.md";
}

}  // namespace
}  // namespace agora::policy
