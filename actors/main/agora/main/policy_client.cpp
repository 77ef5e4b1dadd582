#include "agora/main/policy_client.hpp"
#include "agora/discovery/master_info.hpp"

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <sstream>

#include <rapidjson/document.h>

#include "agora/auth/flags.hpp"
#include "agora/auth/http_auth.hpp"
#include "agora/cli/flags.hpp"
#include "agora/observability/http_client.hpp"
#include "agora/observability/json.hpp"
#include "agora/policy/source.hpp"
#include "agora/policy/types.hpp"
#include "agora/protocol/tls.hpp"

namespace agora::main {

namespace {

using observability::json_quote;

constexpr auto request_timeout = std::chrono::seconds{30};

/// Returns `s` percent-encoded for a query string.
std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

std::string text_of(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

std::string describe(const rapidjson::Value& r) {
  if (!r.IsObject()) return "none";
  int64_t revision =
      r.HasMember("revision") && r["revision"].IsInt64() ? r["revision"].GetInt64() : 0;
  std::string out = text_of(r, "name") + " version " +
                    (r.HasMember("version") ? std::to_string(r["version"].GetInt64()) : "?") +
                    " (hash " + text_of(r, "hash") +
                    (revision > 0 ? ", revision " + std::to_string(revision) : "") + ", from " +
                    text_of(r, "source_name");
  if (revision > 0 && r.HasMember("loaded_at") && r["loaded_at"].IsNumber()) {
    std::time_t t = static_cast<std::time_t>(r["loaded_at"].GetDouble());
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
    out += ", loaded " + std::string(buf);
  }
  return out + ")";
}

/// Prints a refusal from the master (`error`, `details`, `rendered`).
void print_refusal(const std::string& verb, const observability::http_result& r,
                   std::ostream& err) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    err << "agora policy " << verb << ": the master answered " << r.status << ": " << r.body
        << "\n";
    return;
  }
  if (doc.HasMember("rendered") && doc["rendered"].IsString()) err << doc["rendered"].GetString();
  err << "agora policy " << verb << ": " << text_of(doc, "error") << "\n";
  if (doc.HasMember("details") && doc["details"].IsArray())
    for (auto& d : doc["details"].GetArray())
      if (d.IsString()) err << "  " << d.GetString() << "\n";
}

void print_warnings(const rapidjson::Document& doc, std::ostream& out) {
  if (doc.HasMember("warnings") && doc["warnings"].IsArray())
    for (auto& w : doc["warnings"].GetArray())
      if (w.IsString()) out << "warning: " << w.GetString() << "\n";
}

std::string scalar(const rapidjson::Value& v) {
  if (v.IsString()) return v.GetString();
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNumber()) {
    std::ostringstream out;
    out << v.GetDouble();
    return out.str();
  }
  if (v.IsObject() && v.HasMember("error")) return "error";
  if (v.IsObject() && v.HasMember("absent")) return "absent";
  if (v.IsNull()) return "unlimited";
  return "?";
}

/// `{cpus: 4, mem: 8589934592}` as `cpus 4, mem 8GiB` (zeros left out).
std::string amounts_text(const rapidjson::Value& v) {
  if (!v.IsObject()) return "none";
  std::string out;
  for (auto& m : v.GetObject()) {
    if (m.value.IsNumber() && m.value.GetDouble() == 0) continue;
    std::string name = m.name.GetString();
    std::string amount = scalar(m.value);
    if (m.value.IsNumber() && (name == "mem" || name == "disk"))
      amount = policy::format_amount(name, m.value.GetDouble());
    out += (out.empty() ? "" : ", ") + name + " " + amount;
  }
  return out.empty() ? "nothing" : out;
}

std::string keys_text(const rapidjson::Value& keys) {
  std::string out;
  for (auto& k : keys.GetArray())
    out += (out.empty() ? "" : ", ") + text_of(k, "rule") + " = " + scalar(k["value"]);
  return out;
}

