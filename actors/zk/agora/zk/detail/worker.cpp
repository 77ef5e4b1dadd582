#include "agora/zk/detail/worker.hpp"

namespace agora::zk::detail {

worker::worker(std::function<void()> step) : step_(std::move(step)) {
  thread_ = std::thread([this] { run(); });
}

worker::~worker() { stop(); }

void worker::poke() {
  std::lock_guard lock(mutex_);
  poked_ = true;
  cv_.notify_all();
}

void worker::poke_after(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  auto at = std::chrono::steady_clock::now() + delay;
  if (!retry_at_ || at < *retry_at_) retry_at_ = at;
  cv_.notify_all();
}

void worker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && !on_worker_thread()) thread_.join();
}

void worker::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    auto now = std::chrono::steady_clock::now();
    if (retry_at_ && *retry_at_ <= now) {
      retry_at_.reset();
      poked_ = true;
    }
    if (!poked_) {
      if (retry_at_) {
        cv_.wait_until(lock, *retry_at_);
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    poked_ = false;
    lock.unlock();
    step_();
    lock.lock();
  }
}

}  // namespace agora::zk::detail
