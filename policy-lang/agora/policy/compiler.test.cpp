// Tests of the compiler's bounds on hostile input: every `let` is lowered
// once, however often it is read. (Lowering, hoisting and folding are also
// exercised by vm.test.cpp through the disassembly goldens.)
#include "agora/policy/compiler.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "agora/policy/tool.hpp"
#include "agora/policy/tool_testing.hpp"

namespace agora::policy {
namespace {

/// `let l0 = agent.free.cpus; let l1 = l0 + l0; ...; filter f: lN > 0;`:
/// inlined, `lN` is 2^N additions; computed once per let, N.
std::string doubling_lets(int levels) {
  std::string text = "policy \"t\" version 1;\nlet l0 = agent.free.cpus;\n";
  for (int i = 1; i <= levels; ++i)
    text += "let l" + std::to_string(i) + " = l" + std::to_string(i - 1) + " + l" +
            std::to_string(i - 1) + ";\n";
  return text + "filter f: l" + std::to_string(levels) + " > 0;\n";
}

size_t count_op(const program& p, opcode op) {
  size_t n = 0;
  for (auto& chunk : p.chunks)
    n += static_cast<size_t>(std::count_if(chunk.begin(), chunk.end(),
                                           [&](const instruction& i) { return i.op == op; }));
  return n;
}

TEST(compiler, each_let_is_lowered_once_however_often_it_is_read) {
  // 22 levels: lowering every read took 4 s (2^22 visits of `l0`); lowering
  // each let once takes about a millisecond.
  source_file source("t.policy", doubling_lets(22));
  auto checked = check_policy(source);
  ASSERT_TRUE(checked.ok()) << render_all(checked.diagnostics);
  auto start = std::chrono::steady_clock::now();
  auto compiled = compile(checked, source);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(compiled.ok()) << render_all(compiled.diagnostics);
  EXPECT_LT(seconds, 0.5);
  // One ADD_F per let (`l1` .. `l22`), all in the agent chunk.
  EXPECT_EQ(count_op(*compiled.prog, opcode::ADD_F), 22u);
  auto& agent = compiled.prog->chunks[static_cast<size_t>(chunk_id::agent)];
  EXPECT_EQ(static_cast<size_t>(std::count_if(agent.begin(), agent.end(),
                                              [](auto& i) { return i.op == opcode::ADD_F; })),
            22u);
}

TEST(compiler, a_let_read_inside_an_aggregate_is_hoisted_and_shared) {
  // `big` holds an aggregate; read again inside another aggregate's body it
  // is the same value (a let reads no aggregate variable), not a nested loop.
  source_file source("t.policy",
                     "policy \"t\" version 1;\n"
                     "let big = max(a in agents: a.free.cpus);\n"
                     "order roles by count(r in roles where r.allocated.cpus > big) asc, big asc, "
                     "role.name asc;\n");
  auto checked = check_policy(source);
  ASSERT_TRUE(checked.ok()) << render_all(checked.diagnostics);
  auto compiled = compile(checked, source);
  ASSERT_TRUE(compiled.ok()) << render_all(compiled.diagnostics);
  EXPECT_EQ(count_op(*compiled.prog, opcode::ITER), 2u) << disassemble(*compiled.prog);
}

TEST(compiler, disasm_of_63_doubling_lets_finishes) {
  // 63 levels: 2^63 inlined additions; `agora policy disasm` never finished.
  // A child process with an alarm bounds the test if that comes back.
  testing_support::temp_dir dir;
  auto path = dir.write("deep.policy", doubling_lets(63));
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    auto r = testing_support::run({"disasm", path});
    bool ok = r.code == 0 && r.out.find("ADD_F") != std::string::npos;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace agora::policy
