#include "agora/agent/sandbox_gc.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "agora/test/temp_dir.hpp"

namespace agora::agent {
namespace {

using namespace std::chrono_literals;

TEST(sandbox_gc, sandboxes_go_after_the_delay_oldest_first) {
  sandbox_gc gc{{10s, 0.9}};
  auto t0 = sandbox_gc::clock::now();
  auto size = [](const std::string&) -> int64_t { return 100; };
  gc.schedule("/s/a", t0);
  gc.schedule("/s/b", t0 + 5s);
  gc.schedule("/s/c", t0 + 1s);
  EXPECT_EQ(gc.next_due(), t0 + 10s);
  EXPECT_TRUE(gc.collect(t0 + 9s, 0.5, 1000, size).empty());
  EXPECT_EQ(gc.collect(t0 + 11s, 0.5, 1000, size), (std::vector<std::string>{"/s/a", "/s/c"}));
  EXPECT_EQ(gc.size(), 1u);
  EXPECT_EQ(gc.next_due(), t0 + 15s);
  EXPECT_EQ(gc.collect(t0 + 20s, 0.5, 1000, size), (std::vector<std::string>{"/s/b"}));
  EXPECT_FALSE(gc.next_due());
}

TEST(sandbox_gc, a_full_disk_takes_the_oldest_early_until_it_is_below_the_threshold) {
  sandbox_gc gc{{std::chrono::hours{24 * 7}, 0.9}};
  auto t0 = sandbox_gc::clock::now();
  // A 1000-byte disk, 95% full; each sandbox holds 30 bytes (3%).
  auto size = [](const std::string&) -> int64_t { return 30; };
  gc.schedule("/s/new", t0 + 3s);
  gc.schedule("/s/old", t0);
  gc.schedule("/s/mid", t0 + 1s);
  // 95% -> 92% -> 89%: two go, the newest stays.
  EXPECT_EQ(gc.collect(t0 + 4s, 0.95, 1000, size), (std::vector<std::string>{"/s/old", "/s/mid"}));
  EXPECT_EQ(gc.size(), 1u);
  // Below the threshold nothing young goes.
  EXPECT_TRUE(gc.collect(t0 + 5s, 0.85, 1000, size).empty());
}

TEST(sandbox_gc, disk_usage_counts_the_blocks_of_every_file) {
  test::temp_dir d{"gc"};
  std::filesystem::create_directories(d.path() + "/x/y");
  std::ofstream(d.path() + "/x/y/big") << std::string(200 * 1024, 'a');
  std::ofstream(d.path() + "/x/small") << "b";
  auto used = disk_usage(d.path() + "/x");
  EXPECT_GE(used, 200 * 1024);
  EXPECT_LT(used, 400 * 1024);
  EXPECT_EQ(disk_usage(d.path() + "/none"), 0);
  double fill = -1;
  int64_t bytes = 0;
  ASSERT_TRUE(disk_fill(d.path(), fill, bytes));
  EXPECT_GT(fill, 0.0);
  EXPECT_LE(fill, 1.0);
  EXPECT_GT(bytes, 0);
  EXPECT_FALSE(disk_fill(d.path() + "/none", fill, bytes));
}

}  // namespace
}  // namespace agora::agent
