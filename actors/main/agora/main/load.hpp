#pragma once

// `agora load`: a load-generating framework. F frameworks (each its own
// scheduler driver) launch N tasks in total through the normal offer cycle,
// at a rate limit shared by all of them or as fast as offers allow, and
// measure placements per second, accept-to-RUNNING latency and the
// frameworks' own offer-to-accept decision time.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agora/protocol/resources.hpp"
#include "agora/protocol/tls.hpp"

namespace agora::main {

/// How long each task of a load run lasts: a constant (`2s`, `500ms`),
/// uniform between two durations (`uniform:1s:3s`) or exponentially
/// distributed around a mean (`exp:2s`). Durations have millisecond
/// resolution and need a unit.
struct duration_distribution {
  enum class kind { constant, uniform, exponential };
  kind shape = kind::constant;
  /// constant: the duration; uniform: the lower bound; exponential: the mean.
  std::chrono::milliseconds a{0};
  /// uniform: the upper bound (>= `a`); unused otherwise.
  std::chrono::milliseconds b{0};

  /// Parses `text`; returns false and sets `error` (without the flag name)
  /// when it is none of the forms above.
  static bool parse(const std::string& text, duration_distribution& out, std::string& error);

  /// Returns one duration drawn with `rng` (always `a` for a constant).
  std::chrono::milliseconds draw(std::mt19937_64& rng) const;

  /// Returns the text form `parse` accepts.
  std::string to_string() const;
};

/// Returns the shell command of a task lasting `d`: `sleep S` with S in
/// seconds, written without trailing zeros (`sleep 0`, `sleep 0.25`,
/// `sleep 2`), which real agents run with sleep(1) and simulated agents turn
/// into a timer.
std::string sleep_command(std::chrono::milliseconds d);

/// Returns how many tasks of size `task` fit into `offered` (each scalar
/// the task asks for divides; ports are not considered). 0 when `task` asks
/// for nothing.
int64_t tasks_that_fit(const protocol::resources& offered, const protocol::resources& task);

/// Percentiles of a sample, exact: every value is kept (8 bytes each, so a
/// million values take 8 MB) and sorted when a figure is asked for.
class latency_sample {
 public:
  /// Figures of the sample; all zero when it is empty.
  struct summary {
    int64_t count = 0;
    int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
    double mean = 0;
  };

  void add(int64_t value);
  int64_t count() const { return static_cast<int64_t>(values_.size()); }
  /// Returns the nearest-rank percentile `p` (0 < p <= 100): the smallest
  /// value that at least p% of the values are less than or equal to.
  int64_t percentile(double p);
  summary summarize();

 private:
  void sort();
  std::vector<int64_t> values_;
  bool sorted_ = true;
};

/// A token bucket: `rate` tokens per second accrue up to `capacity`,
/// starting from none. Not thread-safe; time is passed in, so tests drive it.
class token_bucket {
 public:
  using clock = std::chrono::steady_clock;
  token_bucket(double rate, double capacity, clock::time_point start);

  /// Takes between `at_least` and `at_most` whole tokens if `at_least` are
  /// there at `now`: as many as there are, up to `at_most`. Returns how many
  /// it took (0 when fewer than `at_least` were there).
  int64_t take(int64_t at_least, int64_t at_most, clock::time_point now);

  /// Returns how long until `n` tokens are there (0 if they are now; never
  /// more than the time to fill the bucket).
  clock::duration time_until(int64_t n, clock::time_point now);

  double rate() const { return rate_; }

 private:
  void refill(clock::time_point now);
  double rate_;
  double capacity_;
  double tokens_ = 0;
  clock::time_point last_;
};

/// What `agora load` was asked to do.
struct load_options {
  std::string master = "127.0.0.1:5055";
  /// `--tls-*`: TLS on the frameworks' connections to the master.
  protocol::tls_options tls;
  int64_t tasks = 100;
  /// Tasks per second over all frameworks; empty: as fast as offers allow.
  std::optional<double> rate;
  duration_distribution task_duration{duration_distribution::kind::constant,
                                      std::chrono::milliseconds{1000},
                                      std::chrono::milliseconds{0}};
  int64_t frameworks = 1;
  /// Framework i subscribes with `roles[i % roles.size()]`.
  std::vector<std::string> roles{"*"};
  protocol::resources task_resources = protocol::resources::make(0.1, 32 << 20);
  /// Replaces `sleep D` when set.
  std::string command;
  std::chrono::milliseconds progress_interval{5000};
  /// Give up after this long (0: never).
  std::chrono::milliseconds timeout{0};
  bool json = false;
  uint64_t seed = 1;
  /// Start this many `/bin/sh -c true` processes first and report the rate
  /// (0: skip).
  int64_t spawn_baseline = 0;
};

/// Runs `agora load` (argv[1] is `load`); returns the exit status: 0 when
/// every task finished, 1 when tasks ended otherwise or the master refused
/// a framework, 2 on a bad flag, 124 on `--timeout`, 130 on SIGINT/SIGTERM.
int run_load(int argc, char** argv);

}  // namespace agora::main
