#include "agora/main/master_runtime.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "agora/auth/credentials.hpp"
#include "agora/auth/flags.hpp"
#include "agora/auth/http_auth.hpp"
#include "agora/discovery/master_info.hpp"
#include "agora/main/policy_endpoints.hpp"
#include "agora/main/web_ui.hpp"
#include "agora/master/internal_messages.hpp"
#include "agora/master/registrar.hpp"
#include "agora/observability/http_client.hpp"
#include "agora/observability/metrics.hpp"
#include "agora/observability/process_metrics.hpp"
#include "agora/policy/policy_outline.hpp"
#include "agora/protocol/transport.hpp"
#include "agora/zk/leader_election.hpp"
#include "agora/zk/session.hpp"
#include "agora/zk/zk_url.hpp"

namespace agora::main {

/// What a master knows of the election, shared between the contender's
/// thread and the HTTP threads.
struct election_status {
  mutable std::mutex mtx;
  bool standalone = true;
  bool leading = false;
  /// The leader's HTTP address (for redirects), "" when none is known.
  std::string leader_http;
  int64_t epoch = -1;
  /// Masters in the election group as last seen, and the quorum size.
  size_t masters = 0;
  int64_t quorum_size = 1;
  /// The ZooKeeper session as last seen (with ZooKeeper only).
  bool zk_connected = false;

