#include "agora/zk/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "agora/test/ports.hpp"
#include "agora/test/wait.hpp"
#include "agora/test/zookeeper_server.hpp"
#include "agora/zk/path.hpp"
#include "agora/zk/zk_test.hpp"

namespace agora::zk {
namespace {

using namespace std::chrono_literals;
using agora::test::wait_until;
using testing::recorder;
using clock = std::chrono::steady_clock;

long long ms_since(clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
}

TEST(zk_session, rejects_bad_options_and_paths) {
  EXPECT_EQ(session::open({}).code(), errc::invalid_argument);
  session_options options;
  options.connect_string = "127.0.0.1:1";
  options.session_timeout = 0ms;
  EXPECT_EQ(session::open(options).code(), errc::invalid_argument);
  options.connect_string = "nonexistent.invalid:2181";
  options.session_timeout = 2s;
  auto unresolvable = session::open(options);
  EXPECT_EQ(unresolvable.code(), errc::invalid_argument);
  EXPECT_NE(unresolvable.err().message.find("does not resolve"), std::string::npos);
  options.connect_string = "127.0.0.1:1";
  auto s = session::open(options);
  ASSERT_TRUE(s.ok()) << to_string(s.err());
  // Paths are checked before any I/O.
  EXPECT_EQ(s.value()->get("relative").code(), errc::invalid_argument);
  EXPECT_EQ(s.value()->create("/a/", "", create_mode::persistent).code(), errc::invalid_argument);
  EXPECT_EQ(s.value()->set("/a", "", -2).code(), errc::invalid_argument);
}

TEST(zk_session, connects_and_reports_its_state) {
  AGORA_ZK_SHARED_SERVER(server);
  recorder<session_state> states;
  auto s =
      testing::connect(server->connect_string(), 4s, [&](session_state st) { states.add(st); });
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state(), session_state::connected);
  EXPECT_EQ(s->negotiated_timeout(), 4s);  // Within [2, 20] x tickTime (500 ms).
  EXPECT_NE(s->id(), 0);
  EXPECT_EQ(s->connected_server(), server->connect_string());
  ASSERT_TRUE(states.wait_last([](session_state st) { return st == session_state::connected; }));
  EXPECT_EQ(states.items().front(), session_state::connected);

  ASSERT_TRUE(s->close().ok());
  EXPECT_EQ(s->state(), session_state::closed);
  EXPECT_EQ(states.last(), session_state::closed);
  EXPECT_EQ(s->get("/").code(), errc::closed);
  EXPECT_EQ(s->connected_server(), "");
}

TEST(zk_session, create_get_set_remove_with_compare_and_set) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  std::string root = testing::unique_root();
  ASSERT_TRUE(s->ensure_path(root).ok());
  ASSERT_TRUE(s->ensure_path(root).ok());  // Idempotent.

  std::string path = join_path(root, "doc");
  auto created = s->create(path, "v0", create_mode::persistent);
  ASSERT_TRUE(created.ok()) << to_string(created.err());
  EXPECT_EQ(created.value(), path);
  EXPECT_EQ(s->create(path, "again", create_mode::persistent).code(), errc::node_exists);
  EXPECT_EQ(s->create(root + "/missing/child", "", create_mode::persistent).code(), errc::no_node);

  auto got = s->get(path);
  ASSERT_TRUE(got.ok()) << to_string(got.err());
  EXPECT_EQ(got.value().data, "v0");
  EXPECT_EQ(got.value().stat.version, 0);
  EXPECT_EQ(got.value().stat.ephemeral_owner, 0);

  // Compare-and-set: version 0 → 1; a second writer still expecting 0 loses.
  auto set = s->set(path, "v1", 0);
  ASSERT_TRUE(set.ok()) << to_string(set.err());
  EXPECT_EQ(set.value().version, 1);
  auto conflict = s->set(path, "stale", 0);
  EXPECT_EQ(conflict.code(), errc::bad_version) << to_string(conflict.err());
  EXPECT_EQ(s->get(path).value().data, "v1");
  EXPECT_EQ(s->set(root + "/absent", "x", 0).code(), errc::no_node);
  // Unconditional set: 1 → 2.
  EXPECT_EQ(s->set(path, "v2", any_version).value().version, 2);

  // Empty data reads back empty.
  ASSERT_TRUE(s->create(root + "/empty", "", create_mode::persistent).ok());
  EXPECT_EQ(s->get(root + "/empty").value().data, "");

  auto children = s->get_children(root);
  ASSERT_TRUE(children.ok());
  std::sort(children.value().begin(), children.value().end());
  EXPECT_EQ(children.value(), (std::vector<std::string>{"doc", "empty"}));
  EXPECT_EQ(s->get_children(root + "/absent").code(), errc::no_node);

