#include "agora/master/policy_control.hpp"

#include <chrono>
#include <cmath>
#include <sstream>

#include "agora/observability/json.hpp"

namespace agora::master {

using observability::json_quote;

std::string diagnostics_json(const std::vector<policy::diagnostic>& diagnostics) {
  std::string out = "[";
  for (size_t i = 0; i < diagnostics.size(); ++i) {
    auto& d = diagnostics[i];
    out += i ? "," : "";
    out +=
        "{\"file\":" + json_quote(d.file) + ",\"line\":" + std::to_string(d.begin.line) +
        ",\"column\":" + std::to_string(d.begin.column) + ",\"code\":" + json_quote(d.code) +
        ",\"severity\":" + json_quote(d.severity == policy::severity::error ? "error" : "warning") +
        ",\"message\":" + json_quote(d.message) + ",\"help\":" + json_quote(d.help) + "}";
  }
  return out + "]";
}

namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

std::string value_json(const policy::rule_value& v) {
  using st = policy::rule_value::state;
  if (v.st == st::error) return "{\"error\":true}";
  if (v.st == st::absent) return "{\"absent\":true}";
  if (v.kind == policy::value_kind::symbol) return json_quote(v.text);
  if (v.kind == policy::value_kind::boolean) return v.number != 0 ? "true" : "false";
  return number(v.number);
}

std::string amounts_json(const policy::amounts& a, const std::vector<std::string>& names) {
  auto v = policy::to_res_vec(a);
  std::string out = "{";
  for (size_t i = 0; i < names.size() && i < policy::max_resources; ++i)
    out += (i ? "," : "") + json_quote(names[i]) + ":" + number(v[i]);
  return out + "}";
}

std::string keys_json(const std::vector<std::pair<std::string, policy::rule_value>>& keys) {
  std::string out = "[";
  for (size_t i = 0; i < keys.size(); ++i)
    out += (i ? "," : "") + std::string("{\"rule\":") + json_quote(keys[i].first) +
           ",\"value\":" + value_json(keys[i].second) + "}";
  return out + "]";
}

}  // namespace

std::string strings_json(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + json_quote(items[i]);
  return out + "]";
}

