#include "agora/observability/process_metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace agora::observability {
namespace {

/// The value of every unlabelled gauge and counter of `reg`, by name.
std::map<std::string, double> values(const prometheus::Registry& reg) {
  std::map<std::string, double> out;
  for (auto& family : reg.Collect())
    for (auto& m : family.metric) {
      if (family.type == prometheus::MetricType::Counter)
        out[family.name] = m.counter.value;
      else if (family.type == prometheus::MetricType::Gauge)
        out[family.name] = m.gauge.value;
    }
  return out;
}

std::map<std::string, double> scrape() {
  prometheus::Registry reg;
  add_process_metrics(reg);
  return values(reg);
}

TEST(process_metrics, reports_this_process_from_proc) {
  auto v = scrape();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds", "process_threads"})
    EXPECT_EQ(v.count(name), 1u) << name;
  EXPECT_GT(v["process_resident_memory_bytes"], 1024 * 1024);
  EXPECT_GE(v["process_virtual_memory_bytes"], v["process_resident_memory_bytes"]);
  EXPECT_GE(v["process_max_fds"], v["process_open_fds"]);
  auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  // Started before now, and not before the test binary could have started.
  EXPECT_LE(v["process_start_time_seconds"], now.count() + 1);
  EXPECT_GT(v["process_start_time_seconds"], now.count() - 3600);
}

TEST(process_metrics, follow_descriptors_threads_and_cpu) {
  auto before = scrape();
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) fds.push_back(::open("/dev/null", O_RDONLY));
  std::thread busy{[] {
    // 200 ms of this thread's own CPU time (not of wall time: on a loaded
    // machine the thread gets less than it asks), so the counter moves by
    // more than its 10 ms tick; at most 20 s of trying.
    auto cpu_ms = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    };
    auto start = cpu_ms();
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    volatile unsigned x = 0;
    while (cpu_ms() - start < 200 && std::chrono::steady_clock::now() < give_up) x = x + 1;
  }};
  auto during = scrape();
  busy.join();
  auto after = scrape();
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(during["process_open_fds"] - before["process_open_fds"], 20);
  EXPECT_EQ(during["process_threads"] - before["process_threads"], 1);
  EXPECT_GE(after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"], 0.1);
  EXPECT_EQ(scrape()["process_open_fds"], before["process_open_fds"]);
}

TEST(build_info, names_the_version_and_a_revision) {
  prometheus::Registry reg;
  add_build_info(reg);
  auto families = reg.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "agora_build_info");
  ASSERT_EQ(families[0].metric.size(), 1u);
  std::map<std::string, std::string> labels;
  for (auto& l : families[0].metric[0].label) labels[l.name] = l.value;
  EXPECT_FALSE(labels["version"].empty());
  EXPECT_NE(labels["version"], "unknown");
  // A 12-digit abbreviated commit, or "unknown" outside a git checkout.
  auto& rev = labels["revision"];
  EXPECT_TRUE(rev == "unknown" ||
              (rev.size() == 12 && rev.find_first_not_of("0123456789abcdef") == std::string::npos))
      << rev;
  EXPECT_EQ(families[0].metric[0].gauge.value, 1);
  EXPECT_EQ(build_description(), labels["version"] + " (" + labels["revision"] + ")");
}

}  // namespace
}  // namespace agora::observability
