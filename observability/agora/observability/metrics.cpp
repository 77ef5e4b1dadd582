#include "agora/observability/metrics.hpp"

#include <utility>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "agora/observability/http_server.hpp"

namespace agora::observability {

std::string serialize_metrics(const prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry.Collect());
}

std::string serialize_metrics(std::initializer_list<std::vector<prometheus::MetricFamily>> parts) {
  std::vector<prometheus::MetricFamily> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return prometheus::TextSerializer().Serialize(all);
}

http_response metrics_response(const prometheus::Registry& registry) {
  return http_response::text(serialize_metrics(registry), prometheus_content_type);
}

void serve_metrics(http_server& server, std::shared_ptr<const prometheus::Registry> registry,
                   const std::string& path) {
  server.route("GET", path, [registry = std::move(registry)](const http_request&) {
    return metrics_response(*registry);
  });
}

}  // namespace agora::observability
