#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "agora/observability/http_message.hpp"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace agora::observability {

class http_server;

/// The `Content-Type` of Prometheus' text exposition format 0.0.4.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Returns every metric family of `registry` in Prometheus' text exposition
/// format (prometheus-cpp's `TextSerializer`).
std::string serialize_metrics(const prometheus::Registry& registry);

/// Returns the families of `parts`, in order, in Prometheus' text
/// exposition format (for a scrape made of several registries).
std::string serialize_metrics(std::initializer_list<std::vector<prometheus::MetricFamily>> parts);

/// Returns a 200 text response holding `serialize_metrics(registry)`.
http_response metrics_response(const prometheus::Registry& registry);

/// Routes `GET path` on `server` to the exposition of `registry`, which the
/// route keeps alive.
void serve_metrics(http_server& server, std::shared_ptr<const prometheus::Registry> registry,
                   const std::string& path = "/metrics");

}  // namespace agora::observability
