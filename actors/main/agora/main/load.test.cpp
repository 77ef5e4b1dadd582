#include "agora/main/load.hpp"

#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

namespace agora::main {
namespace {

using namespace std::chrono_literals;
using kind = duration_distribution::kind;

duration_distribution parsed(const std::string& text) {
  duration_distribution d;
  std::string error;
  EXPECT_TRUE(duration_distribution::parse(text, d, error)) << text << ": " << error;
  return d;
}

TEST(load_duration, parses_constants_with_a_unit) {
  auto d = parsed("2s");
  EXPECT_EQ(d.shape, kind::constant);
  EXPECT_EQ(d.a, 2000ms);
  EXPECT_EQ(parsed("500ms").a, 500ms);
  EXPECT_EQ(parsed("0s").a, 0ms);
  EXPECT_EQ(parsed("1.5s").a, 1500ms);
  std::mt19937_64 rng{1};
  EXPECT_EQ(parsed("2s").draw(rng), 2000ms);
  EXPECT_EQ(parsed("2s").to_string(), "2s");
  EXPECT_EQ(parsed("1500ms").to_string(), "1500ms");
}

TEST(load_duration, uniform_draws_stay_within_the_bounds_and_cover_them) {
  auto d = parsed("uniform:1s:3s");
  EXPECT_EQ(d.shape, kind::uniform);
  EXPECT_EQ(d.a, 1000ms);
  EXPECT_EQ(d.b, 3000ms);
  EXPECT_EQ(d.to_string(), "uniform:1s:3s");
  std::mt19937_64 rng{7};
  std::chrono::milliseconds lo_ms{1'000'000}, hi_ms{0};
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto x = d.draw(rng);
    lo_ms = std::min(lo_ms, x);
    hi_ms = std::max(hi_ms, x);
    sum += static_cast<double>(x.count());
  }
  EXPECT_GE(lo_ms, 1000ms);
  EXPECT_LE(hi_ms, 3000ms);
  // 20,000 draws over 2,001 values: both ends come within 10 ms of the bounds.
  EXPECT_LE(lo_ms, 1010ms);
  EXPECT_GE(hi_ms, 2990ms);
  // The mean of U[1000, 3000] is 2000; its standard error here is
  // 577 / sqrt(20000) ~ 4 ms.
  EXPECT_NEAR(sum / n, 2000.0, 25.0);
  // A degenerate range is a constant.
  auto same = parsed("uniform:2s:2s");
  EXPECT_EQ(same.draw(rng), 2000ms);
}

TEST(load_duration, exponential_draws_have_the_mean) {
  auto d = parsed("exp:2s");
  EXPECT_EQ(d.shape, kind::exponential);
  EXPECT_EQ(d.a, 2000ms);
  EXPECT_EQ(d.to_string(), "exp:2s");
  std::mt19937_64 rng{3};
  const int n = 100000;
  double sum = 0;
  int below_mean = 0;
  for (int i = 0; i < n; ++i) {
    auto x = d.draw(rng);
    ASSERT_GE(x, 0ms);
    sum += static_cast<double>(x.count());
    below_mean += x < 2000ms;
  }
  // Mean 2000 ms, standard error 2000 / sqrt(100000) ~ 6.3 ms.
  EXPECT_NEAR(sum / n, 2000.0, 40.0);
  // P(X < mean) = 1 - e^-1 ~ 0.632 for an exponential distribution.
  EXPECT_NEAR(below_mean / static_cast<double>(n), 0.632, 0.01);
  EXPECT_EQ(parsed("exp:0s").draw(rng), 0ms);
}

TEST(load_duration, refuses_other_forms_with_the_text) {
  for (const char* bad : {"", "2", "-1s", "uniform:1s", "uniform:3s:1s", "uniform:1s:3",
                          "exp:", "exp:2", "exp:1s:2s", "gauss:1s", "uniform:1s:2s:3s", "2 s"}) {
    duration_distribution d;
    std::string error;
    EXPECT_FALSE(duration_distribution::parse(bad, d, error)) << bad;
    EXPECT_NE(error.find("'" + std::string{bad} + "'"), std::string::npos) << error;
  }
}

TEST(load_duration, sleep_command_writes_seconds_without_trailing_zeros) {
  EXPECT_EQ(sleep_command(0ms), "sleep 0");
  EXPECT_EQ(sleep_command(250ms), "sleep 0.25");
  EXPECT_EQ(sleep_command(1500ms), "sleep 1.5");
  EXPECT_EQ(sleep_command(1001ms), "sleep 1.001");
  EXPECT_EQ(sleep_command(2000ms), "sleep 2");
  EXPECT_EQ(sleep_command(90s), "sleep 90");
}

TEST(load_fit, counts_the_tasks_each_scalar_allows) {
  auto offer = protocol::resources::make(2, int64_t{1} << 30);
  // 2 cpus / 0.1 = 20; 1 GiB / 32 MiB = 32: the cpus allow fewer.
  EXPECT_EQ(tasks_that_fit(offer, protocol::resources::make(0.1, 32 << 20)), 20);
  // 2000 / 300 = 6 (exact thousandths, no floating-point loss).
  EXPECT_EQ(tasks_that_fit(offer, protocol::resources::make(0.3, 32 << 20)), 6);
  // 1 GiB / 300 MiB = 3: the memory allows fewer.
  EXPECT_EQ(tasks_that_fit(offer, protocol::resources::make(0.1, 300 << 20)), 3);
  // Disk the offer does not have: none.
  EXPECT_EQ(tasks_that_fit(offer, protocol::resources::make(0.1, 32 << 20, 1 << 20)), 0);
  EXPECT_EQ(tasks_that_fit(protocol::resources{}, protocol::resources::make(0.1, 1)), 0);
  EXPECT_EQ(tasks_that_fit(offer, protocol::resources{}), 0);
}

TEST(load_percentiles, nearest_rank_over_a_shuffled_sample) {
  std::vector<int64_t> xs(100);
  std::iota(xs.begin(), xs.end(), 1);  // 1..100
  std::mt19937_64 rng{5};
  std::shuffle(xs.begin(), xs.end(), rng);
  latency_sample s;
  for (auto x : xs) s.add(x);
  auto sum = s.summarize();
  // Nearest rank: p50 is the 50th smallest of 100, p99 the 99th.
  EXPECT_EQ(sum.count, 100);
  EXPECT_EQ(sum.p50, 50);
  EXPECT_EQ(sum.p90, 90);
  EXPECT_EQ(sum.p99, 99);
  EXPECT_EQ(sum.max, 100);
  EXPECT_DOUBLE_EQ(sum.mean, 50.5);
  EXPECT_EQ(s.percentile(100), 100);
  EXPECT_EQ(s.percentile(1), 1);
  // Adding after a query re-sorts: 1..100 and 0 make 101 values; the
  // 51st (ceil(50.5)) smallest is 50.
  s.add(0);
  EXPECT_EQ(s.percentile(50), 50);
  EXPECT_EQ(s.percentile(0.5), 0);
}

TEST(load_percentiles, small_and_empty_samples) {
  latency_sample empty;
  auto e = empty.summarize();
  EXPECT_EQ(e.count, 0);
  EXPECT_EQ(e.p50, 0);
  EXPECT_EQ(e.max, 0);
  latency_sample one;
  one.add(7);
  auto o = one.summarize();
  EXPECT_EQ(o.p50, 7);
  EXPECT_EQ(o.p99, 7);
  EXPECT_EQ(o.max, 7);
  // 1..10: p50 = 5th, p90 = 9th, p99 = ceil(9.9) = 10th.
  latency_sample ten;
  for (int64_t i = 10; i >= 1; --i) ten.add(i);
  auto t = ten.summarize();
  EXPECT_EQ(t.p50, 5);
  EXPECT_EQ(t.p90, 9);
  EXPECT_EQ(t.p99, 10);
  // Always p50 <= p90 <= p99 <= max.
  EXPECT_LE(t.p50, t.p90);
  EXPECT_LE(t.p90, t.p99);
  EXPECT_LE(t.p99, t.max);
}

TEST(load_percentiles, a_million_values) {
  latency_sample s;
  std::mt19937_64 rng{11};
  for (int i = 0; i < 1'000'000; ++i) s.add(static_cast<int64_t>(rng() % 1'000'000));
  auto sum = s.summarize();
  EXPECT_EQ(sum.count, 1'000'000);
  // Uniform on [0, 1e6): the p-th percentile is near p * 1e4.
  EXPECT_NEAR(static_cast<double>(sum.p50), 500'000, 5'000);
  EXPECT_NEAR(static_cast<double>(sum.p99), 990'000, 5'000);
  EXPECT_LE(sum.p99, sum.max);
}

TEST(load_bucket, starts_empty_and_accrues_at_the_rate) {
  token_bucket::clock::time_point t0{};
  token_bucket b{10, 10, t0};  // 10 tokens/s, at most 10
  EXPECT_EQ(b.take(1, 5, t0), 0);
  EXPECT_EQ(b.time_until(1, t0), 100ms);
  // After 100 ms: one token.
  EXPECT_EQ(b.take(1, 5, t0 + 100ms), 1);
  // After 1 s: 9 more (0.1 s .. 1 s); asking for 10 at once gets nothing.
  EXPECT_EQ(b.take(10, 10, t0 + 1s), 0);
  EXPECT_EQ(b.time_until(10, t0 + 1s), 100ms);
  // Between 2 and 5: as many as there are, 9.
  EXPECT_EQ(b.take(2, 5, t0 + 1s), 5);
  EXPECT_EQ(b.take(2, 100, t0 + 1s), 4);
  // Idle for a minute: capped at the capacity.
  EXPECT_EQ(b.take(1, 100, t0 + 61s), 10);
  // Asking for more than the capacity waits at most for a full bucket.
  EXPECT_EQ(b.time_until(100, t0 + 61s), 1s);
}

TEST(load_bucket, never_exceeds_the_rate_when_drained_often) {
  token_bucket::clock::time_point t0{};
  token_bucket b{50, 50, t0};
  int64_t taken = 0;
  // Draining every millisecond for 2 s at 50/s gives 100 tokens, no more
  // (the bucket starts empty, so there is no initial burst).
  for (int ms = 0; ms <= 2000; ++ms) taken += b.take(1, 1000, t0 + std::chrono::milliseconds{ms});
  EXPECT_EQ(taken, 100);
}

}  // namespace
}  // namespace agora::main