  bool is_leading() const {
    std::lock_guard<std::mutex> guard{mtx};
    return standalone || leading;
  }
};

namespace {

/// Returns the series of the master's process and surroundings: process,
/// build, HTTP server, actor transport, leadership and ZooKeeper session.
std::vector<prometheus::MetricFamily> runtime_families(const election_status& es,
                                                       const observability::http_server& http,
                                                       caf::actor_system& sys) {
  prometheus::Registry reg;
  {
    std::lock_guard<std::mutex> guard{es.mtx};
    auto gauge = [&reg](const char* name, const char* help, double v) {
      prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add({}).Set(v);
    };
    gauge("agora_master_leader",
          "1 when this master leads (or runs without ZooKeeper), 0 on a standby",
          es.standalone || es.leading ? 1 : 0);
    gauge("agora_master_leader_epoch",
          "The leader epoch this master knows (-1: none yet; 0 without ZooKeeper)",
          es.standalone ? 0 : static_cast<double>(es.epoch));
    if (!es.standalone)
      gauge("agora_master_zookeeper_connected", "1 while the ZooKeeper session is connected",
            es.zk_connected ? 1 : 0);
  }
  auto families = observability::daemon_families(http, protocol::refused_connections(sys));
  auto leadership = reg.Collect();
  families.insert(families.end(), leadership.begin(), leadership.end());
  return families;
}

/// Serves `GET /agents/ID/files/{browse,read,download}?...` and
/// `/agents/ID/monitor/statistics` by asking agent ID's own HTTP endpoint
/// (the same path after the id, with the same query), so that one
/// origin, the master's, serves the UI and every sandbox. 404 for an
/// unknown agent or operation; 502 when the agent cannot be reached.
observability::http_response proxy_agent_files(const master::snapshot_store& snapshots,
                                               const observability::http_request& req) {
  const std::string prefix = "/agents/";
  auto rest = req.path.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0)
    return observability::http_response::error(404, "no such path: " + req.path);
  auto agent_id = rest.substr(0, slash);
  auto op = rest.substr(slash);
  if (op != "/files/browse" && op != "/files/read" && op != "/files/download" &&
      op != "/monitor/statistics")
    return observability::http_response::error(
        404, "no such path: " + req.path +
                 " (agents serve files/browse, files/read, files/download, monitor/statistics)");
  auto address = snapshots.agent_address(agent_id);
  if (address.empty())
    return observability::http_response::error(
        404, "unknown agent '" + agent_id + "', or it serves no HTTP");
  auto colon = address.rfind(':');
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (colon == std::string::npos || port <= 0 || port > 65535)
    return observability::http_response::error(
        502, "agent '" + agent_id + "' has an invalid HTTP address: " + address);
  auto target = op + (req.query.empty() ? "" : "?" + req.query);
  // The client's credentials go along: an agent with `--acls` decides
  // itself who may read its sandboxes.
  std::map<std::string, std::string> headers;
  if (auto a = req.header("authorization"); !a.empty()) headers["Authorization"] = a;
  auto r =
      observability::http_call("GET", address.substr(0, colon), static_cast<uint16_t>(port), target,
                               "", std::chrono::seconds(5), "application/json", headers);
  if (!r.ok)
    return observability::http_response::error(
        502, "agent '" + agent_id + "' at " + address + " cannot be reached: " + r.error);
  observability::http_response out;
  out.status = r.status;
  out.body = std::move(r.body);
  // The master's origin also serves the UI: whatever an agent answers, a
  // sandbox file is never served as a page of that origin (a task could
  // write HTML), only as JSON or as a download.
  bool download = op == "/files/download" && r.status == 200;
  out.content_type = download ? "application/octet-stream" : "application/json";
  if (download) out.headers.emplace_back("Content-Disposition", "attachment");
  out.headers.emplace_back("Content-Security-Policy", "default-src 'none'; sandbox");
  return out;
}

/// Returns why a browser's cross-site request must be refused ("" when
/// fine): a request with an `Origin` header (browsers send one with every
/// POST) must come from the master's own origin, so that another site open
/// in an operator's browser cannot kill tasks (CSRF). Clients such as curl
/// send no `Origin`.
std::string cross_site(const observability::http_request& req) {
  auto origin = req.header("origin");
  if (origin.empty()) return {};
  auto host = req.header("host");
  if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return {};
  return "a request from the page of another site (Origin " + origin + ") is refused";
}

/// Serves the operator actions `POST /frameworks/ID/teardown` and
/// `POST /frameworks/FID/tasks/TID/kill` by asking the master actor.
observability::http_response operator_action(caf::actor_system& sys, const caf::actor& master,
                                             const observability::http_request& req) {
  if (auto refused = cross_site(req); !refused.empty())
    return observability::http_response::error(403, refused);
  // /frameworks/FID/teardown or /frameworks/FID/tasks/TID/kill
  std::vector<std::string> parts;
  for (size_t start = 1; start <= req.path.size();) {
    auto end = req.path.find('/', start);
    if (end == std::string::npos) end = req.path.size();
    parts.push_back(req.path.substr(start, end - start));
    start = end + 1;
  }
  bool teardown = parts.size() == 3 && parts[2] == "teardown";
  bool kill = parts.size() == 5 && parts[2] == "tasks" && parts[4] == "kill";
  if ((!teardown && !kill) || parts[1].empty() || (kill && parts[3].empty()))
    return observability::http_response::error(
        404, "no such operator action: " + req.path +
                 " (POST /frameworks/ID/teardown or /frameworks/ID/tasks/TASK/kill)");
  std::string by = req.principal.empty() ? "via HTTP" : "'" + req.principal + "' via HTTP";
  if (auto agent = req.header("user-agent"); !agent.empty()) by += " (" + agent.substr(0, 80) + ")";
  caf::message msg =
      teardown ? caf::make_message(master::operator_teardown{parts[1], by, req.principal})
               : caf::make_message(master::operator_kill{parts[1], parts[3], by, req.principal});
  observability::http_response out =
      observability::http_response::error(503, "the master did not answer");
  caf::scoped_actor self{sys};
  self->request(master, std::chrono::seconds(10), std::move(msg))
      .receive(
          [&](master::operator_reply& r) {
            out = observability::http_response::json(r.body, r.status);
          },
          [&](caf::error& e) {
            out = observability::http_response::error(
                503, "the master did not answer: " + sys.render(e));
          });
  return out;
}

/// Returns the answer to a request `check_http` refused: 401 (asking for
/// Basic credentials, so a browser prompts) or 403.
observability::http_response http_refusal(const auth::http_verdict& v) {
  auto r = observability::http_response::error(v.status, v.error);
  if (v.status == 401) r.headers = {{"WWW-Authenticate", "Basic realm=\"agora\""}};
  return r;
}

/// The master's HTTP guard (`--credentials`, `--authenticate-http`,
/// `--acls`): authenticates every request but `/health`, checks
/// `read_endpoints` on the routes a GET reads (not the UI's own files,
/// which hold no cluster data), `update_policies` on policy changes, and
/// `access_sandboxes` on sandbox reads relayed to agents, whose owner is
/// the principal of the framework named in the sandbox path. Operator
/// actions are checked by the master actor, which knows whose framework or
/// task it is.
observability::http_server::guard master_http_guard(
    auth::http_access access, std::shared_ptr<master::snapshot_store> snapshots) {
  return [access, snapshots](
             observability::http_request& req,
             const std::string& route) -> std::optional<observability::http_response> {
    if (route == "/health") return std::nullopt;  // liveness probes
    bool ui = route == "/" || route == "/ui/*" || route == "/js/*";
    bool relay = route == "/agents/*";
    bool sandbox = relay && req.path.find("/files/") != std::string::npos;
    std::string endpoint;
    if (req.method == "GET" && !ui && !sandbox) endpoint = relay ? "/monitor/statistics" : route;
    auto v = auth::check_http(access, req.header("authorization"), endpoint);
    if (v.status != 0) return http_refusal(v);
    req.principal = v.principal;
    if (!access.rules) return std::nullopt;
    using action = auth::acls::action;
    if (req.method == "POST" && (route == "/policy" || route == "/policy/rollback") &&
        !access.rules->allowed(action::update_policies, v.principal))
      return http_refusal({403, auth::denied(action::update_policies, v.principal), ""});
    if (sandbox) {
      bool known = false;
      auto owner =
          snapshots->framework_principal(auth::sandbox_framework(req.param("path")), known);
      if (!access.rules->allowed(action::access_sandboxes, v.principal, owner))
        return http_refusal({403, auth::denied(action::access_sandboxes, v.principal, owner), ""});
    }
    return std::nullopt;
  };
}

/// Wraps `h`: a master that does not lead redirects the request to the
/// leader (307), or answers 503 while no leader is known.
observability::http_server::handler leader_only(std::shared_ptr<election_status> es,
                                                observability::http_server::handler h) {
  return [es, h](const observability::http_request& req) {
    if (es->is_leading()) return h(req);
    std::string leader;
    {
      std::lock_guard<std::mutex> guard{es->mtx};
      leader = es->leader_http;
    }
    if (leader.empty())
      return observability::http_response::error(503, "no master leads at the moment");
    // Masters of one cluster share their TLS setting.
    std::string location = (observability::https_enabled() ? "https://" : "http://") + leader +
                           req.path + (req.query.empty() ? "" : "?" + req.query);
    return observability::http_response::redirect(
        307, location, "this master is a standby; the leader is at " + leader);
  };
}

/// Compiles the policy a new leader finds in the registry (what an operator
/// made active before). Returns null, logs and records a failed apply when
/// it does not check on this master (then the `--policy` one runs).
std::shared_ptr<const master::policy_revision> restore_policy(
    const master::registry::policy_record& rec, const policy_environment& env,
    master::policy_control& control) {
  std::string path = env.policy_dir.empty() ? rec.name : env.policy_dir + "/" + rec.name;
  auto loaded = policy::load_policy_text(path, rec.source, rec.schema);
  if (!loaded.ok()) {
    std::string why = loaded.error.empty() ? loaded.render_errors() : loaded.error;
    std::fprintf(stderr,
                 "agora-master: the registry's policy %s (revision %lld) does not check on this "
                 "master; running the --policy one:\n%s\n",
                 rec.name.c_str(), static_cast<long long>(rec.revision), why.c_str());
    control.record_failure(
        "{\"at\":" + std::to_string(static_cast<double>(master::unix_time_ms()) / 1000.0) +
        ",\"source_name\":" + observability::json_quote(rec.name) + ",\"error\":" +
        observability::json_quote("the registry's policy (revision " +
                                  std::to_string(rec.revision) + ") does not check: " + why) +
        ",\"diagnostics\":" + master::diagnostics_json(loaded.diagnostics) + "}");
    return nullptr;
  }
  auto rev = std::make_shared<master::policy_revision>();
  rev->policy = std::make_shared<const policy::runnable_policy>(
      policy::runnable_policy{loaded.prog, loaded.outline});
  rev->source_name = rec.name;
  rev->source_text = rec.source;
  rev->schema_text = rec.schema;
  rev->revision = rec.revision;
  rev->loaded_at_ms = rec.loaded_at_ms;
  return rev;
}

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
  f.add("zk", &o.zk,
        "contend for leadership through ZooKeeper, zk://HOST:PORT[,HOST:PORT...]/PATH (default: "
        "standalone)");
  f.add("zk-session-timeout", &o.zk_session_timeout, "ZooKeeper session timeout");
  f.add("quorum-size", &o.quorum_size,
        "masters (this one included) that must be in the election group for a master to "
        "lead and a leader to act; e.g. 2 of 3 masters");
  f.add("agent-reregister-timeout", &o.config.agent_reregister_timeout,
        "after an election, agents that do not re-register within this time become unreachable");
  f.add("recovery-agent-removal-limit", &o.config.recovery_agent_removal_limit,
        "largest fraction of agents a new leader marks unreachable at once after an election");
  f.add("record-trace", &o.record_trace,
        "write a JSON-lines trace of agents, frameworks and finished tasks for `agora policy "
        "sim --trace`");
  f.add_custom("credentials", "",
               "principals and secrets frameworks and agents may authenticate with: JSON "
               "{\"credentials\": [{\"principal\": ..., \"secret\": ...}]}, readable by its "
               "owner only",
               auth::load_credentials_flag(&o.config.credentials));
  f.add("authenticate-frameworks", &o.config.authenticate_frameworks,
        "frameworks must authenticate (with a principal of --credentials) before subscribing");
  f.add("authenticate-agents", &o.config.authenticate_agents,
        "agents must authenticate (with a principal of --credentials) before registering");
  f.add("authenticate-http", &o.authenticate_http,
        "every HTTP request but /health must authenticate: Basic PRINCIPAL:SECRET or Bearer "
        "SECRET from --credentials");
  f.add_custom("acls", "",
               "authorization rules (JSON, docs/security.md): who may register frameworks in "
               "which roles, run tasks as which users, tear down, kill, change the policy, read "
               "endpoints and sandboxes",
               auth::load_acls_flag(&o.config.acls));
  cli::add_tls_flags(f, &o.tls.cert_file, &o.tls.key_file, &o.tls.ca_file);
  auto* weights = &o.config.weights;
  f.add_custom("weights", "", "role weight overrides on top of the policy's, e.g. prod=2,dev=0.5",
               [weights](const std::string& v, std::string& err) {
                 return parse_weights(v, *weights, err);
               });
}

