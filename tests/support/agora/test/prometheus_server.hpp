#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agora/test/child_process.hpp"
#include "agora/test/temp_dir.hpp"

namespace agora::test {

/// A scrape job of a `prometheus_server`: static targets under one job name.
struct prometheus_scrape_job {
  /// The `job` label, e.g. `agora-master`.
  std::string name;
  /// `host:port` of each target.
  std::vector<std::string> targets;
  /// The path scraped on every target.
  std::string metrics_path = "/metrics";
};

/// How a `prometheus_server` is configured.
struct prometheus_server_options {
  /// The scrape jobs (none: the server only evaluates rules on nothing).
  std::vector<prometheus_scrape_job> jobs;
  /// Rule files to load (absolute paths), e.g. the source tree's
  /// observability/prometheus/agora-rules.yml.
  std::vector<std::string> rule_files;
  /// The scrape and rule evaluation interval (the scrape timeout is the same).
  std::string interval = "1s";
  /// The Prometheus binary.
  std::string binary = "/usr/bin/prometheus";
};

/// One series of a query's result: its labels (`__name__` included when the
/// query keeps it) and its value (the latest one for a range result).
struct prometheus_sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The answer to an instant query (`/api/v1/query`).
struct prometheus_query_result {
  /// True if Prometheus answered `"status": "success"`.
  bool ok = false;
  /// Why `ok` is false: the HTTP failure or Prometheus' `error`.
  std::string error;
  /// `vector`, `scalar`, `matrix` or `string`.
  std::string result_type;
  /// The series (a scalar is one sample without labels).
  std::vector<prometheus_sample> series;
  /// The response body, for failure messages.
  std::string body;

  /// Returns the number of series.
  std::size_t size() const { return series.size(); }
};

/// A real Prometheus server (Debian's `prometheus` package, 2.42) for
/// integration tests: run as a child process on 127.0.0.1 and a free port,
/// with a generated configuration (`options.interval` scrape and evaluation
/// interval, static targets per job, optional rule files), its TSDB and
/// configuration in a private temporary directory, and its (chatty) log in
/// the child process's captured output. Stopped on destruction.
///
/// Prometheus applies a new target list at most every 5 s, so the first
/// samples of a target arrive about 5 to 6 s after `start`: wait with
/// `wait_for_series`, never with a fixed sleep.
///
/// Tests that need it skip when `available()` is false. Not thread-safe:
/// use it from the test's thread.
class prometheus_server {
 public:
  /// Returns true if `binary` (by default /usr/bin/prometheus) is executable.
  static bool available(const std::string& binary = "/usr/bin/prometheus");

  /// Prepares a server (nothing runs until `start`).
  explicit prometheus_server(prometheus_server_options options = {});

  /// Stops the server.
  ~prometheus_server();

  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  /// Writes the configuration, starts Prometheus on a free port and waits
  /// up to `timeout` until `/-/ready` answers 200. A port taken by another
  /// process in the meantime is replaced by another (three attempts).
  /// Returns false and sets `error` (with the server's output) when it does
  /// not become ready.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(60),
             std::string* error = nullptr);

  /// Stops the server (SIGTERM, then SIGKILL).
  void stop();

  /// Returns the port (0 before `start`).
  uint16_t port() const { return port_; }

  /// Returns `127.0.0.1:<port>`.
  std::string address() const;

  /// Runs the instant query `expr` (POST `/api/v1/query`) and returns the
  /// parsed result; never throws.
  prometheus_query_result query(const std::string& expr,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  /// Returns true as soon as `query(expr)` has at least `min_series`
  /// series; false after `timeout`. The last result is stored in `last`
  /// (when given) for failure messages.
  bool wait_for_series(const std::string& expr, std::chrono::milliseconds timeout,
                       std::size_t min_series = 1, prometheus_query_result* last = nullptr) const;

  /// Returns the generated `prometheus.yml`.
  std::string config_text() const;

  /// Returns the server's directory (`prometheus.yml`, `data/`).
  const std::string& dir() const { return dir_.path(); }

  /// Returns the process (for its output; valid after `start`).
  child_process& process() { return *process_; }

  /// Returns a summary for failure messages: address and the process's
  /// state and last output lines.
  std::string describe() const;

 private:
  prometheus_server_options options_;
  temp_dir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// Returns `s` percent-encoded for an `application/x-www-form-urlencoded`
/// body (unreserved characters kept, everything else `%XX`).
std::string form_urlencode(const std::string& s);

}  // namespace agora::test
