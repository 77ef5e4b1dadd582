#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agora/test/child_process.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {

/// How a `zookeeper_server` is configured beyond the defaults (standalone,
/// a free client port).
struct zookeeper_server_options {
  /// The client port; 0 picks a free one at the first `start`.
  uint16_t client_port = 0;
  /// This server's id in an ensemble (written to `data/myid`); 0 runs a
  /// standalone server.
  int server_id = 0;
  /// The ensemble's `server.<id>=127.0.0.1:<quorum port>:<election port>`
  /// lines (every member's, this one's included); empty when standalone.
  std::vector<std::string> ensemble;
  /// More `zoo.cfg` lines, written last (a key given again overrides).
  std::vector<std::string> extra_config;
  /// More JVM options (`-Dzookeeper....=...`), before the main class.
  std::vector<std::string> jvm_options;
};

/// A standalone ZooKeeper 3.8 server (Debian's `zookeeper` package) for
/// tests, run as a child process on 127.0.0.1 and a free port, with its data
/// in a private temporary directory and its log on the process's stderr. It is stopped (and its
/// directory removed) on destruction.
///
/// Tests that need it should skip when `available()` is false:
/// `if (!zookeeper_server::available()) GTEST_SKIP() << "...";`
///
/// With `zookeeper_server_options::server_id` and `ensemble` it is one
/// member of an ensemble instead (see `zookeeper_ensemble`).
class zookeeper_server {
 public:
  /// Returns true if `java` is on `PATH` and a ZooKeeper server jar is in
  /// /usr/share/java.
  static bool available();

  /// Prepares a server (nothing runs until `start`).
  explicit zookeeper_server(zookeeper_server_options options = {});

  /// Stops the server.
  ~zookeeper_server();

  zookeeper_server(const zookeeper_server&) = delete;
  zookeeper_server& operator=(const zookeeper_server&) = delete;

  /// Writes `zoo.cfg`, starts the JVM and waits up to `timeout` until the
  /// server answers `ruok` with `imok` and `srvr` with its mode (`ruok`
  /// alone answers before the server serves requests). Returns false and sets `error`
  /// (with the server's output) when it does not. Restarting after `stop`
  /// keeps the port and the data.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(60),
             std::string* error = nullptr);

  /// The first half of `start`: writes `zoo.cfg` (and `myid`) and starts the
  /// JVM without waiting for it to serve, so that several servers can start
  /// in parallel. Returns false and sets `error` when the JVM cannot start.
  bool launch(std::string* error = nullptr);

  /// The second half of `start`: waits up to `timeout` until the launched
  /// server serves requests. Returns false and sets `error` (with the
  /// server's output) when it exits or does not serve in time; the JVM is
  /// left running (a member may wait for its peers).
  bool wait_serving(std::chrono::milliseconds timeout, std::string* error = nullptr);

  /// Returns true while the JVM runs (reaping it when it exited).
  bool running() { return process_ && process_->running(); }

  /// Stops the server (SIGTERM, then SIGKILL); its data stays until
  /// destruction.
  void stop();

  /// Returns true if the JVM runs, answers `ruok` with `imok` and serves
  /// requests.
  bool healthy() const;

  /// Returns true if the server answers `ruok` with `imok` and `srvr` with
  /// a mode (it serves requests).
  bool serving() const;

  /// Returns the server's mode as `srvr` reports it: "standalone",
  /// "leader" or "follower"; "" when it does not serve (stopped, starting,
  /// or a member without a quorum).
  std::string mode() const;

  /// Returns the client port.
  uint16_t port() const { return port_; }

  /// Returns the connection string for clients, `127.0.0.1:<port>`.
  std::string connect_string() const;

  /// Sends the four-letter command `cmd` (e.g. `ruok`, `srvr`; only these
  /// two are whitelisted) and returns the reply, "" on failure.
  std::string four_letter(const std::string& cmd,
                          std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;

  /// Returns the server's directory (`zoo.cfg`, `data/`, `logs/`).
  const std::string& dir() const { return dir_.path(); }

  /// Returns the JVM process (for its output, or to kill it in tests).
  child_process& process() { return *process_; }

 private:
  zookeeper_server_options options_;
  temp_dir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

}  // namespace agora::test
