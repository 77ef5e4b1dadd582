#include "agora/discovery/master_info.hpp"

#include <gtest/gtest.h>

namespace agora::discovery {
namespace {

TEST(master_info, round_trips_through_json) {
  master_info m;
  m.id = "abc";
  m.hostname = "h1";
  m.actor_host = "127.0.0.1";
  m.actor_port = 5055;
  m.http_address = "127.0.0.1:5050";
  m.version = "0.1.0";
  master_info back;
  std::string error;
  ASSERT_TRUE(master_info::from_json(m.to_json(), back, error)) << error;
  EXPECT_EQ(back.actor_host, "127.0.0.1");
  EXPECT_EQ(back.actor_port, 5055);
  EXPECT_EQ(back.http_address, "127.0.0.1:5050");
  EXPECT_FALSE(master_info::from_json(R"({"actor_address": "nohost"})", back, error));
  EXPECT_NE(error.find("actor_address"), std::string::npos);
}

TEST(master_info, resolves_host_port_without_zookeeper) {
  std::string host, error;
  uint16_t port = 0;
  ASSERT_TRUE(resolve_master("10.0.0.1:5055", false, host, port, error)) << error;
  EXPECT_EQ(host, "10.0.0.1");
  EXPECT_EQ(port, 5055);
  EXPECT_FALSE(resolve_master("nonsense", false, host, port, error));
  EXPECT_NE(error.find("HOST:PORT"), std::string::npos);
  EXPECT_FALSE(resolve_master("zk://", false, host, port, error));
}

}  // namespace
}  // namespace agora::discovery

namespace agora::discovery {
namespace {

TEST(master_spec, zk_urls_and_host_ports_are_checked_alike_for_every_command) {
  std::string error;
  EXPECT_TRUE(check_master_spec("127.0.0.1:5055", error));
  EXPECT_TRUE(check_master_spec("zk://h1:2181,h2:2181/agora", error));
  EXPECT_FALSE(check_master_spec("zk://:2181/x", error));
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(check_master_spec("nohost", error));
  EXPECT_NE(error.find("is not HOST:PORT or zk://"), std::string::npos) << error;
  EXPECT_FALSE(check_master_spec("h:0", error));
}

}  // namespace
}  // namespace agora::discovery
