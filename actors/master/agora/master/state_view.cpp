// The records of `/state`, rendered by the master when they change, and
// the document, assembled from a frozen snapshot on the reader's thread.

#include "agora/master/state_view.hpp"

#include <algorithm>
#include <unordered_map>
#include <vector>

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

/// Returns what `fn(writer&)` writes.
template <class F>
std::string render_json(F&& fn) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  fn(w);
  return {buf.GetString(), buf.GetSize()};
}

/// Returns the object `fn` writes without its braces.
template <class F>
std::string render_members(F&& fn) {
  auto s = render_json(std::forward<F>(fn));
  return s.size() >= 2 ? s.substr(1, s.size() - 2) : std::string{};
}

void write_roles(writer& w, const std::vector<std::string>& roles) {
  w.Key("roles");
  w.StartArray();
  for (const auto& r : roles) w.String(r.c_str());
  w.EndArray();
}

/// Appends `cpus_milli / 1000` as RapidJSON writes that double: the
/// shortest exact form, with `.0` for whole numbers (thousandths are exact
/// in three decimals).
void append_cpus(std::string& out, int64_t milli) {
  if (milli < 0) {
    out += '-';
    milli = -milli;
  }
  out += std::to_string(milli / 1000);
  int64_t frac = milli % 1000;
  out += '.';
  if (frac == 0) {
    out += '0';
    return;
  }
  char digits[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10), 0};
  int n = 3;
  while (n > 1 && digits[n - 1] == '0') --n;
  out.append(digits, static_cast<size_t>(n));
}

