#include "agora/main/spawn_baseline.hpp"

#include <chrono>

#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace agora::main {

double spawn_rate(int count) {
  char arg0[] = "/bin/true";
  char* argv[] = {arg0, nullptr};
  auto t0 = std::chrono::steady_clock::now();
  int done = 0;
  for (int i = 0; i < count; ++i) {
    pid_t pid = 0;
    if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) continue;
    int status = 0;
    ::waitpid(pid, &status, 0);
    ++done;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s > 0 ? done / s : 0;
}

}  // namespace agora::main
