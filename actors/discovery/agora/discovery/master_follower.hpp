#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/discovery/master_info.hpp"

namespace agora::zk {
class leader_detector;
}  // namespace agora::zk

namespace agora::discovery {

/// Sent to a follower's owner on every change of the leading master.
struct master_changed {
  /// The new leader; meaningful only when `known`.
  master_info leader;
  /// False while no master leads (or it cannot be known).
  bool known = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, master_info& x) {
  return f(caf::meta::type_name("master_info"), x.id, x.hostname, x.actor_host, x.actor_port,
           x.http_address, x.version, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, master_changed& x) {
  return f(caf::meta::type_name("master_changed"), x.leader, x.known);
}

/// Follows the leading master for an actor (an agent, a scheduler driver):
/// given `HOST:PORT` it reports that master once, at start; given
/// `zk://HOST:PORT[,...]/PATH` it reports the leader of that ZooKeeper group
/// at every change (and `known == false` while there is none). Reports are
/// `master_changed` messages sent to `owner`.
class master_follower {
 public:
  /// Starts following `spec`. Returns null and sets `error` for a `spec`
  /// that is neither form.
  static std::unique_ptr<master_follower> start(const std::string& spec, caf::actor owner,
                                                std::string& error);
  ~master_follower();

  master_follower(const master_follower&) = delete;
  master_follower& operator=(const master_follower&) = delete;

 private:
  master_follower() = default;
  std::unique_ptr<zk::leader_detector> detector_;
};

}  // namespace agora::discovery
