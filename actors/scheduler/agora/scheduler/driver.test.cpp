#include "agora/scheduler/driver.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "agora/discovery/master_follower.hpp"
#include "agora/protocol/announce.hpp"

// The driver on CAF's deterministic test coordinator, against a fake master
// that answers subscriptions and sends heartbeats only when told to.

namespace agora::scheduler {
namespace {

using namespace std::chrono_literals;
using namespace protocol;

struct fake_master_log {
  int64_t epoch = 3;  ///< The epoch the fake master answers with.
  std::vector<framework_info> subscriptions;
  std::vector<caf::actor> schedulers;
};

caf::behavior fake_master(caf::event_based_actor* self, std::shared_ptr<fake_master_log> log) {
  return {
      [self, log](subscribe& m) {
        log->subscriptions.push_back(m.info);
        log->schedulers.push_back(caf::actor_cast<caf::actor>(self->current_sender()));
        return subscribed{"F1", 1000, log->epoch};
      },
      // The test's cue: send the current scheduler a heartbeat stamped with
      // the master's epoch...
      [self, log](int) {
        if (!log->schedulers.empty()) self->send(log->schedulers.back(), heartbeat{0, log->epoch});
      },
      // ... or with the given one.
      [self, log](int64_t epoch) {
        if (!log->schedulers.empty()) self->send(log->schedulers.back(), heartbeat{0, epoch});
      },
  };
}

/// Counts the callbacks the driver makes.
struct counting_scheduler : scheduler {
  int subscribed_calls = 0;
  int disconnected_calls = 0;
  void subscribed(driver&, const std::string&) override { ++subscribed_calls; }
  void disconnected(driver&) override { ++disconnected_calls; }
};

struct driver_fixture : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<fake_master_log> log = std::make_shared<fake_master_log>();
  std::shared_ptr<counting_scheduler> callbacks = std::make_shared<counting_scheduler>();
  caf::actor master;
  caf::actor drv;

  driver_fixture() {
    protocol::announce(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    master = sys->spawn(fake_master, log);
    driver_config dc;
    dc.master = master;
    dc.framework.name = "f";
    dc.backoff_min = 100ms;
    drv = spawn_driver(*sys, dc, callbacks);
    sched->run();
  }
  ~driver_fixture() override {
    caf::anon_send_exit(drv, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(master, caf::exit_reason::user_shutdown);
    sched->run();
  }
  /// Moves virtual time by `d` in 100 ms steps; `each_second` runs at every
  /// whole second.
  void advance(std::chrono::milliseconds d, const std::function<void()>& each_second = {}) {
    for (auto t = 100ms; t <= d; t += 100ms) {
      sched->advance_time(100ms);
      sched->run();
      if (each_second && t.count() % 1000 == 0) {
        each_second();
        sched->run();
      }
    }
  }
};

TEST_F(driver_fixture, a_silent_master_is_noticed_and_the_driver_resubscribes) {
  ASSERT_EQ(callbacks->subscribed_calls, 1);
  ASSERT_EQ(log->subscriptions.size(), 1u);
  // Heartbeats every second (the interval the master announced): no alarm.
  auto beat = [&] { caf::anon_send(master, 1); };
  advance(10000ms, beat);
  EXPECT_EQ(callbacks->disconnected_calls, 0);
  EXPECT_EQ(log->subscriptions.size(), 1u);
  // The master falls silent while the connection stays up: after 5 missed
  // heartbeats the driver gives up on it and subscribes again, with its id.
  advance(4000ms);
  EXPECT_EQ(callbacks->disconnected_calls, 0);
  advance(3000ms);
  EXPECT_EQ(callbacks->disconnected_calls, 1);
  ASSERT_EQ(log->subscriptions.size(), 2u);
  EXPECT_EQ(log->subscriptions[1].id, "F1");
  EXPECT_EQ(callbacks->subscribed_calls, 2);
}

TEST_F(driver_fixture, heartbeats_from_anyone_but_the_master_do_not_count) {
  // A peer keeps sending heartbeats; the master itself is silent.
  auto beat = [&] { caf::anon_send(drv, heartbeat{0}); };
  advance(7000ms, beat);
  EXPECT_EQ(callbacks->disconnected_calls, 1);
  EXPECT_EQ(log->subscriptions.size(), 2u);
}

TEST_F(driver_fixture, heartbeats_stamped_with_an_older_epoch_do_not_count) {
  // The master subscribed the driver at epoch 3; its heartbeats come, but
  // stamped with epoch 2 (a deposed leader's): they prove nothing.
  auto beat = [&] { caf::anon_send(master, int64_t{2}); };
  advance(7000ms, beat);
  EXPECT_EQ(callbacks->disconnected_calls, 1);
  EXPECT_EQ(log->subscriptions.size(), 2u);
}

TEST_F(driver_fixture, a_master_of_an_older_epoch_is_not_followed) {
  ASSERT_EQ(callbacks->subscribed_calls, 1);
  // ZooKeeper reports a leader at epoch 7; the master answering is at 3 (it
  // lost the leadership without knowing yet): the driver does not take its
  // subscription.
  discovery::master_changed m;
  m.known = true;
  m.leader.actor_host = "127.0.0.1";
  m.leader.actor_port = 1;
  m.leader.epoch = 7;
  caf::anon_send(drv, m);
  advance(3000ms);
  EXPECT_EQ(callbacks->disconnected_calls, 1);
  EXPECT_GE(log->subscriptions.size(), 2u);
  EXPECT_EQ(callbacks->subscribed_calls, 1);
  // The master catches up with the new epoch: the driver subscribes.
  log->epoch = 7;
  advance(3000ms);
  EXPECT_EQ(callbacks->subscribed_calls, 2);
}

}  // namespace
}  // namespace agora::scheduler
