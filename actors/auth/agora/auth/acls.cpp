#include "agora/auth/acls.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace agora::auth {
namespace {

constexpr acls::action all_actions[] = {
    acls::action::register_frameworks, acls::action::run_tasks,
    acls::action::teardown_frameworks, acls::action::kill_tasks,
    acls::action::update_policies,     acls::action::read_endpoints,
    acls::action::access_sandboxes};

}  // namespace

const char* acls::name(action a) {
  switch (a) {
    case action::register_frameworks:
      return "register_frameworks";
    case action::run_tasks:
      return "run_tasks";
    case action::teardown_frameworks:
      return "teardown_frameworks";
    case action::kill_tasks:
      return "kill_tasks";
    case action::update_policies:
      return "update_policies";
    case action::read_endpoints:
      return "read_endpoints";
    case action::access_sandboxes:
      return "access_sandboxes";
  }
  return "?";
}

const char* acls::object_key(action a) {
  switch (a) {
    case action::register_frameworks:
      return "roles";
    case action::run_tasks:
      return "users";
    case action::teardown_frameworks:
    case action::kill_tasks:
    case action::access_sandboxes:
      return "framework_principals";
    case action::update_policies:
      return "";
    case action::read_endpoints:
      return "endpoints";
  }
  return "";
}

bool acls::entity::matches(const std::string& x) const {
  switch (type) {
    case any:
      return true;
    case none:
      return false;
    case values:
      return std::find(names.begin(), names.end(), x) != names.end();
  }
  return false;
}

bool acls::load(const std::string& path, acls& out, std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = path + ": cannot be read";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, out, error);
}

bool acls::parse(const std::string& text, const std::string& what, acls& out, std::string& error) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    error = what + ": not valid JSON (" + rapidjson::GetParseError_En(doc.GetParseError()) +
            " at byte " + std::to_string(doc.GetErrorOffset()) + ")";
    return false;
  }
  if (!doc.IsObject()) {
    error = what + ": expected a JSON object of actions";
    return false;
  }
  acls result;
  auto read_entity = [&](const rapidjson::Value& v, const std::string& where, entity& e) {
    if (!v.IsObject()) {
      error = where + ": expected {\"values\": [...]} or {\"type\": \"ANY\"|\"NONE\"}";
      return false;
    }
    bool has_values = v.HasMember("values");
    bool has_type = v.HasMember("type");
    if (has_values == has_type || v.MemberCount() != 1) {
      error = where + ": needs exactly one of \"values\" and \"type\"";
      return false;
    }
    if (has_type) {
      std::string t = v["type"].IsString() ? v["type"].GetString() : "";
      if (t != "ANY" && t != "NONE") {
        error = where + ": \"type\" must be \"ANY\" or \"NONE\"";
        return false;
      }
      e.type = t == "ANY" ? entity::any : entity::none;
      return true;
    }
    if (!v["values"].IsArray()) {
      error = where + ": \"values\" must be an array of strings";
      return false;
    }
    e.type = entity::values;
    for (const auto& x : v["values"].GetArray()) {
      if (!x.IsString()) {
        error = where + ": \"values\" must be an array of strings";
        return false;
      }
      e.names.emplace_back(x.GetString(), x.GetStringLength());
    }
    return true;
  };
  for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
    std::string key{m->name.GetString(), m->name.GetStringLength()};
    if (key == "permissive") {
      if (!m->value.IsBool()) {
        error = what + ": \"permissive\" must be true or false";
        return false;
      }
      result.permissive_ = m->value.GetBool();
      continue;
    }
    auto a = std::find_if(std::begin(all_actions), std::end(all_actions),
                          [&](action x) { return key == name(x); });
    if (a == std::end(all_actions)) {
      std::string known;
      for (auto x : all_actions) known += std::string(known.empty() ? "" : ", ") + name(x);
      error = what + ": unknown action \"" + key + "\" (known: permissive, " + known + ")";
      return false;
    }
    if (!m->value.IsArray()) {
      error = what + ": \"" + key + "\" must be an array of rules";
      return false;
    }
    std::string objects = object_key(*a);
    auto& rules = result.rules_[*a];
    size_t index = 0;
    for (const auto& r : m->value.GetArray()) {
      auto where = what + ": " + key + "[" + std::to_string(index++) + "]";
      if (!r.IsObject() || !r.HasMember("principals")) {
        error = where + ": a rule needs \"principals\"";
        return false;
      }
      rule parsed;
      for (auto f = r.MemberBegin(); f != r.MemberEnd(); ++f) {
        std::string field{f->name.GetString(), f->name.GetStringLength()};
        if (field == "principals") {
          if (!read_entity(f->value, where + ".principals", parsed.principals)) return false;
        } else if (!objects.empty() && field == objects) {
          if (!read_entity(f->value, where + "." + field, parsed.objects)) return false;
        } else {
          error = where + ": unknown field \"" + field + "\"" +
                  (objects.empty() ? std::string(" (this action has no objects)")
                                   : " (its objects are \"" + objects + "\")");
          return false;
        }
      }
      rules.push_back(std::move(parsed));
    }
  }
  out = std::move(result);
  return true;
}

bool acls::allowed(action a, const std::string& principal, const std::string& object) const {
  auto it = rules_.find(a);
  if (it != rules_.end()) {
    for (const auto& r : it->second) {
      // An anonymous request matches only ANY.
      bool subject = r.principals.type == entity::any ||
                     (!principal.empty() && r.principals.matches(principal));
      if (!subject) continue;
      if (r.objects.type == entity::none) return false;
      if (r.objects.matches(object)) return true;
    }
  }
  // Running as root is allowed only where a rule says so.
  if (a == action::run_tasks && object == "root") return false;
  return permissive_;
}

std::string denied(acls::action a, const std::string& principal, const std::string& object) {
  std::string who = principal.empty() ? "an anonymous client" : "principal '" + principal + "'";
  return who + " may not " + acls::name(a) + (object.empty() ? "" : " '" + object + "'") +
         " (--acls)";
}

}  // namespace agora::auth
