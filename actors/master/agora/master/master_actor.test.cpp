#include "agora/master/master_actor.hpp"

#include <limits>
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"
#include "agora/master/registry.hpp"
#include "agora/protocol/announce.hpp"
#include "agora/protocol/errors.hpp"

// The master's state machine on CAF's deterministic test coordinator: fake
// agents and schedulers are plain actors that record what the master sends
// them, messages move only when the test runs the scheduler, and time only
// when the test advances it.

namespace agora::master {
namespace {

using namespace std::chrono_literals;
using namespace protocol;

/// What a fake peer (agent or scheduler) received, in order.
struct peer_log {
  std::vector<caf::message> got;
  /// Replies to the peer's registration / subscription requests.
  std::vector<agent_registered> registered;
  std::vector<subscribed> subscriptions;
  std::vector<std::string> errors;
  size_t pings = 0;
  std::vector<int64_t> ping_epochs;  ///< The epoch each ping was stamped with.

  template <class T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& m : got)
      if (m.match_elements<T>()) out.push_back(m.get_as<T>(0));
    return out;
  }
  template <class T>
  size_t count() const {
    return all<T>().size();
  }
  /// Returns the status updates for `task_id`, in order.
  std::vector<task_status> updates(const std::string& task_id) const {
    std::vector<task_status> out;
    for (auto& u : all<status_update>())
      if (u.status.task_id == task_id) out.push_back(u.status);
    return out;
  }
};

// Commands the test gives a peer: the peer sends, so the master sees the
// peer as the sender (as it sees a real agent or driver).
struct peer_send {
  caf::actor to;
  caf::message msg;
};
struct peer_register {
  caf::actor master;
  register_agent m;
};
struct peer_reregister {
  caf::actor master;
  reregister_agent m;
};
struct peer_subscribe {
  caf::actor master;
  subscribe m;
};
struct peer_pings {
  bool answer = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_send& x) {
  return f(caf::meta::type_name("peer_send"), x.to, x.msg);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_register& x) {
  return f(caf::meta::type_name("peer_register"), x.master, x.m);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_reregister& x) {
  return f(caf::meta::type_name("peer_reregister"), x.master, x.m);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_subscribe& x) {
  return f(caf::meta::type_name("peer_subscribe"), x.master, x.m);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_pings& x) {
  return f(caf::meta::type_name("peer_pings"), x.answer);
}

struct peer_state {
  std::shared_ptr<peer_log> log;
  bool answer_pings = true;
  /// Unanswered pings: kept so that CAF does not answer them with an error.
  std::vector<caf::response_promise> held;
};

/// Sends request `msg` to `master`; records the reply in `replies` or the
/// error in the peer's log.
template <class Reply, class Request>
void ask(caf::stateful_actor<peer_state>* self, const caf::actor& master, Request msg,
         std::vector<Reply>& replies) {
  self->request(master, caf::infinite, std::move(msg))
      .then([&replies](Reply& r) { replies.push_back(r); },
            [self](caf::error& e) { self->state.log->errors.push_back(self->system().render(e)); });
}

caf::behavior peer(caf::stateful_actor<peer_state>* self, std::shared_ptr<peer_log> log) {
  self->state.log = log;
  self->set_default_handler(
      [self](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        self->state.log->got.push_back(x.copy_content_to_message());
        return caf::message{};
      });
  return {
      [self](ping_atom, int64_t epoch) -> caf::result<pong_atom> {
        ++self->state.log->pings;
        self->state.log->ping_epochs.push_back(epoch);
        if (self->state.answer_pings) return pong_atom::value;
        auto rp = self->make_response_promise();
        self->state.held.push_back(rp);
        return rp;
      },
      [self](peer_pings& m) { self->state.answer_pings = m.answer; },
      [self](peer_send& m) { self->send(m.to, m.msg); },
      [self](peer_register& m) { ask(self, m.master, m.m, self->state.log->registered); },
      [self](peer_reregister& m) { ask(self, m.master, m.m, self->state.log->registered); },
      [self](peer_subscribe& m) { ask(self, m.master, m.m, self->state.log->subscriptions); },
  };
}

resources res(double cpus, int64_t mem_mib) { return resources::make(cpus, mem_mib << 20); }