std::string check_master_flags(const master_options& o, bool contends) {
  if (!o.zk.empty()) {
    auto parsed = zk::zk_url::parse(o.zk);
    if (!parsed) return "--zk: " + parsed.err().message;
  }
  if (o.config.authenticate_frameworks && !o.config.credentials)
    return "--authenticate-frameworks: needs --credentials";
  if (o.config.authenticate_agents && !o.config.credentials)
    return "--authenticate-agents: needs --credentials";
  if (o.authenticate_http && !o.config.credentials)
    return "--authenticate-http: needs --credentials";
  if (o.zk_session_timeout.count() <= 0) return "--zk-session-timeout: must be positive";
  if (auto tls = protocol::check_tls_options(o.tls); !tls.empty()) return tls;
  // Zero would make the master busy-loop (or never answer in time).
  if (o.config.allocation_interval.count() <= 0) return "--allocation-interval: must be positive";
  if (o.config.framework_heartbeat_interval.count() <= 0)
    return "--framework-heartbeat-interval: must be positive";
  if (o.config.agent_ping_timeout.count() <= 0) return "--agent-ping-timeout: must be positive";
  if (o.config.max_agent_ping_timeouts < 1 || o.config.max_agent_ping_timeouts > 1000)
    return "--max-agent-ping-timeouts: must be from 1 to 1000";
  if (o.quorum_size < 1 || o.quorum_size > 100) return "--quorum-size: must be from 1 to 100";
  if (!contends && o.quorum_size != 1)
    return "--quorum-size: needs --zk (a standalone master is its own quorum)";
  if (!(o.config.recovery_agent_removal_limit >= 0 && o.config.recovery_agent_removal_limit <= 1))
    return "--recovery-agent-removal-limit: must be a fraction in [0, 1]";
  return {};
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
  opts.config.policy_schema_text = env.schema_text;
  // With ZooKeeper: check the URL before anything listens.
  std::optional<zk::zk_url> zk_url;
  std::shared_ptr<master::leadership_lease> lease;
  if (!opts.zk.empty()) {
    auto parsed = zk::zk_url::parse(opts.zk);
    if (!parsed) {
      error = "--zk: " + parsed.err().message;
      return nullptr;
    }
    zk_url = parsed.value();
    opts.config.standby = true;
    opts.config.zk_url = opts.zk;
    opts.config.election_token = std::random_device{}() * 0x100000000ULL + std::random_device{}();
    // Valid for half the session timeout after each round trip: it lapses
    // before the ensemble can expire the session and elect another leader.
    lease = std::make_shared<master::leadership_lease>(opts.zk_session_timeout / 2);
    opts.config.lease = lease;
  }
  if (error = check_master_flags(opts, zk_url.has_value()); !error.empty()) return nullptr;
  opts.config.control = std::make_shared<master::policy_control>();
  opts.config.metrics = std::make_shared<master::master_metrics>();
  if (!opts.record_trace.empty()) {
    opts.config.trace = std::make_shared<master::trace_recorder>();
    if (!opts.config.trace->open(sys, opts.record_trace, error)) return nullptr;
  }
  auto rt = std::unique_ptr<master_runtime>(new master_runtime);
  rt->election_ = std::make_shared<election_status>();
  rt->election_->standalone = !zk_url;
  rt->election_->quorum_size = opts.quorum_size;
  observability::http_server::options http_opts;
  if (opts.tls.enabled()) {
    // HTTPS on the master's endpoints, and to agents when it proxies their
    // sandboxes: the process speaks TLS on all its connections.
    http_opts.tls_cert_file = opts.tls.cert_file;
    http_opts.tls_key_file = opts.tls.key_file;
    if (error = observability::use_https(opts.tls.cert_file, opts.tls.key_file, opts.tls.ca_file);
        !error.empty())
      return nullptr;
  }
  rt->http_ = observability::http_server::start(opts.ip, opts.http_port, error, http_opts);
  if (!rt->http_) return nullptr;
  rt->snapshots_ = std::make_shared<master::snapshot_store>();
  opts.config.http_address = opts.ip + ":" + std::to_string(rt->http_->port());
  if (opts.actor_port != 0)
    opts.config.actor_address = opts.ip + ":" + std::to_string(opts.actor_port);
  // Publish first with the real port in the config: spawn, then publish. A
  // master contending in ZooKeeper waits, answering `not_leader`, until it
  // is elected.
  rt->master_ = master::spawn_master(sys, opts.config, rt->snapshots_);
  auto port = protocol::publish(sys, rt->master_, opts.actor_port, opts.ip);
  if (!port) {
    error = "cannot listen on actor port " + opts.ip + ":" + std::to_string(opts.actor_port) +
            ": " + sys.render(port.error());
    caf::anon_send_exit(rt->master_, caf::exit_reason::user_shutdown);
    return nullptr;
  }
  rt->actor_port_ = *port;
  auto es = rt->election_;
  auto snapshots = rt->snapshots_;
  auth::http_access access{opts.config.credentials, opts.authenticate_http, opts.config.acls};
  if (access.active()) rt->http_->set_guard(master_http_guard(access, snapshots));
  rt->http_->route(
      "GET", "/state", leader_only(es, [snapshots](const observability::http_request& req) {
        // Rendered here, on the HTTP thread, from the latest
        // snapshot; `?only=agents,...` renders those parts.
        if (!req.has_param("only")) return observability::http_response::json(snapshots->get());
        master::state_filter filter;
        std::string error;
        if (!master::state_filter::parse(req.param("only"), filter, error))
          return observability::http_response::error(400, error);
        auto snapshot = snapshots->snapshot();
        if (!snapshot) return observability::http_response::json("{}");
        return observability::http_response::json(master::render_snapshot(*snapshot, filter));
      }));
  rt->http_->route("GET", "/agents/*",
                   leader_only(es, [snapshots](const observability::http_request& req) {
                     return proxy_agent_files(*snapshots, req);
                   }));
  rt->http_->route(
      "POST", "/frameworks/*",
      leader_only(es, [&sys, master = rt->master_](const observability::http_request& req) {
        return operator_action(sys, master, req);
      }));
  add_policy_routes(*rt->http_, sys, opts.config.control, env,
                    [es](observability::http_server::handler h) { return leader_only(es, h); });
  auto metrics = opts.config.metrics;
  auto control = opts.config.control;
  rt->http_->route("GET", "/metrics",
                   [metrics, control, es, http = rt->http_.get(),
                    sys = &sys](const observability::http_request&) {
                     return observability::http_response::text(
                         metrics->scrape(control.get(), runtime_families(*es, *http, *sys)),
                         observability::prometheus_content_type);
                   });
  auto own_http = opts.config.http_address;
  rt->http_->route("GET", "/health", [es, own_http, lease](const observability::http_request&) {
    std::lock_guard<std::mutex> guard{es->mtx};
    std::string role = es->standalone ? "standalone" : es->leading ? "leader" : "standby";
    std::string body = "{\"status\":\"ok\",\"role\":\"" + role + "\",\"leader\":" +
                       observability::json_quote(es->standalone ? own_http : es->leader_http) +
                       ",\"epoch\":" + std::to_string(es->epoch);
    if (!es->standalone) {
      // Whether this master may act now (a leader with a valid lease and a
      // quorum of masters), and the quorum as last seen.
      body += ",\"acting\":" + std::string(es->leading && lease->valid() ? "true" : "false") +
              ",\"quorum\":{\"size\":" + std::to_string(es->quorum_size) +
              ",\"masters\":" + std::to_string(es->masters) + "}";
    }
    return observability::http_response::json(body + "}");
  });
  // Every master serves the UI; a standby that knows the leader sends the
  // browser there, and without a leader the UI shows why it has no data.
  add_web_ui_routes(*rt->http_, AGORA_JS_DIR, [es](observability::http_server::handler h) {
    return observability::http_server::handler([es, h](const observability::http_request& req) {
      bool redirect = false;
      {
        std::lock_guard<std::mutex> guard{es->mtx};
        redirect = !es->standalone && !es->leading && !es->leader_http.empty();
      }
      return redirect ? leader_only(es, h)(req) : h(req);
    });
  });
  if (zk_url)
    rt->contender_ =
        std::make_unique<contender_loop>(sys, opts, env, *zk_url, rt->master_, rt->actor_port_,
                                         rt->http_->port(), rt->election_, lease);
  return rt;
}

