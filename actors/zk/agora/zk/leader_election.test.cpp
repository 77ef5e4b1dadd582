#include "agora/zk/leader_election.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agora/test/ports.hpp"
#include "agora/test/wait.hpp"
#include "agora/test/zookeeper_server.hpp"
#include "agora/zk/detail/group.hpp"
#include "agora/zk/leader_detector.hpp"
#include "agora/zk/path.hpp"
#include "agora/zk/zk_test.hpp"

namespace agora::zk {
namespace {

using namespace std::chrono_literals;
using agora::test::wait_until;
using testing::contender;
using testing::join;
using testing::recorder;
using clock = std::chrono::steady_clock;
using detected = std::optional<leader_info>;

long long ms_since(clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
}

int64_t sequence_of(const std::string& member) {
  return detail::member_sequence(member).value_or(-1);
}

zk_url url_for(const std::string& connect, const std::string& root) {
  return zk_url::parse("zk://" + connect + root).value();
}

TEST(zk_leader_election, member_names_carry_the_epoch) {
  EXPECT_EQ(detail::member_sequence("member_0000000012"), 12);
  EXPECT_EQ(detail::member_sequence("member_2147483647"), 2147483647);
  EXPECT_FALSE(detail::member_sequence("member_12"));
  EXPECT_FALSE(detail::member_sequence("other_0000000012"));
  EXPECT_FALSE(detail::member_sequence("member_00000000x2"));
}

TEST(zk_leader_election, rejects_bad_options) {
  session_options options;
  options.connect_string = "127.0.0.1:1";
  auto s = session::open(options);
  ASSERT_TRUE(s.ok());
  auto cb = [](const election_view&) {};
  EXPECT_EQ(leader_election::start(*s.value(), {"relative", "", cb}).code(),
            errc::invalid_argument);
  EXPECT_EQ(leader_election::start(*s.value(), {"/", "", cb}).code(), errc::invalid_argument);
  EXPECT_EQ(leader_election::start(*s.value(), {"/a", "", {}}).code(), errc::invalid_argument);
  EXPECT_EQ(
      leader_election::start(*s.value(), {"/a", std::string(max_data_bytes + 1, 'x'), cb}).code(),
      errc::too_large);
}

TEST(zk_leader_election, lowest_leads_and_the_next_takes_over_with_a_higher_epoch) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  recorder<detected> detections;
  auto detector =
      leader_detector::start(url_for(server->connect_string(), root), detections.callback());
  ASSERT_TRUE(detector.ok());
  // No group yet: the detector reports "none".
  ASSERT_TRUE(detections.wait_last([](const detected& d) { return !d; }));

  std::vector<std::unique_ptr<contender>> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(join(server->connect_string(), root, R"({"master":)" + std::to_string(i) + "}"));
    ASSERT_NE(cs.back(), nullptr);
  }
  // The first to join has the lowest sequence number and leads; everyone
  // agrees on the leader and sees all three members.
  ASSERT_TRUE(cs[0]->wait_leading());
  for (auto& c : cs) {
    ASSERT_TRUE(c->views.wait_last([&](const election_view& v) {
      return v.members.size() == 3 && v.leader && v.leader->member == cs[0]->self();
    })) << c->data;
    auto v = c->election->view();
    EXPECT_EQ(v.leading, c == cs[0]);
    EXPECT_EQ(v.session, session_state::connected);
    EXPECT_EQ(v.leader->data, cs[0]->data);
    EXPECT_EQ(v.leader->epoch, sequence_of(cs[0]->self()));
    EXPECT_EQ(v.members, (std::vector<std::string>{cs[0]->self(), cs[1]->self(), cs[2]->self()}));
  }
  ASSERT_TRUE(detections.wait_last([&](const detected& d) {
    return d && d->member == cs[0]->self() && d->data == cs[0]->data;
  }));

  // Closing the leader's session removes its member at once: the next one
  // leads, with a higher epoch, and the detector follows.
  int64_t previous_epoch = cs[0]->election->view().leader->epoch;
  for (std::size_t next = 1; next < cs.size(); ++next) {
    auto& old = cs[next - 1];
    auto closed_at = clock::now();
    ASSERT_TRUE(old->s->close().ok());
    ASSERT_TRUE(old->views.wait_last(
        [](const election_view& v) { return !v.leading && v.session == session_state::closed; }));
    ASSERT_TRUE(cs[next]->wait_leading(5s)) << "no takeover by " << cs[next]->data;
    EXPECT_LT(ms_since(closed_at), 2000);
    auto v = cs[next]->election->view();
    ASSERT_TRUE(v.leader);
    EXPECT_GT(v.leader->epoch, previous_epoch);
    previous_epoch = v.leader->epoch;
    EXPECT_EQ(v.leader->data, cs[next]->data);
    EXPECT_EQ(v.members.size(), cs.size() - next);
    ASSERT_TRUE(detections.wait_last([&](const detected& d) {
      return d && d->member == cs[next]->self() && d->epoch == previous_epoch;
    }));
  }
  // The last one withdraws: no leader.
  ASSERT_TRUE(cs.back()->election->withdraw().ok());
  ASSERT_TRUE(detections.wait_last([](const detected& d) { return !d; }));
  // The detector saw the leaders in order, each epoch higher.
  int64_t last_epoch = -1;
  for (const auto& d : detections.items()) {
    if (!d) continue;
    EXPECT_GE(d->epoch, last_epoch);
    last_epoch = d->epoch;
  }
}

