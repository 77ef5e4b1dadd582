#include "agora/policy/ast.hpp"

namespace agora::policy::ast {

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

}  // namespace agora::policy::ast
