// Renders the master's state as JSON for `/state` (RapidJSON writer).

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "agora/master/master_actor.hpp"
#include "agora/protocol/json.hpp"

namespace agora::master {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, const char* key, const std::string& value) {
  protocol::json::string_field(w, key, value);
}

void write_resources(writer& w, const char* key, const protocol::resources& r) {
  protocol::json::resources_field(w, key, r);
}

void write_attributes(writer& w, const protocol::attribute_map& attrs) {
  w.Key("attributes");
  w.StartObject();
  for (const auto& [k, v] : attrs) str(w, k.c_str(), v);
  w.EndObject();
}

/// Writes a role's guarantee or limit as `{"cpus", "mem", "disk", "gpus"}`
/// (memory and disk in bytes), leaving out the parts that are unlimited
/// (negative).
void write_bound(writer& w, const char* key, const resources& r) {
  w.Key(key);
  w.StartObject();
  if (r.cpus_milli >= 0) {
    w.Key("cpus");
    w.Double(r.cpus());
  }
  if (r.mem_bytes >= 0) {
    w.Key("mem");
    w.Int64(r.mem_bytes);
  }
  if (r.disk_bytes >= 0) {
    w.Key("disk");
    w.Int64(r.disk_bytes);
  }
  if (r.gpus >= 0) {
    w.Key("gpus");
    w.Int64(r.gpus);
  }
  w.EndObject();
}

