#include "agora/test/wait.hpp"

#include <thread>

namespace agora::test {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  if (poll <= std::chrono::milliseconds::zero()) poll = std::chrono::milliseconds(1);
  for (;;) {
    if (pred()) return true;
    auto now = clock::now();
    if (now >= deadline) return false;
    // Sleep a full poll interval, or exactly to the deadline (not rounded
    // down, which would spin near the end).
    clock::duration left = deadline - now;
    std::this_thread::sleep_for(left < poll ? left : clock::duration(poll));
    if (clock::now() >= deadline) return pred();
  }
}

}  // namespace agora::test
