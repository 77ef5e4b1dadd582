#include "agora/test/prometheus_server.hpp"

#include <gtest/gtest.h>

#include "agora/observability/http_server.hpp"
#include "agora/test/wait.hpp"

namespace agora::test {
namespace {

using namespace std::chrono_literals;

// A fixed exposition, served as an Agora daemon's /metrics would be.
const char* exposition =
    "# HELP agora_test_value A value for the test.\n"
    "# TYPE agora_test_value gauge\n"
    "agora_test_value{role=\"web\"} 42\n"
    "agora_test_value{role=\"batch\"} 7\n";

std::unique_ptr<observability::http_server> serve_metrics() {
  std::string error;
  auto server = observability::http_server::start("127.0.0.1", 0, error, 2);
  EXPECT_TRUE(server) << error;
  if (server)
    server->route("GET", "/metrics", [](const observability::http_request&) {
      return observability::http_response::text(exposition,
                                                "text/plain; version=0.0.4; charset=utf-8");
    });
  return server;
}

TEST(prometheus_server, scrapes_a_target_and_answers_queries) {
  if (!prometheus_server::available())
    GTEST_SKIP() << "/usr/bin/prometheus is not installed (apt-get install prometheus)";
  auto target = serve_metrics();
  ASSERT_TRUE(target);
  temp_dir rules("agora-rules");
  // A recording rule: every series doubled (42 -> 84, 7 -> 14).
  auto rule_file = rules.write("rules.yml",
                               "groups:\n"
                               "  - name: test\n"
                               "    rules:\n"
                               "      - record: agora:test_value:doubled\n"
                               "        expr: agora_test_value * 2\n");
  prometheus_server prometheus({{{"agora-test", {target->address()}}}, {rule_file}});
  EXPECT_NE(prometheus.config_text().find("job_name: 'agora-test'"), std::string::npos)
      << prometheus.config_text();
  std::string error;
  ASSERT_TRUE(prometheus.start(60s, &error)) << error;
  EXPECT_NE(prometheus.port(), 0);

  prometheus_query_result result;
  ASSERT_TRUE(prometheus.wait_for_series("agora_test_value{job=\"agora-test\"}", 60s, 2, &result))
      << result.error << " " << result.body << "\n"
      << prometheus.describe();
  EXPECT_EQ(result.result_type, "vector");
  for (auto& s : result.series) {
    EXPECT_EQ(s.labels.at("__name__"), "agora_test_value");
    EXPECT_EQ(s.labels.at("instance"), target->address());
    EXPECT_EQ(s.value, s.labels.at("role") == "web" ? 42 : 7);
  }

  ASSERT_TRUE(prometheus.wait_for_series("agora:test_value:doubled{role=\"web\"}", 60s, 1, &result))
      << result.error << " " << result.body;
  EXPECT_EQ(result.series.at(0).value, 84);

  // `up` of the target, a scalar, an empty result and a malformed query.
  result = prometheus.query("up{job=\"agora-test\"}");
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result.series[0].value, 1);
  result = prometheus.query("scalar(sum(agora_test_value))");
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.result_type, "scalar");
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result.series[0].value, 49);
  result = prometheus.query("agora_no_such_metric");
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.size(), 0u);
  result = prometheus.query("sum(agora_test_value");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("parse error"), std::string::npos) << result.error;

  // Prometheus logs to the captured output, not to the test's terminal.
  EXPECT_NE(prometheus.process().stderr_text().find("Server is ready"), std::string::npos);
  pid_t pid = prometheus.process().pid();
  prometheus.stop();
  EXPECT_FALSE(process_alive(pid));
  EXPECT_FALSE(prometheus.query("up").ok);
}

TEST(prometheus_server, start_fails_with_a_clear_message_on_a_bad_rule_file) {
  if (!prometheus_server::available()) GTEST_SKIP() << "/usr/bin/prometheus is not installed";
  temp_dir rules("agora-rules");
  auto rule_file = rules.write("rules.yml", "groups: [ not a rule group");
  prometheus_server prometheus({{}, {rule_file}});
  std::string error;
  EXPECT_FALSE(prometheus.start(30s, &error));
  EXPECT_NE(error.find("did not become ready"), std::string::npos) << error;
}

TEST(prometheus_server, form_urlencode_escapes_query_characters) {
  EXPECT_EQ(form_urlencode("up{job=\"a b\"} > 0"), "up%7Bjob%3D%22a%20b%22%7D%20%3E%200");
  EXPECT_EQ(form_urlencode("a-b_c.d~"), "a-b_c.d~");
  EXPECT_EQ(form_urlencode("x+y&z"), "x%2By%26z");
}

}  // namespace
}  // namespace agora::test
