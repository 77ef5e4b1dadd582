#include "agora/policy/ast.hpp"

namespace agora::policy::ast {

expr_ptr clone(const expr& e) {
  auto out = std::make_unique<expr>();
  out->kind = e.kind;
  out->range = e.range;
  out->name_range = e.name_range;
  out->height = e.height;
  out->parenthesized = e.parenthesized;
  out->lit = e.lit;
  out->value = e.value;
  out->text = e.text;
  out->unit = e.unit;
  out->name = e.name;
  out->has_args = e.has_args;
  out->uop = e.uop;
  out->bop = e.bop;
  out->agg = e.agg;
  for (auto& c : e.children) out->children.push_back(clone(*c));
  out->keys = e.keys;
  out->key_is_string = e.key_is_string;
  if (e.where_) out->where_ = clone(*e.where_);
  if (e.body_) out->body_ = clone(*e.body_);
  out->ty = e.ty;
  out->st = e.st;
  out->ref = e.ref;
  out->target = e.target;
  out->decl_index = e.decl_index;
  return out;
}

size_t node_count(const expr& e) {
  size_t n = 1;
  for (auto& c : e.children) n += node_count(*c);
  if (e.where_) n += node_count(*e.where_);
  if (e.body_) n += node_count(*e.body_);
  return n;
}

const char* to_string(binary_op op) {
  switch (op) {
    case binary_op::add:
      return "+";
    case binary_op::sub:
      return "-";
    case binary_op::mul:
      return "*";
    case binary_op::div:
      return "/";
    case binary_op::mod:
      return "%";
    case binary_op::lt:
      return "<";
    case binary_op::le:
      return "<=";
    case binary_op::gt:
      return ">";
    case binary_op::ge:
      return ">=";
    case binary_op::eq:
      return "==";
    case binary_op::ne:
      return "!=";
    case binary_op::in:
      return "in";
    case binary_op::logical_and:
      return "&&";
    case binary_op::logical_or:
      return "||";
    case binary_op::coalesce:
      return "??";
  }
  return "?";
}

const char* to_string(aggregate_kind kind) {
  switch (kind) {
    case aggregate_kind::sum:
      return "sum";
    case aggregate_kind::count:
      return "count";
    case aggregate_kind::min:
      return "min";
    case aggregate_kind::max:
      return "max";
    case aggregate_kind::mean:
      return "mean";
    case aggregate_kind::any:
      return "any";
    case aggregate_kind::all:
      return "all";
  }
  return "?";
}

std::string role_path(const std::string& parent, const role_decl& r) {
  if (r.is_default) return "default";
  if (parent.empty() || r.name.rfind(parent + "/", 0) == 0) return r.name;
  return parent + "/" + r.name;
}

}  // namespace agora::policy::ast
