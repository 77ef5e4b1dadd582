#include "agora/master/policy_control.hpp"

#include "agora/observability/json.hpp"

namespace agora::master {

using observability::json_quote;

std::string diagnostics_json(const std::vector<policy::diagnostic>& diagnostics) {
  std::string out = "[";
  for (size_t i = 0; i < diagnostics.size(); ++i) {
    auto& d = diagnostics[i];
    out += i ? "," : "";
    out += "{\"file\":" + json_quote(d.file) + ",\"line\":" + std::to_string(d.begin.line) +
           ",\"column\":" + std::to_string(d.begin.column) + ",\"code\":" + json_quote(d.code) +
           ",\"severity\":" +
           json_quote(d.severity == policy::severity::error ? "error" : "warning") +
           ",\"message\":" + json_quote(d.message) + ",\"help\":" + json_quote(d.help) + "}";
  }
  return out + "]";
}

std::string revision_json(const policy_revision& r) {
  auto& prog = *r.policy->prog;
  return "{\"name\":" + json_quote(prog.name) + ",\"version\":" + std::to_string(prog.version) +
         ",\"hash\":" + json_quote(prog.hash_hex()) + ",\"revision\":" +
         std::to_string(r.revision) + ",\"source_name\":" + json_quote(r.source_name) +
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
  return "{" + members_ + ",\"last_failed_apply\":" + failure_ + ",\"reloads\":{\"success\":" +
         std::to_string(success_) + ",\"error\":" + std::to_string(errors_) + "}}";
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
