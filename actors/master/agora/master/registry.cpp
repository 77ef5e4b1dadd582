#include "agora/master/registry.hpp"

#include <algorithm>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace agora::master {

void registry::remove_framework(const std::string& id) {
  if (std::find(removed_frameworks.begin(), removed_frameworks.end(), id) !=
      removed_frameworks.end())
    return;
  removed_frameworks.push_back(id);
  if (removed_frameworks.size() > max_removed_frameworks)
    removed_frameworks.erase(
        removed_frameworks.begin(),
        removed_frameworks.begin() +
            static_cast<std::ptrdiff_t>(removed_frameworks.size() - max_removed_frameworks));
}

std::string registry::to_json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("format");
  w.Int(1);
  w.Key("leader_epoch");
  w.Int64(leader_epoch);
  w.Key("agents");
  w.StartObject();
  for (const auto& [id, a] : agents) {
    w.Key(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    w.StartObject();
    w.Key("hostname");
    w.String(a.hostname.c_str(), static_cast<rapidjson::SizeType>(a.hostname.size()));
    w.Key("state");
    w.String(a.state == agent_state::unreachable ? "unreachable" : "admitted");
    if (!a.principal.empty()) {
      w.Key("principal");
      w.String(a.principal.c_str(), static_cast<rapidjson::SizeType>(a.principal.size()));
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("removed_frameworks");
  w.StartArray();
  for (const auto& id : removed_frameworks)
    w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
  w.EndArray();
  if (policy) {
    auto str = [&w](const char* key, const std::string& v) {
      w.Key(key);
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.Key("policy");
    w.StartObject();
    str("name", policy->name);
    str("source", policy->source);
    str("schema", policy->schema);
    w.Key("revision");
    w.Int64(policy->revision);
    w.Key("loaded_at_ms");
    w.Int64(policy->loaded_at_ms);
    w.EndObject();
  }
  w.EndObject();
  return buf.GetString();
}

bool registry::from_json(const std::string& json, registry& out, std::string& error) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "the registry is not a JSON object";
    return false;
  }
  if (!doc.HasMember("format") || !doc["format"].IsInt() || doc["format"].GetInt() != 1) {
    error = "the registry has an unknown format (expected 1)";
    return false;
  }
  registry r;
  if (doc.HasMember("leader_epoch") && doc["leader_epoch"].IsInt64())
    r.leader_epoch = doc["leader_epoch"].GetInt64();
  if (doc.HasMember("agents")) {
    if (!doc["agents"].IsObject()) {
      error = "the registry's 'agents' is not an object";
      return false;
    }
    for (auto& m : doc["agents"].GetObject()) {
      if (!m.value.IsObject()) {
        error = "the registry's agent '" + std::string(m.name.GetString()) + "' is not an object";
        return false;
      }
      agent a;
      if (m.value.HasMember("hostname") && m.value["hostname"].IsString())
        a.hostname = m.value["hostname"].GetString();
      if (m.value.HasMember("principal") && m.value["principal"].IsString())
        a.principal = m.value["principal"].GetString();
      if (m.value.HasMember("state") && m.value["state"].IsString() &&
          std::string(m.value["state"].GetString()) == "unreachable")
        a.state = agent_state::unreachable;
      r.agents.emplace(m.name.GetString(), std::move(a));
    }
  }
  if (doc.HasMember("removed_frameworks")) {
    if (!doc["removed_frameworks"].IsArray()) {
      error = "the registry's 'removed_frameworks' is not an array";
      return false;
    }
    for (auto& v : doc["removed_frameworks"].GetArray())
      if (v.IsString()) r.removed_frameworks.emplace_back(v.GetString());
  }
  if (doc.HasMember("policy")) {
    auto& p = doc["policy"];
    if (!p.IsObject() || !p.HasMember("name") || !p["name"].IsString() || !p.HasMember("source") ||
        !p["source"].IsString() || !p.HasMember("revision") || !p["revision"].IsInt64()) {
      error = "the registry's 'policy' needs a name, a source and a revision";
      return false;
    }
    policy_record rec;
    rec.name = p["name"].GetString();
    rec.source = std::string(p["source"].GetString(), p["source"].GetStringLength());
    if (p.HasMember("schema") && p["schema"].IsString())
      rec.schema = std::string(p["schema"].GetString(), p["schema"].GetStringLength());
    rec.revision = p["revision"].GetInt64();
    if (p.HasMember("loaded_at_ms") && p["loaded_at_ms"].IsInt64())
      rec.loaded_at_ms = p["loaded_at_ms"].GetInt64();
    r.policy = std::move(rec);
  }
  out = std::move(r);
  return true;
}

}  // namespace agora::master
