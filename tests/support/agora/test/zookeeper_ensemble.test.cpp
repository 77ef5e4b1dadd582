#include "agora/test/zookeeper_ensemble.hpp"

#include <gtest/gtest.h>

#include "agora/test/wait.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

TEST(zookeeper_ensemble, starts_a_quorum_and_survives_its_leader_stopping) {
  if (!zookeeper_server::available())
    GTEST_SKIP() << "ZooKeeper is not installed (needs java and /usr/share/java/zookeeper*.jar)";
  zookeeper_ensemble e;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e.connect_string(), e.server(0).connect_string() + "," + e.server(1).connect_string() +
                                    "," + e.server(2).connect_string());
  std::string error;
  ASSERT_TRUE(e.start(90s, &error)) << error;
  // One leader, two followers; each member has its own id and port.
  int leaders = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    auto mode = e.server(i).mode();
    EXPECT_TRUE(mode == "leader" || mode == "follower") << e.describe();
    leaders += mode == "leader";
    EXPECT_NE(read_file(e.server(i).dir() + "/data/myid").find(std::to_string(i + 1)),
              std::string::npos);
  }
  EXPECT_EQ(leaders, 1) << e.describe();
  EXPECT_TRUE(e.quorum_serving());

  // The leader stops: the other two elect a new one.
  int leader = e.leader_index();
  ASSERT_GE(leader, 0);
  e.stop(static_cast<std::size_t>(leader));
  EXPECT_EQ(e.server(static_cast<std::size_t>(leader)).mode(), "");
  ASSERT_TRUE(wait_until([&] { return e.quorum_serving(); }, 30s, 100ms)) << e.describe();
  EXPECT_NE(e.leader_index(), leader);

  // Back on the same ports and data, it rejoins as a follower.
  ASSERT_TRUE(e.start({static_cast<std::size_t>(leader)}, 90s, &error)) << error;
  EXPECT_EQ(e.server(static_cast<std::size_t>(leader)).mode(), "follower") << e.describe();

  // Two down: the last one stops serving.
  std::size_t a = (static_cast<std::size_t>(leader) + 1) % 3;
  std::size_t b = (static_cast<std::size_t>(leader) + 2) % 3;
  e.stop(a);
  e.stop(b);
  ASSERT_TRUE(
      wait_until([&] { return e.server(static_cast<std::size_t>(leader)).mode().empty(); }, 30s))
      << e.describe();
  EXPECT_FALSE(e.quorum_serving());
}

}  // namespace
}  // namespace agora::test
