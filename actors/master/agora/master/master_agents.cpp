#include "agora/master/detail/master_ops.hpp"

#include <algorithm>
#include <set>

#include "agora/master/framework_proxy.hpp"
#include "agora/protocol/errors.hpp"

namespace agora::master::detail {

using namespace protocol;

void mark_unreachable(master_ptr self, const std::string& agent_id) {
  auto& st = self->state;
  auto it = st.agents.find(agent_id);
  if (it == st.agents.end() || it->second.health == agent_health::unreachable) return;
  log(self, "agent " + agent_id + " is unreachable after " +
                std::to_string(it->second.missed_pings) + " missed pings");
  it->second.health = agent_health::unreachable;
  st.changed_agent(agent_id);
  auto offers = it->second.offers;
  for (const auto& id : offers) remove_offer(self, id, true);
  auto tasks = it->second.tasks;
  for (const auto& key : tasks) {
    auto t = st.tasks.find(key);
    if (t == st.tasks.end()) continue;
    auto fw = st.frameworks.find(key.first);
    bool aware = fw != st.frameworks.end() && fw->second.partition_aware();
    if (!aware) it->second.lost_tasks.insert(key);
    apply_status(
        self, master_status(key.first, key.second, agent_id,
                            aware ? task_state::unreachable : task_state::lost,
                            "REASON_AGENT_UNREACHABLE", "agent " + agent_id + " is unreachable"));
  }
  self->send(st.allocator, alloc_remove_agent{agent_id});
  if (st.config.trace) st.config.trace->agent_removed(agent_id);
  to_registry(self, registry_agent_unreachable{agent_id});
  mark_dirty(self);
}

/// One sweep over all agents, every ping interval: an agent whose last ping
/// is still unanswered has missed it, and after `max_agent_ping_timeouts`
/// misses in a row becomes unreachable; every other agent gets its next ping.
/// One timer for the whole registry, so re-registrations never add loops.
///
/// A ping is a plain message, not a request: the agent's `pong_atom` comes
/// back as a message of its own (`on_pong`), found by its sender. CAF 0.17
/// keeps an actor's outstanding requests in a flat map that it searches and
/// erases from linearly, so a request per agent cost O(agents) per pong:
/// at 50,000 agents, a sweep moved gigabytes inside that map.
void ping_agents(master_ptr self) {
  auto& st = self->state;
  std::vector<std::string> lost;
  for (auto& [id, a] : st.agents) {
    if (a.health == agent_health::unreachable) continue;
    if (a.awaiting_pong && ++a.missed_pings >= st.config.max_agent_ping_timeouts) {
      lost.push_back(id);
      continue;
    }
    a.awaiting_pong = true;
    self->send(a.handle, ping_atom::value, st.epoch);
  }
  for (const auto& id : lost) mark_unreachable(self, id);
  self->delayed_send(self, st.config.agent_ping_timeout, ping_sweep{});
}

void on_pong(master_ptr self) {
  auto& st = self->state;
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto by = st.agent_by_actor.find(sender);
  // A pong from an older connection of an agent, or from no agent, does
  // not count.
  if (by == st.agent_by_actor.end()) return;
  auto it = st.agents.find(by->second);
  if (it == st.agents.end() || it->second.handle.address() != sender) return;
  it->second.missed_pings = 0;
  it->second.awaiting_pong = false;
}

caf::result<agent_registered> admit_agent(master_ptr self, agent_info info,
                                          const std::vector<running_task>& running) {
  auto& st = self->state;
  auto handle = caf::actor_cast<caf::actor>(self->current_sender());
  if (!handle) return make_error(errc::invalid_argument, "register without a sender");
  if (info.hostname.empty() || info.total.empty() || !info.total.non_negative())
    return make_error(errc::invalid_argument, "agent info needs a hostname and resources");
  if (auto why = info.total.limit_error(); !why.empty())
    return make_error(errc::invalid_argument, "agent resources out of range: " + why);
  const auto* peer = authenticated_peer(self, "agent");
  if (st.config.authenticate_agents && !peer)
    return refuse_unauthenticated(self, "agent", "--authenticate-agents");
  bool known = !info.id.empty() && st.agents.count(info.id) != 0;
  if (known) {
    // An agent's id is no credential: while the agent is connected, no
    // other actor may take its place. A restarted agent process comes back
    // once the old connection is gone (at once when the process died, after
    // the ping timeout when its host did).
    const auto& held = st.agents[info.id];
    if (held.handle && held.health == agent_health::active &&
        (held.handle.node() != handle.node() || held.handle.id() != handle.id())) {
      foreign_message(self, "re-registration as agent " + info.id + " (connected from " +
                                caf::to_string(held.handle.address()) + ")");
      return make_error(errc::not_allowed,
                        "agent " + info.id + " is registered and connected from another actor");
    }
  }
  // An agent that proved a principal comes back only as that principal,
  // with this leader or (through the registry) a later one.
  if (!info.id.empty()) {
    std::string owner;
    if (known) {
      owner = st.agents[info.id].principal;
    } else if (auto r = st.registry_principals.find(info.id); r != st.registry_principals.end()) {
      owner = r->second;
    }
    if (!owner.empty() && (!peer || peer->principal != owner)) {
      foreign_message(self,
                      "re-registration as agent " + info.id + " of principal '" + owner + "'");
      return make_error(errc::not_allowed,
                        "agent " + info.id + " belongs to principal '" + owner + "'");
    }
  }
  if (info.id.empty()) info.id = st.master_id + "-S" + std::to_string(st.next_agent++);
  auto& rec = st.agents[info.id];
  if (known) {
    // A re-registration: forget the allocator's old view of this agent (its
    // offers and the resources of its tasks); the agent's report rebuilds it.
    auto offers = rec.offers;
    for (const auto& id : offers) remove_offer(self, id, true);
    if (rec.health != agent_health::unreachable) {
      for (const auto& key : rec.tasks) {
        auto t = st.tasks.find(key);
        if (t != st.tasks.end() && !t->second.released)
          recover(self, key.first, t->second.role, info.id, t->second.info.res);
      }
      self->send(st.allocator, alloc_remove_agent{info.id});
    }
    if (rec.handle) {
      self->demonitor(rec.handle);
      st.agent_by_actor.erase(rec.handle.address());
    }
  }
  rec.info = info;
  st.changed_agent(info.id);
  rec.handle = handle;
  rec.principal = peer ? peer->principal : std::string{};
  rec.health = agent_health::active;
  rec.missed_pings = 0;
  rec.awaiting_pong = false;
  rec.registered_at_ns = now_ns();
  st.agent_by_actor[handle.address()] = info.id;
  self->monitor(handle);
  // Adopt the tasks the agent still runs. After a master restart neither the
  // tasks nor their frameworks are known: both are rebuilt from the report,
  // and such a framework waits (inactive) for its scheduler to re-subscribe.
  // Tasks the master already reported lost to a framework that is not
  // partition-aware, or of frameworks that were removed, are killed.
  std::map<std::string, std::map<std::string, resources>> used_by;
  std::set<std::pair<std::string, std::string>> reported;
  for (const auto& r : running) {
    const auto& s = r.status;
    auto key = std::make_pair(s.framework_id, s.task_id);
    reported.insert(key);
    // Reported lost while the agent was unreachable: the framework may have
    // replaced it, so it must not come back.
    bool lost_before =
        rec.lost_tasks.count(key) != 0 || (rec.lost_all_tasks && !partition_aware(r.framework));
    bool removed = st.completed_frameworks.contains(s.framework_id);
    auto fw = st.frameworks.find(s.framework_id);
    if (fw == st.frameworks.end() && !removed && !lost_before && !r.framework.id.empty()) {
      // Its scheduler has `framework_reregister_timeout` to find this master
      // before the failover timeout starts: an agent that re-registers first
      // must not cost the framework its tasks.
      framework_record recovered;
      recovered.info = r.framework;
      recovered.connected = false;
      recovered.registered_at_ns = now_ns();
      recovered.disconnected_at_ns = now_ns();
      recovered.proxy =
          spawn_framework_proxy(self->system(), s.framework_id, caf::actor{}, self,
                                std::chrono::milliseconds{r.framework.failover_timeout_ms},
                                st.config.framework_reregister_timeout);
      fw = st.frameworks.emplace(s.framework_id, std::move(recovered)).first;
      st.changed_framework(s.framework_id);
      self->send(st.allocator, framework_for_allocator(r.framework));
      self->send(st.allocator, alloc_framework_active{s.framework_id, false});
      log(self, "recovered framework " + s.framework_id + " from agent " + info.id);
    }
    auto t = st.tasks.find(key);
    bool ended = t != st.tasks.end() ? is_terminal(t->second.status.state)
                                     : st.completed_index.count(key) != 0;
    if (lost_before || ended || fw == st.frameworks.end()) {
      log(self, "killing task " + s.task_id + " of framework " + s.framework_id +
                    " reported by agent " + info.id + ": " +
                    (lost_before ? "it was reported lost"
                     : ended     ? "it already ended"
                                 : "its framework was removed"));
      to_agent(self, handle, kill_task{s.framework_id, s.task_id, info.id});
      if (lost_before && t == st.tasks.end() && st.completed_index.count(key) == 0) {
        // Lost under an earlier leader: remembered as lost, so that the
        // agent's later updates of it (its end after the kill) are not
        // relayed as news to a framework that was told TASK_LOST.
        task_record gone;
        gone.info = r.task;
        gone.framework_id = s.framework_id;
        gone.agent_id = info.id;
        gone.role = r.role;
        gone.set_status(master_status(s.framework_id, s.task_id, info.id, task_state::lost,
                                      "REASON_AGENT_UNREACHABLE",
                                      "agent " + info.id + " was unreachable"));
        add_completed(st, std::move(gone));
      }
      continue;
    }
    if (t == st.tasks.end()) {
      task_record adopted;
      adopted.info = r.task;
      adopted.framework_id = s.framework_id;
      adopted.agent_id = info.id;
      adopted.role =
          r.role.empty() ? (r.framework.roles.empty() ? "*" : r.framework.roles[0]) : r.role;
      t = st.tasks.emplace(key, std::move(adopted)).first;
    }
    bool was_unreachable = t->second.status.state == task_state::unreachable;
    t->second.set_status(s);
    t->second.agent_id = info.id;
    // Ended on the agent, its last updates not yet acknowledged: relayed as
    // they come, holding nothing.
    t->second.released = is_terminal(r.latest_state) || is_terminal(s.state);
    st.changed_task(key.first, key.second);
    if (!t->second.released) used_by[s.framework_id][t->second.role] += t->second.info.res;
    rec.tasks.insert(key);
    fw->second.tasks.insert(s.task_id);
    if (is_terminal(s.state)) {
      // Ended, its terminal update not yet acknowledged: the task is over
      // (the agent's retries of that update are still relayed, and nothing
      // else of it is, not even a TASK_LOST if the agent goes away).
      complete_task(self, t);
      continue;
    }
    if (was_unreachable) {
      // A partition-aware framework learns that its task is back.
      auto back = s;
      back.uuid.clear();
      back.reason = "REASON_AGENT_REREGISTERED";
      back.message = "agent " + info.id + " re-registered";
      to_framework(self, s.framework_id, status_update{back});
    }
  }
  rec.lost_tasks.clear();
  rec.lost_all_tasks = false;
  st.recovering_agents.erase(info.id);
  st.registry_principals.erase(info.id);
  to_registry(self, registry_admit_agent{info.id, info.hostname, rec.principal});
  // Tasks the master thought were on this agent but the agent did not
  // report: a launch may have crossed the registration, so the agent is
  // asked (on the same connection, after the launch) and answers with the
  // task's state, or TASK_LOST if it never got it.
  std::map<std::string, std::vector<std::string>> unreported;
  for (const auto& key : rec.tasks) {
    if (reported.count(key) != 0) continue;
    auto t = st.tasks.find(key);
    if (t != st.tasks.end() && !is_terminal(t->second.status.state)) {
      unreported[key.first].push_back(key.second);
      if (!t->second.released) used_by[key.first][t->second.role] += t->second.info.res;
    }
  }
  for (auto& [framework_id, ids] : unreported)
    to_agent(self, handle, reconcile{framework_id, std::move(ids)});
  self->send(st.allocator,
             alloc_add_agent{info.id, info.total, used_by, info.hostname, info.attributes});
  if (st.config.trace) st.config.trace->agent_added(info.id, info.total, info.attributes);
  log(self, std::string(known || !running.empty() ? "re-registered" : "registered") + " agent " +
                info.id + " at " + info.hostname + " with " + info.total.to_string());
  mark_dirty(self);
  return agent_registered{info.id, st.config.agent_ping_timeout.count(), st.epoch};
}

/// Takes over the registry a new leader claimed: its agents must re-register
/// within `agent_reregister_timeout`; those that were unreachable stay so,
/// and their returning tasks of frameworks that are not partition-aware are
/// killed (they were reported lost); removed frameworks stay removed.
void recover_registry(master_ptr self, const become_leader& m) {
  auto& st = self->state;
  st.epoch = m.epoch;
  st.leader_json = m.leader_json;
  st.registrar = m.registrar;
  registry doc;
  std::string error;
  if (!m.registry_json.empty() && !registry::from_json(m.registry_json, doc, error))
    log(self, "ignoring an unreadable registry: " + error);
  for (const auto& id : doc.removed_frameworks) st.completed_frameworks.add(id);
  for (const auto& [id, a] : doc.agents) {
    if (!a.principal.empty()) st.registry_principals[id] = a.principal;
    if (a.state == registry::agent_state::unreachable) {
      auto& rec = st.agents[id];
      rec.info.id = id;
      rec.info.hostname = a.hostname;
      rec.health = agent_health::unreachable;
      rec.lost_all_tasks = true;
      st.changed_agent(id);
    } else {
      st.recovering_agents[id] = a.hostname;
    }
  }
  log(self, "leading at epoch " + std::to_string(m.epoch) + "; waiting up to " +
                std::to_string(st.config.agent_reregister_timeout.count()) + "ms for " +
                std::to_string(st.recovering_agents.size()) + " agents to re-register");
  self->delayed_send(self, st.config.agent_reregister_timeout, reregistration_deadline{});
}

/// Marks the agents that did not re-register after the election unreachable,
/// unless they are more than the safety limit allows.
void reregistration_deadline_passed(master_ptr self) {
  auto& st = self->state;
  if (st.recovering_agents.empty()) return;
  size_t known = st.recovering_agents.size() + st.agents.size();
  double fraction = static_cast<double>(st.recovering_agents.size()) / static_cast<double>(known);
  if (fraction > st.config.recovery_agent_removal_limit) {
    log(self, "not marking " + std::to_string(st.recovering_agents.size()) + " of " +
                  std::to_string(known) +
                  " agents unreachable after the re-registration deadline: more than the "
                  "recovery limit of " +
                  std::to_string(st.config.recovery_agent_removal_limit * 100) +
                  "%; they stay known and may still re-register");
    return;
  }
  auto missing = std::move(st.recovering_agents);
  st.recovering_agents.clear();
  for (const auto& [id, hostname] : missing) {
    log(self, "agent " + id + " did not re-register after the election: unreachable");
    auto& rec = st.agents[id];
    rec.info.id = id;
    rec.info.hostname = hostname;
    rec.health = agent_health::unreachable;
    rec.lost_all_tasks = true;
    st.changed_agent(id);
    to_registry(self, registry_agent_unreachable{id});
  }
  mark_dirty(self);
}

}  // namespace agora::master::detail
