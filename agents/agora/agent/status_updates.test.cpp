#include "agora/agent/status_updates.hpp"

#include <gtest/gtest.h>

namespace agora::agent {
namespace {

using namespace std::chrono_literals;
using protocol::task_state;
using protocol::task_status;
using clock_t_ = status_update_manager::clock;

task_status update(const std::string& task, task_state state, const std::string& uuid) {
  task_status s;
  s.framework_id = "fw";
  s.task_id = task;
  s.state = state;
  s.uuid = uuid;
  return s;
}

std::vector<std::string> uuids(const std::vector<task_status>& xs) {
  std::vector<std::string> out;
  for (const auto& x : xs) out.push_back(x.uuid);
  return out;
}

struct manager_test : ::testing::Test {
  status_update_manager m{{100ms, 800ms}};
  clock_t_::time_point t0 = clock_t_::now();
};

TEST_F(manager_test, a_tasks_updates_go_out_one_at_a_time_in_order) {
  EXPECT_TRUE(m.add(update("t1", task_state::starting, "u1"), t0));
  EXPECT_FALSE(m.add(update("t1", task_state::running, "u2"), t0));
  EXPECT_FALSE(m.add(update("t1", task_state::finished, "u3"), t0));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.latest_state("fw", "t1"), task_state::finished);
  // Only the head is retried, however long the acknowledgement takes.
  EXPECT_EQ(uuids(m.due(t0 + 150ms)), (std::vector<std::string>{"u1"}));
  // An acknowledgement of a later update (never sent) changes nothing.
  bool matched = true;
  EXPECT_FALSE(m.acknowledge("fw", "t1", "u2", t0 + 160ms, &matched));
  EXPECT_FALSE(matched);
  auto next = m.acknowledge("fw", "t1", "u1", t0 + 170ms, &matched);
  EXPECT_TRUE(matched);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->uuid, "u2");
  // A duplicate acknowledgement of u1 is ignored.
  EXPECT_FALSE(m.acknowledge("fw", "t1", "u1", t0 + 171ms, &matched));
  EXPECT_FALSE(matched);
  EXPECT_EQ(m.acknowledge("fw", "t1", "u2", t0 + 180ms)->uuid, "u3");
  EXPECT_FALSE(m.acknowledge("fw", "t1", "u3", t0 + 190ms));
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.streams(), 0u);
  EXPECT_FALSE(m.next_due());
  EXPECT_FALSE(m.latest_state("fw", "t1"));
}

TEST_F(manager_test, the_oldest_waiting_update_is_the_oldest_head) {
  EXPECT_EQ(m.oldest_timestamp_ns(), 0);
  auto stamped = [](const std::string& task, const std::string& uuid, int64_t ns) {
    auto s = update(task, task_state::running, uuid);
    s.timestamp_ns = ns;
    return s;
  };
  m.add(stamped("t1", "a", 300), t0);
  m.add(stamped("t1", "b", 100), t0);  // queued behind a: not waiting for an ack yet
  m.add(stamped("t2", "c", 200), t0);
  EXPECT_EQ(m.oldest_timestamp_ns(), 200);
  m.acknowledge("fw", "t2", "c", t0);
  EXPECT_EQ(m.oldest_timestamp_ns(), 300);
  m.acknowledge("fw", "t1", "a", t0);
  EXPECT_EQ(m.oldest_timestamp_ns(), 100);
  m.acknowledge("fw", "t1", "b", t0);
  EXPECT_EQ(m.oldest_timestamp_ns(), 0);
}

TEST_F(manager_test, streams_of_different_tasks_do_not_wait_for_each_other) {
  EXPECT_TRUE(m.add(update("t1", task_state::running, "a1"), t0));
  EXPECT_TRUE(m.add(update("t2", task_state::running, "b1"), t0));
  EXPECT_FALSE(m.add(update("t1", task_state::finished, "a2"), t0));
  // t2's stream moves on while t1's head waits.
  EXPECT_FALSE(m.acknowledge("fw", "t2", "b1", t0 + 10ms));
  EXPECT_TRUE(m.add(update("t2", task_state::finished, "b2"), t0 + 20ms));
  EXPECT_EQ(uuids(m.heads(t0 + 30ms)), (std::vector<std::string>{"a1", "b2"}));
}

TEST_F(manager_test, retries_back_off_exponentially_up_to_the_cap) {
  m.add(update("t1", task_state::running, "u1"), t0);
  std::vector<int64_t> sent_at;
  for (auto t = t0; t < t0 + 3000ms; t += 10ms)
    if (!m.due(t).empty())
      sent_at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
  // 100, +200, +400, +800, +800, ...
  ASSERT_GE(sent_at.size(), 5u);
  EXPECT_EQ(sent_at[0], 100);
  EXPECT_EQ(sent_at[1], 300);
  EXPECT_EQ(sent_at[2], 700);
  EXPECT_EQ(sent_at[3], 1500);
  EXPECT_EQ(sent_at[4], 2300);
  EXPECT_EQ(m.next_due(), t0 + 3100ms);
  // A (re)registration sends the head at once and restarts the backoff.
  EXPECT_EQ(uuids(m.heads(t0 + 2400ms)), (std::vector<std::string>{"u1"}));
  EXPECT_EQ(m.next_due(), t0 + 2500ms);
  // An acknowledgement's next update starts with the shortest backoff too.
  m.add(update("t1", task_state::finished, "u2"), t0 + 2400ms);
  m.acknowledge("fw", "t1", "u1", t0 + 2450ms);
  EXPECT_EQ(m.next_due(), t0 + 2550ms);
}

TEST_F(manager_test, resends_keep_the_order_the_updates_were_made_in) {
  m.add(update("t2", task_state::running, "b1"), t0);
  m.add(update("t1", task_state::running, "a1"), t0 + 1ms);
  m.add(update("t3", task_state::running, "c1"), t0 + 2ms);
  EXPECT_EQ(uuids(m.heads(t0 + 5ms)), (std::vector<std::string>{"b1", "a1", "c1"}));
  EXPECT_EQ(uuids(m.due(t0 + 200ms)), (std::vector<std::string>{"b1", "a1", "c1"}));
  EXPECT_TRUE(m.pending("a1"));
  EXPECT_FALSE(m.pending("zz"));
}

}  // namespace
}  // namespace agora::agent
