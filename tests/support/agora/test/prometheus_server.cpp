#include "agora/test/prometheus_server.hpp"

#include <unistd.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "agora/test/http_client.hpp"
#include "agora/test/ports.hpp"
#include "agora/test/wait.hpp"

namespace agora::test {

namespace {

// Returns `s` as a single-quoted YAML scalar.
std::string yaml_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

double parse_value(const rapidjson::Value& pair) {
  // A sample is `[<unix time>, "<value>"]`; values may be "NaN" or "+Inf".
  if (!pair.IsArray() || pair.Size() != 2 || !pair[1].IsString()) return 0;
  return std::strtod(pair[1].GetString(), nullptr);
}

}  // namespace

std::string form_urlencode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

bool prometheus_server::available(const std::string& binary) {
  return access(binary.c_str(), X_OK) == 0;
}

prometheus_server::prometheus_server(prometheus_server_options options)
    : options_(std::move(options)), dir_("agora-prometheus") {}

prometheus_server::~prometheus_server() { stop(); }

std::string prometheus_server::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string prometheus_server::config_text() const {
  std::ostringstream cfg;
  cfg << "global:\n"
      << "  scrape_interval: " << options_.interval << "\n"
      << "  scrape_timeout: " << options_.interval << "\n"
      << "  evaluation_interval: " << options_.interval << "\n";
  if (!options_.rule_files.empty()) {
    cfg << "rule_files:\n";
    for (auto& file : options_.rule_files) cfg << "  - " << yaml_quote(file) << "\n";
  }
  cfg << "scrape_configs:\n";
  if (options_.jobs.empty()) cfg << "  []\n";
  for (auto& job : options_.jobs) {
    cfg << "  - job_name: " << yaml_quote(job.name) << "\n"
        << "    metrics_path: " << yaml_quote(job.metrics_path) << "\n"
        << "    static_configs:\n"
        << "      - targets: [";
    for (std::size_t i = 0; i < job.targets.size(); ++i)
      cfg << (i > 0 ? ", " : "") << yaml_quote(job.targets[i]);
    cfg << "]\n";
  }
  return cfg.str();
}

bool prometheus_server::start(std::chrono::milliseconds timeout, std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (process_ && process_->running()) return fail("Prometheus is already running");
  if (!available(options_.binary)) return fail(options_.binary + " is not installed");
  dir_.write("prometheus.yml", config_text());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_failure;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    process_ = std::make_unique<child_process>();
    std::string start_error;
    if (!process_->start(options_.binary,
                         {"--config.file=" + dir_.file("prometheus.yml"),
                          "--storage.tsdb.path=" + dir_.file("data"),
                          "--web.listen-address=" + address(), "--storage.tsdb.retention.time=1d"},
                         {}, &start_error))
      return fail("cannot start Prometheus: " + start_error);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    bool ready = wait_until(
        [&] {
          if (!process_->running()) return true;
          return http_get("127.0.0.1", port_, "/-/ready", std::chrono::seconds(1)).status == 200;
        },
        std::max(left, std::chrono::milliseconds(0)), std::chrono::milliseconds(50));
    if (ready && process_->running()) return true;
    last_failure = describe();
    bool port_taken = process_->stderr_text().find("address already in use") != std::string::npos;
    process_->terminate(std::chrono::seconds(5));
    if (!port_taken) break;
  }
  return fail("Prometheus on " + address() + " did not become ready within " +
              std::to_string(timeout.count()) + " ms: " + last_failure);
}

void prometheus_server::stop() {
  if (process_) process_->terminate(std::chrono::seconds(10));
}

std::string prometheus_server::describe() const {
  return "Prometheus on " + address() + " (" + dir_.path() +
         "): " + (process_ ? process_->describe() : std::string("not started"));
}

prometheus_query_result prometheus_server::query(const std::string& expr,
                                                 std::chrono::milliseconds timeout) const {
  prometheus_query_result out;
  auto reply = http_post("127.0.0.1", port_, "/api/v1/query", "query=" + form_urlencode(expr),
                         timeout, "application/x-www-form-urlencoded");
  out.body = reply.body;
  if (!reply.ok) {
    out.error = "no answer: " + reply.error;
    return out;
  }
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    out.error = "HTTP " + std::to_string(reply.status) + ", not JSON";
    return out;
  }
  auto status = doc.FindMember("status");
  if (status == doc.MemberEnd() || !status->value.IsString() ||
      std::string(status->value.GetString()) != "success") {
    auto message = doc.FindMember("error");
    out.error = message != doc.MemberEnd() && message->value.IsString()
                    ? message->value.GetString()
                    : "HTTP " + std::to_string(reply.status);
    return out;
  }
  auto data = doc.FindMember("data");
  if (data == doc.MemberEnd() || !data->value.IsObject()) {
    out.error = "no data";
    return out;
  }
  auto type = data->value.FindMember("resultType");
  auto result = data->value.FindMember("result");
  if (type == data->value.MemberEnd() || !type->value.IsString() ||
      result == data->value.MemberEnd()) {
    out.error = "no result";
    return out;
  }
  out.result_type = type->value.GetString();
  if (out.result_type == "scalar" || out.result_type == "string") {
    prometheus_sample s;
    s.value = parse_value(result->value);
    out.series.push_back(s);
  } else if (result->value.IsArray()) {
    for (auto& item : result->value.GetArray()) {
      if (!item.IsObject()) continue;
      prometheus_sample s;
      auto metric = item.FindMember("metric");
      if (metric != item.MemberEnd() && metric->value.IsObject())
        for (auto& label : metric->value.GetObject())
          if (label.value.IsString()) s.labels[label.name.GetString()] = label.value.GetString();
      auto value = item.FindMember("value");
      auto values = item.FindMember("values");
      if (value != item.MemberEnd()) {
        s.value = parse_value(value->value);
      } else if (values != item.MemberEnd() && values->value.IsArray() && !values->value.Empty()) {
        s.value = parse_value(values->value[values->value.Size() - 1]);
      }
      out.series.push_back(std::move(s));
    }
  }
  out.ok = true;
  return out;
}

bool prometheus_server::wait_for_series(const std::string& expr, std::chrono::milliseconds timeout,
                                        std::size_t min_series,
                                        prometheus_query_result* last) const {
  prometheus_query_result result;
  bool found = wait_until(
      [&] {
        result = query(expr);
        return result.ok && result.size() >= min_series;
      },
      timeout, std::chrono::milliseconds(200));
  if (last != nullptr) *last = std::move(result);
  return found;
}

}  // namespace agora::test
