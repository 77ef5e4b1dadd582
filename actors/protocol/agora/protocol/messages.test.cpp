#include "agora/protocol/messages.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "agora/protocol/announce.hpp"
#include "agora/protocol/errors.hpp"

namespace agora::protocol {
namespace {

TEST(messages, task_state_names_round_trip) {
  for (int i = 0; i <= static_cast<int>(task_state::error); ++i) {
    auto s = static_cast<task_state>(i);
    task_state back;
    ASSERT_TRUE(from_string(to_string(s), back)) << to_string(s);
    EXPECT_EQ(back, s);
  }
  task_state x;
  EXPECT_TRUE(from_string("running", x));
  EXPECT_EQ(x, task_state::running);
  EXPECT_FALSE(from_string("TASK_BOGUS", x));
  EXPECT_TRUE(is_terminal(task_state::finished));
  EXPECT_FALSE(is_terminal(task_state::running));
}

TEST(messages, task_state_transitions_only_move_forward) {
  using ts = task_state;
  // The normal life of a task.
  EXPECT_TRUE(is_valid_transition(ts::staging, ts::starting));
  EXPECT_TRUE(is_valid_transition(ts::starting, ts::running));
  EXPECT_TRUE(is_valid_transition(ts::running, ts::finished));
  EXPECT_TRUE(is_valid_transition(ts::running, ts::killing));
  EXPECT_TRUE(is_valid_transition(ts::killing, ts::killed));
  // Skipping ahead is fine (a launch failure goes straight to FAILED).
  EXPECT_TRUE(is_valid_transition(ts::staging, ts::failed));
  EXPECT_TRUE(is_valid_transition(ts::running, ts::lost));
  // A repeated non-terminal state (a re-sent update) changes nothing harmful.
  EXPECT_TRUE(is_valid_transition(ts::running, ts::running));
  // A late retry of an older update must not move the task backwards.
  EXPECT_FALSE(is_valid_transition(ts::running, ts::starting));
  EXPECT_FALSE(is_valid_transition(ts::killing, ts::running));
  // Terminal is final, even for another terminal state.
  EXPECT_FALSE(is_valid_transition(ts::finished, ts::running));
  EXPECT_FALSE(is_valid_transition(ts::finished, ts::failed));
  EXPECT_FALSE(is_valid_transition(ts::killed, ts::killed));
}

TEST(messages, unreachable_tasks_can_return_or_end) {
  using ts = task_state;
  // TASK_UNREACHABLE is not terminal (as in Mesos): the agent of a
  // partition-aware framework's task may come back.
  EXPECT_FALSE(is_terminal(ts::unreachable));
  EXPECT_TRUE(is_valid_transition(ts::running, ts::unreachable));
  EXPECT_TRUE(is_valid_transition(ts::killing, ts::unreachable));
  EXPECT_TRUE(is_valid_transition(ts::unreachable, ts::running));
  EXPECT_TRUE(is_valid_transition(ts::unreachable, ts::lost));
  EXPECT_TRUE(is_valid_transition(ts::unreachable, ts::finished));
  EXPECT_FALSE(is_valid_transition(ts::unreachable, ts::unreachable));
  EXPECT_FALSE(is_valid_transition(ts::unreachable, ts::starting));
  EXPECT_FALSE(is_valid_transition(ts::lost, ts::unreachable));
}

TEST(messages, accept_survives_binary_serialization) {
  caf::actor_system_config cfg;
  announce(cfg);
  caf::actor_system sys{cfg};
  accept in;
  in.framework_id = "fw-1";
  in.offer_ids = {"o-1", "o-2"};
  task_info t;
  t.id = "t1";
  t.command = "echo hi";
  t.environment["A"] = "b";
  std::string err;
  ASSERT_TRUE(resources::parse("cpus:0.5;mem:64MiB;ports:[31000-31001]", t.res, err));
  in.launch.push_back(t);
  in.filter.refuse_ms = 1234;

  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(in));
  accept out;
  caf::binary_deserializer source{sys, buf};
  ASSERT_FALSE(source(out));
  EXPECT_EQ(out.framework_id, "fw-1");
  EXPECT_EQ(out.offer_ids, in.offer_ids);
  ASSERT_EQ(out.launch.size(), 1u);
  EXPECT_EQ(out.launch[0].res, t.res);
  EXPECT_EQ(out.launch[0].environment.at("A"), "b");
  EXPECT_EQ(out.filter.refuse_ms, 1234);
}

TEST(messages, truncated_input_fails_to_deserialize) {
  caf::actor_system_config cfg;
  announce(cfg);
  caf::actor_system sys{cfg};
  status_update in;
  in.status.task_id = "a-task-with-a-long-name";
  in.status.message = "exited with status 3";
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(in));
  buf.resize(buf.size() / 2);
  status_update out;
  caf::binary_deserializer source{sys, buf};
  EXPECT_TRUE(static_cast<bool>(source(out)));  // an error, not a crash
}

TEST(messages, errors_render_with_their_category) {
  caf::actor_system_config cfg;
  announce(cfg);
  caf::actor_system sys{cfg};
  auto e = make_error(errc::unknown_offer, "offer o-9");
  EXPECT_NE(sys.render(e).find("unknown_offer"), std::string::npos);
}

}  // namespace
}  // namespace agora::protocol
