#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace agora::main {

/// The processes behind `agora local --masters N` (N > 1): a ZooKeeper
/// server (Debian's `zookeeper` package, run with `java`) and N
/// `agora-master --zk` processes, restarted when they exit, as a supervisor
/// would, so that a user can `kill -9` the leader and watch a failover on
/// one machine.
class local_ha {
 public:
  struct options {
    int64_t masters = 3;
    std::string ip = "127.0.0.1";
    uint16_t zk_port = 2181;
    /// Masters i = 0..N-1 listen on http_port + i and actor_port + i.
    uint16_t http_port = 5050;
    uint16_t actor_port = 5055;
    std::string work_dir;
    /// Extra flags for every master (e.g. `--zk-session-timeout=2s`).
    std::vector<std::string> master_flags;
  };

  /// Starts ZooKeeper (waiting until it serves) and the masters. Returns
  /// false and sets `error` when ZooKeeper is missing or does not start.
  bool start(const options& opts, std::string& error);

  /// Stops the masters and ZooKeeper.
  ~local_ha();

  /// The `zk://` URL agents and frameworks follow.
  const std::string& url() const { return url_; }

  /// Returns the masters' process ids (0 while one is being restarted).
  std::vector<pid_t> master_pids() const;

 private:
  void supervise();
  pid_t spawn_master(size_t i);

  options opts_;
  std::string url_;
  pid_t zookeeper_ = 0;
  mutable std::mutex mtx_;
  std::vector<pid_t> masters_;
  std::atomic<bool> stop_{false};
  std::thread supervisor_;
};

}  // namespace agora::main