TEST(zk_leader_election, withdraw_hands_leadership_over) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  auto a = join(server->connect_string(), root, "a");
  auto b = join(server->connect_string(), root, "b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->wait_leading());
  std::string a_self = a->self();
  auto withdrawn_at = clock::now();
  ASSERT_TRUE(a->election->withdraw().ok());
  EXPECT_TRUE(a->election->withdraw().ok());  // Idempotent.
  auto last = a->views.last();
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->leading);
  EXPECT_EQ(last->self, "");
  ASSERT_TRUE(b->wait_leading(5s));
  EXPECT_LT(ms_since(withdrawn_at), 2000);
  EXPECT_EQ(b->election->view().members, (std::vector<std::string>{b->self()}));
  EXPECT_FALSE(a->s->exists(join_path(root, "leader/" + a_self)).value().has_value());
}

TEST(zk_leader_election, withdraw_from_on_change_is_refused) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  std::atomic<leader_election*> election{nullptr};
  std::atomic<int> code{-1};
  auto started = leader_election::start(*s, {root, "x", [&](const election_view&) {
                                               auto* e = election.load();
                                               if (e != nullptr && code == -1)
                                                 code = static_cast<int>(e->withdraw().code());
                                             }});
  ASSERT_TRUE(started.ok());
  election = started.value().get();
  ASSERT_TRUE(wait_until([&] { return started.value()->view().leading; }, 10s));
  // Another member changes the view: on_change runs again, now with
  // `election` set.
  auto other = join(server->connect_string(), root, "y");
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(wait_until([&] { return code != -1; }, 10s));
  EXPECT_EQ(code, static_cast<int>(errc::wrong_thread));
  EXPECT_TRUE(started.value()->view().leading);
}

TEST(zk_leader_election, a_removed_member_stops_leading) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  auto a = join(server->connect_string(), root, "a");
  auto b = join(server->connect_string(), root, "b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->wait_leading());
  // Someone else (an operator) removes the leader's node.
  auto admin = testing::connect(server->connect_string());
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->remove(join_path(root, "leader/" + a->self()), any_version).ok());
  ASSERT_TRUE(a->views.wait_last([](const election_view& v) {
    return !v.leading && v.self.empty() && v.session == session_state::connected;
  }));
  ASSERT_TRUE(b->wait_leading(5s));
  // `a` does not rejoin by itself.
  EXPECT_EQ(b->election->view().members, (std::vector<std::string>{b->self()}));
}

TEST(zk_leader_election, tolerates_members_vanishing_while_it_reads) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  std::string dir = join_path(root, "leader");
  auto churner = testing::connect(server->connect_string());
  ASSERT_NE(churner, nullptr);
  ASSERT_TRUE(churner->ensure_path(dir).ok());

  recorder<detected> detections;
  auto detector =
      leader_detector::start(url_for(server->connect_string(), root), detections.callback());
  ASSERT_TRUE(detector.ok());
  ASSERT_TRUE(detections.wait_last([](const detected& d) { return !d; }));

  // Members that appear and vanish at once, so that readers often list one
  // and then find it gone; a contender joins half-way and must end up
  // leading, with every report consistent.
  std::atomic<int> rounds{0};
  std::atomic<bool> failed{false};
  std::thread churn([&] {
    for (int i = 0; i < 200; ++i) {
      auto created =
          churner->create(join_path(dir, "member_"), "churn", create_mode::ephemeral_sequential);
      if (!created || !churner->remove(created.value(), any_version)) failed = true;
      ++rounds;
    }
  });
  ASSERT_TRUE(wait_until([&] { return rounds >= 50; }, 20s));
  auto c = join(server->connect_string(), root, "stable");
  churn.join();
  ASSERT_FALSE(failed);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->wait_leading(5s));
  ASSERT_TRUE(detections.wait_last(
      [&](const detected& d) { return d && d->member == c->self() && d->data == "stable"; }));
  for (const auto& d : detections.items()) {
    if (!d) continue;
    // A leader's data always belongs to that member.
    if (d->data == "stable") {
      EXPECT_EQ(d->member, c->self());
    } else {
      EXPECT_EQ(d->data, "churn");
    }
    EXPECT_EQ(d->epoch, sequence_of(d->member));
  }
  // The contender never saw itself removed and never lost its session.
  for (const auto& v : c->views.items()) {
    EXPECT_EQ(v.session, session_state::connected);
    EXPECT_FALSE(v.self.empty());
  }
}

