#include "agora/agent/agent_actor.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <utility>

#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "agora/agent/agent_state.hpp"
#include "agora/agent/sandbox_files.hpp"
#include "agora/auth/handshake.hpp"
#include "agora/auth/http_auth.hpp"
#include "agora/observability/http_server.hpp"
#include "agora/observability/json.hpp"
#include "agora/observability/metrics.hpp"
#include "agora/observability/process_metrics.hpp"
#include "agora/protocol/errors.hpp"
#include "agora/protocol/exits.hpp"
#include "agora/protocol/transport.hpp"

namespace agora::agent {

using namespace protocol;

namespace {

// The agent's own verbs, sent to itself with the connection generation.
using reconnect_atom = caf::atom_constant<caf::atom("areconnect")>;
using reregister_atom = caf::atom_constant<caf::atom("aregister")>;
using watchdog_atom = caf::atom_constant<caf::atom("awatchdog")>;
using gc_atom = caf::atom_constant<caf::atom("agc")>;
using publish_atom = caf::atom_constant<caf::atom("apublish")>;

using agent_actor_type = caf::stateful_actor<agent_state>;
using agent_ptr = agent_actor_type*;

void log_line(const agent_config& cfg, const std::string& line) {
  if (cfg.log) {
    cfg.log(line);
  } else {
    // One `fprintf` per line, so lines of several agents do not interleave.
    std::fprintf(stderr, "agora-agent: %s\n", line.c_str());
  }
}

void log(agent_ptr self, const std::string& line) {
  auto& st = self->state;
  log_line(st.config, st.agent_id.empty() ? line : "[" + st.agent_id + "] " + line);
}

// Returns the configured hostname, else `gethostname()`.
std::string hostname_of(const agent_config& cfg) {
  if (!cfg.hostname.empty()) return cfg.hostname;
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] != 0) return buf;
  return "localhost";
}

void publish_snapshot(agent_ptr self) {
  auto& st = self->state;
  st.snapshot->publish(st.to_json());
  st.metrics->publish(st.sample());
  if (st.config.acls) {
    // Whose sandboxes these are, for `access_sandboxes` on HTTP threads.
    std::map<std::string, std::string> principals;
    for (const auto& [key, rec] : st.tasks) principals[key.first] = rec.framework.principal;
    for (const auto& rec : st.completed) principals[rec.framework.id] = rec.framework.principal;
    st.snapshot->publish_principals(std::move(principals));
  }
}