/// A master, its allocator and any number of fake peers on the
/// deterministic scheduler.
struct master_fixture : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  caf::actor master;
  std::vector<caf::actor> peers;
  master_config mcfg;

  master_fixture() {
    protocol::announce(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    mcfg.allocation_interval = 1000ms;
    mcfg.agent_ping_timeout = 1000ms;
    mcfg.max_agent_ping_timeouts = 3;
    mcfg.framework_heartbeat_interval = 1000ms;
  }

  ~master_fixture() override {
    for (auto& p : peers) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
    if (master) caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
    sched->run();
  }

  void start_master() {
    master = spawn_master(*sys, mcfg, std::make_shared<snapshot_store>());
    run();
  }

  /// Delivers every message that is due.
  void run() { sched->run(); }

  /// Moves time forward by `d` in steps of 100 ms, delivering everything due.
  void advance(std::chrono::milliseconds d) {
    for (auto left = d; left.count() > 0; left -= 100ms) {
      sched->advance_time(std::min<std::chrono::milliseconds>(left, 100ms));
      run();
    }
  }

  std::pair<caf::actor, std::shared_ptr<peer_log>> spawn_peer() {
    auto log = std::make_shared<peer_log>();
    auto p = sys->spawn(peer, log);
    peers.push_back(p);
    return {p, log};
  }

  /// Registers a fake agent; returns it, its log and its id.
  struct agent_peer {
    caf::actor actor;
    std::shared_ptr<peer_log> log;
    std::string id;
  };
  agent_peer add_agent(const std::string& hostname, resources total) {
    auto [p, log] = spawn_peer();
    agent_info info;
    info.hostname = hostname;
    info.total = total;
    caf::anon_send(p, peer_register{master, register_agent{info}});
    run();
    EXPECT_EQ(log->registered.size(), 1u);
    return {p, log, log->registered.empty() ? "" : log->registered.back().agent_id};
  }

  struct framework_peer {
    caf::actor actor;
    std::shared_ptr<peer_log> log;
    std::string id;
  };
  framework_peer add_framework(framework_info info, caf::actor from = {},
                               std::shared_ptr<peer_log> log = {}) {
    if (!from) std::tie(from, log) = spawn_peer();
    caf::anon_send(from, peer_subscribe{master, subscribe{info}});
    run();
    std::string id = log->subscriptions.empty() ? "" : log->subscriptions.back().framework_id;
    return {from, log, id};
  }

  static framework_info framework(const std::string& name, const std::string& role = "r",
                                  int64_t failover_ms = 0) {
    framework_info f;
    f.name = name;
    f.roles = {role};
    f.failover_timeout_ms = failover_ms;
    return f;
  }

  /// Sends `msg` to the master as `from`.
  template <class T>
  void send_as(const caf::actor& from, T msg) {
    caf::anon_send(from, peer_send{master, caf::make_message(std::move(msg))});
    run();
  }

  /// Waits (in virtual time) for the framework's first offer; returns it.
  offer first_offer(const framework_peer& f) {
    for (int i = 0; i < 30 && f.log->all<offers_msg>().empty(); ++i) advance(100ms);
    auto batches = f.log->all<offers_msg>();
    EXPECT_FALSE(batches.empty());
    return batches.empty() || batches.front().offers.empty() ? offer{} : batches.front().offers[0];
  }

  /// Sends an accept of `o` launching `t` (which the master must refuse);
  /// returns the one update the framework got for it, and checks that the
  /// agent was sent nothing.
  task_status refused_launch(const framework_peer& f, const agent_peer& a, const offer& o,
                             const task_info& t) {
    send_as(f.actor, accept{f.id, {o.id}, {t}, filters{0}});
    auto ups = f.log->updates(t.id);
    EXPECT_EQ(ups.size(), 1u);
    EXPECT_EQ(a.log->count<run_task>(), 0u);
    return ups.empty() ? task_status{} : ups[0];
  }

  /// Launches one task on `o` and has the agent report it RUNNING.
  task_status launch_running(const framework_peer& f, const agent_peer& a, const offer& o,
                             const std::string& task_id, resources r) {
    task_info t;
    t.id = task_id;
    t.command = "sleep 100";
    t.res = r;
    send_as(f.actor, accept{f.id, {o.id}, {t}, filters{0}});
    EXPECT_EQ(a.log->count<run_task>(), 1u);
    task_status s;
    s.task_id = task_id;
    s.framework_id = f.id;
    s.agent_id = a.id;
    s.state = task_state::running;
    s.uuid = "u-running-" + task_id;
    send_as(a.actor, status_update{s});
    return s;
  }
};

/// Re-registers agent `a` reporting `running` tasks (full records).
reregister_agent reregistration(const master_fixture::agent_peer& a, const std::string& hostname,
                                resources total, const std::vector<running_task>& running) {
  reregister_agent m;
  m.info.id = a.id;
  m.info.hostname = hostname;
  m.info.total = total;
  m.running = running;
  for (const auto& r : running) m.tasks.push_back(r.status);
  return m;
}

running_task running_record(const framework_info& fw, const std::string& fid, const task_status& s,
                            resources r, const std::string& role) {
  running_task rt;
  rt.framework = fw;
  rt.framework.id = fid;
  rt.task.id = s.task_id;
  rt.task.command = "sleep 100";
  rt.task.res = r;
  rt.status = s;
  rt.role = role;
  return rt;
}