TEST(zk_leader_election, reports_not_leading_when_the_session_is_lost) {
  if (!agora::test::zookeeper_server::available()) GTEST_SKIP() << testing::no_zookeeper;
  agora::test::zookeeper_server server;  // Its own: this test stops it.
  std::string error;
  ASSERT_TRUE(server.start(60s, &error)) << error;
  auto c = join(server.connect_string(), "/agora", "solo", 2s);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->wait_leading());

  server.stop();
  // Disconnected: still the leader as far as it knows, but told the session
  // is not connected...
  ASSERT_TRUE(c->views.wait_any([](const election_view& v) {
    return v.session == session_state::disconnected && v.leading;
  }));
  auto disconnected_at = clock::now();
  // ...then lost after the session timeout (2 s): not leading any more.
  ASSERT_TRUE(c->views.wait_last(
      [](const election_view& v) { return v.session == session_state::lost && !v.leading; }, 6s));
  EXPECT_GE(ms_since(disconnected_at), 1500);
  auto v = c->election->view();
  EXPECT_EQ(v.self, "");
  EXPECT_FALSE(v.leader);
}

TEST(zk_leader_detector, follows_across_its_own_session_loss) {
  if (!agora::test::zookeeper_server::available()) GTEST_SKIP() << testing::no_zookeeper;
  agora::test::zookeeper_server server;  // Its own: this test stops it.
  std::string error;
  ASSERT_TRUE(server.start(60s, &error)) << error;
  // The contender's session outlives the outage (a restarted server gives
  // sessions a fresh timeout); the detector's (2 s) does not.
  auto c = join(server.connect_string(), "/agora", "long-lived", 20s);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->wait_leading());
  recorder<detected> detections;
  detector_options options;
  options.session_timeout = 2s;
  options.operation_timeout = 1s;
  auto detector = leader_detector::start(url_for(server.connect_string(), "/agora"),
                                         detections.callback(), options);
  ASSERT_TRUE(detector.ok());
  ASSERT_TRUE(
      detections.wait_last([&](const detected& d) { return d && d->data == "long-lived"; }));

  server.stop();
  // The detector's session is lost: the leader is unknown.
  ASSERT_TRUE(detections.wait_last([](const detected& d) { return !d; }, 8s));
  ASSERT_TRUE(server.start(60s, &error)) << error;
  // A new session finds the same leader again.
  ASSERT_TRUE(detections.wait_last(
      [&](const detected& d) { return d && d->member == c->self() && d->data == "long-lived"; },
      20s));
  EXPECT_TRUE(c->election->view().leading);
}

TEST(zk_leader_detector, detect_leader_is_a_bounded_one_shot_lookup) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  std::string url = "zk://" + server->connect_string() + root;

  // No leader: a timeout naming the group.
  auto start = clock::now();
  auto none = detect_leader(url, 500ms);
  EXPECT_EQ(none.code(), errc::timeout);
  EXPECT_NE(none.err().message.find(root + "/leader"), std::string::npos) << none.err().message;
  EXPECT_LT(ms_since(start), 2000);

  // A leader elected while it waits is returned.
  std::unique_ptr<contender> c;
  std::thread later([&] { c = join(server->connect_string(), root, R"({"id":"m1"})"); });
  auto found = detect_leader(url, 20s);
  later.join();
  ASSERT_TRUE(found.ok()) << to_string(found.err());
  EXPECT_EQ(found.value().data, R"({"id":"m1"})");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(found.value().member, c->self());
  EXPECT_EQ(found.value().epoch, sequence_of(c->self()));

  // Nothing listening, or a bad URL: bounded errors.
  start = clock::now();
  auto unreachable =
      detect_leader("zk://127.0.0.1:" + std::to_string(agora::test::free_port()) + "/x", 500ms);
  EXPECT_FALSE(unreachable.ok());
  EXPECT_LT(ms_since(start), 2000);
  EXPECT_EQ(detect_leader("zk://h/x", 500ms).code(), errc::invalid_argument);
}

}  // namespace
}  // namespace agora::zk
