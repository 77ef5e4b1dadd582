#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agora::agent {

/// Which sandboxes of finished tasks to remove, and when: each is kept for
/// `delay` after its task ended, and removed earlier, oldest first, while the
/// disk is fuller than `disk_threshold` (a fraction of its capacity).
///
/// CAF-free: the caller owns the clock, measures the disk and removes what
/// `collect` returns.
class sandbox_gc {
 public:
  using clock = std::chrono::system_clock;

  struct options {
    std::chrono::milliseconds delay{std::chrono::hours{24 * 7}};
    double disk_threshold = 0.9;
  };

  sandbox_gc();
  explicit sandbox_gc(options opts);

  /// Schedules the removal of `path`, a finished task's sandbox that ended
  /// at `ended`.
  void schedule(const std::string& path, clock::time_point ended);

  /// Returns the sandboxes to remove now, oldest first, and forgets them:
  /// those whose delay has passed, then, while `disk_used` (a fraction of
  /// the disk, as measured now) minus what the chosen ones free would stay
  /// above the threshold, the oldest of the rest. `disk_bytes` is the
  /// disk's size; `measure` returns a sandbox's size in bytes, and is asked
  /// only while the disk is too full (the walk of a sandbox is I/O).
  std::vector<std::string> collect(clock::time_point now, double disk_used, int64_t disk_bytes,
                                   const std::function<int64_t(const std::string&)>& measure);

  /// Returns the number of sandboxes waiting.
  size_t size() const { return waiting_.size(); }

  /// Returns when the next one is due by age (nullopt: none waiting).
  std::optional<clock::time_point> next_due() const;

 private:
  options opts_;
  std::multimap<clock::time_point, std::string> waiting_;  ///< by end time, oldest first
};

/// Returns the bytes the files under `dir` use on disk (allocated blocks;
/// symbolic links are not followed). 0 when it does not exist.
int64_t disk_usage(const std::string& dir);

/// Returns the fraction of the file system holding `path` that is used, and
/// its size in bytes; false when it cannot be measured.
bool disk_fill(const std::string& path, double& used, int64_t& bytes);

}  // namespace agora::agent