// -- agents ---------------------------------------------------------------------

TEST_F(master_fixture, agent_back_after_unreachable_has_its_lost_tasks_killed) {
  start_master();
  auto a = add_agent("h1", res(4, 4096));
  auto fw = framework("f");  // not partition-aware
  auto f = add_framework(fw);
  auto s = launch_running(f, a, first_offer(f), "t1", res(1, 128));
  // The agent goes silent: 3 missed pings of 1 s make it unreachable, and
  // t1 is reported TASK_LOST to a framework that is not partition-aware.
  caf::anon_send(a.actor, peer_pings{false});
  advance(5000ms);
  auto ups = f.log->updates("t1");
  ASSERT_FALSE(ups.empty());
  ASSERT_EQ(ups.back().state, task_state::lost);
  size_t updates_before = ups.size();
  // The agent comes back, still running t1: the framework was told t1 is
  // gone and may have launched a replacement, so t1 must die, not return.
  caf::anon_send(a.actor, peer_pings{true});
  caf::anon_send(
      a.actor,
      peer_reregister{master, reregistration(a, "h1", res(4, 4096),
                                             {running_record(fw, f.id, s, res(1, 128), "r")})});
  run();
  ASSERT_EQ(a.log->registered.size(), 2u);
  auto kills = a.log->all<kill_task>();
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].task_id, "t1");
  // No update resurrects it at the framework, and reconciliation says lost.
  EXPECT_EQ(f.log->updates("t1").size(), updates_before);
  send_as(f.actor, reconcile{f.id, {"t1"}});
  ASSERT_EQ(f.log->updates("t1").size(), updates_before + 1);
  EXPECT_EQ(f.log->updates("t1").back().state, task_state::lost);
}

TEST_F(master_fixture, a_launch_that_crossed_a_reregistration_is_asked_about_not_lost) {
  start_master();
  auto a = add_agent("h1", res(4, 4096));
  auto f = add_framework(framework("f"));
  task_info t;
  t.id = "t1";
  t.command = "sleep 100";
  t.res = res(1, 128);
  send_as(f.actor, accept{f.id, {first_offer(f).id}, {t}, filters{0}});
  ASSERT_EQ(a.log->count<run_task>(), 1u);
  // The agent's re-registration was sent before it got the launch: it does
  // not list t1. The master asks instead of declaring t1 lost.
  caf::anon_send(a.actor, peer_reregister{master, reregistration(a, "h1", res(4, 4096), {})});
  run();
  auto asked = a.log->all<reconcile>();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].task_ids, std::vector<std::string>{"t1"});
  EXPECT_TRUE(f.log->updates("t1").empty());
  // The agent has it running: the framework hears RUNNING, never LOST.
  task_status s;
  s.task_id = "t1";
  s.framework_id = f.id;
  s.agent_id = a.id;
  s.state = task_state::running;
  s.uuid = "u1";
  send_as(a.actor, status_update{s});
  ASSERT_EQ(f.log->updates("t1").size(), 1u);
  EXPECT_EQ(f.log->updates("t1")[0].state, task_state::running);
}

TEST_F(master_fixture, partition_aware_tasks_return_with_their_agent) {
  start_master();
  auto a = add_agent("h1", res(4, 4096));
  auto fw = framework("f");
  fw.capabilities = {"PARTITION_AWARE"};
  auto f = add_framework(fw);
  auto s = launch_running(f, a, first_offer(f), "t1", res(1, 128));
  caf::anon_send(a.actor, peer_pings{false});
  advance(5000ms);
  ASSERT_EQ(f.log->updates("t1").back().state, task_state::unreachable);
  caf::anon_send(a.actor, peer_pings{true});
  caf::anon_send(
      a.actor,
      peer_reregister{master, reregistration(a, "h1", res(4, 4096),
                                             {running_record(fw, f.id, s, res(1, 128), "r")})});
  run();
  EXPECT_EQ(a.log->count<kill_task>(), 0u);
  // The framework learns that t1 runs again.
  EXPECT_EQ(f.log->updates("t1").back().state, task_state::running);
}

