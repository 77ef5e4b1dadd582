#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "agora/test/child_process.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {

/// A standalone ZooKeeper 3.8 server (Debian's `zookeeper` package) for
/// tests, run as a child process on 127.0.0.1 and a free port, with its data
/// in a private temporary directory and its log on the process's stderr. It is stopped (and its
/// directory removed) on destruction.
///
/// Tests that need it should skip when `available()` is false:
/// `if (!zookeeper_server::available()) GTEST_SKIP() << "...";`
class zookeeper_server {
 public:
  /// Returns true if `java` is on `PATH` and a ZooKeeper server jar is in
  /// /usr/share/java.
  static bool available();

  /// Prepares a server (nothing runs until `start`).
  zookeeper_server();

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

  /// Stops the server (SIGTERM, then SIGKILL); its data stays until
  /// destruction.
  void stop();

  /// Returns true if the JVM runs, answers `ruok` with `imok` and serves
  /// requests.
  bool healthy() const;

  /// Returns true if the server answers `ruok` with `imok` and `srvr` with
  /// a mode (it serves requests).
  bool serving() const;

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
  temp_dir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

}  // namespace agora::test