void print_explanation(const rapidjson::Document& e, std::ostream& out) {
  std::string state = !e["active"].GetBool()          ? "inactive (disconnected or removed)"
                      : e["suppressed"].GetBool()     ? "suppressed (it asked for no offers)"
                      : e["demand_covered"].GetBool() ? "its demand is covered"
                                                      : "active";
  out << "framework " << text_of(e, "framework") << " in role " << text_of(e, "role") << ": "
      << state << "\n";
  auto& ro = e["role_order"];
  out << "role order: " << ro["position"].GetUint64() << " of " << ro["of"].GetUint64() << " ("
      << keys_text(ro["keys"]) << ")\n";
  auto& fo = e["framework_order"];
  out << "framework order in " << text_of(e, "role") << ": " << fo["position"].GetUint64() << " of "
      << fo["of"].GetUint64() << " (" << keys_text(fo["keys"]) << ")\n";
  auto& loc = e["locality"];
  if (!text_of(loc, "level").empty())
    out << "locality: level " << text_of(loc, "level") << ", waited "
        << loc["waited_seconds"].GetDouble() << " s\n";
  out << "role path:\n";
  for (auto& l : e["role_path"].GetArray()) {
    out << "  " << text_of(l, "role") << ": allocated " << amounts_text(l["allocated"]);
    if (l["limit"].IsObject()) out << "; headroom " << amounts_text(l["headroom"]);
    if (l["guarantee"].IsObject())
      out << "; guarantee " << amounts_text(l["guarantee"])
          << (l["below_guarantee"].GetBool() ? " (below it)" : " (met)");
    out << "\n";
  }
  auto& a = e["agents"];
  out << "agents: " << a["considered"].GetUint64() << " considered: " << a["inactive"].GetUint64()
      << " inactive, " << a["no_usable_resources"].GetUint64() << " without usable resources";
  for (auto& f : a["rejected_by_filter"].GetObject())
    out << ", " << f.value.GetUint64() << " rejected by filter `" << f.name.GetString() << "`";
  out << ", " << a["wrong_locality_level"].GetUint64() << " outside its locality level, "
      << a["declined"].GetUint64() << " declined, " << a["smaller_than_smallest_task"].GetUint64()
      << " with less left (after limits) than its smallest task, " << a["offerable"].GetUint64()
      << " offerable\n";
  if (e["best"].Size() > 0) {
    out << "best agents:\n";
    for (auto& b : e["best"].GetArray()) {
      out << "  " << text_of(b, "agent") << ": score " << b["score"].GetDouble();
      std::string parts;
      for (auto& c : b["contributions"].GetObject())
        parts +=
            (parts.empty() ? "" : ", ") + std::string(c.name.GetString()) + " " + scalar(c.value);
      if (!parts.empty()) out << " (" << parts << ")";
      out << "\n";
    }
  }
  if (e.HasMember("agent")) {
    auto& p = e["agent"];
    out << "agent " << text_of(p, "id") << ": ";
    if (!p["usable"].GetBool())
      out << "no usable resources (free " << amounts_text(p["free"]) << ")";
    else if (!p["accepted"].GetBool())
      out << "rejected by filter `" << text_of(p, "rejected_by") << "`";
    else if (!p["level_ok"].GetBool())
      out << "at level " << text_of(p, "level") << ", beyond the framework's";
    else if (p["declined"].GetBool())
      out << "covered by one of the framework's decline filters";
    else if (!p["holds_min_request"].GetBool())
      out << "what is left after limits (" << amounts_text(p["free"])
          << " free) is smaller than the smallest task (" << amounts_text(p["min_request"]) << ")";
    else
      out << "offerable: " << amounts_text(p["offer"]) << ", score " << p["score"].GetDouble();
    std::string rules;
    for (auto& r : p["rules"].GetObject())
      rules +=
          (rules.empty() ? "" : ", ") + std::string(r.name.GetString()) + " = " + scalar(r.value);
    out << "\n  rules: " << rules << "\n";
  }
}

}  // namespace

