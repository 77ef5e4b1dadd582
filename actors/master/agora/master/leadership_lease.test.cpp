#include "agora/master/leadership_lease.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace agora::master {
namespace {

using namespace std::chrono_literals;

TEST(leadership_lease, is_valid_only_within_its_validity_after_a_renewal) {
  leadership_lease lease{50ms};
  EXPECT_FALSE(lease.valid());  // never renewed
  lease.renew();
  EXPECT_TRUE(lease.valid());
  // Lapses without renewal (the bound is on the lease, not on an event).
  auto start = leadership_lease::clock::now();
  while (lease.valid()) {
    ASSERT_LT(leadership_lease::clock::now() - start, 5s);
    std::this_thread::yield();
  }
  EXPECT_GE(leadership_lease::clock::now() - start, 45ms);
  lease.renew();
  EXPECT_TRUE(lease.valid());
}

}  // namespace
}  // namespace agora::master