TEST_F(master_fixture, a_task_reported_ended_at_reregistration_is_not_lost_with_its_agent) {
  // Found by ha_chaos (seed 20261128): after a failover the agent
  // re-registered with t1's FINISHED still unacknowledged, the framework got
  // FINISHED from the agent's retry, and when the agent later became
  // unreachable the master told it TASK_LOST as well.
  start_master();
  auto a = add_agent("h1", res(4, 4096));
  auto fw = framework("f");  // not partition-aware: unreachable means LOST
  auto f = add_framework(fw);
  auto running = launch_running(f, a, first_offer(f), "t1", res(1, 128));
  auto finished = running;
  finished.state = task_state::finished;
  finished.uuid = "u-finished";
  caf::anon_send(
      a.actor, peer_reregister{
                   master, reregistration(a, "h1", res(4, 4096),
                                          {running_record(fw, f.id, finished, res(1, 128), "r")})});
  run();
  ASSERT_EQ(a.log->registered.size(), 2u);
  send_as(a.actor, status_update{finished});  // the agent's retry
  ASSERT_EQ(f.log->updates("t1").back().state, task_state::finished);
  auto seen = f.log->updates("t1").size();
  caf::anon_send(a.actor, peer_pings{false});
  advance(5000ms);
  ASSERT_EQ(f.log->updates("t1").size(), seen) << to_string(f.log->updates("t1").back().state);
  // The task is over for the master too: reconciliation says FINISHED.
  send_as(f.actor, reconcile{f.id, {"t1"}});
  ASSERT_EQ(f.log->updates("t1").size(), seen + 1);
  EXPECT_EQ(f.log->updates("t1").back().state, task_state::finished);
}

TEST_F(master_fixture, reregistrations_do_not_multiply_pings) {
  start_master();
  auto a = add_agent("h1", res(1, 512));
  for (int i = 0; i < 3; ++i) {
    caf::anon_send(a.actor, peer_reregister{master, reregistration(a, "h1", res(1, 512), {})});
    run();
  }
  ASSERT_EQ(a.log->registered.size(), 4u);
  // One ping per ping interval (1 s), however often the agent registered.
  size_t before = a.log->pings;
  advance(10000ms);
  size_t pings = a.log->pings - before;
  EXPECT_GE(pings, 9u);
  EXPECT_LE(pings, 11u);
}

TEST_F(master_fixture, reregistered_agent_keeps_the_full_unreachable_threshold) {
  start_master();
  auto a = add_agent("h1", res(1, 512));
  for (int i = 0; i < 3; ++i) {
    caf::anon_send(a.actor, peer_reregister{master, reregistration(a, "h1", res(1, 512), {})});
    run();
  }
  auto f = add_framework(framework("f"));
  ASSERT_FALSE(first_offer(f).id.empty());
  caf::anon_send(a.actor, peer_pings{false});
  // 3 missed pings of 1 s each: the agent is unreachable after about 3 s,
  // not after 1 s (as with one ping loop per registration, 4 here).
  advance(2000ms);
  EXPECT_EQ(f.log->count<rescind_offer>(), 0u);
  advance(3000ms);
  EXPECT_EQ(f.log->count<rescind_offer>(), 1u);
}

// -- frameworks -----------------------------------------------------------------

TEST_F(master_fixture, failover_while_connected_rescinds_offers_and_tells_the_old_scheduler) {
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f1 = add_framework(framework("f", "r", 60000));
  auto o = first_offer(f1);
  ASSERT_FALSE(o.id.empty());
  // A second scheduler instance subscribes under the same id while the first
  // is still connected (a scheduler failover).
  auto info = framework("f", "r", 60000);
  info.id = f1.id;
  auto f2 = add_framework(info);
  ASSERT_EQ(f2.id, f1.id);
  // The old instance is told it was replaced, and stops getting messages.
  auto errors = f1.log->all<framework_error>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].fatal);
  // Its offer is void: the new instance cannot use it, and gets the
  // resources offered anew.
  task_info t;
  t.id = "t1";
  t.command = "true";
  t.res = res(1, 128);
  send_as(f2.actor, accept{f2.id, {o.id}, {t}, filters{0}});
  EXPECT_EQ(a.log->count<run_task>(), 0u);
  auto o2 = first_offer(f2);
  EXPECT_NE(o2.id, o.id);
  EXPECT_EQ(o2.res, res(2, 1024));
  size_t old_offers = f1.log->count<offers_msg>();
  advance(3000ms);
  EXPECT_EQ(f1.log->count<offers_msg>(), old_offers);
}

TEST_F(master_fixture, late_disconnect_of_the_old_scheduler_keeps_the_new_one_active) {
  start_master();
  add_agent("h1", res(2, 1024));
  auto f1 = add_framework(framework("f", "r", 60000));
  ASSERT_FALSE(first_offer(f1).id.empty());
  auto [s2, log2] = spawn_peer();
  auto info = framework("f", "r", 60000);
  info.id = f1.id;
  // Order the race: s2's subscription is in the master's mailbox when s1
  // dies, so the proxy sees s1's down message before it learns of s2.
  caf::anon_send(s2, peer_subscribe{master, subscribe{info}});
  sched->run_once();  // s2 sends `subscribe`
  caf::anon_send_exit(f1.actor, caf::exit_reason::kill);
  run();
  ASSERT_EQ(log2->subscriptions.size(), 1u);
  // The new instance still gets offers: the old instance's disconnection
  // did not deactivate it.
  for (int i = 0; i < 30 && log2->count<offers_msg>() == 0; ++i) advance(100ms);
  EXPECT_GE(log2->count<offers_msg>(), 1u);
}

