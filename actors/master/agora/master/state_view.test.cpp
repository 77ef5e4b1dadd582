// The copy-on-write view behind `/state`: frozen copies do not change,
// only shared shards are copied, and an incremental snapshot renders the
// same document as one built from scratch.

#include "agora/master/state_view.hpp"

#include <gtest/gtest.h>

#include <random>

#include <rapidjson/document.h>

#include "agora/master/master_actor.hpp"
#include "agora/master/state_view_fixture.hpp"

namespace agora::master {
namespace {

using small_map = cow_map<std::string, std::string, 4>;
using int_map = cow_map<int, int, 8>;

TEST(cow_map, a_frozen_copy_keeps_what_it_saw) {
  small_map m;
  m.put("a", std::make_shared<const std::string>("1"));
  m.put("b", std::make_shared<const std::string>("2"));
  auto frozen = m.freeze();
  m.put("a", std::make_shared<const std::string>("changed"));
  m.erase("b");
  m.put("c", std::make_shared<const std::string>("3"));
  ASSERT_NE(small_map::find(frozen, "a"), nullptr);
  EXPECT_EQ(*small_map::find(frozen, "a"), "1");
  EXPECT_EQ(*small_map::find(frozen, "b"), "2");
  EXPECT_EQ(small_map::find(frozen, "c"), nullptr);
  EXPECT_EQ(*m.find("a"), "changed");
  EXPECT_EQ(m.find("b"), nullptr);
  EXPECT_EQ(*m.find("c"), "3");
}

TEST(cow_map, only_the_shard_of_a_change_is_copied) {
  int_map m;
  for (int i = 0; i < 64; ++i) m.put(i, std::make_shared<const int>(i));
  auto before = m.freeze();
  m.put(3, std::make_shared<const int>(300));
  auto after = m.freeze();
  size_t copied = 0;
  for (size_t i = 0; i < 8; ++i) copied += before[i] != after[i];
  EXPECT_EQ(copied, 1u);
  // With no frozen copy left, a change writes in place (no copy).
  before = {};
  after = {};
  const void* raw = m.freeze()[int_map::index(5)].get();
  m.put(5, std::make_shared<const int>(500));
  auto last = m.freeze();
  EXPECT_EQ(last[int_map::index(5)].get(), raw);
  EXPECT_EQ(*int_map::find(last, 5), 500);
}

TEST(state_filter, parses_parts_and_names_an_unknown_one) {
  state_filter f;
  std::string error;
  ASSERT_TRUE(state_filter::parse("", f, error));
  EXPECT_TRUE(f.agents && f.frameworks && !f.tasks && f.completed);
  ASSERT_TRUE(state_filter::parse("agents,cluster", f, error));
  EXPECT_TRUE(f.agents && f.cluster);
  EXPECT_FALSE(f.frameworks || f.tasks || f.completed || f.roles || f.policy || f.counters);
  EXPECT_FALSE(state_filter::parse("agents,secrets", f, error));
  EXPECT_NE(error.find("'secrets'"), std::string::npos) << error;
  EXPECT_FALSE(state_filter::parse("agents,", f, error));
}

TEST(state_view, random_changes_marked_as_made_render_as_a_fresh_view_does) {
  // A seeded random walk over agents, frameworks, tasks and offers; after
  // each batch the incremental snapshot must equal a rebuilt one.
  std::mt19937 rng{20261129};
  auto st = make_test_state(40, 3, 4);
  state_view view;
  view.rebuild(st);
  for (int round = 0; round < 200; ++round) {
    for (int step = 0; step < 5; ++step) {
      switch (rng() % 6) {
        case 0: {  // a task changes state
          if (st.tasks.empty()) break;
          auto it = std::next(st.tasks.begin(), static_cast<long>(rng() % st.tasks.size()));
          auto s = it->second.status;
          s.state = protocol::task_state::killing;
          it->second.set_status(s);
          st.changed_task(it->first.first, it->first.second);
          break;
        }
        case 1: {  // a task ends and goes
          if (st.tasks.empty()) break;
          auto it = std::next(st.tasks.begin(), static_cast<long>(rng() % st.tasks.size()));
          st.agents[it->second.agent_id].tasks.erase(it->first);
          st.frameworks[it->first.first].tasks.erase(it->first.second);
          st.changed_task(it->first.first, it->first.second);
          st.tasks.erase(it);
          break;
        }
        case 2: {  // an agent's health changes
          auto it = std::next(st.agents.begin(), static_cast<long>(rng() % st.agents.size()));
          it->second.health = it->second.health == agent_health::active ? agent_health::unreachable
                                                                        : agent_health::active;
          st.changed_agent(it->first);
          break;
        }
        case 3: {  // a framework disconnects or comes back
          auto it =
              std::next(st.frameworks.begin(), static_cast<long>(rng() % st.frameworks.size()));
          it->second.connected = !it->second.connected;
          st.changed_framework(it->first);
          break;
        }
        case 4: {  // an offer goes, or a new one comes
          if (!st.offers.empty() && rng() % 2 == 0) {
            auto it = st.offers.begin();
            st.changed_offer(it->first);
            st.offers.erase(it);
          } else {
            auto oid = "N" + std::to_string(round) + "-" + std::to_string(step);
            auto& o = st.offers[oid];
            o.offer.framework_id = "F1";
            o.offer.agent_id = "S3";
            o.offer.res = protocol::resources::make(0.5, 1 << 20);
            st.changed_offer(oid);
          }
          break;
        }
        case 5: {  // a new task
          auto tid = "n" + std::to_string(round) + "-" + std::to_string(step);
          auto& rec = st.tasks[{"F2", tid}];
          rec.info.id = tid;
          rec.info.res = protocol::resources::make(0.25, 1 << 20);
          rec.framework_id = "F2";
          rec.agent_id = "S5";
          st.agents["S5"].tasks.insert({"F2", tid});
          st.frameworks["F2"].tasks.insert(tid);
          st.changed_task("F2", tid);
          break;
        }
      }
    }
    auto incremental = render_snapshot(*view.update(st, st.changes));
    st.changes = {};
    ASSERT_EQ(incremental, render_state_json(st)) << "round " << round;
  }
  // The document parses, and lists what the state holds.
  rapidjson::Document d;
  auto json = render_state_json(st);
  ASSERT_FALSE(d.Parse(json.c_str()).HasParseError());
  EXPECT_EQ(d["agents"].Size(), st.agents.size());
  EXPECT_EQ(d["frameworks"].Size(), st.frameworks.size());
}

TEST(state_view, sums_and_filters) {
  auto st = make_test_state(10, 2, 2);
  state_view view;
  auto snapshot = view.rebuild(st);
  rapidjson::Document d;
  auto json = render_snapshot(*snapshot);
  ASSERT_FALSE(d.Parse(json.c_str()).HasParseError());
  // Numbers as RapidJSON writes them elsewhere (0.2, 80.0: doubles).
  EXPECT_NE(json.find("\"used_resources\":{\"cpus\":0.2,\"mem\":134217728,"), std::string::npos);
  EXPECT_NE(json.find("\"total\":{\"cpus\":80.0,"), std::string::npos);
  // 20 tasks of 0.1 cpus: 2 cpus used in all, 0.2 on each agent.
  EXPECT_DOUBLE_EQ(d["cluster"]["used"]["cpus"].GetDouble(), 2.0);
  EXPECT_DOUBLE_EQ(d["cluster"]["total"]["cpus"].GetDouble(), 80.0);
  EXPECT_DOUBLE_EQ(d["agents"][0]["used_resources"]["cpus"].GetDouble(), 0.2);
  EXPECT_EQ(d["agents"][0]["task_count"].GetUint(), 2u);
  // Offers on agents S0 and S7 (1 cpu each).
  EXPECT_DOUBLE_EQ(d["cluster"]["offered"]["cpus"].GetDouble(), 2.0);
  size_t tasks = 0;
  for (const auto& f : d["frameworks"].GetArray()) tasks += f["tasks"].Size();
  EXPECT_EQ(tasks, 20u);
  // Only the agents: no frameworks; only the tasks: a flat list of 20.
  state_filter only;
  std::string error;
  ASSERT_TRUE(state_filter::parse("agents", only, error));
  rapidjson::Document a;
  ASSERT_FALSE(a.Parse(render_snapshot(*snapshot, only).c_str()).HasParseError());
  EXPECT_TRUE(a.HasMember("agents"));
  EXPECT_FALSE(a.HasMember("frameworks"));
  EXPECT_FALSE(a.HasMember("completed_tasks"));
  ASSERT_TRUE(state_filter::parse("tasks", only, error));
  rapidjson::Document t;
  ASSERT_FALSE(t.Parse(render_snapshot(*snapshot, only).c_str()).HasParseError());
  ASSERT_TRUE(t.HasMember("tasks"));
  EXPECT_EQ(t["tasks"].Size(), 20u);
  EXPECT_FALSE(t.HasMember("agents"));
}

}  // namespace
}  // namespace agora::master
