#include "agora/policy/types.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <utility>

namespace agora::policy {

bool type::is_numeric() const {
  switch (kind) {
    case type_kind::number:
    case type_kind::ratio:
    case type_kind::duration:
    case type_kind::cores:
    case type_kind::bytes:
    case type_kind::count:
      return true;
    default:
      return false;
  }
}

bool type::operator==(const type& other) const {
  if (kind != other.kind || optional != other.optional) return false;
  if (kind != type_kind::list) return true;
  if (!elem || !other.elem) return elem == other.elem;
  return *elem == *other.elem;
}

namespace {

constexpr std::array<std::pair<type_kind, const char*>, 24> kind_names = {{
    {type_kind::error, "<error>"},       {type_kind::boolean, "bool"},
    {type_kind::number, "number"},       {type_kind::string, "string"},
    {type_kind::ratio, "ratio"},         {type_kind::duration, "duration"},
    {type_kind::time, "time"},           {type_kind::cores, "cores"},
    {type_kind::bytes, "bytes"},         {type_kind::count, "count"},
    {type_kind::ports, "ports"},         {type_kind::res, "res"},
    {type_kind::ratios, "ratios"},       {type_kind::list, "list"},
    {type_kind::cluster, "cluster"},     {type_kind::role, "role"},
    {type_kind::framework, "framework"}, {type_kind::agent, "agent"},
    {type_kind::task, "task"},           {type_kind::offer, "offer"},
    {type_kind::labels, "labels"},       {type_kind::attributes, "attributes"},
    {type_kind::metrics, "metrics"},     {type_kind::cycle_info, "cycle"},
}};

}  // namespace

std::string to_string(type_kind kind) {
  for (auto& [k, name] : kind_names)
    if (k == kind) return name;
  return "?";
}

std::string to_string(const type& t) {
  std::string out = to_string(t.kind);
  if (t.kind == type_kind::list) out += "<" + (t.elem ? to_string(*t.elem) : "?") + ">";
  if (t.optional) out += "?";
  return out;
}

bool parse_type_name(const std::string& name, type_kind& kind) {
  if (name == "int" || name == "float") {
    kind = type_kind::number;
    return true;
  }
  for (auto& [k, n] : kind_names) {
    if (name == n && k != type_kind::error && k != type_kind::list) {
      kind = k;
      return true;
    }
  }
  return false;
}

namespace {

const unit_info units[] = {
    {"B", type_kind::bytes, 1, false},
    {"KiB", type_kind::bytes, 1024.0, false},
    {"MiB", type_kind::bytes, 1024.0 * 1024, false},
    {"GiB", type_kind::bytes, 1024.0 * 1024 * 1024, false},
    {"TiB", type_kind::bytes, 1024.0 * 1024 * 1024 * 1024, false},
    {"KB", type_kind::bytes, 1e3, true},
    {"MB", type_kind::bytes, 1e6, true},
    {"GB", type_kind::bytes, 1e9, true},
    {"TB", type_kind::bytes, 1e12, true},
    {"ms", type_kind::duration, 1e-3, false},
    {"s", type_kind::duration, 1, false},
    {"min", type_kind::duration, 60, false},
    {"h", type_kind::duration, 3600, false},
    {"d", type_kind::duration, 86400, false},
};

}  // namespace

const unit_info* find_unit(const std::string& name) {
  for (auto& u : units)
    if (name == u.name) return &u;
  return nullptr;
}

std::vector<std::string> unit_names() {
  std::vector<std::string> names;
  for (auto& u : units) names.emplace_back(u.name);
  return names;
}

stage join(stage a, stage b) {
  if (stage_leq(a, b)) return b;
  if (stage_leq(b, a)) return a;
  // Only incomparable pairs: {role or framework} with agent.
  return stage::pair;
}

bool stage_leq(stage a, stage b) {
  if (a == b || a == stage::constant || b == stage::event) return true;
  if (a == stage::event) return false;
  if (a == stage::cycle) return b != stage::constant;
  if (b == stage::pair) return true;
  if (a == stage::role) return b == stage::framework;
  return false;
}

std::string format_number(double v) {
  char buffer[32];
  if (std::fabs(v) < 1e6 && std::fabs(v - std::round(v)) < 1e-9)
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else if (std::fabs(v) < 1e6)
    std::snprintf(buffer, sizeof buffer, "%g", v);
  else
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

std::string format_amount(const std::string& res, double v) {
  if (res == "mem" || res == "disk") {
    const char* units[] = {"TiB", "GiB", "MiB", "KiB"};
    double scale = 1024.0 * 1024 * 1024 * 1024;
    for (auto* u : units) {
      if (v >= scale && std::fmod(v, scale) == 0) return format_number(v / scale) + u;
      scale /= 1024;
    }
    return format_number(v) + "B";
  }
  return format_number(v);
}

std::string to_string(stage s) {
  switch (s) {
    case stage::constant:
      return "const";
    case stage::cycle:
      return "cycle";
    case stage::role:
      return "role";
    case stage::framework:
      return "framework";
    case stage::agent:
      return "agent";
    case stage::pair:
      return "pair";
    case stage::event:
      return "event";
  }
  return "?";
}

}  // namespace agora::policy