TEST_F(master_fixture, role_change_on_resubscription_reaches_the_allocator) {
  start_master();
  add_agent("h1", res(2, 1024));
  auto f1 = add_framework(framework("f", "old", 60000));
  auto o = first_offer(f1);
  EXPECT_EQ(o.role, "old");
  auto info = framework("f", "new", 60000);
  info.id = f1.id;
  auto f2 = add_framework(info);
  auto o2 = first_offer(f2);
  EXPECT_EQ(o2.role, "new");
}

TEST_F(master_fixture, role_names_are_validated_in_full) {
  start_master();
  for (const char* bad : {"eng//x", "a b", "x/", "a/../b"}) {
    auto f = add_framework(framework("f", bad));
    EXPECT_EQ(f.id, "") << bad;
    ASSERT_EQ(f.log->errors.size(), 1u) << bad;
    EXPECT_NE(f.log->errors[0].find("role"), std::string::npos) << f.log->errors[0];
  }
  EXPECT_NE(add_framework(framework("f", "eng/backend")).id, "");
}

TEST_F(master_fixture, amounts_and_timeouts_that_would_overflow_are_refused) {
  start_master();
  // An agent offering INT64_MAX bytes of disk made the cluster totals wrap.
  auto [p, log] = spawn_peer();
  agent_info huge;
  huge.hostname = "h1";
  huge.total = res(2, 1024);
  huge.total.disk_bytes = std::numeric_limits<int64_t>::max();
  caf::anon_send(p, peer_register{master, register_agent{huge}});
  run();
  EXPECT_TRUE(log->registered.empty());
  ASSERT_EQ(log->errors.size(), 1u);
  EXPECT_NE(log->errors[0].find("more than 64TiB of disk"), std::string::npos) << log->errors[0];
  // A failover timeout of INT64_MAX ms overflowed the timer: the framework
  // was removed at once instead of kept.
  auto forever = framework("f", "r", std::numeric_limits<int64_t>::max());
  auto f = add_framework(forever);
  EXPECT_EQ(f.id, "");
  ASSERT_EQ(f.log->errors.size(), 1u);
  EXPECT_NE(f.log->errors[0].find("3650 days"), std::string::npos) << f.log->errors[0];
  // Within the limits both are fine, and a task asking beyond them is an error.
  auto a = add_agent("h2", res(2, 1024));
  auto g = add_framework(framework("g", "r", max_failover_timeout_ms));
  ASSERT_FALSE(g.id.empty());
  auto o = first_offer(g);
  task_info t;
  t.id = "t1";
  t.command = "true";
  t.res = res(1, 128);
  t.res.gpus = resources::max_gpus + 1;
  auto refused = refused_launch(g, a, o, t);
  EXPECT_EQ(refused.state, task_state::error);
  EXPECT_NE(refused.message.find("more than 10000 gpus"), std::string::npos) << refused.message;
}

TEST_F(master_fixture, a_kill_grace_outside_its_range_makes_the_task_an_error) {
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("f"));
  auto o = first_offer(f);
  task_info t;
  t.id = "t1";
  t.command = "true";
  t.res = res(1, 128);
  t.kill_grace_ms = max_kill_grace_ms + 1;
  auto refused = refused_launch(f, a, o, t);
  EXPECT_EQ(refused.state, task_state::error);
  EXPECT_NE(refused.message.find("kill grace period"), std::string::npos) << refused.message;
}

TEST_F(master_fixture, a_removed_framework_is_told_why_and_its_client_can_stop) {
  start_master();
  auto f = add_framework(framework("f"));
  ASSERT_FALSE(f.id.empty());
  send_as(f.actor, teardown{f.id});
  run();
  auto errors = f.log->all<framework_error>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].fatal);
  EXPECT_EQ(errors[0].message, "framework " + f.id + " was removed: teardown requested");
}

TEST_F(master_fixture, torn_down_framework_cannot_subscribe_again) {
  start_master();
  auto f = add_framework(framework("f"));
  send_as(f.actor, teardown{f.id});
  auto info = framework("f");
  info.id = f.id;
  auto again = add_framework(info);
  EXPECT_EQ(again.id, "");
  ASSERT_EQ(again.log->errors.size(), 1u);
  EXPECT_NE(again.log->errors[0].find("removed"), std::string::npos) << again.log->errors[0];
}

