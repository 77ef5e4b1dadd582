#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agora/test/support.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

TEST(free_port, returns_distinct_bindable_ports) {
  std::set<uint16_t> seen;
  for (int i = 0; i < 50; ++i) {
    auto port = free_port();
    ASSERT_NE(port, 0);
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " returned twice";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << port;
    close(fd);
  }
}

TEST(wait_until, returns_at_once_when_the_predicate_holds) {
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([] { return true; }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(wait_until, returns_when_the_event_happens) {
  // The event: another thread's flag (set after its own bounded work).
  std::atomic<bool> flag{false};
  std::thread t([&] { flag = true; });
  EXPECT_TRUE(wait_until([&] { return flag.load(); }, 10s, 1ms));
  t.join();
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls == 5; }, 10s, 1ms));
  EXPECT_EQ(calls, 5);
}

TEST(wait_until, times_out_after_the_bound) {
  int calls = 0;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until(
      [&] {
        ++calls;
        return false;
      },
      250ms, 20ms));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  // About 250 / 20 polls, plus the first and the final check.
  EXPECT_GE(calls, 5);
  EXPECT_LE(calls, 16);
}

TEST(temp_dir, is_created_and_removed_recursively) {
  unsetenv("AGORA_KEEP_TEST_DIRS");
  std::string path;
  {
    temp_dir dir("agora-unit");
    path = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_NE(path.find("/agora-unit-"), std::string::npos) << path;
    auto file = dir.write("a/b/c.txt", "content");
    EXPECT_EQ(file, path + "/a/b/c.txt");
    EXPECT_EQ(read_file(file), "content");
    EXPECT_EQ(dir.file("x"), path + "/x");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(temp_dir, distinct_directories_and_moves) {
  temp_dir a, b;
  EXPECT_NE(a.path(), b.path());
  std::string path = a.path();
  temp_dir c(std::move(a));
  EXPECT_EQ(c.path(), path);
  EXPECT_TRUE(a.path().empty());
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

TEST(temp_dir, is_kept_when_requested) {
  setenv("AGORA_KEEP_TEST_DIRS", "1", 1);
  std::string path;
  {
    temp_dir dir("agora-kept");
    path = dir.path();
  }
  unsetenv("AGORA_KEEP_TEST_DIRS");
  EXPECT_TRUE(std::filesystem::is_directory(path));
  std::filesystem::remove_all(path);
  setenv("AGORA_KEEP_TEST_DIRS", "0", 1);  // "0" means no.
  EXPECT_FALSE(temp_dir::keep_requested());
  unsetenv("AGORA_KEEP_TEST_DIRS");
}

TEST(binary_path, points_into_the_build_bin_dir_unless_overridden) {
  unsetenv("AGORA_BIN_DIR");
  auto dir = binary_dir();
  EXPECT_EQ(dir.substr(dir.size() - 4), "/bin") << dir;
  EXPECT_EQ(binary_path("agora-master"), dir + "/agora-master");
  // This test binary itself lives there.
  EXPECT_TRUE(binary_exists("agora_test_support_test")) << dir;
  EXPECT_FALSE(binary_exists("agora-no-such-binary"));
  setenv("AGORA_BIN_DIR", "/opt/agora/bin", 1);
  EXPECT_EQ(binary_path("agora-agent"), "/opt/agora/bin/agora-agent");
  unsetenv("AGORA_BIN_DIR");
}

}  // namespace
}  // namespace agora::test
