#include "agora/main/spawn_baseline.hpp"

#include <chrono>

#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace agora::main {

double spawn_rate(int count) { return spawn_rate(count, {"/bin/true"}); }

double spawn_rate(int count, const std::vector<std::string>& args) {
  if (args.empty()) return 0;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  int done = 0;
  for (int i = 0; i < count; ++i) {
    pid_t pid = 0;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) continue;
    int status = 0;
    ::waitpid(pid, &status, 0);
    ++done;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s > 0 ? done / s : 0;
}

}  // namespace agora::main