/// Publishes a snapshot within 100 ms, once for any number of calls: for
/// changes a peer can cause as often as it likes (refused commands), so
/// that it cannot make the agent render its state per message.
void publish_soon(agent_ptr self) {
  auto& st = self->state;
  if (st.publish_pending) return;
  st.publish_pending = true;
  self->delayed_send(self, std::chrono::milliseconds{100}, publish_atom::value);
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// -- status updates -------------------------------------------------------------

void send_update(agent_ptr self, task_status s) {
  auto& st = self->state;
  if (!st.registered || !st.master) return;  // re-sent after (re)registration
  s.agent_id = st.agent_id;
  status_update m{std::move(s)};
  // Newer updates of the task may wait behind this one for its
  // acknowledgement: the master accounts the task by the newest.
  if (auto latest = st.updates.latest_state(m.status.framework_id, m.status.task_id))
    m.latest_state = *latest;
  self->send(st.master, std::move(m));
}

// Arms the retry timer for the earliest retry the status-update manager
// wants, unless one is armed for that time or earlier.
void arm_retry(agent_ptr self) {
  auto& st = self->state;
  auto due = st.updates.next_due();
  if (!due || (st.retry_at && *st.retry_at <= *due)) return;
  st.retry_at = *due;
  auto delay = std::max(std::chrono::steady_clock::duration::zero(),
                        *due - std::chrono::steady_clock::now());
  self->delayed_send(
      self,
      std::chrono::duration_cast<std::chrono::milliseconds>(delay) + std::chrono::milliseconds{1},
      retry_atom::value, due->time_since_epoch().count());
}

// Writes the checkpoint of task `key` (its record and its unacknowledged
// updates), or removes it once the task is terminal and every update of it
// was acknowledged.
void write_checkpoint(agent_ptr self, const std::pair<std::string, std::string>& key) {
  auto& st = self->state;
  if (!st.store) return;
  task_checkpoint c;
  c.pending = st.updates.queued_updates(key.first, key.second);
  const task_record* rec = nullptr;
  if (auto it = st.tasks.find(key); it != st.tasks.end()) {
    rec = &it->second;
  } else {
    if (c.pending.empty()) {
      st.store->remove(key.first, key.second);
      return;
    }
    for (auto it = st.completed.rbegin(); it != st.completed.rend() && !rec; ++it)
      if (it->framework.id == key.first && it->info.id == key.second) rec = &*it;
  }
  if (rec) {
    c.framework = rec->framework;
    c.info = rec->info;
    c.role = rec->role;
    c.status = rec->status;
    c.pid = rec->pid;
    c.start_time = rec->start_time;
    c.sandbox = rec->sandbox;
    c.container_id = rec->container_id;
    c.kill_requested = rec->kill_requested;
  } else {
    // A terminal task no longer in `completed`, or an update about a task
    // this agent never ran: only its updates matter.
    c.framework.id = key.first;
    c.info.id = key.second;
    c.status = c.pending.back();
  }
  c.terminal = st.tasks.count(key) == 0 || is_terminal(c.status.state);
  std::string error;
  if (!st.store->save(c, error)) {
    ++st.checkpoint_errors;
    log(self, "cannot checkpoint task " + key.second + ": " + error);
  }
}

// Makes what happened durable, then tells the master: writes the
// checkpoints of the tasks that changed, publishes the state (so `/state`
// is never behind what the master saw), and sends the updates that became
// the heads of their streams.
void flush(agent_ptr self) {
  auto& st = self->state;
  for (const auto& key : st.dirty) {
    write_checkpoint(self, key);
    st.task_json.erase(key);
  }
  st.dirty.clear();
  publish_snapshot(self);
  auto out = std::move(st.outbox);
  st.outbox.clear();
  for (auto& s : out) send_update(self, std::move(s));
  arm_retry(self);
}

// Defers `flush` to the end of a scope that changes several tasks or
// records several updates, so each task is checkpointed once.
class batch {
 public:
  explicit batch(agent_ptr self) : self_(self) { ++self_->state.batch_depth; }
  ~batch() {
    if (--self_->state.batch_depth == 0) flush(self_);
  }
  batch(const batch&) = delete;
  batch& operator=(const batch&) = delete;

 private:
  agent_ptr self_;
};

// Queues a freshly recorded update in its task's stream (it goes out when
// no older update of the task waits for its acknowledgement) and flushes,
// unless in a `batch`.
void emit(agent_ptr self, const task_status& s) {
  auto& st = self->state;
  if (st.updates.add(s, std::chrono::steady_clock::now())) st.outbox.push_back(s);
  st.dirty.emplace(s.framework_id, s.task_id);
  if (st.batch_depth == 0) flush(self);
}

void emit(agent_ptr self, task_record& rec, task_state state, std::string reason,
          std::string message, int32_t exit_code = -1) {
  if (is_terminal(state)) self->state.metrics->task_ended(protocol::to_string(state));
  emit(self,
       self->state.record_update(rec, state, std::move(reason), std::move(message), exit_code));
}

// Writes the agent's own checkpoint (its id and the epoch it follows).
void checkpoint_agent(agent_ptr self) {
  auto& st = self->state;
  if (!st.store || st.agent_id.empty()) return;
  std::string error;
  if (!st.store->save(agent_checkpoint{st.agent_id, st.master_address, st.master_epoch, st.boot_id},
                      error)) {
    ++st.checkpoint_errors;
    log(self, "cannot checkpoint the agent: " + error);
  }
}

void finish_stop_if_done(agent_ptr self) {
  auto& st = self->state;
  if (!st.stopping || !st.tasks.empty()) return;
  for (auto& rp : st.stop_promises) rp.deliver(stop_atom::value);
  st.stop_promises.clear();
  self->quit();
}

// -- the master connection --------------------------------------------------------

std::chrono::milliseconds next_backoff(agent_ptr self) {
  auto& st = self->state;
  st.backoff = st.backoff.count() == 0 ? st.config.backoff_min
                                       : std::min(st.backoff * 2, st.config.backoff_max);
  return st.backoff;
}

void retry_connect(agent_ptr self, const std::string& why) {
  auto delay = next_backoff(self);
  log(self, "cannot reach master " + self->state.master_address + ": " + why + "; retrying in " +
                ms_text(delay));
  self->delayed_send(self, delay, reconnect_atom::value, self->state.generation);
}

// How often the agent checks that the master still pings (at least 50 ms).
std::chrono::milliseconds watchdog_period(const agent_state& st) {
  return std::max(st.ping_interval, std::chrono::milliseconds{50});
}

void do_register(agent_ptr self) {
  auto& st = self->state;
  auto gen = st.generation;
  auto on_ok = [self, gen](agent_registered& r) {
    auto& st = self->state;
    if (gen != st.generation) return;  // a reply over an old connection
    if (r.epoch >= 0 && r.epoch < st.master_epoch) {
      auto delay = next_backoff(self);
      log(self, "registered by a master of epoch " + std::to_string(r.epoch) +
                    ", older than the leader's " + std::to_string(st.master_epoch) +
                    "; registering again in " + ms_text(delay));
      self->delayed_send(self, delay, reregister_atom::value, gen);
      return;
    }
    if (r.agent_id.empty()) {
      auto delay = next_backoff(self);
      log(self, "master replied with an empty agent id; retrying in " + ms_text(delay));
      self->delayed_send(self, delay, reregister_atom::value, gen);
      return;
    }
    st.master_epoch = std::max(st.master_epoch, r.epoch);
    bool again = !st.agent_id.empty();
    if (again && st.agent_id != r.agent_id)
      log(self, "master changed the agent id from " + st.agent_id + " to " + r.agent_id);
    st.agent_id = r.agent_id;
    checkpoint_agent(self);
    st.registered = true;
    st.backoff = std::chrono::milliseconds{0};
    st.ping_interval = std::chrono::milliseconds{std::max<int64_t>(0, r.ping_interval_ms)};
    st.last_ping = std::chrono::steady_clock::now();
    if (st.ping_interval.count() > 0 && st.config.max_missed_pings > 0)
      self->delayed_send(self, watchdog_period(st), watchdog_atom::value, gen);
    log(self, std::string(again ? "re-registered" : "registered") + " with master " +
                  st.master_address + " (ping interval " + std::to_string(r.ping_interval_ms) +
                  "ms)");
    // Publish first, so `/state` agrees with whatever `on_registered` prints.
    publish_snapshot(self);
    if (st.config.on_registered) st.config.on_registered(st.agent_id, st.master_address);
    // Unacknowledged updates go out again at once (each task's oldest), in
    // their original order.
    for (auto& s : st.updates.heads(std::chrono::steady_clock::now()))
      send_update(self, std::move(s));
    arm_retry(self);
  };
  auto on_error = [self, gen](caf::error& err) {
    auto& st = self->state;
    if (gen != st.generation) return;
    auto delay = next_backoff(self);
    log(self, "registration with master " + st.master_address +
                  " failed: " + self->system().render(err) + "; retrying in " + ms_text(delay));
    self->delayed_send(self, delay, reregister_atom::value, gen);
  };
  auto send = [self, on_ok, on_error] {
    auto& st = self->state;
    if (st.agent_id.empty()) {
      self->request(st.master, st.config.register_timeout, register_agent{st.info()})
          .then(on_ok, on_error);
    } else {
      reregister_agent m;
      m.info = st.info();
      m.tasks = st.running_statuses();
      m.running = st.running_tasks();
      self->request(st.master, st.config.register_timeout, std::move(m)).then(on_ok, on_error);
    }
  };
  if (st.config.secret.empty()) {
    send();
    return;
  }
  // Authenticate first (agora/auth/challenge.hpp): the master binds the
  // principal to this actor for as long as the connection lasts.
  auth::authenticate(
      self, st.master, st.config.register_timeout, st.config.principal, st.config.secret, "agent",
      [self, gen, send] {
        if (gen == self->state.generation && self->state.master) send();
      },
      on_error);
}

void connect(agent_ptr self) {
  auto& st = self->state;
  auto gen = ++st.generation;
  auto mm = protocol::connector(self->system());
  self->request(mm, st.config.register_timeout, caf::connect_atom::value, st.config.master_host,
                st.config.master_port)
      .then(
          [self, gen](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>&) {
            auto& st = self->state;
            if (gen != st.generation) return;
            if (!ptr) {
              retry_connect(self, "no actor published there");
              return;
            }
            st.master = caf::actor_cast<caf::actor>(ptr);
            self->monitor(st.master);
            do_register(self);
          },
          [self, gen](caf::error& err) {
            auto& st = self->state;
            if (gen != st.generation) return;
            retry_connect(self,
                          protocol::explain_connect_error(self->system(), st.config.master_host,
                                                          st.config.master_port, err)
                              .message);
          });
}

/// Returns an error (after counting and logging it) when the current
/// request comes from another process: only this process (its signal
/// handling, `agora local`, tests) may stop the agent, never a peer on the
/// actor port. Returns an empty error otherwise.
caf::error refuse_remote(agent_ptr self, const char* what) {
  const auto& sender = self->current_sender();
  if (sender && sender->node() == self->node()) return {};
  ++self->state.foreign_commands;
  publish_soon(self);
  log(self, std::string(what) + " from a remote peer refused");
  return make_error(errc::not_allowed, "only the agent's own process may stop it");
}

/// Returns true if the current message, stamped with leader epoch `epoch`,
/// comes from the master this agent is registered with, at an epoch no older
/// than the leader it follows; otherwise counts and logs it. Only that master
/// may give commands: not another peer, not a master that lost leadership.
bool from_master(agent_ptr self, const char* what, int64_t epoch) {
  auto& st = self->state;
  // By node and actor id: the master's handle may be a proxy of it.
  const auto& sender = self->current_sender();
  if (!st.master || !sender || sender->node() != st.master.node() ||
      sender->id() != st.master.id()) {
    ++st.foreign_commands;
    publish_soon(self);
    log(self, std::string(what) + " from an actor that is not the current master dropped");
    return false;
  }
  if (!protocol::from_epoch(epoch, st.master_epoch)) {
    ++st.stale_epoch_commands;
    publish_soon(self);
    log(self, std::string(what) + " of leader epoch " + std::to_string(epoch) +
                  " dropped: the leader followed is at epoch " + std::to_string(st.master_epoch));
    return false;
  }
  return true;
}

/// Follows a leader change: drops the connection to the old master and
/// connects to the new one (after a random pause of up to the configured
/// jitter, except for the first), re-registering under the same id.
void follow_leader(agent_ptr self, const discovery::master_changed& m) {
  auto& st = self->state;
  if (!m.known) {
    log(self, "no leading master known; waiting");
    return;
  }
  std::string address = m.leader.actor_host + ":" + std::to_string(m.leader.actor_port);
  if (address == st.master_address && st.master) return;
  if (m.leader.epoch >= 0 && m.leader.epoch < st.master_epoch) return;  // an older leader
  bool first = st.master_address.empty() && !st.master;
  if (st.master) {
    log(self, "leading master changed from " + st.master_address + " to " + address);
    self->demonitor(st.master);
    st.master = nullptr;
  }
  st.registered = false;
  auto gen = ++st.generation;
  st.config.master_host = m.leader.actor_host;
  st.config.master_port = m.leader.actor_port;
  st.master_address = address;
  st.master_epoch = m.leader.epoch;
  st.backoff = std::chrono::milliseconds{0};
  publish_snapshot(self);
  if (first || st.config.leader_change_jitter.count() <= 0) {
    connect(self);
    return;
  }
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto delay = std::chrono::milliseconds{
      static_cast<int64_t>(rng() % static_cast<uint64_t>(st.config.leader_change_jitter.count()))};
  self->delayed_send(self, delay, reconnect_atom::value, gen);
}

// -- tasks -----------------------------------------------------------------------

exit_callback make_exit_callback(agent_ptr self, const std::string& framework_id,
                                 const std::string& task_id) {
  // The reaper thread must not keep the agent alive, nor touch its state.
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  return [weak, framework_id, task_id](const exit_status& e) {
    if (auto strong = weak.lock())
      caf::anon_send(
          caf::actor_cast<caf::actor>(strong),
          task_exited{framework_id, task_id, static_cast<int32_t>(e.pid), e.signaled, e.code,
                      e.signal, e.kill_requested, e.limitation_reason, e.limitation_message});
  };
}

// Returns what the containerizer launches for a task (and, after an agent
// restart, what it re-attaches to: the same request).
launch_request make_launch_request(const agent_state& st, const framework_info& framework,
                                   const task_info& task) {
  const auto& framework_id = framework.id;
  launch_request req;
  req.framework_id = framework_id;
  req.switch_user = st.config.switch_user;
  if (st.config.switch_user) req.user = framework.user;
  req.task_id = task.id;
  req.command = task.command;
  req.environment = task.environment;
  req.limits.cpus_milli = task.res.cpus_milli;
  req.limits.mem_bytes = task.res.mem_bytes;
  req.limits.disk_bytes = task.res.disk_bytes;
  req.limits.max_pids = st.config.cgroups.max_pids;
  if (st.store) req.exit_file = st.store->exit_file(framework_id, task.id);
  return req;
}

void handle_run_task(agent_ptr self, run_task& m) {
  auto& st = self->state;
  auto key = std::make_pair(m.framework.id, m.task.id);
  if (st.tasks.count(key) != 0) {
    log(self, "run_task for task " + m.task.id + " of framework " + m.framework.id +
                  " which already runs; dropped");
    return;
  }
  // One checkpoint and one flush for STARTING and RUNNING together.
  batch b{self};
  task_record rec;
  rec.framework = m.framework;
  rec.info = m.task;
  rec.role = m.role;
  auto reject = [&](task_state state, std::string reason, std::string message) {
    log(self, "task " + m.task.id + " of framework " + m.framework.id + ": " + message);
    emit(self, rec, state, std::move(reason), std::move(message));
    st.complete(std::move(rec));
  };
  if (st.stopping)
    return reject(task_state::dropped, "REASON_AGENT_SHUTTING_DOWN", "the agent is shutting down");
  std::string err;
  if (!valid_path_component(m.framework.id, err))
    return reject(task_state::error, "REASON_TASK_INVALID", "framework " + err);
  if (!valid_path_component(m.task.id, err))
    return reject(task_state::error, "REASON_TASK_INVALID", "task " + err);
  if (m.task.command.empty())
    return reject(task_state::error, "REASON_TASK_INVALID", "the task has no command");
  auto free = st.config.resources - st.used();
  if (!free.contains(m.task.res))
    return reject(task_state::error, "REASON_TASK_INVALID",
                  "insufficient resources: the task needs " + m.task.res.to_string() +
                      ", the agent has " + free.to_string() + " free");
  // The shim records the task's exit status in the task's checkpoint
  // directory, which must exist first.
  if (st.store && !st.store->prepare(m.framework.id, m.task.id, err))
    return reject(task_state::failed, "REASON_CONTAINER_LAUNCH_FAILED",
                  "cannot create the task's checkpoint directory: " + err);
  // STARTING, then launch (returns once the shell runs), then RUNNING.
  auto started = std::chrono::steady_clock::now();
  auto& stored = st.tasks.emplace(key, std::move(rec)).first->second;
  emit(self, stored, task_state::starting, "", "");
  auto req = make_launch_request(st, m.framework, m.task);
  auto launched = st.containers->launch(req, make_exit_callback(self, m.framework.id, m.task.id));
  stored.sandbox = launched.sandbox;
  if (!launched.ok) {
    log(self, "task " + m.task.id + " of framework " + m.framework.id +
                  " failed to launch: " + launched.error);
    st.metrics->task_launched(m.role, -1);
    emit(self, stored, task_state::failed, "REASON_CONTAINER_LAUNCH_FAILED", launched.error);
    st.complete(st.tasks.find(key));
  } else {
    stored.pid = launched.pid;
    stored.start_time = launched.start_time;
    stored.container_id = st.containers->container_id(m.framework.id, m.task.id);
    emit(self, stored, task_state::running, "", "");
    st.metrics->task_launched(
        m.role, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
}

// Records a task's end: its terminal update, its sandbox for GC, its move
// to `completed`.
void end_task(agent_ptr self,
              std::map<std::pair<std::string, std::string>, task_record>::iterator it,
              task_state state, std::string reason, std::string message, int32_t exit_code = -1) {
  auto& st = self->state;
  batch b{self};
  emit(self, it->second, state, std::move(reason), std::move(message), exit_code);
  if (!it->second.sandbox.empty())
    st.gc.schedule(it->second.sandbox, std::chrono::system_clock::now());
  st.complete(it);
}

void handle_exit(agent_ptr self, const task_exited& e) {
  auto& st = self->state;
  auto it = st.tasks.find({e.framework_id, e.task_id});
  if (it == st.tasks.end() || it->second.pid != e.pid) {
    log(self, "exit of unknown task " + e.task_id + " (pid " + std::to_string(e.pid) + ") ignored");
    return;
  }
  auto ev = e;
  ev.kill_requested = e.kill_requested || it->second.kill_requested;
  auto out = describe_exit(ev);
  end_task(self, it, out.state, out.reason, out.message, out.exit_code);
  finish_stop_if_done(self);
}

void kill(agent_ptr self, task_record& rec) {
  if (rec.kill_requested) return;
  rec.kill_requested = true;
  auto& st = self->state;
  // Checkpointed, so that an agent restarted during the grace period still
  // reports the task as killed (and finishes the kill).
  batch b{self};
  st.dirty.emplace(rec.framework.id, rec.info.id);
  // The task's kill policy, else the agent's.
  auto grace = rec.info.kill_grace_ms >= 0 ? std::chrono::milliseconds{rec.info.kill_grace_ms}
                                           : st.config.kill_grace;
  // False when it already exited: its `task_exited` is on the way.
  if (!st.containers->kill(rec.pid, grace)) return;
  // A framework that asked for it hears that the kill has begun.
  if (protocol::task_killing_state(rec.framework) && !is_terminal(rec.status.state))
    emit(self, rec, task_state::killing, "",
         "killing: SIGTERM now, SIGKILL after " + std::to_string(grace.count()) + "ms");
}

void handle_kill(agent_ptr self, const kill_task& m) {
  auto& st = self->state;
  auto it = st.tasks.find({m.framework_id, m.task_id});
  if (it != st.tasks.end()) {
    kill(self, it->second);
    return;
  }
  for (const auto& c : st.completed)
    if (c.framework.id == m.framework_id && c.info.id == m.task_id)
      return;  // already terminal; its update is acknowledged or retried
  // As Mesos: a kill for a task the agent does not know yields TASK_LOST.
  log(self, "kill for unknown task " + m.task_id + " of framework " + m.framework_id);
  emit(self, st.record_orphan_update(m.framework_id, m.task_id, task_state::lost,
                                     "REASON_TASK_UNKNOWN", "unknown task"));
  publish_snapshot(self);
}

// Takes over what a previous process of this agent left (its checkpoint):
// its id and epoch, the tasks still running (re-attached, reported at the
// next registration), the tasks that ended meanwhile (reported with the
// status their shim recorded) and every update not acknowledged yet (sent
// again, in order, with its uuid).
void recover(agent_ptr self, recovered_state& rs) {
  auto& st = self->state;
  if (!rs.agent) return;
  auto t0 = std::chrono::steady_clock::now();
  st.recovery.done = true;
  st.agent_id = rs.agent->agent_id;
  st.master_epoch = rs.agent->master_epoch;
  const bool same_boot = !st.boot_id.empty() && rs.agent->boot_id == st.boot_id;
  if (!same_boot) log(self, "the host rebooted since the last run: no task of it can still run");
  batch b{self};
  auto now = std::chrono::steady_clock::now();
  for (auto& c : rs.tasks) {
    auto key = std::make_pair(c.framework.id, c.info.id);
    for (const auto& s : c.pending) st.updates.add(s, now);  // heads go out on registration
    task_record rec;
    rec.framework = c.framework;
    rec.info = c.info;
    rec.role = c.role;
    rec.status = c.status;
    rec.pid = c.pid;
    rec.start_time = c.start_time;
    rec.sandbox = c.sandbox;
    rec.container_id = c.container_id;
    rec.kill_requested = c.kill_requested;
    if (c.terminal || c.pid <= 0) {
      st.complete(std::move(rec));
      st.dirty.insert(key);
      continue;
    }
    recovered_container rc{make_launch_request(st, c.framework, c.info), c.pid, c.start_time,
                           c.container_id};
    auto r =
        st.containers->recover(rc, same_boot, make_exit_callback(self, c.framework.id, c.info.id));
    auto stored_it = st.tasks.emplace(key, std::move(rec)).first;
    auto& stored = stored_it->second;
    st.dirty.insert(key);
    if (r.running) {
      ++st.recovery.running;
      // A kill that was under way when the agent stopped goes on.
      if (stored.kill_requested) {
        stored.kill_requested = false;
        kill(self, stored);
      }
      continue;
    }
    ++st.recovery.ended;
    if (r.status.known) {
      task_exited e{c.framework.id,
                    c.info.id,
                    c.pid,
                    r.status.signaled,
                    r.status.code,
                    r.status.signal,
                    c.kill_requested,
                    r.status.limitation_reason,
                    r.status.limitation_message};
      handle_exit(self, e);
      continue;
    }
    end_task(self, stored_it, task_state::failed, "REASON_EXECUTOR_TERMINATED",
             same_boot ? "the task ended while the agent was down and left no exit status"
                       : "the host rebooted while the agent was down");
  }
  st.recovery.duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  log(self, "recovered from " + st.store->dir() + ": " + std::to_string(st.recovery.running) +
                " tasks still running, " + std::to_string(st.recovery.ended) +
                " ended while the agent was down, " + std::to_string(st.updates.size()) +
                " status updates to deliver (" + std::to_string(st.recovery.duration_us / 1000) +
                " ms)");
}

caf::behavior agent_behavior(agent_ptr self, agent_config cfg, caf::actor master,
                             std::shared_ptr<observability::http_server> http,
                             std::shared_ptr<state_snapshot> snapshot, std::string http_address,
                             std::shared_ptr<cgroups::isolator> iso, std::string isolation_json,
                             std::shared_ptr<recovered_state> recovered,
                             std::shared_ptr<void> work_dir_lock,
                             std::shared_ptr<agent_metrics> metrics) {
  auto& st = self->state;
  st.metrics = std::move(metrics);
  st.work_dir_lock = std::move(work_dir_lock);
  st.config = std::move(cfg);
  st.hostname = hostname_of(st.config);
  st.boot_id = boot_id();
  if (st.config.checkpoint) st.store = std::make_unique<checkpoint_store>(st.config.work_dir);
  st.containers = std::make_unique<containerizer>(st.config.work_dir, iso,
                                                  st.config.checkpoint ? st.config.shim : "");
  st.updates = status_update_manager{{st.config.status_retry_interval, st.config.status_retry_max}};
  st.gc = sandbox_gc{{st.config.gc_delay, st.config.gc_disk_threshold}};
  // Removing a large sandbox can take long: not on the agent's thread.
  st.gc_worker =
      self->spawn<caf::detached + caf::linked>([](caf::event_based_actor*) -> caf::behavior {
        return {[](const std::string& sandbox) {
          std::error_code ec;
          std::filesystem::remove_all(sandbox, ec);
          // `.../frameworks/<fw>/tasks/<task>`: the framework's directories go
          // with its last sandbox.
          auto tasks_dir = std::filesystem::path(sandbox).parent_path();
          if (std::filesystem::is_empty(tasks_dir, ec) && std::filesystem::remove(tasks_dir, ec))
            std::filesystem::remove(tasks_dir.parent_path(), ec);
        }};
      });
  self->delayed_send(self, st.config.disk_watch_interval, gc_atom::value);
  st.isolation_json = std::move(isolation_json);
  st.http = std::move(http);
  st.snapshot = std::move(snapshot);
  st.http_address = std::move(http_address);
  if (recovered) recover(self, *recovered);
  // Cgroups of tasks that no checkpoint names (left by a run without
  // checkpointing, or after `--recover cleanup`) would never end.
  if (iso)
    for (const auto& line : iso->remove_unknown()) log(self, line);
  checkpoint_agent(self);

  self->set_default_handler(
      [self](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        log(self, "dropped unexpected message " + caf::to_string(x.copy_content_to_message()));
        // A requester gets an error instead of waiting for its timeout; an
        // asynchronous sender gets nothing (an empty result is not sent).
        if (self->current_message_id().is_request()) return caf::sec::unexpected_message;
        return caf::message{};
      });
  // CAF lets any peer send an actor an exit message. Only this process's
  // own (the linked GC worker ending, a local shutdown) may end the agent;
  // a remote peer's is dropped and counted. (The transport closes a
  // connection that carries one at all, `kill` included, which no handler
  // could trap: protocol/transport.hpp. This is the second line.)
  protocol::ignore_remote_exits(self, [self] {
    ++self->state.foreign_commands;
    publish_soon(self);
    log(self, "exit message from a remote peer ignored");
  });
  self->set_error_handler([self](caf::scheduled_actor*, caf::error& err) {
    log(self, "error message: " + self->system().render(err));
  });
  self->set_down_handler([self](caf::scheduled_actor*, caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.master || dm.source != st.master.address()) return;
    log(self, "lost the master " + st.master_address + ": " + self->system().render(dm.reason));
    st.master = nullptr;
    st.registered = false;
    ++st.generation;  // drop replies still in flight
    publish_snapshot(self);
    if (st.local_master || st.stopping) return;
    auto delay = next_backoff(self);
    self->delayed_send(self, delay, reconnect_atom::value, st.generation);
  });

  if (master) {
    st.local_master = true;
    st.master = master;
    st.master_address = "local";
    self->monitor(master);
    ++st.generation;
    do_register(self);
  } else if (!st.config.master.empty()) {
    std::string error;
    st.follower = discovery::master_follower::start(st.config.master, self, error);
    if (!st.follower) log(self, "cannot follow the master " + st.config.master + ": " + error);
  } else {
    st.master_address = st.config.master_host + ":" + std::to_string(st.config.master_port);
    connect(self);
  }
  publish_snapshot(self);

  return {
      // -- master -> agent ------------------------------------------------------------
      [self](ping_atom, int64_t epoch) {
        // Only the leader's pings prove that it is alive.
        if (from_master(self, "ping", epoch))
          self->state.last_ping = std::chrono::steady_clock::now();
        return pong_atom::value;
      },
      [](ping_atom) { return pong_atom::value; },  // a local probe
      [self](run_task& m) {
        if (from_master(self, "run_task", m.epoch)) handle_run_task(self, m);
      },
      [self](kill_task& m) {
        if (from_master(self, "kill_task", m.epoch)) handle_kill(self, m);
      },
      [self](shutdown_framework& m) {
        if (!from_master(self, "shutdown_framework", m.epoch)) return;
        auto& st = self->state;
        log(self, "shutting down framework " + m.framework_id);
        for (auto& [key, rec] : st.tasks)
          if (key.first == m.framework_id) kill(self, rec);
      },
      [self](acknowledge& m) {
        if (!from_master(self, "acknowledge", m.epoch)) return;
        auto& st = self->state;
        bool matched = false;
        auto next = st.updates.acknowledge(m.framework_id, m.task_id, m.uuid,
                                           std::chrono::steady_clock::now(), &matched);
        if (next) st.outbox.push_back(*next);  // the task's next update, in order
        // The acknowledged update leaves the checkpoint (the whole task's
        // with its last update), so a restart does not send it again.
        if (matched) st.dirty.emplace(m.framework_id, m.task_id);
        flush(self);
      },
      [self](reconcile& m) {
        // The master asks about tasks it believes are here but that this
        // agent's registration did not report (a launch may have crossed it).
        if (!from_master(self, "reconcile", m.epoch)) return;
        auto& st = self->state;
        for (const auto& id : m.task_ids) {
          if (auto it = st.tasks.find({m.framework_id, id}); it != st.tasks.end()) {
            send_update(self, it->second.status);
            continue;
          }
          bool done = false;
          for (const auto& c : st.completed)
            if (c.framework.id == m.framework_id && c.info.id == id) {
              send_update(self, c.status);
              done = true;
              break;
            }
          if (!done)
            emit(self, st.record_orphan_update(m.framework_id, id, task_state::lost,
                                               "REASON_TASK_UNKNOWN", "unknown task"));
        }
        publish_snapshot(self);
      },
      [self](discovery::master_changed& m) {
        // Only this agent's own follower reports (a local, anonymous send).
        if (self->current_sender()) return;
        follow_leader(self, m);
      },
      // -- internal ------------------------------------------------------------------
      [self](task_exited& e) { handle_exit(self, e); },
      [self](retry_atom, int64_t at) {
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;  // our own timer only
        if (st.retry_at && st.retry_at->time_since_epoch().count() == at) st.retry_at.reset();
        auto due = st.updates.due(std::chrono::steady_clock::now());
        st.metrics->updates_retried(due.size());
        for (auto& s : due) send_update(self, std::move(s));
        arm_retry(self);
      },
      [self](publish_atom) {
        if (self->current_sender() != self->ctrl()) return;  // our own timer only
        self->state.publish_pending = false;
        publish_snapshot(self);
      },
      [self](gc_atom) {
        // Finished tasks' sandboxes past their delay, or the oldest while
        // the disk is too full.
        auto& st = self->state;
        if (self->current_sender() != self->ctrl()) return;  // our own timer only
        double used = 0;
        int64_t bytes = 0;
        if (!disk_fill(st.config.work_dir, used, bytes)) used = 0, bytes = 0;
        auto gone = st.gc.collect(std::chrono::system_clock::now(), used, bytes, disk_usage);
        for (auto& sandbox : gone) {
          log(self, "removing the sandbox " + sandbox);
          self->send(st.gc_worker, std::move(sandbox));
        }
        self->delayed_send(self, st.config.disk_watch_interval, gc_atom::value);
      },
      [self](reconnect_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.generation || st.local_master || st.stopping) return;
        connect(self);
      },
      [self](watchdog_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.generation || !st.registered || st.stopping) return;
        auto silence = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - st.last_ping);
        if (silence < st.ping_interval * st.config.max_missed_pings) {
          self->delayed_send(self, watchdog_period(st), watchdog_atom::value, gen);
          return;
        }
        // The master stopped pinging (it may have marked this agent
        // unreachable): register again, over a fresh connection if remote.
        log(self, "no ping from master " + st.master_address + " for " + ms_text(silence) +
                      "; registering again");
        st.registered = false;
        if (st.local_master) {
          ++st.generation;
          do_register(self);
        } else {
          if (st.master) self->demonitor(st.master);
          st.master = nullptr;
          connect(self);
        }
        publish_snapshot(self);
      },
      [self](reregister_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.generation || !st.master || st.stopping) return;
        do_register(self);
      },
      // -- operators -----------------------------------------------------------------
      [self](state_atom) { return *self->state.snapshot->get(); },
      [self](leave_atom) -> caf::result<leave_atom> {
        auto& st = self->state;
        if (auto refused = refuse_remote(self, "leave")) return refused;
        if (!st.store)
          return make_error(errc::not_allowed, "the agent does not checkpoint: use stop");
        // Every checkpoint is current (each change is written before it is
        // announced); the tasks carry on under their shims.
        flush(self);
        log(self, "stopping; leaving " + std::to_string(st.tasks.size()) +
                      " tasks running for the next agent process to recover");
        st.stopping = true;
        st.containers->release_all();
        self->quit();
        return leave_atom::value;
      },
      [self](stop_atom) -> caf::result<stop_atom> {
        auto& st = self->state;
        if (auto refused = refuse_remote(self, "stop")) return refused;
        if (!st.stopping)
          log(self, "stopping: killing " + std::to_string(st.tasks.size()) + " tasks");
        st.stopping = true;
        for (auto& [key, rec] : st.tasks) kill(self, rec);
        auto rp = self->make_response_promise();
        st.stop_promises.push_back(rp);
        finish_stop_if_done(self);
        return rp;
      },
  };
}

}  // namespace

