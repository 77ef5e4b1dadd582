#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agora/protocol/messages.hpp"

namespace agora::agent {

/// The agent's status-update manager (as Mesos'): one stream of updates per
/// task, delivered in order. Only the oldest unacknowledged update of a task
/// is in flight; it is re-sent with exponential backoff (from `backoff_min`,
/// doubling up to `backoff_max`) until the master relays the framework's
/// acknowledgement of its uuid, and only then is the next one sent. Streams
/// of different tasks do not wait for each other.
///
/// CAF-free, so it can be tested alone; the caller owns the clock and the
/// timer (`next_due`). Not thread-safe (the agent actor owns it).
class status_update_manager {
 public:
  using clock = std::chrono::steady_clock;

  struct options {
    std::chrono::milliseconds backoff_min{10000};
    std::chrono::milliseconds backoff_max{600000};
  };

  status_update_manager();
  explicit status_update_manager(options opts);

  /// Queues `s` (whose uuid must be fresh) at the end of its task's stream.
  /// Returns true if it is the stream's head: send it now.
  bool add(const protocol::task_status& s, clock::time_point now);

  /// Takes the acknowledgement of `uuid` for a task. If it names the head of
  /// the task's stream, the head is dropped and the next update (now the
  /// head, due at once) is returned for sending. An acknowledgement of
  /// anything else (a duplicate, an update not sent yet) changes nothing;
  /// `matched` tells which.
  std::optional<protocol::task_status> acknowledge(const std::string& framework_id,
                                                   const std::string& task_id,
                                                   const std::string& uuid, clock::time_point now,
                                                   bool* matched = nullptr);

  /// Returns the heads whose retry time has come, oldest first, and moves
  /// their next retry out (the backoff doubles, up to its cap).
  std::vector<protocol::task_status> due(clock::time_point now);

  /// Returns every head, oldest first, for sending again at once (after a
  /// (re)registration), and restarts their backoff.
  std::vector<protocol::task_status> heads(clock::time_point now);

  /// When the earliest retry is due (nullopt: nothing is pending).
  std::optional<clock::time_point> next_due() const;

  /// Returns the latest (newest) queued state of a task, if it has updates
  /// pending: what the master should account the task as, even while an
  /// older update is still in flight.
  std::optional<protocol::task_state> latest_state(const std::string& framework_id,
                                                   const std::string& task_id) const;

  /// Returns a task's queued updates, oldest (the one in flight) first.
  std::vector<protocol::task_status> queued_updates(const std::string& framework_id,
                                                    const std::string& task_id) const;

  /// Returns the (framework id, task id) of every task with updates queued.
  std::vector<std::pair<std::string, std::string>> keys() const;

  /// Returns true if `uuid` is still queued (in flight or waiting).
  bool pending(const std::string& uuid) const;

  /// Returns the timestamp of the oldest update waiting for an
  /// acknowledgement (the heads of the streams), or 0 when none waits.
  int64_t oldest_timestamp_ns() const;

  /// Returns the number of updates queued over all streams.
  size_t size() const { return size_; }

  /// Returns the number of tasks with updates queued.
  size_t streams() const { return streams_.size(); }

 private:
  struct queued {
    uint64_t seq = 0;  ///< queue order over all streams (resends keep it)
    protocol::task_status status;
  };
  struct stream {
    std::deque<queued> updates;
    clock::time_point next_retry{};
    std::chrono::milliseconds backoff{0};
  };
  using key = std::pair<std::string, std::string>;

  /// Sets when the head of stream `k` is next sent (keeping `timeline_`).
  void retry_at(const key& k, stream& s, clock::time_point t);
  /// A new head: due after the shortest backoff.
  void start_head(const key& k, stream& s, clock::time_point now);
  /// Returns the heads of `keys` in the order they were made.
  std::vector<protocol::task_status> in_order(const std::vector<key>& keys) const;

  options opts_;
  std::map<key, stream> streams_;
  /// Every non-empty stream once, by the time its head is next due, so the
  /// earliest retry is found without a scan.
  std::set<std::pair<clock::time_point, key>> timeline_;
  std::map<std::string, key> by_uuid_;
  uint64_t seq_ = 0;
  size_t size_ = 0;
};

}  // namespace agora::agent