TEST_F(master_fixture, remote_ticks_do_not_start_heartbeat_loops) {
  start_master();
  auto f = add_framework(framework("f"));
  auto [intruder, ilog] = spawn_peer();
  for (int i = 0; i < 5; ++i) send_as(intruder, tick_atom::value);
  size_t before = f.log->count<heartbeat>();
  advance(10000ms);
  size_t beats = f.log->count<heartbeat>() - before;
  // One heartbeat per second, not six.
  EXPECT_GE(beats, 9u);
  EXPECT_LE(beats, 11u);
}

// -- status updates -------------------------------------------------------------

TEST_F(master_fixture, stale_updates_are_acknowledged_not_forwarded) {
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("f"));
  auto running = launch_running(f, a, first_offer(f), "t1", res(1, 128));
  task_status finished = running;
  finished.state = task_state::finished;
  finished.uuid = "u-finished";
  send_as(a.actor, status_update{finished});
  ASSERT_EQ(f.log->updates("t1").back().state, task_state::finished);
  size_t n = f.log->updates("t1").size();
  size_t acks = a.log->count<acknowledge>();
  // A late retry of RUNNING (its acknowledgement was lost) arrives after
  // FINISHED: the framework must not see the task run again; the master
  // acknowledges it so that the agent stops retrying.
  send_as(a.actor, status_update{running});
  EXPECT_EQ(f.log->updates("t1").size(), n);
  auto acked = a.log->all<acknowledge>();
  ASSERT_EQ(acked.size(), acks + 1);
  EXPECT_EQ(acked.back().uuid, running.uuid);
  // A retry of the terminal update itself is still forwarded (the framework
  // acknowledges it; until then the agent retries).
  send_as(a.actor, status_update{finished});
  EXPECT_EQ(f.log->updates("t1").size(), n + 1);
}

TEST_F(master_fixture, a_task_that_ended_behind_an_unacknowledged_update_frees_its_resources) {
  // The framework is away, so the agent's RUNNING waits for an
  // acknowledgement and the task's FINISHED queues behind it. The agent's
  // retries carry the newest state: the master frees the task's resources
  // at once instead of holding them until the framework returns.
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("away", "r", 600000));
  auto running = launch_running(f, a, first_offer(f), "t1", res(2, 1024));
  caf::anon_send_exit(f.actor, caf::exit_reason::user_shutdown);
  run();
  auto g = add_framework(framework("next", "r2"));
  advance(3000ms);
  ASSERT_EQ(g.log->count<offers_msg>(), 0u);  // the agent is full
  status_update retry{running};
  retry.latest_state = task_state::finished;
  send_as(a.actor, retry);
  auto o = first_offer(g);
  EXPECT_EQ(o.agent_id, a.id);
  EXPECT_EQ(o.res, res(2, 1024));
  // When the framework has acknowledged RUNNING, FINISHED arrives and ends
  // the task, without giving its resources back a second time.
  task_status finished = running;
  finished.state = task_state::finished;
  finished.uuid = "u-finished";
  send_as(a.actor, status_update{finished});
  advance(3000ms);
  resources offered;
  for (const auto& batch : g.log->all<offers_msg>())
    for (const auto& x : batch.offers) offered += x.res;
  EXPECT_TRUE(res(2, 1024).contains(offered)) << offered.to_string();
}

// -- leadership lease -------------------------------------------------------------

TEST_F(master_fixture, without_a_valid_lease_nothing_is_offered_or_launched) {
  // A leader that has not heard from ZooKeeper for too long (paused, cut
  // off) may already have a successor: it must not act. The lease runs on
  // the real clock, the master on virtual time.
  auto lease = std::make_shared<leadership_lease>(300ms);
  mcfg.lease = lease;
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("f"));
  advance(2000ms);
  EXPECT_EQ(f.log->count<offers_msg>(), 0u);  // never renewed: no offers
  lease->renew();
  auto o = first_offer(f);
  ASSERT_FALSE(o.id.empty());
  // The lease lapses: the accept launches nothing, and no offer follows.
  auto start = std::chrono::steady_clock::now();
  while (lease->valid()) ASSERT_LT(std::chrono::steady_clock::now() - start, 5s);
  task_info t;
  t.id = "t1";
  t.command = "true";
  t.res = res(1, 128);
  send_as(f.actor, accept{f.id, {o.id}, {t}, filters{0}});
  send_as(f.actor, revive{f.id, {}});
  size_t offers = f.log->count<offers_msg>();
  advance(3000ms);
  EXPECT_EQ(a.log->count<run_task>(), 0u);
  EXPECT_EQ(f.log->count<offers_msg>(), offers);
  // Renewed, it acts again.
  lease->renew();
  send_as(f.actor, accept{f.id, {o.id}, {t}, filters{0}});
  EXPECT_EQ(a.log->count<run_task>(), 1u);
}

