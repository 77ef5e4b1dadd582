#include "agora/test/zookeeper_server.hpp"

#include <gtest/gtest.h>

namespace agora::test {
namespace {

using namespace std::chrono_literals;

TEST(zookeeper_server, starts_answers_ruok_and_stops) {
  if (!zookeeper_server::available())
    GTEST_SKIP() << "ZooKeeper is not installed (needs java and /usr/share/java/zookeeper*.jar)";
  zookeeper_server zk;
  std::string error;
  ASSERT_TRUE(zk.start(60s, &error)) << error;
  EXPECT_NE(zk.port(), 0);
  EXPECT_EQ(zk.connect_string(), "127.0.0.1:" + std::to_string(zk.port()));
  EXPECT_EQ(zk.four_letter("ruok"), "imok");
  EXPECT_TRUE(zk.healthy());
  auto srvr = zk.four_letter("srvr");
  EXPECT_NE(srvr.find("Zookeeper version: 3.8"), std::string::npos) << srvr;
  EXPECT_NE(srvr.find("Mode: standalone"), std::string::npos) << srvr;
  // ZooKeeper's log goes to the captured stderr, not to the terminal.
  EXPECT_NE(
      zk.process().stderr_text().find("binding to port /127.0.0.1:" + std::to_string(zk.port())),
      std::string::npos);

  pid_t pid = zk.process().pid();
  zk.stop();
  EXPECT_FALSE(process_alive(pid));
  EXPECT_FALSE(zk.healthy());
  EXPECT_EQ(zk.four_letter("ruok"), "");
}

TEST(zookeeper_server, restarts_on_the_same_port) {
  if (!zookeeper_server::available()) GTEST_SKIP() << "ZooKeeper is not installed";
  zookeeper_server zk;
  std::string error;
  ASSERT_TRUE(zk.start(60s, &error)) << error;
  auto port = zk.port();
  zk.stop();
  ASSERT_TRUE(zk.start(60s, &error)) << error;
  EXPECT_EQ(zk.port(), port);
  EXPECT_TRUE(zk.healthy());
}

}  // namespace
}  // namespace agora::test