/// Appends `"key":{resources}` as `protocol::json::resources_field`
/// writes it, without a writer per call (readers append one per agent).
void append_resources_member(std::string& out, const char* key, const protocol::resources& r) {
  out += '"';
  out += key;
  out += "\":{\"cpus\":";
  append_cpus(out, r.cpus_milli);
  out += ",\"mem\":";
  out += std::to_string(r.mem_bytes);
  out += ",\"disk\":";
  out += std::to_string(r.disk_bytes);
  out += ",\"gpus\":";
  out += std::to_string(r.gpus);
  out += ",\"ports\":[";
  for (size_t i = 0; i < r.ports.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"begin\":";
    out += std::to_string(r.ports[i].begin);
    out += ",\"end\":";
    out += std::to_string(r.ports[i].end);
    out += '}';
  }
  out += "]}";
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
    str(w, "reason", h.reason());
    str(w, "message", h.message());
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

std::shared_ptr<const agent_view> make_agent_view(const std::string& id, const agent_record& a) {
  auto v = std::make_shared<agent_view>();
  v->json = render_members([&](writer& w) {
    w.StartObject();
    str(w, "id", id);
    str(w, "hostname", a.info.hostname);
    str(w, "http_address", a.info.http_address);
    str(w, "health", health_name(a.health));
    w.Key("active");
    w.Bool(a.health == agent_health::active);
    write_resources(w, "resources", a.info.total);
    w.Key("attributes");
    w.StartObject();
    for (const auto& [k, val] : a.info.attributes) str(w, k.c_str(), val);
    w.EndObject();
    w.Key("registered_time");
    w.Double(static_cast<double>(a.registered_at_ns) / 1e9);
    w.EndObject();
  });
  v->total = a.info.total;
  v->counted = a.health != agent_health::unreachable;
  v->health = health_name(a.health);
  v->http_address = a.info.http_address;
  return v;
}

std::shared_ptr<const framework_view> make_framework_view(const std::string& id,
                                                          const framework_record& f) {
  auto v = std::make_shared<framework_view>();
  v->principal = f.info.principal;
  v->json = render_members([&](writer& w) {
    w.StartObject();
    str(w, "id", id);
    str(w, "name", f.info.name);
    str(w, "principal", f.info.principal);
    write_roles(w, f.info.roles);
    w.Key("active");
    w.Bool(f.connected);
    w.Key("connected");
    w.Bool(f.connected);
    w.Key("failover_timeout");
    w.Double(static_cast<double>(f.info.failover_timeout_ms) / 1000.0);
    w.EndObject();
  });
  v->connected = f.connected;
  return v;
}

std::shared_ptr<const task_view> make_task_view(const task_record& t) {
  auto v = std::make_shared<task_view>();
  v->json = render_json([&](writer& w) { write_task(w, t); });
  v->agent_id = t.agent_id;
  v->res = t.info.res;
  v->uses = !protocol::is_terminal(t.status.state) && !t.released;
  v->state = t.status.state;
  v->role = t.role;
  return v;
}

std::shared_ptr<const offer_view> make_offer_view(const std::string& id, const offer_record& o) {
  auto v = std::make_shared<offer_view>();
  v->json = render_json([&](writer& w) {
    w.StartObject();
    str(w, "id", id);
    str(w, "agent_id", o.offer.agent_id);
    str(w, "role", o.offer.role);
    write_resources(w, "resources", o.offer.res);
    w.EndObject();
  });
  v->framework_id = o.offer.framework_id;
  v->agent_id = o.offer.agent_id;
  v->role = o.offer.role;
  v->res = o.offer.res;
  return v;
}

/// The document's bounded parts, rendered by the master at each publish.
void render_bounded(const master_state& st, state_snapshot& s) {
  s.head = render_members([&](writer& w) {
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
    w.EndObject();
  });
  s.completed_tasks = render_json([&](writer& w) {
    w.StartArray();
    for (const auto& t : st.completed_tasks) write_task(w, t);
    w.EndArray();
  });
  // The most recent removed frameworks (the master remembers many more
  // ids, to refuse them).
  s.completed_frameworks = render_json([&](writer& w) {
    w.StartArray();
    for (const auto& f : st.completed_framework_records) {
      w.StartObject();
      str(w, "id", f.info.id);
      str(w, "name", f.info.name);
      str(w, "principal", f.info.principal);
      write_roles(w, f.info.roles);
      w.Key("registered_time");
      w.Double(static_cast<double>(f.registered_at_ns) / 1e9);
      w.Key("removed_time");
      w.Double(static_cast<double>(f.removed_at_ns) / 1e9);
      str(w, "reason", f.reason);
      w.EndObject();
    }
    w.EndArray();
  });
  s.roles = render_json([&](writer& w) {
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
  });
  // The allocation policy of the last cycle.
  s.policy = render_json([&](writer& w) {
    w.StartObject();
    str(w, "name", st.policy.name);
    w.Key("version");
    w.Int64(st.policy.version);
    str(w, "hash", st.policy.hash);
    w.Key("revision");
    w.Int64(st.policy.revision);
    str(w, "source", st.policy.source_name);
    w.EndObject();
  });
  s.counters = render_json([&](writer& w) {
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
    w.Key("foreign_messages");
    w.Uint64(st.foreign_messages);
    w.Key("authentications");
    w.StartObject();
    for (const char* outcome : {"success", "failure", "throttled", "missing"}) {
      auto it = st.authentications.find(outcome);
      w.Key(outcome);
      w.Uint64(it == st.authentications.end() ? 0 : it->second);
    }
    w.EndObject();
    w.Key("outstanding_offers");
    w.Uint64(st.offers.size());
    w.Key("last_allocation_cycle_seconds");
    w.Double(static_cast<double>(st.last_cycle_ns) / 1e9);
    w.EndObject();
  });
}

/// Adds or subtracts `r`, ports included only with `ports`.
void add(protocol::resources& into, const protocol::resources& r, int sign, bool ports) {
  if (ports) {
    if (sign > 0)
      into += r;
    else
      into -= r;
    return;
  }
  into.cpus_milli += sign * r.cpus_milli;
  into.mem_bytes += sign * r.mem_bytes;
  into.disk_bytes += sign * r.disk_bytes;
  into.gpus += sign * r.gpus;
}

/// Calls `fn(key, value)` for every record of a frozen map.
template <class Frozen, class F>
void each(const Frozen& frozen, F&& fn) {
  for (const auto& shard : frozen)
    if (shard)
      for (const auto& [key, value] : *shard) fn(key, *value);
}

}  // namespace