void announce(caf::actor_system_config& cfg) {
  cfg.add_message_type<task_exited>("agora.agent.task_exited");
}

/// Chooses how the agent isolates tasks (`agent_config::isolation`) and
/// logs what it found. Returns false (after logging why) when cgroups were
/// demanded and cannot be used.
bool choose_isolation(const agent_config& cfg, std::shared_ptr<cgroups::isolator>& iso,
                      std::string& json) {
  json = "{\"mode\":\"posix\"}";
  if (cfg.isolation == "posix") return true;
  auto found = cgroups::detect_system();
  std::string error;
  iso = cgroups::isolator::create(found, cfg.cgroups, cfg.work_dir, error);
  std::string seen;
  for (const auto& n : found.notes) seen += (seen.empty() ? "" : "; ") + n;
  if (!iso) {
    if (cfg.isolation == "cgroups") {
      log_line(cfg, "--isolation cgroups: cannot isolate tasks with cgroups: " + error);
      return false;
    }
    log_line(cfg, "warning: cgroups are not usable (" + error +
                      "); tasks run as process groups WITHOUT cpu, memory or pids limits");
    json = "{\"mode\":\"posix\",\"why\":" + observability::json_quote(error) + "}";
    return true;
  }
  log_line(cfg, std::string("isolating tasks with cgroups ") + cgroups::to_string(iso->ver()) +
                    " (" + seen + ")");
  std::string dirs;
  for (const auto& d : iso->agent_dirs())
    dirs += (dirs.empty() ? "" : ",") + observability::json_quote(d);
  json = std::string("{\"mode\":\"cgroups\",\"version\":\"") + cgroups::to_string(iso->ver()) +
         "\",\"cgroups\":[" + dirs + "],\"cfs\":" + (cfg.cgroups.enable_cfs ? "true" : "false") +
         ",\"max_task_pids\":" + std::to_string(cfg.cgroups.max_pids) + "}";
  return true;
}

