#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace agora::observability {

class http_server;

/// Adds Prometheus' standard process metrics of this process to `reg`, read
/// from /proc once per call (prometheus-cpp does not provide them):
/// `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds` and `process_threads`. A value that cannot
/// be read is left out rather than reported as 0.
void add_process_metrics(prometheus::Registry& reg);

/// Adds `agora_build_info{version, revision}` (value 1): the project version
/// and the git revision the build was configured from ("unknown" outside a
/// git checkout).
void add_build_info(prometheus::Registry& reg);

/// Returns the series every Agora daemon exposes beside its own: the
/// process (`add_process_metrics`), the build (`add_build_info`), the
/// requests of its HTTP server `http`, and
/// `agora_actor_connections_refused_total` with the value
/// `refused_actor_connections` (the actor transport's count).
std::vector<prometheus::MetricFamily> daemon_families(const http_server& http,
                                                      std::uint64_t refused_actor_connections);

/// Returns the version and revision `add_build_info` reports, as
/// "VERSION (REVISION)".
std::string build_description();

}  // namespace agora::observability
