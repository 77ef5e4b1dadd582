#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "agora/policy/source.hpp"
#include "agora/policy/types.hpp"

/// The policy language's abstract syntax tree. Built by `parse()` from the
/// ANTLR parse tree (which never leaves parser.cpp), annotated in place by the
/// checker (`expr::ty`, `expr::st`, `expr::ref`) and consumed by the formatter
/// and, later, the compiler. Every node carries its source range.
namespace agora::policy::ast {

/// What an expression node is.
enum class expr_kind {
  literal,      ///< `value`, `text`, `unit`.
  name,         ///< `name`; a call when `has_args` (arguments in `children`);
                ///< a call of a `fn`/parameterised `let` holds its checked,
                ///< inlined body in `body_` (parameters refer to `children`).
  member,       ///< `children[0].name`; a method call when `has_args`
                ///< (arguments in `children[1..]`).
  index,        ///< `children[0][children[1]]`.
  unary,        ///< `uop children[0]`.
  binary,       ///< `children[0] bop children[1]`.
  conditional,  ///< `children[0] ? children[1] : children[2]`.
  held,         ///< `children[0] for children[1]` (preempt conditions).
  aggregate,    ///< `agg(name in children[0] [where where_] [: body_])`.
  list,         ///< `[children...]`.
  object,       ///< `{keys[i]: children[i], ...}` (resource and test literals).
};

/// Kinds of literal.
enum class literal_kind { integer, floating, quantity, percent, string, boolean };
/// Unary operators.
enum class unary_op { logical_not, negate };
/// Binary operators, including `??`.
enum class binary_op {
  add,
  sub,
  mul,
  div,
  mod,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  in,
  logical_and,
  logical_or,
  coalesce
};
/// Aggregate functions.
enum class aggregate_kind { sum, count, min, max, mean, any, all };

/// What a name resolved to (set by the checker).
enum class name_ref {
  unresolved,
  domain,      ///< `cluster`, `role`, `framework`, `agent`, `offer`, `task`.
  collection,  ///< `roles`, `frameworks`, `agents`.
  resource,    ///< a resource name in `.only(...)`/`.without(...)`.
  let,         ///< a `let` or `fn` (see `decl_index`).
  param,       ///< a `let`/`fn` parameter.
  bound,       ///< an aggregate's variable.
  builtin,     ///< a built-in or standard-library function.
};

/// Returns the operator's source spelling (`+`, `&&`, `??`, `in`...).
const char* to_string(binary_op op);
/// Returns the aggregate's name (`sum`, `count`...).
const char* to_string(aggregate_kind kind);

struct expr;
struct let_decl;
/// Expressions are owned through unique pointers; trees are acyclic.
using expr_ptr = std::unique_ptr<expr>;

/// One expression node (see `expr_kind` for which fields each kind uses).
struct expr {
  expr_kind kind = expr_kind::literal;
  source_range range;          ///< The whole expression.
  source_range name_range;     ///< The name of `name`, `member`, `aggregate`.
  uint32_t height = 1;         ///< Height of this subtree (parser limits it).
  bool parenthesized = false;  ///< Written in parentheses (kept by `fmt`).

  // Literals. `value` is in base units: bytes, seconds, ratio (50% = 0.5).
  literal_kind lit = literal_kind::integer;
  double value = 0;
  std::string text;  ///< Source spelling of a literal; a string's decoded value.
  std::string unit;  ///< Unit of a quantity literal (`GiB`, `s`...).

  std::string name;  ///< Name, member or aggregate variable.
  bool has_args = false;
  unary_op uop = unary_op::logical_not;
  binary_op bop = binary_op::add;
  aggregate_kind agg = aggregate_kind::sum;
  std::vector<expr_ptr> children;
  std::vector<std::string> keys;    ///< Object literal keys.
  std::vector<bool> key_is_string;  ///< Whether each key was quoted.
  expr_ptr where_;                  ///< Aggregate filter, may be null.
  expr_ptr body_;                   ///< Aggregate body, may be null.

