#pragma once

// `agora fleet`: many simulated agents in one process (or a few), each its
// own actor speaking the real agent protocol to a real master, for scale
// tests and benchmarks (docs/scale.md). Tasks are simulated: no process,
// a timer per task (see fleet_agent.hpp).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "agora/main/fleet_agent.hpp"
#include "agora/protocol/tls.hpp"

namespace agora::main::fleet {

/// Everything `agora fleet` is told on its command line.
struct fleet_options {
  /// `HOST:PORT` or `zk://HOST:PORT[,...]/PATH` (follow the leader).
  std::string master = "127.0.0.1:5055";
  int64_t agents = 100;
  int64_t processes = 1;
  /// Agents handed the master per second, when the process connects or
  /// reconnects; 0: all at once (`max`).
  double register_rate = 0;
  std::chrono::milliseconds status_interval{5000};
  bool quiet = false;
  /// `--actor-port`: -1 publishes nothing; otherwise the port (0: any free
  /// port) of a directory actor that answers `(get_atom, hostname)` with
  /// that agent's handle and `(state_atom)` with the process's figures as
  /// JSON (for tests and debugging). With `--processes`, process i takes
  /// port + i.
  int64_t actor_port = -1;
  std::string ip = "127.0.0.1";
  /// CAF's scheduler policy: `sharing` (idle workers block) or `stealing`.
  std::string scheduler = "sharing";
  /// `--tls-*`: TLS on the connections to the master and on the directory
  /// actor's port.
  protocol::tls_options tls;
  fleet_agent_config agent;
};

/// Parses a `--register-rate` value: `max` (0), `R/s` or `R` (agents per
/// second, > 0). Returns false and sets `error` otherwise.
bool parse_register_rate(const std::string& text, double& out, std::string& error);

/// Returns the agents process `i` of `processes` hosts: [first, last).
std::pair<int64_t, int64_t> agent_range(int64_t agents, int64_t processes, int64_t i);

/// Returns the status line of `t` (without newline).
std::string status_line(const fleet_totals& t, int64_t agents, double rss_mib);

/// Returns `t` as a JSON object (what the directory actor answers).
std::string totals_json(const fleet_totals& t);

/// Runs `agora fleet` (argv[1] is `fleet`). Returns the exit status: 0
/// after SIGINT or SIGTERM, 1 when the fleet cannot run, 2 on bad flags.
int run_fleet(int argc, char** argv);

}  // namespace agora::main::fleet
