#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace agora::zk::detail {

/// A thread that runs `step` whenever it is poked: the recipes' way to get
/// their ZooKeeper work off the client's event thread (watch and state
/// callbacks only poke). Pokes that arrive while `step` runs coalesce into
/// one more run. Private to the module.
class worker {
 public:
  /// Starts the thread; `step` first runs at the first poke.
  explicit worker(std::function<void()> step);

  /// Stops the thread (see `stop`).
  ~worker();

  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Asks for another run of `step` as soon as possible. Thread-safe and
  /// non-blocking; a no-op once stopped.
  void poke();

  /// Asks for a run of `step` after `delay` at the latest (an earlier poke
  /// also satisfies it): the retry of a step that failed.
  void poke_after(std::chrono::milliseconds delay);

  /// Stops and joins the thread (a running `step` finishes first). Must not
  /// be called from `step`; safe to call more than once.
  void stop();

  /// Returns true when called from the worker's own thread.
  bool on_worker_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run();

  std::function<void()> step_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool poked_ = false;
  bool stopping_ = false;
  std::optional<std::chrono::steady_clock::time_point> retry_at_;
  std::thread thread_;
};

/// Returns a callable that pokes `w` while it lives (it holds a weak
/// pointer), for watch and state callbacks that may outlive their recipe.
inline std::function<void()> poker(const std::shared_ptr<worker>& w) {
  return [weak = std::weak_ptr<worker>(w)] {
    if (auto strong = weak.lock()) strong->poke();
  };
}

}  // namespace agora::zk::detail
