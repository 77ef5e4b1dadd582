#include "agora/main/signals.hpp"

#include <csignal>

#include <pthread.h>

namespace agora::main {

namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_termination_signals() {
  auto set = termination_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A closed pipe (e.g. a peer gone) must be an error value, not a crash.
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_termination_signal() {
  auto set = termination_set();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace agora::main
