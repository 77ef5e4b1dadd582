#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agora/test/zookeeper_server.hpp"

namespace agora::test {

/// An ensemble of ZooKeeper 3.8 servers for tests: `size` members (3 by
/// default) on 127.0.0.1, each with free client, quorum and election
/// ports, its own `myid` and data directory (`zookeeper_server` with an
/// ensemble configuration), tickTime 500 ms, initLimit 10 and syncLimit 5 ticks, so
/// that tests can stop and restart members and watch quorum loss and
/// recovery. Sessions may ask for up to 60 s of timeout (`maxSessionTimeout`)
/// so that one outlives a restart of the quorum.
///
/// Servers are started in parallel (a JVM takes about 2 s of CPU to start).
/// Not thread-safe: use it from the test's thread. Skip tests when
/// `zookeeper_server::available()` is false.
class zookeeper_ensemble {
 public:
  /// Prepares `size` servers (ids 1..size; indices 0..size-1 here); nothing
  /// runs until `start`.
  explicit zookeeper_ensemble(std::size_t size = 3);

  /// Stops every server.
  ~zookeeper_ensemble();

  zookeeper_ensemble(const zookeeper_ensemble&) = delete;
  zookeeper_ensemble& operator=(const zookeeper_ensemble&) = delete;

  /// Starts every server at once and waits up to `timeout` until all of
  /// them serve (one leader, the others followers). Returns false and sets
  /// `error` (with each server's state and output) when they do not.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(90),
             std::string* error = nullptr);

  /// Starts the stopped servers `indices` at once (same ports and data) and
  /// waits up to `timeout` until each of them serves, which needs a quorum
  /// of running servers. Returns false and sets `error` when they do not.
  bool start(const std::vector<std::size_t>& indices,
             std::chrono::milliseconds timeout = std::chrono::seconds(90),
             std::string* error = nullptr);

  /// Stops server `index` (SIGTERM, then SIGKILL).
  void stop(std::size_t index);

  /// Returns true if a majority of the servers serve requests and one of
  /// them is the leader.
  bool quorum_serving() const;

  /// Returns the index of the leading server, or -1 when none serves as
  /// leader.
  int leader_index() const;

  /// Returns the client connection string of all servers,
  /// `127.0.0.1:p1,127.0.0.1:p2,...`.
  std::string connect_string() const;

  /// Returns the number of servers.
  std::size_t size() const { return servers_.size(); }

  /// Returns server `index` (for its port, mode, output or process).
  zookeeper_server& server(std::size_t index) { return *servers_.at(index); }

  /// Returns a line per server (`server.2 127.0.0.1:p: follower`), for
  /// failure messages.
  std::string describe() const;

 private:
  std::vector<std::unique_ptr<zookeeper_server>> servers_;
};

}  // namespace agora::test
