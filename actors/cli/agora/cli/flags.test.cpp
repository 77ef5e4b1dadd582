#include "agora/cli/flags.hpp"

#include <gtest/gtest.h>

namespace agora::cli {
namespace {

TEST(flags, parses_all_value_kinds) {
  std::string master = "127.0.0.1:5055";
  int64_t agents = 3;
  uint16_t port = 5050;
  double weight = 1.0;
  bool verbose = false;
  bool color = true;
  std::chrono::milliseconds interval{1000};
  flags f{"prog"};
  f.add("master", &master, "master address");
  f.add("agents", &agents, "agents");
  f.add("port", &port, "port");
  f.add("weight", &weight, "weight");
  f.add("verbose", &verbose, "verbose");
  f.add("color", &color, "color");
  f.add("interval", &interval, "interval");
  std::string error;
  ASSERT_TRUE(f.parse({"--master=h:1", "--agents", "7", "--port=0", "--weight=2.5", "--verbose",
                       "--no-color", "--interval=250ms", "extra"},
                      error))
      << error;
  EXPECT_EQ(master, "h:1");
  EXPECT_EQ(agents, 7);
  EXPECT_EQ(port, 0);
  EXPECT_DOUBLE_EQ(weight, 2.5);
  EXPECT_TRUE(verbose);
  EXPECT_FALSE(color);
  EXPECT_EQ(interval.count(), 250);
  EXPECT_EQ(f.positional(), std::vector<std::string>{"extra"});
  EXPECT_TRUE(f.given("port"));
  EXPECT_FALSE(f.given("nonexistent"));
}

TEST(flags, errors_name_the_flag) {
  uint16_t port = 1;
  std::chrono::milliseconds d{0};
  flags f{"prog"};
  f.add("port", &port, "port");
  f.add("timeout", &d, "timeout");
  f.add_custom("resources", "", "resources", [](const std::string& v, std::string& err) {
    err = "bad resources '" + v + "'";
    return false;
  });
  std::string error;
  EXPECT_FALSE(f.parse({"--port=99999"}, error));
  EXPECT_EQ(error, "--port: '99999' is not a port (0-65535)");
  EXPECT_FALSE(f.parse({"--bogus=1"}, error));
  EXPECT_EQ(error, "unknown flag --bogus");
  EXPECT_FALSE(f.parse({"--timeout=10"}, error));
  EXPECT_NE(error.find("--timeout: '10' is not a duration"), std::string::npos);
  EXPECT_FALSE(f.parse({"--resources=x"}, error));
  EXPECT_EQ(error, "--resources: bad resources 'x'");
  EXPECT_FALSE(f.parse({"--port"}, error));
  EXPECT_EQ(error, "--port: missing value");
}

TEST(flags, host_port_and_durations) {
  std::string host;
  uint16_t port = 0;
  std::string error;
  EXPECT_TRUE(parse_host_port("127.0.0.1:5055", host, port, error));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 5055);
  EXPECT_FALSE(parse_host_port("nohost", host, port, error));
  EXPECT_FALSE(parse_host_port("h:0", host, port, error));
  std::chrono::milliseconds d{0};
  EXPECT_TRUE(parse_duration("1.5s", d, error));
  EXPECT_EQ(d.count(), 1500);
  EXPECT_TRUE(parse_duration("2min", d, error));
  EXPECT_EQ(d.count(), 120000);
  // Overflowing or meaningless lengths are refused, not wrapped around.
  d = std::chrono::milliseconds{7};
  EXPECT_FALSE(parse_duration("1e300s", d, error));
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
  EXPECT_FALSE(parse_duration("99999999999999999999ms", d, error));
  EXPECT_FALSE(parse_duration("infs", d, error));
  EXPECT_FALSE(parse_duration("nanms", d, error));
  EXPECT_EQ(d.count(), 7);
  EXPECT_TRUE(parse_duration("3650d", d, error));
}

}  // namespace
}  // namespace agora::cli