bool state_filter::parse(const std::string& only, state_filter& out, std::string& error) {
  static const std::pair<const char*, bool state_filter::*> parts[] = {
      {"agents", &state_filter::agents},   {"frameworks", &state_filter::frameworks},
      {"tasks", &state_filter::tasks},     {"completed", &state_filter::completed},
      {"roles", &state_filter::roles},     {"policy", &state_filter::policy},
      {"cluster", &state_filter::cluster}, {"counters", &state_filter::counters}};
  out = state_filter{};
  if (only.empty()) return true;
  for (const auto& [name, member] : parts) out.*member = false;
  size_t start = 0;
  while (start <= only.size()) {
    auto end = only.find(',', start);
    if (end == std::string::npos) end = only.size();
    auto part = only.substr(start, end - start);
    bool known = false;
    for (const auto& [name, member] : parts)
      if (part == name) known = out.*member = true;
    if (!known) {
      error = "unknown part '" + part + "' in only= (";
      for (const auto& [name, member] : parts)
        error += std::string(name) + (member == parts[7].second ? ")" : ", ");
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::string render_snapshot(const state_snapshot& s, const state_filter& f) {
  // Each framework's tasks and offers (one pass, only when listed).
  std::unordered_map<std::string, std::vector<const task_view*>> tasks_of;
  std::unordered_map<std::string, std::vector<const offer_view*>> offers_of;
  // The rendered records' bytes, so that the document is allocated once
  // (at 200,000 tasks it is over 100 MB: growing it by doubling would copy
  // it again and again).
  size_t records = 0;
  if (f.frameworks) {
    const std::string* last_id = nullptr;
    std::vector<const task_view*>* last = nullptr;
    each(s.tasks, [&](const task_key& key, const task_view& t) {
      // Within a shard, a framework's tasks are next to each other.
      if (last_id == nullptr || *last_id != key.framework_id) {
        last = &tasks_of[key.framework_id];
        last_id = &key.framework_id;
      }
      last->push_back(&t);
      records += t.json.size() + 1;
    });
    each(s.offers, [&](const std::string&, const offer_view& o) {
      offers_of[o.framework_id].push_back(&o);
      records += o.json.size() + 1;
    });
  }
  // The flat list repeats the tasks listed under their frameworks.
  if (f.tasks)
    each(s.tasks, [&](const task_key&, const task_view& t) { records += t.json.size() + 1; });
  static const usage none;
  auto usage_of = [](const usage_map::frozen& m, const std::string& id) -> const usage& {
    const usage* u = usage_map::find(m, id);
    return u != nullptr ? *u : none;
  };

  // Per agent and framework: its record and sums of at most about 500
  // bytes (`append_resources_member` without ports).
  constexpr size_t sums = 512;
  each(s.agents, [&](const std::string&, const agent_view& a) { records += a.json.size() + sums; });
  each(s.frameworks,
       [&](const std::string&, const framework_view& fw) { records += fw.json.size() + sums; });
  std::string out;
  out.reserve(records + s.head.size() + s.completed_tasks.size() + s.completed_frameworks.size() +
              s.roles.size() + s.policy.size() + s.counters.size() + 4096);
  out += '{';
  out += s.head;
  // Agents, in id order.
  protocol::resources total, used, offered;
  size_t active_agents = 0;
  std::vector<std::pair<const std::string*, const agent_view*>> agents;
  each(s.agents, [&](const std::string& id, const agent_view& a) {
    agents.emplace_back(&id, &a);
    if (!a.counted) return;
    const usage& u = usage_of(s.agent_usage, id);
    // Without ports: the same numbers on two agents are two ports.
    add(total, a.total, 1, false);
    add(used, u.used, 1, false);
    add(offered, u.offered, 1, false);
    ++active_agents;
  });
  if (f.agents) {
    std::sort(agents.begin(), agents.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    out += ",\"agents\":[";
    bool first = true;
    for (const auto& [id, a] : agents) {
      const usage& sum = usage_of(s.agent_usage, *id);
      if (!first) out += ',';
      first = false;
      out += '{';
      out += a->json;
      out += ',';
      append_resources_member(out, "used_resources", sum.used);
      out += ',';
      append_resources_member(out, "offered_resources", sum.offered);
      out += ",\"task_count\":";
      out += std::to_string(sum.tasks);
      out += '}';
    }
    out += "],\"activated_agents\":";
    out += std::to_string(active_agents);
  }
  if (f.frameworks) {
    std::vector<std::pair<const std::string*, const framework_view*>> frameworks;
    each(s.frameworks, [&](const std::string& id, const framework_view& fw) {
      frameworks.emplace_back(&id, &fw);
    });
    std::sort(frameworks.begin(), frameworks.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    out += ",\"frameworks\":[";
    bool first = true;
    for (const auto& [id, fw] : frameworks) {
      if (!first) out += ',';
      first = false;
      out += '{';
      out += fw->json;
      out += ",\"tasks\":[";
      if (auto it = tasks_of.find(*id); it != tasks_of.end()) {
        for (size_t i = 0; i < it->second.size(); ++i) {
          if (i > 0) out += ',';
          out += it->second[i]->json;
        }
      }
      out += "],\"offers\":[";
      if (auto it = offers_of.find(*id); it != offers_of.end()) {
        for (size_t i = 0; i < it->second.size(); ++i) {
          if (i > 0) out += ',';
          out += it->second[i]->json;
        }
      }
      out += "],";
      const usage& fs = usage_of(s.framework_usage, *id);
      append_resources_member(out, "used_resources", fs.used);
      out += ',';
      append_resources_member(out, "offered_resources", fs.offered);
      out += '}';
    }
    out += ']';
  }
  if (f.tasks) {
    // Every active task in one flat list (each names its framework).
    out += ",\"tasks\":[";
    bool first = true;
    each(s.tasks, [&](const task_key&, const task_view& t) {
      if (!first) out += ',';
      first = false;
      out += t.json;
    });
    out += ']';
  }
  if (f.completed) {
    out += ",\"completed_tasks\":";
    out += s.completed_tasks;
    out += ",\"completed_frameworks\":";
    out += s.completed_frameworks;
  }
  if (f.roles) {
    out += ",\"roles\":";
    out += s.roles;
  }
  if (f.policy) {
    out += ",\"policy\":";
    out += s.policy;
  }
  if (f.cluster) {
    out += ",\"cluster\":{";
    append_resources_member(out, "total", total);
    out += ',';
    append_resources_member(out, "used", used);
    out += ',';
    append_resources_member(out, "offered", offered);
    out += '}';
  }
  if (f.counters) {
    out += ",\"counters\":";
    out += s.counters;
  }
  out += '}';
  return out;
}

std::shared_ptr<const state_snapshot> state_view::update(const master_state& st,
                                                         const state_changes& changed) {
  for (const auto& id : changed.agents) {
    auto it = st.agents.find(id);
    if (it == st.agents.end())
      agents_.erase(id);
    else
      agents_.put(id, make_agent_view(id, it->second));
  }
  for (const auto& id : changed.frameworks) {
    auto it = st.frameworks.find(id);
    if (it == st.frameworks.end())
      frameworks_.erase(id);
    else
      frameworks_.put(id, make_framework_view(id, it->second));
  }
  for (const auto& key : changed.tasks) {
    auto it = st.tasks.find({key.framework_id, key.task_id});
    if (it == st.tasks.end())
      erase_task(key);
    else
      put_task(key, make_task_view(it->second));
  }
  for (const auto& id : changed.offers) {
    auto it = st.offers.find(id);
    if (it == st.offers.end())
      erase_offer(id);
    else
      put_offer(id, make_offer_view(id, it->second));
  }
  return freeze(st);
}

std::shared_ptr<const state_snapshot> state_view::rebuild(const master_state& st) {
  agents_ = {};
  frameworks_ = {};
  tasks_ = {};
  offers_ = {};
  agent_usage_ = {};
  framework_usage_ = {};
  for (const auto& [id, a] : st.agents) agents_.put(id, make_agent_view(id, a));
  for (const auto& [id, fw] : st.frameworks) frameworks_.put(id, make_framework_view(id, fw));
  for (const auto& [key, t] : st.tasks) put_task({key.first, key.second}, make_task_view(t));
  for (const auto& [id, o] : st.offers) put_offer(id, make_offer_view(id, o));
  return freeze(st);
}

std::shared_ptr<const state_snapshot> state_view::freeze(const master_state& st) {
  auto s = std::make_shared<state_snapshot>();
  s->agents = agents_.freeze();
  s->frameworks = frameworks_.freeze();
  s->tasks = tasks_.freeze();
  s->offers = offers_.freeze();
  s->agent_usage = agent_usage_.freeze();
  s->framework_usage = framework_usage_.freeze();
  render_bounded(st, *s);
  s->version = ++version_;
  return s;
}

namespace {

/// Returns `u` changed by `fn` as a new record of `m` under `key`.
template <class F>
void change_usage(usage_map& m, const std::string& key, F&& fn) {
  const usage* old = m.find(key);
  auto next = std::make_shared<usage>(old != nullptr ? *old : usage{});
  fn(*next);
  m.put(key, std::move(next));
}

}  // namespace

void state_view::account(const std::string& framework_id, const task_view& t, int sign) {
  change_usage(agent_usage_, t.agent_id, [&](usage& u) {
    u.tasks = sign > 0 ? u.tasks + 1 : u.tasks - 1;
    if (t.uses) add(u.used, t.res, sign, true);
  });
  if (t.uses)
    change_usage(framework_usage_, framework_id,
                 [&](usage& u) { add(u.used, t.res, sign, false); });
}

void state_view::account(const offer_view& o, int sign) {
  change_usage(agent_usage_, o.agent_id, [&](usage& u) { add(u.offered, o.res, sign, true); });
  change_usage(framework_usage_, o.framework_id,
               [&](usage& u) { add(u.offered, o.res, sign, false); });
}

void state_view::put_task(const task_key& key, std::shared_ptr<const task_view> t) {
  if (const task_view* old = tasks_.find(key)) account(key.framework_id, *old, -1);
  account(key.framework_id, *t, 1);
  tasks_.put(key, std::move(t));
}

void state_view::erase_task(const task_key& key) {
  if (const task_view* old = tasks_.find(key)) {
    account(key.framework_id, *old, -1);
    tasks_.erase(key);
  }
}

void state_view::put_offer(const std::string& id, std::shared_ptr<const offer_view> o) {
  if (const offer_view* old = offers_.find(id)) account(*old, -1);
  account(*o, 1);
  offers_.put(id, std::move(o));
}

void state_view::erase_offer(const std::string& id) {
  if (const offer_view* old = offers_.find(id)) {
    account(*old, -1);
    offers_.erase(id);
  }
}

}  // namespace agora::master
