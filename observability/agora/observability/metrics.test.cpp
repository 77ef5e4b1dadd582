#include "agora/observability/metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agora/observability/http_server.hpp"

namespace agora::observability {
namespace {

TEST(serialize_metrics, writes_text_exposition_of_every_family) {
  prometheus::Registry registry;
  auto& offers = prometheus::BuildCounter()
                     .Name("agora_offers_total")
                     .Help("Offers sent to frameworks.")
                     .Register(registry);
  offers.Add({{"role", "web"}}).Increment(3);
  auto& agents = prometheus::BuildGauge().Name("agora_agents").Help("Agents.").Register(registry);
  agents.Add({}).Set(2);

  auto text = serialize_metrics(registry);
  EXPECT_NE(text.find("# HELP agora_offers_total Offers sent to frameworks."), std::string::npos);
  EXPECT_NE(text.find("# TYPE agora_offers_total counter"), std::string::npos);
  EXPECT_NE(text.find("agora_offers_total{role=\"web\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE agora_agents gauge"), std::string::npos);
  EXPECT_NE(text.find("agora_agents 2"), std::string::npos) << text;
}

TEST(serialize_metrics, empty_registry_gives_empty_text) {
  prometheus::Registry registry;
  EXPECT_EQ(serialize_metrics(registry), "");
}

TEST(metrics_response, is_text_with_the_exposition_content_type) {
  prometheus::Registry registry;
  prometheus::BuildGauge().Name("up").Help("Up.").Register(registry).Add({}).Set(1);
  auto r = metrics_response(registry);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("up 1"), std::string::npos);
}

}  // namespace
}  // namespace agora::observability
