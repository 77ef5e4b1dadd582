#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agora/zk/error.hpp"
#include "agora/zk/leader_info.hpp"
#include "agora/zk/session.hpp"

namespace agora::zk {

namespace detail {
class worker;
}  // namespace detail

/// What a contender knows about its election at one moment.
struct election_view {
  /// The session's state when the view was taken. While it is not
  /// `connected`, `leading` and `leader` are the last ones seen connected.
  session_state session = session_state::connecting;
  /// True if this contender's member has the lowest sequence number, as
  /// last seen while connected, and the session has not ended. A leader
  /// whose session is `disconnected` still leads until the session is
  /// lost or expires (then another contender may take over), so an owner
  /// that must not act while unsure checks `session == connected` too; the
  /// registry's compare-and-set fences stale writers anyway.
  bool leading = false;
  /// This contender's member name ("" before it joined and after it left).
  std::string self;
  /// The current leader (nullopt when none is known).
  std::optional<leader_info> leader;
  /// All members' names, lowest sequence (the leader) first.
  std::vector<std::string> members;

  /// Returns true if all fields are equal.
  friend bool operator==(const election_view& a, const election_view& b) {
    return a.session == b.session && a.leading == b.leading && a.self == b.self &&
           a.leader == b.leader && a.members == b.members;
  }

  /// Returns `!(a == b)`.
  friend bool operator!=(const election_view& a, const election_view& b) { return !(a == b); }
};

/// Called with each new `election_view` (never twice with the same one), on
/// the contender's own thread; it may call the session's blocking
/// operations but not `withdraw`.
using election_callback = std::function<void(const election_view&)>;

/// How a contender joins.
struct election_options {
  /// The cluster's root znode (`zk_url::root`); the group lives at
  /// `<root>/leader`, created when missing.
  std::string root;
  /// This contender's data, e.g. the master's info as JSON; detectors and
  /// other contenders read it from the leader's znode.
  std::string data;
  /// Receives every change (required).
  election_callback on_change;
  /// The pause before retrying after a failed ZooKeeper operation.
  std::chrono::milliseconds retry_delay = std::chrono::milliseconds(200);
};

/// A contender in a leader election (ZooKeeper's recipe): joins the group
/// `<root>/leader` with an ephemeral sequential znode `member_<seq>` holding
/// its data; the member with the lowest sequence number leads, and that
/// number is the leader's epoch. It watches the group and reports every
/// change through `on_change`.
///
/// It runs its ZooKeeper calls on its own thread, off the client's event
/// thread and off the caller's. A create whose reply was lost is recovered
/// by finding the session's own node (`ephemeral_owner`) instead of joining
/// twice.
///
/// Its end states: the session ends (expired, lost or closed) → a last view
/// with `leading == false` and that session state; its member node is
/// removed by someone else → a last view with `leading == false` and
/// `self == ""`. It does not rejoin by itself: the owner decides (a master
/// that led exits).
class leader_election {
 public:
  /// Starts contending on `s`, which must outlive the contender. Returns
  /// `errc::invalid_argument` for a bad root or a missing callback and
  /// `errc::too_large` for data ZooKeeper would refuse; joining itself
  /// happens in the background (the first views report it).
  static result<std::unique_ptr<leader_election>> start(session& s, election_options options);

  /// Withdraws (see `withdraw`).
  ~leader_election();

  leader_election(const leader_election&) = delete;
  leader_election& operator=(const leader_election&) = delete;

  /// Leaves the election: stops watching, removes this contender's member
  /// node (so the next one leads at once) and reports a last view with
  /// `leading == false` on the caller's thread. Returns the removal's error
  /// (the node then goes with the session), `errc::wrong_thread` from
  /// `on_change`. Idempotent.
  result<void> withdraw();

  /// Returns the last view reported.
  election_view view() const;

 private:
  leader_election(session& s, election_options options);

  void step();
  result<void> join();
  void report(const election_view& v);
  void finish(election_view v);

  session& session_;
  election_options options_;
  std::string dir_;
  uint64_t subscription_ = 0;

  // Owned by the worker thread (and by `withdraw` after the worker stopped).
  std::string self_;
  bool recover_ = false;
  bool finished_ = false;

  mutable std::mutex mutex_;
  election_view last_;
  bool reported_ = false;
  bool withdrawn_ = false;

  std::shared_ptr<detail::worker> worker_;
};

}  // namespace agora::zk