TEST_F(master_fixture, old_updates_of_a_task_unknown_to_a_new_leader_are_not_forwarded) {
  // A task ended on an agent before this master was elected; the agent
  // still retries its unacknowledged STARTING and RUNNING (the framework was
  // away) and its FINISHED. The framework must see FINISHED, never a task
  // starting after it ended.
  start_master();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("f"));
  task_status s;
  s.task_id = "t-old";
  s.framework_id = f.id;
  s.agent_id = a.id;
  s.state = task_state::finished;
  s.uuid = "u-fin";
  send_as(a.actor, status_update{s});
  for (auto [state, uuid] :
       {std::pair{task_state::starting, "u-start"}, std::pair{task_state::running, "u-run"}}) {
    auto late = s;
    late.state = state;
    late.uuid = uuid;
    send_as(a.actor, status_update{late});
  }
  auto ups = f.log->updates("t-old");
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].state, task_state::finished);
  // The stale ones were acknowledged by the master, so the agent stops.
  EXPECT_EQ(a.log->count<acknowledge>(), 2u);
  // A retry of FINISHED itself still goes through.
  send_as(a.actor, status_update{s});
  EXPECT_EQ(f.log->updates("t-old").size(), 2u);
}

// -- fencing ----------------------------------------------------------------------

/// The kind of a message a master sends to agents or schedulers, and the
/// leader epoch it is stamped with.
struct stamp {
  std::string kind;
  int64_t epoch = -1;
};

template <class T>
void match_stamp(const caf::message& m, const char* kind, std::optional<stamp>& out) {
  if (!out && m.match_elements<T>()) out = stamp{kind, m.get_as<T>(0).epoch};
}

/// Returns the stamp of `m`, or nothing if `m` is not a message a master
/// sends to agents or schedulers.
std::optional<stamp> stamp_of(const caf::message& m) {
  std::optional<stamp> s;
  match_stamp<run_task>(m, "run_task", s);
  match_stamp<kill_task>(m, "kill_task", s);
  match_stamp<shutdown_framework>(m, "shutdown_framework", s);
  match_stamp<acknowledge>(m, "acknowledge", s);
  match_stamp<reconcile>(m, "reconcile", s);
  match_stamp<status_update>(m, "status_update", s);
  match_stamp<offers_msg>(m, "offers_msg", s);
  match_stamp<rescind_offer>(m, "rescind_offer", s);
  match_stamp<heartbeat>(m, "heartbeat", s);
  match_stamp<framework_error>(m, "framework_error", s);
  return s;
}

TEST_F(master_fixture, every_message_of_a_leader_carries_its_epoch) {
  // Agents and schedulers refuse what an older leader sends: that works
  // only if each message the leader sends or relays names its epoch.
  mcfg.standby = true;
  mcfg.election_token = 42;
  start_master();
  caf::anon_send(master, become_leader{42, 9, "{}", registry{}.to_json(), caf::actor{}});
  run();
  auto a = add_agent("h1", res(2, 1024));
  auto f = add_framework(framework("f"));
  ASSERT_EQ(a.log->registered.at(0).epoch, 9);
  ASSERT_EQ(f.log->subscriptions.at(0).epoch, 9);
  auto o = first_offer(f);
  auto s = launch_running(f, a, o, "t1", res(1, 128));
  send_as(f.actor, acknowledge{f.id, a.id, "t1", s.uuid});
  send_as(f.actor, kill_task{f.id, "t1", ""});
  send_as(f.actor, reconcile{f.id, {"t-unknown"}});  // answered LOST by the master
  // A second scheduler instance takes over: the first is told (fatal error).
  auto [p2, log2] = spawn_peer();
  auto fw2 = framework("f");
  fw2.id = f.id;
  add_framework(fw2, p2, log2);
  advance(3000ms);  // heartbeats and pings
  send_as(p2, teardown{f.id});
  run();
  std::map<std::string, size_t> seen;
  for (const auto* log : {a.log.get(), f.log.get(), log2.get()})
    for (const auto& m : log->got) {
      auto st = stamp_of(m);
      ASSERT_TRUE(st) << "a message the test does not know: " << caf::to_string(m);
      EXPECT_EQ(st->epoch, 9) << caf::to_string(m);
      ++seen[st->kind];
    }
  // The scenario exercised every kind of message (so none went unchecked).
  for (const char* kind : {"run_task", "kill_task", "shutdown_framework", "acknowledge",
                           "status_update", "offers_msg", "heartbeat", "framework_error"})
    EXPECT_GT(seen[kind], 0u) << kind << " never sent; seen: " << seen.size() << " kinds";
  ASSERT_FALSE(a.log->ping_epochs.empty());
  for (auto e : a.log->ping_epochs) EXPECT_EQ(e, 9);
}

// -- master restart ---------------------------------------------------------------

