#include "agora/master/master_actor.hpp"

#include "agora/master/detail/master_ops.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>

#include <caf/all.hpp>

#include "agora/master/allocator_actor.hpp"
#include "agora/master/framework_proxy.hpp"
#include "agora/master/internal_messages.hpp"
#include "agora/master/registrar.hpp"
#include "agora/observability/json.hpp"
#include "agora/protocol/errors.hpp"
#include "agora/protocol/exits.hpp"
#include "agora/protocol/roles.hpp"

namespace agora::master {

using namespace protocol;

void snapshot_store::set(std::shared_ptr<const state_snapshot> snapshot) {
  std::lock_guard<std::mutex> guard{mtx_};
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const state_snapshot> snapshot_store::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return snapshot_;
}

std::shared_ptr<const std::string> snapshot_store::get() const {
  auto s = snapshot();
  if (!s) return std::make_shared<const std::string>("{}");
  std::lock_guard<std::mutex> guard{render_mtx_};
  if (rendered_version_ != s->version) {
    rendered_ = std::make_shared<const std::string>(render_snapshot(*s));
    rendered_version_ = s->version;
  }
  return rendered_;
}

std::string snapshot_store::agent_address(const std::string& id) const {
  auto s = snapshot();
  if (!s) return {};
  const auto* a = agent_map::find(s->agents, id);
  return a == nullptr ? std::string{} : a->http_address;
}

std::string snapshot_store::framework_principal(const std::string& id, bool& known) const {
  auto s = snapshot();
  const auto* f = s ? framework_map::find(s->frameworks, id) : nullptr;
  known = f != nullptr;
  return f == nullptr ? std::string{} : f->principal;
}

bool framework_record::partition_aware() const { return protocol::partition_aware(info); }

namespace {

using namespace detail;

/// Publishes what `/metrics` shows of the master with each snapshot (the
/// sums over agents and tasks are made from the snapshot when scraped).
void publish_metrics_sample(master_ptr self, std::shared_ptr<const state_snapshot> snapshot) {
  const auto& st = self->state;
  if (!st.config.metrics) return;
  auto m = std::make_shared<master_sample>();
  m->snapshot = std::move(snapshot);
  m->completed_frameworks = st.completed_frameworks.size();
  m->offers_made = st.offers_made;
  m->offers_declined = st.offers_declined;
  m->offers_rescinded = st.offers_rescinded;
  m->tasks_launched = st.tasks_launched;
  m->status_updates = st.status_updates;
  m->invalid_requests = st.invalid_requests;
  m->foreign_messages = st.foreign_messages;
  m->authentications = st.authentications;
  m->tasks_ended = st.tasks_ended;
  m->mailbox_messages = self->mailbox().queue().total_task_size();
  // (The queue's count, not `mailbox().size()`: see allocator_actor.cpp.)
  st.config.metrics->publish(std::shared_ptr<const master_sample>(std::move(m)));
}

caf::behavior leading_behavior(master_ptr self);

/// Publishes a snapshot of the changes since the last one. With
/// `verify_view`, compares it with one rendered from scratch and aborts on
/// a difference (a change the master did not mark).
void publish_snapshot(master_ptr self) {
  auto& st = self->state;
  auto snapshot = st.view->update(st, st.changes);
  st.changes = {};
  if (st.verify_view) {
    auto incremental = render_snapshot(*snapshot);
    auto fresh = render_state_json(st);
    if (incremental != fresh) {
      size_t at = 0;
      while (at < incremental.size() && at < fresh.size() && incremental[at] == fresh[at]) ++at;
      auto from = at > 200 ? at - 200 : 0;
      std::cerr << "agora-master: the incremental /state differs from a fresh one at byte " << at
                << "\n  incremental: ..." << incremental.substr(from, 400) << "\n  fresh:       ..."
                << fresh.substr(from, 400) << std::endl;
      std::abort();
    }
  }
  publish_metrics_sample(self, snapshot);
  st.snapshots->set(std::move(snapshot));
}

operator_reply operator_error(int status, const std::string& message) {
  return {status, "{\"error\":" + observability::json_quote(message) +
                      ",\"status\":" + std::to_string(status) + "}"};
}

/// `POST /frameworks/ID/teardown`.
operator_reply operator_teardown_framework(master_ptr self, const operator_teardown& m) {
  auto& st = self->state;
  if (st.frameworks.count(m.framework_id) == 0)
    return operator_error(st.completed_frameworks.contains(m.framework_id) ? 409 : 404,
                          st.completed_frameworks.contains(m.framework_id)
                              ? "framework '" + m.framework_id + "' was removed already"
                              : "no framework '" + m.framework_id + "'");
  const auto& owner = st.frameworks[m.framework_id].info.principal;
  if (st.config.acls &&
      !st.config.acls->allowed(auth::acls::action::teardown_frameworks, m.principal, owner)) {
    log(self, "operator " + m.requested_by + " refused: " +
                  auth::denied(auth::acls::action::teardown_frameworks, m.principal, owner));
    return operator_error(
        403, auth::denied(auth::acls::action::teardown_frameworks, m.principal, owner));
  }
  size_t tasks = st.frameworks[m.framework_id].tasks.size();
  log(self, "operator " + m.requested_by + " tears down framework " + m.framework_id);
  remove_framework(self, m.framework_id, "torn down by operator " + m.requested_by);
  return {200, "{\"framework_id\":" + observability::json_quote(m.framework_id) +
                   ",\"removed\":true,\"tasks_killed\":" + std::to_string(tasks) + "}"};
}

/// `POST /frameworks/FID/tasks/TID/kill`: 202 once the kill is on its way
/// to the agent; the task's end arrives as its `TASK_KILLED` update.
operator_reply operator_kill_task(master_ptr self, const operator_kill& m) {
  auto& st = self->state;
  auto quoted = [&] {
    return "{\"framework_id\":" + observability::json_quote(m.framework_id) +
           ",\"task_id\":" + observability::json_quote(m.task_id);
  };
  auto t = st.tasks.find({m.framework_id, m.task_id});
  if (t == st.tasks.end()) {
    if (st.completed_index.count({m.framework_id, m.task_id}) != 0)
      return operator_error(
          409, "task '" + m.task_id + "' of framework '" + m.framework_id + "' has ended already");
    return operator_error(404, "no task '" + m.task_id + "' of framework '" + m.framework_id + "'");
  }
  if (st.config.acls) {
    auto fw = st.frameworks.find(m.framework_id);
    std::string owner = fw == st.frameworks.end() ? std::string{} : fw->second.info.principal;
    if (!st.config.acls->allowed(auth::acls::action::kill_tasks, m.principal, owner)) {
      log(self, "operator " + m.requested_by + " refused: " +
                    auth::denied(auth::acls::action::kill_tasks, m.principal, owner));
      return operator_error(403, auth::denied(auth::acls::action::kill_tasks, m.principal, owner));
    }
  }
  if (is_terminal(t->second.status.state) || t->second.released)
    return operator_error(409, "task '" + m.task_id + "' has ended already (" +
                                   protocol::to_string(t->second.status.state) + ")");
  auto ag = st.agents.find(t->second.agent_id);
  if (ag == st.agents.end() || ag->second.health != agent_health::active || !ag->second.handle)
    return operator_error(409, "task '" + m.task_id + "' runs on agent '" + t->second.agent_id +
                                   "', which is not connected; it cannot be killed now");
  log(self, "operator " + m.requested_by + " kills task " + m.task_id + " of framework " +
                m.framework_id);
  to_agent(self, ag->second.handle, kill_task{m.framework_id, m.task_id, t->second.agent_id, -1});
  return {202, quoted() + ",\"agent_id\":" + observability::json_quote(t->second.agent_id) +
                   ",\"state\":" +
                   observability::json_quote(protocol::to_string(t->second.status.state)) +
                   ",\"killing\":true}"};
}

/// Starts leading: the allocator (running `restored`, the registry's
/// policy, when given), the timers, the handlers of a leader.
void start_leading(master_ptr self, std::shared_ptr<const policy_revision> restored = nullptr) {
  auto& st = self->state;
  st.leading = true;
  allocator_config acfg;
  acfg.interval = st.config.allocation_interval;
  acfg.weights = st.config.weights;
  acfg.policy = st.config.policy;
  acfg.policy_source = st.config.policy_source;
  acfg.policy_text = st.config.policy_text;
  acfg.policy_schema_text = st.config.policy_schema_text;
  acfg.restored = std::move(restored);
  acfg.control = st.config.control;
  acfg.metrics = st.config.metrics;
  st.allocator = spawn_allocator(self->system(), acfg, self);
  if (st.config.control) st.config.control->set_allocator(st.allocator);
  self->link_to(st.allocator);
  self->delayed_send(self, st.config.framework_heartbeat_interval, tick_atom::value);
  self->delayed_send(self, st.config.agent_ping_timeout, ping_sweep{});
  // Publish at once: /state must show the leader as soon as it leads.
  st.snapshots->set(st.view->rebuild(st));
  st.changes = {};

  self->set_down_handler([self](const caf::down_msg& dm) {
    // An agent's connection dropped: stop offering it; pings decide whether
    // it becomes unreachable (it may come back and re-register).
    auto& st = self->state;
    forget_peer(self, dm.source);
    auto by = st.agent_by_actor.find(dm.source);
    if (by == st.agent_by_actor.end()) return;
    auto id = by->second;
    st.agent_by_actor.erase(by);
    auto a = st.agents.find(id);
    if (a == st.agents.end() || a->second.health != agent_health::active) return;
    log(self, "lost connection to agent " + id);
    a->second.health = agent_health::disconnected;
    st.changed_agent(id);
    auto offers = a->second.offers;
    for (const auto& o : offers) remove_offer(self, o, true);
    self->send(st.allocator, alloc_agent_active{id, false});
    mark_dirty(self);
  });
  self->set_default_handler(
      [self](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        ++self->state.invalid_requests;
        log(self, "dropped unexpected message " + caf::to_string(x.copy_content_to_message()));
        return caf::sec::unexpected_message;
      });
}

caf::behavior master_behavior(master_ptr self, master_config cfg,
                              std::shared_ptr<snapshot_store> snapshots) {
  auto& st = self->state;
  st.config = std::move(cfg);
  st.snapshots = std::move(snapshots);
  st.master_id = random_hex(8);
  st.start_time_ns = now_ns();
  const char* verify = std::getenv("AGORA_VERIFY_STATE_VIEW");
  st.verify_view = verify != nullptr && std::string(verify) == "1";
  // CAF lets any peer send an actor an exit message: only this process's
  // own (the linked allocator ending, a local shutdown) may end the master.
  protocol::ignore_remote_exits(self, [self] {
    ++self->state.invalid_requests;
    log(self, "exit message from a remote peer ignored");
  });
  if (!st.config.standby) {
    start_leading(self);
    return leading_behavior(self);
  }
  st.snapshots->set(st.view->rebuild(st));
  // A standby answers every request with `not_leader` until it is elected.
  self->set_default_handler(
      [self](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        if (self->current_message_id().is_request())
          return make_error(errc::not_leader, "this master is not the leader");
        return caf::message{};
      });
  return {
      [self](become_leader& m) -> caf::result<int64_t> {
        // Only the runtime that spawned this master elects it.
        if (m.token != self->state.config.election_token)
          return make_error(errc::not_leader, "not elected by this master's runtime");
        recover_registry(self, m);
        start_leading(self, m.policy);
        self->become(leading_behavior(self));
        return m.epoch;  // leading now: the runtime may say so over HTTP
      },
      [self](state_atom) -> std::string { return render_state_json(self->state); },
  };
}

caf::behavior leading_behavior(master_ptr self) {
  return {
      // -- agents ------------------------------------------------------------------
      [self](register_agent& m) -> caf::result<agent_registered> {
        m.info.id.clear();  // a first registration never chooses its id
        return admit_agent(self, std::move(m.info), std::vector<running_task>{});
      },
      [self](reregister_agent& m) -> caf::result<agent_registered> {
        return admit_agent(self, std::move(m.info), m.running);
      },
      [self](status_update& m) {
        auto& st = self->state;
        auto& s = m.status;
        ++st.status_updates;
        auto ag = st.agents.find(s.agent_id);
        if (ag == st.agents.end() || !from(self, ag->second.handle)) {
          foreign_message(self, "status update of task " + s.task_id + " for agent '" + s.agent_id +
                                    "' (not that agent)");
          return;
        }
        auto key = std::make_pair(s.framework_id, s.task_id);
        if (auto t = st.tasks.find(key); t != st.tasks.end() && t->second.agent_id != s.agent_id) {
          // An agent speaks only for the tasks the master placed on it.
          foreign_message(self, "status update of task " + s.task_id + " of framework " +
                                    s.framework_id + " from agent " + s.agent_id +
                                    " (the task runs on agent " + t->second.agent_id + ")");
          return;
        }
        bool unknown = st.tasks.count(key) == 0 && st.completed_index.count(key) == 0;
        // A task this master does not know is not running on the agent (a
        // registered agent reported its running tasks): a non-terminal
        // update of it is a late retry from before an election, overtaken
        // by the task's end.
        if (is_stale(st, s) || (unknown && !is_terminal(s.state))) {
          // A late retry overtaken by a newer update: the framework must not
          // see the task go back; acknowledge it so that the agent stops.
          ++st.stale_status_updates;
          if (!s.uuid.empty())
            to_agent(self, ag->second.handle,
                     acknowledge{s.framework_id, s.agent_id, s.task_id, s.uuid});
          return;
        }
        if (unknown) {
          // The end of a task that ended before this master led: relayed
          // once, and remembered, so older updates of it are not.
          task_record ended;
          ended.info.id = s.task_id;
          ended.framework_id = s.framework_id;
          ended.agent_id = s.agent_id;
          ended.set_status(s);
          add_completed(st, std::move(ended));
        }
        if (st.frameworks.count(s.framework_id) == 0 && !s.uuid.empty()) {
          // Nobody will acknowledge it: do it here so the agent stops retrying.
          to_agent(self, ag->second.handle,
                   acknowledge{s.framework_id, s.agent_id, s.task_id, s.uuid});
          auto t = st.tasks.find({s.framework_id, s.task_id});
          if (t != st.tasks.end()) {
            t->second.set_status(s);
            st.changed_task(s.framework_id, s.task_id);
            if (is_terminal(s.state)) complete_task(self, t);
          }
          return;
        }
        apply_status(self, s);
        release_ended_task(self, m);
      },
      [self](ping_sweep) {
        if (from_self(self)) ping_agents(self);
      },
      [self](pong_atom) { on_pong(self); },
      // -- authentication ----------------------------------------------------------
      [self](auth_start& m) -> caf::result<auth_challenge> { return handle_auth_start(self, m); },
      [self](auth_proof& m) -> caf::result<auth_done> { return handle_auth_proof(self, m); },
      // -- frameworks --------------------------------------------------------------
      [self](subscribe& m) -> caf::result<subscribed> { return handle_subscribe(self, m); },
      [self](accept& m) { handle_accept(self, m); },
      [self](decline& m) {
        if (!requester(self, m.framework_id, "decline")) return;
        for (const auto& id : m.offer_ids) {
          auto o = self->state.offers.find(id);
          if (o == self->state.offers.end() || o->second.offer.framework_id != m.framework_id)
            continue;
          ++self->state.offers_declined;
          remove_offer(self, id, false, std::max<int64_t>(0, m.filter.refuse_ms));
        }
      },
      [self](revive& m) {
        if (requester(self, m.framework_id, "revive")) self->send(self->state.allocator, m);
      },
      [self](suppress& m) {
        if (requester(self, m.framework_id, "suppress")) self->send(self->state.allocator, m);
      },
      [self](kill_task& m) {
        auto* fw = requester(self, m.framework_id, "kill");
        if (!fw) return;
        auto& st = self->state;
        auto t = st.tasks.find({m.framework_id, m.task_id});
        if (t == st.tasks.end()) {
          // Unknown while agents are still re-registering: it may be on one
          // of them; the framework retries.
          if (!st.recovering_agents.empty()) return;
          if (st.completed_index.count({m.framework_id, m.task_id}) == 0)
            to_framework(self, m.framework_id,
                         status_update{declare_unknown_lost(self, m.framework_id, m.task_id)});
          return;
        }
        auto ag = st.agents.find(t->second.agent_id);
        if (ag == st.agents.end() || ag->second.health == agent_health::unreachable) return;
        m.agent_id = t->second.agent_id;
        to_agent(self, ag->second.handle, m);
      },
      [self](acknowledge& m) {
        if (!requester(self, m.framework_id, "acknowledge")) return;
        auto ag = self->state.agents.find(m.agent_id);
        if (ag != self->state.agents.end()) to_agent(self, ag->second.handle, m);
      },
      [self](reconcile& m) {
        auto* fw = requester(self, m.framework_id, "reconcile");
        if (!fw) return;
        auto& st = self->state;
        auto report = [&](const std::string& task_id) {
          auto t = st.tasks.find({m.framework_id, task_id});
          task_status s;
          if (t != st.tasks.end()) {
            s = t->second.status;
          } else {
            auto c = std::find_if(st.completed_tasks.rbegin(), st.completed_tasks.rend(),
                                  [&](const task_record& r) {
                                    return r.framework_id == m.framework_id && r.info.id == task_id;
                                  });
            if (c == st.completed_tasks.rend() && !st.recovering_agents.empty())
              return;  // it may be on an agent that has not re-registered yet
            s = c != st.completed_tasks.rend()
                    ? c->status
                    : declare_unknown_lost(self, m.framework_id, task_id);
          }
          s.uuid.clear();  // reconciliation answers need no acknowledgement
          s.reason = s.reason.empty() ? "REASON_RECONCILIATION" : s.reason;
          to_framework(self, m.framework_id, status_update{s});
        };
        if (m.task_ids.empty()) {
          auto ids = fw->tasks;
          for (const auto& id : ids) report(id);
        } else {
          for (const auto& id : m.task_ids) report(id);
        }
      },
      [self](teardown& m) {
        if (requester(self, m.framework_id, "teardown"))
          remove_framework(self, m.framework_id, "teardown requested");
      },
      [self](framework_disconnected& m) {
        auto& st = self->state;
        auto it = st.frameworks.find(m.framework_id);
        // Only the framework's proxy reports, and only about the instance
        // subscribed now: a late report about a replaced instance is void.
        if (it == st.frameworks.end() || !from(self, it->second.proxy) || !it->second.scheduler ||
            it->second.scheduler.address() != m.scheduler)
          return;
        it->second.scheduler = nullptr;
        log(self, "framework " + m.framework_id + " disconnected; failover timeout " +
                      std::to_string(it->second.info.failover_timeout_ms) + "ms");
        it->second.connected = false;
        it->second.disconnected_at_ns = now_ns();
        st.changed_framework(m.framework_id);
        auto offers = it->second.offers;
        for (const auto& o : offers) remove_offer(self, o, false);
        self->send(st.allocator, alloc_framework_active{m.framework_id, false});
        mark_dirty(self);
      },
      [self](framework_failover_expired& m) {
        auto it = self->state.frameworks.find(m.framework_id);
        if (it != self->state.frameworks.end() && from(self, it->second.proxy) &&
            !it->second.connected)
          remove_framework(self, m.framework_id, "failover timeout expired");
      },
      // -- allocation ----------------------------------------------------------------
      [self](alloc_offers& m) {
        if (from(self, self->state.allocator)) make_offers(self, m);
      },
      [self](registry_set_policy& m) {
        // The allocator changed the active policy: persist it for the next
        // leader.
        if (from(self, self->state.allocator)) to_registry(self, std::move(m));
      },
      [self](offer_expired& m) {
        if (from_self(self)) remove_offer(self, m.offer_id, true);
      },
      [self](tick_atom) {
        auto& st = self->state;
        if (!from_self(self)) return;
        for (auto& [id, fw] : st.frameworks)
          if (fw.connected) self->send(fw.proxy, stamped(self, heartbeat{now_ns()}));
        self->delayed_send(self, st.config.framework_heartbeat_interval, tick_atom::value);
      },
      [self](publish_state) {
        if (!from_self(self)) return;
        self->state.publish_pending = false;
        publish_snapshot(self);
      },
      [self](state_atom) -> std::string { return render_state_json(self->state); },
      // -- operators (the HTTP endpoints of this process only) -----------------------
      [self](operator_teardown& m) -> operator_reply {
        if (!from_local(self)) return operator_error(403, "operator requests are local only");
        if (!may_act(self, "operator teardown"))
          return operator_error(503, "this master's leadership lease has lapsed");
        return operator_teardown_framework(self, m);
      },
      [self](operator_kill& m) -> operator_reply {
        if (!from_local(self)) return operator_error(403, "operator requests are local only");
        if (!may_act(self, "operator kill"))
          return operator_error(503, "this master's leadership lease has lapsed");
        return operator_kill_task(self, m);
      },
      [self](reregistration_deadline) {
        if (from_self(self)) reregistration_deadline_passed(self);
      },
  };
}

}  // namespace

caf::actor spawn_master(caf::actor_system& sys, const master_config& cfg,
                        std::shared_ptr<snapshot_store> snapshots) {
  return sys.spawn(
      [cfg, snapshots](master_ptr self) { return master_behavior(self, cfg, snapshots); });
}

}  // namespace agora::master