/// The ZooKeeper side of a master: joins the election, claims the registry
/// when elected, keeps the leadership lease renewed, rejoins after a lost
/// session while standby, and stops the process when a leader loses its
/// session or its leadership. Its own thread does the blocking calls.
class master_runtime::contender_loop {
 public:
  contender_loop(caf::actor_system& sys, const master_options& opts, policy_environment env,
                 const zk::zk_url& url, caf::actor master, uint16_t actor_port, uint16_t http_port,
                 std::shared_ptr<election_status> es,
                 std::shared_ptr<master::leadership_lease> lease)
      : sys_(sys),
        env_(std::move(env)),
        control_(opts.config.control),
        url_(url),
        master_(std::move(master)),
        es_(std::move(es)),
        lease_(std::move(lease)),
        token_(opts.config.election_token),
        session_timeout_(opts.zk_session_timeout),
        quorum_(static_cast<size_t>(opts.quorum_size)) {
    fatal_ = opts.on_fatal ? opts.on_fatal : [](const std::string& why) {
      std::fprintf(stderr, "agora-master: stopping: %s\n", why.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    };
    discovery::master_info me;
    me.id = opts.config.hostname + ":" + std::to_string(actor_port);
    me.hostname = opts.config.hostname;
    me.actor_host = opts.ip;
    me.actor_port = actor_port;
    me.http_address = opts.ip + ":" + std::to_string(http_port);
    me.version = "0.1.0";
    info_json_ = me.to_json();
    thread_ = std::thread([this] { run(); });
  }

  ~contender_loop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    contender_.reset();
    session_.reset();
  }

