#include "agora/discovery/master_follower.hpp"

#include <iostream>

#include <caf/all.hpp>

#include "agora/zk/leader_detector.hpp"
#include "agora/zk/zk_url.hpp"

namespace agora::discovery {

std::unique_ptr<master_follower> master_follower::start(const std::string& spec, caf::actor owner,
                                                        std::string& error) {
  std::unique_ptr<master_follower> f{new master_follower};
  if (!is_zk_url(spec)) {
    master_changed m;
    if (!resolve_master(spec, false, m.leader.actor_host, m.leader.actor_port, error))
      return nullptr;
    m.known = true;
    caf::anon_send(owner, std::move(m));
    return f;
  }
  auto url = zk::zk_url::parse(spec);
  if (!url) {
    error = url.err().message;
    return nullptr;
  }
  // The detector's thread must not keep the owner alive.
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(owner);
  auto detector = zk::leader_detector::start(
      url.value(), [weak, spec](const std::optional<zk::leader_info>& leader) {
        auto strong = weak.lock();
        if (!strong) return;
        master_changed m;
        if (leader) {
          std::string why;
          if (!master_info::from_json(leader->data, m.leader, why)) {
            std::cerr << "agora: ignoring the leader of " << spec << ": " << why << "\n";
            return;
          }
          m.leader.epoch = leader->epoch;
          m.known = true;
        }
        caf::anon_send(caf::actor_cast<caf::actor>(strong), std::move(m));
      });
  if (!detector) {
    error = detector.err().message;
    return nullptr;
  }
  f->detector_ = std::move(detector.value());
  return f;
}

master_follower::~master_follower() = default;

}  // namespace agora::discovery
