#include "agora/agent/agent_state.hpp"

#include "agora/protocol/json.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "agora/observability/http_server.hpp"

namespace agora::agent {

using protocol::task_state;
using protocol::task_status;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, const char* key, const std::string& value) {
  protocol::json::string_field(w, key, value);
}

void write_resources(writer& w, const char* key, const protocol::resources& r) {
  protocol::json::resources_field(w, key, r);
}

void write_task(writer& w, const task_record& t) {
  w.StartObject();
  str(w, "id", t.info.id);
  str(w, "name", t.info.name);
  str(w, "framework_id", t.framework.id);
  str(w, "role", t.role);
  str(w, "state", protocol::to_string(t.status.state));
  str(w, "command", t.info.command);
  write_resources(w, "resources", t.info.res);
  w.Key("pid");
  w.Int(t.pid);
  str(w, "sandbox", t.sandbox);
  str(w, "reason", t.status.reason);
  str(w, "message", t.status.message);
  w.Key("exit_code");
  w.Int(t.status.exit_code);
  w.Key("timestamp");
  w.Double(static_cast<double>(t.status.timestamp_ns) / 1e9);
  w.EndObject();
}

}  // namespace

exit_outcome describe_exit(const task_exited& e) {
  exit_outcome out;
  std::string how;
  if (e.signaled) {
    how = "killed by signal " + std::to_string(e.signal) + " (" + signal_name(e.signal) + ")";
  } else {
    how = "exited with status " + std::to_string(e.code);
    out.exit_code = e.code;
  }
  if (e.kill_requested) {
    out.state = task_state::killed;
    out.reason = "";
    out.message = "killed on request (" + how + ")";
  } else if (!e.limitation_reason.empty()) {
    // A limit of its container ended it (e.g. the memory limit): say which.
    out.state = task_state::failed;
    out.reason = e.limitation_reason;
    out.message = e.limitation_message + " (" + how + ")";
  } else if (!e.signaled && e.code == 0) {
    out.state = task_state::finished;
    out.reason = "";
    out.message = how;
  } else {
    out.state = task_state::failed;
    out.reason = "REASON_COMMAND_EXECUTOR_FAILED";
    out.message = how;
  }
  return out;
}

state_snapshot::state_snapshot() : json_(std::make_shared<const std::string>("{}")) {}

void state_snapshot::publish(std::string json) {
  auto p = std::make_shared<const std::string>(std::move(json));
  std::lock_guard<std::mutex> guard{mtx_};
  json_ = std::move(p);
}

std::shared_ptr<const std::string> state_snapshot::get() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return json_;
}

void state_snapshot::publish_principals(std::map<std::string, std::string> principals) {
  auto p = std::make_shared<const std::map<std::string, std::string>>(std::move(principals));
  std::lock_guard<std::mutex> guard{mtx_};
  principals_ = std::move(p);
}

std::string state_snapshot::principal(const std::string& id, bool& known) const {
  std::shared_ptr<const std::map<std::string, std::string>> p;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    p = principals_;
  }
  auto it = p ? p->find(id) : decltype(p->end()){};
  known = p && it != p->end();
  return known ? it->second : std::string{};
}

agent_state::~agent_state() = default;

std::shared_ptr<const agent_sample> agent_state::sample() const {
  auto m = std::make_shared<agent_sample>();
  m->registered = registered;
  m->capacity = config.resources;
  m->allocated = used();
  for (const auto& [key, t] : tasks) {
    ++m->tasks_by_state[protocol::to_string(t.status.state)];
    m->running.push_back({key.first, t.framework.name, t.role, key.second});
    if (!t.sandbox.empty()) m->sandboxes.push_back(t.sandbox);
  }
  for (const auto& t : completed) {
    ++m->tasks_by_state[protocol::to_string(t.status.state)];
    if (!t.sandbox.empty()) m->sandboxes.push_back(t.sandbox);
  }
  m->pending_updates = updates.size();
  auto oldest = updates.oldest_timestamp_ns();
  if (oldest > 0)
    m->oldest_pending_seconds = std::max(0.0, static_cast<double>(now_ns() - oldest) / 1e9);
  m->foreign_commands = foreign_commands;
  m->stale_epoch_commands = stale_epoch_commands;
  m->checkpoint_errors = checkpoint_errors;
  if (containers) m->isolator_errors = containers->isolator_errors();
  return m;
}

protocol::resources agent_state::used() const {
  protocol::resources r;
  for (const auto& [key, t] : tasks) r += t.info.res;
  return r;
}