  EXPECT_EQ(s->remove(path, 1).code(), errc::bad_version);
  EXPECT_EQ(s->remove(root, any_version).code(), errc::not_empty);
  ASSERT_TRUE(s->remove(path, 2).ok());
  EXPECT_EQ(s->get(path).code(), errc::no_node);
  EXPECT_EQ(s->remove(path, any_version).code(), errc::no_node);
  auto present = s->exists(path);
  ASSERT_TRUE(present.ok());
  EXPECT_FALSE(present.value().has_value());
}

TEST(zk_session, sequential_and_ephemeral_nodes) {
  AGORA_ZK_SHARED_SERVER(server);
  auto a = testing::connect(server->connect_string());
  auto b = testing::connect(server->connect_string());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::string root = testing::unique_root();
  ASSERT_TRUE(a->ensure_path(root).ok());

  auto first = a->create(root + "/seq_", "1", create_mode::persistent_sequential);
  auto second = a->create(root + "/seq_", "2", create_mode::ephemeral_sequential);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first.value(), root + "/seq_0000000000");
  EXPECT_EQ(second.value(), root + "/seq_0000000001");

  auto eph = a->create(root + "/eph", "x", create_mode::ephemeral);
  ASSERT_TRUE(eph.ok());
  auto stat = b->exists(root + "/eph");
  ASSERT_TRUE(stat.ok() && stat.value());
  EXPECT_EQ(stat.value()->ephemeral_owner, a->id());

  // Destruction closes the session: its ephemeral nodes go at once (the
  // close request is only flushed, not awaited, so allow the server a
  // moment to apply it).
  auto closed_at = clock::now();
  a.reset();
  EXPECT_TRUE(wait_until(
      [&] {
        auto e = b->exists(root + "/eph");
        auto s = b->exists(second.value());
        return e.ok() && !e.value() && s.ok() && !s.value();
      },
      2s, 5ms));
  EXPECT_LT(ms_since(closed_at), 1000);
  EXPECT_TRUE(b->exists(first.value()).value().has_value());  // Persistent stays.
}

TEST(zk_session, watches_fire_once) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  auto other = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  ASSERT_NE(other, nullptr);
  std::string root = testing::unique_root();
  ASSERT_TRUE(s->ensure_path(root).ok());
  std::string path = root + "/n";

  // An exists watch on an absent node fires on creation.
  recorder<watch_event> exists_events;
  ASSERT_TRUE(s->exists(path, exists_events.callback()).ok());
  ASSERT_TRUE(other->create(path, "a", create_mode::persistent).ok());
  ASSERT_TRUE(exists_events.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::created; }));
  EXPECT_EQ(exists_events.last()->path, path);

  // A data watch fires once for the first change only.
  recorder<watch_event> data_events;
  ASSERT_TRUE(s->get(path, data_events.callback()).ok());
  ASSERT_TRUE(other->set(path, "b", any_version).ok());
  ASSERT_TRUE(data_events.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::changed; }));
  // A second watch armed now sees the next change; the first stays silent.
  recorder<watch_event> second_events;
  ASSERT_TRUE(s->get(path, second_events.callback()).ok());
  ASSERT_TRUE(other->set(path, "c", any_version).ok());
  ASSERT_TRUE(second_events.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::changed; }));
  EXPECT_EQ(data_events.size(), 1u);

  // A children watch fires on a child's creation; a data watch on removal.
  recorder<watch_event> child_events;
  recorder<watch_event> removal_events;
  ASSERT_TRUE(s->get_children(path, child_events.callback()).ok());
  ASSERT_TRUE(other->create(path + "/kid", "", create_mode::ephemeral).ok());
  ASSERT_TRUE(child_events.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::children_changed; }));
  ASSERT_TRUE(s->get(path + "/kid", removal_events.callback()).ok());
  ASSERT_TRUE(other->remove(path + "/kid", any_version).ok());
  ASSERT_TRUE(removal_events.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::deleted; }));

  // A get on an absent node arms nothing; an armed watch ends with the
  // session.
  recorder<watch_event> none;
  EXPECT_EQ(s->get(root + "/absent", none.callback()).code(), errc::no_node);
  recorder<watch_event> ended;
  ASSERT_TRUE(s->get(path, ended.callback()).ok());
  ASSERT_TRUE(s->close().ok());
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended.last()->type, watch_event_type::session_ended);
  EXPECT_EQ(none.size(), 0u);
}

TEST(zk_session, callbacks_must_not_block) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  std::string root = testing::unique_root();
  ASSERT_TRUE(s->ensure_path(root).ok());
  std::atomic<int> code{-1};
  ASSERT_TRUE(s->get(root, [&](const watch_event&) {
                 code = static_cast<int>(s->get(root).code());
                 if (s->close().code() != errc::wrong_thread) code = -2;
               }).ok());
  ASSERT_TRUE(s->set(root, "x", any_version).ok());
  ASSERT_TRUE(wait_until([&] { return code != -1; }, 5s));
  EXPECT_EQ(code, static_cast<int>(errc::wrong_thread));
  EXPECT_EQ(s->state(), session_state::connected);
}

