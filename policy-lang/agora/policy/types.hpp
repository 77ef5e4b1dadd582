#pragma once

#include <memory>
#include <string>
#include <vector>

namespace agora::policy {

/// The kind of a value. Scalar kinds with a physical dimension (`cores`,
/// `bytes`, `count`, `ratio`, `duration`) take part in unit checking;
/// `number` is a plain unit-less number (a literal without a unit, a
/// weight), which adopts the dimension of the other operand where allowed.
enum class type_kind {
  error,  ///< Already reported; suppresses follow-up diagnostics.
  boolean,
  number,
  string,
  ratio,
  duration,
  time,
  cores,
  bytes,
  count,
  ports,
  res,     ///< A resource vector keyed by resource name.
  ratios,  ///< A vector of ratios keyed by resource name.
  list,    ///< `list<elem>`.
  cluster,
  role,
  framework,
  agent,
  task,
  offer,
  labels,      ///< `framework.labels` (fields from the schema).
  attributes,  ///< `agent.attributes` (fields from the schema).
  metrics,     ///< `agent.metrics` (fields from the schema).
  cycle_info,  ///< `cluster.cycle`.
};

/// A resolved type: a kind, optionality, and for lists the element type.
struct type {
  type_kind kind = type_kind::error;
  bool optional = false;
  std::shared_ptr<const type> elem;

  /// Returns a non-optional type of `kind`.
  static type of(type_kind kind) { return type{kind, false, nullptr}; }
  /// Returns `list<elem>`.
  static type list_of(type elem) {
    return type{type_kind::list, false, std::make_shared<const type>(std::move(elem))};
  }
  /// Returns this type made optional (or not).
  type with_optional(bool value) const {
    type t = *this;
    t.optional = value;
    return t;
  }
  /// Returns true for the error type.
  bool is_error() const { return kind == type_kind::error; }
  /// Returns true for scalar kinds usable in arithmetic.
  bool is_numeric() const;
  /// Returns true if both types are equal (kind, optionality, element).
  bool operator==(const type& other) const;
  bool operator!=(const type& other) const { return !(*this == other); }
};

/// Returns the name of `kind` as written in the language (`bytes`, `res`...).
std::string to_string(type_kind kind);
/// Returns the name of `t` as written in the language (`list<string>?`...).
std::string to_string(const type& t);
/// Parses a type name used in schema files and annotations; returns false if
/// unknown. Does not handle `list<...>` or `?`.
bool parse_type_name(const std::string& name, type_kind& kind);

/// A unit suffix of a quantity literal (`512MiB`, `30s`).
struct unit_info {
  const char* name;
  type_kind kind;  ///< `bytes` or `duration`.
  double scale;    ///< Base units (bytes, seconds) per unit.
  bool decimal;    ///< A decimal byte unit (`MB`), accepted with W0805.
};

/// Returns the unit named `name`, or null if there is none.
const unit_info* find_unit(const std::string& name);
/// Returns the names of all units (for "did you mean").
std::vector<std::string> unit_names();

/// Formats a number for messages: integers exactly, others with `%g`.
std::string format_number(double v);
/// Formats an amount of resource `resource`: `mem` and `disk` in the largest
/// binary unit that divides them (`256GiB`, else bytes `B`), others as
/// numbers.
std::string format_amount(const std::string& resource, double v);

/// The stage of an expression: the smallest set of loop variables its value
/// depends on. `const` <= `cycle` <= `role` <= `framework`; `cycle` <=
/// `agent`; `pair` is `framework` joined with `agent`; `event` is for values
/// only available while handling an event (`offer`, `task`), above all others.
/// The compiler evaluates every expression once per instance of its stage.
enum class stage { constant, cycle, role, framework, agent, pair, event };

/// Returns the least upper bound of `a` and `b` in the stage lattice.
stage join(stage a, stage b);
/// Returns true if `a` <= `b` in the stage lattice.
bool stage_leq(stage a, stage b);
/// Returns the name of `s` (`const`, `cycle`, `role`, ...).
std::string to_string(stage s);

}  // namespace agora::policy
