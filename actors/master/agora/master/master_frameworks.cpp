#include "agora/master/detail/master_ops.hpp"

#include <algorithm>
#include <set>

#include "agora/master/framework_proxy.hpp"
#include "agora/protocol/errors.hpp"
#include "agora/protocol/roles.hpp"

namespace agora::master::detail {

using namespace protocol;

void remove_framework(master_ptr self, const std::string& framework_id, const std::string& why) {
  auto& st = self->state;
  auto it = st.frameworks.find(framework_id);
  if (it == st.frameworks.end()) return;
  log(self, "removing framework " + framework_id + " (" + why + ")");
  auto offers = it->second.offers;
  for (const auto& id : offers) remove_offer(self, id, false);
  std::set<std::string> agents;
  for (const auto& task_id : it->second.tasks) {
    auto t = st.tasks.find({framework_id, task_id});
    if (t != st.tasks.end()) agents.insert(t->second.agent_id);
  }
  for (const auto& agent_id : agents) {
    if (auto ag = st.agents.find(agent_id); ag != st.agents.end() && ag->second.handle)
      to_agent(self, ag->second.handle, shutdown_framework{framework_id});
  }
  self->send(st.allocator, alloc_remove_framework{framework_id});
  if (st.config.trace) st.config.trace->framework_removed(framework_id);
  // The scheduler hears why (so a client such as `agora execute` stops
  // instead of waiting forever); then the proxy quits.
  if (it->second.proxy)
    self->send(
        it->second.proxy,
        framework_removed{stamped(
            self, framework_error{"framework " + framework_id + " was removed: " + why, true})});
  st.completed_frameworks.add(framework_id);
  st.completed_framework_records.push_back(
      {it->second.info, it->second.registered_at_ns, now_ns(), why});
  if (st.completed_framework_records.size() > master_state::completed_frameworks_kept)
    st.completed_framework_records.pop_front();
  to_registry(self, registry_remove_framework{framework_id});
  st.changed_framework(framework_id);
  st.frameworks.erase(it);
  // Its tasks stay in `tasks` until the agents report them killed; updates
  // for an unknown framework are acknowledged by the master itself.
  mark_dirty(self);
}

/// Returns what the allocator needs to know of a framework.
alloc_add_framework framework_for_allocator(const framework_info& info) {
  return {info.id, info.roles, info.user, info.labels, info.min_request, info.demand};
}

caf::result<subscribed> handle_subscribe(master_ptr self, subscribe& m) {
  auto& st = self->state;
  auto scheduler = caf::actor_cast<caf::actor>(self->current_sender());
  if (!scheduler) return make_error(errc::invalid_argument, "subscribe without a sender");
  framework_info& info = m.info;
  if (info.name.empty()) return make_error(errc::invalid_argument, "framework name is empty");
  if (info.failover_timeout_ms < 0)
    return make_error(errc::invalid_argument, "failover timeout is negative");
  // Far beyond any use, and past it the timer's arithmetic overflows.
  if (info.failover_timeout_ms > max_failover_timeout_ms)
    return make_error(errc::invalid_argument, "failover timeout is longer than 3650 days");
  for (const auto& role : info.roles)
    if (auto why = role_error(role); !why.empty())
      return make_error(errc::invalid_argument, "bad role: " + why);
  const auto* peer = authenticated_peer(self, "framework");
  if (st.config.authenticate_frameworks && !peer)
    return refuse_unauthenticated(self, "framework", "--authenticate-frameworks");
  if (peer) {
    if (!info.principal.empty() && info.principal != peer->principal)
      return make_error(errc::not_allowed, "framework principal '" + info.principal +
                                               "' is not the authenticated principal '" +
                                               peer->principal + "'");
    info.principal = peer->principal;
  }
  if (st.config.acls) {
    // Every role the framework subscribes in (`*` when it names none).
    auto roles = info.roles.empty() ? std::vector<std::string>{"*"} : info.roles;
    for (const auto& role : roles)
      if (!st.config.acls->allowed(auth::acls::action::register_frameworks,
                                   peer ? peer->principal : "", role)) {
        auto why = auth::denied(auth::acls::action::register_frameworks,
                                peer ? peer->principal : "", role);
        log(self, "subscription of framework '" + info.name + "' from " + sender_text(self) +
                      " refused: " + why);
        return make_error(errc::not_allowed, why);
      }
    // The user its tasks run as on agents with `--switch-user`; none names
    // the agent's own user, root as a rule.
    auto user = info.user.empty() ? std::string{"root"} : info.user;
    if (!st.config.acls->allowed(auth::acls::action::run_tasks, peer ? peer->principal : "",
                                 user)) {
      auto why = auth::denied(auth::acls::action::run_tasks, peer ? peer->principal : "", user);
      log(self, "subscription of framework '" + info.name + "' from " + sender_text(self) +
                    " refused: " + why);
      return make_error(errc::not_allowed, why);
    }
  }
  if (!info.id.empty() && st.completed_frameworks.contains(info.id))
    return make_error(errc::invalid_argument,
                      "framework " + info.id + " has been removed and cannot subscribe again");
  auto existing = info.id.empty() ? st.frameworks.end() : st.frameworks.find(info.id);
  if (existing != st.frameworks.end()) {
    // Re-subscription after a disconnection, a scheduler restart, or a
    // failover to a new scheduler instance while the old one is connected.
    auto& rec = existing->second;
    // A framework's id gives no power over it once its principal was
    // proved, or where principals are proved at all: only the same
    // principal takes it over.
    bool same_principal = peer ? rec.info.principal.empty() || rec.info.principal == peer->principal
                               : !rec.principal_verified;
    if (!same_principal) {
      foreign_message(self, "re-subscription as framework " + info.id + " of principal '" +
                                rec.info.principal + "'" +
                                (peer ? " by principal '" + peer->principal + "'"
                                      : std::string(" without authentication")));
      return make_error(errc::not_allowed, "framework " + info.id + " belongs to principal '" +
                                               rec.info.principal + "'");
    }
    if (rec.scheduler && rec.scheduler != scheduler) {
      // The old instance must stop acting: tell it, and void its offers
      // (their resources go back to the pool and are offered again).
      log(self, "framework " + info.id + " failed over to a new scheduler instance");
      self->send(
          rec.scheduler,
          stamped(self, framework_error{
                            "framework " + info.id + " failed over to another scheduler", true}));
      auto offers = rec.offers;
      for (const auto& id : offers) remove_offer(self, id, false);
    }
    rec.connected = true;
    rec.disconnected_at_ns = 0;
    rec.info = info;
    rec.scheduler = scheduler;
    rec.principal_verified = rec.principal_verified || peer != nullptr;
    self->send(rec.proxy, framework_reconnected{scheduler});
    // Roles, labels or demand may have changed with the new instance.
    self->send(st.allocator, framework_for_allocator(info));
    self->send(st.allocator, alloc_framework_active{info.id, true});
    log(self, "framework " + info.id + " (" + info.name + ") re-subscribed");
  } else {
    if (info.id.empty()) info.id = st.master_id + "-F" + std::to_string(st.next_framework++);
    framework_record rec;
    rec.info = info;
    rec.registered_at_ns = now_ns();
    rec.scheduler = scheduler;
    rec.principal_verified = peer != nullptr;
    rec.proxy = spawn_framework_proxy(self->system(), info.id, scheduler, self,
                                      std::chrono::milliseconds{info.failover_timeout_ms});
    auto& added = st.frameworks.emplace(info.id, std::move(rec)).first->second;
    // Tasks already known under this id belong to it again.
    for (auto t = st.tasks.lower_bound({info.id, ""});
         t != st.tasks.end() && t->first.first == info.id; ++t)
      added.tasks.insert(t->first.second);
    self->send(st.allocator, framework_for_allocator(info));
    if (st.config.trace)
      st.config.trace->framework_added(info.id, info.roles.empty() ? "*" : info.roles[0],
                                       info.labels);
    log(self, "framework " + info.id + " (" + info.name + ") subscribed");
  }
  st.changed_framework(info.id);
  mark_dirty(self);
  return subscribed{info.id, st.config.framework_heartbeat_interval.count(), st.epoch};
}

/// Returns the framework record for a framework request, or null after
/// counting and logging an invalid request.
framework_record* requester(master_ptr self, const std::string& framework_id, const char* what) {
  auto it = self->state.frameworks.find(framework_id);
  if (it == self->state.frameworks.end()) {
    ++self->state.invalid_requests;
    log(self, std::string(what) + " from unknown framework '" + framework_id + "' ignored");
    return nullptr;
  }
  if (!from(self, it->second.scheduler)) {
    foreign_message(self, std::string(what) + " for framework " + framework_id +
                              (it->second.scheduler ? " (not its scheduler)"
                                                    : " (it has no scheduler connected)"));
    return nullptr;
  }
  return &it->second;
}

}  // namespace agora::master::detail
