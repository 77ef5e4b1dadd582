#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agora/zk/error.hpp"
#include "agora/zk/leader_info.hpp"
#include "agora/zk/session.hpp"
#include "agora/zk/zk_url.hpp"

namespace agora::zk {

namespace detail {
class worker;
}  // namespace detail

/// Called with the current leader (nullopt: none, or unknown because the
/// session ended), on the detector's own thread, once per change.
using detector_callback = std::function<void(const std::optional<leader_info>&)>;

/// How a detector connects.
struct detector_options {
  /// The session timeout it asks for.
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  /// The bound of each ZooKeeper call (zero: the session timeout).
  std::chrono::milliseconds operation_timeout = std::chrono::milliseconds(0);
  /// The pause before retrying after a failed ZooKeeper operation.
  std::chrono::milliseconds retry_delay = std::chrono::milliseconds(200);
};

/// Follows the leader of `<root>/leader` without joining the election: for
/// agents, scheduler drivers and the CLI.
///
/// It owns its session and outlives sessions: when one ends (expired, or
/// lost after a long disconnection) it reports "no leader" (it cannot know)
/// and opens a new one. While merely disconnected it reports nothing (the
/// last leader is still the best guess). Its ZooKeeper calls and callbacks
/// run on its own thread.
class leader_detector {
 public:
  /// Starts following the group under `url.root`. Returns
  /// `errc::invalid_argument` without a callback; connection problems are
  /// retried in the background.
  static result<std::unique_ptr<leader_detector>> start(const zk_url& url,
                                                        detector_callback on_change,
                                                        detector_options options = {});

  /// Stops following and closes the session.
  ~leader_detector();

  leader_detector(const leader_detector&) = delete;
  leader_detector& operator=(const leader_detector&) = delete;

  /// Returns the last leader reported (nullopt before the first report or
  /// when there is none).
  std::optional<leader_info> leader() const;

 private:
  leader_detector(zk_url url, detector_callback on_change, detector_options options);

  void step();
  void report(const std::optional<leader_info>& leader);

  zk_url url_;
  detector_callback on_change_;
  detector_options options_;
  std::string dir_;

  // Owned by the worker thread.
  std::unique_ptr<session> session_;

  mutable std::mutex mutex_;
  std::optional<leader_info> last_;
  bool reported_ = false;

  std::shared_ptr<detail::worker> worker_;
};

/// Returns the current leader under `url.root`, waiting up to `timeout` for
/// a connection and, when there is none yet, for one to be elected: the
/// one-shot lookup of CLI commands. Returns `errc::timeout` naming what was
/// missing, or the connection's error.
result<leader_info> detect_leader(const zk_url& url, std::chrono::milliseconds timeout);

/// Parses `url` (see `zk_url::parse`) and returns `detect_leader(...)`.
result<leader_info> detect_leader(std::string_view url, std::chrono::milliseconds timeout);

}  // namespace agora::zk