int64_t unix_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string explanation_json(const policy::explanation& e, const std::vector<std::string>& names) {
  std::string out = "{\"framework\":" + json_quote(e.framework) +
                    ",\"role\":" + json_quote(e.role) +
                    ",\"active\":" + (e.active ? "true" : "false") +
                    ",\"suppressed\":" + (e.suppressed ? "true" : "false") +
                    ",\"demand_covered\":" + (e.demand_covered ? "true" : "false");
  out += ",\"role_order\":{\"position\":" + std::to_string(e.role_position) +
         ",\"of\":" + std::to_string(e.role_order.size()) +
         ",\"order\":" + strings_json(e.role_order) + ",\"keys\":" + keys_json(e.role_keys) + "}";
  out += ",\"framework_order\":{\"position\":" + std::to_string(e.framework_position) +
         ",\"of\":" + std::to_string(e.framework_order.size()) +
         ",\"order\":" + strings_json(e.framework_order) +
         ",\"keys\":" + keys_json(e.framework_keys) + "}";
  out += ",\"locality\":{\"level\":" + json_quote(e.level) +
         ",\"waited_seconds\":" + number(e.waited_seconds) + "}";
  out += ",\"role_path\":[";
  for (size_t i = 0; i < e.path.size(); ++i) {
    auto& l = e.path[i];
    out += (i ? "," : "") + std::string("{\"role\":") + json_quote(l.role) +
           ",\"allocated\":" + amounts_json(l.allocated, names) +
           ",\"headroom\":" + amounts_json(l.headroom, names) +
           ",\"guarantee\":" + (l.guarantee ? amounts_json(*l.guarantee, names) : "null") +
           ",\"limit\":" + (l.limit ? amounts_json(*l.limit, names) : "null") +
           ",\"below_guarantee\":" + (l.below_guarantee ? "true" : "false") + "}";
  }
  out += "],\"agents\":{\"considered\":" + std::to_string(e.agents) +
         ",\"inactive\":" + std::to_string(e.inactive_agents) +
         ",\"no_usable_resources\":" + std::to_string(e.no_usable_resources) +
         ",\"rejected_by_filter\":{";
  size_t n = 0;
  for (auto& [f, count] : e.rejected_by)
    out += (n++ ? "," : "") + json_quote(f) + ":" + std::to_string(count);
  out += "},\"wrong_locality_level\":" + std::to_string(e.wrong_level) +
         ",\"declined\":" + std::to_string(e.declined) +
         ",\"smaller_than_smallest_task\":" + std::to_string(e.too_small) +
         ",\"offerable\":" + std::to_string(e.offerable) + "}";
  out += ",\"best\":[";
  for (size_t i = 0; i < e.best.size(); ++i) {
    auto& b = e.best[i];
    out += (i ? "," : "") + std::string("{\"agent\":") + json_quote(b.agent) +
           ",\"score\":" + number(b.score) + ",\"contributions\":{";
    for (size_t j = 0; j < b.contributions.size(); ++j)
      out += (j ? "," : "") + json_quote(b.contributions[j].first) + ":" +
             number(b.contributions[j].second);
    out += "}}";
  }
  out += "]";
  if (e.pair) {
    auto& p = *e.pair;
    out += ",\"agent\":{\"id\":" + json_quote(e.agent_id) +
           ",\"free\":" + amounts_json(e.agent_free, names) +
           ",\"min_request\":" + amounts_json(e.min_request, names) +
           ",\"usable\":" + (p.usable ? "true" : "false") +
           ",\"holds_min_request\":" + (p.holds_min_request ? "true" : "false") +
           ",\"accepted\":" + (p.accepted ? "true" : "false") +
           ",\"rejected_by\":" + json_quote(p.rejected_by) + ",\"level\":" + json_quote(p.level) +
           ",\"level_ok\":" + (p.level_ok ? "true" : "false") +
           ",\"declined\":" + (p.declined ? "true" : "false") +
           ",\"offered\":" + (p.offered ? "true" : "false") +
           ",\"offer\":" + amounts_json(p.offer, names) + ",\"score\":" + number(p.score) +
           ",\"rules\":{";
    size_t k = 0;
    for (auto& [name, v] : p.rules)
      out += (k++ ? "," : "") + json_quote(name) + ":" + value_json(v);
    out += "}}";
  }
  return out + "}";
}

std::string revision_json(const policy_revision& r) {
  auto& prog = *r.policy->prog;
  return "{\"name\":" + json_quote(prog.name) + ",\"version\":" + std::to_string(prog.version) +
         ",\"hash\":" + json_quote(prog.hash_hex()) +
         ",\"revision\":" + std::to_string(r.revision) +
         ",\"source_name\":" + json_quote(r.source_name) +
         ",\"loaded_at\":" + std::to_string(static_cast<double>(r.loaded_at_ms) / 1000.0) +
         ",\"source\":" + json_quote(r.source_text) + "}";
}

void policy_control::set_allocator(caf::actor allocator) {
  std::lock_guard<std::mutex> guard{mu_};
  allocator_ = std::move(allocator);
}

caf::actor policy_control::allocator() const {
  std::lock_guard<std::mutex> guard{mu_};
  return allocator_;
}

void policy_control::publish(std::string members) {
  std::lock_guard<std::mutex> guard{mu_};
  members_ = std::move(members);
}

void policy_control::record_failure(std::string failure) {
  std::lock_guard<std::mutex> guard{mu_};
  failure_ = std::move(failure);
  ++errors_;
}

void policy_control::count_success() {
  std::lock_guard<std::mutex> guard{mu_};
  ++success_;
}

std::string policy_control::render() const {
  std::lock_guard<std::mutex> guard{mu_};
  return "{" + members_ + ",\"last_failed_apply\":" + failure_ +
         ",\"reloads\":{\"success\":" + std::to_string(success_) +
         ",\"error\":" + std::to_string(errors_) + "}}";
}

double policy_control::last_success_seconds() const {
  std::lock_guard<std::mutex> guard{mu_};
  return last_success_;
}

void policy_control::set_last_success(double seconds) {
  std::lock_guard<std::mutex> guard{mu_};
  last_success_ = seconds;
}

std::pair<uint64_t, uint64_t> policy_control::reloads() const {
  std::lock_guard<std::mutex> guard{mu_};
  return {success_, errors_};
}

}  // namespace agora::master