  // Annotations written by the checker. The definition of a `let`/`fn` with
  // parameters is generic (annotated with its parameters' declared types, or
  // unknown); every call holds its own instantiated copy in `body_`.
  type ty;                             ///< Resolved type (with unit).
  policy::stage st = stage::constant;  ///< Stage of the value.
  name_ref ref = name_ref::unresolved;
  /// For `name_ref::let`: the definition (in this file or an imported one;
  /// owned by the same `check_result`, whose moves keep it valid).
  const let_decl* target = nullptr;
  int decl_index = -1;  ///< Checker-internal index of `target`.
};

/// Returns a deep copy of `e` (with its annotations).
expr_ptr clone(const expr& e);
/// Returns the number of nodes in `e`'s tree.
size_t node_count(const expr& e);

/// A type annotation or schema field type: `name<args>?`.
struct type_ref {
  std::string name;
  std::vector<type_ref> args;
  bool optional = false;
  source_range range;
};

/// A `let`/`fn` parameter.
struct param {
  std::string name;
  source_range range;
  std::optional<type_ref> annotation;
};

/// `let NAME[(params)] [: type] = value;` or `fn NAME(params): type = value;`.
struct let_decl {
  bool is_fn = false;
  bool has_params = false;
  std::string name;
  source_range name_range;
  std::vector<param> params;
  std::optional<type_ref> result;
  expr_ptr value;
};

struct role_decl;
/// One item in a role body, in source order.
struct role_item {
  enum class kind { weight, guarantee, limit, preemptible, child } what = kind::weight;
  source_range range;
  expr_ptr value;                    ///< For properties.
  std::unique_ptr<role_decl> child;  ///< For `kind::child`.
};

/// `role "name" { ... }` or `default { ... }`.
struct role_decl {
  bool is_default = false;
  bool has_body = true;  ///< False for `role "x";`.
  std::string name;      ///< As written (a child may be `"web"` or `"prod/web"`).
  source_range name_range;
  source_range range;
  std::vector<role_item> items;
};

/// Returns the path of role `r` declared inside the role at `parent` (empty
/// at the top level): a child may be written `"web"` or `"prod/web"`.
/// `default` has the path `default`.
std::string role_path(const std::string& parent, const role_decl& r);

/// `roles { ... }`.
struct roles_decl {
  std::vector<role_decl> roles;  ///< Top-level roles and `default`, in order.
};

/// `guarantees best_effort;`.
struct guarantees_decl {
  std::string mode;
  source_range mode_range;
};

/// One ordering key: `expr [asc|desc]`.
struct order_key {
  expr_ptr key;
  enum class direction { none, asc, desc } dir = direction::none;
};

/// `order roles|frameworks by k1, k2;`.
struct order_decl {
  bool frameworks = false;  ///< `order frameworks` (else `order roles`).
  std::vector<order_key> keys;
};

/// `filter NAME: cond;`.
struct filter_decl {
  std::string name;
  source_range name_range;
  expr_ptr cond;
};

/// `score NAME weight W: value;`.
struct score_decl {
  std::string name;
  source_range name_range;
  double weight = 1;
  std::string weight_text;
  source_range weight_range;
  expr_ptr value;
};

/// `spread NAME over expr max_skew N require|prefer weight W;` (parsed only).
struct spread_decl {
  std::string name;
  source_range name_range;
  expr_ptr over;
  std::string max_skew;
  bool require = true;
  std::string weight_text;
};

/// `level NAME [when cond] [wait expr [skips]];`.
struct level_decl {
  std::string name;
  source_range name_range;
  source_range range;
  expr_ptr when;
  expr_ptr wait;
  bool skips = false;
};

/// `locality [when guard] { levels }`.
struct locality_decl {
  expr_ptr guard;
  std::vector<level_decl> levels;
};

/// One statement of a `preempt` block (parsed only).
struct preempt_item {
  enum class kind { when, from, victims, budget } what = kind::when;
  std::string name;             ///< For `from`.
  expr_ptr first;               ///< `when`/`from` condition, `budget` amount.
  expr_ptr second;              ///< `budget ... per` period.
  std::vector<order_key> keys;  ///< For `victims by`.
};

/// `preempt { ... }` (parsed; the checker reports it as not supported yet).
struct preempt_decl {
  std::vector<preempt_item> items;
};

/// One `cycle` option: words then value (`max_offers per_framework 16;`).
struct cycle_option {
  std::vector<std::string> words;
  source_range name_range;
  source_range range;
  expr_ptr value;
};

/// `cycle { options }`.
struct cycle_decl {
  std::vector<cycle_option> options;
};

/// A metric label name.
struct label {
  std::string name;
  source_range range;
};

/// `metric KIND NAME {labels} help "..." [buckets [...]] source;`.
struct metric_decl {
  enum class kind { counter, gauge, histogram } what = kind::gauge;
  std::string name;
  source_range name_range;
  std::vector<label> labels;
  std::string help;         ///< Decoded help string.
  std::string help_text;    ///< Source spelling of the help string.
  expr_ptr buckets;         ///< A list literal, or null.
  bool every_cycle = true;  ///< Else `on event`.
  std::string event;
  source_range event_range;
  expr_ptr when;
  bool observe = false;  ///< `observe` (else `+=`) for events.
  expr_ptr value;
};

/// One `given` or `expect` statement of a test block.
struct test_step {
  enum class kind {
    given_policy,
    given_fixture,
    given_allocation,
    given_agent,
    given_framework,
    expect_order,
    expect_compile_error,
    expect_expr
  } what = kind::expect_expr;
  source_range range;
  std::string text;          ///< File, fixture, object name or expected code (source spelling).
  std::string text2;         ///< `compile_error ... for "source"` (source spelling).
  bool frameworks = false;   ///< For `expect order frameworks`.
  bool starts_with = false;  ///< `starts_with` instead of `==`.
  expr_ptr value;            ///< Object, list or expression.
};

/// `test "name" { steps }`.
struct test_decl {
  std::string name;  ///< Source spelling (quoted).
  std::vector<test_step> steps;
};

/// A top-level declaration.
struct decl {
  source_range range;
  std::variant<let_decl, roles_decl, guarantees_decl, order_decl, filter_decl, score_decl,
               spread_decl, locality_decl, preempt_decl, cycle_decl, metric_decl, test_decl>
      node;
};

/// `use std.fairness;`.
struct use_decl {
  std::string module;
  source_range range;
};

/// `import "file.policy";`.
struct import_decl {
  std::string path;       ///< Decoded path.
  std::string path_text;  ///< Source spelling.
  source_range range;
};

/// A field of a schema section: `name: type [max_age d];`.
struct schema_field {
  std::string name;
  source_range range;
  type_ref field_type;
  expr_ptr max_age;
};

/// A schema section: `resources {...}`, `agent.attributes {...}`, `limits {...}`.
struct schema_section {
  std::string name;  ///< `resources`, `agent.attributes`, `limits`, ...
  source_range name_range;
  source_range range;  ///< The whole section, up to its `}`.
  std::vector<schema_field> fields;
  std::vector<std::pair<std::string, int64_t>> limits;  ///< For `limits`.
  std::vector<source_range> limit_ranges;
};

/// A comment, kept for the formatter.
struct comment {
  source_range range;
  std::string text;
  bool block = false;
};

/// What kind of file was parsed.
enum class file_kind { policy, schema, test };

/// One parsed file.
struct file {
  file_kind kind = file_kind::policy;
  std::string name;       ///< Policy or schema name (decoded).
  std::string name_text;  ///< Source spelling of the name.
  int64_t version = 0;
  source_range header_range;
  std::vector<use_decl> uses;
  std::vector<import_decl> imports;
  std::vector<decl> decls;
  std::vector<schema_section> sections;
  std::vector<comment> comments;
};

}  // namespace agora::policy::ast
