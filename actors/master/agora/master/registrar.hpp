#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/master/registry.hpp"

namespace agora::zk {
class session;
}  // namespace agora::zk

namespace agora::master {

// -- master -> registrar -----------------------------------------------------------

/// An agent was admitted (first registration, or re-registration after it
/// was unreachable).
struct registry_admit_agent {
  std::string agent_id;
  std::string hostname;
  std::string principal;  ///< It authenticated as ("": none).
};
/// An agent was declared unreachable.
struct registry_agent_unreachable {
  std::string agent_id;
};
/// A framework was removed and must not come back.
struct registry_remove_framework {
  std::string framework_id;
};

/// The active allocation policy changed at run time (allocator -> master ->
/// registrar).
struct registry_set_policy {
  registry::policy_record policy;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_set_policy& x) {
  // The source stays out of logs: name and revision describe it.
  return f(caf::meta::type_name("registry_set_policy"), x.policy.name, x.policy.revision);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_admit_agent& x) {
  return f(caf::meta::type_name("registry_admit_agent"), x.agent_id, x.hostname, x.principal);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_agent_unreachable& x) {
  return f(caf::meta::type_name("registry_agent_unreachable"), x.agent_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_remove_framework& x) {
  return f(caf::meta::type_name("registry_remove_framework"), x.framework_id);
}

/// How the registrar of a leading master persists.
struct registrar_config {
  /// The leader's ZooKeeper session.
  std::shared_ptr<zk::session> session;
  /// The cluster's root znode (the document lives at `<root>/registry`).
  std::string root;
  /// The document as this leader claimed it at its election, and the znode
  /// version that claim produced.
  registry doc;
  int32_t version = 0;
  /// Called once when the registry can no longer be written by this master
  /// (another master wrote it, or the session is gone): the master must
  /// stop acting as leader at once. Runs on the registrar's own thread.
  std::function<void(const std::string& why)> on_fatal;
};

/// Reads the registry at `<root>/registry` and claims it for a new leader
/// of epoch `epoch` (a compare-and-set write of the document with the new
/// epoch), so that the previous leader's next write fails. Blocking: call it
/// off actor threads. Returns false and sets `error` when ZooKeeper fails,
/// the document is not understood, or another master wrote in between.
bool claim_registry(zk::session& s, const std::string& root, int64_t epoch, registry& doc,
                    int32_t& version, std::string& error);

/// Spawns the registrar on its own thread (its ZooKeeper writes block): it
/// applies the master's changes to the document and writes them, coalescing
/// bursts into one compare-and-set write.
caf::actor spawn_registrar(caf::actor_system& sys, registrar_config cfg);

}  // namespace agora::master
