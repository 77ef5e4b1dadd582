#pragma once

#include <cmath>
#include <cstdint>

#include "agora/policy/eval_input.hpp"

/// The arithmetic shared by the constant folder, the VM and the AST oracle,
/// so the three agree bit for bit. Private to the policy module.
namespace agora::policy::detail {

/// The state of a register or oracle value.
enum class flag : uint8_t { value = 0, absent = 1, error = 2 };

/// Returns whether a ratios component is absent (stored as NaN).
inline bool absent_component(double x) { return std::isnan(x); }

inline double op_min(double a, double b) { return b < a ? b : a; }
inline double op_max(double a, double b) { return a < b ? b : a; }

/// `a / b` component-wise; absent where `b` is 0 (the design's `res / res`).
inline void res_div(const res_vec& a, const res_vec& b, res_vec& out) {
  for (size_t i = 0; i < max_resources; ++i)
    out[i] = b[i] == 0 ? std::nan("") : a[i] / b[i];
}

/// Reduces the present components of `v` (0 max, 1 min, 2 mean); returns
/// false if there are none.
inline bool res_reduce(const res_vec& v, int how, double& out) {
  double acc = 0;
  int n = 0;
  for (size_t i = 0; i < max_resources; ++i) {
    double x = v[i];
    if (absent_component(x)) continue;
    if (n == 0)
      acc = x;
    else if (how == 0)
      acc = op_max(acc, x);
    else if (how == 1)
      acc = op_min(acc, x);
    else
      acc += x;
    ++n;
  }
  if (n == 0) return false;
  out = how == 2 ? acc / n : acc;
  return true;
}

/// Returns whether every component of `need` is at most that of `have`.
inline bool res_fits(const res_vec& need, const res_vec& have) {
  bool ok = true;
  for (size_t i = 0; i < max_resources; ++i) ok &= need[i] <= have[i];
  return ok;
}

/// `&&` over flags and bools, CEL style: false wins over errors.
inline flag logic_and(flag fa, bool a, flag fb, bool b, bool& out) {
  if ((fa == flag::value && !a) || (fb == flag::value && !b)) {
    out = false;
    return flag::value;
  }
  if (fa != flag::value || fb != flag::value) return flag::error;
  out = true;
  return flag::value;
}

/// `||` over flags and bools, CEL style: true wins over errors.
inline flag logic_or(flag fa, bool a, flag fb, bool b, bool& out) {
  if ((fa == flag::value && a) || (fb == flag::value && b)) {
    out = true;
    return flag::value;
  }
  if (fa != flag::value || fb != flag::value) return flag::error;
  out = false;
  return flag::value;
}

}  // namespace agora::policy::detail
