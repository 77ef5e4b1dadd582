#include "agora/master/allocator_actor.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"
#include "agora/master/policy_control.hpp"
#include "agora/master/registrar.hpp"
#include "agora/policy/policy_outline.hpp"
#include "agora/protocol/announce.hpp"

namespace agora::master {
namespace {

using namespace std::chrono_literals;

/// An actor system on CAF's deterministic test coordinator: messages are
/// delivered only when the test runs the scheduler, and time only moves when
/// the test advances it.
struct deterministic_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;

  deterministic_system() {
    protocol::announce(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }
};

/// Records every cycle result the allocator sends to its master.
caf::behavior recorder(caf::event_based_actor*, std::shared_ptr<std::vector<alloc_offers>> out) {
  return {[out](alloc_offers& m) { out->push_back(std::move(m)); }, [](registry_set_policy&) {}};
}

resources res(double cpus, int64_t mem_mib) { return resources::make(cpus, mem_mib << 20); }

TEST(allocator_actor, events_in_one_burst_make_one_cycle) {
  deterministic_system ds;
  auto cycles = std::make_shared<std::vector<alloc_offers>>();
  auto master = ds.sys->spawn(recorder, cycles);
  allocator_config cfg;
  cfg.interval = 1000ms;
  auto alloc = spawn_allocator(*ds.sys, cfg, master);
  ds.sched->run();
  ASSERT_TRUE(cycles->empty());
  // A framework and three agents arrive before the allocator runs: four
  // events, each asking for a cycle; they coalesce into one.
  caf::anon_send(alloc, alloc_add_framework{"f1", {"r"}, {}, {}, {}, {}});
  for (auto id : {"a1", "a2", "a3"})
    caf::anon_send(alloc, alloc_add_agent{id, res(1, 512), {}, {}, {}});
  ds.sched->run();
  ASSERT_EQ(cycles->size(), 1u);
  EXPECT_EQ(cycles->front().decisions.size(), 3u);  // every agent offered to f1
  // The default policy declares prod, batch and dev; `r` is f1's role and
  // holds the whole cluster (weight 1: share 1.0).
  double share_r = -1;
  for (const auto& role : cycles->front().roles)
    if (role.role == "r") share_r = role.share;
  EXPECT_DOUBLE_EQ(share_r, 1.0);
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  ds.sched->run();
}

TEST(allocator_actor, periodic_cycle_reoffers_after_a_filter_expires) {
  deterministic_system ds;
  auto cycles = std::make_shared<std::vector<alloc_offers>>();
  auto master = ds.sys->spawn(recorder, cycles);
  allocator_config cfg;
  cfg.interval = 1000ms;
  auto alloc = spawn_allocator(*ds.sys, cfg, master);
  caf::anon_send(alloc, alloc_add_framework{"f1", {"r"}, {}, {}, {}, {}});
  caf::anon_send(alloc, alloc_add_agent{"a1", res(1, 512), {}, {}, {}});
  ds.sched->run();
  ASSERT_EQ(cycles->size(), 1u);
  ASSERT_EQ(cycles->back().decisions.size(), 1u);
  // Declined for 2.5 s: the recover triggers a cycle that offers nothing.
  caf::anon_send(alloc, alloc_recover{"f1", "r", "a1", res(1, 512), 2500});
  ds.sched->run();
  ASSERT_EQ(cycles->size(), 2u);
  EXPECT_TRUE(cycles->back().decisions.empty());
  // Two periodic ticks (virtual seconds 1 and 2) still see the filter...
  size_t cycles_before = cycles->size();
  for (int i = 0; i < 2; ++i) {
    ds.sched->advance_time(1000ms);
    ds.sched->run();
  }
  EXPECT_EQ(cycles->size(), cycles_before + 2);
  EXPECT_TRUE(cycles->back().decisions.empty());
  // ...the third (virtual second 3, after 2.5 s) offers the agent again.
  ds.sched->advance_time(1000ms);
  ds.sched->run();
  EXPECT_GT(cycles->size(), cycles_before);  // ticks ran cycles on their own
  ASSERT_FALSE(cycles->back().decisions.empty());
  EXPECT_EQ(cycles->back().decisions[0].framework_id, "f1");
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  ds.sched->run();
}

TEST(allocator_actor, an_event_cycle_offers_only_the_agents_the_event_touched) {
  deterministic_system ds;
  auto cycles = std::make_shared<std::vector<alloc_offers>>();
  auto master = ds.sys->spawn(recorder, cycles);
  allocator_config cfg;
  cfg.interval = 10s;  // No periodic cycle until the test advances 10 s.
  auto alloc = spawn_allocator(*ds.sys, cfg, master);
  caf::anon_send(alloc, alloc_add_framework{"f1", {"r"}, {}, {}, {}, {}});
  caf::anon_send(alloc, alloc_add_agent{"a1", res(1, 512), {}, {}, {}});
  caf::anon_send(alloc, alloc_add_agent{"a2", res(1, 512), {}, {}, {}});
  ds.sched->run();
  ASSERT_EQ(cycles->size(), 1u);
  ASSERT_EQ(cycles->back().decisions.size(), 2u);
  // a2 is declined for 1 s; 2 s later its filter has expired, but no event
  // touched a2 since, so the cycle that a1's recovery triggers offers a1
  // only. A full cycle would offer a2 as well.
  caf::anon_send(alloc, alloc_recover{"f1", "r", "a2", res(1, 512), 1000});
  ds.sched->run();
  EXPECT_TRUE(cycles->back().decisions.empty());
  ds.sched->advance_time(2s);
  ds.sched->run();
  caf::anon_send(alloc, alloc_recover{"f1", "r", "a1", res(1, 512), 0});
  ds.sched->run();
  ASSERT_EQ(cycles->back().decisions.size(), 1u);
  EXPECT_EQ(cycles->back().decisions[0].agent_id, "a1");
  // The periodic full cycle is the safety net: it offers a2.
  ds.sched->advance_time(8s);
  ds.sched->run();
  ASSERT_EQ(cycles->back().decisions.size(), 1u);
  EXPECT_EQ(cycles->back().decisions[0].agent_id, "a2");
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  ds.sched->run();
}

/// Returns a policy with one declared gauge, `version` and `labels`.
std::shared_ptr<const policy::runnable_policy> gauge_policy(int version, const char* labels) {
  auto p = policy::load_policy_text(
      "m.policy", "policy \"m\" version " + std::to_string(version) +
                      ";\nuse std.fairness;\norder roles by dominant_share(role) asc, role.name "
                      "asc;\norder frameworks by framework.id asc;\nmetric gauge "
                      "agora_policy_share_ratio " +
                      labels + " help \"share\" every cycle = " +
                      (std::string(labels).empty() ? "50%" : "dominant_share(role)") + ";\n");
  EXPECT_TRUE(p.ok()) << p.render_errors();
  return std::make_shared<const policy::runnable_policy>(
      policy::runnable_policy{p.prog, p.outline});
}

TEST(allocator_actor, a_metric_may_change_kind_or_labels_only_with_a_new_policy_version) {
  deterministic_system ds;
  auto cycles = std::make_shared<std::vector<alloc_offers>>();
  auto master = ds.sys->spawn(recorder, cycles);
  allocator_config cfg;
  cfg.policy = gauge_policy(1, "{role}");
  auto alloc = spawn_allocator(*ds.sys, cfg, master);
  ds.sched->run();
  auto apply = [&](std::shared_ptr<const policy::runnable_policy> p) {
    auto status = std::make_shared<int>(0);
    install_policy m;
    m.candidate.policy = std::move(p);
    m.candidate.source_name = "m.policy";
    ds.sys->spawn([=](caf::event_based_actor* self) {
      self->request(alloc, caf::infinite, m).then([=](policy_reply& r) { *status = r.status; });
    });
    ds.sched->run();
    return *status;
  };
  // Same version, the gauge loses its `role` label: refused (E0705).
  EXPECT_EQ(apply(gauge_policy(1, "")), 409);
  EXPECT_EQ(apply(gauge_policy(1, "{role}")), 200);  // Unchanged: fine.
  EXPECT_EQ(apply(gauge_policy(2, "")), 200);        // A new version says it is intended.
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  ds.sched->run();
}

/// Records the active-policy changes the allocator sends its master.
caf::behavior policy_recorder(caf::event_based_actor*,
                              std::shared_ptr<std::vector<registry::policy_record>> out) {
  return {[out](registry_set_policy& m) { out->push_back(std::move(m.policy)); },
          [](alloc_offers&) {}};
}

TEST(allocator_actor,
     policy_changes_at_run_time_go_to_the_registry_and_a_restored_one_keeps_its_revision) {
  deterministic_system ds;
  auto changes = std::make_shared<std::vector<registry::policy_record>>();
  auto master = ds.sys->spawn(policy_recorder, changes);
  allocator_config cfg;
  cfg.policy = gauge_policy(1, "{role}");
  cfg.policy_source = "start.policy";
  cfg.policy_text = "the startup text";
  auto alloc = spawn_allocator(*ds.sys, cfg, master);
  ds.sched->run();
  EXPECT_TRUE(changes->empty());  // the startup policy is not an operator's change
  auto ask = [&](auto msg) {
    ds.sys->spawn([=](caf::event_based_actor* self) {
      self->request(alloc, caf::infinite, msg).then([](policy_reply&) {});
    });
    ds.sched->run();
  };
  install_policy m;
  m.candidate.policy = gauge_policy(2, "{role}");
  m.candidate.source_name = "applied.policy";
  m.candidate.source_text = "the applied text";
  m.candidate.schema_text = "the schema";
  ask(m);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(changes->back().name, "applied.policy");
  EXPECT_EQ(changes->back().source, "the applied text");
  EXPECT_EQ(changes->back().schema, "the schema");
  EXPECT_EQ(changes->back().revision, 2);
  ask(rollback_policy{});
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(changes->back().name, "start.policy");
  EXPECT_EQ(changes->back().revision, 3);
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  ds.sched->run();

  // The next leader starts with what the registry holds, at its revision;
  // its own startup policy is the one to roll back to.
  auto control = std::make_shared<policy_control>();
  auto restored = std::make_shared<policy_revision>();
  restored->policy = gauge_policy(2, "{role}");
  restored->source_name = "applied.policy";
  restored->source_text = "the applied text";
  restored->revision = 7;
  cfg.restored = restored;
  cfg.control = control;
  alloc = spawn_allocator(*ds.sys, cfg, master);
  ds.sched->run();
  auto status = control->render();
  EXPECT_NE(status.find("\"active\":{\"name\":\"m\""), std::string::npos) << status;
  auto active = status.substr(status.find("\"active\""),
                              status.find("\"previous\"") - status.find("\"active\""));
  EXPECT_NE(active.find("\"revision\":7"), std::string::npos) << status;
  EXPECT_NE(active.find("applied.policy"), std::string::npos) << status;
  auto previous = status.substr(status.find("\"previous\""));
  EXPECT_NE(previous.find("start.policy"), std::string::npos) << status;
  ask(rollback_policy{});
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ(changes->back().name, "start.policy");
  EXPECT_EQ(changes->back().revision, 8);  // numbering continues past the restored one
  caf::anon_send_exit(alloc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  ds.sched->run();
}

}  // namespace
}  // namespace agora::master