 private:
  void run() {
    // Renewal every sixth of the session timeout; the lease is valid for
    // half of it (see leadership_lease).
    auto period = std::max(session_timeout_ / 6, std::chrono::milliseconds{50});
    std::unique_lock<std::mutex> lock{mtx_};
    while (!stop_) {
      if (rejoin_ || !contender_) {
        rejoin_ = false;
        lock.unlock();
        join();
        lock.lock();
        continue;
      }
      cv_.wait_for(lock, period, [this] { return stop_ || rejoin_; });
      if (stop_ || rejoin_ || !leading_) continue;
      // Below the quorum the lease lapses: the leader stops acting until
      // enough masters are back.
      bool quorum = masters_ >= quorum_;
      if (quorum != had_quorum_) {
        had_quorum_ = quorum;
        std::fprintf(stderr,
                     quorum
                         ? "agora-master: a quorum of masters is back (%zu of %zu); acting again\n"
                         : "agora-master: below the quorum of masters (%zu of %zu); not acting "
                           "until masters return\n",
                     masters_, quorum_);
      }
      if (!quorum) continue;
      lock.unlock();
      // One round trip to the ensemble renews the lease.
      if (session_->exists(url_.root)) lease_->renew();
      lock.lock();
    }
  }

  /// (Re)joins the election with a fresh session.
  void join() {
    contender_.reset();
    session_.reset();
    joined_ = false;
    zk::session_options so;
    so.connect_string = url_.connect_string;
    so.session_timeout = session_timeout_;
    // Within the lease (half the session timeout), so a renewal that times
    // out still leaves time for the next one.
    so.operation_timeout = std::max(session_timeout_ / 3, std::chrono::milliseconds{100});
    auto session = zk::session::open(so);
    if (!session) {
      std::fprintf(stderr, "agora-master: cannot open a ZooKeeper session: %s\n",
                   session.err().message.c_str());
      std::lock_guard<std::mutex> guard{mtx_};
      rejoin_ = true;
      return;
    }
    session_ = std::shared_ptr<zk::session>(std::move(session.value()));
    zk::election_options eo;
    eo.root = url_.root;
    eo.data = info_json_;
    eo.on_change = [this](const zk::election_view& v) { on_change(v); };
    auto contender = zk::leader_election::start(*session_, std::move(eo));
    if (!contender) {
      std::fprintf(stderr, "agora-master: cannot contend: %s\n", contender.err().message.c_str());
      std::lock_guard<std::mutex> guard{mtx_};
      rejoin_ = true;
      return;
    }
    contender_ = std::move(contender.value());
  }

