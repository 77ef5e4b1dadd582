#include "agora/master/allocator.hpp"

#include <cmath>
#include <cstdlib>
#include <iostream>

namespace agora::master {

namespace {

resources ports_of(const resources& r) {
  resources out;
  out.ports = r.ports;
  return out;
}

}  // namespace

// Defined in the file CMake generates from policy-lang/examples/weighted_drf.policy.
extern const char* const embedded_default_policy;
extern const char* const embedded_default_policy_name;

const std::string& default_policy_source() {
  static const std::string text = embedded_default_policy;
  return text;
}

const policy::runnable_policy& default_policy() {
  static const policy::runnable_policy loaded = [] {
    auto p = policy::load_policy_text(embedded_default_policy_name, default_policy_source());
    if (!p.ok()) {
      // The build embeds a policy the policy tests check; failing here is a
      // build defect, not an operator error.
      std::cerr << "agora: the embedded default policy does not compile:\n" << p.render_errors();
      std::abort();
    }
    return policy::runnable_policy{p.prog, p.outline};
  }();
  return loaded;
}

policy::amounts to_amounts(const resources& r) {
  policy::amounts a{};
  a[0] = r.cpus_milli;
  a[1] = r.mem_bytes;
  a[2] = r.disk_bytes;
  a[3] = r.gpus * policy::unit_scale(3);
  return a;
}

resources to_resources(const policy::amounts& a) {
  resources r;
  r.cpus_milli = a[0];
  r.mem_bytes = a[1];
  r.disk_bytes = a[2];
  r.gpus = a[3] / policy::unit_scale(3);
  return r;
}

allocator::allocator(policy::runnable_policy policy) : core_(std::move(policy)) {}

void allocator::add_agent(const std::string& agent_id, const resources& total,
                          const std::map<std::string, std::map<std::string, resources>>& used_by,
                          const std::string& hostname,
                          const std::map<std::string, std::string>& attributes) {
  std::map<std::string, std::map<std::string, policy::amounts>> held;
  auto& ports = ports_[agent_id];
  ports.total = ports_of(total);
  ports.free = ports.total;
  for (const auto& [framework, by_role] : used_by) {
    for (const auto& [role, res] : by_role) {
      held[framework][role] = to_amounts(res);
      ports.free -= ports_of(res);
    }
  }
  core_.add_agent(agent_id, hostname, attributes, to_amounts(total), held);
}

void allocator::remove_agent(const std::string& agent_id) {
  core_.remove_agent(agent_id);
  ports_.erase(agent_id);
}

void allocator::set_agent_active(const std::string& agent_id, bool active) {
  core_.set_agent_active(agent_id, active);
}

void allocator::add_framework(const std::string& framework_id,
                              const std::vector<std::string>& roles,
                              const framework_demand& demand) {
  policy::framework_spec spec;
  spec.id = framework_id;
  spec.roles = roles;
  spec.user = demand.user;
  spec.labels = demand.labels;
  spec.min_request = to_amounts(demand.min_request);
  spec.demand = to_amounts(demand.demand);
  core_.add_framework(spec);
}

void allocator::remove_framework(const std::string& framework_id) {
  core_.remove_framework(framework_id);
}

void allocator::set_framework_active(const std::string& framework_id, bool active) {
  core_.set_framework_active(framework_id, active);
}

void allocator::revive(const std::string& framework_id, const std::vector<std::string>& roles) {
  core_.revive(framework_id, roles);
}

void allocator::suppress(const std::string& framework_id, const std::vector<std::string>& roles) {
  core_.suppress(framework_id, roles);
}

void allocator::recover(const std::string& framework_id, const std::string& role,
                        const std::string& agent_id, const resources& res,
                        std::chrono::milliseconds refuse, clock_type::time_point now) {
  core_.recover(framework_id, role, agent_id, to_amounts(res), refuse, now);
  if (auto it = ports_.find(agent_id); it != ports_.end() && !res.ports.empty()) {
    // Only ports of this agent that are not free already come back.
    resources back = ports_of(res);
    resources outside = back;
    outside -= it->second.total;
    back -= outside;
    back -= it->second.free;
    it->second.free += back;
  }
}

void allocator::set_weight(const std::string& role, double weight) {
  core_.set_weight_override(role, weight);
}

std::vector<offer_decision> allocator::allocate(clock_type::time_point now) {
  return with_ports(core_.allocate(now));
}

std::vector<offer_decision> allocator::allocate(clock_type::time_point now,
                                                const std::vector<std::string>& agents) {
  return with_ports(core_.allocate(now, agents));
}

std::vector<offer_decision> allocator::with_ports(std::vector<policy::core_offer> offers) {
  std::vector<offer_decision> out;
  for (auto& o : offers) {
    offer_decision d{o.framework_id, o.agent_id, o.role, to_resources(o.res)};
    if (auto it = ports_.find(o.agent_id); it != ports_.end() && !it->second.free.ports.empty()) {
      d.res.ports = it->second.free.ports;
      it->second.free.ports.clear();
    }
    out.push_back(std::move(d));
  }
  return out;
}

resources allocator::agent_free(const std::string& agent_id) const {
  auto free = to_resources(core_.agent_free(agent_id));
  if (auto it = ports_.find(agent_id); it != ports_.end()) free.ports = it->second.free.ports;
  return free;
}

resources allocator::role_allocation(const std::string& role) const {
  return to_resources(core_.role_allocation(role));
}

resources allocator::framework_allocation(const std::string& framework_id) const {
  return to_resources(core_.framework_allocation(framework_id));
}

double allocator::role_share(const std::string& role) const {
  double w = core_.weight(role);
  double share = core_.dominant_share(role);
  return w > 0 ? share / w : share;
}

std::string allocator::check_invariants() const {
  std::string err = core_.check_invariants();
  for (const auto& [id, p] : ports_)
    if (!p.total.contains(p.free)) err += "agent " + id + " has free ports outside its total; ";
  return err;
}

}  // namespace agora::master