/// Returns a task's resource use as JSON (Mesos' `ResourceStatistics`
/// names where one exists).
std::string usage_json(const container_usage& u) {
  std::string out = "{\"cpus_time_secs\":" + std::to_string(u.cpu_seconds);
  out += ",\"cpus_limit\":" + std::to_string(static_cast<double>(u.limits.cpus_milli) / 1000);
  out += ",\"cpus_nr_throttled\":" + std::to_string(u.throttled_periods);
  out += ",\"mem_total_bytes\":" + std::to_string(u.mem_bytes);
  out += ",\"mem_peak_bytes\":" + std::to_string(u.mem_peak_bytes);
  out += ",\"mem_limit_bytes\":" + std::to_string(u.limits.mem_bytes);
  out += ",\"oom_kills\":" + std::to_string(u.oom_kills);
  out += ",\"processes\":" + std::to_string(u.pids);
  out += ",\"processes_limit\":" + std::to_string(u.limits.max_pids) + "}";
  return out;
}

/// Adds each running task's live `statistics` to the agent's state JSON.
std::string with_statistics(const std::string& state, cgroups::isolator& iso) {
  if (iso.tasks().empty()) return state;
  rapidjson::Document doc;
  doc.Parse(state.c_str(), state.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("tasks") || !doc["tasks"].IsArray())
    return state;
  auto& alloc = doc.GetAllocator();
  for (auto& t : doc["tasks"].GetArray()) {
    if (!t.IsObject() || !t.HasMember("framework_id") || !t.HasMember("id")) continue;
    auto u = iso.usage(t["framework_id"].GetString(), t["id"].GetString());
    if (!u) continue;
    rapidjson::Document stats(&alloc);
    stats.Parse(usage_json(*u).c_str());
    t.AddMember("statistics", rapidjson::Value(stats, alloc), alloc);
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

/// Reads what a previous process of this agent left (`--recover
/// reconnect`), or kills its tasks and forgets it (`--recover cleanup`).
/// Returns false (after logging why) when the agent must not start.
bool prepare_recovery(const agent_config& cfg, recovered_state& out) {
  checkpoint_store store{cfg.work_dir};
  std::string error;
  if (cfg.recover == "cleanup") {
    // Kill what the checkpoint names (a pid is signalled only while it is
    // the process the checkpoint saw start); the cgroups of the previous
    // run go in `remove_unknown` later.
    recovered_state old;
    store.load(old, error, true);
    if (!error.empty())
      log_line(cfg, "--recover cleanup: skipping damaged checkpoint files (" + error +
                        "); tasks only they name are not found, their cgroups are removed");
    size_t killed = 0;
    // Without the agent's file, the start time alone identifies a task.
    const bool same_boot = !old.agent || old.agent->boot_id == boot_id();
    for (const auto& t : old.tasks)
      if (same_boot && !t.terminal && t.pid > 0 && t.start_time != 0 &&
          process_start_time(t.pid) == t.start_time) {
        ::kill(-t.pid, SIGKILL);
        ++killed;
      }
    if (!store.wipe(error)) {
      log_line(cfg, "--recover cleanup: cannot remove the checkpoint " + error);
      return false;
    }
    if (old.agent || killed > 0)
      log_line(cfg, "--recover cleanup: killed " + std::to_string(killed) +
                        " of the previous run's tasks and removed its checkpoint; starting "
                        "afresh");
    return true;
  }
  if (!store.load(out, error)) {
    log_line(cfg, "cannot recover from the checkpoint: " + error +
                      ". To kill the tasks of the previous run and start afresh, start with "
                      "--recover cleanup");
    return false;
  }
  return true;
}

/// The agent's HTTP guard (`--credentials`, `--authenticate-http`,
/// `--acls`): every request but `/health` authenticates; GETs other than
/// sandbox files are `read_endpoints`; sandbox files are `access_sandboxes`
/// of the principal of the framework whose sandbox the path resolves to
/// (links followed, as the file handlers do).
observability::http_server::guard http_guard(auth::http_access access,
                                             std::shared_ptr<state_snapshot> snapshot,
                                             std::string work_dir) {
  return [access, snapshot, work_dir](
             observability::http_request& req,
             const std::string& route) -> std::optional<observability::http_response> {
    if (route == "/health") return std::nullopt;
    bool files = route.rfind("/files/", 0) == 0;
    auto v = auth::check_http(access, req.header("authorization"),
                              req.method == "GET" && !files ? route : "");
    auto refuse = [](int status, const std::string& error) {
      auto r = observability::http_response::error(status, error);
      if (status == 401) r.headers = {{"WWW-Authenticate", "Basic realm=\"agora\""}};
      return r;
    };
    if (v.status != 0) return refuse(v.status, v.error);
    req.principal = v.principal;
    if (!files || !access.rules) return std::nullopt;
    std::error_code ec;
    auto base = std::filesystem::absolute(work_dir, ec);
    std::filesystem::path p = req.param("path");
    if (p.is_relative()) p = base / p;
    auto root = std::filesystem::weakly_canonical(base / "frameworks", ec);
    auto real = std::filesystem::weakly_canonical(p, ec);
    auto framework =
        auth::sandbox_framework(ec ? p.lexically_normal().string() : real.string(), root.string());
    bool known = false;
    auto owner = snapshot->principal(framework, known);
    if (!access.rules->allowed(auth::acls::action::access_sandboxes, v.principal, owner))
      return refuse(403, auth::denied(auth::acls::action::access_sandboxes, v.principal, owner));
    return std::nullopt;
  };
}

caf::actor spawn_agent(caf::actor_system& sys, const agent_config& cfg, caf::actor master) {
  std::shared_ptr<cgroups::isolator> iso;
  std::string isolation_json;
  if (!choose_isolation(cfg, iso, isolation_json)) return {};
  std::shared_ptr<recovered_state> recovered;
  std::shared_ptr<void> work_dir_lock;  // held while the agent lives
  if (cfg.checkpoint) {
    if (cfg.shim.empty() || ::access(cfg.shim.c_str(), X_OK) != 0) {
      log_line(cfg, "cannot run tasks under the shim '" + cfg.shim +
                        "': not an executable file (it is built next to agora-agent)");
      return {};
    }
    std::string error;
    int fd = checkpoint_store{cfg.work_dir}.lock(error);
    if (fd < 0) {
      log_line(cfg, "cannot use the work directory: " + error);
      return {};
    }
    work_dir_lock = std::shared_ptr<void>(nullptr, [fd](void*) { ::close(fd); });
    recovered = std::make_shared<recovered_state>();
    if (!prepare_recovery(cfg, *recovered)) return {};
  }
  auto snapshot = std::make_shared<state_snapshot>();
  auto metrics = std::make_shared<agent_metrics>(cfg.per_task_metrics);
  std::shared_ptr<observability::http_server> http;
  std::string http_address;
  if (cfg.http_enabled) {
    std::string err;
    observability::http_server::options http_opts;
    http_opts.threads = 2;
    http_opts.tls_cert_file = cfg.http_tls_cert;
    http_opts.tls_key_file = cfg.http_tls_key;
    auto server = observability::http_server::start(cfg.http_host, cfg.http_port, err, http_opts);
    if (!server) {
      log_line(cfg, "cannot serve HTTP on " + cfg.http_host + ":" + std::to_string(cfg.http_port) +
                        ": " + err);
      return {};
    }
    http_address = cfg.http_host + ":" + std::to_string(server->port());
    // Serve a complete state before the actor has published its first one.
    agent_state initial;
    initial.config = cfg;
    initial.hostname = hostname_of(cfg);
    initial.http_address = http_address;
    initial.isolation_json = isolation_json;
    initial.master_address =
        master ? std::string{"local"} : cfg.master_host + ":" + std::to_string(cfg.master_port);
    snapshot->publish(initial.to_json());
    if (auth::http_access access{cfg.credentials, cfg.authenticate_http, cfg.acls}; access.active())
      server->set_guard(http_guard(access, snapshot, cfg.work_dir));
    server->route("GET", "/health", [](const observability::http_request&) {
      return observability::http_response::json("{\"status\":\"ok\"}");
    });
    metrics->publish(initial.sample());
    server->route(
        "GET", "/metrics",
        [metrics, iso, http = server.get(), sys = &sys](const observability::http_request&) {
          auto extra = observability::daemon_families(*http, protocol::refused_connections(*sys));
          return observability::http_response::text(metrics->scrape(iso.get(), std::move(extra)),
                                                    observability::prometheus_content_type);
        });
    server->route("GET", "/state", [snapshot, iso](const observability::http_request&) {
      auto state = snapshot->get();
      return observability::http_response::json(iso ? with_statistics(*state, *iso) : *state);
    });
    // Like Mesos' /monitor/statistics: the live resource use of each running
    // task (its cgroup's, with cgroups) and its sandbox's disk use.
    server->route("GET", "/monitor/statistics",
                  [snapshot, iso](const observability::http_request&) {
                    auto state = snapshot->get();
                    rapidjson::Document doc;
                    doc.Parse(state->c_str(), state->size());
                    std::string out = "[";
                    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("tasks") &&
                        doc["tasks"].IsArray())
                      for (const auto& t : doc["tasks"].GetArray()) {
                        std::string framework_id = t["framework_id"].GetString();
                        std::string task_id = t["id"].GetString();
                        std::string stats = "{";
                        if (auto u = iso ? iso->usage(framework_id, task_id) : std::nullopt) {
                          stats = usage_json(*u);
                          stats.back() = ',';
                        }
                        stats += "\"disk_used_bytes\":" +
                                 std::to_string(disk_usage(t["sandbox"].GetString())) + "}";
                        if (out.size() > 1) out += ",";
                        out += "{\"framework_id\":" + observability::json_quote(framework_id) +
                               ",\"task_id\":" + observability::json_quote(task_id) +
                               ",\"statistics\":" + stats + "}";
                      }
                    return observability::http_response::json(out + "]");
                  });
    server->route("GET", "/files/read",
                  [work_dir = cfg.work_dir](const observability::http_request& req) {
                    int64_t offset = 0;
                    int64_t length = -1;
                    try {
                      offset = std::stoll(req.param("offset", "0"));
                      length = std::stoll(req.param("length", "-1"));
                    } catch (const std::exception&) {
                      return observability::http_response::error(
                          400, "'offset' and 'length' must be integers");
                    }
                    auto c = read_sandbox_file(work_dir, req.param("path"), offset, length);
                    if (c.status != 200)
                      return observability::http_response::error(c.status, c.error);
                    return observability::http_response::json(
                        "{\"data\":" + observability::json_quote(c.data) +
                        ",\"offset\":" + std::to_string(c.offset) + "}");
                  });
    server->route("GET", "/files/browse",
                  [work_dir = cfg.work_dir](const observability::http_request& req) {
                    auto listing = browse_sandbox_dir(work_dir, req.param("path"));
                    if (listing.status != 200)
                      return observability::http_response::error(listing.status, listing.error);
                    return observability::http_response::json(to_json(listing));
                  });
    server->route("GET", "/files/download",
                  [work_dir = cfg.work_dir](const observability::http_request& req) {
                    auto c = download_sandbox_file(work_dir, req.param("path"));
                    if (c.status != 200)
                      return observability::http_response::error(c.status, c.error);
                    observability::http_response r;
                    r.content_type = "application/octet-stream";
                    r.body = std::move(c.data);
                    return r;
                  });
    http = std::move(server);
    if (cfg.on_http_started) cfg.on_http_started(http_address);
  }
  return sys.spawn(agent_behavior, cfg, std::move(master), std::move(http), std::move(snapshot),
                   std::move(http_address), std::move(iso), std::move(isolation_json),
                   std::move(recovered), std::move(work_dir_lock), std::move(metrics));
}

}  // namespace agora::agent
