#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace agora::master {

/// How long a leading master may keep acting since it last heard from
/// ZooKeeper. The runtime renews it after every successful round trip to the
/// ensemble; the master makes no offer and launches nothing while it has
/// lapsed. With a validity below the session timeout, a leader that was
/// paused (SIGSTOP, a long GC-like stall) or cut off finds its lease lapsed
/// before another master can have been elected, so it never acts beside its
/// successor, even before it learns that its session expired.
class leadership_lease {
 public:
  using clock = std::chrono::steady_clock;

  /// A lease valid for `validity` after each renewal; not valid before the
  /// first.
  explicit leadership_lease(std::chrono::milliseconds validity) : validity_(validity) {}

  /// Records a successful round trip to ZooKeeper, now.
  void renew() { last_ns_.store(now_ns(), std::memory_order_release); }

  /// Returns true if the last renewal is younger than the validity.
  bool valid() const {
    int64_t last = last_ns_.load(std::memory_order_acquire);
    return last != 0 && now_ns() - last < validity_ns();
  }

  /// Returns the validity.
  std::chrono::milliseconds validity() const { return validity_; }

 private:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch())
        .count();
  }
  int64_t validity_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(validity_).count();
  }

  std::chrono::milliseconds validity_;
  std::atomic<int64_t> last_ns_{0};
};

}  // namespace agora::master