std::string agent_state::make_uuid() {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

task_status agent_state::record_update(task_record& rec, task_state state, std::string reason,
                                       std::string message, int32_t exit_code) {
  task_status s;
  s.task_id = rec.info.id;
  s.framework_id = rec.framework.id;
  s.agent_id = agent_id;
  s.state = state;
  s.reason = std::move(reason);
  s.message = std::move(message);
  s.uuid = make_uuid();
  s.timestamp_ns = now_ns();
  s.exit_code = exit_code;
  rec.status = s;
  return s;
}

task_status agent_state::record_orphan_update(const std::string& framework_id,
                                              const std::string& task_id, task_state state,
                                              std::string reason, std::string message) {
  task_record rec;
  rec.framework.id = framework_id;
  rec.info.id = task_id;
  return record_update(rec, state, std::move(reason), std::move(message));
}

void agent_state::complete(
    std::map<std::pair<std::string, std::string>, task_record>::iterator it) {
  auto rec = std::move(it->second);
  tasks.erase(it);
  complete(std::move(rec));
}

void agent_state::complete(task_record rec) {
  task_json.erase({rec.framework.id, rec.info.id});
  rapidjson::StringBuffer buf;
  writer w{buf};
  write_task(w, rec);
  completed_json.emplace_back(buf.GetString(), buf.GetSize());
  completed.push_back(std::move(rec));
  while (completed.size() > std::max<size_t>(config.completed_tasks_kept, 1)) {
    completed.pop_front();
    completed_json.pop_front();
  }
}

std::vector<task_status> agent_state::running_statuses() const {
  std::vector<task_status> out;
  for (const auto& r : running_tasks()) out.push_back(r.status);
  return out;
}

std::vector<protocol::running_task> agent_state::running_tasks() const {
  std::vector<protocol::running_task> out;
  // Reported as the framework will next see it: the oldest unacknowledged
  // update, so that a master that does not know the task (a new leader)
  // relays the updates still to come instead of taking them for stale.
  auto report = [&](const protocol::framework_info& fw, const protocol::task_info& info,
                    const protocol::task_status& latest, const std::string& role) {
    protocol::running_task r{fw, info, latest, role};
    auto pending = updates.queued_updates(fw.id, info.id);
    if (!pending.empty()) {
      r.status = pending.front();
      r.latest_state = pending.back().state;
    }
    r.status.agent_id = agent_id;
    out.push_back(std::move(r));
  };
  for (const auto& [key, t] : tasks) report(t.framework, t.info, t.status, t.role);
  // Tasks that ended with updates still unacknowledged are reported too
  // (ended: `latest_state`), with their record while `completed` has it.
  std::set<std::pair<std::string, std::string>> seen;
  for (auto it = completed.rbegin(); it != completed.rend(); ++it) {
    auto key = std::make_pair(it->framework.id, it->info.id);
    if (tasks.count(key) == 0 && seen.insert(key).second &&
        !updates.queued_updates(key.first, key.second).empty())
      report(it->framework, it->info, it->status, it->role);
  }
  for (const auto& key : updates.keys()) {
    if (tasks.count(key) != 0 || seen.count(key) != 0) continue;
    protocol::framework_info fw;
    fw.id = key.first;
    protocol::task_info info;
    info.id = key.second;
    report(fw, info, {}, "");
  }
  return out;
}

protocol::agent_info agent_state::info() const {
  protocol::agent_info i;
  i.id = agent_id;
  i.hostname = hostname;
  i.total = config.resources;
  i.attributes = config.attributes;
  i.http_address = http_address;
  return i;
}

std::string agent_state::to_json() const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  str(w, "id", agent_id);
  str(w, "hostname", hostname);
  write_resources(w, "resources", config.resources);
  write_resources(w, "used_resources", used());
  w.Key("attributes");
  w.StartObject();
  for (const auto& [k, v] : config.attributes) str(w, k.c_str(), v);
  w.EndObject();
  str(w, "master", master_address);
  w.Key("registered");
  w.Bool(registered);
  w.Key("master_epoch");
  w.Int64(master_epoch);
  // Commands refused: from a peer that is not the master, or from a master
  // older than the leader followed (fencing).
  w.Key("dropped_commands");
  w.StartObject();
  w.Key("foreign");
  w.Uint64(foreign_commands);
  w.Key("stale_epoch");
  w.Uint64(stale_epoch_commands);
  w.EndObject();
  str(w, "http_address", http_address);
  str(w, "work_dir", config.work_dir);
  w.Key("isolation");
  w.RawValue(isolation_json.data(), isolation_json.size(), rapidjson::kObjectType);
  w.Key("pending_updates");
  w.Uint64(updates.size());
  // Checkpointing (`--recover`): where, how often it failed, and what the
  // start-up recovery found.
  w.Key("checkpoint");
  w.StartObject();
  w.Key("enabled");
  w.Bool(store != nullptr);
  if (store) str(w, "dir", store->dir());
  w.Key("errors");
  w.Uint64(checkpoint_errors);
  w.Key("recovered");
  w.Bool(recovery.done);
  w.Key("recovered_running");
  w.Uint64(recovery.running);
  w.Key("recovered_ended");
  w.Uint64(recovery.ended);
  w.Key("recovery_ms");
  w.Double(static_cast<double>(recovery.duration_us) / 1000.0);
  w.EndObject();
  w.Key("tasks");
  w.StartArray();
  for (const auto& [key, t] : tasks) {
    auto cached = task_json.find(key);
    if (cached == task_json.end()) {
      rapidjson::StringBuffer one;
      writer tw{one};
      write_task(tw, t);
      cached = task_json.emplace(key, std::string(one.GetString(), one.GetSize())).first;
    }
    w.RawValue(cached->second.data(), cached->second.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.Key("completed_tasks");
  w.StartArray();
  for (const auto& json : completed_json)
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace agora::agent
