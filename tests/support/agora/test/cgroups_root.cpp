#include "agora/test/cgroups_root.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <unistd.h>

namespace agora::test {

namespace fs = std::filesystem;

namespace {

/// Mount points of cgroup (v1) and cgroup2 file systems.
std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> out;
  std::ifstream in{"/proc/self/mounts"};
  std::string dev, where, type;
  std::string rest;
  while (in >> dev >> where >> type && std::getline(in, rest))
    if (type == "cgroup" || type == "cgroup2") out.push_back(where);
  return out;
}

/// Kills the members of `dir` and its descendants, then removes them,
/// deepest first (bounded).
void remove_tree(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) remove_tree(it->path());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  for (;;) {
    std::ifstream procs{dir / "cgroup.procs"};
    long pid = 0;
    while (procs >> pid) ::kill(static_cast<pid_t>(pid), SIGKILL);
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (std::chrono::steady_clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

}  // namespace

std::string test_cgroups_root() { return "agora-test-" + std::to_string(::getpid()); }

void remove_test_cgroups() {
  for (const auto& mount : cgroup_mounts()) {
    fs::path root = fs::path(mount) / test_cgroups_root();
    std::error_code ec;
    if (fs::exists(root, ec)) remove_tree(root);
  }
}

}  // namespace agora::test