void write_task(writer& w, const task_record& t) {
  w.StartObject();
  str(w, "id", t.info.id);
  str(w, "name", t.info.name);
  str(w, "framework_id", t.framework_id);
  str(w, "agent_id", t.agent_id);
  str(w, "role", t.role);
  str(w, "state", protocol::to_string(t.status.state));
  // Ended on the agent, with updates still waiting for acknowledgement.
  if (t.released) {
    w.Key("resources_released");
    w.Bool(true);
  }
  str(w, "command", t.info.command);
  write_resources(w, "resources", t.info.res);
  str(w, "reason", t.status.reason);
  str(w, "message", t.status.message);
  w.Key("exit_code");
  w.Int(t.status.exit_code);
  w.Key("timestamp");
  w.Double(static_cast<double>(t.status.timestamp_ns) / 1e9);
  if (t.launched_ns > 0) {  // not known for a task adopted from an agent
    w.Key("launched_time");
    w.Double(static_cast<double>(t.launched_ns) / 1e9);
  }
  w.Key("statuses");
  w.StartArray();
  for (const auto& h : t.history) {
    w.StartObject();
    str(w, "state", protocol::to_string(h.state));
    str(w, "reason", h.reason);
    str(w, "message", h.message);
    w.Key("timestamp");
    w.Double(static_cast<double>(h.timestamp_ns) / 1e9);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

const char* health_name(agent_health h) {
  switch (h) {
    case agent_health::active:
      return "active";
    case agent_health::disconnected:
      return "disconnected";
    case agent_health::unreachable:
      return "unreachable";
  }
  return "unknown";
}

}  // namespace

std::string render_state_json(const master_state& st) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  str(w, "id", st.master_id);
  str(w, "version", "0.1.0");
  str(w, "hostname", st.config.hostname);
  str(w, "http_address", st.config.http_address);
  str(w, "actor_address", st.config.actor_address);
  w.Key("start_time");
  w.Double(static_cast<double>(st.start_time_ns) / 1e9);
  w.Key("leader");
  w.Bool(st.leading);
  w.Key("election");
  w.StartObject();
  str(w, "mode", st.config.zk_url.empty() ? "standalone" : "zookeeper");
  if (!st.config.zk_url.empty()) str(w, "zk", st.config.zk_url);
  str(w, "state", st.leading ? "leading" : "standby");
  w.Key("epoch");
  w.Int64(st.epoch);
  w.EndObject();
  if (!st.leader_json.empty()) {
    w.Key("leader_info");
    w.RawValue(st.leader_json.c_str(), st.leader_json.size(), rapidjson::kObjectType);
  }

  protocol::resources total;
  protocol::resources used;
  protocol::resources offered;
  size_t active_agents = 0;
  w.Key("agents");
  w.StartArray();
  for (const auto& [id, a] : st.agents) {
    protocol::resources a_used;
    protocol::resources a_offered;
    for (const auto& key : a.tasks)
      if (auto t = st.tasks.find(key); t != st.tasks.end() && !t->second.released)
        a_used += t->second.info.res;
    for (const auto& o : a.offers)
      if (auto it = st.offers.find(o); it != st.offers.end()) a_offered += it->second.offer.res;
    if (a.health != agent_health::unreachable) {
      total += a.info.total;
      used += a_used;
      offered += a_offered;
      ++active_agents;
    }
    w.StartObject();
    str(w, "id", id);
    str(w, "hostname", a.info.hostname);
    str(w, "http_address", a.info.http_address);
    str(w, "health", health_name(a.health));
    w.Key("active");
    w.Bool(a.health == agent_health::active);
    write_resources(w, "resources", a.info.total);
    write_resources(w, "used_resources", a_used);
    write_resources(w, "offered_resources", a_offered);
    write_attributes(w, a.info.attributes);
    w.Key("task_count");
    w.Uint64(a.tasks.size());
    w.Key("registered_time");
    w.Double(static_cast<double>(a.registered_at_ns) / 1e9);
    w.EndObject();
  }
  w.EndArray();
  w.Key("activated_agents");
  w.Uint64(active_agents);

  w.Key("frameworks");
  w.StartArray();
  for (const auto& [id, f] : st.frameworks) {
    protocol::resources f_used;
    protocol::resources f_offered;
    w.StartObject();
    str(w, "id", id);
    str(w, "name", f.info.name);
    str(w, "principal", f.info.principal);
    w.Key("roles");
    w.StartArray();
    for (const auto& r : f.info.roles) w.String(r.c_str());
    w.EndArray();
    w.Key("active");
    w.Bool(f.connected);
    w.Key("connected");
    w.Bool(f.connected);
    w.Key("failover_timeout");
    w.Double(static_cast<double>(f.info.failover_timeout_ms) / 1000.0);
    w.Key("tasks");
    w.StartArray();
    for (const auto& task_id : f.tasks) {
      if (auto t = st.tasks.find({id, task_id}); t != st.tasks.end()) {
        if (!t->second.released) f_used += t->second.info.res;
        write_task(w, t->second);
      }
    }
    w.EndArray();
    w.Key("offers");
    w.StartArray();
    for (const auto& o : f.offers) {
      auto it = st.offers.find(o);
      if (it == st.offers.end()) continue;
      f_offered += it->second.offer.res;
      w.StartObject();
      str(w, "id", o);
      str(w, "agent_id", it->second.offer.agent_id);
      str(w, "role", it->second.offer.role);
      write_resources(w, "resources", it->second.offer.res);
      w.EndObject();
    }
    w.EndArray();
    write_resources(w, "used_resources", f_used);
    write_resources(w, "offered_resources", f_offered);
    w.EndObject();
  }
  w.EndArray();

  w.Key("completed_tasks");
  w.StartArray();
  for (const auto& t : st.completed_tasks) write_task(w, t);
  w.EndArray();
  // The most recent removed frameworks (the master remembers many more
  // ids, to refuse them).
  w.Key("completed_frameworks");
  w.StartArray();
  for (const auto& f : st.completed_framework_records) {
    w.StartObject();
    str(w, "id", f.info.id);
    str(w, "name", f.info.name);
    str(w, "principal", f.info.principal);
    w.Key("roles");
    w.StartArray();
    for (const auto& r : f.info.roles) w.String(r.c_str());
    w.EndArray();
    w.Key("registered_time");
    w.Double(static_cast<double>(f.registered_at_ns) / 1e9);
    w.Key("removed_time");
    w.Double(static_cast<double>(f.removed_at_ns) / 1e9);
    str(w, "reason", f.reason);
    w.EndObject();
  }
  w.EndArray();

  w.Key("roles");
  w.StartArray();
  for (const auto& r : st.roles) {
    w.StartObject();
    str(w, "name", r.role);
    w.Key("weight");
    w.Double(r.weight);
    w.Key("weighted_share");
    w.Double(r.share);
    w.Key("dominant_share");
    w.Double(r.dominant_share);
    w.Key("frameworks_wanting");
    w.Uint64(r.frameworks_wanting);
    write_resources(w, "allocated", r.allocated);
    if (r.has_guarantee) write_bound(w, "guarantee", r.guarantee);
    if (r.has_limit) write_bound(w, "limit", r.limit);
    w.EndObject();
  }
  w.EndArray();

  // The allocation policy of the last cycle.
  w.Key("policy");
  w.StartObject();
  str(w, "name", st.policy.name);
  w.Key("version");
  w.Int64(st.policy.version);
  str(w, "hash", st.policy.hash);
  w.Key("revision");
  w.Int64(st.policy.revision);
  str(w, "source", st.policy.source_name);
  w.EndObject();

  w.Key("cluster");
  w.StartObject();
  write_resources(w, "total", total);
  write_resources(w, "used", used);
  write_resources(w, "offered", offered);
  w.EndObject();

  w.Key("counters");
  w.StartObject();
  w.Key("tasks_launched");
  w.Uint64(st.tasks_launched);
  w.Key("offers_made");
  w.Uint64(st.offers_made);
  w.Key("offers_declined");
  w.Uint64(st.offers_declined);
  w.Key("offers_rescinded");
  w.Uint64(st.offers_rescinded);
  w.Key("invalid_requests");
  w.Uint64(st.invalid_requests);
  w.Key("outstanding_offers");
  w.Uint64(st.offers.size());
  w.Key("last_allocation_cycle_seconds");
  w.Double(static_cast<double>(st.last_cycle_ns) / 1e9);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

}  // namespace agora::master
