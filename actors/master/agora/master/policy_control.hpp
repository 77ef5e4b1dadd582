#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "agora/policy/allocation_core.hpp"
#include "agora/policy/policy_outline.hpp"

/// Hot reload of the allocation policy (POLICY-LANGUAGE.md section 11): the
/// messages the operator endpoints send the allocator, and the state both
/// sides share.
namespace agora::master {

/// One policy the allocator runs or ran.
struct policy_revision {
  std::shared_ptr<const policy::runnable_policy> policy;
  std::string source_name;  ///< File name, or `weighted_drf.policy (embedded default)`.
  std::string source_text;
  /// The cluster schema it was checked against ("": none).
  std::string schema_text;
  int64_t revision = 0;      ///< 1 for the policy the master started with, +1 per change.
  int64_t loaded_at_ms = 0;  ///< Unix time of the swap, milliseconds.
};

/// Operator -> allocator: run `candidate` from the next cycle on. With
/// `shadow_ms` > 0 the candidate is first evaluated beside the active policy
/// for that long without acting, then installed. A candidate whose limits
/// are below what roles hold now is refused unless `force`.
struct install_policy {
  policy_revision candidate;
  bool force = false;
  int64_t shadow_ms = 0;
};

/// Operator -> allocator: cancel a shadow candidate, or else make the
/// previous policy active again.
struct rollback_policy {};

/// Operator -> allocator: explain the offers `framework` gets (and, with
/// `agent`, that pair in detail).
struct explain_request {
  std::string framework;
  std::string agent;
};

/// The allocator's answer to `install_policy`, `rollback_policy` and
/// `explain_request`: an
/// HTTP status and a JSON body.
struct policy_reply {
  int status = 200;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, install_policy& x) {
  // Only the descriptive parts: the message never leaves the process.
  return f(caf::meta::type_name("install_policy"), x.candidate.source_name, x.force, x.shadow_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rollback_policy&) {
  return f(caf::meta::type_name("rollback_policy"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, explain_request& x) {
  return f(caf::meta::type_name("explain_request"), x.framework, x.agent);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policy_reply& x) {
  return f(caf::meta::type_name("policy_reply"), x.status, x.body);
}

/// Returns `diagnostics` as a JSON array of objects (file, line, column,
/// code, severity, message, help).
std::string diagnostics_json(const std::vector<policy::diagnostic>& diagnostics);

/// Returns `e` as JSON; `resources` names the resource ids.
std::string explanation_json(const policy::explanation& e,
                             const std::vector<std::string>& resources);

/// Returns `items` as a JSON array of strings.
std::string strings_json(const std::vector<std::string>& items);

/// Returns the Unix time in milliseconds (load times, failure records).
int64_t unix_time_ms();

/// Returns a policy revision as a JSON object (name, version, hash,
/// revision, source, loaded_at).
std::string revision_json(const policy_revision& r);

/// What the HTTP side and the allocator share: the allocator's handle (set
/// once by the master when it spawns the allocator; never reachable from the
/// actor port) and the policy status the allocator publishes. Thread-safe.
class policy_control {
 public:
  /// Sets the allocator's handle.
  void set_allocator(caf::actor allocator);
  /// Returns the allocator's handle (invalid before the master started it).
  caf::actor allocator() const;
  /// Sets the allocator's part of `GET /policy`: JSON members `"active"`,
  /// `"previous"` and `"shadow"` (without the enclosing braces).
  void publish(std::string members);
  /// Records a failed apply (a JSON object) and counts it.
  void record_failure(std::string failure);
  /// Counts a successful reload (install or rollback).
  void count_success();
  /// Returns the `GET /policy` document.
  std::string render() const;
  /// Returns the reload counts (success, error).
  std::pair<uint64_t, uint64_t> reloads() const;
  /// Returns when the running policy was installed (Unix seconds).
  double last_success_seconds() const;
  /// Sets when the running policy was installed (Unix seconds).
  void set_last_success(double seconds);

 private:
  mutable std::mutex mu_;
  caf::actor allocator_;
  std::string members_ = "\"active\":null,\"previous\":null,\"shadow\":null";
  std::string failure_ = "null";
  uint64_t success_ = 0, errors_ = 0;
  double last_success_ = 0;
};

}  // namespace agora::master
