#include "agora/master/detail/master_ops.hpp"

#include <algorithm>
#include <set>

namespace agora::master::detail {

using namespace protocol;

void complete_task(master_ptr self,
                   std::map<std::pair<std::string, std::string>, task_record>::iterator it) {
  auto& st = self->state;
  task_record& t = it->second;
  ++st.tasks_ended[protocol::to_string(t.status.state)];
  if (!t.released) recover(self, t.framework_id, t.role, t.agent_id, t.info.res);
  if (st.config.trace && t.launched_ms >= 0)
    st.config.trace->task_ended(t.framework_id, t.info.res, t.launched_ms);
  if (t.launched_ns > 0)
    self->send(st.allocator, alloc_task_event{"finish", t.framework_id, t.role, t.agent_id,
                                              t.info.res, (now_ns() - t.launched_ns) / 1000000});
  if (auto ag = st.agents.find(t.agent_id); ag != st.agents.end())
    ag->second.tasks.erase(it->first);
  if (auto fw = st.frameworks.find(t.framework_id); fw != st.frameworks.end())
    fw->second.tasks.erase(t.info.id);
  st.changed_task(it->first.first, it->first.second);
  add_completed(st, std::move(t));
  st.tasks.erase(it);
  mark_dirty(self);
}

void release_ended_task(master_ptr self, const status_update& m) {
  auto& st = self->state;
  if (!is_terminal(m.latest_state)) return;
  auto it = st.tasks.find({m.status.framework_id, m.status.task_id});
  if (it == st.tasks.end() || it->second.released || it->second.agent_id != m.status.agent_id)
    return;
  it->second.released = true;
  st.changed_task(it->first.first, it->first.second);
  recover(self, it->second.framework_id, it->second.role, it->second.agent_id, it->second.info.res);
  mark_dirty(self);
}

void add_completed(master_state& st, task_record t) {
  st.completed_index[{t.framework_id, t.info.id}] = t.status.uuid;
  st.completed_tasks.push_back(std::move(t));
  while (st.completed_tasks.size() > st.config.max_completed_tasks) {
    const auto& old = st.completed_tasks.front();
    auto key = std::make_pair(old.framework_id, old.info.id);
    if (auto c = st.completed_index.find(key);
        c != st.completed_index.end() && c->second == old.status.uuid)
      st.completed_index.erase(c);
    st.completed_tasks.pop_front();
  }
}

task_status declare_unknown_lost(master_ptr self, const std::string& framework_id,
                                 const std::string& task_id) {
  auto s = master_status(framework_id, task_id, "", task_state::lost, "REASON_RECONCILIATION",
                         "unknown task");
  // Remembered like a task that ended: if an agent reports it later, it is
  // killed, and its updates are not forwarded (the framework was told LOST).
  task_record rec;
  rec.info.id = task_id;
  rec.framework_id = framework_id;
  rec.set_status(s);
  add_completed(self->state, std::move(rec));
  return s;
}

/// Returns true if `status` is older than what the master knows of its
/// task: a late retry of an update that a later one has overtaken. A retry
/// of the latest update (same uuid) is not stale: the framework has not
/// acknowledged it yet.
bool is_stale(const master_state& st, const task_status& status) {
  auto key = std::make_pair(status.framework_id, status.task_id);
  if (auto it = st.tasks.find(key); it != st.tasks.end()) {
    const auto& known = it->second.status;
    if (is_valid_transition(known.state, status.state)) return false;
    return status.uuid.empty() || status.uuid != known.uuid;
  }
  auto c = st.completed_index.find(key);
  return c != st.completed_index.end() && (status.uuid.empty() || c->second != status.uuid);
}

/// Applies a status to the master's task record and relays it to the
/// framework. Terminal states free the task's resources. Callers drop stale
/// updates first (`is_stale`).
void apply_status(master_ptr self, const task_status& status) {
  auto& st = self->state;
  auto key = std::make_pair(status.framework_id, status.task_id);
  auto it = st.tasks.find(key);
  if (it != st.tasks.end()) {
    const auto& known = it->second.status;
    if (is_valid_transition(known.state, status.state)) {
      it->second.set_status(status);
      st.changed_task(key.first, key.second);
      if (is_terminal(status.state)) complete_task(self, it);
      mark_dirty(self);
    } else if (is_terminal(known.state) && status.uuid != known.uuid) {
      // Another state after the task's end (e.g. the master's TASK_LOST for
      // a task whose agent reported it finished) would contradict what the
      // framework was told; only retries of the terminal update go on.
      return;
    }
  }
  to_framework(self, status.framework_id, status_update{status});
}

/// Creates offers from one allocation cycle's decisions and sends them.
void make_offers(master_ptr self, alloc_offers& result) {
  auto& st = self->state;
  st.roles = std::move(result.roles);
  st.policy = std::move(result.policy);
  st.last_cycle_ns = result.cycle_ns;
  if (!result.decisions.empty() && !may_act(self, "offers")) {
    // Back to the pool, filtered for an allocation interval so that the
    // allocator does not spin on them while the lease is lapsed.
    for (auto& d : result.decisions)
      recover(self, d.framework_id, d.role, d.agent_id, d.res,
              std::max<int64_t>(st.config.allocation_interval.count(), 100));
    return;
  }
  std::map<std::string, offers_msg> batches;
  for (auto& d : result.decisions) {
    auto ag = st.agents.find(d.agent_id);
    auto fw = st.frameworks.find(d.framework_id);
    // A decision that cannot become an offer (the agent or the framework
    // went away while the cycle ran) gives its resources back at once, so
    // the allocator's accounting stays exact.
    if (ag == st.agents.end() || ag->second.health == agent_health::unreachable ||
        fw == st.frameworks.end() || !fw->second.connected) {
      recover(self, d.framework_id, d.role, d.agent_id, d.res);
      continue;
    }
    offer o;
    o.id = st.master_id + "-O" + std::to_string(st.next_offer++);
    o.framework_id = d.framework_id;
    o.agent_id = d.agent_id;
    o.hostname = ag->second.info.hostname;
    o.role = d.role;
    o.res = d.res;
    o.attributes = ag->second.info.attributes;
    ag->second.offers.insert(o.id);
    fw->second.offers.insert(o.id);
    st.offers[o.id] = offer_record{o, now_ns()};
    st.changed_offer(o.id);
    ++st.offers_made;
    if (st.config.offer_timeout.count() > 0)
      self->delayed_send(self, st.config.offer_timeout, offer_expired{o.id});
    batches[d.framework_id].offers.push_back(std::move(o));
  }
  for (auto& [framework_id, batch] : batches) to_framework(self, framework_id, std::move(batch));
  mark_dirty(self);
}

/// Returns an error message if `t` is not a valid task description.
std::string validate_task(const master_state& st, const std::string& framework_id,
                          const task_info& t, const std::set<std::string>& ids_in_request) {
  if (t.id.empty()) return "task id is empty";
  if (t.id.size() > 256) return "task id is longer than 256 characters";
  if (t.command.empty()) return "task '" + t.id + "' has no command";
  if (st.tasks.count({framework_id, t.id}) != 0 || ids_in_request.count(t.id) != 0)
    return "task id '" + t.id + "' is already in use";
  if (!t.res.non_negative()) return "task '" + t.id + "' has negative resources";
  if (auto why = t.res.limit_error(); !why.empty()) return "task '" + t.id + "' asks for " + why;
  if (t.res.cpus_milli <= 0 && t.res.mem_bytes <= 0)
    return "task '" + t.id + "' uses no cpus and no mem";
  if (t.kill_grace_ms < -1 || t.kill_grace_ms > max_kill_grace_ms)
    return "task '" + t.id + "' has a kill grace period outside 0 to " +
           std::to_string(max_kill_grace_ms) + " ms";
  return {};
}

void handle_accept(master_ptr self, accept& m) {
  auto& st = self->state;
  auto fw = st.frameworks.find(m.framework_id);
  auto drop_all = [&](task_state state, const std::string& reason, const std::string& why) {
    ++st.invalid_requests;
    for (const auto& t : m.launch)
      to_framework(self, m.framework_id,
                   status_update{master_status(m.framework_id, t.id, "", state, reason, why)});
  };
  if (!requester(self, m.framework_id, "accept")) return;
  // Without a valid lease nothing is launched (the offers stay outstanding
  // until this master learns whether it still leads).
  if (!may_act(self, "launches")) return;
  // Validate the offers: all known, this framework's, on one agent.
  std::string problem;
  std::string agent_id;
  std::string role;
  resources offered;
  std::vector<std::string> valid;
  if (m.offer_ids.empty()) problem = "no offers given";
  for (const auto& id : m.offer_ids) {
    auto o = st.offers.find(id);
    if (o == st.offers.end()) {
      problem = "offer " + id + " is unknown, expired or already used";
      continue;
    }
    if (o->second.offer.framework_id != m.framework_id) {
      problem = "offer " + id + " belongs to another framework";
      continue;
    }
    if (!agent_id.empty() && o->second.offer.agent_id != agent_id)
      problem = "offers span several agents";
    // Every task is charged to one role: offers of several roles cannot mix.
    if (!role.empty() && o->second.offer.role != role) problem = "offers span several roles";
    agent_id = o->second.offer.agent_id;
    role = o->second.offer.role;
    offered += o->second.offer.res;
    valid.push_back(id);
  }
  if (!problem.empty()) {
    for (const auto& id : valid) remove_offer(self, id, false);
    drop_all(task_state::dropped, "REASON_INVALID_OFFERS", problem);
    return;
  }
  for (const auto& id : valid) remove_offer(self, id, false, 0, false);
  auto ag = st.agents.find(agent_id);
  if (ag == st.agents.end() || ag->second.health != agent_health::active) {
    recover(self, m.framework_id, role, agent_id, offered);
    drop_all(task_state::dropped, "REASON_AGENT_REMOVED", "agent " + agent_id + " is gone");
    return;
  }
  resources remaining = offered;
  std::set<std::string> ids;
  for (auto& t : m.launch) {
    std::string why = validate_task(st, m.framework_id, t, ids);
    if (why.empty() && !remaining.contains(t.res))
      why = "task '" + t.id + "' needs " + t.res.to_string() + " but only " +
            remaining.to_string() + " remain in the offers";
    if (!why.empty()) {
      ++st.invalid_requests;
      to_framework(self, m.framework_id,
                   status_update{master_status(m.framework_id, t.id, agent_id, task_state::error,
                                               "REASON_TASK_INVALID", why)});
      continue;
    }
    ids.insert(t.id);
    remaining -= t.res;
    task_record rec;
    rec.info = t;
    rec.framework_id = m.framework_id;
    rec.agent_id = agent_id;
    rec.role = role;
    rec.set_status(master_status(m.framework_id, t.id, agent_id, task_state::staging, "", ""));
    if (st.config.trace) rec.launched_ms = st.config.trace->now_ms();
    rec.launched_ns = now_ns();
    self->send(st.allocator, alloc_task_event{"launch", m.framework_id, role, agent_id, t.res, 0});
    auto key = std::make_pair(m.framework_id, t.id);
    st.tasks.emplace(key, std::move(rec));
    st.changed_task(m.framework_id, t.id);
    ag->second.tasks.insert(key);
    fw->second.tasks.insert(t.id);
    ++st.tasks_launched;
    to_agent(self, ag->second.handle, run_task{fw->second.info, t, role});
  }
  if (!remaining.empty())
    recover(self, m.framework_id, role, agent_id, remaining, m.filter.refuse_ms);
  mark_dirty(self);
}

}  // namespace agora::master::detail