  void on_change(const zk::election_view& v) {
    {
      // Leading for HTTP only once the master was told (below).
      std::lock_guard<std::mutex> guard{es_->mtx};
      es_->leading = v.leading && leading_;
      es_->epoch = v.leader ? v.leader->epoch : -1;
      es_->leader_http.clear();
      es_->masters = v.members.size();
      es_->zk_connected = v.session == zk::session_state::connected;
      discovery::master_info leader;
      std::string ignored;
      if (v.leader && discovery::master_info::from_json(v.leader->data, leader, ignored))
        es_->leader_http = leader.http_address;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stop_) return;  // shutting down: withdrawing is not losing
      masters_ = v.members.size();
    }
    if (!v.self.empty()) joined_ = true;
    // The session ended, or someone removed this contender's member node.
    bool ended = zk::is_terminal(v.session) || (joined_ && v.self.empty());
    if (leading_ && (!v.leading || ended)) {
      fatal_("lost leadership (ZooKeeper session " + std::string(zk::to_string(v.session)) + ")");
      return;
    }
    if (!leading_ && ended) {
      // A standby whose session ended joins again with a new one.
      std::lock_guard<std::mutex> guard{mtx_};
      rejoin_ = true;
      cv_.notify_all();
      return;
    }
    if (!v.leading || leading_) return;
    if (v.members.size() < quorum_) {
      // Elected, but too few masters: wait for more (the next change of the
      // group calls again).
      if (!waiting_quorum_)
        std::fprintf(stderr,
                     "agora-master: elected, waiting for a quorum of %zu masters (%zu so far)\n",
                     quorum_, v.members.size());
      waiting_quorum_ = true;
      return;
    }
    waiting_quorum_ = false;
    // Elected: claim the registry (fencing the previous leader's writes),
    // then hand it to the master with a registrar that persists changes.
    master::registry doc;
    int32_t version = 0;
    std::string why;
    if (!master::claim_registry(*session_, url_.root, v.leader->epoch, doc, version, why)) {
      fatal_(why);
      return;
    }
    lease_->renew();
    std::fprintf(stderr, "agora-master: elected leader at epoch %lld\n",
                 static_cast<long long>(v.leader->epoch));
    master::registrar_config rc;
    rc.session = session_;
    rc.root = url_.root;
    rc.doc = doc;
    rc.version = version;
    rc.on_fatal = fatal_;
    auto registrar = master::spawn_registrar(sys_, rc);
    master::become_leader elected{token_, v.leader->epoch, info_json_, doc.to_json(), registrar};
    if (doc.policy) {
      elected.policy = restore_policy(*doc.policy, env_, *control_);
      if (elected.policy)
        std::fprintf(stderr, "agora-master: running the registry's policy %s (revision %lld)\n",
                     doc.policy->name.c_str(), static_cast<long long>(doc.policy->revision));
    }
    {
      // Wait (bounded) until the master leads, so /health never says
      // `leader` before /state, /policy and the actor port agree.
      caf::scoped_actor self{sys_};
      self->request(master_, std::chrono::seconds{10}, std::move(elected))
          .receive([](int64_t) {},
                   [](const caf::error&) {
                     std::fprintf(stderr,
                                  "agora-master: the master did not confirm its "
                                  "leadership within 10 s\n");
                   });
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      leading_ = true;
    }
    std::lock_guard<std::mutex> guard{es_->mtx};
    es_->leading = true;
  }

  caf::actor_system& sys_;
  policy_environment env_;
  std::shared_ptr<master::policy_control> control_;
  zk::zk_url url_;
  caf::actor master_;
  std::shared_ptr<election_status> es_;
  std::shared_ptr<master::leadership_lease> lease_;
  uint64_t token_;
  std::chrono::milliseconds session_timeout_;
  size_t quorum_;
  std::function<void(const std::string&)> fatal_;
  std::string info_json_;

  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool rejoin_ = false;
  // Written by the contender's thread under `mtx_`; read by `run`.
  bool leading_ = false;
  // Masters in the group as last seen, under `mtx_`.
  size_t masters_ = 0;
  // `run`'s thread only: whether the last renewal had a quorum.
  bool had_quorum_ = true;
  // The contender's thread only (reset by `join` before a new contender).
  bool joined_ = false;
  bool waiting_quorum_ = false;
  std::shared_ptr<zk::session> session_;
  std::unique_ptr<zk::leader_election> contender_;
  std::thread thread_;
};

bool master_runtime::leading() const { return election_->is_leading(); }

master_runtime::~master_runtime() {
  contender_.reset();
  http_.reset();
  if (master_) caf::anon_send_exit(master_, caf::exit_reason::user_shutdown);
}

}  // namespace agora::main
