#include "agora/main/master_runtime.hpp"

#include <gtest/gtest.h>

namespace agora::main {
namespace {

/// Parses `args` as agora-master's flags and returns what
/// `check_master_flags` says of them ("" when fine; the parse error when
/// the flags themselves do not parse).
std::string problem(std::vector<std::string> args) {
  master_options o;
  cli::flags f{"agora-master", ""};
  add_master_flags(f, o);
  std::string error;
  if (!f.parse(args, error)) return error;
  return check_master_flags(o, !o.zk.empty());
}

TEST(master_flags, zero_and_overflowing_intervals_are_refused_naming_the_flag) {
  EXPECT_EQ(problem({}), "");
  for (const char* flag : {"--allocation-interval", "--framework-heartbeat-interval",
                           "--agent-ping-timeout", "--zk-session-timeout"}) {
    auto zero = problem({std::string(flag) + "=0ms"});
    EXPECT_EQ(zero.rfind(flag, 0), 0u) << zero;
    auto huge = problem({std::string(flag) + "=1e300s"});
    EXPECT_NE(huge.find(flag), std::string::npos) << huge;
    EXPECT_NE(huge.find("too long"), std::string::npos) << huge;
  }
  EXPECT_EQ(problem({"--max-agent-ping-timeouts=0"}).rfind("--max-agent-ping-timeouts", 0), 0u);
  EXPECT_EQ(problem({"--quorum-size=2"}).rfind("--quorum-size", 0), 0u);
  EXPECT_EQ(problem({"--allocation-interval=250ms", "--offer-timeout=0ms"}), "");
}

}  // namespace
}  // namespace agora::main
