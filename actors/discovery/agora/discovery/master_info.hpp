#pragma once

#include <cstdint>
#include <string>

namespace agora::discovery {

/// What a master publishes about itself when it contends for leadership
/// (the data of its ZooKeeper member znode), and what agents, drivers and
/// the CLI read to reach the leader.
struct master_info {
  std::string id;
  std::string hostname;
  /// The actor endpoint agents and frameworks connect to.
  std::string actor_host;
  uint16_t actor_port = 0;
  /// `host:port` of the HTTP endpoint (/state, /policy, the UI).
  std::string http_address;
  std::string version;
  /// The leadership epoch (the znode's sequence number); -1 when unknown
  /// (a master given as `HOST:PORT`).
  int64_t epoch = -1;

  /// Returns the JSON published in ZooKeeper (without the epoch, which is
  /// the znode's sequence number).
  std::string to_json() const;

  /// Parses the published JSON; returns false and sets `error` otherwise.
  static bool from_json(const std::string& json, master_info& out, std::string& error);
};

/// Returns true if `spec` names masters through ZooKeeper (`zk://...`).
bool is_zk_url(const std::string& spec);

/// Checks a `--master` value: a valid `zk://HOST:PORT[,...]/PATH` or
/// `HOST:PORT`. Returns false and sets `error` (the reason, without the
/// flag's name) otherwise.
bool check_master_spec(const std::string& spec, std::string& error);

/// Resolves `--master` for a one-shot command: `HOST:PORT` as given, or the
/// current leader of `zk://...` (waiting up to `timeout`). `http` selects
/// the leader's HTTP address instead of its actor endpoint. Returns false
/// and sets `error` (naming the URL) when there is no leader.
bool resolve_master(const std::string& spec, bool http, std::string& host, uint16_t& port,
                    std::string& error, int64_t timeout_ms = 10000);

}  // namespace agora::discovery
