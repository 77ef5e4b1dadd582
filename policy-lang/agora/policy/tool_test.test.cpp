// Tests of `agora policy test`: the example tests pass, and every kind of
// failing or malformed step fails its test with FILE:LINE:COL and a reason.
#include "agora/policy/tool_test.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agora/policy/tool_testing.hpp"

namespace agora::policy {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

using testing_support::run;
using testing_support::run_result;

/// A folder with a copy of quotas.policy, drf.policy and cluster.schema.
struct workspace : testing_support::temp_dir {
  workspace() {
    for (auto* name : {"quotas.policy", "drf.policy", "cluster.schema"}) {
      std::ifstream in(examples + "/" + name);
      std::ofstream(path + "/" + name) << in.rdbuf();
    }
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const char* quotas_cluster = R"(  given policy "quotas.policy";
  given agent "a1" {rack: "r1", zone: "z1", free: {cpus: 64, mem: 256GiB}};
  given framework "etl-1" {role: "prod/etl", min_request: {cpus: 4, mem: 8GiB}};
  given allocation {"prod/etl": {cpus: 140, mem: 300GiB}};
)";

/// Runs one test block (the given body) and returns the tool's output.
run_result one_test(const workspace& w, const std::string& body) {
  auto file = w.write("one_test.policy", "test \"t\" {\n" + body + "}\n");
  return run({"test", file});
}

TEST(policy_test, every_example_test_passes) {
  // Count the test blocks, so a file that silently stops being read fails.
  size_t blocks = 0;
  DIR* d = opendir(examples.c_str());
  ASSERT_NE(d, nullptr);
  while (auto* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 12 || name.compare(name.size() - 12, 12, "_test.policy") != 0) continue;
    std::ifstream in(examples + "/" + name);
    for (std::string line; std::getline(in, line);) blocks += line.rfind("test \"", 0) == 0;
  }
  closedir(d);
  EXPECT_GE(blocks, 16u);
  auto r = run({"test", examples});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, std::to_string(blocks) + " passed, 0 failed")) << r.out;
  EXPECT_FALSE(contains(r.out, "FAIL")) << r.out;
}

TEST(policy_test, a_wrong_expectation_fails_with_its_location_and_value) {
  workspace w;
  auto file = w.write("q_test.policy", std::string("test \"right\" {\n") + quotas_cluster +
                                           "  expect offer(\"etl-1\", \"a1\").cpus == 10;\n}\n"
                                           "test \"wrong\" {\n" + quotas_cluster +
                                           "  expect offer(\"etl-1\", \"a1\").cpus == 12;\n}\n");
  auto r = run({"test", file});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "PASS " + file + ": \"right\"")) << r.out;
  EXPECT_TRUE(contains(r.out, "FAIL " + file + ": \"wrong\"")) << r.out;
  EXPECT_TRUE(contains(r.out, file + ":13:10: expected `offer(\"etl-1\", \"a1\").cpus == 12`, "
                                     "but `offer(\"etl-1\", \"a1\").cpus` is 10"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "1 passed, 1 failed")) << r.out;
}

TEST(policy_test, order_expectations_show_the_actual_order) {
  workspace w;
  auto body = std::string(quotas_cluster) +
              // prod/web is below its guarantee, prod/etl (140 of 60 cpus) not.
              "  expect order roles starts_with [\"prod/web\", \"prod/etl\"];\n"
              "  expect order frameworks == [\"etl-1\"];\n";
  EXPECT_EQ(one_test(w, body).code, 0) << one_test(w, body).out;
  auto r = one_test(w, std::string(quotas_cluster) +
                           "  expect order roles == [\"dev\", \"prod/etl\"];\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "expected the role order [\"dev\", \"prod/etl\"], but it is "
                              "[\"prod/web\", \"prod/etl\", \"dev\", \"research\"]"))
      << r.out;
}

