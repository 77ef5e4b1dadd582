#include "agora/master/framework_proxy.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "agora/master/internal_messages.hpp"
#include "agora/protocol/announce.hpp"

namespace agora::master {
namespace {

using namespace std::chrono_literals;
using namespace protocol;

/// Records everything it receives.
caf::behavior recorder(caf::event_based_actor* self,
                       std::shared_ptr<std::vector<caf::message>> out) {
  self->set_default_handler(
      [out](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        out->push_back(x.copy_content_to_message());
        return caf::message{};
      });
  return {[](int) {}};
}

template <class T>
size_t count(const std::vector<caf::message>& xs) {
  size_t n = 0;
  for (const auto& x : xs) n += x.match_elements<T>() ? 1 : 0;
  return n;
}

struct proxy_fixture : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<std::vector<caf::message>> to_master =
      std::make_shared<std::vector<caf::message>>();
  std::shared_ptr<std::vector<caf::message>> to_s1 = std::make_shared<std::vector<caf::message>>();
  std::shared_ptr<std::vector<caf::message>> to_s2 = std::make_shared<std::vector<caf::message>>();
  caf::actor master, s1, s2;

  proxy_fixture() {
    protocol::announce(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    master = sys->spawn(recorder, to_master);
    s1 = sys->spawn(recorder, to_s1);
    s2 = sys->spawn(recorder, to_s2);
  }
  ~proxy_fixture() override {
    for (auto& a : {master, s1, s2}) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched->run();
  }
  void advance(std::chrono::milliseconds d) {
    for (auto t = 100ms; t <= d; t += 100ms) {
      sched->advance_time(100ms);
      sched->run();
    }
  }
};

TEST_F(proxy_fixture, relays_to_the_current_scheduler_and_times_out_after_a_disconnection) {
  auto proxy = spawn_framework_proxy(*sys, "F1", s1, master, 2000ms);
  caf::anon_send(proxy, heartbeat{1});
  sched->run();
  EXPECT_EQ(count<heartbeat>(*to_s1), 1u);
  caf::anon_send_exit(s1, caf::exit_reason::kill);
  sched->run();
  ASSERT_EQ(count<framework_disconnected>(*to_master), 1u);
  // The disconnection names the instance that left.
  auto d = to_master->back().get_as<framework_disconnected>(0);
  EXPECT_EQ(d.framework_id, "F1");
  EXPECT_EQ(d.scheduler, s1.address());
  advance(1900ms);
  EXPECT_EQ(count<framework_failover_expired>(*to_master), 0u);
  advance(200ms);
  EXPECT_EQ(count<framework_failover_expired>(*to_master), 1u);
}

TEST_F(proxy_fixture, a_reconnection_cancels_the_failover_timer) {
  auto proxy = spawn_framework_proxy(*sys, "F1", s1, master, 2000ms);
  caf::anon_send_exit(s1, caf::exit_reason::kill);
  sched->run();
  advance(1000ms);
  caf::anon_send(proxy, framework_reconnected{s2});
  sched->run();
  advance(3000ms);
  EXPECT_EQ(count<framework_failover_expired>(*to_master), 0u);
  caf::anon_send(proxy, heartbeat{2});
  sched->run();
  EXPECT_EQ(count<heartbeat>(*to_s2), 1u);
}

TEST_F(proxy_fixture, a_recovered_framework_gets_the_grace_period_before_its_failover_timeout) {
  // No scheduler yet (learnt from agents after a master restart): expiry
  // after grace (5 s) + failover timeout (0 s), not at once.
  auto proxy = spawn_framework_proxy(*sys, "F1", caf::actor{}, master, 0ms, 5000ms);
  advance(4900ms);
  EXPECT_EQ(count<framework_failover_expired>(*to_master), 0u);
  advance(200ms);
  EXPECT_EQ(count<framework_failover_expired>(*to_master), 1u);
  caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
}

TEST_F(proxy_fixture, ends_with_its_master) {
  auto proxy = spawn_framework_proxy(*sys, "F1", s1, master, 2000ms);
  bool down = false;
  auto watcher = sys->spawn([&](caf::event_based_actor* self) -> caf::behavior {
    self->monitor(proxy);
    self->set_down_handler([&](caf::down_msg&) { down = true; });
    return {[](int) {}};
  });
  sched->run();
  caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
  sched->run();
  EXPECT_TRUE(down);
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace agora::master
