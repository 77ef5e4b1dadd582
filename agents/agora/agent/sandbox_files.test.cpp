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

TEST_F(sandbox_files_test, lists_a_sandbox_with_paths_for_the_next_request) {
  fs::create_directories(sandbox_ + "/out/deep");
  std::ofstream{sandbox_ + "/stderr"} << "err";
  auto listing = browse_sandbox_dir(work_dir_, "frameworks/fw-1/tasks/t1");
  ASSERT_EQ(listing.status, 200) << listing.error;
  EXPECT_EQ(listing.path, "frameworks/fw-1/tasks/t1");
  ASSERT_EQ(listing.entries.size(), 3u);
  EXPECT_EQ(listing.entries[0].name, "out");
  EXPECT_TRUE(listing.entries[0].dir);
  EXPECT_EQ(listing.entries[1].name, "stderr");
  EXPECT_EQ(listing.entries[1].size, 3);
  EXPECT_EQ(listing.entries[2].path, "frameworks/fw-1/tasks/t1/stdout");
  EXPECT_EQ(listing.entries[2].size, 10);
  EXPECT_GT(listing.entries[2].mtime, 1.6e9);
  // The path of an entry lists it in turn; the JSON names every field.
  auto sub = browse_sandbox_dir(work_dir_, listing.entries[0].path);
  ASSERT_EQ(sub.status, 200);
  ASSERT_EQ(sub.entries.size(), 1u);
  EXPECT_EQ(sub.entries[0].path, "frameworks/fw-1/tasks/t1/out/deep");
  auto json = to_json(sub);
  EXPECT_EQ(json.rfind("{\"path\":\"frameworks/fw-1/tasks/t1/out\",\"entries\":[{\"name\":\"deep\","
                       "\"path\":\"frameworks/fw-1/tasks/t1/out/deep\",\"dir\":true,\"size\":0,",
                       0),
            0u)
      << json;
}

TEST_F(sandbox_files_test, listing_and_download_keep_to_the_sandboxes) {
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "..").status, 403);
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "frameworks/../").status, 403);
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "/etc").status, 403);
  EXPECT_EQ(download_sandbox_file(work_dir_, "secret").status, 403);
  EXPECT_EQ(download_sandbox_file(work_dir_, "frameworks/fw-1/tasks/t1/../../../../secret").status,
            403);
  // A link inside a sandbox that points out of it.
  fs::create_directory_symlink(work_dir_, sandbox_ + "/escape");
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "frameworks/fw-1/tasks/t1/escape").status, 403);
  fs::create_symlink(work_dir_ + "/secret", sandbox_ + "/secret-link");
  EXPECT_EQ(download_sandbox_file(work_dir_, "frameworks/fw-1/tasks/t1/secret-link").status, 403);
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "frameworks/fw-1/tasks/t1/stdout").status, 400);
  EXPECT_EQ(browse_sandbox_dir(work_dir_, "frameworks/fw-1/tasks/nope").status, 404);
  EXPECT_EQ(download_sandbox_file(work_dir_, "frameworks/fw-1/tasks/t1").status, 400);
  auto whole = download_sandbox_file(work_dir_, "frameworks/fw-1/tasks/t1/stdout");
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.data, "0123456789");
}
