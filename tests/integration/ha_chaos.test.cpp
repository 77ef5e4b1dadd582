// A seeded randomized fault test of highly available masters: while a
// framework keeps launching short tasks, random faults hit the leading
// master (kill -9, then restarted as a standby), agents (paused, or killed
// and restarted) and the framework (its scheduler restarted under the same
// id). An invariant checker watches what the framework and the agents saw:
//   - no task id ever has two live instances (one sandbox per task id);
//   - no other state reaches the framework after a terminal one for its
//     task (repeats and reconciliation answers of that state excepted);
//   - every launched task is accounted for: it ends with a terminal state
//     at the framework once the faults stop.
// AGORA_CHAOS_SEED and AGORA_CHAOS_STEPS choose the run (default: a short
// one for `make test`); a failure prints the seed to replay it.

#include <signal.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "ha_fixture.hpp"

namespace agora::test {
namespace {

using protocol::task_state;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 10) : fallback;
}

/// Everything the framework saw, across restarts of its scheduler.
struct observations {
  std::vector<std::string> launched;
  std::map<std::string, std::vector<protocol::task_status>> updates;
  size_t seen = 0;  ///< Statuses of the current scheduler already recorded.

  void record(const std::vector<protocol::task_status>& statuses) {
    for (; seen < statuses.size(); ++seen) {
      const auto& s = statuses[seen];
      updates[s.task_id].push_back(s);
    }
  }

  /// Returns a violation of "no other state after a terminal update" (a
  /// repeat of it, or a reconciliation answer with it, is fine), or "".
  std::string after_terminal() const {
    for (const auto& [id, ups] : updates) {
      const protocol::task_status* terminal = nullptr;
      for (const auto& u : ups) {
        if (terminal && u.state != terminal->state) {
          std::string history;
          for (const auto& h : ups)
            history += "\n  " + protocol::to_string(h.state) + " " + h.reason + " (" + h.message +
                       ") agent " + h.agent_id + " uuid " + h.uuid;
          return "task " + id + ": " + protocol::to_string(u.state) + " after " +
                 protocol::to_string(terminal->state) + ":" + history;
        }
        if (!terminal && protocol::is_terminal(u.state)) terminal = &u;
      }
    }
    return {};
  }

  bool ended(const std::string& id) const {
    auto it = updates.find(id);
    if (it == updates.end()) return false;
    for (const auto& u : it->second)
      if (protocol::is_terminal(u.state)) return true;
    return false;
  }
};

/// Returns how many sandboxes each task id has across all agents.
std::map<std::string, int> sandboxes(ha_cluster& c, const std::vector<std::string>& ids) {
  std::map<std::string, int> count;
  for (const auto& id : ids)
    for (auto& a : c.agents()) count[id] += find_sandbox(a.work_dir, id).empty() ? 0 : 1;
  return count;
}

