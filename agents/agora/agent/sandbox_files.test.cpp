#include "agora/agent/sandbox_files.hpp"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

using namespace agora::agent;
namespace fs = std::filesystem;

namespace {

class sandbox_files_test : public ::testing::Test {
 protected:
  void SetUp() override {
    work_dir_ =
        (fs::temp_directory_path() / ("agora-files-" + std::to_string(::getpid()))).string();
    fs::remove_all(work_dir_);
    sandbox_ = work_dir_ + "/frameworks/fw-1/tasks/t1";
    fs::create_directories(sandbox_);
    std::ofstream{sandbox_ + "/stdout"} << "0123456789";
    std::ofstream{work_dir_ + "/secret"} << "secret";
  }
  void TearDown() override { fs::remove_all(work_dir_); }
  std::string work_dir_;
  std::string sandbox_;
};

}  // namespace

TEST_F(sandbox_files_test, reads_whole_files_and_ranges) {
  auto all = read_sandbox_file(work_dir_, sandbox_ + "/stdout", 0, -1);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.data, "0123456789");
  EXPECT_EQ(all.offset, 0);
  auto part = read_sandbox_file(work_dir_, "frameworks/fw-1/tasks/t1/stdout", 3, 4);
  EXPECT_EQ(part.status, 200);
  EXPECT_EQ(part.data, "3456");
  EXPECT_EQ(part.offset, 3);
  auto past_end = read_sandbox_file(work_dir_, sandbox_ + "/stdout", 50, 4);
  EXPECT_EQ(past_end.data, "");
  EXPECT_EQ(past_end.offset, 10);
  // Offset -1 asks for the size (to tail a file), as in Mesos.
  auto size = read_sandbox_file(work_dir_, sandbox_ + "/stdout", -1, -1);
  EXPECT_EQ(size.data, "");
  EXPECT_EQ(size.offset, 10);
}

TEST_F(sandbox_files_test, refuses_paths_outside_the_sandboxes) {
  EXPECT_EQ(read_sandbox_file(work_dir_, work_dir_ + "/secret", 0, -1).status, 403);
  EXPECT_EQ(read_sandbox_file(work_dir_, sandbox_ + "/../../../../secret", 0, -1).status, 403);
  EXPECT_EQ(read_sandbox_file(work_dir_, "/etc/hostname", 0, -1).status, 403);
  // The same answer whether the outside path exists or not: it tells
  // nothing about the host's files.
  EXPECT_EQ(read_sandbox_file(work_dir_, "/etc/no-such-file-here", 0, -1).status, 403);
  EXPECT_EQ(read_sandbox_file(work_dir_, sandbox_ + "/../../../../nope", 0, -1).status, 403);
  // A link planted by a task does not reach outside either.
  fs::create_symlink(work_dir_ + "/secret", sandbox_ + "/link");
  EXPECT_EQ(read_sandbox_file(work_dir_, sandbox_ + "/link", 0, -1).status, 403);
}

TEST_F(sandbox_files_test, reports_missing_files_and_directories) {
  EXPECT_EQ(read_sandbox_file(work_dir_, sandbox_ + "/nope", 0, -1).status, 404);
  EXPECT_EQ(read_sandbox_file(work_dir_, sandbox_, 0, -1).status, 400);
  EXPECT_EQ(read_sandbox_file(work_dir_, "", 0, -1).status, 400);
}
