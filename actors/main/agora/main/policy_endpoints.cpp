#include "agora/main/policy_endpoints.hpp"

#include <chrono>
#include <cmath>

#include <rapidjson/document.h>
#include <caf/all.hpp>

#include "agora/observability/json.hpp"
#include "agora/policy/policy_outline.hpp"

namespace agora::main {

namespace {

using observability::http_request;
using observability::http_response;
using observability::json_quote;

constexpr auto allocator_timeout = std::chrono::seconds{10};
/// The longest shadow period accepted (a week).
constexpr double max_shadow_seconds = 7 * 24 * 3600.0;

/// Returns the last path component of `name` (no folders: a client does
/// not choose where on the master a policy is resolved).
std::string base_name(const std::string& name) {
  auto slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

/// Sends `msg` to the allocator and waits (bounded) for its `policy_reply`.
template <class Message>
http_response ask_allocator(caf::actor_system& sys, const master::policy_control& control,
                            Message msg) {
  auto allocator = control.allocator();
  if (!allocator) return http_response::error(503, "the allocator is not running");
  http_response out = http_response::error(503, "the allocator did not answer");
  caf::scoped_actor self{sys};
  self->request(allocator, allocator_timeout, std::move(msg))
      .receive([&](master::policy_reply& r) { out = http_response::json(r.body, r.status); },
               [&](caf::error& e) {
                 out = http_response::error(503, "the allocator did not answer: " + sys.render(e));
               });
  return out;
}

http_response apply(caf::actor_system& sys, master::policy_control& control,
                    const policy_environment& env, const http_request& req) {
  rapidjson::Document doc;
  doc.Parse(req.body.c_str(), req.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return http_response::error(400, "the body must be a JSON object with a \"source\" string");
  if (!doc.HasMember("source") || !doc["source"].IsString())
    return http_response::error(400, "\"source\" (the policy's text) is missing or not a string");
  std::string name = "policy.policy";
  if (doc.HasMember("name")) {
    if (!doc["name"].IsString() || base_name(doc["name"].GetString()).empty())
      return http_response::error(400, "\"name\" must be a file name");
    name = base_name(doc["name"].GetString());
  }
  std::string schema = env.schema_text;
  if (doc.HasMember("schema")) {
    if (!doc["schema"].IsString()) return http_response::error(400, "\"schema\" must be a string");
    schema = doc["schema"].GetString();
  }
  bool force = false;
  if (doc.HasMember("force")) {
    if (!doc["force"].IsBool()) return http_response::error(400, "\"force\" must be true or false");
    force = doc["force"].GetBool();
  }
  double shadow = 0;
  if (doc.HasMember("shadow_seconds")) {
    auto& v = doc["shadow_seconds"];
    if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0 ||
        v.GetDouble() > max_shadow_seconds)
      return http_response::error(400, "\"shadow_seconds\" must be a number from 0 to 604800");
    shadow = v.GetDouble();
  }
  std::string source = doc["source"].GetString();
  std::string path = env.policy_dir.empty() ? name : env.policy_dir + "/" + name;
  auto loaded = policy::load_policy_text(path, source, schema);
  if (!loaded.ok()) {
    auto diags = master::diagnostics_json(loaded.diagnostics);
    control.record_failure(
        "{\"at\":" + std::to_string(static_cast<double>(master::unix_time_ms()) / 1000.0) +
        ",\"source_name\":" + json_quote(name) + ",\"error\":" +
        json_quote(loaded.error.empty() ? "the policy does not check" : loaded.error) +
        ",\"diagnostics\":" + diags + "}");
    return http_response::json(
        "{\"error\":\"the policy does not check; the running policy "
        "stays\",\"status\":422,\"diagnostics\":" +
            diags + ",\"rendered\":" + json_quote(loaded.render_errors()) + "}",
        422);
  }
  master::install_policy msg;
  msg.candidate.policy = std::make_shared<const policy::runnable_policy>(
      policy::runnable_policy{loaded.prog, loaded.outline});
  msg.candidate.source_name = name;
  msg.candidate.source_text = std::move(source);
  msg.candidate.schema_text = std::move(schema);
  msg.force = force;
  msg.shadow_ms = static_cast<int64_t>(std::llround(shadow * 1000));
  return ask_allocator(sys, control, std::move(msg));
}

}  // namespace

void add_policy_routes(observability::http_server& http, caf::actor_system& sys,
                       std::shared_ptr<master::policy_control> control, policy_environment env,
                       const route_wrapper& wrap) {
  auto route = [&](const char* method, const char* path, observability::http_server::handler h) {
    http.route(method, path, wrap ? wrap(std::move(h)) : std::move(h));
  };
  route("GET", "/policy",
        [control](const http_request&) { return http_response::json(control->render()); });
  route("POST", "/policy",
        [&sys, control, env](const http_request& req) { return apply(sys, *control, env, req); });
  route("POST", "/policy/rollback", [&sys, control](const http_request&) {
    return ask_allocator(sys, *control, master::rollback_policy{});
  });
  route("GET", "/policy/explain", [&sys, control](const http_request& req) {
    auto framework = req.param("framework");
    if (framework.empty())
      return http_response::error(400, "give the framework: /policy/explain?framework=ID");
    return ask_allocator(sys, *control, master::explain_request{framework, req.param("agent")});
  });
}

}  // namespace agora::main