TEST_F(master_fixture, unknown_tasks_are_not_declared_lost_while_agents_reregister) {
  // A new leader whose registry lists an agent that has not re-registered
  // yet cannot know the tasks on it: reconciling an unknown task gets no
  // answer (the framework retries), not a TASK_LOST that the agent would
  // contradict when it comes back.
  mcfg.standby = true;
  mcfg.election_token = 42;
  mcfg.agent_reregister_timeout = 10000ms;
  start_master();
  registry doc;
  doc.agents["S1"] = {"h1", registry::agent_state::admitted, ""};
  caf::anon_send(master, become_leader{42, 1, "{}", doc.to_json(), caf::actor{}});
  run();
  auto f = add_framework(framework("f"));
  send_as(f.actor, reconcile{f.id, {"t-on-S1"}});
  EXPECT_TRUE(f.log->updates("t-on-S1").empty());
  // Once the deadline passed (S1 unreachable), unknown means lost.
  advance(11000ms);
  send_as(f.actor, reconcile{f.id, {"t-on-S1"}});
  ASSERT_EQ(f.log->updates("t-on-S1").size(), 1u);
  EXPECT_EQ(f.log->updates("t-on-S1")[0].state, task_state::lost);
}

TEST_F(master_fixture, a_task_lost_under_the_previous_leader_stays_lost_when_its_agent_returns) {
  // Found by ha_chaos (seed 20261128, sanitizer build): the previous leader
  // declared S1 unreachable and told the framework TASK_LOST; S1 came back
  // to the new leader, which killed the task but did not remember it, and
  // then relayed S1's FINISHED as the end of a task it did not know.
  mcfg.standby = true;
  mcfg.election_token = 42;
  start_master();
  registry doc;
  doc.agents["S1"] = {"h1", registry::agent_state::unreachable, ""};
  caf::anon_send(master, become_leader{42, 2, "{}", doc.to_json(), caf::actor{}});
  run();
  auto fw = framework("f");  // not partition-aware
  auto f = add_framework(fw);
  task_status running;
  running.task_id = "t1";
  running.framework_id = f.id;
  running.agent_id = "S1";
  running.state = task_state::running;
  running.uuid = "u-running";
  auto [ag, alog] = spawn_peer();
  reregister_agent m;
  m.info.id = "S1";
  m.info.hostname = "h1";
  m.info.total = res(2, 1024);
  m.running = {running_record(fw, f.id, running, res(1, 128), "r")};
  m.tasks = {running};
  caf::anon_send(ag, peer_reregister{master, m});
  run();
  ASSERT_EQ(alog->registered.size(), 1u);
  ASSERT_EQ(alog->count<kill_task>(), 1u);
  auto finished = running;
  finished.state = task_state::finished;
  finished.uuid = "u-finished";
  send_as(ag, status_update{finished});
  EXPECT_TRUE(f.log->updates("t1").empty()) << to_string(f.log->updates("t1").back().state);
  // The master acknowledged it, so the agent stops retrying.
  auto acks = alog->all<acknowledge>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, "u-finished");
  send_as(f.actor, reconcile{f.id, {"t1"}});
  ASSERT_EQ(f.log->updates("t1").size(), 1u);
  EXPECT_EQ(f.log->updates("t1")[0].state, task_state::lost);
}

TEST_F(master_fixture, recovered_framework_waits_for_its_scheduler) {
  start_master();
  // A master that just started learns of framework F from an agent that
  // re-registers with F's running task before F's scheduler is back. F's
  // failover timeout is 0 (the default): its tasks must not be killed
  // because the agent happened to come back first.
  auto [ag, alog] = spawn_peer();
  framework_info fw = framework("f", "r", 0);
  task_status s;
  s.task_id = "t1";
  s.framework_id = "old-F1";
  s.agent_id = "old-S1";
  s.state = task_state::running;
  reregister_agent m;
  m.info.id = "old-S1";
  m.info.hostname = "h1";
  m.info.total = res(2, 1024);
  m.running = {running_record(fw, "old-F1", s, res(1, 128), "r")};
  m.tasks = {s};
  caf::anon_send(ag, peer_reregister{master, m});
  run();
  ASSERT_EQ(alog->registered.size(), 1u);
  advance(3000ms);
  EXPECT_EQ(alog->count<shutdown_framework>(), 0u);
  EXPECT_EQ(alog->count<kill_task>(), 0u);
  fw.id = "old-F1";
  auto f = add_framework(fw);
  EXPECT_EQ(f.id, "old-F1");
  send_as(f.actor, reconcile{f.id, {"t1"}});
  ASSERT_FALSE(f.log->updates("t1").empty());
  EXPECT_EQ(f.log->updates("t1").back().state, task_state::running);
}

}  // namespace
}  // namespace agora::master