bool is_remote_policy_verb(const std::string& verb) {
  return verb == "apply" || verb == "status" || verb == "rollback" || verb == "explain";
}

int run_policy_remote(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string verb = args.at(0);
  std::string master = "127.0.0.1:5050", schema, framework, agent;
  std::chrono::milliseconds shadow{0};
  bool force = false, json = false;
  cli::flags f{"agora policy " + verb,
               verb == "apply"
                   ? "Applies a policy to a running master (usage: agora policy apply FILE)."
               : verb == "status"  ? "Shows the policy a running master runs."
               : verb == "explain" ? "Explains why a framework is (not) offered resources."
                                   : "Restores the previous policy (or cancels a shadow)."};
  f.add("master", &master,
        "the master's HTTP address HOST:PORT, or zk://HOST:PORT[,...]/PATH to find the leader");
  std::string principal, secret_file;
  f.add("principal", &principal,
        "authenticate to the master's HTTP endpoints as this principal (with --secret-file)");
  f.add("secret-file", &secret_file,
        "file holding the principal's secret (readable by its owner only)");
  if (verb == "apply") {
    f.add("schema", &schema, "cluster schema to check against (default: the master's)");
    f.add("shadow", &shadow, "evaluate beside the active policy this long before installing");
    f.add("force", &force, "install even if new limits are below what roles hold now");
  }
  if (verb == "explain") {
    f.add("framework", &framework, "the framework's id (see /state)");
    f.add("agent", &agent, "also explain this agent for the framework");
  }
  if (verb == "status" || verb == "explain")
    f.add("json", &json, "print the master's JSON document");
  protocol::tls_options tls;
  cli::add_tls_flags(f, &tls.cert_file, &tls.key_file, &tls.ca_file);
  std::string error;
  if (!f.parse(std::vector<std::string>(args.begin() + 1, args.end()), error)) {
    err << "agora policy " << verb << ": error: " << error << "\n";
    return 2;
  }
  if (f.help_requested()) {
    out << f.usage();
    return 0;
  }
  std::string host;
  uint16_t port = 0;
  if (std::string bad; !discovery::check_master_spec(master, bad)) {
    err << "agora policy " << verb << ": error: --master: " << bad << "\n";
    return 2;
  }
  if (auto bad = protocol::check_tls_options(tls); !bad.empty()) {
    err << "agora policy " << verb << ": error: " << bad << "\n";
    return 2;
  }
  // HTTPS to a master started with --tls-*.
  if (tls.enabled()) {
    if (auto bad = observability::use_https(tls.cert_file, tls.key_file, tls.ca_file);
        !bad.empty()) {
      err << "agora policy " << verb << ": error: " << bad << "\n";
      return 2;
    }
  }
  // The current leader's HTTP address through ZooKeeper, or HOST:PORT as given.
  if (std::string why; !discovery::resolve_master(master, true, host, port, why)) {
    err << "agora policy " << verb << ": " << why << "\n";
    return 1;
  }
  std::map<std::string, std::string> headers;
  std::string secret;
  if (auto bad = auth::read_client_secret(principal, secret_file, true, secret); !bad.empty()) {
    err << "agora policy " << verb << ": error: " << bad << "\n";
    return 2;
  }
  if (!secret.empty()) headers["Authorization"] = auth::basic_authorization(principal, secret);
  if (shadow.count() < 0) {
    err << "agora policy apply: error: --shadow: must not be negative\n";
    return 2;
  }
  if (verb == "explain" && framework.empty()) {
    err << "agora policy explain: error: --framework: missing (the framework's id)\n";
    return 2;
  }
  size_t want = verb == "apply" ? 1 : 0;
  if (f.positional().size() != want) {
    err << "agora policy " << verb << ": error: "
        << (want ? "expected one policy FILE" : "unexpected argument '" + f.positional()[0] + "'")
        << "\n";
    return 2;
  }

  observability::http_result r;
  if (verb == "apply") {
    const std::string& file = f.positional()[0];
    auto source = policy::source_file::load(file, error, 1 << 20);
    if (!source) {
      err << "agora policy apply: " << error << "\n";
      return 1;
    }
    std::string body =
        "{\"name\":" + json_quote(file) + ",\"source\":" + json_quote(source->text()) +
        ",\"force\":" + (force ? "true" : "false") +
        ",\"shadow_seconds\":" + std::to_string(static_cast<double>(shadow.count()) / 1000.0);
    if (!schema.empty()) {
      auto s = policy::source_file::load(schema, error, 1 << 20);
      if (!s) {
        err << "agora policy apply: --schema: " << error << "\n";
        return 1;
      }
      body += ",\"schema\":" + json_quote(s->text());
    }
    r = observability::http_call("POST", host, port, "/policy", body + "}", request_timeout,
                                 "application/json", headers);
  } else if (verb == "status") {
    r = observability::http_call("GET", host, port, "/policy", "", request_timeout,
                                 "application/json", headers);
  } else if (verb == "explain") {
    std::string path = "/policy/explain?framework=" + url_encode(framework);
    if (!agent.empty()) path += "&agent=" + url_encode(agent);
    r = observability::http_call("GET", host, port, path, "", request_timeout, "application/json",
                                 headers);
  } else {
    r = observability::http_call("POST", host, port, "/policy/rollback", "", request_timeout,
                                 "application/json", headers);
  }
  if (!r.ok) {
    err << "agora policy " << verb << ": cannot reach the master at " << master << ": " << r.error
        << "\n";
    return 1;
  }
  if (r.status >= 300) {
    print_refusal(verb, r, err);
    return 1;
  }
  if (json) {
    out << r.body << "\n";
    return 0;
  }
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    err << "agora policy " << verb << ": unexpected answer: " << r.body << "\n";
    return 1;
  }
  if (verb == "explain") {
    print_explanation(doc, out);
    return 0;
  }
  if (verb == "status") {
    out << "active:   " << describe(doc["active"]) << "\n";
    out << "previous: " << describe(doc["previous"]) << "\n";
    if (doc["shadow"].IsObject()) {
      auto& s = doc["shadow"];
      out << "shadow:   " << describe(s) << ", " << s["seconds_left"].GetDouble()
          << " s left, divergence " << s["divergence_ratio"].GetDouble() << " over "
          << s["cycles"].GetUint64() << " cycles\n";
    }
    auto& failed = doc["last_failed_apply"];
    if (failed.IsObject()) {
      out << "last failed apply: " << text_of(failed, "source_name") << ": "
          << text_of(failed, "error") << "\n";
      if (failed.HasMember("diagnostics") && failed["diagnostics"].IsArray())
        for (auto& d : failed["diagnostics"].GetArray())
          out << "  " << text_of(d, "file") << ":" << d["line"].GetInt() << ":"
              << d["column"].GetInt() << ": " << text_of(d, "severity") << "[" << text_of(d, "code")
              << "]: " << text_of(d, "message") << "\n";
    }
    out << "reloads:  " << doc["reloads"]["success"].GetUint64() << " applied, "
        << doc["reloads"]["error"].GetUint64() << " failed\n";
    return 0;
  }
  if (doc.HasMember("applied")) {
    out << (verb == "apply" ? "applied " : "rolled back to ") << describe(doc["applied"]) << "\n";
  } else if (doc.HasMember("shadow")) {
    out << "shadowing " << f.positional()[0] << " (hash " << text_of(doc, "hash") << ") for "
        << doc["seconds"].GetDouble()
        << " s; it is installed after that unless rolled back (`agora policy status` shows how "
           "often its offers differ)\n";
  } else if (doc.HasMember("cancelled_shadow")) {
    out << "cancelled the shadow candidate " << text_of(doc, "cancelled_shadow") << "\n";
  }
  print_warnings(doc, out);
  return 0;
}

}  // namespace agora::main
