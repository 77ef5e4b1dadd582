#include "agora/agent/checkpoint.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include <gtest/gtest.h>

#include "agora/test/temp_dir.hpp"

namespace agora::agent {
namespace {

namespace fs = std::filesystem;

task_checkpoint sample_task(const std::string& fw, const std::string& id) {
  task_checkpoint t;
  t.framework.id = fw;
  t.framework.name = "demo";
  t.framework.roles = {"web"};
  t.framework.capabilities = {"PARTITION_AWARE"};
  t.info.id = id;
  t.info.command = "sleep 100";
  t.info.environment["PASSWORD"] = "x";
  t.info.kill_grace_ms = 250;
  std::string err;
  EXPECT_TRUE(
      protocol::resources::parse("cpus:0.5;mem:64MiB;ports:[31000-31001]", t.info.res, err));
  t.role = "web";
  t.status.task_id = id;
  t.status.framework_id = fw;
  t.status.state = protocol::task_state::running;
  t.status.uuid = "u2";
  t.pid = 4242;
  t.start_time = 987654;
  t.sandbox = "/w/frameworks/" + fw + "/tasks/" + id;
  t.container_id = "c-0123456789abcdef";
  auto starting = t.status;
  starting.state = protocol::task_state::starting;
  starting.uuid = "u1";
  t.pending = {starting, t.status};
  return t;
}

std::string read_all(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return std::string(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
}

TEST(checkpoint, agent_and_tasks_round_trip) {
  test::temp_dir dir;
  checkpoint_store store{dir.path()};
  std::string err;
  recovered_state none;
  ASSERT_TRUE(store.load(none, err)) << err;
  EXPECT_FALSE(none.agent);  // a first start
  ASSERT_TRUE(store.save(agent_checkpoint{"agent-1", "127.0.0.1:5055", 7, "boot"}, err)) << err;
  ASSERT_TRUE(store.save(sample_task("fw-1", "t1"), err)) << err;
  ASSERT_TRUE(store.save(sample_task("fw-2", "t2"), err)) << err;
  // A task directory the shim's exit file needed, created before a crash
  // that came before its checkpoint: skipped.
  ASSERT_TRUE(store.prepare("fw-1", "never-launched", err)) << err;
  recovered_state got;
  ASSERT_TRUE(store.load(got, err)) << err;
  ASSERT_TRUE(got.agent);
  EXPECT_EQ(got.agent->agent_id, "agent-1");
  EXPECT_EQ(got.agent->master_epoch, 7);
  ASSERT_EQ(got.tasks.size(), 2u);
  const auto& t = got.tasks[0].info.id == "t1" ? got.tasks[0] : got.tasks[1];
  EXPECT_EQ(t.info.res, sample_task("fw-1", "t1").info.res);
  EXPECT_EQ(t.info.environment.at("PASSWORD"), "x");
  EXPECT_EQ(t.start_time, 987654u);
  ASSERT_EQ(t.pending.size(), 2u);
  EXPECT_EQ(t.pending[0].uuid, "u1");
  EXPECT_EQ(t.pending[1].state, protocol::task_state::running);
  // Removing the last task of a framework removes the framework's directory.
  store.remove("fw-2", "t2");
  EXPECT_FALSE(fs::exists(store.dir() + "/tasks/fw-2"));
  ASSERT_TRUE(store.load(got, err)) << err;
  EXPECT_EQ(got.tasks.size(), 1u);
  // Files are replaced through a temporary file that does not stay.
  for (const auto& e : fs::recursive_directory_iterator(store.dir()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(checkpoint, damage_and_other_versions_are_refused_naming_the_file) {
  test::temp_dir dir;
  checkpoint_store store{dir.path()};
  std::string err;
  ASSERT_TRUE(store.save(agent_checkpoint{"agent-1", "m", 1, "boot"}, err)) << err;
  ASSERT_TRUE(store.save(sample_task("fw-1", "t1"), err)) << err;
  auto task_file = store.task_dir("fw-1", "t1") + "/task.ckpt";
  const auto good = read_all(task_file);
  recovered_state got;
  auto refused = [&](const std::string& bytes, const std::string& why) {
    write_all(task_file, bytes);
    std::string e;
    EXPECT_FALSE(store.load(got, e)) << why;
    EXPECT_NE(e.find(task_file), std::string::npos) << e;
    EXPECT_NE(e.find(why), std::string::npos) << e;
  };
  auto flipped = good;
  flipped[flipped.size() - 3] ^= 0x20;
  refused(flipped, "corrupt: checksum mismatch");
  refused(good.substr(0, good.size() - 5), "corrupt");
  refused("", "corrupt: not an Agora checkpoint");
  refused("{\"json\": true}", "corrupt: not an Agora checkpoint");
  auto newer = good;
  newer[4] = static_cast<char>(checkpoint_version + 1);
  refused(newer, "incompatible: format version " + std::to_string(checkpoint_version + 1));
  // A checkpoint moved to another task's directory is not taken as that task.
  write_all(task_file, good);
  ASSERT_TRUE(store.prepare("fw-1", "t9", err));
  write_all(store.task_dir("fw-1", "t9") + "/task.ckpt", good);
  EXPECT_FALSE(store.load(got, err));
  EXPECT_NE(err.find("names task t1"), std::string::npos) << err;
  // `--recover cleanup` wipes it all.
  ASSERT_TRUE(store.wipe(err)) << err;
  ASSERT_TRUE(store.load(got, err)) << err;
  EXPECT_FALSE(got.agent);
}

TEST(checkpoint, a_valid_header_over_content_of_another_shape_is_refused) {
  // The checksum holds, but the content is not a task checkpoint.
  test::temp_dir dir;
  checkpoint_store store{dir.path()};
  std::string err;
  ASSERT_TRUE(store.save(agent_checkpoint{"agent-1", "m", 1, "boot"}, err)) << err;
  ASSERT_TRUE(store.prepare("fw-1", "t1", err));
  write_all(store.task_dir("fw-1", "t1") + "/task.ckpt", encode_checkpoint("xyz"));
  recovered_state got;
  EXPECT_FALSE(store.load(got, err));
  EXPECT_NE(err.find("does not decode"), std::string::npos) << err;
}

TEST(checkpoint, one_process_at_a_time_holds_a_work_directory) {
  test::temp_dir dir;
  checkpoint_store store{dir.path()};
  std::string err;
  int first = store.lock(err);
  ASSERT_GE(first, 0) << err;
  // A second agent on the same directory (here a second open file
  // description, which flock treats as another holder) is refused by pid.
  EXPECT_LT(store.lock(err), 0);
  EXPECT_NE(err.find("another agent process (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << err;
  // `--recover cleanup` wipes the checkpoint but not the lock it holds.
  ASSERT_TRUE(store.wipe(err)) << err;
  EXPECT_LT(store.lock(err), 0);
  ::close(first);
  int again = store.lock(err);
  EXPECT_GE(again, 0) << err;
  ::close(again);
}

TEST(checkpoint, layout_is_pinned) {
  // The checkpoint's binary layout follows the fields of the checkpointed
  // types. When this fails, a field was added, removed or reordered: bump
  // `checkpoint_version` (agents then refuse older checkpoints as
  // incompatible instead of misreading them) and update the hash below.
  test::temp_dir dir;
  checkpoint_store store{dir.path()};
  std::string err;
  ASSERT_TRUE(store.save(sample_task("fw-1", "t1"), err)) << err;
  auto bytes = read_all(store.task_dir("fw-1", "t1") + "/task.ckpt");
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  EXPECT_EQ(checkpoint_version, 1u);
  EXPECT_EQ(h, 13793652947141388479ull)
      << "checkpoint layout hash " << h << " for version " << checkpoint_version;
}

}  // namespace
}  // namespace agora::agent
