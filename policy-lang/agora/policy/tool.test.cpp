#include "agora/policy/tool.hpp"
#include "agora/policy/tool_testing.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace agora::policy {
namespace {

const std::string examples = AGORA_POLICY_EXAMPLES_DIR;

using testing_support::run;
using testing_support::temp_dir;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(tool, usage_errors_exit_2_and_name_the_problem) {
  auto none = run({});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("missing verb"), std::string::npos);
  auto verb = run({"frobnicate"});
  EXPECT_EQ(verb.code, 2);
  EXPECT_NE(verb.err.find("unknown verb 'frobnicate'"), std::string::npos);
  auto flag = run({"check", "x.policy", "--bogus"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.err.find("--bogus: unknown flag"), std::string::npos);
  auto file = run({"check"});
  EXPECT_EQ(file.code, 2);
  EXPECT_NE(file.err.find("missing FILE"), std::string::npos);
  auto schema = run({"check", "x.policy", "--schema"});
  EXPECT_EQ(schema.code, 2);
  EXPECT_NE(schema.err.find("--schema: missing value"), std::string::npos);
  EXPECT_EQ(run({"test", "x"}).code, 2);  // Not implemented yet, and says so.
  EXPECT_EQ(run({"--help"}).code, 0);
}

TEST(tool, every_example_checks_clean) {
  for (auto name :
       {"drf.policy", "weighted_drf.policy", "quotas.policy", "rack_local.policy", "binpack.policy",
        "spread.policy", "gpu_isolation.policy", "observability.policy", "quotas_test.policy"}) {
    auto r = run({"check", examples + "/" + name});
    EXPECT_EQ(r.code, 0) << name << "\n" << r.out << r.err;
    // The schema next to the examples is picked up automatically.
    EXPECT_NE(r.out.find("using schema " + examples + "/cluster.schema"), std::string::npos);
    EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;
  }
  auto with_flag =
      run({"check", examples + "/rack_local.policy", "--schema", examples + "/cluster.schema"});
  EXPECT_EQ(with_flag.code, 0) << with_flag.out;
  EXPECT_NE(with_flag.out.find("cost report"), std::string::npos);
  EXPECT_NE(with_flag.out.find("filter fits: stage pair"), std::string::npos) << with_flag.out;
}

TEST(tool, check_reports_errors_with_exit_1) {
  temp_dir dir;
  auto path =
      dir.write("bad.policy", "policy \"b\" version 1;\nfilter f: agent.free.mem > 4096;\n");
  auto r = run({"check", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(path + ":2:28: error[E0305]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 error(s)"), std::string::npos);
  // A policy needing a schema fails without one (no cluster.schema there).
  auto rack = dir.write("r.policy",
                        "policy \"r\" version 1;\nfilter f: agent.attributes.rack == \"r1\";\n");
  EXPECT_EQ(run({"check", rack}).code, 1);
  auto missing = run({"check", dir.path + "/nope.policy"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos);
}

TEST(tool, check_refuses_a_fifo_without_blocking) {
  // Opening a FIFO for reading waits for a writer; a child process with an
  // alarm bounds the test if that comes back.
  temp_dir dir;
  std::string fifo = dir.path + "/pipe.policy";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(5);
    auto r = run({"check", fifo});
    _exit(r.code == 1 && r.err.find("is not a regular file") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(tool, fmt_prints_writes_and_checks) {
  temp_dir dir;
  auto path = dir.write("p.policy", "policy \"p\"   version 1;\nfilter  f:true;\n");
  auto printed = run({"fmt", path});
  EXPECT_EQ(printed.code, 0);
  EXPECT_EQ(printed.out, "policy \"p\" version 1;\nfilter f: true;\n");
  EXPECT_EQ(run({"fmt", "--check", path}).code, 1);
  EXPECT_EQ(run({"fmt", path, "--write"}).code, 0);
  EXPECT_EQ(read(path), printed.out);
  EXPECT_EQ(run({"fmt", "--check", path}).code, 0);
  auto broken = dir.write("broken.policy", "policy \"p\" version 1;\nfilter f: ;\n");
  auto r = run({"fmt", broken});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("error[E0101]"), std::string::npos);
}

TEST(tool, fmt_refuses_output_above_the_input_limit) {
  // 60 nested roles written without blanks format one per line, indented
  // two spaces per level: about 13 times longer. 24 KiB become 325 KiB,
  // above the 256 KiB limit: a file `fmt --write` wrote no longer parsed.
  std::string block = "roles{";
  for (int i = 0; i < 60; ++i) block += "role \"a\"{";
  block += std::string(60, '}') + "}\n";
  std::string text = "policy \"p\" version 1;\n";
  while (text.size() < 24 * 1024) text += block;
  temp_dir dir;
  auto path = dir.write("grow.policy", text);
  auto write = run({"fmt", path, "--write"});
  EXPECT_EQ(write.code, 1);
  EXPECT_NE(write.err.find("more than the limit of 262144 bytes"), std::string::npos) << write.err;
  EXPECT_TRUE(read(path) == text);  // Untouched.
  auto print = run({"fmt", path});
  EXPECT_EQ(print.code, 1);
  EXPECT_TRUE(print.out.empty());
  EXPECT_EQ(run({"fmt", path, "--check"}).code, 1);
}

}  // namespace
}  // namespace agora::policy