TEST(ha_chaos, random_faults_keep_the_invariants) {
  if (!zookeeper_server::available()) GTEST_SKIP() << "ZooKeeper is not installed";
  const auto seed = static_cast<uint64_t>(env_int("AGORA_CHAOS_SEED", 20261128));
  const auto steps = env_int("AGORA_CHAOS_STEPS", 6);
  SCOPED_TRACE("replay with AGORA_CHAOS_SEED=" + std::to_string(seed) +
               " AGORA_CHAOS_STEPS=" + std::to_string(steps));
  std::mt19937_64 rng{seed};        // the faults: the same sequence for a seed
  std::mt19937_64 durations{seed};  // task lengths (their number depends on timing)
  ha_cluster c{2, {"--agent-reregister-timeout=3s"}};
  ASSERT_EQ(c.wait_leader(), 0);
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB");
  c.add_agent("cpus:2;mem:1GiB;disk:1GiB");
  framework_system fs;
  auto info = protocol::framework_info{};
  info.name = "chaos";
  info.roles = {"*"};
  info.failover_timeout_ms = 120000;
  auto fw = std::make_unique<test_framework>(fs.sys(), c.url(), info);
  info.id = fw->wait_subscribed(30s);
  ASSERT_FALSE(info.id.empty());
  observations obs;
  int next_task = 0;

  // Launches a task on each offer (sleep 1-3 s), for `d`.
  auto work = [&](std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      fw->pump(200ms);
      obs.record(fw->statuses());
      auto offers = fw->pending_offers();
      fw->pending_offers().clear();
      for (const auto& o : offers) {
        std::string id = "t" + std::to_string(next_task++);
        auto secs = 1 + durations() % 3;
        fw->send(
            protocol::accept{"", {o.id}, {make_task(id, "sleep " + std::to_string(secs))}, {0}});
        obs.launched.push_back(id);
      }
    }
  };
  auto check = [&](const std::string& when) {
    auto violation = obs.after_terminal();
    EXPECT_EQ(violation, "") << when;
    for (const auto& [id, n] : sandboxes(c, obs.launched))
      EXPECT_LE(n, 1) << "task " << id << " has " << n << " instances (" << when << ")";
  };

  work(2s);
  for (int64_t step = 0; step < steps; ++step) {
    auto fault = rng() % 4;
    std::string what;
    if (fault == 0) {
      int leader = c.wait_leader(30s);
      ASSERT_GE(leader, 0);
      what = "kill -9 the leading master " + std::to_string(leader);
      c.masters()[static_cast<size_t>(leader)].proc->kill_group(SIGKILL);
      c.masters()[static_cast<size_t>(leader)].proc->wait_exit(5s);
      ASSERT_GE(c.wait_leader(30s), 0) << what;
      c.restart_master(static_cast<size_t>(leader));
    } else if (fault == 1) {
      auto i = rng() % c.agents().size();
      what = "pause agent " + std::to_string(i) + " for 1 s";
      c.agents()[i].proc->kill_group(SIGSTOP);
      work(1s);
      c.agents()[i].proc->kill_group(SIGCONT);
    } else if (fault == 2) {
      auto i = rng() % c.agents().size();
      what = "kill -9 agent " + std::to_string(i) + " and restart it";
      c.agents()[i].proc->signal(SIGKILL);
      c.agents()[i].proc->wait_exit(5s);
      c.restart_agent(i);
    } else {
      what = "restart the framework's scheduler";
      obs.record(fw->statuses());
      fw.reset();
      fw = std::make_unique<test_framework>(fs.sys(), c.url(), info);
      obs.seen = 0;
      ASSERT_EQ(fw->wait_subscribed(30s), info.id) << what;
    }
    SCOPED_TRACE("step " + std::to_string(step) + ": " + what);
    std::cerr << "ha_chaos: step " << step << ": " << what << "\n";
    work(2s);
    check("after step " + std::to_string(step) + ": " + what);
  }

  // Faults stop: every launched task ends, as the framework sees it.
  ASSERT_GE(c.wait_leader(30s), 0);
  std::vector<std::string> open;
  bool all_ended = wait_until(
      [&] {
        fw->pump(500ms);
        obs.record(fw->statuses());
        open.clear();
        for (const auto& id : obs.launched)
          if (!obs.ended(id)) open.push_back(id);
        // Ask for the latest state of those (lost ones are reported lost).
        if (!open.empty()) fw->send(protocol::reconcile{"", open});
        fw->pump(300ms);
        obs.record(fw->statuses());
        open.erase(std::remove_if(open.begin(), open.end(),
                                  [&](const std::string& id) { return obs.ended(id); }),
                   open.end());
        return open.empty();
      },
      90s);
  std::string still;
  for (const auto& id : open) still += id + " ";
  EXPECT_TRUE(all_ended) << "tasks never accounted for: " << still;
  check("at the end");
  EXPECT_GT(obs.launched.size(), 0u);
  std::cerr << "ha_chaos: seed " << seed << ", " << steps << " steps, " << obs.launched.size()
            << " tasks launched\n";
}

}  // namespace
}  // namespace agora::test
