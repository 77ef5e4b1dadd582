#pragma once

// Helpers shared by the allocation core's translation units
// (allocation_core.cpp, allocation_cycle.cpp, allocation_report.cpp).

#include <algorithm>
#include <chrono>
#include <limits>
#include <sstream>
#include <string>

#include "agora/policy/allocation_core.hpp"

namespace agora::policy::detail {

constexpr int64_t unlimited = std::numeric_limits<int64_t>::max();
/// As Mesos' MIN_CPUS / MIN_MEM: offering less is churn without use.
constexpr int64_t min_cpus_milli = 10;
constexpr int64_t min_mem_bytes = int64_t{32} << 20;

inline amounts filled(int64_t v) {
  amounts a;
  a.fill(v);
  return a;
}

inline amounts& operator+=(amounts& a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] += b[i];
  return a;
}

inline amounts& operator-=(amounts& a, const amounts& b) {
  for (size_t i = 0; i < max_resources; ++i) a[i] -= b[i];
  return a;
}

inline amounts min_of(const amounts& a, const amounts& b) {
  amounts out;
  for (size_t i = 0; i < max_resources; ++i) out[i] = std::min(a[i], b[i]);
  return out;
}

inline bool allocatable(const amounts& a) {
  return a[0] >= min_cpus_milli || a[1] >= min_mem_bytes || a[3] > 0;
}

inline std::string format(const amounts& a) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < max_resources; ++i) out << (i ? " " : "") << a[i];
  out << "]";
  return out.str();
}

/// Compares two order-key values; errors and absent values sort last in
/// either direction. Returns <0, 0 or >0.
inline int compare(const rule_value& a, const rule_value& b, bool descending) {
  bool a_ok = a.st == rule_value::state::value, b_ok = b.st == rule_value::state::value;
  if (!a_ok || !b_ok) return a_ok == b_ok ? 0 : a_ok ? -1 : 1;
  int c = 0;
  if (a.kind == value_kind::symbol)
    c = a.text.compare(b.text);
  else
    c = a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
  c = c < 0 ? -1 : c > 0 ? 1 : 0;
  return descending ? -c : c;
}

inline double seconds_between(allocation_core::time_point from, allocation_core::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

/// Returns a rule's declared name without its kind: `fits` for
/// `filter fits`, `agora_policy_x` for `metric agora_policy_x`.
inline std::string short_name(const rule_info& rule) {
  return rule.name.substr(rule.name.find(' ') + 1);
}

}  // namespace agora::policy::detail
