#include "agora/master/bounded_id_set.hpp"

#include <gtest/gtest.h>

namespace agora::master {
namespace {

TEST(bounded_id_set, forgets_the_oldest_beyond_its_capacity) {
  bounded_id_set s{3};
  for (auto id : {"a", "b", "c", "b", "d"}) s.add(id);
  // `b` again is not a new entry; `d` pushes out `a`, the oldest.
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.contains("a"));
  for (auto id : {"b", "c", "d"}) EXPECT_TRUE(s.contains(id)) << id;
  EXPECT_EQ(s.ordered().front(), "b");
}

TEST(bounded_id_set, stays_bounded_under_many_removals) {
  bounded_id_set s{1000};
  for (int i = 0; i < 100000; ++i) s.add("F" + std::to_string(i));
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_TRUE(s.contains("F99999"));
  EXPECT_FALSE(s.contains("F98999"));
  EXPECT_TRUE(s.contains("F99000"));
}

}  // namespace
}  // namespace agora::master
