#include "agora/agent/cgroups.hpp"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "agora/test/support.hpp"

// The cgroup layouts and the isolator's writes over fake cgroup trees in a
// temp directory (so the v2 code runs on machines without v2 controllers);
// what the kernel does with them is tested on real cgroups in
// containerizer.test.cpp.

namespace agora::agent::cgroups {
namespace {

namespace fs = std::filesystem;

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string get(const std::string& path) { return read_file(path).value_or("<missing>"); }

/// A mount table line.
std::string mount_line(const std::string& where, const std::string& type, const std::string& opts) {
  return type + " " + where + " " + type + " " + opts + " 0 0\n";
}

TEST(cgroups_detect, prefers_v2_when_its_controllers_are_enabled) {
  test::temp_dir d{"cg"};
  auto v2 = d.path() + "/unified";
  put(v2 + "/cgroup.controllers", "cpuset cpu io memory pids");
  put(v2 + "/cgroup.subtree_control", "cpu memory pids");
  auto l = detect(mount_line("/proc", "proc", "rw") + mount_line(v2, "cgroup2", "rw,nsdelegate"));
  EXPECT_EQ(l.ver, version::v2);
  EXPECT_EQ(l.v2_mount, v2);
}

TEST(cgroups_detect, a_v2_mount_without_controllers_falls_back_to_v1_and_says_why) {
  // This machine's layout: the controllers are bound to v1 hierarchies and
  // the unified mount has none.
  test::temp_dir d{"cg"};
  auto root = d.path();
  put(root + "/unified/cgroup.controllers", "");
  std::string mounts = mount_line(root + "/unified", "cgroup2", "rw");
  for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    fs::create_directories(root + "/" + c);
    mounts += mount_line(root + "/" + c, "cgroup", std::string("rw,relatime,") + c);
  }
  auto l = detect(mounts);
  ASSERT_EQ(l.ver, version::v1);
  EXPECT_EQ(l.v1_mounts.at("memory"), root + "/memory");
  EXPECT_EQ(l.v1_mounts.at("freezer"), root + "/freezer");
  ASSERT_FALSE(l.notes.empty());
  EXPECT_NE(l.notes[0].find("lacks the cpu, memory, pids controllers"), std::string::npos)
      << l.notes[0];
}

TEST(cgroups_detect, co_mounted_and_escaped_v1_hierarchies_are_found) {
  test::temp_dir d{"cg"};
  auto cpu = d.path() + "/cpu,cpuacct";
  auto mem = d.path() + "/mem ory";  // a space: \040 in the mount table
  fs::create_directories(cpu);
  fs::create_directories(mem);
  auto l = detect(mount_line(cpu, "cgroup", "rw,cpu,cpuacct") +
                  mount_line(d.path() + "/mem\\040ory", "cgroup", "rw,memory") +
                  mount_line(d.path() + "/pids", "cgroup", "rw,pids"));
  ASSERT_EQ(l.ver, version::v1);
  EXPECT_EQ(l.v1_mounts.at("cpu"), cpu);
  EXPECT_EQ(l.v1_mounts.at("cpuacct"), cpu);
  EXPECT_EQ(l.v1_mounts.at("memory"), mem);
}

TEST(cgroups_detect, missing_controllers_mean_none_with_the_reason) {
  auto l = detect(mount_line("/x/cpu", "cgroup", "rw,cpu") +
                  mount_line("/x/mem", "cgroup", "rw,memory"));
  EXPECT_EQ(l.ver, version::none);
  ASSERT_FALSE(l.notes.empty());
  EXPECT_NE(l.notes.back().find("lacks the pids controller"), std::string::npos) << l.notes.back();
  auto nothing = detect(mount_line("/proc", "proc", "rw"));
  EXPECT_EQ(nothing.ver, version::none);
  EXPECT_EQ(nothing.notes.back(), "no cgroup filesystem is mounted");
  // v2 whose controllers cannot be enabled (the write lands in a plain file
  // here, and the file does not list them afterwards).
  test::temp_dir d{"cg"};
  put(d.path() + "/u/cgroup.controllers", "cpu memory pids");
  put(d.path() + "/u/cgroup.subtree_control", "");
  auto stuck = detect(mount_line(d.path() + "/u", "cgroup2", "rw"));
  EXPECT_EQ(stuck.ver, version::none);
  EXPECT_NE(stuck.notes[0].find("cannot enable"), std::string::npos) << stuck.notes[0];
}

TEST(cgroups_detect, keyed_files_are_read_by_key) {
  EXPECT_EQ(keyed_value("low 0\nhigh 3\nmax 0\noom 2\noom_kill 1\n", "oom_kill"), 1);
  EXPECT_EQ(keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 4", "oom_kill"), 4);
  EXPECT_FALSE(keyed_value("usage_usec 10\n", "oom_kill"));
  EXPECT_FALSE(keyed_value("oom_kill x\n", "oom_kill"));
}

launch_request request(const std::string& task, int64_t cpus_milli, int64_t mem) {
  launch_request r;
  r.framework_id = "fw";
  r.task_id = task;
  r.command = "true";
  r.limits.cpus_milli = cpus_milli;
  r.limits.mem_bytes = mem;
  return r;
}

TEST(cgroups_isolator, v2_limits_membership_usage_and_oom_go_to_the_unified_files) {
  test::temp_dir d{"cg"};
  auto v2 = d.path() + "/unified";
  put(v2 + "/cgroup.controllers", "cpu memory pids");
  put(v2 + "/cgroup.subtree_control", "cpu memory pids");
  // The agent's levels, as the kernel would show them once enabled.
  options o;
  o.root = "agora-t";
  o.enable_cfs = true;
  o.max_pids = 77;
  layout l = detect(mount_line(v2, "cgroup2", "rw"));
  ASSERT_EQ(l.ver, version::v2);
  // Levels whose controllers are not enabled are refused...
  std::string error;
  auto iso = isolator::create(l, o, "/some/work/dir", error);
  ASSERT_FALSE(iso);
  EXPECT_NE(error.find("cannot enable cpu, memory and pids in " + v2 + "/agora-t/"),
            std::string::npos)
      << error;
  // ... and taken once they are, as the kernel shows them after the writes.
  auto agent = agent_cgroup(o, "/some/work/dir");
  put(v2 + "/agora-t/cgroup.subtree_control", "cpu memory pids");
  put(v2 + "/" + agent + "/cgroup.subtree_control", "cpu memory pids");
  iso = isolator::create(l, o, "/some/work/dir", error);
  ASSERT_TRUE(iso) << error;
  ASSERT_EQ(iso->agent_dirs().size(), 1u);
  EXPECT_EQ(iso->agent_dirs()[0].rfind(v2 + "/agora-t/a-", 0), 0u) << iso->agent_dirs()[0];

  auto req = request("t1", 1500, 256 << 20);
  ASSERT_TRUE(iso->prepare(req, "/sandbox", error)) << error;
  auto paths = iso->paths("fw", "t1");
  ASSERT_EQ(paths.size(), 1u);
  auto dir = paths[0];
  EXPECT_EQ(get(dir + "/cpu.weight"), "150");
  EXPECT_EQ(get(dir + "/cpu.max"), "150000 100000");
  EXPECT_EQ(get(dir + "/memory.max"), std::to_string(256 << 20));
  EXPECT_EQ(get(dir + "/pids.max"), "77");
  ASSERT_TRUE(iso->isolate(req, 4242, error)) << error;
  EXPECT_EQ(get(dir + "/cgroup.procs"), "4242");

  put(dir + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nnr_throttled 9\n");
  put(dir + "/memory.current", "1048576");
  put(dir + "/memory.peak", "2097152");
  put(dir + "/pids.current", "3");
  put(dir + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n");
  auto u = iso->usage("fw", "t1");
  ASSERT_TRUE(u);
  EXPECT_DOUBLE_EQ(u->cpu_seconds, 2.5);
  EXPECT_EQ(u->throttled_periods, 9);
  EXPECT_EQ(u->mem_bytes, 1048576);
  EXPECT_EQ(u->mem_peak_bytes, 2097152);
  EXPECT_EQ(u->pids, 3);
  EXPECT_EQ(u->limits.max_pids, 77);
  EXPECT_FALSE(iso->limitation(req));  // `oom` without `oom_kill`: nothing was killed
  put(dir + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  auto lim = iso->limitation(req);
  ASSERT_TRUE(lim);
  EXPECT_EQ(lim->reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  EXPECT_NE(lim->message.find("memory limit of 256 MiB"), std::string::npos) << lim->message;
  EXPECT_FALSE(iso->usage("fw", "other"));
  EXPECT_EQ(iso->tasks(), (std::vector<std::pair<std::string, std::string>>{{"fw", "t1"}}));
}

TEST(cgroups_isolator, v1_limits_go_to_each_controllers_hierarchy) {
  test::temp_dir d{"cg"};
  std::string mounts;
  for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
    fs::create_directories(d.path() + "/" + c);
    mounts += mount_line(d.path() + "/" + c, "cgroup", std::string("rw,") + c);
  }
  auto l = detect(mounts);
  ASSERT_EQ(l.ver, version::v1);
  options o;
  o.root = "agora-t";
  std::string error;
  auto iso = isolator::create(l, o, "/w", error);
  ASSERT_TRUE(iso) << error;
  EXPECT_EQ(iso->agent_dirs().size(), 5u);
  auto req = request("t1", 500, 64 << 20);
  req.limits.max_pids = 10;
  ASSERT_TRUE(iso->prepare(req, "/sandbox", error)) << error;
  auto in = [&](const std::string& c) {
    for (const auto& p : iso->paths("fw", "t1"))
      if (p.rfind(d.path() + "/" + c + "/", 0) == 0) return p;
    return std::string{};
  };
  EXPECT_EQ(get(in("cpu") + "/cpu.shares"), "512");
  EXPECT_EQ(get(in("cpu") + "/cpu.cfs_quota_us"), "<missing>");  // no cap without enable_cfs
  EXPECT_EQ(get(in("memory") + "/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(get(in("pids") + "/pids.max"), "10");
  EXPECT_EQ(get(in("memory") + "/cpu.shares"), "<missing>");  // each file in its hierarchy
  ASSERT_TRUE(iso->isolate(req, 99, error)) << error;
  for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"})
    EXPECT_EQ(get(in(c) + "/cgroup.procs"), "99") << c;
  put(in("cpuacct") + "/cpuacct.usage", "1500000000");
  put(in("memory") + "/memory.usage_in_bytes", "4096");
  put(in("memory") + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  auto u = iso->usage("fw", "t1");
  ASSERT_TRUE(u);
  EXPECT_DOUBLE_EQ(u->cpu_seconds, 1.5);
  EXPECT_EQ(u->mem_bytes, 4096);
  auto lim = iso->limitation(req);
  ASSERT_TRUE(lim);
  EXPECT_NE(lim->message.find("2 processes"), std::string::npos) << lim->message;
  // A task asking for less memory than a shell needs gets the floor.
  auto tiny = request("t2", 100, 1 << 20);
  ASSERT_TRUE(iso->prepare(tiny, "/sandbox", error)) << error;
  for (const auto& p : iso->paths("fw", "t2")) {
    if (p.rfind(d.path() + "/memory/", 0) == 0) {
      EXPECT_EQ(get(p + "/memory.limit_in_bytes"), std::to_string(min_memory));
    }
  }
}

TEST(cgroups_isolator, a_root_that_cannot_be_created_is_a_clear_error) {
  test::temp_dir d{"cg"};
  put(d.path() + "/memory", "a file where the hierarchy should be");
  layout l;
  l.ver = version::v1;
  for (auto c : {"cpu", "memory", "pids"}) l.v1_mounts[c] = d.path() + "/" + c;
  std::string error;
  EXPECT_FALSE(isolator::create(l, options{}, "/w", error));
  EXPECT_NE(error.find("cannot create cgroup " + d.path() + "/memory/agora/a-"), std::string::npos)
      << error;
  layout none;
  none.notes.push_back("no cgroup filesystem is mounted");
  EXPECT_FALSE(isolator::create(none, options{}, "/w", error));
  EXPECT_EQ(error, "no usable cgroup hierarchy: no cgroup filesystem is mounted");
}

}  // namespace
}  // namespace agora::agent::cgroups
