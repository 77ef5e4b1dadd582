#pragma once

// Highly available masters for integration tests: a real 3-server ZooKeeper
// ensemble, several `agora-master --zk` processes and `agora-agent --master
// zk://...` processes, all on 127.0.0.1 with free ports.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "agora/test/support.hpp"
#include "agora/test/zookeeper_ensemble.hpp"
#include "cluster_fixture.hpp"

namespace agora::test {

/// One `agora-master --zk` process.
struct master_process {
  std::unique_ptr<child_process> proc;
  uint16_t http_port = 0;
  uint16_t actor_port = 0;
};

class ha_cluster {
 public:
  /// Starts the ensemble and `masters` masters (one after the other, so the
  /// first leads); extra flags are appended to each master's.
  ha_cluster(size_t masters, std::vector<std::string> master_flags = {});
  ~ha_cluster();

  /// The `zk://` URL of the cluster.
  const std::string& url() const { return url_; }
  zookeeper_ensemble& zk() { return *zk_; }
  std::vector<master_process>& masters() { return masters_; }
  std::vector<agent_process>& agents() { return agents_; }

  /// Returns the role a master's /health reports (`leader`, `standby`), ""
  /// when it does not answer.
  std::string role(size_t index) const;

  /// Waits until exactly one running master reports `leader`; returns its
  /// index, -1 on timeout.
  int wait_leader(std::chrono::milliseconds timeout = 30s) const;

  /// Returns the leader's parsed /state (an empty cluster when none leads).
  rapidjson::Document state() const;

  /// Waits until `pred(state of the leader)` holds.
  bool wait_state(const std::function<bool(const rapidjson::Document&)>& pred,
                  std::chrono::milliseconds timeout = 20s) const;

  /// Starts an agent that follows the leader through ZooKeeper and waits
  /// until the leader lists it active.
  agent_process& add_agent(const std::string& resources = "cpus:2;mem:1GiB;disk:1GiB",
                           const std::vector<std::string>& extra_flags = {});

  /// Starts master `index` again (after it was killed).
  void restart_master(size_t index);

  /// Starts one more master (it contends; nothing waits for it to lead);
  /// returns its index.
  size_t add_master();

  /// Returns a master's parsed /health (an empty object when it does not
  /// answer).
  rapidjson::Document health(size_t index) const;

  /// Starts agent `index` again (after it was killed), with the same work
  /// directory and ports; it registers anew (agents do not recover yet).
  void restart_agent(size_t index);

 private:
  void start_master(size_t index);
  /// Starts master `index` on new free ports (again, on others, when a
  /// port was taken before it could bind).
  void start_on_new_ports(size_t index);
  void start_agent(agent_process& a, size_t index);

  temp_dir dir_;
  std::unique_ptr<zookeeper_ensemble> zk_;
  std::string url_;
  std::vector<std::string> master_flags_;
  std::vector<master_process> masters_;
  std::vector<agent_process> agents_;
};

/// Returns the number of active agents in a master's state.
size_t active_agents(const rapidjson::Document& s);

}  // namespace agora::test
