#include "agora/main/master_runtime.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "agora/main/policy_endpoints.hpp"
#include "agora/main/web_ui.hpp"
#include "agora/observability/metrics.hpp"
#include "agora/policy/policy_outline.hpp"

namespace agora::main {

namespace {

/// Parses `prod=2,dev=0.5` into role weights.
bool parse_weights(const std::string& text, std::map<std::string, double>& out,
                   std::string& error) {
  out.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    auto eq = item.find('=');
    char* end = nullptr;
    double w = eq == std::string::npos ? 0 : std::strtod(item.c_str() + eq + 1, &end);
    if (eq == 0 || eq == std::string::npos || end == nullptr || *end != '\0' || !(w > 0)) {
      error = "bad weight '" + item + "' (expected ROLE=POSITIVE_NUMBER)";
      return false;
    }
    out[item.substr(0, eq)] = w;
  }
  return true;
}

}  // namespace

void add_master_flags(cli::flags& f, master_options& o) {
  f.add("ip", &o.ip, "address to listen on (HTTP and actors)");
  f.add("port", &o.http_port, "HTTP port: /state, /health and the web UI (0: any free port)");
  f.add("actor-port", &o.actor_port, "actor port agents and frameworks connect to (0: any)");
  f.add("hostname", &o.config.hostname, "hostname reported in /state");
  f.add("allocation-interval", &o.config.allocation_interval,
        "time between periodic allocation cycles");
  f.add("offer-timeout", &o.config.offer_timeout,
        "rescind offers not answered within this time (0ms: never)");
  f.add("agent-ping-timeout", &o.config.agent_ping_timeout,
        "how long an agent has to answer a ping");
  f.add("max-agent-ping-timeouts", &o.config.max_agent_ping_timeouts,
        "missed pings after which an agent is unreachable");
  f.add("framework-heartbeat-interval", &o.config.framework_heartbeat_interval,
        "interval of heartbeats to frameworks");
  f.add("framework-reregister-timeout", &o.config.framework_reregister_timeout,
        "how long a framework learnt from re-registering agents (after a master restart) has "
        "to re-subscribe before its failover timeout starts");
  f.add("policy", &o.policy_path,
        "allocation policy file (default: the embedded weighted_drf.policy)");
  f.add("schema", &o.schema_path,
        "cluster schema the policy is checked against (default: cluster.schema beside it)");
  f.add("record-trace", &o.record_trace,
        "write a JSON-lines trace of agents, frameworks and finished tasks for `agora policy "
        "sim --trace`");
  auto* weights = &o.config.weights;
  f.add_custom("weights", "", "role weight overrides on top of the policy's, e.g. prod=2,dev=0.5",
               [weights](const std::string& v, std::string& err) {
                 return parse_weights(v, *weights, err);
               });
}

std::unique_ptr<master_runtime> master_runtime::start(caf::actor_system& sys, master_options opts,
                                                      std::string& error) {
  if (!opts.policy_path.empty()) {
    auto loaded = policy::load_policy_file(opts.policy_path, opts.schema_path);
    if (!loaded.error.empty() && loaded.diagnostics.empty()) {
      error = "--policy: " + loaded.error;
      return nullptr;
    }
    if (!loaded.ok()) {
      error = "policy " + opts.policy_path + " does not check:\n" + loaded.render_errors();
      return nullptr;
    }
    opts.config.policy = std::make_shared<const policy::runnable_policy>(
        policy::runnable_policy{loaded.prog, loaded.outline});
    opts.config.policy_source = opts.policy_path;
    opts.config.policy_text = loaded.source_text;
  } else if (!opts.schema_path.empty()) {
    error = "--schema: needs --policy (the embedded default policy has no schema)";
    return nullptr;
  }
  // Applied policies resolve imports beside the startup policy and check
  // against its schema.
  policy_environment env;
  if (!opts.policy_path.empty()) {
    auto slash = opts.policy_path.find_last_of('/');
    env.policy_dir = slash == std::string::npos ? "." : opts.policy_path.substr(0, slash);
    std::string schema_file =
        opts.schema_path.empty() ? env.policy_dir + "/cluster.schema" : opts.schema_path;
    std::string ignored;
    if (auto s = policy::source_file::load(schema_file, ignored)) env.schema_text = s->text();
  }
  opts.config.control = std::make_shared<master::policy_control>();
  opts.config.metrics = std::make_shared<master::master_metrics>();
  if (!opts.record_trace.empty()) {
    opts.config.trace = std::make_shared<master::trace_recorder>();
    if (!opts.config.trace->open(sys, opts.record_trace, error)) return nullptr;
  }
  auto rt = std::unique_ptr<master_runtime>(new master_runtime);
  rt->http_ = observability::http_server::start(opts.ip, opts.http_port, error);
  if (!rt->http_) return nullptr;
  rt->snapshots_ = std::make_shared<master::snapshot_store>();
  opts.config.http_address = opts.ip + ":" + std::to_string(rt->http_->port());
  if (opts.actor_port != 0)
    opts.config.actor_address = opts.ip + ":" + std::to_string(opts.actor_port);
  // Publish first with the real port in the config: spawn, then publish.
  rt->master_ = master::spawn_master(sys, opts.config, rt->snapshots_);
  auto port = sys.middleman().publish(rt->master_, opts.actor_port, opts.ip.c_str(), true);
  if (!port) {
    error = "cannot listen on actor port " + opts.ip + ":" + std::to_string(opts.actor_port) +
            ": " + sys.render(port.error());
    caf::anon_send_exit(rt->master_, caf::exit_reason::user_shutdown);
    return nullptr;
  }
  rt->actor_port_ = *port;
  auto snapshots = rt->snapshots_;
  rt->http_->route("GET", "/state", [snapshots](const observability::http_request&) {
    return observability::http_response::json(*snapshots->get());
  });
  add_policy_routes(*rt->http_, sys, opts.config.control, env);
  auto metrics = opts.config.metrics;
  auto control = opts.config.control;
  rt->http_->route("GET", "/metrics", [metrics, control](const observability::http_request&) {
    return observability::http_response::text(metrics->scrape(control.get()),
                                              observability::prometheus_content_type);
  });
  rt->http_->route("GET", "/health", [](const observability::http_request&) {
    return observability::http_response::json(R"({"status":"ok"})");
  });
  rt->http_->route("GET", "/", [](const observability::http_request&) {
    observability::http_response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = web_ui_html();
    return r;
  });
  return rt;
}

master_runtime::~master_runtime() {
  http_.reset();
  if (master_) caf::anon_send_exit(master_, caf::exit_reason::user_shutdown);
}

}  // namespace agora::main
