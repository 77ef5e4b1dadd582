#include "agora/zk/registry_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "agora/zk/zk_test.hpp"

namespace agora::zk {
namespace {

using namespace std::chrono_literals;

TEST(zk_registry_store, compare_and_set_on_the_znode_version) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  std::string root = testing::unique_root();
  registry_store store(*s, root);
  EXPECT_EQ(store.path(), root + "/registry");

  // Nothing yet.
  auto empty = store.read();
  ASSERT_TRUE(empty.ok()) << to_string(empty.err());
  EXPECT_FALSE(empty.value().has_value());
  // Writing at a version when there is no document is a conflict.
  EXPECT_EQ(store.write(R"({"agents":[]})", 0).code(), errc::bad_version);

  // Create (expected: absent) → version 0; the parents are created.
  auto created = store.write(R"({"agents":[]})", registry_store::absent);
  ASSERT_TRUE(created.ok()) << to_string(created.err());
  EXPECT_EQ(created.value(), 0);
  auto again = store.write("{}", registry_store::absent);
  EXPECT_EQ(again.code(), errc::bad_version);
  EXPECT_NE(again.err().message.find("exists already"), std::string::npos);

  // 0 → 1, then a writer still at 0 loses and the document is unchanged.
  auto updated = store.write(R"({"agents":["a1"]})", 0);
  ASSERT_TRUE(updated.ok()) << to_string(updated.err());
  EXPECT_EQ(updated.value(), 1);
  auto stale = store.write(R"({"agents":["stale"]})", 0);
  EXPECT_EQ(stale.code(), errc::bad_version);
  EXPECT_NE(stale.err().message.find("not at version 0"), std::string::npos);
  auto read = store.read();
  ASSERT_TRUE(read.ok() && read.value());
  EXPECT_EQ(read.value()->data, R"({"agents":["a1"]})");
  EXPECT_EQ(read.value()->version, 1);

  EXPECT_EQ(store.write("{}", -2).code(), errc::invalid_argument);
}

TEST(zk_registry_store, concurrent_writers_at_one_version_exactly_one_wins) {
  AGORA_ZK_SHARED_SERVER(server);
  std::string root = testing::unique_root();
  // Two masters (two sessions), both believing they lead at version 0.
  auto s1 = testing::connect(server->connect_string());
  auto s2 = testing::connect(server->connect_string());
  ASSERT_TRUE(s1 && s2);
  registry_store first(*s1, root);
  registry_store second(*s2, root);
  ASSERT_TRUE(first.write("v0", registry_store::absent).ok());
  for (int round = 0; round < 20; ++round) {
    auto seen = first.read();
    ASSERT_TRUE(seen.ok() && seen.value());
    int32_t version = seen.value()->version;
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    auto attempt = [&](registry_store& store, const std::string& data) {
      auto written = store.write(data, version);
      if (written) {
        ++wins;
        EXPECT_EQ(written.value(), version + 1);
      } else if (written.code() == errc::bad_version) {
        ++conflicts;
      }
    };
    std::thread a([&] { attempt(first, "first-" + std::to_string(round)); });
    std::thread b([&] { attempt(second, "second-" + std::to_string(round)); });
    a.join();
    b.join();
    EXPECT_EQ(wins, 1);
    EXPECT_EQ(conflicts, 1);
  }
  EXPECT_EQ(second.read().value()->version, 20);
}

/// Returns `n` bytes that do not compress.
std::string random_bytes(size_t n) {
  std::mt19937_64 rng{20261129};
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(zk_registry_store, rejects_documents_over_the_znode_limit) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  registry_store store(*s, testing::unique_root());
  auto refused = store.write(random_bytes(max_data_bytes + 1), registry_store::absent);
  EXPECT_EQ(refused.code(), errc::too_large);
  EXPECT_NE(refused.err().message.find("at most"), std::string::npos) << refused.err().message;
  auto nothing = store.read();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing.value().has_value());
  // The limit itself is fine.
  auto limit = random_bytes(max_data_bytes);
  auto written = store.write(limit, registry_store::absent);
  ASSERT_TRUE(written.ok()) << to_string(written.err());
  EXPECT_EQ(store.read().value()->data, limit);
}

TEST(zk_registry_store, a_large_document_is_stored_deflated_and_read_back_whole) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  registry_store store(*s, testing::unique_root());
  // The registry of 60,000 agents: 3 MB of JSON, three times the znode.
  std::string doc = "{\"agents\":{";
  for (int i = 0; i < 60000; ++i)
    doc += (i ? "," : "") + std::string("\"c0ffee42-S") + std::to_string(i) +
           "\":{\"hostname\":\"fleet-" + std::to_string(100000 + i) + "\",\"state\":\"active\"}";
  doc += "}}";
  ASSERT_GT(doc.size(), 3 * max_data_bytes);
  auto written = store.write(doc, registry_store::absent);
  ASSERT_TRUE(written.ok()) << to_string(written.err());
  auto raw = s->get(store.path());
  ASSERT_TRUE(raw.ok());
  EXPECT_LT(raw.value().data.size(), max_data_bytes);
  EXPECT_EQ(raw.value().data[0], '\0');
  auto back = store.read();
  ASSERT_TRUE(back.ok()) << to_string(back.err());
  EXPECT_EQ(back.value()->data, doc);
  // A small document stays plain JSON (readable with zkCli).
  ASSERT_TRUE(store.write("{\"agents\":{}}", back.value()->version).ok());
  EXPECT_EQ(s->get(store.path()).value().data, "{\"agents\":{}}");
  // A corrupt compressed document is an error, not a crash or a huge
  // allocation.
  std::string corrupt("\0AGORA-ZLIB1\nnot zlib at all", 28);
  ASSERT_TRUE(s->set(store.path(), corrupt, -1).ok());
  auto bad = store.read();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().message.find("cannot be inflated"), std::string::npos) << bad.err().message;
}

TEST(zk_registry_store, a_closed_session_cannot_write) {
  AGORA_ZK_SHARED_SERVER(server);
  auto s = testing::connect(server->connect_string());
  ASSERT_NE(s, nullptr);
  registry_store store(*s, testing::unique_root());
  ASSERT_TRUE(store.write("v0", registry_store::absent).ok());
  ASSERT_TRUE(s->close().ok());
  EXPECT_EQ(store.write("v1", 0).code(), errc::closed);
  EXPECT_EQ(store.read().code(), errc::closed);
}

}  // namespace
}  // namespace agora::zk