TEST(zk_session, data_size_limit) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  std::string root = testing::unique_root();
  ASSERT_TRUE(s->ensure_path(root).ok());
  // The largest data allowed round-trips (the server's limit is higher).
  std::string big(max_data_bytes, 'x');
  ASSERT_TRUE(s->create(root + "/big", big, create_mode::persistent).ok());
  auto got = s->get(root + "/big");
  ASSERT_TRUE(got.ok()) << to_string(got.err());
  EXPECT_EQ(got.value().data.size(), max_data_bytes);
  // One byte more is refused before any I/O.
  big.push_back('x');
  auto refused = s->create(root + "/bigger", big, create_mode::persistent);
  EXPECT_EQ(refused.code(), errc::too_large);
  EXPECT_NE(refused.err().message.find("exceed the limit"), std::string::npos);
  EXPECT_EQ(s->set(root + "/big", big, any_version).code(), errc::too_large);
  EXPECT_EQ(s->state(), session_state::connected);
}

TEST(zk_session, operations_are_bounded_without_servers) {
  // Nothing listens on this port: every connection attempt is refused.
  session_options options;
  options.connect_string = "127.0.0.1:" + std::to_string(agora::test::free_port());
  options.session_timeout = 2s;
  options.operation_timeout = 1s;
  auto opened = session::open(options);
  ASSERT_TRUE(opened.ok());
  auto& s = *opened.value();
  auto start = clock::now();
  EXPECT_EQ(s.wait_connected(300ms).code(), errc::timeout);
  auto got = s.get("/x");
  EXPECT_TRUE(got.code() == errc::connection_loss || got.code() == errc::timeout)
      << to_string(got.err());
  auto created = s.create("/x", "", create_mode::persistent);
  EXPECT_TRUE(created.code() == errc::connection_loss || created.code() == errc::timeout)
      << to_string(created.err());
  EXPECT_LT(ms_since(start), 3000);
  // Never connected: no session to lose.
  EXPECT_EQ(s.state(), session_state::connecting);
}

TEST(zk_session, reports_lost_when_disconnected_past_the_timeout) {
  if (!agora::test::zookeeper_server::available()) GTEST_SKIP() << testing::no_zookeeper;
  agora::test::zookeeper_server server;  // Its own: this test stops it.
  std::string error;
  ASSERT_TRUE(server.start(60s, &error)) << error;

  recorder<session_state> states;
  // 2 s is ZooKeeper's minimum here (2 x tickTime 500 ms = 1 s).
  auto s = testing::connect(
      server.connect_string(), 2s, [&](session_state st) { states.add(st); }, 1s);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->negotiated_timeout(), 2s);
  ASSERT_TRUE(s->create("/eph", "x", create_mode::ephemeral).ok());
  recorder<watch_event> watch;
  ASSERT_TRUE(s->get("/eph", watch.callback()).ok());

  server.stop();
  ASSERT_TRUE(
      states.wait_any([](session_state st) { return st == session_state::disconnected; }, 5s));
  auto disconnected_at = clock::now();
  // Operations fail (bounded) while disconnected.
  auto during = s->get("/eph");
  EXPECT_TRUE(during.code() == errc::connection_loss || during.code() == errc::timeout)
      << to_string(during.err());

  // `lost` after the negotiated timeout, not before (the C client would only
  // report expiry after reaching a server again).
  ASSERT_TRUE(states.wait_last([](session_state st) { return st == session_state::lost; }, 6s))
      << "states seen: " << states.size();
  auto lost_after = ms_since(disconnected_at);
  EXPECT_GE(lost_after, 1500);
  EXPECT_LE(lost_after, 3500);
  EXPECT_EQ(s->state(), session_state::lost);
  EXPECT_EQ(states.items(),
            (std::vector<session_state>{session_state::connected, session_state::disconnected,
                                        session_state::lost}));
  // The armed watch ends; operations are refused at once.
  ASSERT_TRUE(watch.wait_any(
      [](const watch_event& e) { return e.type == watch_event_type::session_ended; }));
  auto start = clock::now();
  EXPECT_EQ(s->get("/eph").code(), errc::session_lost);
  EXPECT_LT(ms_since(start), 100);

  // `lost` is terminal: the server's return changes nothing for this session.
  ASSERT_TRUE(server.start(60s, &error)) << error;
  auto fresh = testing::connect(server.connect_string(), 2s);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(s->state(), session_state::lost);
  ASSERT_TRUE(s->close().ok());
  EXPECT_EQ(states.last(), session_state::lost);
}

}  // namespace
}  // namespace agora::zk