TEST(policy_test, malformed_steps_fail_with_a_reason) {
  workspace w;
  struct bad {
    std::string body;
    std::string why;
  };
  std::vector<bad> cases = {
      {"  given agent \"a1\" {free: {cpus: 1}};\n  expect offered(\"f\", \"a1\");\n",
       "needs `given policy \"FILE\";` first"},
      {std::string(quotas_cluster) + "  expect ofer(\"etl-1\", \"a1\").cpus == 10;\n",
       "unknown test function `ofer`; did you mean `offer`?"},
      {std::string(quotas_cluster) + "  expect offered(\"etl-9\", \"a1\");\n",
       "no framework \"etl-9\" in this test (given: etl-1)"},
      {std::string(quotas_cluster) + "  expect offered(\"etl-1\", \"a2\");\n",
       "no agent \"a2\" in this test (given: a1)"},
      {std::string(quotas_cluster) + "  expect offer(\"etl-1\", \"a1\").mem == 256;\n",
       "compare bytes with a unit"},
      {std::string(quotas_cluster) + "  expect offer(\"etl-1\", \"a1\").cpu == 10;\n",
       "unknown resource `cpu`; did you mean `cpus`?"},
      {std::string(quotas_cluster) + "  expect passes(\"etl-1\", \"a1\", \"fit\");\n",
       "the policy has no filter `fit`; did you mean `fits`?"},
      {std::string(quotas_cluster) + "  expect offer(\"etl-1\", \"a1\");\n",
       "an expectation must be a bool"},
      {"  given policy \"quotas.policy\";\n  given agent \"a1\" {free: {cpus: 1, mem: 512}};\n"
       "  expect true;\n",
       "`mem` is measured in bytes: write the unit"},
      {"  given policy \"quotas.policy\";\n  given agent \"a1\" {rakc: \"r1\"};\n  expect true;\n",
       "the schema declares no agent attribute `rakc`; did you mean `rack`?"},
      {"  given policy \"quotas.policy\";\n  given cluster fixture \"lots\";\n  expect true;\n",
       "unknown cluster fixture \"lots\""},
      {"  given policy \"missing.policy\";\n  expect true;\n", "cannot load the policy under test"},
      {"  given policy \"quotas.policy\";\n  given framework \"f\" {min_request: {cpus: 1}};\n"
       "  expect true;\n",
       "framework \"f\" needs a `role`"},
      {"  given policy \"quotas.policy\";\n", "the test has no `expect`"},
      {std::string(quotas_cluster) + "  expect metric(\"agora_policy_x\") == 1;\n",
       "the policy has no `every cycle` metric `agora_policy_x`"},
      {"  expect compile_error \"E0302\" for \"filter f: agent.free.cpus > 1;\";\n",
       "expected E0302, got no error"},
  };
  for (auto& c : cases) {
    auto r = one_test(w, c.body);
    EXPECT_EQ(r.code, 1) << c.body;
    EXPECT_TRUE(contains(r.out, "one_test.policy:")) << r.out;
    EXPECT_TRUE(contains(r.out, c.why)) << "want: " << c.why << "\ngot: " << r.out;
    EXPECT_TRUE(contains(r.out, "0 passed, 1 failed")) << r.out;
  }
}

TEST(policy_test, a_policy_that_does_not_compile_fails_the_test) {
  workspace w;
  w.write("broken.policy", "policy \"b\" version 1;\nfilter f: agent.free.mem > 4096;\n");
  auto r = one_test(w, "  given policy \"broken.policy\";\n  expect true;\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "does not compile")) << r.out;
  EXPECT_TRUE(contains(r.out, "broken.policy:2:")) << r.out;
  EXPECT_TRUE(contains(r.out, "E0305")) << r.out;
}

TEST(policy_test, usage_errors_exit_2) {
  EXPECT_EQ(run({"test"}).code, 2);
  EXPECT_EQ(run({"test", "/nonexistent/x.policy"}).code, 2);
  auto r = run({"test", examples, "--bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--bogus")) << r.err;
}

}  // namespace
}  // namespace agora::policy
